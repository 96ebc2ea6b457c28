--- Check PayScore requests (and answers) against `wechatpay.payscore.schema`, before anything is signed or sent.
--
-- The same module runs in the client (Lua 5.4 or LuaJIT) and inside the sandbox (nginx, LuaJIT): pure Lua, no C
-- core, no `utf8` library, no `math.type` requirement. The schema is compiled once at load; a validation allocates
-- only the result lists (and a normalised copy of the query parameters of GET endpoints). Each string field
-- remembers the last value that passed its checks (see check_string), so the values a merchant sends again and again
-- (appid, service_id, descriptions) are not counted again; results never depend on it.
--
-- ## API
--
--     local validate = require "wechatpay.payscore.validate"
--
--     local ep, params = validate.find("POST", "/v3/payscore/serviceorder/N1/cancel?x=1")
--     -- ep: the schema endpoint table (ep.id == "E3", ep.name == "cancel", ep.path, ep.method, ...) or nil when
--     --     the method and path are not a merchant PayScore endpoint (E1-E15, with the /v3 aliases of §11).
--     --     The path is taken as sent (percent-encoded; a query string and a fragment are ignored).
--     -- params: the path parameters, percent-decoded: { out_order_no = "N1" }.
--
--     local ok, problems, warnings = validate.request(ep_or_id, {
--       json = <table>,               -- the body as a Lua table (nil: no body)
--       query = <table or string>,    -- query parameters; a string is parsed (k=v&..., percent-decoded)
--       params = <table>,             -- path parameters by name (extra keys are ignored), or:
--       path = "/v3/...",             -- the path as sent: path parameters (and a query string) taken from it
--     })
--     -- ep_or_id: an endpoint from find() or schema.endpoints, or its id ("E3") or name ("cancel").
--     -- ok: true when there is no problem. problems: array of violations, every one, in a deterministic order
--     --     (path, query, then body in schema order, cross-field rules after the fields of their object):
--     --       { pointer = "/post_payments/0/amount", rule = "integer", location = "body",
--     --         message = "must be an integer number of fen, got 400.5", value = 400.5 }
--     --     `pointer` is an RFC 6901 JSON Pointer into the body (array indexes from 0; "" is the body itself), or the
--     --     parameter's name for location "query" / "path" (as payscore.md §9.1's detail.field).
--     --     `rule` is a field constraint (required type integer min max min_length max_length enum format charset
--     --     min_items max_items utf8) or the id of a cross-field rule of the schema (e.g. "total_amount_sum").
--     -- warnings: same shape, rule "unknown_field" (not documented for this endpoint: the API grows, so it is sent
--     --     as is) or "null" (a JSON null, treated as absent).
--     -- When neither `params` nor `path` is given, path parameters are not checked.
--
--     local ok, problems, warnings, ep = validate.check(method, path_or_target, opts)
--     -- find() + request() in one; for a path that is no PayScore endpoint: true, {}, {}, nil.
--
--     validate.format(problems)
--     -- "/post_payments/0/amount: must be an integer number of fen, got 400.5; /service_introduction: at most 20
--     --  characters, got 21" (query and path problems read "query parameter query_id: ...").
--
--     validate.param_error(problem)
--     -- the sandbox's answer body for one problem (payscore.md §9.1), to send with HTTP 400:
--     -- { code = "PARAM_ERROR", message = "参数错误" (or the real API's message for that rule),
--     --   detail = { field = pointer, value = <the value, when it is a JSON scalar>, issue = message,
--     --              location = "body" | "query" | "path" } }
--
--     local ok, problems, warnings = validate.response(ep_or_id, data)
--     -- an answer's decoded body against the documented answer fields: JSON types of every documented field (nested
--     -- objects and arrays included) and the top-level fields documented as always present; unknown fields are
--     -- warnings. Lengths, formats, enums and rules are not applied to answers.
--
--     validate.routes      -- { { method =, pattern = "^/v3/payscore/serviceorder/([^/]+)/cancel$", id =, template =,
--                          --     params = { "out_order_no" } }, ... } for routers (the sandbox)
--     validate.endpoints   -- schema.endpoints;  validate.schema -- the schema module
--
-- Values: strings are counted in characters (UTF-8 code points) and must be valid UTF-8 with 1-3-byte sequences;
-- integers must be integral numbers (an integral float such as 40000.0 is the integer 40000, the JSON encoder writes
-- it so; 400.5, NaN and ±inf are refused) within ±(2^53 − 1); JSON null (`wechatpay.codec.json`'s `json.null`,
-- lua-cjson's / OpenResty's `null`) counts as absent; the JSON codec's array/object markers are honoured.
-- Query parameters: an empty value counts as not given (the official query example sends `query_id=`), integers
-- are accepted for string parameters (they are sent as digits).

local schema = require "wechatpay.payscore.schema"

local type, next, tostring, tonumber, error, ipairs, getmetatable, rawget =
  type, next, tostring, tonumber, error, ipairs, getmetatable, rawget
local byte, find, sub, format, gsub, upper, lower, match, char =
  string.byte, string.find, string.sub, string.format, string.gsub, string.upper, string.lower, string.match,
  string.char
local concat, sort = table.concat, table.sort
local mtype = math.type -- nil on LuaJIT
local utf8_len = rawget(_G, "utf8") and utf8.len -- Lua 5.4's, in C; nil on LuaJIT (the loop of ulen does it)
local huge = math.huge

local M = {}

M.schema = schema
M.endpoints = schema.endpoints

local MAX_SAFE = 9007199254740991 -- 2^53 - 1, as the JSON encoder
local EMPTY = setmetatable({}, { __newindex = function() error("validate: shared empty table", 2) end })

-- ------------------------------------------------------------------------------------------------------------------
-- JSON markers of the codecs that may have produced the tables (looked up lazily, never required here)

