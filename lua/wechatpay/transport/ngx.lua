--- The OpenResty transport: HTTP/1.1 over nginx cosockets (`ngx.socket.tcp`), non-blocking for the nginx worker.
--
--   local t = require("wechatpay.transport.ngx").new{ connect_timeout = 5, timeout = 10, max_body = 16 * 2^20 }
--   local res, err = t:request{ method = "GET", url = "https://api.mch.weixin.qq.com/v3/certificates",
--                               headers = { { "Accept", "application/json" } } }
--   -- res = { status =, headers = { {name, value}, ... } (received order), body =, reused = bool }
--   -- err = errors.new("transport", { message =, reason = "timeout"|"connect"|"tls"|"resolve"|"too_large"|
--   --                                                      "reset"|"protocol"|"other" })
--   local f = t:request_async(req); ...; local res, err = f:wait()   -- a light thread (ngx.thread.spawn)
--
-- The interface is the one of docs/ARCHITECTURE.md "The transport interface" (the same as transport/curl.lua).
-- Usable in the phases where nginx allows cosockets: rewrite, access, content, timer (ngx.timer.at), ssl_cert,
-- ssl_session_fetch, ssl_client_hello. Elsewhere (init_by_lua*, init_worker_by_lua* outside a timer, set_by_lua*,
-- header/body filters, log_by_lua*) `request` answers a `usage` error; `wechatpay.transport.select` picks libcurl
-- there.
--
-- nginx configuration the transport needs (http, server or location level):
--
--   lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;  # the CAs that may sign the server certificate;
--                                                                     # WITHOUT IT EVERY HTTPS REQUEST FAILS (reason
--                                                                     # "tls"): verification is always on
--   lua_ssl_verify_depth 3;           # chain length accepted (nginx's default 1 only allows a CA-signed leaf)
--   resolver 127.0.0.53 ipv6=off;     # only when URLs name hosts (api.mch.weixin.qq.com): cosockets resolve names
--                                     # through nginx's resolver, never /etc/hosts; without it: reason "resolve".
--                                     # IP literals (127.0.0.1, [::1]) need no resolver.
--
-- The `ca_file`/`ca_path` options of the curl transport do not apply here (nginx reads its trust store at start).
--
-- TLS: SNI and host-name verification use the URL's host (or `opts.server_name`). nginx checks the name with
-- OpenSSL's X509_check_host, which matches DNS names (subjectAltName DNS entries, else the CN) and not IP
-- subjectAltName entries: a certificate for an IP literal such as https://127.0.0.1:9443 must carry the address as
-- its CN (with only IP alternative names) or as a DNS alternative name; libcurl accepts either form too.
--
-- Connection pooling: a connection goes back to the worker's pool (`setkeepalive(idle_timeout, pool_size)`) only
-- when its response was read to the end and neither side asked to close it. Pools are per nginx worker, named
-- "<host>:<port>:<tls|plain>:<server name>" (prefixed with `opts.pool` when given). nginx's trust settings are
-- per location, the pool is not: give transports used under different `lua_ssl_trusted_certificate` settings
-- distinct `pool` names. A connection found closed when reused is not retried (nginx drops pooled connections as
-- soon as the peer closes them; the window is the time between that close and its arrival).
--
-- Times are seconds (floats allowed). `timeout` bounds the whole exchange (connect, TLS, send, answer), like
-- libcurl's total timeout; `connect_timeout`, `send_timeout`, `read_timeout` bound each operation further.

local errors = require "wechatpay.errors"

local type, tostring, tonumber, setmetatable, pcall = type, tostring, tonumber, setmetatable, pcall
local floor, min = math.floor, math.min
local concat = table.concat
local byte, find, lower, sub, format, gsub, match = string.byte, string.find, string.lower, string.sub,
  string.format, string.gsub, string.match

local M = { name = "ngx" }

local DEFAULTS = {
  connect_timeout = 10,     -- s
  timeout = 30,             -- s, whole exchange
  max_body = 16 * 1024 * 1024,
  idle_timeout = 60,        -- s, kept-alive connection in the pool
  keepalive = true,
}

