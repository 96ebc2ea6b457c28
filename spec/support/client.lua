--- Our client, configured from a running sandbox (spec/support/sandbox.lua), and helpers for the client's
-- integration specs (spec/client/integration*_spec.lua).
--
--   local client = require "spec.support.client"
--   local sb = sandbox.start{ routes = client.ROUTES }           -- the echo routes below
--   local wx = client.from_sandbox(sb)                          -- public-key mode, the sandbox CA trusted
--   local wx = client.from_sandbox(sb, { timeout = 0.5 })       -- overrides go into wechatpay.new's table
--   local wx = client.from_sandbox(sb, { certs = client.platform_certs(sb) })     -- certificate mode
--   local cfg = client.config(sb, overrides)                    -- the table only (for config-error cases)
--   local wx, rec = client.recording(sb)                        -- libcurl behind a recorder: rec.sent = requests
--   client.seed(no, over), client.seed_query(no)                -- the seed (spec/payscore/fixtures.lua), times
--                                                               -- moved to tomorrow
--   client.last_seq(sb), client.requests_since(sb, seq)         -- the sandbox's request log
--   client.header(list, name), client.pct(s), client.uptime(), client.wait_for(fn, max)
--
-- An override `false` removes a key (e.g. { ca_file = false }).

local wechatpay = require "wechatpay"

local M = {}

--- The certs map of the sandbox's WeChat Pay public key (public-key mode, the default).
function M.public_key_certs(sb)
  local c = sb.config
  return { [c.public_key_id] = "file://" .. c.public_key }
end

--- The certs map of the sandbox's platform certificate (certificate mode).
function M.platform_certs(sb)
  local c = sb.config
  return { [c.platform_serial] = "file://" .. c.platform_certificate }
end

--- The configuration table for wechatpay.new.
function M.config(sb, overrides)
  local c = sb.config
  local cfg = {
    mchid = c.mchid, serial = c.serial, private_key = "file://" .. c.private_key,
    certs = M.public_key_certs(sb),
    apiv3_key = c.apiv3_key, base_uri = c.base_uri, ca_file = c.ca_file,
    timeout = 10, connect_timeout = 5,
  }
  for k, v in pairs(overrides or {}) do
    if v == false then cfg[k] = nil else cfg[k] = v end
  end
  return cfg
end

--- A client (raises when the configuration is refused).
function M.from_sandbox(sb, overrides)
  local wx, err = wechatpay.new(M.config(sb, overrides))
  if not wx then error(tostring(err), 2) end
  return wx
end

