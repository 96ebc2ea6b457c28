-- The seed example: create a PayScore order, then query it, printing both
-- answers the way the official PHP SDK's example prints them (status code and
-- body). Runs against the local sandbox (`make demo` starts it):
--
--   lua5.4 examples/seed.lua [build/sandbox/config.json]
--
-- The official example's service times (2009-12-25) lie in the past, which the
-- real API (and the sandbox) refuses for a new order, so they are moved to
-- tomorrow, same clock times. Everything else is the example's, unchanged.
local wechatpay = require "wechatpay"
local json = require "wechatpay.codec.json"

local config_path = arg[1] or os.getenv("SANDBOX_CONFIG") or "build/sandbox/config.json"
local f = assert(io.open(config_path, "rb"), "no sandbox config at " .. config_path .. " (run `make sandbox-start`)")
local sandbox = assert(json.decode(f:read("*a")))
f:close()

local wx = assert(wechatpay.new {
  mchid = sandbox.mchid,
  serial = sandbox.serial,
  private_key = "file://" .. sandbox.private_key,
  certs = { [sandbox.public_key_id] = "file://" .. sandbox.public_key },
  apiv3_key = sandbox.apiv3_key,
  base_uri = sandbox.base_uri,
  ca_file = sandbox.ca_file,
})

local day = os.date("%Y%m%d", os.time() + 86400)
local out_order_no = arg[2] or ("1234323JKHDFE" .. os.date("%H%M%S") .. math.random(1000, 9999))
print(("Note: service times moved from 20091225 to %s (the API refuses a start time in the past); "
  .. "out_order_no %s so that the demo can run twice."):format(day, out_order_no))

-- 创建支付分订单
local res, err = wx.v3.payscore.serviceorder:post{
  json = {
    out_order_no = out_order_no,
    appid = sandbox.appid,                                   -- wxd678efh567hg6787
    service_id = sandbox.service_id,                         -- 2002000000000558128851361561536
    service_introduction = "某某酒店",
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", count = 2 } },
    time_range = {
      start_time = day .. "091010", end_time = day .. "121010",
      start_time_remark = "备注1", end_time_remark = "备注2",
    },
    location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
    risk_fund = { name = "DEPOSIT", amount = 10000, description = "就餐的预估费用" },
    attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
    notify_url = "https://api.test.com",
    openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    need_user_confirm = true,
  },
}
if not res then print(tostring(err)); os.exit(1) end
print(res.status)
print(res.body)

-- 查询支付分订单
res, err = wx.v3.payscore.serviceorder:get{
  query = { out_order_no = out_order_no, service_id = sandbox.service_id, appid = sandbox.appid },
}
if not res then print(tostring(err)); os.exit(1) end
print(res.status)
print(res.body)

-- What the user does next in the PayScore mini-program: confirm the order
-- (a sandbox control endpoint), then the merchant queries again.
local t = wx:transport()
local control = sandbox.control_uri or (sandbox.base_uri .. "sandbox/")
local c, cerr = t:request{ method = "POST", url = control .. "payscore/orders/" .. out_order_no .. "/confirm",
  headers = { { "Content-Type", "application/json" } }, body = "{}" }
if not c or c.status ~= 200 then
  print("sandbox confirm failed: " .. tostring(c and (c.status .. " " .. c.body) or cerr)); os.exit(1)
end
print("-- the user confirmed the order in the sandbox; query again:")
res, err = wx:chain("v3/payscore/serviceorder"):get{
  query = { out_order_no = out_order_no, service_id = sandbox.service_id, appid = sandbox.appid },
}
if not res then print(tostring(err)); os.exit(1) end
print(res.status)
print(res.body)
print(("state %s, total_amount %s (%s)"):format(res.data.state, tostring(res.data.total_amount),
  math.type and math.type(res.data.total_amount) or type(res.data.total_amount)))
wx:close()
