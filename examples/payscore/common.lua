--- What the PayScore examples share (examples/payscore/*.lua), so that each script shows only its own call:
-- the client built from the sandbox's config.json (as examples/seed.lua builds it), the sandbox's control endpoints
-- (what the user or WeChat Pay does: confirm an order, let a deduction succeed, authorize a service), the sandbox's
-- business clock (so that a service booked for tomorrow can be over when the merchant completes it), the setup of an
-- order in a later state, the notification receiver, and printing answers the way the PHP SDK's examples do
-- (status code, then body).
--
--   package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
--   local common = require "common"
--   common.main(function(wx, sandbox)      -- sandbox: the decoded config.json (appid, service_id, ...)
--     local res, err = wx.v3.payscore.serviceorder:get{ query = {...} }
--     common.show(res, err)                -- prints status and body; an error ends the script with status 1
--   end)
--
-- Every script takes the sandbox's config.json as arg[1] (or $SANDBOX_CONFIG; default build/sandbox/config.json,
-- where `make sandbox-start` puts it) and exits non-zero on any failure.

local wechatpay = require "wechatpay"
local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

local M = {}

--- The official examples' values (wechatpay-php's PayScore docs, the same as WeChat Pay's pages).
M.OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
M.AUTHORIZATION_CODE = "4554ADSG5F6A65SDF6Q"

local HERE = (arg and arg[0] and arg[0]:match("^(.*)[/\\]")) or "examples/payscore"
local TZ = 8 * 3600 -- PayScore business times are Beijing time (payscore.md §1.3)

local cleanups = {}

-- A failure of the example: raised, caught by main(), which cleans up and exits 1.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end
local function fail(message) error(setmetatable({ message = message }, Failure), 2) end
M.fail = fail

--- Check a condition of the example (the answer says what the call should have done).
function M.expect(cond, message)
  if not cond then fail("unexpected: " .. message) end
  return cond
end

---------------------------------------------------------------------------------------------------------------------
-- the client

local function read_config()
  local path = arg and arg[1] or os.getenv("SANDBOX_CONFIG") or "build/sandbox/config.json"
  local f = io.open(path, "rb")
  if not f then fail("no sandbox config at " .. path .. " (run `make sandbox-start`)") end
  local sandbox = json.decode(f:read("*a"))
  f:close()
  if type(sandbox) ~= "table" then fail(path .. " is not JSON") end
  sandbox.config_path = path
  return sandbox
end

--- The merchant's client, from the sandbox's config.json.
function M.client(sandbox)
  local wx, err = wechatpay.new {
    mchid = sandbox.mchid,
    serial = sandbox.serial,
    private_key = "file://" .. sandbox.private_key,
    certs = {
      [sandbox.public_key_id] = "file://" .. sandbox.public_key,              -- public-key mode (the default)
      [sandbox.platform_serial] = "file://" .. sandbox.platform_certificate,  -- certificate mode
    },
    apiv3_key = sandbox.apiv3_key,
    base_uri = sandbox.base_uri,
    ca_file = sandbox.ca_file,
  }
  if not wx then fail(tostring(err)) end
  return wx
end

---------------------------------------------------------------------------------------------------------------------
-- printing

--- Print an answer like the PHP SDK's examples (status code, then body; for 204 an empty line). On an error: the
-- error, its status and body (for an error answer), and the script fails.
function M.show(res, err)
  if not res then
    print(tostring(err))
    if type(err) == "table" and err.status then
      print(err.status)
      print(err.body or "")
    end
    fail("the call failed: " .. tostring(err))
  end
  print(res.status)
  print(res.body)
  return res
end

--- A line about the setup (what happened before the example's own call).
function M.step(fmt, ...)
  print("-- " .. fmt:format(...))
end

--- A note to the reader (the parameters that differ from the official example, and why).
function M.note(fmt, ...)
  print("Note: " .. fmt:format(...))
end

---------------------------------------------------------------------------------------------------------------------
-- the sandbox: control endpoints and clock

--- A control call (no signature: /sandbox/... is the sandbox's own API). Returns the decoded answer.
function M.control(method, path, body)
  local t = M.wx:transport()
  local base = M.sandbox.control_uri or (M.sandbox.base_uri .. "sandbox/")
  local res, err = t:request {
    method = method, url = base .. path, body = body and assert(json.encode(body)) or nil,
    headers = { { "Content-Type", "application/json" }, { "Accept", "application/json" } },
  }
  if not res then fail("sandbox " .. method .. " " .. path .. ": " .. tostring(err)) end
  if res.status ~= 200 then fail(("sandbox %s %s: %d %s"):format(method, path, res.status, res.body)) end
  return json.decode(res.body)
end

--- The sandbox's business clock (Unix seconds) and its offset from the real clock.
function M.now()
  local c = M.control("GET", "clock")
  return c.business_now, c.business_offset
end

local travelled = nil -- the business offset before the first travel (restored at the end)

--- Move the sandbox's business clock to Unix time t (time passes for the orders; requests stay signed with the
-- real clock). Restored when the example ends.
function M.travel_to(t)
  local now, offset = M.now()
  if travelled == nil then travelled = offset end
  M.control("POST", "clock", { business_offset = offset + math.floor(t - now) })
end

--- `yyyyMMddHHmmss` / `yyyyMMdd` (Beijing time) of Unix time t.
function M.time14(t) return os.date("!%Y%m%d%H%M%S", math.floor(t) + TZ) end
function M.date8(t) return os.date("!%Y%m%d", math.floor(t) + TZ) end

--- Unix time of hh:mm:ss (Beijing) on the day of Unix time t.
function M.at(t, hh, mm, ss)
  t = math.floor(t)
  local midnight = t - (t + TZ) % 86400
  return midnight + hh * 3600 + mm * 60 + ss
end

--- A fresh identifier: the official value's prefix, the time and random characters (examples run again and again
-- against the same sandbox; an out_order_no or authorization_code can be used once).
function M.unique(prefix, len)
  local s = prefix .. os.date("%H%M%S") .. core.nonce()
  return s:sub(1, len or 32)
end

---------------------------------------------------------------------------------------------------------------------
-- orders in later states

--- The service the seed books: the official example's dinner, 09:10:10-12:10:10 (Beijing) on the day after the
-- sandbox's today (the official 2009-12-25 lies in the past, which the API refuses for a new order).
function M.service_times()
  local now = M.now()
  return M.at(now + 86400, 9, 10, 10), M.at(now + 86400, 12, 10, 10)
end

--- The seed's create body (examples/seed.lua: the official example), for out_order_no and the service times.
function M.seed_order(out_order_no, start_t, end_t)
  return {
    out_order_no = out_order_no,
    appid = M.sandbox.appid,                                 -- wxd678efh567hg6787
    service_id = M.sandbox.service_id,                       -- 2002000000000558128851361561536
    service_introduction = "某某酒店",
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", count = 2 } },
    time_range = {
      start_time = M.time14(start_t), end_time = M.time14(end_t),
      start_time_remark = "备注1", end_time_remark = "备注2",
    },
    location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
    risk_fund = { name = "DEPOSIT", amount = 10000, description = "就餐的预估费用" },
    attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
    notify_url = "https://api.test.com",
    openid = M.OPENID,
    need_user_confirm = true,
  }
end

--- Set up an order: the seed's create (opts.risk_fund_amount, opts.notify_url override), then, as opts.upto says,
-- the user confirms it ("confirmed"), the service takes place and the merchant completes it ("completed", with
-- opts.complete = the complete body's items, default the official complete example's). Returns out_order_no and
-- a table { start_t, end_t, body (the create body), completed_at (business clock, after the complete) }.
function M.setup_order(opts)
  opts = opts or {}
  local wx = M.wx
  local out_order_no = M.unique("1234323JKHDFE", 26)
  local start_t, end_t = M.service_times()
  local body = M.seed_order(out_order_no, start_t, end_t)
  local risk = opts.risk_fund_amount or (opts.upto == "completed" and 40000 or nil)
  if risk then
    -- §6.3: a 先免 (DEPOSIT) order collects at most its risk fund; the official complete example collects 399 元
    M.note("risk_fund.amount %d instead of the seed's 10000: a DEPOSIT order can collect at most its risk fund "
      .. "(payscore.md §6.3), and this dinner costs 400 元 (399 元 after the discount).", risk)
    body.risk_fund.amount = risk
  end
  if opts.notify_url then body.notify_url = opts.notify_url end
  local res, err = wx.v3.payscore.serviceorder:post{ json = body }
  if not res then M.show(res, err) end
  M.step("setup: created order %s for %s-%s (%s)", out_order_no, body.time_range.start_time,
    body.time_range.end_time:sub(9), res.data.state)
  local info = { start_t = start_t, end_t = end_t, body = body }
  if opts.upto == nil or opts.upto == "created" then return out_order_no, info end

  local c = M.control("POST", "payscore/orders/" .. out_order_no .. "/confirm", {})
  M.step("setup: the user confirmed it in the PayScore mini-program (%s/%s)", c.order.state,
    c.order.state_description)
  if opts.upto == "confirmed" then return out_order_no, info end

  -- the dinner takes place: the sandbox's business clock moves to 10 minutes after its end
  M.travel_to(end_t + 600)
  M.step("setup: the sandbox's business clock moved to %s (the service is over)", M.time14(end_t + 600))
  local complete = opts.complete or {
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", amount = 100, count = 2 } },
    total_amount = 39900,
  }
  complete.appid, complete.service_id = M.sandbox.appid, M.sandbox.service_id
  complete.time_range = complete.time_range or { start_time = M.time14(start_t), end_time = M.time14(end_t) }
  res, err = wx.v3.payscore.serviceorder._out_order_no_.complete:post{ out_order_no = out_order_no, json = complete }
  if not res then M.show(res, err) end
  info.completed_at = M.now()
  M.step("setup: completed it, total_amount %d (%s/%s, collection %s)", res.data.total_amount, res.data.state,
    tostring(res.data.state_description), res.data.need_collection and "USER_PAYING" or "none")
  return out_order_no, info
end

--- Query an order (E2) and return its decoded body.
function M.query(out_order_no)
  local res, err = M.wx.v3.payscore.serviceorder:get{
    query = { out_order_no = out_order_no, service_id = M.sandbox.service_id, appid = M.sandbox.appid },
  }
  if not res then M.show(res, err) end
  return res.data
end

--- A user of the sandbox: the official openid with its last characters made unique (authorizations are per user;
-- a fresh user has no open orders, which would block terminating the authorization).
function M.user()
  return M.unique(M.OPENID:sub(1, 15), 28)
end

--- The user authorizes the service (the mini-program's wxpayScoreEnable); opts: authorization_code, notify_url.
function M.authorize(openid, opts)
  local body = { service_id = M.sandbox.service_id, appid = M.sandbox.appid }
  for k, v in pairs(opts or {}) do body[k] = v end
  local a = M.control("POST", "payscore/users/" .. openid .. "/authorize", body).authorization
  M.step("setup: user %s authorized the service (%s)", openid, a and a.authorization_state or "?")
  return a
end

---------------------------------------------------------------------------------------------------------------------
-- the notification receiver (examples/payscore/receiver/)

local function listening()
  local used = {}
  for _, name in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    local f = io.open(name, "rb")
    if f then
      for port, st in f:read("*a"):gmatch("%s*%d+:%s+%x+:(%x+)%s+%x+:%x+%s+(%x%x)") do
        if st == "0A" then used[tonumber(port, 16)] = true end
      end
      f:close()
    end
  end
  return used
end

local function sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end -- LuaJIT: the raw status
  return a == true and (c == nil or c == 0)
end

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sleep(s) sh("sleep " .. s) end

--- Start the receiver on a free loopback port. Returns { url = "http://127.0.0.1:<port>/notify",
-- wait = function(event_type, match) -> the event (decrypted resource in event.resource) }; stopped at the end.
function M.receiver()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. shq(dir)))
  local script = HERE .. "/receiver/wxreceiver"
  local env = "RECEIVER_DIR=" .. shq(dir) .. " SANDBOX_CONFIG=" .. shq(M.sandbox.config_path)
  local port, ok
  local used = listening()
  for _ = 1, 8 do
    repeat
      local b1, b2, b3 = core.random(3):byte(1, 3)
      port = 20000 + (b1 * 65536 + b2 * 256 + b3) % 40000
    until not used[port]
    used[port] = true
    ok = sh(env .. " RECEIVER_PORT=" .. port .. " " .. shq(script) .. " start > " .. shq(dir .. "/out") .. " 2>&1")
    if ok then break end
  end
  cleanups[#cleanups + 1] = function()
    sh(env .. " " .. shq(script) .. " stop >/dev/null 2>&1")
    if not os.getenv("WP_KEEP_TMP") then sh("rm -rf " .. shq(dir)) end
  end
  if not ok then
    local f = io.open(dir .. "/out", "rb")
    fail("the notification receiver did not start: " .. (f and f:read("*a") or ""))
  end
  local r = { url = "http://127.0.0.1:" .. port .. "/notify", dir = dir }
  M.step("setup: notification receiver at %s", r.url)
  --- The first event of event_type for which match(event) holds, waiting up to 15 s.
  function r.wait(event_type, match)
    for _ = 1, 150 do
      local f = io.open(dir .. "/events.jsonl", "rb")
      if f then
        for line in f:lines() do
          local ev = json.decode(line)
          if type(ev) == "table" and ev.event_type == event_type and (not match or match(ev)) then
            f:close()
            return ev, line
          end
        end
        f:close()
      end
      sleep(0.1)
    end
    fail("no " .. event_type .. " notification reached the receiver within 15 s (see GET /sandbox/notifications)")
  end
  return r
end

--- Print a received notification: its envelope, then the decrypted resource (as the PHP SDK's notification example
-- prints the decrypted array).
function M.show_event(ev)
  print(("%s %s (%s, %s)"):format(ev.event_type, ev.summary or "", ev.id or "?", ev.create_time or "?"))
  print(assert(json.encode(ev.resource)))
end

---------------------------------------------------------------------------------------------------------------------
-- main

--- Run the example: fn(wx, sandbox). Cleans up (the business clock, the receiver, the client) and exits 0, or 1
-- after printing what failed.
function M.main(fn)
  local ok, err = xpcall(function()
    M.sandbox = read_config()
    M.wx = M.client(M.sandbox)
    fn(M.wx, M.sandbox)
  end, function(e)
    if getmetatable(e) == Failure then return e end
    return debug.traceback(tostring(e), 2)
  end)
  if travelled ~= nil then
    pcall(M.control, "POST", "clock", { business_offset = travelled })
  end
  for i = #cleanups, 1, -1 do pcall(cleanups[i]) end
  if M.wx then M.wx:close() end
  if not ok then
    io.stderr:write(arg and arg[0] or "example", ": ", tostring(err), "\n")
    os.exit(1)
  end
  os.exit(0)
end

return M