local MAX_HEADER_BYTES = 64 * 1024
local MAX_HEADERS = 200
local MAX_INTERIM = 10     -- 1xx answers skipped before the final one
local CHUNK = 64 * 1024    -- bytes read per receive call for bodies

-- Phases where cosockets work (ngx_lua docs of ngx.socket.tcp).
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true, ssl_cert = true, ssl_session_fetch = true,
  ssl_client_hello = true, server_rewrite = true, preread = true,
}
M.COSOCKET_PHASES = COSOCKET_PHASES

local function terr(reason, message)
  return errors.new("transport", { reason = reason, message = message })
end

local function usage(message)
  return errors.new("usage", { message = message })
end

-------------------------------------------------------------------------------------------------------------------
-- Pure helpers (no ngx): URL, request head, status line, headers, bodies over a socket-like object.
-------------------------------------------------------------------------------------------------------------------

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

--- Parse an http(s) URL. Returns { scheme, tls, host, port, target, authority, connect_host, ip } or nil, message.
-- `target` is the path and query exactly as given ("/" when empty; a fragment is dropped, as libcurl does).
local function parse_url(url)
  if type(url) ~= "string" then return nil, "url must be a string" end
  local scheme, rest = match(url, "^(%a[%w+.%-]*)://(.*)$")
  if not scheme then return nil, "not an absolute URL: " .. url end
  scheme = lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then return nil, "unsupported URL scheme: " .. scheme end
  local authority, target = match(rest, "^([^/?#]*)(.*)$")
  if find(authority, "@", 1, true) then return nil, "user information in URLs is not supported: " .. url end
  local host, portpart, ip
  if sub(authority, 1, 1) == "[" then
    host, portpart = match(authority, "^(%[[%x:.]+%])(.*)$")
    ip = "6"
  else
    host, portpart = match(authority, "^([^:]*)(.*)$")
    if match(host, "^%d+%.%d+%.%d+%.%d+$") then ip = "4" end
  end
  if not host or host == "" then return nil, "no host in URL: " .. url end
  if not ip and not match(host, "^[%w%-._]+$") then return nil, "invalid host in URL: " .. url end
  local default_port = scheme == "https" and 443 or 80
  local port = default_port
  if portpart ~= "" and portpart ~= ":" then
    local digits = match(portpart, "^:(%d+)$")
    port = digits and tonumber(digits)
    if not port or port < 1 or port > 65535 then return nil, "invalid port in URL: " .. url end
  end
  target = gsub(target, "#.*$", "")
  if target == "" then target = "/" elseif sub(target, 1, 1) == "?" then target = "/" .. target end
  if find(target, "[%z\1-\32\127]") then return nil, "control characters or spaces in the URL target: " .. url end
  return {
    scheme = scheme, tls = scheme == "https", host = host, port = port, target = target, ip = ip,
    authority = port == default_port and host or (host .. ":" .. port),
    connect_host = host, -- ngx_lua's connect takes "[::1]" with brackets too
    sni = ip == "6" and sub(host, 2, -2) or host,
  }
end

local function is_header_value_ok(v)
  return not find(v, "[%z\r\n]")
end

-- Does a comma-separated header value list (e.g. Connection) contain `token` (lower case)?
local function has_token(values, token)
  for i = 1, #values do
    for t in values[i]:gmatch("[^,]+") do
      if lower((gsub(t, "^%s*(.-)%s*$", "%1"))) == token then return true end
    end
  end
  return false
end

local BODY_METHODS = { POST = true, PUT = true, PATCH = true }

