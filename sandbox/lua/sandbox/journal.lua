--- The sandbox's logs in the shared dict `sandbox_log`, shared by the workers: the requests seen (GET
-- /sandbox/requests) and the notification deliveries (GET /sandbox/notifications). Each log keeps its last
-- `KEEP` entries; entries are JSON (project codec) under "<kind>:<seq>".

local json = require "wechatpay.codec.json"

local M = {}

M.KEEP = 5000

local function dict() return ngx.shared.sandbox_log end
-- the sequence counters live in sandbox_sys: the log dict may evict old entries when full, never a counter
local function counters() return ngx.shared.sandbox_sys end

local function key(kind, seq) return kind .. ":" .. seq end

--- Append an entry; returns its sequence number (1, 2, ...).
function M.append(kind, entry)
  local d = dict()
  local seq = counters():incr(kind .. "#seq", 1, 0)
  entry.seq = seq
  local s, err = json.encode(entry)
  if not s then
    ngx.log(ngx.ERR, "sandbox journal: cannot encode a ", kind, " entry: ", tostring(err))
    return seq
  end
  d:set(key(kind, seq), s)
  if seq > M.KEEP then d:delete(key(kind, seq - M.KEEP)) end
  return seq
end

--- Replace entry seq (notifications update their record after each attempt).
function M.update(kind, seq, entry)
  entry.seq = seq
  local s, err = json.encode(entry)
  if not s then
    ngx.log(ngx.ERR, "sandbox journal: cannot encode a ", kind, " entry: ", tostring(err))
    return
  end
  dict():set(key(kind, seq), s)
end

function M.get(kind, seq)
  local s = dict():get(key(kind, seq))
  return s and json.decode(s)
end

--- Entries in order, oldest first; at most `limit` (the newest ones), from seq `since` (exclusive) on.
function M.list(kind, limit, since)
  local d, c = dict(), counters()
  local last = c:get(kind .. "#seq") or 0
  local first = math.max(c:get(kind .. "#first") or 1, last - M.KEEP + 1, 1, (since or 0) + 1)
  if limit and last - first + 1 > limit then first = last - limit + 1 end
  local out = json.array()
  for seq = first, last do
    local s = d:get(key(kind, seq))
    if s then out[#out + 1] = json.decode(s) end
  end
  return out
end

--- Forget the entries of a kind (the sequence numbers go on).
function M.clear(kind)
  local d, c = dict(), counters()
  local last = c:get(kind .. "#seq") or 0
  local first = c:get(kind .. "#first") or 1
  for seq = math.max(first, last - M.KEEP + 1), last do d:delete(key(kind, seq)) end
  c:set(kind .. "#first", last + 1)
end

return M
