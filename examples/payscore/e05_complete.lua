-- E5 完结支付分订单 Complete (payscore.md §3.5): POST /v3/payscore/serviceorder/{out_order_no}/complete -> 200; the
-- order becomes DOING/MCH_COMPLETE and WeChat Pay starts collecting (T7; DONE at once for 0, T8). Setup: the
-- seed's order, confirmed by the user; the dinner takes place (the sandbox's business clock moves past its end:
-- the actual end time must not lie in the future). The official complete example's items, times and fields.
--
--   lua5.4 examples/payscore/e05_complete.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local out_order_no, svc = common.setup_order{ upto = "confirmed", risk_fund_amount = 40000 }
  common.travel_to(svc.end_t + 600)
  common.step("setup: the sandbox's business clock moved to %s (the dinner is over)", common.time14(svc.end_t + 600))

  -- 完结支付分订单
  local res, err = wx.v3.payscore.serviceorder._out_order_no_.complete:post{
    out_order_no = out_order_no,
    json = {
      appid = sandbox.appid,
      service_id = sandbox.service_id,
      post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
      post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", amount = 100, count = 2 } },
      total_amount = 39900,                -- 40000 - 100: an item's amount is its total, count is not multiplied
      time_range = {
        start_time = common.time14(svc.start_t), start_time_remark = "备注1",
        end_time = common.time14(svc.end_t), end_time_remark = "备注2",
      },
      location = { end_location = "嗨客时尚主题展餐厅" },
      profit_sharing = true,
      goods_tag = "goods_tag",
      device = { start_device_id = "HG123456", end_device_id = "HG123456", materiel_no = "example_materiel_no" },
    },
  }
  common.show(res, err)
  common.expect(res.data.state == "DOING" and res.data.state_description == "MCH_COMPLETE",
    "state " .. tostring(res.data.state) .. "/" .. tostring(res.data.state_description))
  common.expect(res.data.need_collection == true, "need_collection")
end)
