--- Business state of the sandbox, shared by the nginx workers (lua_shared_dict `sandbox_state`).
--
--   local store = require "sandbox.store"
--   store.put("order:1900000001:N1", { state = "CREATED", ... })      -- true | nil, "no memory"
--   local order = store.get("order:1900000001:N1")                    -- table (a fresh copy) | nil
--   local ok, err = store.add("order:...", value)                     -- only if absent: true | nil, "exists"
--   store.delete(key)
--   local n = store.incr("seq:orders", 1)                             -- atomic counter (starts at 0)
--   for _, item in ipairs(store.list("order:1900000001:")) do ... item.key, item.value ... end  -- sorted by key
--   local a, b = store.with_lock("order:1900000001:N1", function() ... return a, b end)
--
-- Values are Lua tables (or strings, numbers, booleans) stored as JSON with the project's codec
-- (wechatpay.codec.json): what comes back is a copy, arrays keep `json.array_mt`, integers stay integers; a value
-- the codec refuses (a non-integral number, json.null, a function) is a programming error and raises.
-- `put` uses safe_set: a full dict answers `nil, "no memory"` instead of silently evicting other orders.
--
-- with_lock(key, fn, timeout): a lock shared by the workers (lua_shared_dict `sandbox_locks`, `add` spin with
-- ngx.sleep backing off from 1 ms to 20 ms). The lock is released whatever fn does (pcall); an error in fn is
-- raised again after the release. If the lock cannot be taken within `timeout` seconds (default 5) with_lock raises
-- an error (the server answers 500 SYSTEM_ERROR, as WeChat Pay does when it is overloaded). A lock left by a
-- crashed worker expires after 30 s. Only in phases that may yield (content, timers), never nested on the same key.

local json = require "wechatpay.codec.json"

local M = {}

local LOCK_TTL = 30

local function dict()
  local d = ngx.shared.sandbox_state
  if not d then error("sandbox.store: lua_shared_dict sandbox_state is not configured", 3) end
  return d
end

local function encode(value)
  local s, err = json.encode(value)
  if not s then error("sandbox.store: cannot store the value: " .. tostring(err), 3) end
  return s
end

local function decode(s)
  if s == nil then return nil end
  local v, err = json.decode(s)
  if v == nil and err then error("sandbox.store: corrupt value: " .. tostring(err), 3) end
  return v
end

function M.get(key)
  return decode((dict():get(key)))
end

function M.put(key, value, ttl)
  local ok, err = dict():safe_set(key, encode(value), ttl or 0)
  if not ok then return nil, err end
  return true
end

function M.add(key, value, ttl)
  local ok, err = dict():safe_add(key, encode(value), ttl or 0)
  if not ok then return nil, err end
  return true
end

function M.delete(key)
  dict():delete(key)
  return true
end

--- Atomic add to a counter kept outside the JSON values; returns the new value.
function M.incr(key, n, init)
  local v, err = dict():incr("#" .. key, n or 1, init or 0)
  if not v then error("sandbox.store: incr " .. key .. ": " .. tostring(err), 2) end
  return v
end

--- The current value of a counter made by incr (0 when absent).
function M.counter(key)
  return dict():get("#" .. key) or 0
end

--- Every entry whose key starts with prefix, as { key =, value = } sorted by key.
function M.list(prefix)
  prefix = prefix or ""
  local d = dict()
  local out = {}
  local keys = d:get_keys(0)
  table.sort(keys)
  local n = #prefix
  for _, k in ipairs(keys) do
    if k:sub(1, n) == prefix and k:sub(1, 1) ~= "#" then
      local s = d:get(k)
      if s ~= nil then out[#out + 1] = { key = k, value = decode(s) } end
    end
  end
  return out
end

--- Drop every value (POST /sandbox/reset).
function M.flush()
  local d = dict()
  d:flush_all()
  d:flush_expired()
  local locks = ngx.shared.sandbox_locks
  if locks then locks:flush_all() end
end

local token_seq = 0

local function pack(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack -- luacheck: ignore 143

function M.with_lock(key, fn, timeout)
  local locks = ngx.shared.sandbox_locks
  if not locks then error("sandbox.store: lua_shared_dict sandbox_locks is not configured", 2) end
  timeout = timeout or 5
  token_seq = token_seq + 1
  local token = ngx.worker.pid() .. ":" .. token_seq
  local name = "lock:" .. key
  local deadline = ngx.now() + timeout
  local wait = 0.001
  while true do
    local ok, err = locks:add(name, token, LOCK_TTL)
    if ok then break end
    if err ~= "exists" then error("sandbox.store: lock " .. key .. ": " .. tostring(err), 2) end
    if ngx.now() >= deadline then
      error("sandbox.store: timeout waiting " .. timeout .. " s for the lock on " .. key, 2)
    end
    ngx.sleep(wait)
    wait = wait * 2
    if wait > 0.02 then wait = 0.02 end
  end
  local res = pack(pcall(fn))
  if locks:get(name) == token then locks:delete(name) end
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end

return M
