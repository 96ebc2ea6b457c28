--- The chainable-URI rules of apiv3-protocol §7: path segments, placeholders, query strings, request targets.
--
--   uri.segment("complaintsV2")                       --> "complaints-v2"
--   uri.expand("v3/x/{openid}", { openid = "o/a b~" }) --> "v3/x/o%2Fa%20b~"
--   uri.query{ b = "x y", a = 1, c = true }           --> "a=1&b=x%20y&c=true"
--   uri.target("/", "v3/x", { a = 1 })                --> "/v3/x?a=1"
--   uri.split_base("https://api.mch.weixin.qq.com/hk/") --> "https://api.mch.weixin.qq.com", "/hk/"
--
-- Failures are `nil, err` with a `usage` error (a `config` error for split_base). Percent-encoding is RFC 3986 with
-- upper-case hex; space is always %20.
--
-- Literal text of a template (outside `{...}`) is copied as RFC 6570 §3.1 says: characters allowed anywhere in a URI
-- (unreserved, reserved, valid %XX triplets) are kept byte for byte and case for case; any other byte (space, a
-- stray %, non-ASCII, control characters) is percent-encoded, so that the target never carries an unencoded byte.

local errors = require "wechatpay.errors"

local type, tostring, next, error = type, tostring, next, error
local find, sub, gsub, format, byte, lower, match = string.find, string.sub, string.gsub, string.format,
  string.byte, string.lower, string.match
local concat, sort = table.concat, table.sort
local floor = math.floor
local mtype = math.type -- nil on LuaJIT

local uri = {}

local MAX_SAFE = 9007199254740991 -- 2^53 - 1, see codec/json.lua

--- Option keys of a call; placeholder names must not collide with them (§7.3).
uri.OPTION_KEYS = { json = true, body = true, query = true, headers = true, timeout = true, media = true,
  validate = true }

local function usage(msg, fields)
  fields = fields or {}
  fields.message = msg
  return nil, errors.new("usage", fields)
end

-- ---- percent-encoding ---------------------------------------------------------------------------

-- byte -> "%XX" for every byte outside the unreserved set (A-Z a-z 0-9 - . _ ~)
local PCT = {}
for b = 0, 255 do
  PCT[string.char(b)] = format("%%%02X", b)