local NULLS = {}       -- values that mean JSON null
local ARRAY_MTS = {}   -- metatables that mark a table as an array
local OBJECT_MTS = {}  -- metatables that mark a table as an object
local EMPTY_ARRAYS = {} -- non-table empty-array markers (lua-cjson's lightuserdata)
local seen_json, seen_cjson, seen_cjson_safe, seen_ngx

local function mark_codec(j)
  if j.null ~= nil then NULLS[j.null] = true end
  if type(j.array_mt) == "table" then ARRAY_MTS[j.array_mt] = true end
  if type(j.object_mt) == "table" then OBJECT_MTS[j.object_mt] = true end
  local ea, eo = j.empty_array, j.empty_object
  if type(ea) == "table" then
    local mt = getmetatable(ea)
    if type(mt) == "table" then ARRAY_MTS[mt] = true end
  elseif ea ~= nil then
    EMPTY_ARRAYS[ea] = true
  end
  if type(eo) == "table" then
    local mt = getmetatable(eo)
    if type(mt) == "table" then OBJECT_MTS[mt] = true end
  end
end

local loaded = package.loaded
local function refresh_markers()
  local j = loaded["wechatpay.codec.json"]
  if j ~= seen_json then seen_json = j; if type(j) == "table" then mark_codec(j) end end
  j = loaded.cjson
  if j ~= seen_cjson then seen_cjson = j; if type(j) == "table" then mark_codec(j) end end
  j = loaded["cjson.safe"]
  if j ~= seen_cjson_safe then seen_cjson_safe = j; if type(j) == "table" then mark_codec(j) end end
  j = rawget(_G, "ngx")
  if j ~= seen_ngx then seen_ngx = j; if type(j) == "table" and j.null ~= nil then NULLS[j.null] = true end end
end
M.refresh_markers = refresh_markers

-- ------------------------------------------------------------------------------------------------------------------
-- Values

-- Length of s in UTF-8 code points, or nil, byte position, reason ("invalid" | "4byte"), code point (4byte).
-- Accepts RFC 3629 UTF-8 without overlong forms and surrogates; 4-byte sequences are valid UTF-8 but refused by
-- the API (§1.1), so they are reported as such.
local function ulen(s)
  local n = #s
  if utf8_len then
    -- Lua 5.4's strict utf8.len (C) refuses overlong forms, surrogates and code points above U+10FFFF like the loop
    -- below; it accepts 4-byte sequences, which the API refuses. On failure the loop finds the position and reason.
    -- (the anchored, negated classes below scan once; an unanchored find("[\240-\255]") restarts the matcher at
    -- every byte and costs about twice as much)
    local count = utf8_len(s)
    if count == n or (count and find(s, "^[^\240-\255]*$")) then return count end
  elseif find(s, "^[^\128-\255]*$") then
    return n
  end
  local i, count = 1, 0
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      i = i + 1
    elseif c >= 0xC2 and c <= 0xDF then
      local c2 = byte(s, i + 1)
      if not c2 or c2 < 0x80 or c2 > 0xBF then return nil, i, "invalid" end
      i = i + 2
    elseif c >= 0xE0 and c <= 0xEF then
      local c2, c3 = byte(s, i + 1, i + 2)
      if not c3 or c3 < 0x80 or c3 > 0xBF or not c2
        or (c == 0xE0 and (c2 < 0xA0 or c2 > 0xBF))
        or (c == 0xED and (c2 < 0x80 or c2 > 0x9F))
        or c2 < 0x80 or c2 > 0xBF then
        return nil, i, "invalid"
      end
      i = i + 3
    elseif c >= 0xF0 and c <= 0xF4 then
      local c2, c3, c4 = byte(s, i + 1, i + 3)
      if not c4 or c2 < 0x80 or c2 > 0xBF or c3 < 0x80 or c3 > 0xBF or c4 < 0x80 or c4 > 0xBF
        or (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F) then
        return nil, i, "invalid"
      end
      local cp = (c - 0xF0) * 0x40000 + (c2 - 0x80) * 0x1000 + (c3 - 0x80) * 0x40 + (c4 - 0x80)
      return nil, i, "4byte", cp
    else
      return nil, i, "invalid"
    end
    count = count + 1
  end
  return count
end
M.utf8_len = ulen

--- s made safe to show (valid UTF-8): other bytes as \xNN.
local function safe_text(s)
  if ulen(s) then return s end
  return (gsub(s, "[\128-\255]", function(b) return format("\\x%02X", byte(b)) end))
end

--- At most max characters of a valid UTF-8 string, with "…" when cut.
local function excerpt(s, max)
  if #s <= max then return s end
  local n = max
  while n > 0 do
    local b = byte(s, n + 1)
    if not b or b < 0x80 or b >= 0xC0 then break end
    n = n - 1
  end
  return sub(s, 1, n) .. "…"
end

local function fmt_num(v)
  if mtype and mtype(v) == "integer" then return format("%d", v) end
  if v ~= v then return "nan" end
  if v == huge then return "inf" elseif v == -huge then return "-inf" end
  if v % 1 == 0 and v > -1e15 and v < 1e15 then return format("%.0f", v) end
  local s = format("%.14g", v)
  if tonumber(s) ~= v then s = format("%.17g", v) end
  return s
end

local function quote(s)
  return '"' .. excerpt(safe_text(s), 60) .. '"'
end

-- "string \"x\"", "number 1.5", "boolean true", "an object", "an array", "userdata"
local function describe(v)
  local tv = type(v)
  if tv == "string" then return "string " .. quote(v)
  elseif tv == "number" then return "number " .. fmt_num(v)
  elseif tv == "boolean" then return "boolean " .. tostring(v)
  elseif tv == "table" or tv == "userdata" then
    if NULLS[v] then return "null" end
    if EMPTY_ARRAYS[v] then return "an array" end
    if tv == "userdata" then return "userdata" end
    local mt = getmetatable(v)
    if (mt and ARRAY_MTS[mt]) or v[1] ~= nil then return "an array" end
    if mt and OBJECT_MTS[mt] then return "an object" end
    if next(v) == nil then return "an empty table" end
    return "an object"
  end
  return tv
end

local function integral(v)
  if mtype and mtype(v) == "integer" then return v >= -MAX_SAFE and v <= MAX_SAFE end
  return v == v and v ~= huge and v ~= -huge and v % 1 == 0 and v >= -MAX_SAFE and v <= MAX_SAFE
end

-- true if the table is marked or shaped as an array (for object fields)
local function array_like(t)
  local mt = getmetatable(t)
  if mt ~= nil and ARRAY_MTS[mt] then return true end
  return t[1] ~= nil
end

-- number of elements if v is an array (a sequence 1..n, an array-marked table, an empty-array marker), else nil
local function array_len(v)
  if type(v) ~= "table" then
    if v ~= nil and EMPTY_ARRAYS[v] then return 0 end
    return nil
  end
  local mt = getmetatable(v)
  if mt ~= nil and OBJECT_MTS[mt] then return nil end
  local n = #v
  local c = 0
  for _ in next, v do c = c + 1 end
  if c ~= n then return nil end
  return n
end

local function is_null(v)
  local tv = type(v)
  return (tv == "table" or tv == "userdata") and NULLS[v] == true
end

-- ------------------------------------------------------------------------------------------------------------------
-- Formats

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function date_ok(y, m, d)
  if m < 1 or m > 12 or d < 1 then return false end
  local dim = DAYS[m]
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then dim = 29 end
  return d <= dim
end

-- Digits are tested byte by byte (a Lua `%d` is an ASCII digit: C's isdigit is 0-9 in every locale), which costs a
-- fraction of a match() with six captures and six tonumber() calls; the results are the same.
local FORMAT_CHECK = {
  time14 = function(s)
    if #s ~= 14 then return false end
    local b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14 = byte(s, 1, 14)
    if b1 < 48 or b1 > 57 or b2 < 48 or b2 > 57 or b3 < 48 or b3 > 57 or b4 < 48 or b4 > 57
      or b5 < 48 or b5 > 57 or b6 < 48 or b6 > 57 or b7 < 48 or b7 > 57 or b8 < 48 or b8 > 57
      or b9 < 48 or b9 > 57 or b10 < 48 or b10 > 57 or b11 < 48 or b11 > 57 or b12 < 48 or b12 > 57
      or b13 < 48 or b13 > 57 or b14 < 48 or b14 > 57 then
      return false
    end
    return date_ok(b1 * 1000 + b2 * 100 + b3 * 10 + b4 - 53328, b5 * 10 + b6 - 528, b7 * 10 + b8 - 528)
      and b9 * 10 + b10 - 528 < 24 and b11 * 10 + b12 - 528 < 60 and b13 * 10 + b14 - 528 < 60
  end,
  time8 = function(s)
    if #s ~= 8 then return false end
    local b1, b2, b3, b4, b5, b6, b7, b8 = byte(s, 1, 8)
    if b1 < 48 or b1 > 57 or b2 < 48 or b2 > 57 or b3 < 48 or b3 > 57 or b4 < 48 or b4 > 57
      or b5 < 48 or b5 > 57 or b6 < 48 or b6 > 57 or b7 < 48 or b7 > 57 or b8 < 48 or b8 > 57 then
      return false
    end
    return date_ok(b1 * 1000 + b2 * 100 + b3 * 10 + b4 - 53328, b5 * 10 + b6 - 528, b7 * 10 + b8 - 528)
  end,
  OnAccept = function(s) return s == "OnAccept" end,
  rfc3339 = function(s)
    local y, m, d, hh, mi, ss, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$")
    if not y then return false end
    if not date_ok(tonumber(y), tonumber(m), tonumber(d)) or tonumber(hh) > 23 or tonumber(mi) > 59
      or tonumber(ss) > 59 then
      return false
    end
    rest = gsub(rest, "^%.%d+", "")
    return rest == "Z" or find(rest, "^[+-]%d%d:%d%d$") ~= nil
  end,
  notify_url = function(s)
    -- (anchored and negated: the same test as `find(s, "[%s%c?#]")`, in one scan)
    if not find(s, "^[^%s%c?#]*$") then return false end
    -- the common case, decided as the general one below would: scheme "https", a non-empty host
    if sub(s, 1, 8) == "https://" then
      local b = byte(s, 9)
      if b and b ~= 47 then return true end
    end
    local scheme, host = match(s, "^(%a[%w+.%-]*)://([^/]+)")
    if not scheme then return false end
    scheme = lower(scheme)
    if scheme == "https" then return true end
    if scheme ~= "http" then return false end
    host = gsub(lower(host), ":%d+$", "")
    return host == "127.0.0.1" or host == "localhost" or host == "[::1]"
  end,
}

local function time_precision(s)
  if type(s) ~= "string" then return nil end
  if #s == 14 and FORMAT_CHECK.time14(s) then return 14 end
  if #s == 8 and FORMAT_CHECK.time8(s) then return 8 end
  return nil
end

-- ------------------------------------------------------------------------------------------------------------------
-- Problems

-- The path of the value being checked: STACK[1..depth] (strings: object keys; numbers: 0-based array indexes).
-- Validation never yields or calls back into user code, so one module-level stack is safe (also in nginx).
local STACK = {}

local function esc(seg)
  if type(seg) == "number" then return format("%d", seg) end
  seg = safe_text(tostring(seg))
  if find(seg, "[~/]") then seg = gsub(gsub(seg, "~", "~0"), "/", "~1") end
  return seg
end

local function pointer(ctx, depth, last)
  if ctx.loc ~= "body" then
    return safe_text(tostring(last or STACK[depth] or ""))
  end
  local parts = {}
  for i = 1, depth do parts[i] = esc(STACK[i]) end
  if last ~= nil then parts[depth + 1] = esc(last) end
  if #parts == 0 then return "" end
  return "/" .. concat(parts, "/")
end

local function problem(ctx, depth, last, rule, message, value)
  local list = ctx.problems
  list[#list + 1] = { pointer = pointer(ctx, depth, last), rule = rule, message = message, value = value,
    location = ctx.loc }
end

local function warning(ctx, depth, last, rule, message, value)
  local list = ctx.warnings
  list[#list + 1] = { pointer = pointer(ctx, depth, last), rule = rule, message = message, value = value,
    location = ctx.loc }
end

-- ------------------------------------------------------------------------------------------------------------------
-- Compilation of the schema

local KINDS = { string = true, integer = true, boolean = true, object = true, array = true }
local RULE_KINDS = { required_if = true, exactly_one = true, requires = true, together = true, at_least_one = true,
  sum = true, unique = true, time_order = true }

local NODES = {} -- compiled types by name

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function or_list(list)
  if #list == 1 then return list[1] end
  return concat(list, ", ", 1, #list - 1) .. " or " .. list[#list]
end

local compile_node -- forward

local function compile_field(f, where)
  if type(f.name) ~= "string" then error("schema: field without a name in " .. where) end
  if not KINDS[f.type] then error(format("schema: %s.%s: unknown type %s", where, f.name, tostring(f.type))) end
  local cf = { name = f.name, kind = f.type, def = f,
    required = f.required == true, cond = type(f.required) == "string" and f.required or nil }
  local what = where .. "." .. f.name
  if f.type == "string" then
    cf.max = f.max
    cf.min_len = f.min_len or (f.required == true and 1 or nil)
    if f.enum then cf.enum = set_of(f.enum); cf.enum_text = concat(f.enum, ", ") end
    if f.formats then
      local checks, texts = {}, {}
      for i, name in ipairs(f.formats) do
        local fdef = schema.formats[name]
        if not fdef or not FORMAT_CHECK[name] then
          error("schema: " .. what .. ": unknown format " .. tostring(name))
        end
        checks[i] = FORMAT_CHECK[name]
        texts[i] = fdef.text
      end
      cf.formats = checks
      cf.formats_text = or_list(texts)
    end
    if f.charset then
      local cs = schema.charsets[f.charset]
      if not cs then error("schema: " .. what .. ": unknown charset " .. tostring(f.charset)) end
      cf.charset, cf.charset_text = cs.pattern, cs.text
    end
    cf.more = (cf.enum or cf.formats or cf.charset) and true or false -- any check beyond the length
    -- check_string() remembers the last value of this field that passed (see there), unless a check depends on the
    -- C locale (the character classes %a %c %s %w ... of notify_url and of a charset pattern: os.setlocale() may
    -- change their answer between two calls)
    local locale_free = not (f.charset and find(cf.charset, "%%[aAcCgGlLpPsSuUwW]"))
    for _, name in ipairs(f.formats or EMPTY) do
      if name == "notify_url" then locale_free = false end
    end
    cf.memo = locale_free
  elseif f.type == "integer" then
    cf.min, cf.maxv = f.min, f.max
    cf.what = f.unit == "fen" and "an integer number of fen" or "an integer"
  elseif f.type == "object" or f.type == "array" then
    local tname = f.type == "object" and f.object or f.items
    if type(tname) ~= "string" or not schema.types[tname] then
      error("schema: " .. what .. ": unknown object type " .. tostring(tname))
    end
    cf.type_name = tname
    cf.min_items, cf.max_items = f.min_items, f.max_items
  end
  return cf
end

local compile_rule -- forward

-- fields: array of field definitions; rules: array of rule definitions (or nil); where: a name for messages
function compile_node(fields, rules, where)
  local node = { fields = {}, known = {}, rules = {}, runs = {}, where = where }
  for i, f in ipairs(fields or EMPTY) do
    local cf = compile_field(f, where)
    node.fields[i] = cf
    node.known[cf.name] = cf
  end
  local ids = {}
  for _, r in ipairs(rules or EMPTY) do
    local rule = compile_rule(r, where, node)
    node.rules[#node.rules + 1] = rule
    node.runs[#node.runs + 1] = rule.run
    ids[r.id] = true
  end
  for _, cf in ipairs(node.fields) do
    if cf.cond and not ids[cf.cond] then
      error(format("schema: %s.%s: required = %q names no rule of its scope", where, cf.name, cf.cond))
    end
  end
  return node
end

local function node_of_type(name)
  local n = NODES[name]
  if n then return n end
  local t = schema.types[name]
  n = compile_node(t.fields, t.rules, name)
  NODES[name] = n
  return n
end

-- Is v (a member of an object) present: not nil, not JSON null.
local function present(v)
  if v == nil then return false end
  local tv = type(v)
  if (tv == "table" or tv == "userdata") and NULLS[v] then return false end
  return true
end

local function cond_text(w)
  if w.present then return w.field .. " is given" end
  if w.gt ~= nil then return format("%s > %s", w.field, tostring(w.gt)) end
  return format("%s is %s", w.field, type(w.equals) == "string" and w.equals or tostring(w.equals))
end

-- sum of arr[i][member] over an array; nil when the array or a member is malformed (reported elsewhere)
local function sum_of(arr, member)
  if arr == nil or is_null(arr) then return 0 end
  local n = array_len(arr)
  if not n then return nil end
  local s = 0
  for i = 1, n do
    local e = arr[i]
    if type(e) ~= "table" then return nil end
    local a = e[member]
    if present(a) then
      if type(a) ~= "number" or not integral(a) then return nil end
      s = s + a
    end
  end
  return s
end

function compile_rule(r, where, node)
  if type(r.id) ~= "string" or not RULE_KINDS[r.kind] then
    error(format("schema: %s: bad rule %s (kind %s)", where, tostring(r.id), tostring(r.kind)))
  end
  local id, kind = r.id, r.kind
  local run
  if kind == "required_if" then
    local field, w = r.field, r.when
    local msg = "is required when " .. cond_text(w)
    run = function(ctx, obj, depth)
      local c = obj[w.field]
      if not present(c) then c = w.default end
      local hit
      if w.present then hit = c ~= nil
      elseif w.gt ~= nil then hit = type(c) == "number" and c > w.gt
      else hit = c == w.equals end
      if hit and not present(obj[field]) then problem(ctx, depth, field, id, msg) end
    end
  elseif kind == "exactly_one" then
    local a, b = r.fields[1], r.fields[2]
    if #r.fields ~= 2 then error("schema: " .. where .. ": exactly_one takes two fields") end
    run = function(ctx, obj, depth)
      local pa, pb = present(obj[a]), present(obj[b])
      if not pa and not pb then
        problem(ctx, depth, a, id, format("exactly one of %s and %s is required, got neither", a, b))
      elseif pa and pb then
        problem(ctx, depth, b, id, format("must not be sent together with %s (exactly one of them)", a), obj[b])
      end
    end
  elseif kind == "requires" then
    local field, needs = r.field, r.needs
    local msg = "is allowed only together with " .. needs
    run = function(ctx, obj, depth)
      -- present(), inline: these rules run for every object of their type
      local x = obj[field]
      if x == nil or (NULLS[x] and (type(x) == "table" or type(x) == "userdata")) then return end
      local y = obj[needs]
      if y == nil or (NULLS[y] and (type(y) == "table" or type(y) == "userdata")) then
        problem(ctx, depth, field, id, msg, x)
      end
    end
  elseif kind == "together" then
    local a, b = r.fields[1], r.fields[2]
    run = function(ctx, obj, depth)
      local x, y = obj[a], obj[b]
      local pa = x ~= nil and not (NULLS[x] and (type(x) == "table" or type(x) == "userdata"))
      local pb = y ~= nil and not (NULLS[y] and (type(y) == "table" or type(y) == "userdata"))
      if pa and not pb then
        problem(ctx, depth, b, id, "is required together with " .. a)
      elseif pb and not pa then
        problem(ctx, depth, a, id, "is required together with " .. b)
      end
    end
  elseif kind == "at_least_one" then
    local when, fields = r.when_present, r.fields
    local msg = format("%s is required when %s is given", or_list(fields), when)
    run = function(ctx, obj, depth)
      local x = obj[when]
      if x == nil or (NULLS[x] and (type(x) == "table" or type(x) == "userdata")) then return end
      for i = 1, #fields do
        x = obj[fields[i]]
        if x ~= nil and not (NULLS[x] and (type(x) == "table" or type(x) == "userdata")) then return end
      end
      problem(ctx, depth, fields[1], id, msg)
    end
  elseif kind == "sum" then
    local field, add, subt = r.field, r.add, r.sub
    local formula = format("Σ%s[].%s - Σ%s[].%s", add[1], add[2], subt[1], subt[2])
    run = function(ctx, obj, depth)
      local t = obj[field]
      if type(t) ~= "number" or not integral(t) then return end
      local sa = sum_of(obj[add[1]], add[2])
      local ss = sum_of(obj[subt[1]], subt[2])
      if not sa or not ss then return end
      if t ~= sa - ss then
        problem(ctx, depth, field, id, format("must equal %s = %s (%s - %s; count is not multiplied), got %s",
          formula, fmt_num(sa - ss), fmt_num(sa), fmt_num(ss), fmt_num(t)), t)
      end
    end
  elseif kind == "unique" then
    local arr_name, member = r.array, r.member
    local except = set_of(r.except or EMPTY)
    run = function(ctx, obj, depth)
      local arr = obj[arr_name]
      local n = type(arr) == "table" and array_len(arr)
      if not n or n < 2 then return end
      local seen
      for i = 1, n do
        local e = arr[i]
        local v = type(e) == "table" and e[member]
        if type(v) == "string" and not except[v] then
          seen = seen or {}
          local first = seen[v]
          if first then
            STACK[depth + 1] = arr_name
            STACK[depth + 2] = i - 1
            local first_ptr = pointer(ctx, depth) .. "/" .. esc(arr_name) .. "/" .. first .. "/" .. esc(member)
            problem(ctx, depth + 2, member, id, format("duplicate %s %s (same as %s)", member, quote(v), first_ptr), v)
          else
            seen[v] = i - 1
          end
        end
      end
    end
  elseif kind == "time_order" then
    local start, finish = r.start, r.finish
    local ms, mps, mf, mpf -- the last string of each side and its precision (a function of the string alone)
    run = function(ctx, obj, depth)
      local s, f = obj[start], obj[finish]
      local ps, pf
      if s == ms and s ~= nil then ps = mps else
        ps = time_precision(s)
        if type(s) == "string" then ms, mps = s, ps end
      end
      if f == mf and f ~= nil then pf = mpf else
        pf = time_precision(f)
        if type(f) == "string" then mf, mpf = f, pf end
      end
      if not ps or ps ~= pf then return end
      if ps == 14 and f <= s then
        problem(ctx, depth, finish, id, format("must be after %s (%s), got %s", start, s, f), f)
      elseif ps == 8 and f < s then
        problem(ctx, depth, finish, id, format("must not be before %s (%s), got %s", start, s, f), f)
      end
    end
  end
  local each = r.each
  if each then
    if not node.known[each] or node.known[each].kind ~= "array" then
      error(format("schema: %s: rule %s: each = %s is not an array field", where, id, tostring(each)))
    end
    local inner = run
    run = function(ctx, obj, depth)
      local arr = obj[each]
      local n = type(arr) == "table" and array_len(arr)
      if not n then return end
      STACK[depth + 1] = each
      for i = 1, n do
        local e = arr[i]
        if type(e) == "table" and not array_like(e) then
          STACK[depth + 2] = i - 1
          inner(ctx, e, depth + 2)
        end
      end
    end
  end
  return { id = id, def = r, run = run, location = r.location or "body" }
end

-- ------------------------------------------------------------------------------------------------------------------
-- Checking

local check_object -- forward

-- Memo: the checks of a string field are a function of the value alone, so the last value that passed them all is
-- kept in cf.ok (one per field, at most MEMO_MAX bytes) and a repeated value (the same appid, service_id,
-- descriptions... request after request) is accepted without counting it again. A value that fails is never kept:
-- its problems are built every time.
local MEMO_MAX = 256

local function check_string(ctx, cf, v, depth)
  if v == cf.ok then return end
  local list = ctx.problems
  local before = #list
  -- ulen()'s fast paths, inline (no call for the common valid string); ulen() itself finds the reason of a failure
  local n
  if utf8_len then
    n = utf8_len(v)
    if n and n ~= #v and not find(v, "^[^\240-\255]*$") then n = nil end
  elseif find(v, "^[^\128-\255]*$") then
    n = #v
  end
  local pos, why, cp
  if not n then n, pos, why, cp = ulen(v) end
  if not n then
    if why == "4byte" then
      problem(ctx, depth, nil, "utf8", format("contains a 4-byte UTF-8 character (U+%X at byte %d): the API " ..
        "accepts only 1-3-byte characters (no emoji)", cp, pos), v)
    else
      problem(ctx, depth, nil, "utf8", format("must be valid UTF-8 (invalid byte 0x%02X at byte %d)",
        byte(v, pos), pos), v)
    end
    return
  end
  local min_len = cf.min_len
  if min_len and n < min_len then
    if n == 0 then
      problem(ctx, depth, nil, "min_length", "must not be empty", v)
    else
      problem(ctx, depth, nil, "min_length", format("at least %d characters, got %d", min_len, n), v)
    end
    return
  end
  local max = cf.max
  if max and n > max then
    problem(ctx, depth, nil, "max_length", format("at most %d characters, got %d", max, n), v)
  end
  if not cf.more then
    if cf.memo and #list == before and #v <= MEMO_MAX then cf.ok = v end
    return
  end
  if cf.enum and not cf.enum[v] then
    problem(ctx, depth, nil, "enum", format("must be one of %s, got %s", cf.enum_text, quote(v)), v)
  end
  local checks = cf.formats
  if checks then
    local ok = false
    for i = 1, #checks do if checks[i](v) then ok = true; break end end
    if not ok then
      problem(ctx, depth, nil, "format", format("must be %s, got %s", cf.formats_text, quote(v)), v)
    end
  end
  if cf.charset and not find(v, cf.charset) then
    problem(ctx, depth, nil, "charset", format("may contain only %s, got %s", cf.charset_text, quote(v)), v)
  end
  if cf.memo and #list == before and #v <= MEMO_MAX then cf.ok = v end
end

-- v is present (not nil, not null); STACK[depth] is its key
local function check_value(ctx, cf, v, depth)
  local kind, tv = cf.kind, type(v)
  if kind == "string" then
    if tv ~= "string" then
      return problem(ctx, depth, nil, "type", "must be a string, got " .. describe(v), v)
    end
    if not ctx.response then check_string(ctx, cf, v, depth) end
  elseif kind == "integer" then
    if tv ~= "number" then
      return problem(ctx, depth, nil, "type", format("must be %s, got %s", cf.what, describe(v)), v)
    end
    if not integral(v) then
      local why = (v ~= v or v == huge or v == -huge or v % 1 ~= 0) and "" or " within ±(2^53 − 1)"
      return problem(ctx, depth, nil, "integer", format("must be %s%s, got %s", cf.what, why, fmt_num(v)), v)
    end
    if ctx.response then return end
    if cf.min and v < cf.min then
      problem(ctx, depth, nil, "min", format("must be at least %d, got %s", cf.min, fmt_num(v)), v)
    end
    if cf.maxv and v > cf.maxv then
      problem(ctx, depth, nil, "max", format("must be at most %d, got %s", cf.maxv, fmt_num(v)), v)
    end
  elseif kind == "boolean" then
    if tv ~= "boolean" then
      problem(ctx, depth, nil, "type", "must be a boolean (true or false), got " .. describe(v), v)
    end
  elseif kind == "object" then
    if tv ~= "table" or array_like(v) then
      return problem(ctx, depth, nil, "type", "must be an object, got " .. describe(v), v)
    end
    local node = cf.node
    if not node then node = node_of_type(cf.type_name); cf.node = node end
    check_object(ctx, node, v, depth)
  else -- array
    local n = array_len(v)
    if not n then
      return problem(ctx, depth, nil, "type", "must be an array, got " .. describe(v), v)
    end
    if not ctx.response then
      if cf.min_items and n < cf.min_items then
        problem(ctx, depth, nil, "min_items", format("must have at least %d item%s, got %d", cf.min_items,
          cf.min_items == 1 and "" or "s", n))
      end
      if cf.max_items and n > cf.max_items then
        problem(ctx, depth, nil, "max_items", format("must have at most %d items, got %d", cf.max_items, n))
      end
    end
    local node = cf.node
    if not node then node = node_of_type(cf.type_name); cf.node = node end
    for i = 1, n do
      local e = v[i]
      STACK[depth + 1] = i - 1
      if type(e) ~= "table" or array_like(e) or NULLS[e] then
        problem(ctx, depth + 1, nil, "type", "must be an object, got " .. (is_null(e) and "null" or describe(e)), e)
      else
        check_object(ctx, node, e, depth + 1)
      end
    end
  end
end

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "string" or ta == "number" then return a < b end
  return tostring(a) < tostring(b)
end

-- obj is a table (an object); STACK[1..depth] is its path
function check_object(ctx, node, obj, depth)
  local fields = node.fields
  local response = ctx.response
  local d1 = depth + 1
  for i = 1, #fields do
    local cf = fields[i]
    local name = cf.name
    local v = obj[name]
    STACK[d1] = name
    local tv = type(v)
    if tv == "string" then
      -- the common case first (a string can be no JSON null)
      if cf.kind ~= "string" then
        check_value(ctx, cf, v, d1)
      elseif not response and v ~= cf.ok then -- (cf.ok: see check_string)
        check_string(ctx, cf, v, d1)
      end
    elseif tv == "number" and cf.kind == "integer" and v % 1 == 0 and v >= -MAX_SAFE and v <= MAX_SAFE
      and (response or ((not cf.min or v >= cf.min) and (not cf.maxv or v <= cf.maxv))) then -- luacheck: ignore 542
      -- a valid integer (integral(v) and the bounds, inline; NaN and ±inf fail v % 1 == 0 or the range): nothing to
      -- record. Anything else goes to check_value, which finds the problem.
    elseif tv == "boolean" and cf.kind == "boolean" then -- luacheck: ignore 542
      -- a valid boolean
    else
      if (tv == "table" or tv == "userdata") and NULLS[v] then
        warning(ctx, d1, nil, "null", "is JSON null: treated as absent (the API does not accept null)")
        v = nil
      end
      if v == nil then
        if cf.required and (not response or depth == 0) then
          problem(ctx, d1, nil, "required", "is required")
        end
      else
        check_value(ctx, cf, v, d1)
      end
    end
  end
  local known, extra = node.known, nil
  for k in next, obj do
    if known[k] == nil then extra = extra or {}; extra[#extra + 1] = k end
  end
  if extra then
    sort(extra, key_less)
    local bad_key
    for i = 1, #extra do
      local k = extra[i]
      if type(k) ~= "string" then
        bad_key = bad_key or k
      else
        local v = obj[k]
        warning(ctx, depth, k, "unknown_field", format("is not a documented field of %s (sent as is)",
          depth == 0 and ctx.id or node.where), v)
      end
    end
    if bad_key ~= nil then
      problem(ctx, depth, nil, "type", "must be an object with string keys only, got key " ..
        (type(bad_key) == "number" and fmt_num(bad_key) or tostring(bad_key)), nil)
    end
  end
  if not response then
    local runs = node.runs
    for i = 1, #runs do runs[i](ctx, obj, depth) end
  end
end

local function percent_decode(s)
  if not find(s, "%", 1, true) then return s end
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end
M.percent_decode = percent_decode

--- Parse a query string ("a=1&b=x%20y") into { a = "1", b = "x y" }; a repeated key gives a list of its values;
-- a key without "=" gets "". A leading "?" is ignored.
function M.parse_query(qs)
  local t = {}
  if type(qs) ~= "string" then return t end
  qs = gsub(qs, "^%?", "")
  for pair in qs:gmatch("[^&]+") do
    local k, v = match(pair, "^([^=]*)=?(.*)$")
    k = percent_decode((gsub(k, "%+", " ")))
    v = percent_decode((gsub(v, "%+", " ")))
    local old = t[k]
    if old == nil then t[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else t[k] = { old, v } end
  end
  return t
end

-- Query or path parameters: flat, string-typed. Returns the normalised table (absent: empty values).
local function check_params(ctx, node, given, is_query)
  local norm = {}
  local fields = node.fields
  for i = 1, #fields do
    local cf = fields[i]
    local name = cf.name
    local v = given[name]
    STACK[1] = name
    local tv = type(v)
    if tv == "number" and integral(v) then
      v = fmt_num(v)
      tv = "string"
    end
    if v == nil or v == "" or (is_query and is_null(v)) then
      if cf.required then
        problem(ctx, 1, nil, "required", v == "" and "is required (got an empty value)" or "is required", v)
      end
    elseif tv == "table" and not is_null(v) and v[1] ~= nil then
      norm[name] = v -- given, though wrongly: present for the cross-field rules
      problem(ctx, 1, nil, "type", "must be given once, got a list of values", v)
    elseif tv ~= "string" then
      norm[name] = v
      problem(ctx, 1, nil, "type", "must be a string, got " .. describe(v), v)
    else
      norm[name] = v
      check_string(ctx, cf, v, 1)
    end
  end
  if is_query then
    local known, extra = node.known, nil
    for k in next, given do
      if known[k] == nil then extra = extra or {}; extra[#extra + 1] = k end
    end
    if extra then
      sort(extra, key_less)
      for i = 1, #extra do
        local k = extra[i]
        warning(ctx, 1, tostring(k), "unknown_field", format("is not a documented query parameter of %s (sent as is)",
          ctx.id), given[k])
      end
    end
  end
  return norm
end

-- ------------------------------------------------------------------------------------------------------------------
-- Endpoints and routes

local COMPILED = {}   -- by id
local BY_NAME = {}    -- compiled by name
local BY_DEF = {}     -- compiled by schema endpoint table
local EXACT = {}      -- "METHOD path" -> compiled (templates without parameters)
local PATTERNS = {}   -- { method, pattern, c, names }
M.routes = {}

local function lua_pattern(template)
  local names = {}
  local pat = gsub(template, "([^{}]*)({?)([%w_]*)(}?)", function(lit, open, name, close)
    local out = gsub(lit, "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    if open == "{" and close == "}" and name ~= "" then
      names[#names + 1] = name
      out = out .. "([^/]+)"
    elseif open ~= "" or close ~= "" then
      error("schema: bad path template " .. template)
    end
    return out
  end)
  return "^" .. pat .. "$", names
end

for _, ep in ipairs(schema.endpoints) do
  local where = ep.id
  local body_rules, query_rules = {}, {}
  for _, r in ipairs(ep.rules or EMPTY) do
    if (r.location or "body") == "query" then query_rules[#query_rules + 1] = r
    else body_rules[#body_rules + 1] = r end
  end
  local c = {
    id = ep.id, def = ep,
    params = compile_node(ep.params, nil, where .. " path"),
    query = compile_node(ep.query, query_rules, where .. " query"),
    body = ep.body and compile_node(ep.body, body_rules, where) or nil,
  }
  if not ep.body and #body_rules > 0 then error("schema: " .. where .. ": body rules without a body") end
  if ep.response and ep.response.fields then
    c.response = compile_node(ep.response.fields, nil, where .. " answer")
  end
  COMPILED[ep.id] = c
  BY_NAME[ep.name] = c
  BY_DEF[ep] = c
  local templates = { ep.path }
  for _, a in ipairs(ep.aliases or EMPTY) do templates[#templates + 1] = a end
  for _, tpl in ipairs(templates) do
    local pat, names = lua_pattern(tpl)
    -- the template's parameters must be the endpoint's path parameters, in order
    for i, name in ipairs(names) do
      if not ep.params[i] or ep.params[i].name ~= name then
        error(format("schema: %s: path parameter {%s} of %s is not params[%d]", where, name, tpl, i))
      end
    end
    if #names ~= #ep.params then error("schema: " .. where .. ": params do not match the path " .. tpl) end
    M.routes[#M.routes + 1] = { method = ep.method, pattern = pat, id = ep.id, template = tpl, params = names }
    if #names == 0 then
      EXACT[ep.method .. " " .. tpl] = c
    else
      PATTERNS[#PATTERNS + 1] = { method = ep.method, pattern = pat, c = c, names = names }
    end
  end
end
-- compile every type now (load time), so that a schema mistake shows at require()
for name in next, schema.types do node_of_type(name) end

local function resolve(ep)
  if type(ep) == "table" then return BY_DEF[ep] or COMPILED[ep.id] end
  if type(ep) == "string" then return COMPILED[ep] or BY_NAME[ep] end
  return nil
end

--- The endpoint of a method and path (as sent), and its percent-decoded path parameters; or nil.
function M.find(method, path)
  if type(method) ~= "string" or type(path) ~= "string" then return nil end
  local cut = find(path, "[?#]")
  if cut then path = sub(path, 1, cut - 1) end
  method = upper(method)
  local c = EXACT[method .. " " .. path]
  if c then return c.def, {} end
  for i = 1, #PATTERNS do
    local p = PATTERNS[i]
    if p.method == method then
      local caps = { match(path, p.pattern) }
      if caps[1] ~= nil then
        local params = {}
        for j = 1, #p.names do params[p.names[j]] = percent_decode(caps[j]) end
        return p.c.def, params
      end
    end
  end
  return nil
end

--- Validate a request. See the top of this file.
function M.request(ep, opts)
  local c = resolve(ep)
  if not c then
    error("validate.request: unknown endpoint " .. tostring(type(ep) == "table" and ep.id or ep), 2)
  end
  if opts == nil then opts = EMPTY end
  refresh_markers()
  local ctx = { problems = {}, warnings = {}, id = c.id, loc = "path", response = false }

  -- path parameters
  local params = opts.params
  local path = opts.path
  if params == nil and type(path) == "string" then
    local cut = find(path, "[?#]")
    local p = cut and sub(path, 1, cut - 1) or path
    for i = 1, #PATTERNS do
      local r = PATTERNS[i]
      if r.c == c then
        local caps = { match(p, r.pattern) }
        if caps[1] ~= nil then
          params = {}
          for j = 1, #r.names do params[r.names[j]] = percent_decode(caps[j]) end
          break
        end
      end
    end
  end
  if type(params) == "table" and #c.params.fields > 0 then
    check_params(ctx, c.params, params, false)
  end

  -- query parameters
  ctx.loc = "query"
  local q = opts.query
  if q == nil and type(path) == "string" then
    local qs = match(path, "%?([^#]*)")
    if qs then q = qs end
  end
  if type(q) == "string" then q = M.parse_query(q) end
  if q ~= nil and type(q) ~= "table" then
    problem(ctx, 0, "", "type", "query must be a table or a string, got " .. describe(q))
    q = EMPTY
  end
  local qnode = c.query
  if #qnode.fields > 0 or (q and next(q) ~= nil) then
    local norm = check_params(ctx, qnode, q or EMPTY, true)
    local runs = qnode.runs
    for i = 1, #runs do runs[i](ctx, norm, 0) end
  end

  -- body
  ctx.loc = "body"
  local body = opts.json
  if c.body then
    if body == nil or is_null(body) then body = EMPTY end
    if type(body) ~= "table" or array_like(body) then
      problem(ctx, 0, nil, "type", "the body must be a JSON object, got " .. describe(body), body)
    else
      check_object(ctx, c.body, body, 0)
    end
  elseif body ~= nil then
    warning(ctx, 0, nil, "unknown_field", format("%s %s takes no body (sent as is)", c.def.method, c.def.path))
  end

  return #ctx.problems == 0, ctx.problems, ctx.warnings
end

--- find() and request() in one. For a path that is no PayScore endpoint: true, {}, {}, nil.
function M.check(method, path, opts)
  local ep, params = M.find(method, path)
  if not ep then return true, {}, {}, nil end
  local o = {}
  for k, v in next, (opts or EMPTY) do o[k] = v end
  if o.params == nil then o.params = params end
  if o.query == nil then
    local qs = match(path, "%?([^#]*)")
    if qs then o.query = qs end
  end
  local ok, problems, warnings = M.request(ep, o)
  return ok, problems, warnings, ep
end

--- Check an answer's decoded body against the documented answer fields (types and always-present fields).
function M.response(ep, data)
  local c = resolve(ep)
  if not c then error("validate.response: unknown endpoint " .. tostring(ep), 2) end
  refresh_markers()
  local ctx = { problems = {}, warnings = {}, id = c.id, loc = "body", response = true }
  if not c.response then
    if data ~= nil and not (type(data) == "table" and next(data) == nil) then
      problem(ctx, 0, nil, "type", format("%s answers %d without a body, got %s", c.id, c.def.response.status,
        describe(data)))
    end
  elseif type(data) ~= "table" or array_like(data) then
    problem(ctx, 0, nil, "type", "the answer must be a JSON object, got " .. describe(data))
  else
    check_object(ctx, c.response, data, 0)
  end
  return #ctx.problems == 0, ctx.problems, ctx.warnings
end

-- ------------------------------------------------------------------------------------------------------------------
-- Presentation

local function where_text(p)
  if p.pointer == "" then return "(" .. tostring(p.location or "body") .. ")" end
  if p.location == "query" then return "query parameter " .. p.pointer end
  if p.location == "path" then return "path parameter " .. p.pointer end
  return p.pointer
end

--- One readable line for a list of problems (or warnings).
function M.format(problems)
  if type(problems) ~= "table" then return "" end
  local parts = {}
  for i = 1, #problems do
    local p = problems[i]
    parts[i] = where_text(p) .. ": " .. tostring(p.message)
  end
  return concat(parts, "; ")
end

-- api_message of a rule id, from the schema (e.g. total_amount_sum -> 最终总金额计算非法)
local API_MESSAGE = {}
for _, ep in ipairs(schema.endpoints) do
  for _, r in ipairs(ep.rules or EMPTY) do
    if r.api_message then API_MESSAGE[r.id] = r.api_message end
  end
end
for _, t in next, schema.types do
  for _, r in ipairs(t.rules or EMPTY) do
    if r.api_message then API_MESSAGE[r.id] = r.api_message end
  end
end

--- The PARAM_ERROR answer body (payscore.md §9.1) for one problem.
function M.param_error(p)
  local detail = { field = p.pointer, issue = p.message, location = p.location or "body" }
  local v, tv = p.value, type(p.value)
  if tv == "string" then
    if ulen(v) then detail.value = v end
  elseif tv == "number" then
    -- a number only where the JSON codec writes it exactly: an integer within ±(2^53-1); else its text
    if v % 1 == 0 and v >= -9007199254740991 and v <= 9007199254740991 then detail.value = v
    else detail.value = fmt_num(v) end
  elseif tv == "boolean" then
    detail.value = v
  end
  return { code = "PARAM_ERROR", message = API_MESSAGE[p.rule] or "参数错误", detail = detail }
end

return M
