--- Files and shell commands in plain Lua (no ngx), under Lua 5.4 and LuaJIT: the sandbox's command-line side
-- (sandbox.provision) and the specs' support modules (spec/support/nginx.lua re-exports them; the sandbox never
-- depends on spec code).

local M = {}

--- Quote a string for /bin/sh.
function M.shq(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Run a shell command; true when it exited with status 0 (same answer under Lua 5.4 and LuaJIT).
function M.sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end -- LuaJIT / 5.1: the raw status
  return a == true and (c == nil or c == 0)
end

--- Run a shell command and return its standard output (trailing newline removed).
function M.capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("\n$", ""))
end

--- The contents of a file, or nil when it cannot be read.
function M.read_file(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Is there a readable file at p?
function M.exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

--- Write s to the file p (created or truncated); raises when it cannot.
function M.write_file(p, s)
  local f = assert(io.open(p, "wb"))
  assert(f:write(s))
  f:close()
end

return M
