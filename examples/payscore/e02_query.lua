-- E2 查询支付分订单 Query service order (payscore.md §3.2): GET /v3/payscore/serviceorder?out_order_no=&service_id=&appid=
-- -> 200, the order (ServiceOrderEntity). The order is the seed's, created first; the query is the seed's.
-- (By query_id, the token the confirm page hands the front end, the query is the same with query_id instead of
-- out_order_no: exactly one of the two.)
--
--   lua5.4 examples/payscore/e02_query.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local out_order_no = common.setup_order()

  -- 查询支付分订单
  local res, err = wx.v3.payscore.serviceorder:get{
    query = { out_order_no = out_order_no, service_id = sandbox.service_id, appid = sandbox.appid },
  }
  common.show(res, err)
  common.expect(res.data.out_order_no == out_order_no and res.data.state == "CREATED", "not the order created")
  -- amounts are integers both ways (under Lua 5.4 a math.type "integer")
  common.expect(res.data.total_amount == 40000, "total_amount " .. tostring(res.data.total_amount))
  common.expect(not math.type or math.type(res.data.total_amount) == "integer", "total_amount is not an integer")
end)