end
local NOT_UNRESERVED = "[^A-Za-z0-9%-%._~]"
-- outside unreserved + reserved (gen-delims : / ? # [ ] @, sub-delims ! $ & ' ( ) * + , ; =) and %
local NOT_ALLOWED = "[^A-Za-z0-9%-%._~:/%?#%[%]@!%$&'%(%)%*%+,;=%%]"

--- Encode every byte outside the unreserved set (the `{name}` rule, query keys and values).
function uri.encode(s)
  return (gsub(s, NOT_UNRESERVED, PCT))
end

-- a '%' not starting a valid %XX triplet becomes %25
local function fix_pct(h)
  if #h == 2 then return nil end -- valid triplet: kept unchanged
  return "%25" .. h
end

--- Encode like `{+name}`: reserved characters and valid %XX triplets stay literal.
function uri.encode_reserved(s)
  s = gsub(s, NOT_ALLOWED, PCT)
  if find(s, "%", 1, true) then s = gsub(s, "%%(%x?%x?)", fix_pct) end
  return s
end
local encode, encode_reserved = uri.encode, uri.encode_reserved

-- ---- segments (§7.2) ------------------------------------------------------------------------------

local function dash_lower(c) return "-" .. lower(c) end

--- The path text for one chain key. Identifier keys (`^[A-Za-z_][A-Za-z0-9_]*$`) are normalised per §7.2:
-- `_name_` -> `{name}` (inner name unchanged; `__` stays literal), a leading capital is lowered, every other capital
-- `X` becomes `-x`. Any other string is returned literally (it may hold `/`, `{name}`, any case).
-- @return string, or nil and a usage error for a non-string or empty key
function uri.segment(key)
  if type(key) ~= "string" then
    return usage("chain key must be a string, got " .. type(key) .. " (" .. tostring(key) .. ")")
  end
  if key == "" then return usage("chain key must not be empty") end
  if not find(key, "^[A-Za-z_][A-Za-z0-9_]*$") then return key end
  local inner = match(key, "^_([A-Za-z0-9_]+)_$")
  if inner then return "{" .. inner .. "}" end
  local first = sub(key, 1, 1)
  local rest = sub(key, 2)
  if find(first, "^[A-Z]$") then first = lower(first) end
  if find(rest, "[A-Z]") then rest = gsub(rest, "[A-Z]", dash_lower) end
  return first .. rest
end

-- ---- placeholders (§7.3) --------------------------------------------------------------------------

-- Text of a placeholder/query value: strings as they are, integers without a decimal point.
-- Returns text, or nil and a reason.
local function scalar_text(v)
  local tv = type(v)
  if tv == "string" then return v end
  if tv == "number" then
    if mtype and mtype(v) == "integer" then
      if v > MAX_SAFE or v < -MAX_SAFE then return nil, "integer beyond ±(2^53-1); pass it as a string" end
      return format("%d", v)
    end
    if v ~= v or v ~= floor(v) or v == math.huge or v == -math.huge then
      return nil, "must be a string or an integer, got " .. tostring(v)
    end
    if v > MAX_SAFE or v < -MAX_SAFE then return nil, "integer beyond ±(2^53-1); pass it as a string" end
    return format("%d", v)
  end
  return nil, "must be a string or an integer, got " .. tv
end

--- Fill `{name}` and `{+name}` in template from opts[name] (§7.3); literal text per RFC 6570 §3.1.
-- @return the expanded path, or nil and a usage error (field `placeholder` names it when there is one)
function uri.expand(template, opts)
  if type(template) ~= "string" then
    error("uri.expand: template must be a string, got " .. type(template), 2)
  end
  opts = opts or {}
  -- fast path: nothing to expand and nothing to encode
  if not find(template, NOT_ALLOWED) and not find(template, "[{}%%]") then return template end
  local out, n, pos, len = {}, 0, 1, #template
  while pos <= len do
    local open = find(template, "[{}]", pos)
    local lit = sub(template, pos, (open or len + 1) - 1)
    if lit ~= "" then
      n = n + 1
      out[n] = encode_reserved(lit)
    end
    if not open then break end
    if sub(template, open, open) == "}" then
      return usage(format("unbalanced braces in path %q: '}' at byte %d has no '{'", template, open))
    end
    local close = find(template, "[{}]", open + 1)
    if not close or sub(template, close, close) ~= "}" then
      return usage(format("unbalanced braces in path %q: '{' at byte %d is not closed", template, open))
    end
    local expr = sub(template, open + 1, close - 1)
    local reserved = sub(expr, 1, 1) == "+"
    local name = reserved and sub(expr, 2) or expr
    if not find(name, "^[A-Za-z0-9_]+$") then
      return usage(format("invalid placeholder {%s} in path %q (a name is letters, digits and _)", expr, template),
        { placeholder = name })
    end
    if uri.OPTION_KEYS[name] then
      return usage(format("placeholder {%s} collides with the option key %q; rename the placeholder", expr, name),
        { placeholder = name })
    end
    local v = opts[name]
    if v == nil then
      return usage(format("missing value for placeholder {%s} in path %q", expr, template), { placeholder = name })
    end
    local text, why = scalar_text(v)
    if not text then
      return usage(format("placeholder {%s}: %s", expr, why), { placeholder = name })
    end
    if text == "" then
      return usage(format("empty value for placeholder {%s} in path %q", expr, template), { placeholder = name })
    end
    n = n + 1
    out[n] = reserved and encode_reserved(text) or encode(text)
    pos = close + 1
  end
  return concat(out, "", 1, n)
end

-- ---- query (§7.4) ---------------------------------------------------------------------------------

--- The query string (without `?`) of a table: keys byte-wise sorted, keys and values percent-encoded as `{name}`,
-- booleans as true/false, integers without a decimal point; tables and other types are usage errors.
-- A string is returned verbatim (the caller guarantees its encoding).
function uri.query(q)
  if q == nil then return "" end
  if type(q) == "string" then return q end
  if type(q) ~= "table" then return usage("query must be a table or a string, got " .. type(q)) end
  local keys, nk = {}, 0
  for k in next, q do
    if type(k) ~= "string" then
      return usage("query key must be a string, got " .. type(k) .. " (" .. tostring(k) .. ")")
    end
    nk = nk + 1
    keys[nk] = k
  end
  if nk == 0 then return "" end
  if nk > 1 then
    local ok, loc = pcall(os.setlocale, nil, "collate")
    if not ok or loc == nil or loc == "C" or loc == "POSIX" then
      sort(keys)
    else
      sort(keys, function(a, b) -- byte-wise whatever the collation locale
        local m = #a < #b and #a or #b
        for i = 1, m do
          local x, y = byte(a, i), byte(b, i)
          if x ~= y then return x < y end
        end
        return #a < #b
      end)
    end
  end
  local parts = {}
  for i = 1, nk do
    local k = keys[i]
    local v = q[k]
    local text, why
    if type(v) == "boolean" then
      text = v and "true" or "false"
    else
      text, why = scalar_text(v)
      if not text then
        if type(v) ~= "number" and type(v) ~= "string" then
          why = "must be a string, an integer or a boolean, got " .. type(v)
        end
        return usage(format("query parameter %q: %s", k, why), { parameter = k })
      end
    end
    parts[i] = encode(k) .. "=" .. encode(text)
  end
  return concat(parts, "&")
end

-- ---- target ---------------------------------------------------------------------------------------

--- True if the first segment of path (relative to the base path) is `v2`, case-insensitively.
function uri.is_v2(path)
  local first = match(path, "^/*([^/%?#]*)")
  return first ~= nil and lower(first) == "v2"
end

--- The exact request target: base_path (default "/") .. path (leading slashes dropped) .. ["?" .. query].
-- query: nil, a table (uri.query) or a string (verbatim; a leading "?" is dropped). If path already holds a "?",
-- the query is appended with "&".
-- @return the target, or nil and a usage error (APIv2 paths, bad query)
function uri.target(base_path, path, query)
  base_path = base_path or "/"
  if type(base_path) ~= "string" or type(path) ~= "string" then
    error("uri.target: base_path and path must be strings", 2)
  end
  if uri.is_v2(path) then
    return usage(format("APIv2 is out of scope (path %q starts with v2); this module speaks APIv3 only", path))
  end
  if sub(base_path, 1, 1) ~= "/" then base_path = "/" .. base_path end
  if sub(base_path, -1) ~= "/" then base_path = base_path .. "/" end
  if byte(path, 1) == 47 then path = gsub(path, "^/+", "") end
  local target = base_path .. path
  local qs, err = uri.query(query)
  if not qs then return nil, err end
  if sub(qs, 1, 1) == "?" then qs = sub(qs, 2) end
  if qs ~= "" then
    target = target .. (find(path, "?", 1, true) and "&" or "?") .. qs
  end
  return target
end

--- Split a base URI into its origin (scheme://host[:port]) and its base path (default "/", always ending in "/").
-- Only https is accepted unless opts.allow_http is true.
-- @return origin, base_path, or nil and a config error
function uri.split_base(base_uri, opts)
  local function bad(why)
    return nil, errors.new("config", { message = format("base_uri %q: %s", tostring(base_uri), why) })
  end
  if type(base_uri) ~= "string" then return bad("must be a string") end
  local scheme, authority, path = match(base_uri, "^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return bad("not an absolute URI (expected https://host/[path/])") end
  local lscheme = lower(scheme)
  if lscheme ~= "https" and not (lscheme == "http" and opts and opts.allow_http) then
    return bad("the scheme must be https")
  end
  if authority == "" then return bad("no host") end
  if find(authority, "@", 1, true) then return bad("user information is not allowed") end
  if not find(authority, "^[A-Za-z0-9.-]+$") and not find(authority, "^[A-Za-z0-9.-]+:%d+$")
    and not find(authority, "^%[[%x:.]+%]$") and not find(authority, "^%[[%x:.]+%]:%d+$") then
    return bad("invalid host or port")
  end
  if find(path, "[?#]") then return bad("a query or fragment is not allowed") end
  if find(path, NOT_ALLOWED) then return bad("the path holds characters that must be percent-encoded") end
  if path == "" then path = "/" end
  if sub(path, -1) ~= "/" then path = path .. "/" end
  return lscheme .. "://" .. authority, path
end

return uri
