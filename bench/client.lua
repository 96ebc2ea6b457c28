--- bench/client.lua - the client's cost per request (issues 3, 6, 7): CPU of the pipeline next to a bare RSA sign,
-- and round trips against the local PayScore sandbox, for both crypto backends and both interpreters, in one run.
--
--   make bench-client
--   lua5.4 bench/client.lua mbedtls=build/mbedtls openssl=build/openssl      (each: a build dir holding
--                                                                             lua5.4/ and luajit/wechatpay/core.so)
-- Environment: BENCH_ROUNDS (5 round-trip windows per figure), BENCH_WINDOW (0.3 s per window), BENCH_BATCHES
-- (25 CPU batches per figure), BENCH_TARGET (0.1 s of CPU per batch), BENCH_INTERPS ("lua5.4,luajit"),
-- BENCH_SECTIONS ("cpu,net"). The sandbox is started by this script (spec/support/sandbox.lua: temp dir, free port)
-- with the core of $BUILD (make passes the OpenSSL build, so that the server's own signing weighs as little as
-- possible), reset before every window of creates (so thousands of creates never fill it), and stopped at the end.
-- docs/benchmarks.md shows a run and explains how to read it.
--
-- How: two builds of the module cannot share one Lua state, so every (backend, interpreter) pair is a worker
-- process, started once. The driver sends the workers commands over FIFOs in lockstep - one worker runs at a time -
-- and they take turns (the order rotates): CPU batch b runs in every worker back to back, then batch b+1; each
-- round-trip window of one kind runs in every worker back to back, then the next kind, and the kinds cycle ROUNDS
-- times. A CPU batch cycles through all operations, ~1 ms of calls of each in turn, so the operations of one batch
-- are sampled over the same stretch of time. A slow spell of the shared machine therefore falls on every operation,
-- backend and interpreter alike. A ratio is taken between figures measured next to each other - per batch (or
-- window) first, the median over batches (windows) after; ratios between operations come from one process.
--
-- Section 1 (CPU, os.clock): the seed's PayScore create (E1) as the client sends it, through a transport object
-- that hands back a real answer captured from the sandbox when the worker starts (signed by the sandbox seconds
-- before, inside the 300 s clock window, so every iteration verifies it for real):
--   sign      core.sign of the very signing string the client signs (key parsed once)
--   verify    core.verify of the captured create answer (key parsed once)
--   validate  validate.find + validate.request of the seed create, as the pipeline calls them
--   encode    json.encode of the create body;  decode  json.decode of the create answer
--   prepare   pipeline.prepare (path, validation, encode, headers, nonce, sign)
--   finish    pipeline.finish of the captured answer (headers, verify, decode)
--   create    wx.v3.payscore.serviceorder:post{json=...} through the stub transport = the whole client pipeline
--   query     wx.v3.payscore.serviceorder:get{query=...} (E2) through the stub transport
--   *_norsa   the same with core.sign/core.verify answering at once (a captured signature / true): the client's
--             own work around RSA, measured directly rather than as a difference of two noisy figures
-- Section 2 (requests/s over a wall-clock window; the worker's CPU time alongside): the same calls over HTTPS to
-- the sandbox on 127.0.0.1 (libcurl transport): sequential over one kept-alive connection, sequential with
-- wx:close() before each call (a new connection and TLS handshake per request), and waves of 8 and 32 requests in
-- flight (getAsync/postAsync + wechatpay.all). Queries read one existing order; creates make a new order each.

package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path

local lib = require "bench.lib"

local clock = os.clock
local env = os.getenv

local function envnum(name, default)
  local v = tonumber(env(name) or "")
  if v and v > 0 then return v end
  return default
end

local ROUNDS = math.floor(envnum("BENCH_ROUNDS", 5))
local WINDOW = envnum("BENCH_WINDOW", 0.3)
local BATCHES = math.floor(envnum("BENCH_BATCHES", 25))
local TARGET = envnum("BENCH_TARGET", 0.1)
local SLICE = 0.001 -- seconds per mini-batch of one op inside a CPU batch

local unpack = table.unpack or rawget(_G, "unpack")

local CPU_OPS = { "sign", "verify", "validate", "encode", "decode", "prepare", "finish", "create", "query",
  "prepare_norsa", "prepare_norsa_nv", "finish_norsa", "create_norsa", "query_norsa" }
local NET_OPS = { "get_seq_ka", "get_seq_new", "get_w8", "get_w32", "post_seq_ka", "post_seq_new", "post_w8",
  "post_w32" }

-- ---- worker ---------------------------------------------------------------------------------------------------------

local function new_client(cfg, extra)
  local wechatpay = require "wechatpay"
  local c = {
    mchid = cfg.mchid, serial = cfg.serial, private_key = "file://" .. cfg.private_key,
    certs = { [cfg.public_key_id] = "file://" .. cfg.public_key },
    apiv3_key = cfg.apiv3_key, base_uri = cfg.base_uri, ca_file = cfg.ca_file, timeout = 30,
  }
  for k, v in pairs(extra or {}) do c[k] = v end
  return assert(wechatpay.new(c))
end

-- The seed's create (examples/seed.lua: the official example, service times moved to tomorrow).
local DAY = os.date("%Y%m%d", os.time() + 86400)
local function seed_body(cfg, out_order_no)
  return {
    out_order_no = out_order_no,
    appid = cfg.appid,
    service_id = cfg.service_id,
    service_introduction = "某某酒店",
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", count = 2 } },
    time_range = {
      start_time = DAY .. "091010", end_time = DAY .. "121010",
      start_time_remark = "备注1", end_time_remark = "备注2",
    },
    location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
    risk_fund = { name = "DEPOSIT", amount = 10000, description = "就餐的预估费用" },
    attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
    notify_url = "https://api.test.com",
    openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    need_user_confirm = true,
  }
end

local function seed_query(cfg, out_order_no)
  return { out_order_no = out_order_no, service_id = cfg.service_id, appid = cfg.appid }
end

local function header(list, name)
  name = name:lower()
  for i = 1, #list do
    if list[i][1]:lower() == name then return list[i][2] end
  end
end

-- Section 1 set-up: returns { [op] = fn } (each checked once), plus facts for the report.
local function setup_cpu(cfg, prefix, rsa)
  local json = require "wechatpay.codec.json"
  local pipeline = require "wechatpay.client.pipeline"
  local formatter = require "wechatpay.crypto.formatter"
  local validate = require "wechatpay.payscore.validate"
  local curl = require "wechatpay.transport.curl"

  -- one real create and one real query, recorded as the transport saw them
  local recorder = { inner = assert(curl.new{ ca_file = cfg.ca_file, timeout = 30 }) }
  function recorder.request(self, req)
    local res, err = self.inner:request(req)
    self.last = res
    return res, err
  end
  local live = new_client(cfg, { transport = recorder })
  local no = prefix .. "C"
  local body = seed_body(cfg, no)
  local res, err = live.v3.payscore.serviceorder:post{ json = body }
  assert(res and res.status == 200 and res.verified and res.data.out_order_no == no, tostring(err))
  local create_answer = recorder.last
  local query = seed_query(cfg, no)
  res, err = live.v3.payscore.serviceorder:get{ query = query }
  assert(res and res.status == 200 and res.verified and res.data.state == "CREATED", tostring(err))
  local query_answer = recorder.last
  recorder.inner:close()

  -- the client under test: its transport hands back the captured answers
  local stub = {
    request = function(_, req) return req.method == "POST" and create_answer or query_answer end,
  }
  local wx = new_client(cfg, { transport = stub })
  local node = wx.v3.payscore.serviceorder
  local copts, copts_nv, qopts = { json = body }, { json = body, validate = false }, { query = query }

  -- the exact signing string of the create, and the answer's verification message
  local req = assert(pipeline.prepare(wx, "POST", "v3/payscore/serviceorder", copts))
  local auth = header(req.headers, "Authorization")
  local ts, nonce = auth:match('timestamp="(%d+)"'), auth:match('nonce_str="(%w+)"')
  local sign_msg = formatter.request("POST", req.target, ts, nonce, req.body)
  local key = wx._key
  rsa.fake_sig = auth:match('signature="([^"]+)"')
  assert(rsa.sign(key, sign_msg) == rsa.fake_sig, "signing string reconstructed wrongly")
  local ah = create_answer.headers
  local pub = assert(wx._certs[header(ah, "Wechatpay-Serial")])
  local verify_msg = formatter.response(header(ah, "Wechatpay-Timestamp"), header(ah, "Wechatpay-Nonce"),
    create_answer.body)
  local sig = header(ah, "Wechatpay-Signature")
  assert(rsa.verify(pub, verify_msg, sig) == true)
  local path = req.path:sub(#wx._base_path)
  assert(validate.find("POST", path), "the create endpoint is not in the schema")

  local function without_rsa(fn)
    return function()
      rsa.off = true
      local r = fn()
      rsa.off = false
      return r
    end
  end
  local prepare = function() return pipeline.prepare(wx, "POST", "v3/payscore/serviceorder", copts) end
  local prepare_nv = function() return pipeline.prepare(wx, "POST", "v3/payscore/serviceorder", copts_nv) end
  local finish = function() return pipeline.finish(wx, req, create_answer) end
  local create = function() return node:post(copts) end
  local queryf = function() return node:get(qopts) end
  local ops = {
    sign = function() return rsa.sign(key, sign_msg) end,
    verify = function() return rsa.verify(pub, verify_msg, sig) end,
    validate = function() return validate.request(validate.find("POST", path), { json = body, params = {} }) end,
    encode = function() return json.encode(body) end,
    decode = function() return json.decode(create_answer.body) end,
    prepare = prepare, finish = finish, create = create, query = queryf,
    prepare_norsa = without_rsa(prepare), prepare_norsa_nv = without_rsa(prepare_nv),
    finish_norsa = without_rsa(finish), create_norsa = without_rsa(create), query_norsa = without_rsa(queryf),
  }
  -- every op is checked once before it is timed: a figure of a failing call would mean nothing
  local checks = {
    sign = function(v) return v == rsa.fake_sig end,
    verify = function(v) return v == true end,
    validate = function(v) return v == true end,
    encode = function(v) return v == req.body end,
    decode = function(v) return type(v) == "table" and v.out_order_no == no end,
    prepare = function(v) return type(v) == "table" and v.body == req.body end,
    finish = function(v) return type(v) == "table" and v.verified and v.data.out_order_no == no end,
    create = function(v) return type(v) == "table" and v.verified and v.data.out_order_no == no end,
    query = function(v) return type(v) == "table" and v.verified and v.data.out_order_no == no end,
  }
  for _, name in ipairs(CPU_OPS) do
    assert(ops[name], name)
    local check = checks[name:gsub("_norsa.*$", "")]
    assert(check(ops[name]()), name .. " failed its check")
  end
  return ops, { sign_len = #sign_msg, answer_len = #create_answer.body }
end

-- Section 2 set-up: returns { [name] = { requests per unit, unit function, needs a query order } } and counters.
local function setup_net(cfg, prefix)
  local wechatpay = require "wechatpay"
  local wx = new_client(cfg)
  local node = wx.v3.payscore.serviceorder
  local st = { errors = 0, new = 0, wx = wx }
  local seq, qseq, qopts = 0, 0, nil
  local function create_opts()
    seq = seq + 1
    return { json = seed_body(cfg, prefix .. seq) }
  end
  -- a fresh order to query (the driver resets the sandbox before every window)
  function st.query_order()
    qseq = qseq + 1
    local no = prefix .. "Q" .. qseq
    local res, err = node:post{ json = seed_body(cfg, no) }
    assert(res and res.status == 200, tostring(err))
    qopts = { query = seed_query(cfg, no) }
  end
  local function check(res, err)
    if res and res.status == 200 and res.verified then
      if res.reused == false then st.new = st.new + 1 end
      return
    end
    st.errors = st.errors + 1
    if st.errors <= 3 then
      io.stderr:write("bench/client.lua: ", prefix, ": ", tostring(err or (res and res.status .. " " .. res.body)),
        "\n")
    end
  end
  local units = {
    get_seq_ka = { 1, function() check(node:get(qopts)) end, true },
    post_seq_ka = { 1, function() check(node:post(create_opts())) end },
    get_seq_new = { 1, function() wx:close(); check(node:get(qopts)) end, true },
    post_seq_new = { 1, function() wx:close(); check(node:post(create_opts())) end },
  }
  for _, w in ipairs{ 8, 32 } do
    units["get_w" .. w] = { w, function()
      local list = {}
      for i = 1, w do list[i] = node:getAsync(qopts) end
      wechatpay.all(list):wait()
      for i = 1, w do check(list[i]:wait()) end
    end, true }
    units["post_w" .. w] = { w, function()
      local list = {}
      for i = 1, w do list[i] = node:postAsync(create_opts()) end
      wechatpay.all(list):wait()
      for i = 1, w do check(list[i]:wait()) end
    end }
  end
  return units, st
end

-- CPU seconds (user + system) the sandbox's nginx workers have used so far (/proc/<pid>/stat, 10 ms ticks)
local function server_cpu(pids)
  local ticks = 0
  for _, pid in ipairs(pids) do
    local stat = lib.read_file("/proc/" .. pid .. "/stat")
    local rest = stat and stat:match("%) (.*)$")
    if rest then
      local f = {}
      for x in rest:gmatch("%S+") do f[#f + 1] = x end
      ticks = ticks + (tonumber(f[12]) or 0) + (tonumber(f[13]) or 0) -- utime, stime (fields 14, 15)
    end
  end
  return ticks / 100
end

local function worker(cfg_path, prefix, fifo, server_pids)
  -- the command FIFO is opened first: the driver's open for writing returns only once this one is open
  local cmds = assert(io.open(fifo, "r"))
  io.stdout:setvbuf("line")
  local spids = {}
  for pid in (server_pids or ""):gmatch("%d+") do spids[#spids + 1] = pid end
  local function reply(...)
    local t = { ... }
    for i = 1, #t do if type(t[i]) == "number" then t[i] = ("%.9g"):format(t[i]) end end
    io.stdout:write(table.concat(t, " "), "\n")
  end
  local ok, err = pcall(function()
    local core = require "wechatpay.core"
    -- RSA can be switched off for the *_norsa rows: the pipeline takes core.sign when it loads and the verifier
    -- looks core.verify up per call, so both are wrapped before any client module loads (one Lua call more per
    -- operation, ~0.1 us, in every row alike). The bare rows call the real functions.
    local rsa = { sign = core.sign, verify = core.verify, off = false }
    core.sign = function(k, m)
      if rsa.off then return rsa.fake_sig end
      return rsa.sign(k, m)
    end
    core.verify = function(k, m, s)
      if rsa.off then return true end
      return rsa.verify(k, m, s)
    end
    local json = require "wechatpay.codec.json"
    local cfg = assert(json.decode(assert(lib.read_file(cfg_path))))
    local ops, facts = setup_cpu(cfg, prefix, rsa)
    local units, st = setup_net(cfg, prefix)
    local slices = {}
    reply("ready", (core.backend .. " " .. core.backend_version):gsub("%s+", "_"), (lib.interp():gsub("%s+", "_")),
      facts.sign_len, facts.answer_len)
    for line in cmds:lines() do
      local verb, a, b = line:match("^(%S+)%s*(%S*)%s*(%S*)")
      if verb == "quit" then
        break
      elseif verb == "cpusetup" then
        -- warm-up (~40 ms per op: LuaJIT compiles its traces here), then the mini-batch size of each op (~SLICE)
        for _, op in ipairs(CPU_OPS) do
          lib.probe(ops[op], 0.04)
          slices[op] = lib.probe(ops[op], SLICE)
        end
        local per_cycle = 0
        for _, op in ipairs(CPU_OPS) do
          local fn, m = ops[op], slices[op]
          local t0 = clock()
          for _ = 1, m do fn() end
          per_cycle = per_cycle + (clock() - t0)
        end
        reply(math.max(1, math.floor(TARGET / per_cycle + 0.5)))
      elseif verb == "cpu" then
        -- one batch: `cycles` times every op for its mini-batch, in turn, so that all ops of the batch are sampled
        -- over the same stretch of time (ratios between them are not skewed by the machine's slow spells)
        local cycles, acc = tonumber(a), {}
        for _, op in ipairs(CPU_OPS) do acc[op] = 0 end
        for _ = 1, cycles do
          for _, op in ipairs(CPU_OPS) do
            local fn, m = ops[op], slices[op]
            local t0 = clock()
            for _ = 1, m do fn() end
            acc[op] = acc[op] + (clock() - t0)
          end
        end
        local t = {}
        for k, op in ipairs(CPU_OPS) do t[k] = acc[op] / (cycles * slices[op]) end
        reply(unpack(t))
      elseif verb == "net" or verb == "netprobe" then
        local u = units[a]
        local k, unit = u[1], u[2]
        if u[3] then st.query_order() end
        if not a:find("new", 1, true) then st.wx:close() end
        unit() -- warm-up: the connections of the window open here
        local n = tonumber(b)
        if verb == "netprobe" then
          n = 1
          while true do
            local t0 = lib.wall()
            for _ = 1, n do unit() end
            local t = lib.wall() - t0
            if t >= 0.1 or n >= 4096 then
              n = math.max(2, math.floor(WINDOW / (t / n) + 0.5))
              break
            end
            n = n * 2
          end
          reply(n)
        else
          st.errors, st.new = 0, 0
          local s0 = server_cpu(spids)
          local w0 = lib.wall()
          local c0 = clock()
          for _ = 1, n do unit() end
          local c1 = clock()
          local w1 = lib.wall()
          local s1 = server_cpu(spids)
          local reqs = n * k
          reply(reqs / (w1 - w0), (c1 - c0) / reqs, st.new / reqs, st.errors, reqs, (s1 - s0) / reqs)
        end
      else
        error("unknown command " .. line)
      end
    end
    st.wx:close()
  end)
  if not ok then
    reply("error", (tostring(err):gsub("%s+", " ")))
    os.exit(1)
  end
  cmds:close()
end

-- ---- driver ---------------------------------------------------------------------------------------------------------

local INTERP_CMD = { ["lua5.4"] = "lua5.4", luajit = "luajit" }
local INTERP_LABEL = { ["lua5.4"] = "Lua 5.4", luajit = "LuaJIT" }

local function split(s)
  local t = {}
  for x in s:gmatch("[^,%s]+") do t[#t + 1] = x end
  return t
end

local Worker = {}
Worker.__index = Worker

function Worker:send(line)
  self.cmd:write(line, "\n")
  self.cmd:flush()
  local answer = self.out:read("*l")
  if not answer or answer:match("^error") then
    self.dead = true -- no more writes to its FIFO (a write to a FIFO without a reader would raise SIGPIPE)
    error(("worker %s/%s: %s"):format(self.backend, self.interp, tostring(answer or "exited")), 0)
  end
  local t = {}
  for x in answer:gmatch("%S+") do t[#t + 1] = tonumber(x) or x end
  return unpack(t)
end

local function start_worker(w, dir, cfg_path, prefix, server_pids)
  w.fifo = dir .. "/" .. w.tag .. ".fifo"
  assert(os.execute("mkfifo " .. lib.sh_quote(w.fifo)))
  local cmd = ("LUA_CPATH=%s %s bench/client.lua --worker %s %s %s %s"):format(
    lib.sh_quote(w.cpath .. ";;"), lib.sh_quote(INTERP_CMD[w.interp]), lib.sh_quote(cfg_path), lib.sh_quote(prefix),
    lib.sh_quote(w.fifo), lib.sh_quote(server_pids))
  w.out = assert(io.popen(cmd, "r"))
  w.cmd = assert(io.open(w.fifo, "w"))
  local line = w.out:read("*l")
  local version, interp, sign_len, answer_len = (line or ""):match("^ready (%S+) (%S+) (%S+) (%S+)")
  if not version then error(("worker %s/%s did not start: %s"):format(w.backend, w.interp, tostring(line)), 0) end
  w.version, w.interp_version = version:gsub("_", " "), interp:gsub("_", " ")
  w.sign_len, w.answer_len = tonumber(sign_len), tonumber(answer_len)
  return setmetatable(w, Worker)
end

local function stop_worker(w)
  if w.cmd and not w.dead then pcall(function() w.cmd:write("quit\n"); w.cmd:close() end) end
  if w.out then pcall(function() w.out:close() end) end
  w.cmd, w.out = nil, nil
end

local function fmt(v, width, prec)
  if v == nil or v ~= v then return (" "):rep(width - 1) .. "-" end
  return ("%" .. width .. "." .. (prec or 0) .. "f"):format(v)
end

local function driver(builds)
  local sandbox = require "spec.support.sandbox"
  local interps = split(env("BENCH_INTERPS") or "lua5.4,luajit")
  local sections = {}
  for _, s in ipairs(split(env("BENCH_SECTIONS") or "cpu,net")) do sections[s] = true end
  local workers = {}
  for _, interp in ipairs(interps) do
    assert(INTERP_CMD[interp], "BENCH_INTERPS: lua5.4 and/or luajit")
    for _, b in ipairs(builds) do
      workers[#workers + 1] = { backend = b.name, interp = interp, cpath = b.dir .. "/" .. interp .. "/?.so",
        tag = b.name:sub(1, 1) .. (interp == "luajit" and "j" or "5") .. #workers }
    end
  end
  local t_start = lib.wall()
  local load0 = (lib.read_file("/proc/loadavg") or "?"):match("^(%S+ %S+ %S+)")
  local sb = sandbox.start{ time_scale = 1, log_level = "warn" }
  local tmp = lib.sh_capture("mktemp -d " .. lib.sh_quote((env("TMPDIR") or "/tmp") .. "/wp-bench-client.XXXXXX"))
  local cpu, net = {}, {} -- cpu[i][op] = { per batch }, net[i][name] = { { rps, cpu, new, err, n } per round }
  local ok, err = pcall(function()
    local run = ("%04d"):format(os.time() % 10000)
    -- the sandbox's nginx workers, whose CPU time the round-trip windows report next to the client's
    local master = (lib.read_file(sb.dir .. "/nginx.pid") or ""):match("%d+")
    local server_pids = master and lib.sh_capture("pgrep -P " .. master .. " | tr '\\n' ,") or ""
    for i, w in ipairs(workers) do
      start_worker(w, tmp, sb.dir .. "/config.json", ("BC%s%s"):format(run, w.tag), server_pids)
      cpu[i], net[i] = {}, {}
    end
    -- every turn visits the workers in a new order (rotating start, direction alternating)
    local function order(turn)
      local idx, n = {}, #workers
      for k = 1, n do idx[k] = ((k - 1 + turn) % n) + 1 end
      if turn % 2 == 1 then
        for k = 1, math.floor(n / 2) do idx[k], idx[n + 1 - k] = idx[n + 1 - k], idx[k] end
      end
      return idx
    end
    local turn = 0
    if sections.cpu then
      local cycles = {}
      for i, w in ipairs(workers) do
        cycles[i] = w:send("cpusetup")
        for _, op in ipairs(CPU_OPS) do cpu[i][op] = {} end
      end
      for b = 1, BATCHES do
        turn = turn + 1
        for _, i in ipairs(order(turn)) do
          local t = { workers[i]:send("cpu " .. cycles[i]) }
          for k, op in ipairs(CPU_OPS) do cpu[i][op][b] = t[k] end
        end
      end
    end
    if sections.net then
      -- the sandbox is reset before every window of creates (and every probe) so that it never fills up; query
      -- windows create their order first
      local n = {}
      for i, w in ipairs(workers) do
        n[i] = {}
        for _, name in ipairs(NET_OPS) do
          sb.reset()
          n[i][name] = w:send("netprobe " .. name)
          net[i][name] = {}
        end
      end
      for r = 1, ROUNDS do
        for _, name in ipairs(NET_OPS) do
          turn = turn + 1
          for _, i in ipairs(order(turn)) do
            if name:find("^post") then sb.reset() end
            local rps, c, new, e, reqs, scpu = workers[i]:send(("net %s %d"):format(name, n[i][name]))
            net[i][name][r] = { rps = rps, cpu = c, new = new, err = e, n = reqs, server = scpu }
          end
        end
      end
    end
  end)
  for _, w in ipairs(workers) do stop_worker(w) end
  local load1 = (lib.read_file("/proc/loadavg") or "?"):match("^(%S+ %S+ %S+)")
  sb.stop()
  os.execute("rm -rf " .. lib.sh_quote(tmp))
  if not ok then error(err, 0) end

  local med = lib.median
  -- median over batches of f(b) (nil when a figure is missing)
  local function per_batch(f)
    local r = {}
    for b = 1, BATCHES do
      local v = f(b)
      if v == nil then return nil end
      r[b] = v
    end
    return med(r)
  end
  local function cpu_fig(i, key)
    local c = cpu[i]
    if not c or not c.sign or #c.sign == 0 then return nil end
    local function s(op) return function(b) return c[op][b] end end
    local derived = {
      validate_ctx = function(b) return c.prepare_norsa[b] - c.prepare_norsa_nv[b] end,
    }
    local f = derived[key] or s(key)
    return per_batch(function(b) return f(b) * 1e6 end)
  end
  local function cpu_ratio(i, num, den)
    local c = cpu[i]
    if not c or not c.sign or #c.sign == 0 then return nil end
    return per_batch(function(b) return num(c, b) / den(c, b) end)
  end

  print(("wechatpay client benchmark, %s: %d CPU batches of ~%.0f ms per figure, %d round-trip windows of ~%.1f s")
    :format(os.date("!%Y-%m-%d %H:%M UTC"), BATCHES, TARGET * 1000, ROUNDS, WINDOW))
  local seen = {}
  for _, w in ipairs(workers) do
    if not seen[w.backend] then
      seen[w.backend] = true
      print(("  %-8s %s"):format(w.backend, w.version))
    end
  end
  print(("  server   the local sandbox (nginx, 2 workers, 127.0.0.1, HTTPS) on the core of %s")
    :format(env("BUILD") or "build"))
  print(("  machine  %d CPUs, load average %s at the start, %s at the end (other work slows the round trips)")
    :format(tonumber(lib.sh_capture("nproc")) or 0, tostring(load0), tostring(load1)))
  print(("  the create: %d-byte signing string, %d-byte answer"):format(workers[1].sign_len or 0,
    workers[1].answer_len or 0))

  -- columns: every worker; ratio columns: second backend / first backend, per interpreter
  local pairs_ = {}
  if #builds == 2 then
    for _, interp in ipairs(interps) do
      local a, b
      for i, w in ipairs(workers) do
        if w.interp == interp and w.backend == builds[1].name then a = i end
        if w.interp == interp and w.backend == builds[2].name then b = i end
      end
      pairs_[#pairs_ + 1] = { interp = interp, first = a, second = b }
    end
  end
  local ratio_name = #builds == 2 and (builds[2].name .. "/" .. builds[1].name) or ""
  local function heads(label_width, col_width)
    local h1, h2 = (" "):rep(label_width), (" "):rep(label_width)
    for _, w in ipairs(workers) do
      h1 = h1 .. ("%" .. col_width .. "s"):format(INTERP_LABEL[w.interp])
      h2 = h2 .. ("%" .. col_width .. "s"):format(w.backend)
    end
    for _, p in ipairs(pairs_) do
      h1 = h1 .. ("%" .. col_width .. "s"):format(INTERP_LABEL[p.interp])
      h2 = h2 .. ("%" .. col_width .. "s"):format("ratio")
    end
    print(h1)
    print(h2)
    if #pairs_ > 0 then
      print(("(ratio = %s, same interpreter, median of the ratios of figures measured next to each other)")
        :format(ratio_name))
    end
  end

  if sections.cpu then
    print()
    print(("[1] client CPU per create request, no network: us per call (os.clock), median of %d batches"):format(
      BATCHES))
    heads(44, 10)
    local rows = {
      { "sign", "bare sign (core.sign, the create's string)" },
      { "verify", "bare verify (core.verify, the answer)" },
      { "validate", "validate (seed create: find + request)" },
      { "validate_ctx", "  validation inside prepare (on - off)" },
      { "encode", "JSON encode (create body)" },
      { "decode", "JSON decode (create answer)" },
      { "prepare", "prepare (validate, encode, sign)" },
      { "finish", "finish (verify, decode)" },
      { "create", "create E1: whole pipeline" },
      { "query", "query E2: whole pipeline" },
      { "prepare_norsa", "prepare without RSA" },
      { "finish_norsa", "finish without RSA" },
      { "create_norsa", "create E1: whole pipeline without RSA" },
      { "query_norsa", "query E2: whole pipeline without RSA" },
    }
    for _, r in ipairs(rows) do
      local line = ("%-44s"):format(r[2])
      for i in ipairs(workers) do line = line .. fmt(cpu_fig(i, r[1]), 10, 1) end
      for _, p in ipairs(pairs_) do
        local a, b = cpu[p.first], cpu[p.second]
        local v
        if r[1] ~= "validate_ctx" and a and b and a[r[1]] and b[r[1]] then
          v = per_batch(function(k) return b[r[1]][k] / a[r[1]][k] end)
        end
        line = line .. (v and ("%9.2fx"):format(v) or fmt(nil, 10))
      end
      print(line)
    end
    print("ratios within one process (median of per-batch ratios)")
    local function op(name) return function(c, b) return c[name][b] end end
    local rrows = {
      { "create pipeline / bare sign", op("create"), op("sign") },
      { "create pipeline / (bare sign + verify)", op("create"),
        function(c, b) return c.sign[b] + c.verify[b] end },
      { "query pipeline / bare sign", op("query"), op("sign") },
      { "create pipeline without RSA / sign", op("create_norsa"), op("sign") },
      { "validation / sign (issue 6)", op("validate"), op("sign") },
      { "  validation inside prepare / sign", function(c, b) return c.prepare_norsa[b] - c.prepare_norsa_nv[b] end,
        op("sign") },
      { "JSON encode + decode / sign", function(c, b) return c.encode[b] + c.decode[b] end, op("sign") },
    }
    for _, r in ipairs(rrows) do
      local line = ("%-44s"):format(r[1])
      for i in ipairs(workers) do line = line .. fmt(cpu_ratio(i, r[2], r[3]), 10, 3) end
      print(line)
    end
    for _, p in ipairs(pairs_) do
      local v = cpu_ratio(p.second, op("create"), op("sign"))
      if v then
        print(("issue 7 target (%s, %s): create pipeline <= 1.3 x bare sign: %.2fx, %s"):format(builds[2].name,
          INTERP_LABEL[p.interp], v, v <= 1.3 and "met" or "NOT met"))
      end
    end
  end

  if sections.net then
    print()
    print(("[2] round trips to the sandbox over HTTPS: requests/s (wall clock), median of %d windows; CPU per "
      .. "request of the client and of the server below"):format(ROUNDS))
    heads(36, 10)
    local rows = {
      { "get_seq_ka", "query, sequential, kept-alive" },
      { "get_seq_new", "query, sequential, new conn. each" },
      { "get_w8", "query, 8 in flight" },
      { "get_w32", "query, 32 in flight" },
      { "post_seq_ka", "create, sequential, kept-alive" },
      { "post_seq_new", "create, sequential, new conn. each" },
      { "post_w8", "create, 8 in flight" },
      { "post_w32", "create, 32 in flight" },
    }
    local errs, newc = 0, {}
    local function net_fig(i, name, field)
      local list = net[i] and net[i][name]
      if not list or #list == 0 then return nil end
      local v = {}
      for r, x in ipairs(list) do v[r] = x[field] end
      return med(v)
    end
    local function net_pair(p, name, field)
      local a, b = net[p.first] and net[p.first][name], net[p.second] and net[p.second][name]
      if not a or not b or #a == 0 or #b == 0 then return nil end
      local v = {}
      for r = 1, math.min(#a, #b) do v[r] = b[r][field] / a[r][field] end
      return med(v)
    end
    for _, field in ipairs{ "rps", "cpu", "server" } do
      if field == "cpu" then print("client CPU, us per request (os.clock of the worker)") end
      if field == "server" then
        print("server CPU, us per request (the sandbox's nginx workers, /proc, 10 ms ticks)")
      end
      for _, r in ipairs(rows) do
        local line = ("%-36s"):format(r[2])
        for i in ipairs(workers) do
          local v = net_fig(i, r[1], field)
          line = line .. fmt(v and (field == "rps" and v or v * 1e6), 10, 0)
          if field == "rps" then
            for _, x in ipairs(net[i][r[1]] or {}) do errs = errs + x.err end
            newc[r[1]] = newc[r[1]] or {}
            newc[r[1]][i] = net_fig(i, r[1], "new")
          end
        end
        for _, p in ipairs(pairs_) do
          local v = net_pair(p, r[1], field)
          line = line .. (v and ("%9.2fx"):format(v) or fmt(nil, 10))
        end
        print(line)
      end
    end
    print("ratios of requests/s within one worker (median of per-window ratios)")
    local rrows = {
      { "query: kept-alive / new connection", "get_seq_ka", "get_seq_new" },
      { "create: kept-alive / new connection", "post_seq_ka", "post_seq_new" },
      { "query: 8 in flight / sequential", "get_w8", "get_seq_ka" },
      { "query: 32 in flight / sequential", "get_w32", "get_seq_ka" },
      { "create: 8 in flight / sequential", "post_w8", "post_seq_ka" },
      { "create: 32 in flight / sequential", "post_w32", "post_seq_ka" },
    }
    for _, r in ipairs(rrows) do
      local line = ("%-36s"):format(r[1])
      for i in ipairs(workers) do
        local a, b = net[i] and net[i][r[2]], net[i] and net[i][r[3]]
        local v
        if a and b and #a > 0 and #b > 0 then
          local x = {}
          for k = 1, math.min(#a, #b) do x[k] = a[k].rps / b[k].rps end
          v = med(x)
        end
        line = line .. fmt(v, 10, 2)
      end
      print(line)
    end
    local line = ("%-36s"):format("new connections per request")
    local function frac(name)
      local s = ""
      for i in ipairs(workers) do s = s .. fmt(newc[name] and newc[name][i], 10, 3) end
      return s
    end
    print(line .. frac("get_seq_ka") .. "   (kept-alive query)")
    print(("%-36s"):format("") .. frac("get_seq_new") .. "   (new conn. query)")
    print(("%-36s"):format("") .. frac("get_w32") .. "   (32 in flight query)")
    if errs > 0 then print(("%d requests FAILED in the timed windows (see stderr): the figures are not valid")
      :format(errs)) end
  end
  print()
  print(("total %.0f s (wall clock of the workers: %s under Lua 5.4, clock_gettime under LuaJIT)"):format(
    lib.wall() - t_start, "date +%s.%N"))
end

if arg and arg[1] == "--worker" then
  worker(arg[2], arg[3], arg[4], arg[5])
else
  local builds = {}
  for _, a in ipairs(arg or {}) do
    local name, dir = a:match("^(%w+)=(.+)$")
    if name then builds[#builds + 1] = { name = name, dir = dir } end
  end
  if #builds == 0 then
    io.stderr:write("usage: bench/client.lua NAME=BUILD_DIR [NAME=BUILD_DIR]   (e.g. mbedtls=build/mbedtls "
      .. "openssl=build/openssl)\n")
    os.exit(2)
  end
  driver(builds)
end