--- A client whose transport records what the client hands it: the real libcurl transport (same CA and timeouts)
-- behind a thin wrapper (the custom-transport option of wechatpay.new). Returns wx, rec; rec.sent lists the
-- prepared requests (method, url, target, headers, body): the target and body the client signed.
function M.recording(sb, overrides)
  local curl = require "wechatpay.transport.curl"
  local c = sb.config
  local real = assert(curl.new{ ca_file = c.ca_file, timeout = 10, connect_timeout = 5 })
  local rec = { sent = {}, transport = real }
  local wrapper = {}
  function wrapper.request(_, req)
    rec.sent[#rec.sent + 1] = req
    return real:request(req)
  end
  function wrapper.request_async(_, req)
    rec.sent[#rec.sent + 1] = req
    return real:request_async(req)
  end
  function wrapper.close() return real:close() end
  local o = { transport = wrapper }
  for k, v in pairs(overrides or {}) do o[k] = v end
  return M.from_sandbox(sb, o), rec
end

--- Extra sandbox routes for the client's specs (sandbox.start{ routes = client.ROUTES }), behind the sandbox's
-- whole protocol (signature check, faults, signed answers, request log):
--   GET|POST /v3/spec-client/echo         what the server saw: method, target, path, raw_query, query (decoded),
--                                         raw_body, json, headers (lower-case names), the nginx connection number and
--                                         its request count, the worker pid; with a JSON body whose "secret" is an
--                                         encrypted field, "secret_plain" = it decrypted with the WeChat Pay private
--                                         key that the request's Wechatpay-Serial names
--   GET      /v3/spec-client/items/{id}   the same, with params[1] = the path segment percent-decoded
M.ROUTES = { name = "spec_client_routes", source = [==[
local core = require "wechatpay.core"
local M = {}
local function echo(ctx)
  local headers = {}
  for k, v in pairs(ngx.req.get_headers(100)) do headers[k] = type(v) == "table" and v[1] or v end
  local out = {
    method = ctx.method, target = ctx.target, path = ctx.path, raw_query = ctx.raw_query, query = ctx.query,
    raw_body = ctx.raw_body, json = ctx.json, headers = headers, params = ctx.params,
    connection = tonumber(ngx.var.connection), connection_requests = tonumber(ngx.var.connection_requests),
    worker = ngx.worker.pid(),
  }
  local serial = headers["wechatpay-serial"]
  if serial and type(ctx.json) == "table" and type(ctx.json.secret) == "string" then
    local wx = ctx.config.runtime().wechatpay
    local _, key = ctx.config.signer(serial == wx.platform_serial and "platform" or "public_key")
    out.secret_plain = core.oaep_decrypt(key, ctx.json.secret) or "(does not decrypt)"
  end
  return 200, out
end
M.routes = {
  { method = "GET", pattern = "^/v3/spec%-client/echo$", handler = echo, id = "C-echo" },
  { method = "POST", pattern = "^/v3/spec%-client/echo$", handler = echo, id = "C-echo" },
  { method = "GET", pattern = "^/v3/spec%-client/items/([^/]+)$", handler = echo, id = "C-item" },
}
return M
]==] }

--- Beijing date (yyyyMMdd) `days` from today: PayScore times are Beijing time.
function M.day(days)
  return os.date("!%Y%m%d", os.time() + (days or 0) * 86400 + 8 * 3600)
end

--- The seed's create body (spec/payscore/fixtures.lua, the official example) with its service times moved to
-- tomorrow (same clock times) and, optionally, another out_order_no and more fields.
function M.seed(out_order_no, over)
  local fixtures = require "spec.payscore.fixtures"
  local b = fixtures.seed_create()
  local day = M.day(1)
  b.time_range.start_time = day .. b.time_range.start_time:sub(9)
  b.time_range.end_time = day .. b.time_range.end_time:sub(9)
  if out_order_no then b.out_order_no = out_order_no end
  for k, v in pairs(over or {}) do b[k] = v end
  return b
end

--- The seed's query parameters (with its empty query_id) for an order.
function M.seed_query(out_order_no)
  local q = require("spec.payscore.fixtures").seed_query()
  if out_order_no then q.out_order_no = out_order_no end
  return q
end

--- RFC 3986 percent-encoding of every byte outside the unreserved set (what {name} and query values get).
function M.pct(s)
  return (tostring(s):gsub("[^A-Za-z0-9%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end

--- The sandbox's request log after sequence number `seq` (0: all).
function M.requests_since(sb, seq)
  local st, b = sb.control("GET", "/sandbox/requests?since=" .. tostring(seq or 0))
  assert(st == 200, "GET /sandbox/requests: " .. tostring(st))
  return b.data
end

--- The sequence number of the last request the sandbox logged (0 when none).
function M.last_seq(sb)
  local st, b = sb.control("GET", "/sandbox/requests?limit=1")
  assert(st == 200, "GET /sandbox/requests: " .. tostring(st))
  local last = b.data[#b.data]
  return last and last.seq or 0
end

--- Poll `fn` until it returns a true value (every 50 ms, at most `max` seconds); returns that value or nil.
function M.wait_for(fn, max)
  local nginx = require "spec.support.nginx"
  local deadline = M.uptime() + (max or 10)
  repeat
    local v = fn()
    if v then return v end
    nginx.sleep(0.05)
  until M.uptime() > deadline
  return fn()
end

--- The value of a header in a list of { name, value } pairs (case-insensitive), or nil.
function M.header(list, name)
  name = name:lower()
  for _, h in ipairs(list or {}) do
    if h[1]:lower() == name then return h[2] end
  end
  return nil
end

--- The fields of an Authorization header value.
function M.authorization_fields(value)
  local f = {}
  for k, v in tostring(value):gmatch('([%w_]+)="([^"]*)"') do f[k] = v end
  return f
end

--- Seconds since boot with centisecond resolution (/proc/uptime): a wall clock for the one timed spec, the same
-- under Lua 5.4 and LuaJIT.
function M.uptime()
  local f = assert(io.open("/proc/uptime", "r"))
  local s = f:read("*l")
  f:close()
  return assert(tonumber(s:match("^([%d%.]+)")))
end

return M
