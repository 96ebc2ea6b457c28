--- Violating PayScore requests generated from the schema: one case per field constraint and per cross-field rule of
-- an endpoint, each a mutation of its fixture request (spec/payscore/fixtures.lua, every documented field sent).
-- Used by spec/payscore/validate_spec.lua (the validator alone) and spec/payscore/integration_spec.lua (client and
-- sandbox).
--
--   local violations = require "spec.payscore.violations"
--   local gen = violations.new()                  -- or violations.new{ wire = true }
--   local base, cases = gen.endpoint(ep)          -- ep: a schema endpoint; base: its fixture request
--   local req = violations.apply(base, cases[1])  -- a fresh copy of base with the case's change
--   violations.has(problems, case.pointer, case.rule, case.location)   -- the validator's problem for the case
--   gen.covered[rule_id]                          -- cross-field rules that got a violating case (> 0)
--
-- A case: { label, pointer, rule, location ("path" | "query" | "body"), and the change: path + value (a field's
-- new value), path + delete, or sets = { {path, value}, ... } }. `path` = keys from the request root
-- ("params"/"query"/"json", then field names and 1-based indexes). Flags: `passes` (a boundary the validator must
-- accept), `uri` (a path parameter no URL can carry: refused by the URI layer), `wire` (a query parameter's type:
-- on the wire every parameter is a string).
--
-- Options of new{}: wire = true for requests sent to a server: one violating case per constraint (no accepted
-- boundaries, no second variants), an empty array as a JSON array (json.empty_array). The default adds the
-- boundaries the validator must accept and more variants of some rules.

local schema = require "wechatpay.payscore.schema"
local fx = require "spec.payscore.fixtures"

local copy = fx.copy

local M = {}

