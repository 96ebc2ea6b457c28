--- Transport selection.
--
--   local transport = require "wechatpay.transport"
--   local t, kind = transport.select{ timeout = 10, ca_file = "/etc/ssl/certs/ca-certificates.crt" }
--   -- kind == "ngx"  inside nginx in a phase where cosockets are allowed (rewrite, access, content, timer,
--   --                ssl_cert, ssl_session_fetch, ssl_client_hello): non-blocking for the worker
--   -- kind == "curl" elsewhere: init_by_lua*, init_worker_by_lua* (outside its timers), set/header/body/log
--   --                phases, plain Lua 5.4 or LuaJIT
--   transport.select{ transport = "curl" }   -- forced choice: "curl" | "ngx" | an object with :request()
--
-- `select` builds a new transport from `opts` (the options both transports know: connect_timeout, timeout,
-- max_body; curl's ca_file/ca_path; ngx's keepalive, idle_timeout, pool_size, pool, server_name). Each transport
-- module is required only when chosen, so plain Lua never loads the ngx one and nginx never needs libcurl unless a
-- phase without cosockets asks for it.

local M = {}

-- Phases where ngx_lua allows cosockets (its documentation of ngx.socket.tcp).
M.COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true, ssl_cert = true, ssl_session_fetch = true,
  ssl_client_hello = true, server_rewrite = true, preread = true,
}

--- The nginx phase we run in, or nil outside nginx (no `ngx` global with get_phase).
function M.phase()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  local ok, phase = pcall(ngx.get_phase)
  if not ok then return nil end
  return phase
end

--- True inside nginx in a phase where cosockets may be used.
function M.cosockets_allowed()
  local phase = M.phase()
  return phase ~= nil and M.COSOCKET_PHASES[phase] == true
end

local function is_object(t)
  local ty = type(t)
  if ty ~= "table" and ty ~= "userdata" then return false end
  local ok, fn = pcall(function() return t.request end)
  return ok and type(fn) == "function"
end

--- Which transport `select(opts)` would build: "ngx", "curl" or "custom" (opts.transport is an object).
function M.kind(opts)
  local choice = opts and opts.transport
  if choice == nil then return M.cosockets_allowed() and "ngx" or "curl" end
  if choice == "ngx" or choice == "curl" then return choice end
  if is_object(choice) then return "custom" end
  error('wechatpay.transport: transport must be "curl", "ngx" or an object with a request method, got '
    .. (type(choice) == "string" and ("%q"):format(choice) or type(choice)), 3)
end

--- A transport for these options, and its kind ("ngx", "curl" or "custom").
function M.select(opts)
  opts = opts or {}
  local kind = M.kind(opts)
  if kind == "custom" then return opts.transport, kind end
  local mod = require("wechatpay.transport." .. kind)
  local topts = {}
  for k, v in pairs(opts) do if k ~= "transport" then topts[k] = v end end
  return mod.new(topts), kind
end

return M
