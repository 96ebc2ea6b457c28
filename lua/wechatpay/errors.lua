--- Error values of the wechatpay module (apiv3-protocol §6.2).
--
--   local errors = require "wechatpay.errors"
--   return nil, errors.new("usage", { message = "/amount/total: must be an integer number of fen, got 400.5" })
--
-- An error value is a plain table `{ kind = ..., <fields> }` with a shared metatable whose `__tostring` gives one
-- readable line for a log. `kind` is one of `errors.KINDS`; any other kind is a programming mistake (`error()`).
-- Fields are the caller's (message, reason, status, code, detail, request_id, body, headers, curl_code, ...); they
-- are kept as given (the raw `body` in full); only the text of `__tostring` shortens a long body.

local type, tostring, pairs, error = type, tostring, pairs, error
local setmetatable, getmetatable = setmetatable, getmetatable
local concat, sort = table.concat, table.sort
local format, gsub, sub = string.format, string.gsub, string.sub

local errors = {}

--- The kinds, in the order of §6.2.
errors.KINDS = { "config", "usage", "transport", "protocol", "verification", "crypto", "decode" }

local is_kind = {}
for _, k in pairs(errors.KINDS) do is_kind[k] = true end

local MAX_BODY = 200 -- bytes of a raw body shown by __tostring

local mt = {}
mt.__name = "wechatpay.error"

-- Cut `s` to at most `max` bytes without splitting a UTF-8 sequence, and flatten line breaks.
local function excerpt(s, max)
  s = tostring(s)
  if #s > max then
    local n = max
    -- step back over continuation bytes so that the cut lands on a sequence start
    while n > 0 do
      local b = s:byte(n + 1)
      if not b or b < 0x80 or b >= 0xC0 then break end
      n = n - 1
    end
    s = sub(s, 1, n) .. "…"
  end
  s = gsub(s, "[\r\n\t]+", " ")
  return s
end

-- A short text for a `detail` field (a table from the server's error body, or anything else).
local function detail_text(d)
  if type(d) ~= "table" then return excerpt(d, MAX_BODY) end
  local s
  if d.field ~= nil then
    s = "field " .. tostring(d.field)
  elseif d.location ~= nil then
    s = "location " .. tostring(d.location)
  end
  if d.issue ~= nil then
    s = (s and (s .. ": ") or "") .. tostring(d.issue)
  end
  if s == nil then
    -- unknown shape: list its scalar members in a stable order
    local keys, parts = {}, {}
    for k, v in pairs(d) do
      local tv = type(v)
      if type(k) == "string" and (tv == "string" or tv == "number" or tv == "boolean") then keys[#keys + 1] = k end
    end
    sort(keys)
    for i = 1, #keys do parts[i] = keys[i] .. "=" .. tostring(d[keys[i]]) end
    s = concat(parts, ", ")
  end
  return excerpt(s, MAX_BODY)
end

function mt.__tostring(e)
  local kind = e.kind
  local out = { "wechatpay ", tostring(kind), " error:" }
  local function add(s) out[#out + 1] = " "; out[#out + 1] = s end
  if kind == "transport" then
    if e.curl_code ~= nil then add("curl " .. tostring(e.curl_code) .. ":") end
    if e.message ~= nil then add(excerpt(e.message, 400)) end
  elseif kind == "protocol" then
    if e.status ~= nil then add(tostring(e.status)) end
    if e.code ~= nil then add(tostring(e.code)) end
    if e.message ~= nil then add(excerpt(e.message, 400)) end
    if e.detail ~= nil then add("(" .. detail_text(e.detail) .. ")") end
    if e.code == nil and e.message == nil and e.body ~= nil and e.body ~= "" then
      add("body: " .. excerpt(e.body, MAX_BODY))
    end
  else
    if e.reason ~= nil then add(tostring(e.reason) .. ":") end
    if e.message ~= nil then add(excerpt(e.message, 400)) end
    if e.detail ~= nil then add("(" .. detail_text(e.detail) .. ")") end
    if e.status ~= nil and kind ~= "usage" and kind ~= "config" then add("(HTTP " .. tostring(e.status) .. ")") end
    if (kind == "decode" or kind == "verification") and e.body ~= nil then
      if e.body == "" then add("body: (empty)") else add("body: " .. excerpt(e.body, MAX_BODY)) end
    end
  end
  if e.request_id ~= nil and e.request_id ~= "" then add("[request-id " .. tostring(e.request_id) .. "]") end
  local s = concat(out)
  if sub(s, -1) == ":" then s = sub(s, 1, -2) end
  return s
end

--- Build an error value.
-- @param kind one of errors.KINDS
-- @param fields table of fields (copied shallowly), or a string taken as `message`
function errors.new(kind, fields)
  if not is_kind[kind] then
    error(format("wechatpay.errors.new: unknown error kind %q (expected one of: %s)",
      tostring(kind), concat(errors.KINDS, " ")), 2)
  end
  local e = { kind = kind }
  if type(fields) == "string" then
    e.message = fields
  elseif type(fields) == "table" then
    for k, v in pairs(fields) do
      if k ~= "kind" then e[k] = v end
    end
  elseif fields ~= nil then
    error("wechatpay.errors.new: fields must be a table or a string", 2)
  end
  return setmetatable(e, mt)
end

--- True for error values made by errors.new.
function errors.is(v)
  return type(v) == "table" and getmetatable(v) == mt
end

-- Shortcuts: errors.usage(msg_or_fields), errors.config(...), ...
for _, k in pairs(errors.KINDS) do
  errors[k] = function(fields) return errors.new(k, fields) end
end

errors.metatable = mt

return errors
