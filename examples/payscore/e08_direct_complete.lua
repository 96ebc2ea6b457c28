-- E8 创单结单合并 Direct-complete (payscore.md §3.8): POST /payscore/serviceorder/direct-complete (no /v3, as the
-- official page; /v3/payscore/serviceorder/direct-complete is accepted too) -> 200; one call creates and completes
-- an order of a 免确认 user (T13): DOING/MCH_COMPLETE with the collection pending (DONE for 0). Setup: the user
-- authorized the service. The service lies in the past here (start and end before the call): yesterday's dinner,
-- 09:10:10-12:10:10.
--
--   lua5.4 examples/payscore/e08_direct_complete.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local openid = common.user()
  common.authorize(openid)
  local now = common.now()
  local start_t, end_t = common.at(now - 86400, 9, 10, 10), common.at(now - 86400, 12, 10, 10)
  local out_order_no = common.unique("1234323JKHDFE", 26)
  common.note("service times moved from 20091225 to %s (yesterday: a direct-complete reports a past service); "
    .. "out_order_no %s and openid %s so that the example can run twice.", common.date8(start_t), out_order_no, openid)

  -- 创单结单合并
  local res, err = wx.payscore.serviceorder.directComplete:post{
    json = {
      out_order_no = out_order_no,
      appid = sandbox.appid,
      openid = openid,
      service_id = sandbox.service_id,
      service_introduction = "某某酒店",
      post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
      post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", amount = 100, count = 2 } },
      time_range = {
        start_time = common.time14(start_t), start_time_remark = "备注1",
        end_time = common.time14(end_t), end_time_remark = "备注2",
      },
      location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
      total_amount = 39900,
      profit_sharing = true,
      goods_tag = "goods_tag",
      attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
      notify_url = "https://api.test.com",
    },
  }
  common.show(res, err)
  common.expect(res.data.state == "DOING" and res.data.state_description == "MCH_COMPLETE",
    "state " .. tostring(res.data.state))
end)
