--- make bench-sandbox: a load run against the local PayScore sandbox.
--
--   luajit bench/sandbox.lua [orders] [clients]        (defaults 1000 orders, 8 clients; env BENCH_ORDERS,
--                                                        BENCH_CLIENTS)
--
-- Starts a sandbox in a temp dir (spec/support/sandbox.lua), then `clients` OS processes, each a client of our own
-- (`wechatpay.new` from config.json, libcurl, kept-alive connection, every answer verified) that creates its share
-- of the orders (E1, the seed's body with a unique out_order_no) and queries each one back (E2). Reports wall time,
-- requests/s, client-side p50/p99 latency of creates, queries and all requests, the sandbox's own handling time
-- (request log), lost orders (a create answered 200 whose order the sandbox does not list) and unexpected errors
-- (anything but 200, or a query answer that is not the order created). One run, figures of this machine only.
--
-- Runs under LuaJIT (wall-clock timing through the FFI: clock_gettime); the core is the LuaJIT build.

local MODE = arg and arg[1]

local ffi = require "ffi"
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wp_bench_timespec;
  int clock_gettime(int clk_id, wp_bench_timespec *tp);
]]
local ts = ffi.new("wp_bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local json = require "wechatpay.codec.json"

local function read_file(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function seed_body(out_order_no, cfg)
  local t0 = os.time() + 3600
  local function ts14(t) return os.date("!%Y%m%d%H%M%S", t + 8 * 3600) end
  return {
    out_order_no = out_order_no,
    appid = cfg.appid,
    service_id = cfg.service_id,
    service_introduction = "某某酒店",
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", amount = 100 } },
    time_range = { start_time = ts14(t0), start_time_remark = "备注1", end_time = ts14(t0 + 3600),
      end_time_remark = "备注2" },
    location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
    risk_fund = { name = "ESTIMATE_ORDER_COST", amount = 10000, description = "就餐的预估费用" },
    attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
    notify_url = "https://api.test.com",
    openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    need_user_confirm = true,
  }
end

-- ---- one client process ---------------------------------------------------------------------------

local function worker(id, first, count, cfg_path, out_path, prefix)
  local wechatpay = require "wechatpay"
  local cfg = json.decode(read_file(cfg_path))
  local wx = assert(wechatpay.new {
    mchid = cfg.mchid, serial = cfg.serial, private_key = "file://" .. cfg.private_key,
    certs = { [cfg.public_key_id] = "file://" .. cfg.public_key },
    apiv3_key = cfg.apiv3_key, base_uri = cfg.base_uri, ca_file = cfg.ca_file, timeout = 30,
  })
  local out = assert(io.open(out_path, "wb"))
  for i = first, first + count - 1 do
    local no = prefix .. i
    local t = now()
    local res, err = wx.v3.payscore.serviceorder:post { json = seed_body(no, cfg) }
    local dt = now() - t
    local ok = res ~= nil and res.status == 200 and res.data and res.data.out_order_no == no
    out:write(string.format("create %.6f %s %s %s\n", dt, res and res.status or 0, ok and "ok" or "bad", no))
    if not ok then io.stderr:write("client ", id, ": create ", no, ": ", tostring(err or res.body), "\n") end
    t = now()
    res, err = wx.v3.payscore.serviceorder:get { query = { out_order_no = no, service_id = cfg.service_id,
      appid = cfg.appid } }
    dt = now() - t
    ok = res ~= nil and res.status == 200 and res.data and res.data.out_order_no == no
      and res.data.state == "CREATED"
    out:write(string.format("query %.6f %s %s %s\n", dt, res and res.status or 0, ok and "ok" or "bad", no))
    if not ok then io.stderr:write("client ", id, ": query ", no, ": ", tostring(err or res.body), "\n") end
  end
  out:close()
end

if MODE == "--worker" then
  worker(tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]), arg[5], arg[6], arg[7])
  os.exit(0)
end

-- ---- the run ----------------------------------------------------------------------------------------

local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local shq = nginx.shq

local orders = tonumber(arg and arg[1]) or tonumber(os.getenv("BENCH_ORDERS")) or 1000
local clients = tonumber(arg and arg[2]) or tonumber(os.getenv("BENCH_CLIENTS")) or 8

