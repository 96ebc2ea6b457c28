--- bench/core.lua - time per operation of the C core, next to `openssl speed rsa2048` on the same machine.
--
--   make bench-core            (Lua 5.4; or: LUA_CPATH="./build/luajit/?.so;;" luajit bench/core.lua)
--
-- Each figure is the median of several batches (CPU time, os.clock, as `openssl speed` measures
-- user CPU time by default). Ratios are ours / openssl's time per operation (1.00 = as fast).

local core = require "wechatpay.core"
local openssl = require "spec.support.openssl"

local BATCHES = 7
local TARGET = 0.15 -- seconds per batch

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

-- seconds per call of fn, median of BATCHES batches sized to take about TARGET seconds
local function measure(fn)
  fn() -- warm up
  -- calibrate the batch size with a small batch
  local probe, t0 = 20, os.clock()
  for _ = 1, probe do fn() end
  local per = (os.clock() - t0) / probe
  local n = per > 0 and math.max(1, math.floor(TARGET / per)) or 100000
  local samples = {}
  for b = 1, BATCHES do
    t0 = os.clock()
    for _ = 1, n do fn() end
    samples[b] = (os.clock() - t0) / n
  end
  return median(samples), n
end

local function fmt_time(s)
  if s >= 1e-3 then return ("%8.3f ms"):format(s * 1e3) end
  return ("%8.2f us"):format(s * 1e6)
end

-- A PayScore-like signing string of exactly 727 bytes (POST /v3/payscore/serviceorder).
local function payscore_message()
  local head = "POST\n/v3/payscore/serviceorder\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
  local body = '{"out_order_no":"1234323JKHDFE1243252","appid":"wxd678efh567hg6787","service_id":'
    .. '"500001","service_introduction":"%s","post_payments":[{"name":"就餐费用","amount":40000,'
    .. '"description":"就餐人均100元","count":4}],"post_discounts":[{"name":"满20减1元",'
    .. '"description":"不与其他优惠叠加","count":1}],"time_range":{"start_time":"20091225091010",'
    .. '"end_time":"20091225121010"},"risk_fund":{"name":"ESTIMATE_ORDER_COST",'
    .. '"amount":10000,"description":"就餐的预估费用"},"attach":"Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",'
    .. '"notify_url":"https://api.test.com","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","need_user_confirm":true}'
  local fill = 727 - #head - #body + 2 - 1 -- "%s" is replaced, the message ends in "\n"
  assert(fill > 0, "template too long")
  local msg = head .. body:format(("x"):rep(fill)) .. "\n"
  assert(#msg == 727, #msg)
  return msg
end

local function openssl_speed()
  local ok, out = openssl.sh("openssl speed -seconds 1 rsa2048 2>/dev/null")
  if not ok then return nil end
  local s, v = out:match("rsa%s+2048 bits%s+([%d.]+)s%s+([%d.]+)s")
  return tonumber(s), tonumber(v), out:match("version: ([^\n]+)") or ""
end

local o = openssl.new()
local ok, err = pcall(function()
  o:run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem")
  o:run("openssl pkey -in key.pem -pubout -out pub.pem")
  local key = assert(core.key_load("file://" .. o:path("key.pem")))
  local pub = assert(core.key_load("file://" .. o:path("pub.pem"), "public"))
  local msg = payscore_message()
  local sig = assert(core.sign(key, msg))
  assert(core.verify(pub, msg, sig))
  local apiv3, iv, aad = ("k"):rep(32), "0123456789ab", "transaction"
  local ct = core.gcm_encrypt(apiv3, iv, aad, core.random(1024))
  assert(#assert(core.gcm_decrypt(apiv3, iv, aad, ct)) == 1024)

  local rows = {
    { "sign (727-byte message)", function() core.sign(key, msg) end },
    { "verify (727-byte message)", function() core.verify(pub, msg, sig) end },
    { "gcm_decrypt (1 KiB)", function() core.gcm_decrypt(apiv3, iv, aad, ct) end },
    { "nonce", function() core.nonce() end },
  }
  local version = (jit and jit.version) or _VERSION
  print(("wechatpay core benchmark: %s (%s), %s"):format(core.backend, core.backend_version, version))
  print(("%-30s %12s %12s"):format("operation", "per op", "ops/s"))
  local ours = {}
  for i, r in ipairs(rows) do
    local t = measure(r[2])
    ours[i] = t
    print(("%-30s %12s %12.0f"):format(r[1], fmt_time(t), 1 / t))
  end
  local osign, overify, oversion = openssl_speed()
  if osign then
    print(("%-30s %12s %12.0f"):format("openssl speed rsa2048 sign", fmt_time(osign), 1 / osign))
    print(("%-30s %12s %12.0f"):format("openssl speed rsa2048 verify", fmt_time(overify), 1 / overify))
    print(("ratio sign   (ours / openssl): %.2f"):format(ours[1] / osign))
    print(("ratio verify (ours / openssl): %.2f"):format(ours[2] / overify))
    if oversion ~= "" then print("(openssl " .. oversion .. ")") end
  else
    print("openssl speed rsa2048: not available")
  end
end)
o:cleanup()
if not ok then error(err, 0) end
