-- E1 创建支付分订单 Create service order (payscore.md §3.1): POST /v3/payscore/serviceorder -> 200, CREATED (T1)
-- with the `package` the PayScore mini-program's confirm page opens with.
-- The seed's create (examples/seed.lua, the official example), with the service times moved to the sandbox's
-- tomorrow and a fresh out_order_no; openid is sent together with need_user_confirm = true, as the official example
-- does (accepted by the client and the sandbox).
--
--   lua5.4 examples/payscore/e01_create.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local start_t, end_t = common.service_times()
  local out_order_no = common.unique("1234323JKHDFE", 26)
  common.note("service times moved from 20091225 to %s (the API refuses a start time in the past); "
    .. "out_order_no %s so that the example can run twice.", common.date8(start_t), out_order_no)

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
        start_time = common.time14(start_t), end_time = common.time14(end_t),   -- 091010 .. 121010
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
  common.show(res, err)
  common.expect(res.data.state == "CREATED", "state " .. tostring(res.data.state))
  common.expect(type(res.data.package) == "string" and res.data.package ~= "", "no package in the answer")
end)
