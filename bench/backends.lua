-- bench/backends.lua - the crypto primitives of wechatpay.core on both crypto backends, in one run, with ratios.
--
--   make bench-backends
--   lua5.4 bench/backends.lua mbedtls=build/mbedtls/lua5.4/?.so openssl=build/openssl/lua5.4/?.so [rounds]
--
-- Two builds of the module cannot share one Lua state (same module name, same registry metatable), so each backend
-- is measured in a worker process of the same interpreter, and the workers alternate over several rounds (the
-- machine's load is shared between the backends). Per operation the CPU time (os.clock) of a batch is divided by
-- its size; the figure shown is the median over the rounds. The key is generated with openssl at run time.
-- Ratios are first backend / second backend: > 1 means the second is faster.

local clock = os.clock

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- A PayScore create signing string of 727 bytes (issue 7's reference message).
local function signing_string()
  local head = "POST\n/v3/payscore/serviceorder\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
  local body = '{"out_order_no":"1234323JKHDFE1243252","appid":"wxd678efh567hg6787","service_id":"500001",'
    .. '"service_introduction":"charging bank rental","time_range":{"start_time":"OnAccept"},'
    .. '"risk_fund":{"name":"DEPOSIT","amount":99900},"notify_url":"https://example.com/notify","note":"'
  local tail = '"}\n'
  return head .. body .. string.rep("x", 727 - #head - #body - #tail) .. tail
end

-- ---- worker: measures one backend, prints "op microseconds" lines ---------------------------------------------------
local function per_op(fn, min_time)
  local n, t = 0, 0
  local batch = 1
  while t < min_time do
    local t0 = clock()
    for _ = 1, batch do fn() end
    t = t + (clock() - t0)
    n = n + batch
    if batch < 1024 then batch = batch * 2 end
  end
  return t / n * 1e6
end

local function worker(key_path, pub_path)
  local core = require "wechatpay.core"
  local f = assert(io.open(key_path, "rb")); local pem = f:read("*a"); f:close()
  f = assert(io.open(pub_path, "rb")); local pub_pem = f:read("*a"); f:close()

  local t0 = clock()
  local key = assert(core.key_load(pem))
  local t_load = (clock() - t0) * 1e6
  local msg = assert(#signing_string() == 727 and signing_string())
  t0 = clock()
  local sig = assert(core.sign(key, msg))
  local t_first = (clock() - t0) * 1e6
  local pub = assert(core.key_load(pub_pem, "public"))
  assert(core.verify(pub, msg, sig) == true)
  local gkey, iv, aad = string.rep("k", 32), "0123456789ab", "transaction"
  local kib = string.rep("p", 1024)
  local ct = assert(core.gcm_encrypt(gkey, iv, aad, kib))

  print("version " .. core.backend_version:gsub("%s", "_"))
  print(("load_private %.2f"):format(t_load))
  print(("first_sign %.2f"):format(t_first))
  print(("sign %.2f"):format(per_op(function() core.sign(key, msg) end, 0.4)))
  print(("verify %.2f"):format(per_op(function() core.verify(pub, msg, sig) end, 0.2)))
  print(("gcm_encrypt_1k %.3f"):format(per_op(function() core.gcm_encrypt(gkey, iv, aad, kib) end, 0.2)))
  print(("gcm_decrypt_1k %.3f"):format(per_op(function() core.gcm_decrypt(gkey, iv, aad, ct) end, 0.2)))
  print(("nonce %.3f"):format(per_op(function() core.nonce() end, 0.2)))
  print(("sha256_1k %.3f"):format(per_op(function() core.sha256_hex(kib) end, 0.1)))
end

-- ---- driver ---------------------------------------------------------------------------------------------------------
local OPS = { "sign", "verify", "gcm_encrypt_1k", "gcm_decrypt_1k", "nonce", "sha256_1k", "load_private", "first_sign" }

local function interpreter()
  local i = -1
  while arg[i - 1] do i = i - 1 end -- the interpreter is arg[<lowest>]
  return arg[i]
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local function driver(specs, rounds)
  local tmp = assert(io.popen("mktemp -d /tmp/wechatpay-bench.XXXXXX")):read("*l")
  local key, pub = tmp .. "/key.pem", tmp .. "/pub.pem"
  assert(os.execute(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null && "
    .. "openssl pkey -in %s -pubout -out %s"):format(key, key, pub)))
  local lua = interpreter()
  local results, names = {}, {}
  for _, s in ipairs(specs) do
    names[#names + 1] = s.name
    results[s.name] = { version = "?" }
    for _, op in ipairs(OPS) do results[s.name][op] = {} end
  end
  for _ = 1, rounds do
    for _, s in ipairs(specs) do
      local cmd = ("LUA_CPATH=%s %s bench/backends.lua --worker %s %s"):format(sh_quote(s.cpath .. ";;"),
        sh_quote(lua), sh_quote(key), sh_quote(pub))
      local p = assert(io.popen(cmd))
      for line in p:lines() do
        local op, v = line:match("^(%S+) (%S+)$")
        if op == "version" then
          results[s.name].version = v:gsub("_", " ")
        elseif op and results[s.name][op] then
          table.insert(results[s.name][op], tonumber(v))
        end
      end
      p:close()
    end
  end
  os.execute("rm -rf " .. sh_quote(tmp))

  local interp = (jit and jit.version) or _VERSION
  print(("crypto backends, %s, median of %d alternating rounds (us per operation, CPU time)"):format(interp, rounds))
  for _, n in ipairs(names) do print(("  %-8s %s"):format(n, results[n].version)) end
  local header = ("%-16s"):format("operation")
  for _, n in ipairs(names) do header = header .. ("%14s"):format(n) end
  if #names == 2 then header = header .. "   ratio " .. names[1] .. "/" .. names[2] end
  print(header)
  local ok = true
  for _, op in ipairs(OPS) do
    local row = ("%-16s"):format(op)
    local m = {}
    for i, n in ipairs(names) do
      m[i] = median(results[n][op])
      if m[i] == nil then ok = false end
      row = row .. (m[i] and ("%14.2f"):format(m[i]) or ("%14s"):format("-"))
    end
    if #names == 2 and m[1] and m[2] and m[2] > 0 then row = row .. ("%11.2fx"):format(m[1] / m[2]) end
    print(row)
  end
  if not ok then
    io.stderr:write("bench/backends.lua: a worker failed (is every build there?)\n")
    os.exit(1)
  end
end

if arg[1] == "--worker" then
  worker(arg[2], arg[3])
else
  local specs, rounds = {}, 5
  for _, a in ipairs(arg) do
    local name, cpath = a:match("^(%w+)=(.+)$")
    if name then
      specs[#specs + 1] = { name = name, cpath = cpath }
    elseif tonumber(a) then
      rounds = tonumber(a)
    end
  end
  if #specs == 0 then
    io.stderr:write("usage: bench/backends.lua NAME=CPATH [NAME=CPATH] [ROUNDS]\n")
    os.exit(2)
  end
  driver(specs, rounds)
end
