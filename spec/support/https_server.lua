--- A throwaway HTTPS (+ plain HTTP) server on loopback for specs: Debian's nginx with its Lua module, a test CA and
-- a server certificate made with the openssl command line in a temp dir.
--
--   local https_server = require "spec.support.https_server"
--   local srv = https_server.start{ locations = "location = /x { return 200 'x'; }", workers = 1 }
--   -- srv.port (HTTPS), srv.http_port (plain HTTP), srv.ca_file, srv.ca_key, srv.cert_file, srv.key_file, srv.dir
--   -- srv.url("/echo") -> "https://127.0.0.1:<port>/echo"
--   -- srv.http_url("/echo") -> "http://127.0.0.1:<http_port>/echo"
--   srv.stop()
--
-- Options of start{}:
--   locations         nginx config placed inside the server block (after the built-in test locations)
--   http              nginx config placed inside the http block (lua_shared_dict, init_by_lua_block, ...; not
--                     init_worker_by_lua*, which the helper uses: put worker start-up Lua code in `init_worker`)
--   init_worker       Lua code run in init_worker_by_lua_block (after the helper's own)
--   workers           worker_processes (default 1)
--   builtin           include the built-in test locations (default true; see TEST_LOCATIONS below)
--   ca                { cert =, key = } an existing CA to sign the server certificate (default: a new CA)
--   san               subjectAltName of the server certificate (default "IP:127.0.0.1,DNS:localhost")
--   cn                its common name (default "localhost")
--   lua_package_path  prepended to the nginx Lua path (the repo's lua/ dir and the temp dir are on it already)
--
-- The building blocks are public for other helpers (the sandbox): tmpdir(), make_ca(dir), make_cert(dir, ca, o),
-- free_port(), run(cmd), quote(s).
--
-- The nginx master stops itself a few seconds after the process that started it is gone (a crashed spec run leaves
-- no server behind).

local M = {}

-- quote(s) for /bin/sh, read_file(p) -> contents or nil, write_file(p, s): the shared helpers (spec.support.nginx)
local nginx = require "spec.support.nginx"
local quote, read_file, write_file = nginx.shq, nginx.read_file, nginx.write_file
M.quote = quote

--- Runs a shell command; returns ok, output (stdout and stderr). Works with 5.4's and 5.1's os.execute.
-- The command runs without LD_PRELOAD (specs may run under an ASan preload; openssl and nginx need none).
local function run(cmd)
  local out = os.tmpname()
  local r = os.execute("env -u LD_PRELOAD sh -c " .. quote(cmd) .. " >" .. quote(out) .. " 2>&1")
  local text = read_file(out) or ""
  os.remove(out)
  return (r == true or r == 0), text
end
M.run = run

local function must(cmd)
  local ok, text = run(cmd)
  if not ok then error("https_server: command failed: " .. cmd .. "\n" .. text, 2) end
  return text
end

local function self_pid()
  local stat = read_file("/proc/self/stat")
  return stat and tonumber(stat:match("^(%d+)"))
end

local root = (function()
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/spec/support/[^/]+$") or "."
  if dir:sub(1, 1) ~= "/" then
    local pwd = os.getenv("PWD") or must("pwd"):gsub("%s+$", "")
    dir = (dir == "." or dir == "") and pwd or (pwd .. "/" .. dir)
  end
  return dir
end)()
M.root = root

--- A new private temp dir.
function M.tmpdir()
  return (must("mktemp -d /tmp/wechatpay-spec.XXXXXXXX"):gsub("%s+$", ""))
end

local counter = 0

--- A test CA in dir: { cert = path, key = path }.
function M.make_ca(dir, cn)
  counter = counter + 1
  local base = dir .. "/ca" .. counter
  must("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    .. " -subj " .. quote("/CN=" .. (cn or "wechatpay-lua test CA " .. counter))
    .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
    .. " -keyout " .. quote(base .. ".key") .. " -out " .. quote(base .. ".crt"))
  return { cert = base .. ".crt", key = base .. ".key" }
end

--- A server certificate signed by ca: { cert = path, key = path }. o.san, o.cn as for start{}.
function M.make_cert(dir, ca, o)
  o = o or {}
  counter = counter + 1
  local base = dir .. "/server" .. counter
  write_file(base .. ".ext", "subjectAltName=" .. (o.san or "IP:127.0.0.1,DNS:localhost") .. "\n"
    .. "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    .. "extendedKeyUsage=serverAuth\n")
  must("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "
    .. quote("/CN=" .. (o.cn or "localhost")) .. " -keyout " .. quote(base .. ".key")
    .. " -out " .. quote(base .. ".csr"))
  must("openssl x509 -req -days 2 -in " .. quote(base .. ".csr") .. " -CA " .. quote(ca.cert) .. " -CAkey "
    .. quote(ca.key) .. " -CAcreateserial -CAserial " .. quote(base .. ".srl") .. " -extfile " .. quote(base .. ".ext")
    .. " -out " .. quote(base .. ".crt"))
  return { cert = base .. ".crt", key = base .. ".key" }
end

local function used_ports()
  local used = {}
  for _, f in ipairs{ "/proc/net/tcp", "/proc/net/tcp6" } do
    local text = read_file(f) or ""
    for port in text:gmatch("\n%s*%d+:%s+%x+:(%x+)") do used[tonumber(port, 16)] = true end
  end
  return used
end

local seeded = false

--- A loopback TCP port nobody uses right now (>= 20000).
function M.free_port(exclude)
  if not seeded then
    math.randomseed(os.time() + (self_pid() or 0) * 7919)
    seeded = true
  end
  local used = used_ports()
  for _ = 1, 1000 do
    local p = math.random(20000, 60999)
    if not used[p] and not (exclude and exclude[p]) then return p end
  end
  error("https_server: no free port")
end

-- Lua side of the built-in test locations (a module in the server's temp dir).
local SERVER_LUA = [==[
local cjson = require "cjson.safe"
local M = {}

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function M.body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if not data then
    local path = ngx.req.get_body_file()
    if path then
      local f = io.open(path, "rb")
      data = f:read("*a")
      f:close()
    end
  end
  return data or ""
end

-- method, raw target, request headers in order (as received), body (hex), connection serial number
function M.echo()
  local body = M.body()
  local headers = {}
  for line in ngx.req.raw_header(true):gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):[ \t]*(.-)[ \t]*$")
    if name then headers[#headers + 1] = { name, value } end
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode{
    method = ngx.req.get_method(), target = ngx.var.request_uri, http_version = ngx.req.http_version(),
    headers = headers, body_hex = hex(body), body_len = #body, scheme = ngx.var.scheme,
    connection = tonumber(ngx.var.connection), connection_requests = tonumber(ngx.var.connection_requests),
  })
end

-- the request body back, raw; method and target in headers
function M.mirror()
  local body = M.body()
  ngx.header["Content-Type"] = "application/octet-stream"
  ngx.header["X-Method"] = ngx.req.get_method()
  ngx.header["X-Target"] = ngx.var.request_uri
  ngx.print(body)
end

function M.slow()
  local ms = tonumber(ngx.var.arg_ms) or 1000
  ngx.sleep(ms / 1000)
  ngx.header["Content-Type"] = "text/plain"
  ngx.print("slept " .. ms .. " ms for " .. ngx.var.request_uri)
end

-- ?bytes=N body of N bytes ('x'), with Content-Length unless cl=0 (then chunked)
function M.big()
  local n = tonumber(ngx.var.arg_bytes) or 0
  ngx.header["Content-Type"] = "application/octet-stream"
  if ngx.var.arg_cl ~= "0" then ngx.header["Content-Length"] = n end
  local chunk = string.rep("x", 65536)
  while n > 0 do
    local k = n < 65536 and n or 65536
    ngx.print(k == 65536 and chunk or chunk:sub(1, k))
    n = n - k
    local ok = ngx.flush(true)
    if not ok then return end
  end
end

-- ?code=N&body=... any status (204 without a body)
function M.status()
  local code = tonumber(ngx.var.arg_code) or 200
  if code == 204 or code == 304 then return ngx.exit(code) end
  ngx.status = code
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(ngx.unescape_uri(ngx.var.arg_body or ""))
  return ngx.exit(ngx.OK)
end

-- a chunked answer in five pieces
function M.chunked()
  ngx.header["Content-Type"] = "text/plain"
  for i = 1, 5 do
    ngx.print("chunk " .. i .. "\n")
    ngx.flush(true)
  end
end

-- repeated and empty response headers
function M.headers()
  ngx.header["X-Dup"] = { "one", "two" }
  ngx.header["X-Empty"] = ""
  ngx.header["X-Spaces"] = "  padded value  "
  ngx.header["Content-Type"] = "text/plain"
  ngx.print("headers")
end

-- canned raw answers written to the connection (?case=...), each closing the connection afterwards
M.RAW = {
  -- an informational answer with headers before the final one
  early = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\nX-Early: 1\r\n\r\n"
    .. "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: 1\r\nConnection: close\r\n\r\nok",
  -- obsolete line folding and spacing around values
  fold = "HTTP/1.1 200 OK\r\nX-Folded: first\r\n   second\r\n\tthird\r\nX-Tight:v\r\n"
    .. "Content-Length: 2\r\nConnection: close\r\n\r\nok",
  -- not HTTP at all
  garbage = "SSH-2.0-OpenSSH_9.2\r\n\r\n",
  -- a status line libcurl cannot parse
  badstatus = "HTTP/1.1 2x0 Nope\r\nContent-Length: 0\r\n\r\n",
  -- a body shorter than its Content-Length, then the connection closes
  short = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly a part",
}

function M.raw()
  local answer = M.RAW[ngx.var.arg_case or ""]
  if not answer then return ngx.exit(404) end
  local sock = assert(ngx.req.socket(true))
  sock:send(answer)
  return ngx.exit(ngx.OK)
end

-- stop the nginx master (and remove the temp dir) once the process that started the server is gone
function M.watch(owner, dir)
  if not owner or ngx.worker.id() ~= 0 then return end
  ngx.timer.every(2, function()
    local alive = io.open("/proc/" .. owner .. "/stat", "r")
    if alive then alive:close() return end
    local f = io.open(dir .. "/nginx.pid", "r")
    local master = f and f:read("*n")
    if f then f:close() end
    if dir:match("^/tmp/wechatpay%-spec%.[%w]+$") then os.execute("rm -rf '" .. dir .. "'") end
    if master then os.execute("kill -TERM " .. master) end
  end)
end

return M
]==]

--- The built-in test locations (need the server module above; start{} sets it up).
M.TEST_LOCATIONS = [[
    location / { content_by_lua_block { require("wp_test_server").echo() } }
    location = /mirror { content_by_lua_block { require("wp_test_server").mirror() } }
    location = /slow { content_by_lua_block { require("wp_test_server").slow() } }
    location = /big { content_by_lua_block { require("wp_test_server").big() } }
    location = /status { content_by_lua_block { require("wp_test_server").status() } }
    location = /chunked { content_by_lua_block { require("wp_test_server").chunked() } }
    location = /headers { content_by_lua_block { require("wp_test_server").headers() } }
    location = /redirect { return 302 /echo; }
    location = /drop { return 444; }
    location = /raw { content_by_lua_block { require("wp_test_server").raw() } }
]]

local function is_root()
  local ok, out = run("id -u")
  return ok and out:match("^%s*0%s*$") ~= nil
end

local function config(o)
  local d = o.dir
  local lines = {
    "daemon on;",
    "master_process on;",
    is_root() and "user root;" or "",
    "worker_processes " .. (o.workers or 1) .. ";",
    "pid " .. d .. "/nginx.pid;",
    "error_log " .. d .. "/error.log warn;",
    "load_module /usr/lib/nginx/modules/ndk_http_module.so;",
    "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;",
    "events { worker_connections 1024; }",
    "http {",
    "  access_log " .. d .. "/access.log;",
    "  client_body_temp_path " .. d .. "/tmp/body;",
    "  proxy_temp_path " .. d .. "/tmp/proxy;",
    "  fastcgi_temp_path " .. d .. "/tmp/fastcgi;",
    "  uwsgi_temp_path " .. d .. "/tmp/uwsgi;",
    "  scgi_temp_path " .. d .. "/tmp/scgi;",
    "  client_max_body_size 64m;",
    "  client_body_buffer_size 16m;",
    "  keepalive_timeout 60s;",
    "  keepalive_requests 100000;",
    "  server_tokens off;",
    "  lua_package_path " .. quote((o.lua_package_path and (o.lua_package_path .. ";") or "")
      .. d .. "/?.lua;" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;") .. ";",
    "  init_worker_by_lua_block { require('wp_test_server').watch(" .. tostring(self_pid() or "nil") .. ", '"
      .. d .. "') " .. (o.init_worker or "") .. " }",
    o.http or "",
    "  server {",
    "    listen 127.0.0.1:" .. o.port .. " ssl;",
    "    listen 127.0.0.1:" .. o.http_port .. ";",
    "    server_name localhost;",
    "    ssl_certificate " .. o.cert.cert .. ";",
    "    ssl_certificate_key " .. o.cert.key .. ";",
    "    ssl_protocols TLSv1.2 TLSv1.3;",
    "    add_header X-Connection $connection always;",
    "    add_header X-Connection-Requests $connection_requests always;",
    o.builtin == false and "" or M.TEST_LOCATIONS,
    o.locations or "",
    "  }",
    "}",
  }
  return table.concat(lines, "\n") .. "\n"
end

local function pid_alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if f then f:close() end
  return f ~= nil
end

--- Starts a server; see the header of this file.
function M.start(opts)
  opts = opts or {}
  local dir = M.tmpdir()
  must("mkdir -p " .. quote(dir .. "/tmp"))
  write_file(dir .. "/wp_test_server.lua", SERVER_LUA)
  local ca = opts.ca or M.make_ca(dir)
  local cert = M.make_cert(dir, ca, { san = opts.san, cn = opts.cn })
  local conf = dir .. "/nginx.conf"
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.dir, o.cert = dir, cert

  local last
  for _ = 1, 10 do
    o.port = M.free_port()
    o.http_port = M.free_port{ [o.port] = true }
    write_file(conf, config(o))
    local ok, text = run("nginx -p " .. quote(dir) .. " -c " .. quote(conf) .. " -e " .. quote(dir .. "/error.log"))
    if ok then
      last = nil
      break
    end
    last = text .. (read_file(dir .. "/error.log") or "")
    if not last:find("in use", 1, true) then break end
    write_file(dir .. "/error.log", "")
  end
  if last then
    run("rm -rf " .. quote(dir))
    error("https_server: nginx did not start:\n" .. last, 2)
  end

  local pid = tonumber((read_file(dir .. "/nginx.pid") or ""):match("%d+"))
  local srv = {
    dir = dir, port = o.port, http_port = o.http_port, pid = pid,
    ca_file = ca.cert, ca_key = ca.key, ca = ca, cert_file = cert.cert, key_file = cert.key,
    conf = conf, error_log = dir .. "/error.log",
  }
  function srv.url(path) return "https://127.0.0.1:" .. srv.port .. (path or "/") end
  function srv.http_url(path) return "http://127.0.0.1:" .. srv.http_port .. (path or "/") end
  function srv.log() return read_file(srv.error_log) or "" end
  local stopped = false
  function srv.stop()
    if stopped then return end
    stopped = true
    if pid and pid_alive(pid) then
      run("kill -TERM " .. pid)
      for _ = 1, 200 do
        if not pid_alive(pid) then break end
        run("sleep 0.02")
      end
    end
    if not os.getenv("WP_KEEP_TEST_DIR") and dir:match("^/tmp/wechatpay%-spec%.") then run("rm -rf " .. quote(dir)) end
  end
  return srv
end

return M
