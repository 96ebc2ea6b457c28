--- Integer-exact JSON for the APIv3 (apiv3-protocol §7.5), the same under Lua 5.4 and LuaJIT.
--
--   local json = require "wechatpay.codec.json"
--   local body, err = json.encode{ out_order_no = "N1", post_payments = { { name = "x", amount = 400 } } }
--   local value, err = json.decode('{"total_amount":40000,"post_payments":[]}')
--
-- Encoding (`json.encode(v)` -> string | nil, err; err is a `usage` error whose message starts with the JSON
-- Pointer of the offending value, e.g. `/post_payments/0/amount: must be an integer, got 400.5`). The C core does
-- the work (`core.json_encoder`, src/json_encode.c); the messages are written here:
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

local type, next, tostring, setmetatable, getmetatable, error = type, next, tostring, setmetatable, getmetatable,
  error
local floor, huge = math.floor, math.huge
local format, gsub = string.format, string.gsub
local concat = table.concat
local json_decode = core.json_decode
local mtype = math.type -- nil on LuaJIT
local package = package

local json = {}

local MAX_DEPTH = 1000 -- WP_JSON_MAX_DEPTH of src/json.h

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

-- ---- encoder ------------------------------------------------------------------------------------
-- The C encoder (src/json_encode.c) knows the markers through its upvalues; lua-cjson's (its null is refused like
-- ours, its array markers honoured) are looked up at each call, lazily: this module never requires lua-cjson. On a
-- failure it answers nil, the JSON Pointer's tokens, the problem's name and up to two values; the messages are
-- written here, and only here.
local encode_c = core.json_encoder{
  array_mt = array_mt, object_mt = object_mt, null = null,
  empty_array_mt = empty_array_mt, empty_object_mt = empty_object_mt,
}

local NULL_MSG = "JSON null is not accepted by the API; omit the key"
local BEYOND = "integer %s is beyond ±(2^53-1), not exactly representable on LuaJIT; send large identifiers as strings"
local HAS_INT = mtype ~= nil -- Lua 5.3/5.4: integer subtype

local function pointer(path)
  local parts = {}
  for i = 1, #path do
    parts[i] = "/" .. gsub(gsub(tostring(path[i]), "~", "~0"), "/", "~1")
  end
  return concat(parts)
end

local problems = {
  -- a number that is not a plain in-range integer (the encoder writes integral floats as integers)
  number = function(v)
    if v ~= v then return "must be an integer, got NaN" end
    if v == huge or v == -huge then return "must be an integer, got " .. tostring(v) end
    if HAS_INT and mtype(v) == "integer" then return format(BEYOND, format("%d", v)) end
    if v ~= floor(v) then return "must be an integer, got " .. format("%.17g", v) end
    return format(BEYOND, format("%.17g", v)) -- an integral float beyond ±(2^53 - 1)
  end,
  string = function(msg) return msg end,
  key = function(msg) return "key: " .. msg end,
  null = function() return NULL_MSG end,
  cjson_null = function() return NULL_MSG .. " (cjson.null)" end,
  depth = function() return "nesting deeper than " .. MAX_DEPTH .. " levels" end,
  cycle = function() return "cycle: a table contains itself" end,
  type = function(v) return "cannot encode a " .. type(v) .. " value" end,
  -- an array whose keys are not exactly 1..len: name the first key (in next() order) that is not
  array = function(t, len)
    for k in next, t do
      if type(k) == "string" then
        return format("mixed table: string key %q in an array", k)
      elseif type(k) ~= "number" or k < 1 or k > len or k ~= floor(k) then
        return "sparse or mixed table: key " .. tostring(k) .. " in an array of length " .. len
      end
    end
    return "sparse array: holes below length " .. len
  end,
  object_key = function(k)
    if type(k) == "number" then
      return "mixed or sparse table: key " .. tostring(k) .. " in an object (only string keys; "
        .. "an array must be a sequence 1..n)"
    end
    return "non-string key (" .. type(k) .. ") in an object"
  end,
}

--- Encode a Lua value as JSON text for a request body.
-- @return string, or nil and a `usage` error (fields: message, pointer)
function json.encode(value)
  local cj = package.loaded.cjson
  local s, path, problem, a, b
  if type(cj) == "table" then
    s, path, problem, a, b = encode_c(value, cj.null, cj.array_mt, cj.empty_array)
  else
    s, path, problem, a, b = encode_c(value)
  end
  if s then return s end
  local ptr = pointer(path)
  local msg = problems[problem](a, b)
  return nil, errors.new("usage", {
    message = (ptr ~= "" and (ptr .. ": ") or "") .. msg,
    pointer = ptr,
  })
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