--- The JSON Pointer (body) or parameter name (path, query) of a case at `path` in location `loc`.
local function ptr_of(loc, path)
  if loc ~= "body" then return path[#path] end
  local parts = {}
  for i = 2, #path do
    local k = path[i]
    parts[#parts + 1] = type(k) == "number" and tostring(k - 1) or k
  end
  return #parts == 0 and "" or "/" .. table.concat(parts, "/")
end
M.ptr_of = ptr_of

local function set_at(req, path, value)
  local t = req
  for i = 1, #path - 1 do
    if t[path[i]] == nil then t[path[i]] = {} end
    t = t[path[i]]
  end
  t[path[#path]] = value
end
M.set_at = set_at

local function get_at(req, path)
  local t = req
  for i = 1, #path do
    if type(t) ~= "table" then return nil end
    t = t[path[i]]
  end
  return t
end
M.get_at = get_at

local function join(path, k)
  local p = {}
  for i = 1, #path do p[i] = path[i] end
  p[#p + 1] = k
  return p
end

--- The request of a case: a copy of base with the case's change.
function M.apply(base, c)
  local req = copy(base)
  if c.sets then
    for _, s in ipairs(c.sets) do set_at(req, s[1], s[2]) end
  elseif c.delete then
    set_at(req, c.path, nil)
  else
    set_at(req, c.path, c.value)
  end
  return req
end

--- The problem of `problems` at pointer for rule (and location when given), or nil.
function M.has(problems, pointer, rule, location)
  for _, p in ipairs(problems) do
    if p.pointer == pointer and p.rule == rule and (location == nil or p.location == location) then return p end
  end
  return nil
end

local function wrong_type_value(ftype, loc)
  if ftype == "string" then return loc == "body" and 12 or true end
  if ftype == "integer" then return "12" end
  if ftype == "boolean" then return "true" end
  if ftype == "object" then return { "x" } end
  return { x = 1 } -- array
end

local function text_of(n, ascii)
  return string.rep(ascii and "a" or "字", n)
end

--- A generator (see the top of the file).
function M.new(opts)
  local wire = opts and opts.wire
  local full = not wire
  local gen = { covered = {} }
  local covered = gen.covered

  local gen_object -- forward

  -- cases for one field at `path` (the field's own path); base = the valid request
  local function gen_field(cases, base, loc, path, f)
    local pointer = ptr_of(loc, path)
    local function add(label, value, rule, o)
      if wire and o and o.passes then return end
      cases[#cases + 1] = { label = label, path = path, value = value, pointer = (o and o.pointer) or pointer,
        rule = rule, location = loc, delete = o and o.delete, passes = o and o.passes, uri = o and o.uri,
        wire = o and o.wire }
    end
    local uri = loc == "path"
    local str = f.type == "string"
    if f.required == true then add("missing", nil, "required", { delete = true, uri = uri }) end
    add("wrong type", wrong_type_value(f.type, loc), "type", { uri = str and uri, wire = str and loc == "query" })
    if str then
      add("invalid UTF-8", "ab\255", "utf8")
      add("overlong UTF-8", "\192\175", "utf8")
      add("UTF-16 surrogate", "\237\160\128", "utf8")
      add("4-byte UTF-8", "\240\159\152\128", "utf8")
      if f.required == true or f.min_len then
        add("empty", "", loc == "body" and "min_length" or "required", { uri = uri })
      end
      if f.max then
        local ascii = f.charset ~= nil
        add("too long", text_of(f.max + 1, ascii), "max_length")
        if not f.enum and not f.formats then
          add("exactly max", text_of(f.max, ascii), "max_length", { passes = true })
        end
      end
      if f.enum then add("not in enum", "NOT_AN_ENUM_VALUE", "enum") end
      if f.formats then
        add("bad format", "2009-12-25 09:10:10", "format")
        local set = {}
        for _, name in ipairs(f.formats) do set[name] = true end
        if set.time14 then
          add("impossible time", "20091325091010", "format")
          if full then add("hour 24", "20091225241010", "format") end
        end
        if set.time8 then add("impossible date", "20090230", "format") end
        if set.time14 and not set.OnAccept then add("OnAccept not allowed here", "OnAccept", "format") end
        if set.notify_url then
          add("http URL", "http://api.test.com/notify", "format")
          add("query string", "https://api.test.com/notify?a=1", "format")
          add("loopback http URL", "http://127.0.0.1:8080/notify", "format", { passes = true })
        end
      end
      if f.charset then
        if full then
          add("bad charset", "N 123", "charset")
          add("bad charset @", "N@123", "charset")
        else
          add("bad charset", "N@123", "charset")
        end
      end
    elseif f.type == "integer" then
      add("fraction", 400.5, "integer")
      add("NaN", 0 / 0, "integer")
      add("infinity", math.huge, "integer")
      add("beyond 2^53", 2 ^ 53 + 2, "integer")
      if f.min then
        add("below min", f.min - 1, "min")
        add("min", f.min, "min", { passes = true })
      end
      if f.max then
        add("above max", f.max + 1, "max")
        add("max", f.max, "max", { passes = true })
      end
    elseif f.type == "array" then
      local elem = get_at(base, join(path, 1))
      if f.min_items then
        local arr = {}
        for i = 1, f.min_items - 1 do arr[i] = copy(elem) end
        -- sent, an empty array must go out as [] (a bare {} is sent as an object); the codec (and so the C core)
        -- only then: validate_spec runs without the core
        if wire and #arr == 0 then arr = require("wechatpay.codec.json").empty_array end
        add("too few items", arr, "min_items")
      end
      if f.max_items and elem ~= nil then
        local arr = {}
        for i = 1, f.max_items + 1 do arr[i] = copy(elem) end
        add("too many items", arr, "max_items")
      end
      add("item not an object", { "x" }, "type", { pointer = pointer .. "/0" })
      if elem ~= nil then
        gen_object(cases, base, loc, join(path, 1), schema.types[f.items], f.items)
      end
    elseif f.type == "object" then
      if get_at(base, path) ~= nil then
        gen_object(cases, base, loc, path, schema.types[f.object], f.object)
      end
    end
  end

  -- cases for a cross-field rule over the object at `path`
  local function gen_rule(cases, base, loc, path, r)
    covered[r.id] = (covered[r.id] or 0) + 1
    local function P(name) return join(path, name) end
    local function case(label, sets, pointer_path, rule_loc)
      cases[#cases + 1] = { label = "rule " .. r.id .. ": " .. label, sets = sets,
        pointer = ptr_of(rule_loc or loc, pointer_path), rule = r.id, location = rule_loc or loc }
    end
    local kind = r.kind
    if r.each then
      local arr = get_at(base, P(r.each))
      assert(type(arr) == "table" and arr[1], "fixture lacks an element of " .. r.each .. " for " .. r.id)
      local inner = {}
      for k, v in pairs(r) do inner[k] = v end
      inner.each = nil
      covered[r.id] = covered[r.id] - 1
      return gen_rule(cases, base, loc, join(P(r.each), 1), inner)
    end
    if kind == "required_if" then
      local w = r.when
      local cond
      if w.present then cond = get_at(base, P(w.field)) or "x"
      elseif w.gt ~= nil then cond = get_at(base, P(w.field)) or w.gt + 1
      else cond = w.equals end
      assert(w.present or w.gt ~= nil or cond ~= nil)
      case("condition holds, field missing", { { P(w.field), cond }, { P(r.field), nil } }, P(r.field))
    elseif kind == "exactly_one" then
      local a, b = r.fields[1], r.fields[2]
      local va = get_at(base, P(a)) or "1234323JKHDFE1243252"
      local vb = get_at(base, P(b)) or "1234323JKHDFE1243252"
      case("neither", { { P(a), nil }, { P(b), nil } }, P(a), r.location)
      case("both", { { P(a), va }, { P(b), vb } }, P(b), r.location)
    elseif kind == "requires" then
      local v = get_at(base, P(r.field))
      assert(v ~= nil, "fixture lacks " .. r.field .. " for " .. r.id)
      case("without " .. r.needs, { { P(r.needs), nil } }, P(r.field))
    elseif kind == "together" then
      local a, b = r.fields[1], r.fields[2]
      case("only " .. a, { { P(b), nil } }, P(b))
      if full then case("only " .. b, { { P(a), nil } }, P(a)) end
    elseif kind == "at_least_one" then
      local sets = {}
      for _, name in ipairs(r.fields) do sets[#sets + 1] = { P(name), nil } end
      case("none of " .. table.concat(r.fields, ", "), sets, P(r.fields[1]))
    elseif kind == "sum" then
      local t = get_at(base, P(r.field))
      assert(type(t) == "number", "fixture lacks " .. r.field)
      case("off by one", { { P(r.field), t + 1 } }, P(r.field))
      if full then case("count multiplied", { { P(r.field), 4 * 40000 - 2 * 100 } }, P(r.field)) end
    elseif kind == "unique" then
      local arr = get_at(base, P(r.array))
      assert(type(arr) == "table" and arr[1], "fixture lacks " .. r.array)
      local two = { copy(arr[1]), copy(arr[1]) }
      case("duplicate", { { P(r.array), two } }, join(join(P(r.array), 2), r.member))
    elseif kind == "time_order" then
      local s = get_at(base, P(r.start))
      assert(type(s) == "string" and #s == 14, "fixture lacks a second-precision " .. r.start)
      if full then
        case("finish = start (seconds)", { { P(r.finish), s } }, P(r.finish))
        case("finish before start (seconds)", { { P(r.finish), "20091225081010" } }, P(r.finish))
      else
        case("finish = start", { { P(r.finish), s } }, P(r.finish))
      end
      case("finish before start (days)", { { P(r.start), "20091225" }, { P(r.finish), "20091224" } }, P(r.finish))
    else
      error("no generator for rule kind " .. tostring(kind))
    end
  end

  function gen_object(cases, base, loc, path, t, tname)
    assert(t, "unknown type " .. tostring(tname))
    for _, f in ipairs(t.fields) do gen_field(cases, base, loc, join(path, f.name), f) end
    for _, r in ipairs(t.rules or {}) do gen_rule(cases, base, loc, path, r) end
  end

  --- The fixture request of endpoint ep and its cases.
  function gen.endpoint(ep)
    local base = fx.request(ep.id)
    local cases = {}
    for _, f in ipairs(ep.params) do gen_field(cases, base, "path", { "params", f.name }, f) end
    for _, f in ipairs(ep.query) do gen_field(cases, base, "query", { "query", f.name }, f) end
    for _, f in ipairs(ep.body or {}) do gen_field(cases, base, "body", { "json", f.name }, f) end
    for _, r in ipairs(ep.rules) do
      local q = r.location == "query"
      gen_rule(cases, base, q and "query" or "body", { q and "query" or "json" }, r)
    end
    return base, cases
  end

  return gen
end

return M
