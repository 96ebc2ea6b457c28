-- E3 取消支付分订单 Cancel (payscore.md §3.3): POST /v3/payscore/serviceorder/{out_order_no}/cancel -> 200; the
-- order becomes REVOKED (T5 from CREATED; also allowed from DOING, T6/T12). Re-entrant: the same cancel again
-- answers the same. The order is the seed's, created first.
--
--   lua5.4 examples/payscore/e03_cancel.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local out_order_no = common.setup_order()

  -- 取消支付分订单
  local res, err = wx.v3.payscore.serviceorder._out_order_no_.cancel:post{
    out_order_no = out_order_no,
    json = { appid = sandbox.appid, service_id = sandbox.service_id, reason = "用户投诉" },
  }
  common.show(res, err)
  common.expect(res.data.out_order_no == out_order_no, "answer for another order")
  local order = common.query(out_order_no)
  common.step("the order is now %s, total_amount %d", order.state, order.total_amount)
  common.expect(order.state == "REVOKED" and order.total_amount == 0, "order not revoked")
end)
