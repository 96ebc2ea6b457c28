-- E6 商户发起催收扣款 Collect (payscore.md §3.6): POST /v3/payscore/serviceorder/{out_order_no}/pay -> 200; asks
-- WeChat Pay to collect now (the sandbox's deduction succeeds at once: DONE, collection USER_PAID, T9). Setup: the
-- seed's order, confirmed, completed at 399 元 after the dinner.
--
--   lua5.4 examples/payscore/e06_pay.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local out_order_no = common.setup_order{ upto = "completed" }

  -- 商户发起催收扣款
  local res, err = wx.v3.payscore.serviceorder._out_order_no_.pay:post{
    out_order_no = out_order_no,
    json = { appid = sandbox.appid, service_id = sandbox.service_id },
  }
  common.show(res, err)
  local order = common.query(out_order_no)
  common.step("the order is now %s, collection %s, paid %d", order.state, order.collection.state,
    order.collection.paid_amount)
  common.expect(order.state == "DONE" and order.collection.state == "USER_PAID", "not collected")
end)
