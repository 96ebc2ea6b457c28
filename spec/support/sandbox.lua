--- The local sandbox for specs: provision into a temp dir, start it on a free port, drive it with the curl and
-- openssl command lines (independent of our client), stop it.
--
--   local sandbox = require "spec.support.sandbox"
--   local sb = sandbox.start{
--     port = nil,               -- default: a free port (retried when taken meanwhile)
--     dir = nil,                -- default: a new temp dir, removed by stop() (kept when WP_KEEP_TMP is set)
--     cert_mode = false,        -- SANDBOX_CERT_MODE
--     time_scale = 1000,        -- SANDBOX_TIME_SCALE (notification retries 1000x faster)
--     routes = { name = "spec_routes", source = "<Lua module source>" },  -- extra routes (SANDBOX_EXTRA_ROUTES)
--     merchants = { merchants = { ... } },   -- merchants.json (table or JSON text) written before provisioning
--   }
--   sb.config                   -- decoded config.json (mchid, serial, private_key, public_key_id, ca_file, ...)
--   sb.url("/v3/x")             -- "https://127.0.0.1:<port>/v3/x" (every function: sb.f(...) or sb:f(...))
--   local status, body, raw = sb.control("POST", "/sandbox/faults", { mode = "probe" })   -- curl --cacert
--   local res = sb.request{ method = "POST", target = "/v3/x?a=1", body = {...} }  -- a signed APIv3 request
--   -- res = { status =, headers = { ["wechatpay-serial"] = ... } (lower-case names), header_list =, body = }
--   local ok, why = sb.verify(res)    -- the answer's signature, checked with `openssl dgst -verify`
--   sb.requests(), sb.notifications(), sb.reset(), sb.fault{...}, sb.log(), sb.stop()
--   local sb = sandbox.setup{...}      -- in a describe block: started by setup(), stopped by teardown(); nil (and
--                                      -- the block pending) when the prerequisites are missing
--   local rx = sandbox.receiver(sb.dir) -- a notification receiver (HTTPS, sandbox CA); rx.received(name, count)
--
-- sb.request options: method (GET), target, body (string, or table encoded with the project codec), mchid, serial,
-- key (private key path), timestamp, nonce, signature, authorization (a whole header value; false: none),
-- user_agent (false: none), headers ({ "Name: value" }), sign_method/sign_target/sign_body (sign something else
-- than what is sent), max_time.
--
-- Works under Lua 5.4 and LuaJIT (plain Lua driving processes; the project codec needs the core of the
-- interpreter that runs busted).

local nginx = require "spec.support.nginx"
local signed = require "spec.support.signed_request"
local json = require "wechatpay.codec.json"

local sh, capture, shq, read_file, write_file = nginx.sh, nginx.capture, nginx.shq, nginx.read_file, nginx.write_file

local M = {}

M.ROOT = nginx.ROOT
M.WXSANDBOX = M.ROOT .. "/sandbox/bin/wxsandbox"
M.USER_AGENT = "wechatpay-lua-spec/1.0 curl"

local ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

local seeded = false
local function seed()
  if seeded then return end
  seeded = true
  local f = io.open("/dev/urandom", "rb")
  local s = f and f:read(6) or ""
  if f then f:close() end
  local n = os.time()
  for i = 1, #s do n = (n * 256 + s:byte(i)) % 2147483647 end
  math.randomseed(n)
end