local function pct(sorted, p)
  if #sorted == 0 then return 0 end
  local k = math.max(1, math.ceil(#sorted * p))
  return sorted[k]
end

local function summary(name, list)
  table.sort(list)
  local sum = 0
  for _, v in ipairs(list) do sum = sum + v end
  return string.format("  %-8s n=%-6d p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms   mean %7.2f ms", name, #list,
    pct(list, 0.50) * 1000, pct(list, 0.99) * 1000, (list[#list] or 0) * 1000, #list > 0 and sum / #list * 1000 or 0)
end

local ok, err = sandbox.available()
if not ok then
  print("bench-sandbox: skipped (" .. tostring(err) .. ")")
  os.exit(0)
end

print(string.format("bench-sandbox: %d orders (E1 create + E2 query each) from %d client processes", orders, clients))
local sb = sandbox.start { time_scale = 1, log_level = "warn" }
local tmp = sb.dir .. "/bench"
os.execute("mkdir -p " .. shq(tmp))
local prefix = "BENCH" .. os.date("!%H%M%S") .. "N"

local per = math.floor(orders / clients)
local extra = orders - per * clients
local cmds, first = {}, 1
local interp = arg[-1] or "luajit"
for i = 1, clients do
  local n = per + (i <= extra and 1 or 0)
  if n > 0 then
    cmds[#cmds + 1] = string.format("%s %s --worker %d %d %d %s %s %s 2>>%s &", shq(interp), shq(arg[0]), i, first, n,
      shq(sb.dir .. "/config.json"), shq(tmp .. "/out" .. i), prefix, shq(tmp .. "/stderr"))
    first = first + n
  end
end
local t0 = now()
os.execute("(" .. table.concat(cmds, " ") .. " wait)")
local wall = now() - t0

local creates, queries, all = {}, {}, {}
local created_ok, unexpected, lines = {}, 0, 0
for i = 1, clients do
  local f = io.open(tmp .. "/out" .. i, "rb")
  if f then
    for line in f:lines() do
      local kind, dt, _, verdict, no = line:match("^(%a+) ([%d.]+) (%d+) (%a+) (%S+)$")
      dt = tonumber(dt)
      lines = lines + 1
      all[#all + 1] = dt
      if kind == "create" then creates[#creates + 1] = dt else queries[#queries + 1] = dt end
      if verdict ~= "ok" then unexpected = unexpected + 1 end
      if kind == "create" and verdict == "ok" then created_ok[no] = true end
    end
    f:close()
  end
end
local missing_lines = orders * 2 - lines

-- lost orders: created (200) but not listed by the sandbox
local st, listed = sb:control("GET", "/sandbox/payscore/orders")
local listed_set, lost, ncreated = {}, 0, 0
if st == 200 and type(listed) == "table" then
  for _, o in ipairs(listed.data or listed) do
    if type(o) == "table" and o.out_order_no then listed_set[o.out_order_no] = true end
  end
end
for no in pairs(created_ok) do
  ncreated = ncreated + 1
  if not listed_set[no] then lost = lost + 1 end
end

-- the sandbox's own handling time (request log; the last 5000 entries at most)
local server = {}
local _, log = sb:control("GET", "/sandbox/requests")
for _, e in ipairs(log and log.data or {}) do
  if e.duration_us then server[#server + 1] = e.duration_us / 1e6 end
end

local errs = io.open(tmp .. "/stderr", "rb")
local errtext = errs and errs:read("*a") or ""
if errs then errs:close() end
sb:stop()

print(string.format("  wall %.2f s, %d requests, %.0f requests/s", wall, #all, #all / wall))
print(summary("create", creates))
print(summary("query", queries))
print(summary("all", all))
print(summary("server", server) .. "   (sandbox request log, handling only)")
print(string.format("  orders created %d/%d, lost %d (listed by GET /sandbox/payscore/orders: %s), "
  .. "unexpected errors %d, missing results %d", ncreated, orders, lost, st == 200 and "yes" or ("HTTP " .. st),
  unexpected, missing_lines))
if errtext ~= "" then io.stderr:write(errtext:sub(1, 2000), "\n") end
if lost > 0 or unexpected > 0 or missing_lines ~= 0 or st ~= 200 then
  print("bench-sandbox: FAILED")
  os.exit(1)
end
print("bench-sandbox: ok")
