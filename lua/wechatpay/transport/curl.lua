--- The libcurl transport (docs/ARCHITECTURE.md, "The transport interface") over the C core's HTTP session.
--
--   local curl = require "wechatpay.transport.curl"
--   local t = curl.new{ ca_file =, ca_path =, connect_timeout = 10, timeout = 30, max_body = 16 * 1024 * 1024 }
--   local res, err = t:request{ method = "GET", url = "https://...", headers = { {"Accept", "application/json"} },
--                               body = nil, timeout = 5 }
--   local f = t:request_async(req); f:done(); local res, err = f:wait()
--   t:close()
--
-- Times are seconds (floats allowed); the core takes milliseconds. One transport = one libcurl multi handle: every
-- request (blocking or not) shares its connection cache, so connections are kept alive across requests.
-- Errors are `errors.new("transport", { message =, reason =, curl_code = })`; bad arguments are `usage` errors.

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"

local type, tostring, setmetatable, pairs = type, tostring, setmetatable, pairs
local floor = math.floor

local M = {}

local Transport = {}
Transport.__index = Transport

local Future = {}
Future.__index = Future

local function usage(msg)
  return errors.new("usage", { message = "transport: " .. msg })
end

local function transport_error(e)
  return errors.new("transport", { message = e.message, reason = e.reason, curl_code = e.code })
end

local function closed_error(msg)
  return errors.new("transport", { message = msg or "transport closed while the request was in flight",
                                   reason = "other" })
end

-- seconds -> positive integer milliseconds; nil stays nil
local function to_ms(v, name)
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
    return nil, usage(name .. " must be a positive number of seconds, got " .. tostring(v))
  end
  local ms = floor(v * 1000 + 0.5)
  if ms < 1 then ms = 1 end
  return ms
end

local METHODS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true, HEAD = true, OPTIONS = true }

-- The request table of the core, or nil, usage error.
local function core_request(req)
  if type(req) ~= "table" then return nil, usage("request must be a table") end
  local method = req.method or "GET"
  if type(method) ~= "string" or not METHODS[method] then
    return nil, usage("unsupported method " .. tostring(method))
  end
  local url = req.url
  if type(url) ~= "string" or not url:match("^[Hh][Tt][Tt][Pp][Ss]?://") then
    return nil, usage("url must be an http(s) URL string, got " .. tostring(url))
  end
  if url:find("[%z\1-\32\127]") then
    return nil, usage("url must be percent-encoded (it contains a space or a control character)")
  end
  local body = req.body
  if body ~= nil and type(body) ~= "string" then return nil, usage("body must be a string") end
  local timeout, err = to_ms(req.timeout, "timeout")
  if err then return nil, err end
  local headers = {}
  if req.headers ~= nil then
    if type(req.headers) ~= "table" then return nil, usage("headers must be a list of {name, value}") end
    for i = 1, #req.headers do
      local h = req.headers[i]
      if type(h) ~= "table" or type(h[1]) ~= "string" or (type(h[2]) ~= "string" and type(h[2]) ~= "number") then
        return nil, usage("header " .. i .. " must be {name, value} with string values")
      end
      local name, value = h[1], tostring(h[2])
      if not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
        return nil, usage("header " .. i .. " has an invalid name " .. ("%q"):format(name))
      end
      if value:find("[%z\r\n]") then
        return nil, usage("header " .. name .. " contains CR, LF or NUL")
      end
      headers[i] = { name, value }
    end
  end
  return { method = method, url = url, headers = headers, body = body, timeout = timeout }
end

--- A new transport. opts: ca_file, ca_path, connect_timeout, timeout (seconds), max_body (bytes).
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return nil, usage("options must be a table") end
  local copts = {}
  for _, k in pairs{ "ca_file", "ca_path" } do
    if opts[k] ~= nil then
      if type(opts[k]) ~= "string" or opts[k] == "" then return nil, usage(k .. " must be a non-empty string") end
      copts[k] = opts[k]
    end
  end
  local err
  copts.connect_timeout, err = to_ms(opts.connect_timeout, "connect_timeout")
  if err then return nil, err end
  copts.timeout, err = to_ms(opts.timeout, "timeout")
  if err then return nil, err end
  if opts.max_body ~= nil then
    local mb = opts.max_body
    if type(mb) ~= "number" or mb < 1 or mb ~= floor(mb) or mb == math.huge then
      return nil, usage("max_body must be a positive integer number of bytes")
    end
    copts.max_body = mb
  end
  local session, cerr = core.http_session(copts)
  if not session then return nil, transport_error(cerr) end
  return setmetatable({
    session = session,
    futures = setmetatable({}, { __mode = "v" }), -- id -> future; a dropped future's result is discarded
  }, Transport)
