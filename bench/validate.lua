-- bench/validate.lua: CPU cost of validating PayScore requests (wechatpay.payscore.validate), per request.
--
--   lua5.4 bench/validate.lua [batches] [per_batch]      (also: luajit bench/validate.lua; `make bench-validate`)
--
-- Prints µs per validation, the median over batches (os.clock CPU time), for the seed's create request (the figure
-- to put next to the cost of signing it), the same create with every value new on each call (no help from the
-- validator's memo of the last valid value per field), the seed's query, and a create request with three violations
-- (the cost of building problems). No assertion: figures only.

package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path

local validate = require "wechatpay.payscore.validate"
local fx = require "spec.payscore.fixtures"

local BATCHES = tonumber(arg and arg[1]) or 31
local PER_BATCH = tonumber(arg and arg[2]) or 2000
local interp = (jit and jit.version) or _VERSION

local function median(t)
  table.sort(t)
  local n = #t
  if n % 2 == 1 then return t[(n + 1) / 2] end
  return (t[n / 2] + t[n / 2 + 1]) / 2
end

local function bench(label, fn)
  for _ = 1, PER_BATCH do fn() end -- warm up (and let LuaJIT compile)
  local per = {}
  for b = 1, BATCHES do
    local t0 = os.clock()
    for _ = 1, PER_BATCH do fn() end
    per[b] = (os.clock() - t0) / PER_BATCH * 1e6
  end
  local m = median(per)
  print(string.format("validate %-34s %8.2f µs/request (median of %d batches x %d, %s)", label, m, BATCHES,
    PER_BATCH, interp))
  return m
end

local E1 = validate.find("POST", "/v3/payscore/serviceorder")
local E2 = validate.find("GET", "/v3/payscore/serviceorder")
local create = { json = fx.seed_create() }
local query = { query = fx.seed_query() }
local bad = { json = fx.seed_create() }
bad.json.post_payments[1].amount = 400.5
bad.json.service_introduction = string.rep("字", 21)
bad.json.need_user_confirm, bad.json.openid = false, nil

-- Two valid creates that differ in every string (and in the integers), sent alternately: no value repeats the
-- previous request's, so this is the cost without the per-field memo of validate.lua (the seed, sent again and
-- again, is its best case: a merchant's appid, service_id, notify_url and descriptions do repeat; order numbers
-- and times do not).
local function vary(t, key)
  if type(t) == "table" then
    local out = {}
    for k, v in pairs(t) do out[k] = vary(v, k) end
    return setmetatable(out, getmetatable(t))
  elseif type(t) == "string" then
    if key == "name" and t == "DEPOSIT" then return "ADVANCE" end
    if key == "start_time" or key == "end_time" then return t:sub(1, 12) .. "11" end
    if key == "notify_url" then return t .. "/n" end
    return t .. "1"
  elseif type(t) == "number" and key ~= "count" then
    return t + 1
  end
  return t
end
local fresh = { { json = fx.seed_create() }, { json = vary(fx.seed_create()) } }
local turn = 0

assert(validate.request(E1, create), "the seed create must pass")
assert(validate.request(E1, fresh[2]), "the varied seed create must pass")
assert(validate.request(E2, query), "the seed query must pass")
assert(not validate.request(E1, bad))

bench("E1 create (seed)", function() return validate.request(E1, create) end)
bench("E1 create, every value new", function()
  turn = 3 - (turn == 0 and 2 or turn) -- 1, 2, 1, 2, ...
  return validate.request(E1, fresh[turn])
end)
bench("E1 create (seed), find() included", function()
  local ep = validate.find("POST", "/v3/payscore/serviceorder")
  return validate.request(ep, create)
end)
bench("E2 query (seed)", function() return validate.request(E2, query) end)
bench("E1 create with 3 violations", function() return validate.request(E1, bad) end)