--- A 32-character nonce (spec use: math.random is good enough).
function M.nonce(n)
  seed()
  local t = {}
  for i = 1, n or 32 do
    local k = math.random(1, #ALPHABET)
    t[i] = ALPHABET:sub(k, k)
  end
  return table.concat(t)
end

local function self_pid()
  local stat = read_file("/proc/self/stat")
  return stat and stat:match("^(%d+)")
end

local function tmpfile()
  return os.tmpname()
end

--- base64 RSASSA-PKCS1-v1_5/SHA-256 signature of message with the PEM key at key_path (openssl CLI).
function M.openssl_sign(key_path, message)
  local f = tmpfile()
  write_file(f, message)
  local sig = capture("openssl dgst -sha256 -sign " .. shq(key_path) .. " " .. shq(f) .. " | base64 -w0")
  os.remove(f)
  return sig
end

--- Verify a base64 signature of message with a public key PEM (or a certificate with cert = true).
function M.openssl_verify(pub_path, message, sig_b64, cert)
  local m, s, s64, p = tmpfile(), tmpfile(), tmpfile(), nil
  write_file(m, message)
  write_file(s64, sig_b64)
  if not sh("base64 -d " .. shq(s64) .. " > " .. shq(s) .. " 2>/dev/null") then
    os.remove(m) os.remove(s) os.remove(s64)
    return false, "signature is not base64"
  end
  if cert then
    p = tmpfile()
    sh("openssl x509 -in " .. shq(pub_path) .. " -pubkey -noout > " .. shq(p))
    pub_path = p
  end
  local out = capture("openssl dgst -sha256 -verify " .. shq(pub_path) .. " -signature " .. shq(s) .. " " .. shq(m)
    .. " 2>&1")
  os.remove(m) os.remove(s) os.remove(s64)
  if p then os.remove(p) end
  return out == "Verified OK", out
end

--- Run curl; returns { status, headers, header_list, body } or nil, message.
function M.curl(url, o)
  o = o or {}
  local hdr, out, data = tmpfile(), tmpfile(), nil
  if o.body then
    data = tmpfile()
    write_file(data, o.body)
  end
  local msg = capture(nginx.curl_command(url, { head_file = hdr, body_file = out, exact = true, ca_file = o.ca_file,
    method = o.method, data_file = data, headers = o.headers, max_time = o.max_time }) .. " 2>&1")
  local head, body = nginx.take_answer(hdr, out)
  if data then os.remove(data) end
  local status, map, list = nginx.parse_headers(head)
  if not status then return nil, "curl " .. url .. ": " .. msg end
  return { status = status, headers = map, header_list = list, body = body }
end

--- A tiny route table for protocol specs (installed with start{ routes = sandbox.TEST_ROUTES }).
M.TEST_ROUTES = { name = "spec_sandbox_routes", source = [==[
local M = {}
local function echo(ctx)
  return 200, { method = ctx.method, path = ctx.path, target = ctx.target, query = ctx.query,
    raw_query = ctx.raw_query, json = ctx.json, raw_len = #ctx.raw_body, params = ctx.params, mchid = ctx.mchid,
    id = ctx.id, now = ctx.now, request_id = ctx.request_id }
end
M.routes = {
  { method = "GET", pattern = "^/v3/sandbox%-test/echo$", handler = echo, id = "T-echo" },
  { method = "POST", pattern = "^/v3/sandbox%-test/echo$", handler = echo, id = "T-echo" },
  { method = "POST", pattern = "^/v3/sandbox%-test/items/([^/]+)/touch$", id = "T-touch", handler = function(ctx)
    local n = ctx.store.incr("touches", 1)
    ctx.store.with_lock("touch-list", function()
      local list = ctx.store.get("touch-list") or {}
      list[#list + 1] = ctx.params[1]
      ctx.store.put("touch-list", list)
    end)
    return 200, { count = n, item = ctx.params[1], pid = ngx.worker.pid() }
  end },
  { method = "GET", pattern = "^/v3/sandbox%-test/counter$", id = "T-counter", handler = function(ctx)
    local list = ctx.store.get("touch-list") or {}
    return 200, { count = ctx.store.counter("touches"), listed = #list }
  end },
  { method = "POST", pattern = "^/v3/sandbox%-test/empty$", id = "T-empty", handler = function()
    return 204
  end },
  { method = "GET", pattern = "^/v3/sandbox%-test/boom$", id = "T-boom", handler = function()
    error("boom from the test route")
  end },
  { method = "GET", pattern = "^/v3/sandbox%-test/missing$", id = "T-missing", handler = function(ctx)
    return ctx.errors.answer("ORDER_NOT_EXIST")
  end },
  { method = "POST", pattern = "^/v3/sandbox%-test/notify$", id = "T-notify", handler = function(ctx)
    local id, seq = ctx.notify.send{ mchid = ctx.mchid, url = ctx.json.url, event_type = ctx.json.event_type,
      plaintext = ctx.json.plaintext }
    if not id then return ctx.errors.answer("PARAM_ERROR", seq) end
    return 200, { id = id, seq = seq }
  end },
}
M.control_routes = {
  { method = "POST", pattern = "^/sandbox/test/ping$", id = "C-ping", handler = function(ctx)
    return 200, { pong = true, mchid = ctx.mchid, json = ctx.json }
  end },
}
return M
]==] }

-- The notification receiver's locations: /notify/<name>?fail=N answers 500 to the first N deliveries of <name> (then
-- @STATUS@ with an empty body, or ?status=), ?sleep=S waits S seconds first (once); /received?name=<name> lists what
-- arrived (method, target, headers and raw body). Needs `lua_shared_dict received`.
local RECEIVER = [==[
    location /notify/ {
      content_by_lua_block {
        local cjson = require "cjson.safe"
        local d = ngx.shared.received
        ngx.req.read_body()
        local body = ngx.req.get_body_data() or ""
        local name = ngx.var.uri:match("^/notify/(.*)$")
        local n = d:incr("n:" .. name, 1, 0)
        d:set("r:" .. name .. ":" .. n, cjson.encode({ headers = ngx.req.get_headers(), body = body,
          method = ngx.req.get_method(), target = ngx.var.request_uri }))
        local sleep = tonumber(ngx.var.arg_sleep)
        if sleep and n == 1 then ngx.sleep(sleep) end
        if n <= (tonumber(ngx.var.arg_fail) or 0) then
          ngx.status = 500
          ngx.header["Content-Type"] = "application/json"
          ngx.print('{"code":"FAIL","message":"失败"}')
          return ngx.exit(ngx.OK)
        end
        local st = tonumber(ngx.var.arg_status) or @STATUS@
        if st == 204 then return ngx.exit(204) end
        ngx.status = st
        ngx.print("")
        return ngx.exit(ngx.OK)
      }
    }
    location = /received {
      content_by_lua_block {
        local cjson = require "cjson.safe"
        local d = ngx.shared.received
        local name = ngx.var.arg_name
        local out = {}
        for i = 1, d:get("n:" .. name) or 0 do out[i] = cjson.decode(d:get("r:" .. name .. ":" .. i)) end
        ngx.header["Content-Type"] = "application/json"
        ngx.print(#out == 0 and "[]" or cjson.encode(out))
      }
    }
]==]

--- The locations of a notification receiver (above) answering `status` (default 200) when the URL has no ?status=.
function M.receiver_locations(status)
  return (RECEIVER:gsub("@STATUS@", tostring(status or 200)))
end

--- A notification receiver (spec.support.https_server: HTTPS with a certificate of the sandbox CA, in `dir` the
-- sandbox's directory, and plain HTTP) with the locations of M.receiver_locations(status). rx.received(name, count)
-- lists what /notify/<name> received, oldest first; with `count`, waiting (up to 15 s) until that many arrived.
function M.receiver(dir, status)
  local rx = require("spec.support.https_server").start{
    ca = { cert = dir .. "/ca.pem", key = dir .. "/ca.key" },
    san = "IP:127.0.0.1,DNS:localhost,DNS:127.0.0.1", -- nginx checks an IP host against DNS names
    http = "lua_shared_dict received 4m;",
    builtin = false,
    locations = M.receiver_locations(status),
  }
  function rx.received(name, count)
    local deadline = os.time() + 15
    while true do
      local res = assert(M.curl(rx.http_url("/received?name=" .. name)))
      local list = json.decode(res.body)
      if count == nil or #list >= count or os.time() > deadline then return list end
      os.execute("sleep 0.1")
    end
  end
  return rx
end

local Sandbox = {}
Sandbox.__index = Sandbox

function Sandbox:url(path)
  return "https://127.0.0.1:" .. self.port .. (path or "/")
end

--- A control request (curl --cacert); returns status, decoded body (or nil), raw body.
function Sandbox:control(method, path, body)
  local text
  if body ~= nil then text = type(body) == "string" and body or assert(json.encode(body)) end
  local res, err = M.curl(self:url(path), { method = method, body = text, ca_file = self.config.ca_file,
    headers = { "Content-Type: application/json", "Expect:" } })
  if not res then error(err, 2) end
  local decoded = res.body ~= "" and json.decode(res.body) or nil
  return res.status, decoded, res.body, res
end

--- A signed APIv3 request (see the top of the file).
function Sandbox:request(o)
  o = o or {}
  local c = self.config
  local method = o.method or "GET"
  local target = o.target or "/"
  local body = o.body or ""
  if type(body) == "table" then body = assert(json.encode(body)) end
  local ts = tostring(o.timestamp or os.time())
  local nonce = o.nonce or M.nonce()
  local headers = { "Accept: application/json", "Expect:" }
  if o.user_agent == false then
    headers[#headers + 1] = "User-Agent:"
  else
    headers[#headers + 1] = "User-Agent: " .. (o.user_agent or M.USER_AGENT)
  end
  if body ~= "" then headers[#headers + 1] = "Content-Type: application/json" end
  local auth = o.authorization
  if auth == nil then
    local message = signed.message(o.sign_method or method, o.sign_target or target, ts, nonce, o.sign_body or body)
    local sig = o.signature or M.openssl_sign(o.key or c.private_key, message)
    auth = signed.authorization(o.mchid or c.mchid, o.serial or c.serial, ts, nonce, sig)
  end
  if auth then headers[#headers + 1] = "Authorization: " .. auth end
  for _, h in ipairs(o.headers or {}) do headers[#headers + 1] = h end
  local res, err = M.curl(self:url(target), {
    method = method, body = (body ~= "" or method ~= "GET") and body or nil, headers = headers,
    ca_file = c.ca_file, max_time = o.max_time,
  })
  if not res then error(err, 2) end
  res.nonce, res.timestamp = nonce, ts
  return res
end

--- Verify the signature of an answer with the key its Wechatpay-Serial names (openssl CLI).
function Sandbox:verify(res)
  local h = res.headers
  local ts, nonce, sig, serial = h["wechatpay-timestamp"], h["wechatpay-nonce"], h["wechatpay-signature"],
    h["wechatpay-serial"]
  if not (ts and nonce and sig and serial) then return false, "signature headers missing" end
  local message = ts .. "\n" .. nonce .. "\n" .. res.body .. "\n"
  if serial == self.config.public_key_id then
    return M.openssl_verify(self.config.public_key, message, sig)
  elseif serial == self.config.platform_serial then
    return M.openssl_verify(self.config.platform_certificate, message, sig, true)
  end
  return false, "unknown serial " .. serial
end

function Sandbox:requests()
  local st, b = self:control("GET", "/sandbox/requests")
  assert(st == 200, "GET /sandbox/requests: " .. tostring(st))
  return b.data
end

function Sandbox:notifications(query)
  local st, b = self:control("GET", "/sandbox/notifications" .. (query or ""))
  assert(st == 200, "GET /sandbox/notifications: " .. tostring(st))
  return b.data
end

function Sandbox:reset()
  local st, b = self:control("POST", "/sandbox/reset", {})
  assert(st == 200, "POST /sandbox/reset: " .. tostring(st))
  return b
end

function Sandbox:fault(f)
  local st, b, raw = self:control("POST", "/sandbox/faults", f)
  assert(st == 200, "POST /sandbox/faults: " .. tostring(st) .. " " .. tostring(raw))
  return b
end

function Sandbox:log()
  return read_file(self.dir .. "/error.log") or ""
end

local function wx_env(self)
  return "SANDBOX_DIR=" .. shq(self.dir) .. " SANDBOX_PORT=" .. self.port
end

function Sandbox:stop()
  if self.stopped then return end
  self.stopped = true
  sh(wx_env(self) .. " " .. shq(M.WXSANDBOX) .. " stop >/dev/null 2>&1")
  if self.own_dir and not os.getenv("WP_KEEP_TMP") then sh("rm -rf " .. shq(self.dir)) end
end

--- Start a sandbox (see the top of the file). Raises with wxsandbox's output when it cannot start. `into`: the table
-- to make the sandbox of (default a new one).
function M.start(opts, into)
  opts = opts or {}
  local dir = opts.dir
  local own = false
  if not dir then
    dir = capture("mktemp -d " .. shq((os.getenv("TMPDIR") or "/tmp") .. "/wp-sandbox.XXXXXX"))
    own = true
  end
  sh("mkdir -p " .. shq(dir .. "/lib"))
  local env = {
    "SANDBOX_DIR=" .. shq(dir),
    "SANDBOX_CERT_MODE=" .. (opts.cert_mode and "1" or "0"),
    "SANDBOX_TIME_SCALE=" .. tostring(opts.time_scale or 1000),
    "SANDBOX_LOG_LEVEL=" .. (opts.log_level or "info"),
    "SANDBOX_OWNER_PID=" .. (self_pid() or ""),
  }
  if opts.routes then
    write_file(dir .. "/lib/" .. opts.routes.name .. ".lua", opts.routes.source)
    env[#env + 1] = "SANDBOX_EXTRA_ROUTES=" .. shq(opts.routes.name)
  end
  if opts.merchants then
    local text = type(opts.merchants) == "string" and opts.merchants or assert(json.encode(opts.merchants))
    write_file(dir .. "/merchants.json", text)
  end
  if os.getenv("BUILD") then env[#env + 1] = "BUILD=" .. shq(os.getenv("BUILD")) end
  local out, port
  for _ = 1, 8 do
    port = opts.port or nginx.free_ports(1)[1]
    local log = dir .. "/wxsandbox.out"
    local ok = sh(table.concat(env, " ") .. " SANDBOX_PORT=" .. port .. " " .. shq(M.WXSANDBOX) .. " start > "
      .. shq(log) .. " 2>&1")
    out = read_file(log) or ""
    if ok then
      local self = setmetatable(into or {}, Sandbox)
      self.dir, self.port, self.own_dir = dir, port, own
      self.config = assert(json.decode(assert(read_file(dir .. "/config.json"))))
      -- every method works as sb:name(...) and as sb.name(...)
      for name, fn in pairs(Sandbox) do
        if type(fn) == "function" and name:sub(1, 2) ~= "__" then
          self[name] = function(a, ...)
            if a == self then return fn(self, ...) end
            return fn(self, a, ...)
          end
        end
      end
      return self
    end
    if opts.port or not out:find("in use", 1, true) then break end
  end
  if own and not os.getenv("WP_KEEP_TMP") then sh("rm -rf " .. shq(dir)) end
  error("sandbox did not start:\n" .. out, 2)
end

--- Is everything the sandbox needs here (nginx, its Lua module, openssl, curl)?
function M.available()
  local ok, why = nginx.available()
  if not ok then return false, why end
  if not sh("command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1") then
    return false, "openssl or curl missing"
  end
  return true
end

--- In a describe block: `start` (default M.start) called with opts by setup(), what it returns stopped by teardown()
-- (when it started). When M.available() says no, the block is pending instead and this returns nil. The table
-- returned is filled in by setup():
--   describe("...", function()
--     local sb = sandbox.setup{ routes = sandbox.TEST_ROUTES }
--     if not sb then return end
--     it("...", function() sb:request{ target = "/v3/x" } end)
function M.setup(opts, start)
  local busted = require "busted"
  local ok, why = M.available()
  if not ok then
    busted.pending("sandbox prerequisites missing: " .. tostring(why))
    return nil
  end
  local obj, started = {}, false
  busted.setup(function()
    (start or M.start)(opts, obj)
    started = true
  end)
  busted.teardown(function()
    if started then obj:stop() end
  end)
  return obj
end

return M