end

--- Blocking request: res, or nil, err.
function Transport:request(req)
  if not self.session then return nil, closed_error("transport is closed") end
  local creq, err = core_request(req)
  if not creq then return nil, err end
  local res, cerr = self.session:request(creq)
  if not res then return nil, transport_error(cerr) end
  return res
end

-- Hands a finished request's result to its future (if it still exists).
local function deliver(self, id, res, cerr)
  local f = self.futures[id]
  if f then
    self.futures[id] = nil
    f.finished = true
    if res then f.res = res else f.err = transport_error(cerr) end
  end
end

local function finished_future(res, err)
  return setmetatable({ finished = true, res = res, err = err }, Future)
end

--- Starts a request and returns a future at once (the request is in flight).
function Transport:request_async(req)
  if not self.session then return finished_future(nil, closed_error("transport is closed")) end
  local creq, err = core_request(req)
  if not creq then return finished_future(nil, err) end
  local id, cerr = self.session:start(creq)
  if not id then return finished_future(nil, transport_error(cerr)) end
  local f = setmetatable({ transport = self, id = id, finished = false }, Future)
  self.futures[id] = f
  return f
end

--- Drives the multi handle: waits up to timeout_ms (nil: until one finished) for a finished request and hands
-- its result to its future. Returns true when one was delivered.
function Transport:step(timeout_ms)
  local s = self.session
  if not s then return false end
  local id, res, cerr = s:wait_any(timeout_ms)
  if id == nil then return false end
  deliver(self, id, res, cerr)
  return true
end

--- Requests in flight (or finished and not yet handed to their futures).
function Transport:pending()
  return self.session and self.session:pending() or 0
end

--- Closes the transport: connections are closed, requests in flight are abandoned (their futures fail).
function Transport:close()
  local s = self.session
  if not s then return end
  self.session = nil
  for id, f in pairs(self.futures) do
    self.futures[id] = nil
    if not f.finished then
      f.finished = true
      f.err = closed_error()
    end
  end
  s:close()
end

--- Waits until this request finished (finishing others on the way); res, or nil, err.
function Future:wait()
  while not self.finished do
    local t = self.transport
    if not t.session then
      self.finished, self.err = true, closed_error()
      break
    end
    if not t:step(nil) and not self.finished and t.session:pending() == 0 then
      -- cannot happen unless the session lost the request: do not spin
      self.finished = true
      self.err = errors.new("transport", { message = "request lost by the session", reason = "other" })
    end
  end
  self.transport = nil
  return self.res, self.err
end

--- Non-blocking: true once the request finished.
function Future:done()
  local t = self.transport
  if t then
    -- deliver what has finished (others' results included) until this one is found or nothing more is ready
    while not self.finished and t:step(0) do end
  end
  return self.finished
end

-- ---- User-Agent ---------------------------------------------------------------------------------------------

local function read_first_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("*l")
  f:close()
  return s
end

local function token(s)
  s = tostring(s or ""):gsub("[^%w%.%-_+~]", "")
  return s ~= "" and s or "unknown"
end

local ua_suffix

--- `wechatpay-lua/<version> curl/<x.y.z> (<ostype>/<osrelease>) Lua/5.4` (LuaJIT: `LuaJIT/2.1`).
-- The OS is read from /proc/sys/kernel (no shell); the part after the module's version is built once.
function M.user_agent(version)
  if not ua_suffix then
    local os_type = token(read_first_line("/proc/sys/kernel/ostype"))
    local os_release = token(read_first_line("/proc/sys/kernel/osrelease"))
    local lua
    if type(jit) == "table" and type(jit.version) == "string" then -- luacheck: ignore 113
      lua = "LuaJIT/" .. (jit.version:match("(%d+%.%d+)") or token(jit.version)) -- luacheck: ignore 113
    else
      lua = "Lua/" .. (_VERSION:match("(%d+%.%d+)") or token(_VERSION))
    end
    ua_suffix = " curl/" .. token(core.curl_version) .. " (" .. os_type .. "/" .. os_release .. ") " .. lua
  end
  return "wechatpay-lua/" .. token(version) .. ua_suffix
end

M.Transport, M.Future = Transport, Future

return M
