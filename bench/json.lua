-- bench/json.lua - encode/decode speed of wechatpay.codec.json next to Debian's lua-cjson on PayScore-shaped data.
-- Run: make bench-json (Lua 5.4 and LuaJIT). Prints µs per operation and ratios (ours / cjson; < 1 is faster).
-- Both directions run in the C core (src/json.c, src/json_encode.c); ours also validates UTF-8, sorts object keys
-- and checks every number, which lua-cjson does not.
-- Figures are from one run on a shared machine: read the ratios, not the absolute numbers.
local json = require "wechatpay.codec.json"
local cjson = require "cjson"

local clock = os.clock
local interp = (jit and jit.version) or _VERSION

-- A typical PayScore create body (E1), ~750 bytes encoded.
local create = {
  out_order_no = "1234323JKHDFE1243252",
  appid = "wxd678efh567hg6787",
  service_id = "500001",
  service_introduction = "充电宝租借",
  post_payments = {
    { name = "租金", amount = 40000, description = "2元/小时", count = 1 },
    { name = "服务费", amount = 400, description = "每次 4 元", count = 2 },
  },
  post_discounts = { { name = "新用户优惠", description = "首单立减", amount = 100, count = 1 } },
  time_range = { start_time = "OnAccept", end_time = "20251231235959", start_time_remark = "借出" },
  location = { start_location = "北京市海淀区 A 座" },
  risk_fund = { name = "DEPOSIT", amount = 99900, description = "押金" },
  attach = "order%3D1234%26shop%3D77",
  notify_url = "https://merchant.example.com/wxpay/payscore/notify",
  need_user_confirm = true,
  device = { start_device_id = "SN20251231A001", materiel_no = "M1000023" },
}

-- A query answer (E2) of a completed order, ~1.5 KB.
local query_answer = [[
{"appid":"wxd678efh567hg6787","mchid":"1230000109","service_id":"500001","out_order_no":"1234323JKHDFE1243252",
"service_introduction":"充电宝租借","state":"DONE","state_description":"MCH_COMPLETE",
"post_payments":[{"name":"租金","amount":40000,"description":"2元/小时","count":1},
{"name":"服务费","amount":400,"description":"每次 4 元","count":2}],
"post_discounts":[{"name":"新用户优惠","description":"首单立减","amount":100,"count":1}],
"risk_fund":{"name":"DEPOSIT","amount":99900,"description":"押金"},"total_amount":40700,"need_collection":true,
"collection":{"state":"USER_PAID","total_amount":40700,"paying_amount":0,"paid_amount":40700,
"details":[{"seq":1,"amount":40700,"paid_type":"NEWTON","paid_time":"20251231235959",
"transaction_id":"4200000000000000000000000001","promotion_detail":[{"coupon_id":"109519","name":"单品惠-6",
"scope":"SINGLE","type":"CASH","amount":100,"stock_id":"931386","wechatpay_contribute":0,"merchant_contribute":100,
"other_contribute":0,"currency":"CNY","goods_detail":[{"goods_id":"M1000023","quantity":1,"unit_price":40800,
"discount_amount":100,"goods_remark":"商品备注信息"}]}]}]},
"time_range":{"start_time":"20251231120000","end_time":"20251231235959","start_time_remark":"借出",
"end_time_remark":"归还"},"location":{"start_location":"北京市海淀区 A 座","end_location":"北京市海淀区 B 座"},
"attach":"order%3D1234%26shop%3D77","notify_url":"https://merchant.example.com/wxpay/payscore/notify",
"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","order_id":"15646546545165651651","device":{"start_device_id":
"SN20251231A001","end_device_id":"SN20251231B002","materiel_no":"M1000023"}}]]
query_answer = query_answer:gsub("\n", "")
local query_value = assert(json.decode(query_answer))

-- µs per call of f: the best of 3 windows of about `budget` seconds of CPU each, after a warm-up (the machine is
-- shared, the best window is the least disturbed one)
local function measure(f, budget)
  budget = budget or 0.15
  for _ = 1, 200 do f() end
  local best = math.huge
  for _ = 1, 3 do
    local n, t0 = 0, clock()
    local elapsed
    repeat
      for _ = 1, 100 do f() end
      n = n + 100
      elapsed = clock() - t0
    until elapsed >= budget
    if elapsed / n < best then best = elapsed / n end
  end
  return best * 1e6
end

-- A large body (~40 KB): 400 line items, so the output buffer grows and many small objects are sorted.
local big = { out_order_no = "BIG-1", items = {} }
for i = 1, 400 do
  big.items[i] = { seq = i, name = "商品" .. i, amount = i * 100, count = 1 + i % 3, remark = ("备注 %d/%d"):format(i, 400),
    tags = { "a", "b" } }
end
-- The create body with one bad amount at the end: the refusal, with its JSON Pointer and message.
local bad = {}
for k, v in pairs(create) do bad[k] = v end
bad.risk_fund = { name = "DEPOSIT", amount = 999.5, description = "押金" }
assert(not json.encode(bad))

local create_json = assert(json.encode(create))
assert(cjson.encode(create))
print(("bench-json under %s: create body %d bytes, query answer %d bytes, large body %d bytes"):format(interp,
  #create_json, #query_answer, #assert(json.encode(big))))
print(("%-28s %10s %10s %8s"):format("operation", "ours µs", "cjson µs", "ratio"))
local rows = {
  { "encode create body", function() return json.encode(create) end, function() return cjson.encode(create) end },
  { "decode create body", function() return json.decode(create_json) end,
    function() return cjson.decode(create_json) end },
  { "encode query answer", function() return json.encode(query_value) end,
    function() return cjson.encode(query_value) end },
  { "decode query answer", function() return json.decode(query_answer) end,
    function() return cjson.decode(query_answer) end },
  { "encode large body", function() return json.encode(big) end, function() return cjson.encode(big) end },
  -- lua-cjson encodes 999.5 without complaint: its column is the same body written, for scale
  { "refuse create (bad amount)", function() return json.encode(bad) end, function() return cjson.encode(bad) end },
}
for _, r in ipairs(rows) do
  local ours, theirs = measure(r[2]), measure(r[3])
  print(("%-28s %10.2f %10.2f %8.2f"):format(r[1], ours, theirs, ours / theirs))
end
