-- E4 修改订单金额 Modify amount (payscore.md §3.4): POST /v3/payscore/serviceorder/{out_order_no}/modify -> 200, the
-- order with its lowered amount. Only while the order waits for its collection (DOING/MCH_COMPLETE, USER_PAYING),
-- downward only (T10). Setup: the seed's order, confirmed by the user, completed at 400 元 after the dinner; then
-- the merchant grants the official example's 1 元 discount (399 元).
--
--   lua5.4 examples/payscore/e04_modify.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local out_order_no = common.setup_order{ upto = "completed", complete = {
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    total_amount = 40000,
  } }

  -- 修改订单金额
  local res, err = wx.v3.payscore.serviceorder._out_order_no_.modify:post{
    out_order_no = out_order_no,
    json = {
      appid = sandbox.appid,
      service_id = sandbox.service_id,
      post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
      post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", amount = 100, count = 2 } },
      total_amount = 39900,
      reason = "用户投诉",
      device = { start_device_id = "HG123456", end_device_id = "HG123456", materiel_no = "example_materiel_no" },
    },
  }
  common.show(res, err)
  common.expect(res.data.total_amount == 39900, "total_amount " .. tostring(res.data.total_amount))
  common.expect(res.data.collection and res.data.collection.paying_amount == 39900, "paying_amount not lowered")
end)