--- The request head (and body) as one string. Returns the string and whether the request asks to close the
-- connection, or nil, message.
-- headers: array of { name, value } pairs (or "Name: value" strings).
local function build_request(method, u, headers, body, keepalive)
  if type(method) ~= "string" or not match(method, TOKEN) then
    return nil, "invalid method: " .. tostring(method)
  end
  if body ~= nil and type(body) ~= "string" then return nil, "body must be a string" end
  local out = { method, " ", u.target, " HTTP/1.1\r\n" }
  local has, list, close = {}, {}, not keepalive
  for i, h in ipairs(headers or {}) do
    local name, value
    if type(h) == "table" then
      name, value = h[1], h[2]
    elseif type(h) == "string" then
      name, value = match(h, "^([^:]+):[ \t]*(.-)[ \t]*$")
    end
    if type(value) == "number" then value = tostring(value) end
    if type(name) ~= "string" or not match(name, TOKEN) or type(value) ~= "string" then
      return nil, "request header #" .. i .. " is not a {name, value} pair of strings"
    end
    if not is_header_value_ok(value) then
      return nil, "request header " .. name .. ": CR, LF or NUL in the value"
    end
    local lname = lower(name)
    if lname == "transfer-encoding" then
      return nil, "request header Transfer-Encoding is not supported (bodies are sent with Content-Length)"
    end
    if lname == "content-length" and value ~= tostring(body and #body or 0) then
      return nil, "request header Content-Length: " .. value .. " does not match the body (" ..
        tostring(body and #body or 0) .. " bytes)"
    end
    has[lname] = true
    if lname == "connection" and has_token({ value }, "close") then close = true end
    list[#list + 1] = name
    list[#list + 1] = ": "
    list[#list + 1] = value
    list[#list + 1] = "\r\n"
  end
  if not has.host then out[#out + 1] = "Host: " .. u.authority .. "\r\n" end
  for i = 1, #list do out[#out + 1] = list[i] end
  if not has["content-length"] and (body ~= nil or BODY_METHODS[method]) then
    out[#out + 1] = "Content-Length: " .. tostring(body and #body or 0) .. "\r\n"
  end
  if not has.connection then
    out[#out + 1] = keepalive and "Connection: keep-alive\r\n" or "Connection: close\r\n"
  end
  out[#out + 1] = "\r\n"
  if body then out[#out + 1] = body end
  return concat(out), close
end

--- Parse a status line. Returns status (number), minor version (0/1), reason; or nil, message.
local function parse_status_line(line)
  local major, minor, status, rest = match(line, "^HTTP/(%d)%.(%d) (%d%d%d)(.*)$")
  if not major or major ~= "1" then
    return nil, "not an HTTP/1.x status line: " .. sub(line, 1, 80)
  end
  if rest ~= "" and sub(rest, 1, 1) ~= " " then return nil, "malformed status line: " .. sub(line, 1, 80) end
  return tonumber(status), tonumber(minor), sub(rest, 2)
end

-- Reading with a deadline. ctx = { now = fn -> seconds, deadline = seconds, read_timeout = seconds|nil,
-- max_body = bytes }. Every receive gets the time left (bounded by read_timeout).
local function arm(sock, ctx)
  local left = ctx.deadline - ctx.now()
  if ctx.read_timeout and ctx.read_timeout < left then left = ctx.read_timeout end
  if left <= 0 then return false end
  sock:settimeout(floor(left * 1000 + 0.5) > 0 and floor(left * 1000 + 0.5) or 1)
  return true
end

local function io_error(err, what)
  if err == "timeout" then return terr("timeout", "timed out " .. what) end
  if err == "closed" then return terr("reset", "connection closed " .. what) end
  return terr("reset", tostring(err) .. " " .. what)
end

local function receive(sock, ctx, pattern, what)
  if not arm(sock, ctx) then return nil, terr("timeout", "timed out " .. what) end
  local data, err, partial = sock:receive(pattern)
  if data then return data end
  return nil, io_error(err, what), partial
end

-- Header lines up to the empty line. Appends { name, value } pairs to `headers`; `budget` is a table { bytes = n }.
local function read_header_block(sock, ctx, headers, budget, what)
  while true do
    local line, err = receive(sock, ctx, "*l", what)
    if not line then return nil, err end
    if line == "" then return true end
    budget.bytes = budget.bytes + #line + 2
    if budget.bytes > MAX_HEADER_BYTES or #headers >= MAX_HEADERS then
      return nil, terr("too_large", "response headers larger than " .. MAX_HEADER_BYTES .. " bytes or "
        .. MAX_HEADERS .. " lines")
    end
    local c = byte(line, 1)
    if c == 32 or c == 9 then
      -- obsolete line folding: continue the previous value with one space
      local last = headers[#headers]
      if not last then return nil, terr("protocol", "response header block starts with a continuation line") end
      last[2] = last[2] .. " " .. (gsub(line, "^[ \t]*(.-)[ \t]*$", "%1"))
    else
      local name, value = match(line, "^([^:]*):[ \t]*(.-)[ \t]*$")
      if not name or not match(name, TOKEN) then
        return nil, terr("protocol", "malformed response header line: " .. sub(line, 1, 80))
      end
      headers[#headers + 1] = { name, value }
    end
  end
end

-- Exactly `n` bytes, in pieces of at most CHUNK (each under the deadline).
local function read_exact(sock, ctx, n, parts, what)
  while n > 0 do
    local want = n < CHUNK and n or CHUNK
    local data, err = receive(sock, ctx, want, what)
    if not data then return nil, err end
    parts[#parts + 1] = data
    n = n - #data
  end
  return true
end

local function too_large(ctx, n)
  return terr("too_large", format("response body larger than max_body (%d bytes)%s", ctx.max_body,
    n and format(": %.0f announced", n) or ""))
end

--- A chunked body (RFC 9112 §7.1). Returns the body or nil, err. Trailers are read and dropped.
local function read_chunked(sock, ctx)
  local parts, total = {}, 0
  while true do
    local line, err = receive(sock, ctx, "*l", "reading a chunk size")
    if not line then return nil, err end
    local hex = match(line, "^(%x+)[ \t]*;") or match(line, "^(%x+)[ \t]*$")
    if not hex then return nil, terr("protocol", "malformed chunk size line: " .. sub(line, 1, 40)) end
    hex = gsub(hex, "^0+(%x)", "%1")
    if #hex > 12 then return nil, too_large(ctx) end
    local size = tonumber(hex, 16)
    if size == 0 then break end
    if total + size > ctx.max_body then return nil, too_large(ctx, total + size) end
    local ok, rerr = read_exact(sock, ctx, size, parts, "reading a chunk")
    if not ok then return nil, rerr end
    total = total + size
    local crlf, cerr = receive(sock, ctx, "*l", "reading a chunk end")
    if not crlf then return nil, cerr end
    if crlf ~= "" then return nil, terr("protocol", "chunk data longer than its announced size") end
  end
  local ok, err = read_header_block(sock, ctx, {}, { bytes = 0 }, "reading the trailers")
  if not ok then return nil, err end
  return concat(parts)
end

-- A body delimited by the end of the connection.
local function read_until_close(sock, ctx)
  local parts, total = {}, 0
  while true do
    if not arm(sock, ctx) then return nil, terr("timeout", "timed out reading the body") end
    local data, err, partial = sock:receive(CHUNK)
    local piece = data or partial
    if piece and piece ~= "" then
      total = total + #piece
      if total > ctx.max_body then return nil, too_large(ctx) end
      parts[#parts + 1] = piece
    end
    if not data then
      if err == "closed" then return concat(parts) end
      return nil, io_error(err, "reading the body")
    end
  end
end

--- Read one response from `sock`. Returns res ({ status, headers, body, version }), keep (connection reusable),
-- or nil, err.
local function read_response(sock, method, ctx)
  local status, minor, headers
  local budget = { bytes = 0 }
  for _ = 1, MAX_INTERIM + 1 do
    local line, err, partial = receive(sock, ctx, "*l", "waiting for the response")
    if not line then
      if err.reason == "reset" and (partial == nil or partial == "") then
        err.message = "connection closed before any response"
      end
      return nil, err
    end
    local perr
    status, minor, perr = parse_status_line(line)
    if not status then return nil, terr("protocol", perr) end
    headers = {}
    local ok, herr = read_header_block(sock, ctx, headers, budget, "reading the response headers")
    if not ok then return nil, herr end
    if status == 101 then return nil, terr("protocol", "unexpected 101 Switching Protocols") end
    if status >= 200 then break end
    status = nil -- 1xx: interim answer, the final one follows
  end
  if not status then return nil, terr("protocol", "too many interim (1xx) responses") end

  local conn, te, cl = {}, {}, {}
  for i = 1, #headers do
    local n = lower(headers[i][1])
    if n == "connection" then conn[#conn + 1] = headers[i][2]
    elseif n == "transfer-encoding" then te[#te + 1] = headers[i][2]
    elseif n == "content-length" then cl[#cl + 1] = headers[i][2] end
  end
  local keep
  if minor >= 1 then keep = not has_token(conn, "close")
  else keep = has_token(conn, "keep-alive") and not has_token(conn, "close") end

  local body, berr
  if method == "HEAD" or status == 204 or status == 304 then
    body = ""
  elseif #te > 0 then
    local all = lower(concat(te, ","))
    if match(all, "chunked[ \t]*$") then
      body, berr = read_chunked(sock, ctx)
      if #cl > 0 then keep = false end -- both headers: the message is suspect, do not reuse (RFC 9112 §6.3)
    else
      body, berr = read_until_close(sock, ctx)
      keep = false
    end
  elseif #cl > 0 then
    local n
    for i = 1, #cl do
      for v in cl[i]:gmatch("[^,]+") do
        v = gsub(v, "^[ \t]*(.-)[ \t]*$", "%1")
        if not match(v, "^%d+$") or #v > 15 then return nil, terr("protocol", "invalid Content-Length: " .. v) end
        local this = tonumber(v)
        if n and n ~= this then return nil, terr("protocol", "conflicting Content-Length values") end
        n = this
      end
    end
    if not n then return nil, terr("protocol", "empty Content-Length") end
    if n > ctx.max_body then return nil, too_large(ctx, n) end
    local parts = {}
    local ok, err = read_exact(sock, ctx, n, parts, "reading the body")
    if ok then body = concat(parts) else berr = err end
  else
    body, berr = read_until_close(sock, ctx)
    keep = false
  end
  if not body then return nil, berr end
  return { status = status, headers = headers, body = body, version = "1." .. minor }, keep
end

M._internal = {
  parse_url = parse_url, build_request = build_request, parse_status_line = parse_status_line,
  read_response = read_response, read_chunked = read_chunked, has_token = has_token,
}

-------------------------------------------------------------------------------------------------------------------
-- The transport (needs the ngx API)
-------------------------------------------------------------------------------------------------------------------

local Transport = { name = "ngx" }
Transport.__index = Transport

local function seconds(opts, name, default)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v <= 0 then
    error("wechatpay.transport.ngx: " .. name .. " must be a positive number", 3)
  end
  return v
end

--- A transport. opts (all optional): connect_timeout (s, default 10), timeout (s, whole exchange, default 30),
-- send_timeout, read_timeout (s, per operation; default: the time left), max_body (bytes, default 16 MiB),
-- keepalive (default true), idle_timeout (s a pooled connection is kept, default 60), pool_size (connections per
-- pool, default nginx's lua_socket_pool_size), pool (a prefix for the pool names), server_name (name for SNI and
-- certificate verification instead of the URL's host). Options of other transports (ca_file, ca_path) are ignored.
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("wechatpay.transport.ngx.new: options must be a table", 2) end
  local self = setmetatable({
    connect_timeout = seconds(opts, "connect_timeout", DEFAULTS.connect_timeout),
    timeout = seconds(opts, "timeout", DEFAULTS.timeout),
    send_timeout = seconds(opts, "send_timeout", nil),
    read_timeout = seconds(opts, "read_timeout", nil),
    idle_timeout = seconds(opts, "idle_timeout", DEFAULTS.idle_timeout),
    max_body = opts.max_body or DEFAULTS.max_body,
    keepalive = opts.keepalive ~= false,
    pool_size = opts.pool_size,
    pool_prefix = opts.pool,
    server_name = opts.server_name,
    sessions = {},
  }, Transport)
  if type(self.max_body) ~= "number" or self.max_body < 0 then
    error("wechatpay.transport.ngx: max_body must be a number of bytes", 2)
  end
  if self.pool_size ~= nil and (type(self.pool_size) ~= "number" or self.pool_size < 1) then
    error("wechatpay.transport.ngx: pool_size must be a positive integer", 2)
  end
  return self
end

local function now()
  ngx.update_time()
  return ngx.now()
end

local function ms(s)
  local v = floor(s * 1000 + 0.5)
  return v > 0 and v or 1
end

local function connect_reason(err)
  if err == "timeout" then return "timeout" end
  if find(err, "resolve", 1, true) or find(err, "resolver", 1, true) then return "resolve" end
  return "connect"
end

local ua_suffix

local function dotted(v) -- 1022001 -> "1.22.1"
  if type(v) ~= "number" then return "0" end
  return format("%d.%d.%d", floor(v / 1000000), floor(v / 1000) % 1000, v % 1000)
end

local function first_token(path)
  local f = io.open(path, "rb")
  local s = f and f:read("*l")
  if f then f:close() end
  return s and match(s, "^[%w._%-]+") or "unknown"
end

--- `wechatpay-lua/<version> ngx_lua/<x.y.z> nginx/<x.y.z> (<ostype>/<osrelease>) LuaJIT/2.1`, the User-Agent the
-- pipeline sends when the client sets none (the curl transport's has the same shape).
function M.user_agent(version)
  if not ua_suffix then
    local cfg = rawget(_G, "ngx") and ngx.config or {}
    local jit_version = rawget(_G, "jit") and rawget(_G, "jit").version
    ua_suffix = " ngx_lua/" .. dotted(cfg.ngx_lua_version) .. " nginx/" .. dotted(cfg.nginx_version)
      .. " (" .. first_token("/proc/sys/kernel/ostype") .. "/" .. first_token("/proc/sys/kernel/osrelease") .. ") "
      .. (jit_version and ("LuaJIT/" .. (match(jit_version, "(%d+%.%d+)") or "2")) or
        ("Lua/" .. (match(_VERSION, "(%d+%.%d+)") or "?")))
  end
  return "wechatpay-lua/" .. (match(tostring(version), "^[%w._%-]+") or "unknown") .. ua_suffix
end

function Transport.user_agent(_, version)
  return M.user_agent(version)
end

--- One exchange. See the top of the file.
function Transport:request(req)
  if type(req) ~= "table" then return nil, usage("request must be a table") end
  if type(rawget(_G, "ngx")) ~= "table" then
    return nil, usage("the ngx transport runs only inside nginx (OpenResty); use the curl transport")
  end
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    return nil, usage("the ngx transport needs cosockets, which nginx does not allow in the " .. tostring(phase)
      .. " phase (use the curl transport there, or run the call in a timer)")
  end
  local u, uerr = parse_url(req.url)
  if not u then return nil, usage(uerr) end
  local method = req.method or "GET"
  local head, close_or_err = build_request(method, u, req.headers, req.body, self.keepalive)
  if not head then return nil, usage(close_or_err) end
  local request_close = close_or_err

  local total = req.timeout or self.timeout
  if type(total) ~= "number" or total ~= total or total <= 0 then
    return nil, usage("timeout must be a positive number of seconds, got " .. tostring(total))
  end
  local deadline = now() + total
  local where = u.host .. ":" .. u.port

  local server_name = u.tls and (self.server_name or u.sni) or nil
  local pool = u.host .. ":" .. u.port .. ":" .. (u.tls and "tls" or "plain") .. ":" .. (server_name or "")
  if self.pool_prefix then pool = self.pool_prefix .. ":" .. pool end

  local sock = ngx.socket.tcp()
  sock:settimeout(ms(min(self.connect_timeout, total)))
  local ok, err = sock:connect(u.connect_host, u.port, { pool = pool, pool_size = self.pool_size })
  if not ok then
    local reason = connect_reason(err)
    return nil, terr(reason, (reason == "timeout" and "timed out connecting to " or "cannot connect to ")
      .. where .. ": " .. tostring(err))
  end
  local reused = (sock:getreusedtimes() or 0) > 0

  if u.tls and not reused then
    local left = deadline - now()
    if left <= 0 then sock:close() return nil, terr("timeout", "timed out before the TLS handshake with " .. where) end
    sock:settimeout(ms(min(left, self.connect_timeout)))
    -- Never pass `false` as the session: with lua-resty-core 0.1.25 / ngx_lua 0.10.23 a handshake that completes
    -- at once (no wait for the network) and then fails verification is answered `true` in that mode; with a session
    -- or nil the same case raises "assertion failed!" in resty/core/socket.lua instead, which is caught here and
    -- reported as the TLS failure it is (nginx's error log has the verification message).
    local hok, sess, serr = pcall(sock.sslhandshake, sock, self.sessions[pool], server_name, true)
    if not hok then
      serr = "certificate verification or host name check failed (" .. tostring(sess) .. ")"
      sess = nil
    end
    if not sess then
      sock:close()
      if serr == "timeout" then return nil, terr("timeout", "timed out in the TLS handshake with " .. where) end
      serr = tostring(serr)
      local hint = ""
      if match(serr, "^%d+: ") or not hok then
        hint = " (check lua_ssl_trusted_certificate and lua_ssl_verify_depth)"
      end
      return nil, terr("tls", "TLS handshake with " .. where .. " failed: " .. serr .. hint)
    end
    if type(sess) == "userdata" or type(sess) == "cdata" then self.sessions[pool] = sess end
  end

  local left = deadline - now()
  if left <= 0 then sock:close() return nil, terr("timeout", "timed out before sending to " .. where) end
  sock:settimeout(ms(self.send_timeout and min(self.send_timeout, left) or left))
  local sent, serr = sock:send(head)
  if not sent then
    sock:close()
    return nil, io_error(serr, "sending the request to " .. where)
  end

  local res, keep_or_err = read_response(sock, method, {
    now = now, deadline = deadline, read_timeout = self.read_timeout, max_body = self.max_body,
  })
  if not res then
    sock:close()
    local e = keep_or_err
    e.message = tostring(e.message) .. " (" .. where .. ")"
    return nil, e
  end
  res.reused = reused
  if keep_or_err and not request_close then
    local kok = sock:setkeepalive(ms(self.idle_timeout), self.pool_size)
    if not kok then sock:close() end
  else
    sock:close()
  end
  return res
end

local Future = {}
Future.__index = Future

--- The result of the request (waits for it). Only the request handler (coroutine) that started the request
-- may wait (ngx.thread.wait); the result is kept, so `wait` may be called again.
function Future:wait()
  local r = self.result
  if not r then
    local ok, res, err = ngx.thread.wait(self.thread)
    if not ok then
      res, err = nil, terr("other", "the request thread failed: " .. tostring(res))
    end
    r = { res, err }
    self.result, self.finished = r, true
  end
  return r[1], r[2]
end

--- True once the request has finished (never blocks).
function Future:done()
  return self.finished == true
end

--- Start the request on a light thread (ngx.thread.spawn): it runs at once up to its first wait for the network.
function Transport:request_async(req)
  local fut = setmetatable({ finished = false }, Future)
  local th, err = ngx.thread.spawn(function()
    local ok, res, rerr = pcall(self.request, self, req)
    fut.finished = true
    if not ok then error(res, 0) end
    return res, rerr
  end)
  if not th then
    fut.finished = true
    fut.result = { nil, terr("other", "cannot start a light thread: " .. tostring(err)) }
  end
  fut.thread = th
  return fut
end

--- Nothing to release: kept-alive connections belong to the worker's pools (they close after idle_timeout).
function Transport.close()
  return true
end

M.Transport = Transport
return M
