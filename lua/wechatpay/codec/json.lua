--- Integer-exact JSON for the APIv3 (apiv3-protocol §7.5), the same under Lua 5.4 and LuaJIT.
--
--   local json = require "wechatpay.codec.json"
--   local body, err = json.encode{ out_order_no = "N1", post_payments = { { name = "x", amount = 400 } } }
--   local value, err = json.decode('{"total_amount":40000,"post_payments":[]}')
--
-- Encoding (`json.encode(v)` -> string | nil, err; err is a `usage` error whose message starts with the JSON
-- Pointer of the offending value, e.g. `/post_payments/0/amount: must be an integer, got 400.5`):
--  * Numbers must be integers: NaN, ±inf and non-integral numbers are refused (amounts are integers in fen). A float
--    with an integral value (40000.0 under 5.4) is written as the integer `40000`: the API sees an integer.
--    Integers must lie within ±(2^53 - 1): LuaJIT cannot represent larger ones exactly, and 5.4 refuses them too so
--    that a body encodes the same on both (large identifiers are strings in this API). Integers are written with
--    no decimal point and no exponent.
--  * Strings must be valid UTF-8 with 1-3-byte sequences only (4-byte sequences such as most emoji are refused: the
--    API rejects them). `"`, `\` and control characters are escaped, everything else is sent raw.
--  * `json.null` (and lua-cjson's `cjson.null`) is refused: the API does not accept null, omit the key instead.
--  * Tables: an array is a table with the `json.array_mt` metatable (as set by `json.array(t)` and by `json.decode`),
--    `json.empty_array`, or an unmarked non-empty sequence 1..n. An object is a table with string keys, a table
--    marked by `json.object(t)`, or `json.empty_object`. A plain empty table is `{}`. Mixed (integer and string
--    keys) and sparse tables, non-string object keys, cycles, functions, userdata, threads and nesting deeper than
--    1000 levels are refused. lua-cjson's `array_mt`/`empty_array` are honoured when lua-cjson is loaded.
--  * Object keys are written in byte-wise sorted order, so a body (and its signature) is deterministic.
--
-- Decoding (`json.decode(s)` -> value | nil, err; err is a `decode` error with `message` and the raw `body`): strict
-- RFC 8259 by the C core. Integers within int64 are Lua integers under 5.4 (`json.decode('40000')` is the integer
-- 40000); under LuaJIT every number is a double, exact up to 2^53 (larger integers are rounded to the nearest double,
-- and re-encoding them is refused, see above). Numbers with a fraction or an exponent are floats. Arrays get
-- `json.array_mt`, so an empty array and an array of objects re-encode as arrays. JSON null is `json.null`.
-- Duplicate keys: the last one wins. Nesting is limited to 1000 levels.

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"

local type, next, tostring, getmetatable, setmetatable, rawget, error = type, next, tostring, getmetatable,
  setmetatable, rawget, error
local floor, huge = math.floor, math.huge
local format, byte, gsub = string.format, string.byte, string.gsub
local concat, sort = table.concat, table.sort
local json_quote, json_decode = core.json_quote, core.json_decode
local tointeger = math.tointeger -- nil on LuaJIT
local mtype = math.type          -- nil on LuaJIT

local json = {}

local MAX_SAFE = 9007199254740991 -- 2^53 - 1
local MAX_DEPTH = 1000

local function frozen(name)
  return function()
    error(name .. " is a shared constant and cannot be modified", 2)
  end
end

--- The JSON null sentinel (decoded nulls are this value; it is refused by encode).
json.null = setmetatable({}, {
  __name = "wechatpay.json.null",
  __tostring = function() return "null" end,
  __newindex = frozen("json.null"),
  __metatable = false,
})

--- Metatable of arrays: tables carrying it encode as JSON arrays (decoded arrays carry it).
json.array_mt = { __name = "wechatpay.json.array" }
--- Metatable of tables marked by json.object(t).
json.object_mt = { __name = "wechatpay.json.object" }

local empty_array_mt = { __name = "wechatpay.json.empty_array", __newindex = frozen("json.empty_array"),
  __tostring = function() return "[]" end }
local empty_object_mt = { __name = "wechatpay.json.empty_object", __newindex = frozen("json.empty_object"),
  __tostring = function() return "{}" end }
-- protected: getmetatable still answers the metatable, setmetatable refuses to change it
empty_array_mt.__metatable = empty_array_mt
empty_object_mt.__metatable = empty_object_mt
--- Markers: always encode as `[]` and `{}`.
json.empty_array = setmetatable({}, empty_array_mt)
json.empty_object = setmetatable({}, empty_object_mt)

local array_mt, object_mt, null = json.array_mt, json.object_mt, json.null

--- Mark t (default: a new table) as an array; returns t.
function json.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then error("json.array: expected a table, got " .. type(t), 2) end
  return setmetatable(t, array_mt)
end

--- Mark t (default: a new table) as an object; returns t.
function json.object(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then error("json.object: expected a table, got " .. type(t), 2) end
  return setmetatable(t, object_mt)
end

--- True if t encodes as an array because of its metatable (json.array, json.decode, json.empty_array).
function json.is_array(t)
  local mt = type(t) == "table" and getmetatable(t)
  return mt == array_mt or mt == empty_array_mt
end

-- lua-cjson interop, looked up lazily (never required here): its null is refused like ours, its array markers are
-- honoured.
local function cjson_marks()
  local cj = package.loaded.cjson
  if type(cj) ~= "table" then return nil end
  return cj.null, cj.array_mt, cj.empty_array
end

-- Byte-wise key order. Lua compares strings with strcoll(): byte-wise in the C locale (the default of lua5.4, luajit
-- and nginx, none of which calls setlocale); otherwise fall back to an explicit byte comparison.
local function bytewise_less(a, b)
  local n = #a < #b and #a or #b
  for i = 1, n do
    local x, y = byte(a, i), byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function collation_is_bytewise()
  local ok, loc = pcall(os.setlocale, nil, "collate")
  return not ok or loc == nil or loc == "C" or loc == "POSIX"
end

-- ---- encoder ------------------------------------------------------------------------------------
-- One state table per call: buf (output pieces), path (the key at each depth, for the JSON Pointer of a failure),
-- seen (tables being encoded: cycle detection), the key order and lua-cjson's markers. The count of pieces `n` is
-- passed along: every encode function appends to st.buf after piece n and returns the new count, or nil and a
-- message (st.fail_depth then says where). Strings and in-range integers inside arrays and objects are handled
-- inline (no call per value): this is the hot path.

local function pointer(path, depth)
  local parts = {}
  for i = 1, depth do
    parts[i] = "/" .. gsub(gsub(tostring(path[i]), "~", "~0"), "/", "~1")
  end
  return concat(parts)
end

local function fail(st, depth, msg)
  st.fail_depth = depth
  return nil, msg
end

local NULL_MSG = "JSON null is not accepted by the API; omit the key"
local BEYOND = "integer %s is beyond ±(2^53-1), not exactly representable on LuaJIT; send large identifiers as strings"
local HAS_INT = mtype ~= nil -- Lua 5.3/5.4: integer subtype

-- Quoted object keys: field names repeat across bodies, so their quoting is cached (bounded).
local key_cache, key_cache_n = {}, 0
local KEY_CACHE_MAX = 2048

-- A number that is not a plain in-range integer (floats, -0 and 0 on LuaJIT, NaN, ±inf, out of range).
local function encode_number(st, v, depth, n)
  if v ~= v then return fail(st, depth, "must be an integer, got NaN") end
  if v == huge or v == -huge then return fail(st, depth, "must be an integer, got " .. tostring(v)) end
  if HAS_INT and mtype(v) == "integer" then
    if v > MAX_SAFE or v < -MAX_SAFE then return fail(st, depth, format(BEYOND, format("%d", v))) end
  else
    if v ~= floor(v) then return fail(st, depth, "must be an integer, got " .. format("%.17g", v)) end
    if v > MAX_SAFE or v < -MAX_SAFE then return fail(st, depth, format(BEYOND, format("%.17g", v))) end
  end
  n = n + 1
  -- an integral float is written as the integer (40000.0 -> 40000, -0.0 -> 0)
  st.buf[n] = HAS_INT and tointeger(v) or format("%d", v)
  return n
end

local encode_value

local function array_error(st, t, len, depth)
  for k in next, t do
    if type(k) == "string" then
      return fail(st, depth, format("mixed table: string key %q in an array", k))
    elseif type(k) ~= "number" or k < 1 or k > len or k ~= floor(k) then
      return fail(st, depth, "sparse or mixed table: key " .. tostring(k) .. " in an array of length " .. len)
    end
  end
  return fail(st, depth, "sparse array: holes below length " .. len)
end

local function encode_array(st, t, depth, n)
  local len, count = #t, 0
  for _ in next, t do count = count + 1 end
  -- count == len and t[1..len] all non-nil  <=>  the keys are exactly 1..len
  if count ~= len then return array_error(st, t, len, depth) end
  local buf, d = st.buf, depth + 1
  n = n + 1
  buf[n] = "["
  for i = 1, len do
    if i > 1 then
      n = n + 1
      buf[n] = ","
    end
    local v = t[i]
    local tv = type(v)
    local q = tv == "string" and json_quote(v)
    if q then
      n = n + 1
      buf[n] = q
    elseif tv == "number" and (HAS_INT and (mtype(v) == "integer" and v <= MAX_SAFE and v >= -MAX_SAFE)
        or (not HAS_INT and v == floor(v) and v < 1e14 and v > -1e14 and v ~= 0)) then
      n = n + 1
      buf[n] = v -- written by table.concat: integers (5.4) or "%.14g" (LuaJIT: exact below 1e14, no exponent)
    else
      if v == nil then return array_error(st, t, len, depth) end
      st.path[d] = i - 1
      local err
      n, err = encode_value(st, v, d, n)
      if not n then return nil, err end
    end
  end
  n = n + 1
  buf[n] = "]"
  return n
end

local function encode_object(st, t, depth, n)
  local keys, nk = {}, 0
  for k in next, t do
    if type(k) ~= "string" then
      if type(k) == "number" then
        return fail(st, depth, "mixed or sparse table: key " .. tostring(k) .. " in an object (only string keys; "
          .. "an array must be a sequence 1..n)")
      end
      return fail(st, depth, "non-string key (" .. type(k) .. ") in an object")
    end
    nk = nk + 1
    keys[nk] = k
  end
  if nk > 1 then
    if not st.bytewise then
      sort(keys, bytewise_less)
    elseif nk <= 16 then
      -- insertion sort: fewer calls than table.sort for the small objects of this API (2x faster on LuaJIT)
      for i = 2, nk do
        local x, j = keys[i], i - 1
        while j > 0 and x < keys[j] do
          keys[j + 1] = keys[j]
          j = j - 1
        end
        keys[j + 1] = x
      end
    else
      sort(keys)
    end
  end
  local buf, d = st.buf, depth + 1
  n = n + 1
  buf[n] = "{"
  for i = 1, nk do
    local k = keys[i]
    local qk = key_cache[k]
    if qk == nil then
      local msg
      qk, msg = json_quote(k)
      if not qk then
        st.path[d] = k
        return fail(st, d, "key: " .. msg)
      end
      if key_cache_n >= KEY_CACHE_MAX then key_cache, key_cache_n = {}, 0 end
      key_cache[k] = qk
      key_cache_n = key_cache_n + 1
    end
    if i > 1 then
      n = n + 1
      buf[n] = ","
    end
    buf[n + 1] = qk
    buf[n + 2] = ":"
    n = n + 2
    local v = t[k]
    local tv = type(v)
    local q = tv == "string" and json_quote(v)
    if q then
      n = n + 1
      buf[n] = q
    elseif tv == "number" and (HAS_INT and (mtype(v) == "integer" and v <= MAX_SAFE and v >= -MAX_SAFE)
        or (not HAS_INT and v == floor(v) and v < 1e14 and v > -1e14 and v ~= 0)) then
      n = n + 1
      buf[n] = v
    else
      st.path[d] = k
      local err
      n, err = encode_value(st, v, d, n)
      if not n then return nil, err end
    end
  end
  n = n + 1
  buf[n] = "}"
  return n
end

encode_value = function(st, v, depth, n)
  local tv = type(v)
  if tv == "string" then
    local q, msg = json_quote(v)
    if not q then return fail(st, depth, msg) end
    n = n + 1
    st.buf[n] = q
    return n
  elseif tv == "number" then
    return encode_number(st, v, depth, n)
  elseif tv == "boolean" then
    n = n + 1
    st.buf[n] = v and "true" or "false"
    return n
  elseif tv == "table" then
    local mt = getmetatable(v)
    local kind
    if mt ~= nil then
      if mt == array_mt then
        kind = 1
      elseif mt == object_mt then
        kind = 2
      elseif v == null then
        return fail(st, depth, NULL_MSG)
      elseif mt == empty_array_mt or mt == empty_object_mt then
        n = n + 1
        st.buf[n] = mt == empty_array_mt and "[]" or "{}"
        return n
      elseif st.cjson_array_mt ~= nil and mt == st.cjson_array_mt then
        kind = 1
      end
    end
    if depth >= MAX_DEPTH then return fail(st, depth, "nesting deeper than " .. MAX_DEPTH .. " levels") end
    if kind == nil then
      if next(v) == nil then
        n = n + 1
        st.buf[n] = "{}"
        return n
      end
      kind = rawget(v, 1) ~= nil and 1 or 2
    end
    local seen = st.seen
    if seen[v] then return fail(st, depth, "cycle: a table contains itself") end
    seen[v] = true
    local err
    if kind == 1 then
      n, err = encode_array(st, v, depth, n)
    else
      n, err = encode_object(st, v, depth, n)
    end
    seen[v] = nil
    return n, err
  elseif tv == "userdata" and st.cjson_null ~= nil and v == st.cjson_null then
    return fail(st, depth, NULL_MSG .. " (cjson.null)")
  elseif tv == "userdata" and st.cjson_empty_array ~= nil and v == st.cjson_empty_array then
    n = n + 1
    st.buf[n] = "[]"
    return n
  end
  return fail(st, depth, "cannot encode a " .. tv .. " value")
end

--- Encode a Lua value as JSON text for a request body.
-- @return string, or nil and a `usage` error (fields: message, pointer)
function json.encode(value)
  local cjson_null, cjson_array_mt, cjson_empty_array = cjson_marks()
  local st = {
    buf = {}, path = {}, seen = {}, fail_depth = 0,
    bytewise = collation_is_bytewise(),
    cjson_null = cjson_null, cjson_array_mt = cjson_array_mt, cjson_empty_array = cjson_empty_array,
  }
  local n, msg = encode_value(st, value, 0, 0)
  if not n then
    local ptr = pointer(st.path, st.fail_depth)
    return nil, errors.new("usage", {
      message = (ptr ~= "" and (ptr .. ": ") or "") .. msg,
      pointer = ptr,
    })
  end
  return concat(st.buf, "", 1, n)
end

--- Decode JSON text (a response body).
-- opts (optional): `{ body = false }` leaves the raw text out of the error (for decrypted plaintexts).
-- @return value, or nil and a `decode` error (fields: message, body)
function json.decode(s, opts)
  if type(s) ~= "string" then
    error("json.decode: expected a string, got " .. type(s), 2)
  end
  local v, msg = json_decode(s, array_mt, null)
  if msg then
    local keep = not (opts and opts.body == false)
    return nil, errors.new("decode", { message = msg, body = keep and s or nil })
  end
  return v
end

return json
