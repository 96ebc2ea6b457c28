-- E7 同步服务订单信息 Sync (payscore.md §3.7): POST /v3/payscore/serviceorder/{out_order_no}/sync -> 200; the user
-- paid through another channel, WeChat Pay stops collecting: DONE, collection USER_PAID (T11). Setup: the seed's
-- order, confirmed, completed at 399 元 after the dinner; the user pays at the counter 2 minutes after the
-- completion (paid_time: after the complete call, not after the sync call).
--
--   lua5.4 examples/payscore/e07_sync.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local out_order_no, svc = common.setup_order{ upto = "completed" }
  local paid_t = svc.completed_at + 120
  common.travel_to(paid_t + 300)
  common.note("paid_time %s: 2 minutes after the completion, as the official 20091225121210 is 2 minutes after "
    .. "the service's end.", common.time14(paid_t))

  -- 同步服务订单信息
  local res, err = wx.v3.payscore.serviceorder._out_order_no_.sync:post{
    out_order_no = out_order_no,
    json = {
      appid = sandbox.appid,
      service_id = sandbox.service_id,
      type = "Order_Paid",
      detail = { paid_time = common.time14(paid_t) },
    },
  }
  common.show(res, err)
  common.expect(res.data.state == "DONE" and res.data.collection.state == "USER_PAID", "not marked paid")
end)
