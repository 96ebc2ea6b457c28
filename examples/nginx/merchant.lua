--- The handlers of examples/nginx/nginx.conf: a merchant service on OpenResty.
local wechatpay = require "wechatpay"
local json = require "wechatpay.codec.json"
local openresty = require "wechatpay.openresty"

local M = {}

local wx, certs, sandbox, notify_url

--- init_by_lua: build the client once (keys parsed in the master).
function M.init(config_path, port)
  local f = assert(io.open(config_path, "rb"))
  sandbox = assert(json.decode(f:read("*a")))
  f:close()
  wx = assert(wechatpay.new {
    mchid = sandbox.mchid, serial = sandbox.serial,
    private_key = "file://" .. sandbox.private_key,
    certs = { [sandbox.public_key_id] = "file://" .. sandbox.public_key },
    apiv3_key = sandbox.apiv3_key,
    base_uri = sandbox.base_uri,
    ca_file = sandbox.ca_file,          -- for libcurl, if used outside request phases
  })
  certs = openresty.cert_store("wechatpay_certs")
  notify_url = ("http://127.0.0.1:%d/wxpay/notify"):format(port)
end

--- init_worker_by_lua: follow key rotations published by any worker.
function M.init_worker()
  certs:start_sync(wx, 5)
end

local function answer(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(json.encode(value))
  return ngx.exit(status)
end

local function fail(err)
  -- err is a wechatpay error value: kind + fields; tostring gives one log line
  ngx.log(ngx.WARN, tostring(err))
  return answer(err.kind == "usage" and 400 or 502,
    { kind = err.kind, status = err.status, code = err.code, message = tostring(err) })
end

--- POST /orders: create a PayScore order (the seed's parameters, tomorrow's service time).
function M.create()
  ngx.req.read_body()
  local req = json.decode(ngx.req.get_body_data() or "{}") or {}
  local day = os.date("%Y%m%d", ngx.time() + 86400)
  local res, err = wx.v3.payscore.serviceorder:post{
    json = {
      out_order_no = req.out_order_no or ("NGX%d"):format(ngx.now() * 1000),
      appid = sandbox.appid, service_id = sandbox.service_id,
      service_introduction = "某某酒店",
      post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
      time_range = { start_time = day .. "091010", end_time = day .. "121010" },
      risk_fund = { name = "DEPOSIT", amount = 10000, description = "就餐的预估费用" },
      notify_url = notify_url,
      need_user_confirm = true,
    },
  }
  if not res then return fail(err) end
  return answer(200, { status = res.status, request_id = res.request_id, order = res.data })
end

--- GET /orders/query?out_order_no=
function M.query()
  local res, err = wx.v3.payscore.serviceorder:get{
    query = { out_order_no = ngx.var.arg_out_order_no, service_id = sandbox.service_id, appid = sandbox.appid },
  }
  if not res then return fail(err) end
  return answer(200, { status = res.status, request_id = res.request_id, order = res.data })
end

--- POST /wxpay/notify: verified and decrypted before the merchant code runs.
function M.notify()
  openresty.handle_notification(wx, function(event)
    local order = event.resource
    -- idempotent: keyed on the business identity and the event type, not on the notification id
    local key = order.out_order_no .. "|" .. event.event_type
    ngx.shared.merchant_events:set(key, json.encode{
      event_type = event.event_type, out_order_no = order.out_order_no, state = order.state,
      total_amount = order.total_amount,
    })
    return true
  end)
end

--- GET /events
function M.events()
  local list = {}
  for _, k in ipairs(ngx.shared.merchant_events:get_keys(0)) do
    list[#list + 1] = json.decode(ngx.shared.merchant_events:get(k))
  end
  table.sort(list, function(a, b) return a.out_order_no .. a.event_type < b.out_order_no .. b.event_type end)
  return answer(200, json.array(list))
end

return M
