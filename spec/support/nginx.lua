--- Throwaway nginx instances for specs (Debian's nginx with its Lua module, on loopback).
--
--   local nginx = require "spec.support.nginx"
--   local srv = assert(nginx.start{
--     ports = 2,                     -- how many free loopback ports to reserve (default 1)
--     workers = 1,                   -- worker_processes (default 1)
--     main = "env FOO;",             -- optional main-context directives
--     http = [[
--       server { listen 127.0.0.1:@PORT@;  location / { return 200 "hi"; } }
--       server { listen 127.0.0.1:@PORT2@; location / { content_by_lua_block { ngx.say(ngx.get_phase()) } } }
--     ]],
--   })
--   print(srv.port, srv.ports[2], srv.dir, srv:url("/x"))
--   srv:stop()
--
-- The config string may use these placeholders: @PORT@ (= @PORT1@), @PORT2@ ... (the reserved ports), @DIR@ (the
-- instance's temp dir), @ROOT@ (the repository root). `http` is placed inside an `http { }` block that already sets
-- `lua_package_path` to the repository's `lua/` (then the defaults, so lua-resty-core is found), `lua_package_cpath`
-- to `build/luajit/?.so` (override with the env variable WP_LUAJIT_CPATH), the temp paths and the logs
-- (`lua_path = "@DIR@/?.lua"` puts more entries first; `files = { ["name.lua"] = "..." }` writes files into the temp
-- dir before the start, placeholders applied). With
-- `conf = "..."` the whole nginx.conf is given instead (placeholders still apply; add the load_module lines yourself,
-- see nginx.MODULES).
--
-- Ports: chosen at random in 20000-59999 among those not listening (/proc/net/tcp*); when nginx still fails to bind
-- (a race with another process), new ports are chosen and it is started again (up to 8 tries).
-- The instance runs as a daemon; `stop()` asks it to quit, waits for the master to exit and removes the temp dir
-- (kept when WP_KEEP_TMP is set). `nginx.available()` tells whether nginx and the Lua module are installed.
--
-- Works under Lua 5.4 and LuaJIT (busted drives it; nginx itself runs its own LuaJIT).

local M = {}

M.NGINX = os.getenv("WP_NGINX") or "/usr/sbin/nginx"
M.MODULES = {
  "/usr/lib/nginx/modules/ndk_http_module.so",
  "/usr/lib/nginx/modules/ngx_http_lua_module.so",
}

-- Files and shell commands (the sandbox's own helpers, found like this module: from the repository root):
-- M.shq(s) quotes for /bin/sh, M.sh(cmd) -> true when it exited 0, M.capture(cmd) -> its standard output (trailing
-- newline removed), M.read_file(p) -> contents or nil, M.write_file(p, s), M.exists(p).
local shell = require "sandbox.lua.sandbox.shell"
local shq, sh, capture, read_file, write_file = shell.shq, shell.sh, shell.capture, shell.read_file, shell.write_file
local file_exists = shell.exists
M.shq, M.sh, M.capture, M.read_file, M.write_file, M.exists = shq, sh, capture, read_file, write_file, file_exists

function M.sleep(seconds)
  sh("sleep " .. string.format("%.3f", seconds))
end

-- The repository root: this file is <root>/spec/support/nginx.lua.
local function repo_root()
  local src = debug.getinfo(1, "S").source
  local path = src:sub(1, 1) == "@" and src:sub(2) or "spec/support/nginx.lua"
  local dir = path:match("^(.*)/spec/support/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then
    local cwd = capture("pwd")
    dir = (dir == "." or dir == "") and cwd or (cwd .. "/" .. dir:gsub("^%./", ""))
  end
  return dir
end
M.ROOT = repo_root()

local is_root
local function running_as_root()
  if is_root == nil then is_root = capture("id -u") == "0" end
  return is_root
end

function M.available()
  if not file_exists(M.NGINX) then return false, M.NGINX .. " not found" end
  for _, m in ipairs(M.MODULES) do
    if not file_exists(m) then return false, m .. " not found" end
  end
  return true
end

-- Listening TCP ports on this machine (from /proc/net/tcp and tcp6; state 0A = LISTEN).
local function listening_ports()
  local used = {}
  for _, f in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    local s = read_file(f) or ""
    for port, state in s:gmatch("%s*%d+:%s+%x+:(%x+)%s+%x+:%x+%s+(%x%x)") do
      if state == "0A" then used[tonumber(port, 16)] = true end
    end
  end
  return used
end

local seeded = false
local function seed()
  if seeded then return end
  seeded = true
  local pid = tonumber(capture("echo $PPID")) or 0
  local addr = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  math.randomseed((os.time() + pid * 7919 + addr) % 2147483647)
end

--- `n` distinct ports that nothing listens on now (free at the time of the call; nothing is reserved).
function M.free_ports(n)
  seed()
  local used, out, taken = listening_ports(), {}, {}
  while #out < (n or 1) do
    local p = math.random(20000, 59999)
    if not used[p] and not taken[p] then
      taken[p] = true
      out[#out + 1] = p
    end
  end
  return out
end

local function substitute(s, inst)
  s = s:gsub("@PORT(%d*)@", function(i)
    local p = inst.ports[tonumber(i ~= "" and i or "1")]
    if not p then error("nginx support: placeholder @PORT" .. i .. "@ without a reserved port", 0) end
    return tostring(p)
  end)
  s = s:gsub("@DIR@", function() return inst.dir end)
  s = s:gsub("@ROOT@", function() return M.ROOT end)
  return s
end

local function build_conf(opts, inst)
  if opts.conf then return substitute(opts.conf, inst) end
  local root, dir = M.ROOT, inst.dir
  local cpath = os.getenv("WP_LUAJIT_CPATH") or (root .. "/build/luajit/?.so")
  local lines = {}
  for _, m in ipairs(M.MODULES) do lines[#lines + 1] = "load_module " .. m .. ";" end
  if running_as_root() then lines[#lines + 1] = "user root;" end
  lines[#lines + 1] = "worker_processes " .. tostring(opts.workers or 1) .. ";"
  lines[#lines + 1] = "daemon on;"
  lines[#lines + 1] = "master_process on;"
  lines[#lines + 1] = "pid " .. dir .. "/nginx.pid;"
  lines[#lines + 1] = "error_log " .. dir .. "/error.log " .. (opts.log_level or "warn") .. ";"
  lines[#lines + 1] = opts.main or ""
  lines[#lines + 1] = "events { worker_connections " .. tostring(opts.worker_connections or 256) .. "; }"
  lines[#lines + 1] = "http {"
  lines[#lines + 1] = "  access_log " .. (opts.access_log and (dir .. "/access.log") or "off") .. ";"
  for _, t in ipairs({ "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }) do
    lines[#lines + 1] = "  " .. t .. "_temp_path " .. dir .. "/" .. t .. "_temp;"
  end
  local extra = opts.lua_path and (opts.lua_path .. ";") or ""
  lines[#lines + 1] = '  lua_package_path "' .. extra .. root .. "/lua/?.lua;" .. root .. '/lua/?/init.lua;;";'
  lines[#lines + 1] = '  lua_package_cpath "' .. cpath .. ';;";'
  lines[#lines + 1] = opts.http or ""
  lines[#lines + 1] = "}"
  return substitute(table.concat(lines, "\n"), inst) .. "\n"
end

local Instance = {}
Instance.__index = Instance

--- A URL on this instance: srv:url("/path") (first port, http) or srv:url("/path", 2, "https").
function Instance:url(path, port_index, scheme)
  return (scheme or "http") .. "://127.0.0.1:" .. tostring(self.ports[port_index or 1]) .. (path or "/")
end

--- The error log so far.
function Instance:log()
  return read_file(self.dir .. "/error.log") or ""
end

function Instance:pid()
  return tonumber((read_file(self.dir .. "/nginx.pid") or ""):match("%d+"))
end

--- The pids of the instance's worker processes (children of the master, read from /proc).
function Instance:worker_pids()
  local master, out = self.master_pid or self:pid(), {}
  if not master then return out end
  for pid in capture("ls /proc"):gmatch("%d+") do
    local stat = read_file("/proc/" .. pid .. "/stat")
    -- pid (comm) state ppid ...: comm may hold spaces and parentheses, so match after the last ")"
    local ppid = stat and stat:match("^.*%)%s+%S+%s+(%d+)")
    if ppid and tonumber(ppid) == master then out[#out + 1] = tonumber(pid) end
  end
  return out
end

local function alive(pid)
  return pid and sh("kill -0 " .. pid .. " 2>/dev/null")
end

--- Stop the instance (graceful quit, then TERM, then KILL) and remove its temp dir. Safe to call twice.
function Instance:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = self.master_pid or self:pid()
  if pid then
    sh("kill -QUIT " .. pid .. " 2>/dev/null")
    for i = 1, 100 do
      if not alive(pid) then break end
      if i == 50 then sh("kill -TERM " .. pid .. " 2>/dev/null") end
      M.sleep(0.05)
    end
    if alive(pid) then sh("kill -KILL " .. pid .. " 2>/dev/null") end
  end
  if not os.getenv("WP_KEEP_TMP") then sh("rm -rf " .. shq(self.dir)) end
end

--- Start an instance (see the top of this file). Returns the instance, or nil and a message with nginx's output.
function M.start(opts)
  opts = opts or {}
  local ok, why = M.available()
  if not ok then return nil, why end
  local nports = opts.ports or 1
  local last
  for _ = 1, 8 do
    local dir = capture("mktemp -d " .. shq((os.getenv("TMPDIR") or "/tmp") .. "/wp-nginx.XXXXXX"))
    if dir == "" then return nil, "mktemp failed" end
    local inst = setmetatable({ dir = dir, ports = M.free_ports(nports) }, Instance)
    inst.port = inst.ports[1]
    if opts.files then
      for name, content in pairs(opts.files) do write_file(dir .. "/" .. name, substitute(content, inst)) end
    end
    local conf = build_conf(opts, inst)
    write_file(dir .. "/nginx.conf", conf)
    -- the interpreter's LUA_PATH/LUA_CPATH (e.g. build/lua5.4) must not leak into nginx's LuaJIT
    local started = sh("env -u LUA_PATH -u LUA_CPATH -u LUA_INIT " .. M.NGINX
      .. " -p " .. shq(dir) .. " -c " .. shq(dir .. "/nginx.conf")
      .. " > " .. shq(dir .. "/start.log") .. " 2>&1")
    if started then
      -- the listening sockets are bound before the daemon returns; wait for the pid file
      for _ = 1, 100 do
        inst.master_pid = inst:pid()
        if inst.master_pid then break end
        M.sleep(0.02)
      end
      if inst.master_pid then return inst end
    end
    last = (read_file(dir .. "/start.log") or "") .. (read_file(dir .. "/error.log") or "")
    inst.stopped = false
    inst:stop()
    if not last:find("Address already in use", 1, true) then
      return nil, "nginx did not start:\n" .. last .. "\n--- nginx.conf ---\n" .. conf
    end
  end
  return nil, "nginx did not start (ports in use):\n" .. tostring(last)
end

--- The curl command line of one request, built here for every support module (M.curl, M.curl_background,
-- spec.support.sandbox, spec.support.signed_request). o: head_file, body_file (where the answer's headers and body
-- go), method, headers ({ "Name: value" }), body (sent as is) or data_file (the body read from that file), ca_file,
-- max_time (default 30), exact (--path-as-is --http1.1: the target byte for byte, HTTP/1.1), write_out (curl -w),
-- extra (a string of more curl options).
function M.curl_command(url, o)
  local cmd = { "curl -sS --noproxy '*'" }
  if o.exact then cmd[#cmd + 1] = "--path-as-is --http1.1" end
  cmd[#cmd + 1] = "-o " .. shq(o.body_file) .. " -D " .. shq(o.head_file)
  if o.write_out then cmd[#cmd + 1] = "-w " .. shq(o.write_out) end
  cmd[#cmd + 1] = "--max-time " .. tostring(o.max_time or 30)
  if o.ca_file then cmd[#cmd + 1] = "--cacert " .. shq(o.ca_file) end
  if o.method then cmd[#cmd + 1] = "-X " .. shq(o.method) end
  if o.body then cmd[#cmd + 1] = "--data-binary " .. shq(o.body) end
  if o.data_file then cmd[#cmd + 1] = "--data-binary @" .. shq(o.data_file) end
  for _, h in ipairs(o.headers or {}) do cmd[#cmd + 1] = "-H " .. shq(h) end
  if o.extra then cmd[#cmd + 1] = o.extra end
  cmd[#cmd + 1] = shq(url)
  return table.concat(cmd, " ")
end

--- The answer curl left in head_file and body_file ("" for a missing file); both files are removed.
function M.take_answer(head_file, body_file)
  local head, body = read_file(head_file) or "", read_file(body_file) or ""
  os.remove(head_file)
  os.remove(body_file)
  return head, body
end

--- The last header block of curl -D output (curl writes interim 1xx blocks too): status, { [lower-case name] =
-- first value }, { {name, value}, ... } in the order received. status is nil when there is no block.
function M.parse_headers(text)
  local blocks = {}
  for block in (text .. "\r\n\r\n"):gmatch("(HTTP/[^\r\n]*\r\n.-)\r\n\r\n") do blocks[#blocks + 1] = block end
  local last = blocks[#blocks] or ""
  local status = tonumber(last:match("^HTTP/[%d.]+ (%d%d%d)"))
  local map, list = {}, {}
  for line in last:gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      list[#list + 1] = { name, value }
      local l = name:lower()
      if map[l] == nil then map[l] = value end
    end
  end
  return status, map, list
end

-- For M.curl / M.curl_background: curl's -w line gives the status and the time.
local function curl_cmd(url, opts, body_file, head_file)
  return M.curl_command(url, { body_file = body_file, head_file = head_file, write_out = "%{http_code} %{time_total}",
    max_time = opts.max_time, method = opts.method, body = opts.body, headers = opts.headers, extra = opts.extra })
end

local function curl_result(url, out, body_file, head_file)
  local head, body = M.take_answer(head_file, body_file)
  local status, t = out:match("(%d%d%d) ([%d%.]+)%s*$")
  if not status or status == "000" then return nil, "curl " .. url .. ": " .. out end
  local headers = {}
  for name, value in head:gmatch("([^:\r\n]+):[ \t]*([^\r\n]*)") do headers[name:lower()] = value end
  return { status = tonumber(status), body = body, time = tonumber(t), headers = headers }
end

--- Run the curl CLI against a URL. Returns { status =, body =, time = seconds (curl's time_total),
-- headers = { [lower-case name] = value } } or nil, message.
-- opts: method, body, headers ({ "Name: value" }), max_time (default 30), extra (string of more curl options).
function M.curl(url, opts)
  local body_file, head_file = os.tmpname(), os.tmpname()
  local out = capture(curl_cmd(url, opts or {}, body_file, head_file) .. " 2>&1")
  return curl_result(url, out, body_file, head_file)
end

--- Start the curl CLI in the background. Returns a handle: h:done() (finished?), h:wait(max_seconds) → the result of
-- M.curl (or nil, message).
function M.curl_background(url, opts)
  local body_file, head_file, out_file = os.tmpname(), os.tmpname(), os.tmpname()
  local done_file = out_file .. ".done"
  sh("(" .. curl_cmd(url, opts or {}, body_file, head_file) .. " > " .. shq(out_file) .. " 2>&1; touch "
    .. shq(done_file) .. ") </dev/null >/dev/null 2>&1 &")
  local h = {}
  function h.done() return file_exists(done_file) end
  function h.wait(_, max)
    local deadline = os.time() + (max or 40)
    while not file_exists(done_file) do
      if os.time() > deadline then return nil, "curl " .. url .. " did not finish" end
      M.sleep(0.02)
    end
    local out = read_file(out_file) or ""
    os.remove(out_file)
    os.remove(done_file)
    return curl_result(url, out, body_file, head_file)
  end
  return h
end

return M
