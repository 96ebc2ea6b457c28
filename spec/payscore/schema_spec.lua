-- wechatpay.payscore.schema: the data itself, checked against payscore.md (pure unit specs, Lua 5.4 and LuaJIT).

local schema = require "wechatpay.payscore.schema"
local unpack = table.unpack or unpack

local STRING_ATTRS = { max = true, min_len = true, enum = true, formats = true, charset = true }
local INTEGER_ATTRS = { min = true, max = true, unit = true }
local COMMON_ATTRS = { name = true, type = true, required = true, default = true, conflict = true, note = true,
  text = true }
local ATTRS = {
  string = STRING_ATTRS, integer = INTEGER_ATTRS, boolean = {},
  object = { object = true }, array = { items = true, min_items = true, max_items = true },
}

-- every field list of the schema with its scope's rule ids: { where, fields, rule_ids }
local function scopes()
  local out = {}
  for name, t in pairs(schema.types) do
    local ids = {}
    for _, r in ipairs(t.rules or {}) do ids[r.id] = r end
    out[#out + 1] = { where = name, fields = t.fields, rules = ids }
  end
  for _, ep in ipairs(schema.endpoints) do
    local body_ids, query_ids = {}, {}
    for _, r in ipairs(ep.rules) do
      if r.location == "query" then query_ids[r.id] = r else body_ids[r.id] = r end
    end
    out[#out + 1] = { where = ep.id .. " params", fields = ep.params, rules = {} }
    out[#out + 1] = { where = ep.id .. " query", fields = ep.query, rules = query_ids, flat = true }
    if ep.body then out[#out + 1] = { where = ep.id .. " body", fields = ep.body, rules = body_ids } end
    if ep.response.fields then out[#out + 1] = { where = ep.id .. " answer", fields = ep.response.fields, rules = {} } end
  end
  return out
end

local function field_of(fields, name)
  for _, f in ipairs(fields) do if f.name == name then return f end end
  return nil
end

-- the field definition at a path: { "E1", "post_payments", "name" } (types are followed through objects/arrays)
local function lookup(id, ...)
  local ep = schema.by_id[id]
  local path = { ... }
  local where = path[1]
  local fields
  if where == "query" then fields = ep.query; table.remove(path, 1)
  elseif where == "params" then fields = ep.params; table.remove(path, 1)
  else fields = ep.body end
  local f
  for i, name in ipairs(path) do
    f = assert(field_of(fields, name), id .. ": no field " .. table.concat(path, "/", 1, i))
    local tname = f.object or f.items
    if tname then fields = schema.types[tname].fields end
  end
  return f
end

describe("payscore.schema", function()
  it("lists E1-E15 of payscore.md §0 in order, with unique ids and names", function()
    assert.are.equal(15, #schema.endpoints)
    local names = {}
    for i, ep in ipairs(schema.endpoints) do
      assert.are.equal("E" .. i, ep.id)
      assert.are.equal(ep, schema.by_id[ep.id])
      assert.is_string(ep.name)
      assert.is_nil(names[ep.name])
      names[ep.name] = true
      assert.is_string(ep.title)
      assert.is_string(ep.call)
    end
  end)

  it("has the methods, paths, /v3 aliases (§11) and success codes of §0", function()
    local expected = {
      E1 = { "POST", "/v3/payscore/serviceorder", 200 },
      E2 = { "GET", "/v3/payscore/serviceorder", 200 },
      E3 = { "POST", "/v3/payscore/serviceorder/{out_order_no}/cancel", 200 },
      E4 = { "POST", "/v3/payscore/serviceorder/{out_order_no}/modify", 200 },
      E5 = { "POST", "/v3/payscore/serviceorder/{out_order_no}/complete", 200 },
      E6 = { "POST", "/v3/payscore/serviceorder/{out_order_no}/pay", 200 },
      E7 = { "POST", "/v3/payscore/serviceorder/{out_order_no}/sync", 200 },
      E8 = { "POST", "/payscore/serviceorder/direct-complete", 200, "/v3/payscore/serviceorder/direct-complete" },
      E9 = { "POST", "/v3/payscore/permissions", 200 },
      E10 = { "GET", "/v3/payscore/permissions/authorization-code/{authorization_code}", 200 },
      E11 = { "POST", "/v3/payscore/permissions/authorization-code/{authorization_code}/terminate", 204 },
      E12 = { "GET", "/v3/payscore/permissions/openid/{openid}", 200 },
      E13 = { "POST", "/v3/payscore/permissions/openid/{openid}/terminate", 204 },
      E14 = { "GET", "/v3/payscore/user-service-state", 200, "/payscore/user-service-state" },
      E15 = { "POST", "/payscore/users/{openid}/permissions/{service_id}/terminate", 204,
        "/v3/payscore/users/{openid}/permissions/{service_id}/terminate" },
    }
    for id, e in pairs(expected) do
      local ep = schema.by_id[id]
      assert.are.equal(e[1], ep.method, id)
      assert.are.equal(e[2], ep.path, id)
      assert.are.equal(e[3], ep.success, id)
      assert.are.equal(e[3], ep.response.status, id)
      assert.are.same(e[4] and { e[4] } or {}, ep.aliases, id)
      if e[3] == 204 then assert.is_nil(ep.response.fields, id) else assert.is_table(ep.response.fields, id) end
      if ep.method == "GET" then assert.is_nil(ep.body, id) else assert.is_table(ep.body, id) end
      local names = {}
      for name in ep.path:gmatch("{([%w_]+)}") do names[#names + 1] = name end
      local pnames = {}
      for i, f in ipairs(ep.params) do pnames[i] = f.name end
      assert.are.same(names, pnames, id)
    end
  end)

  it("is plain data: no functions, userdata or threads anywhere", function()
    local seen = {}
    local function walk(v, where)
      local tv = type(v)
      assert.is_true(tv ~= "function" and tv ~= "userdata" and tv ~= "thread", where)
      if tv == "table" and not seen[v] then
        seen[v] = true
        assert.is_nil(getmetatable(v), where)
        for k, x in pairs(v) do walk(k, where); walk(x, where .. "." .. tostring(k)) end
      end
    end
    walk(schema, "schema")
  end)

  it("describes every field with a known type, the attributes of that type only, and valid references", function()
    for _, sc in ipairs(scopes()) do
      for _, f in ipairs(sc.fields) do
        local where = sc.where .. "." .. tostring(f.name)
        assert.is_string(f.name, where)
        local allowed = ATTRS[f.type]
        assert.is_table(allowed, where .. ": type " .. tostring(f.type))
        for k in pairs(f) do
          assert.is_true(COMMON_ATTRS[k] or allowed[k] or false, where .. ": attribute " .. tostring(k))
        end
        if f.type == "object" then assert.is_table(schema.types[f.object], where) end
        if f.type == "array" then assert.is_table(schema.types[f.items], where) end
        for _, name in ipairs(f.formats or {}) do assert.is_table(schema.formats[name], where) end
        if f.charset then assert.is_string(schema.charsets[f.charset].pattern, where) end
        if f.enum then
          assert.is_true(#f.enum > 0, where)
          for _, v in ipairs(f.enum) do assert.is_string(v, where) end
        end
        local r = f.required
        assert.is_true(r == nil or r == true or r == false or type(r) == "string", where)
        if type(r) == "string" then assert.is_table(sc.rules[r], where .. ": rule " .. r .. " not in scope") end
        if sc.flat then assert.are.equal("string", f.type, where) end
      end
    end
  end)

  it("names existing fields in every cross-field rule", function()
    local KINDS = { required_if = true, exactly_one = true, requires = true, together = true, at_least_one = true,
      sum = true, unique = true, time_order = true }
    for _, sc in ipairs(scopes()) do
      for id, r in pairs(sc.rules) do
        local where = sc.where .. " rule " .. id
        assert.is_true(KINDS[r.kind] or false, where)
        assert.is_string(r.text, where)
        local fields = sc.fields
        if r.each then
          local arr = field_of(fields, r.each)
          assert.are.equal("array", arr.type, where)
          fields = schema.types[arr.items].fields
        end
        local function f(name) assert.is_table(field_of(fields, name), where .. ": " .. tostring(name)) end
        if r.field then f(r.field) end
        if r.needs then f(r.needs) end
        if r.when then f(r.when.field) end
        if r.when_present then f(r.when_present) end
        for _, name in ipairs(r.fields or {}) do f(name) end
        if r.start then f(r.start); f(r.finish) end
        if r.array then
          f(r.array)
          assert.is_table(field_of(schema.types[field_of(fields, r.array).items].fields, r.member), where)
        end
        if r.add then
          for _, side in ipairs({ r.add, r.sub }) do
            f(side[1])
            assert.is_table(field_of(schema.types[field_of(fields, side[1]).items].fields, side[2]), where)
          end
        end
      end
    end
  end)

  it("has the lengths of payscore.md §6.5 in characters", function()
    local limits = {
      { 32, "E1", "out_order_no" }, { 20, "E1", "service_introduction" }, { 20, "E1", "post_payments", "name" },
      { 30, "E1", "post_payments", "description" }, { 20, "E1", "post_discounts", "name" },
      { 30, "E1", "post_discounts", "description" }, { 30, "E1", "risk_fund", "description" },
      { 256, "E1", "attach" }, { 255, "E1", "notify_url" }, { 128, "E1", "openid" }, { 50, "E3", "reason" },
      { 50, "E4", "reason" }, { 50, "E11", "reason" }, { 50, "E13", "reason" }, { 50, "E15", "reason" },
      { 32, "E5", "goods_tag" }, { 32, "E8", "goods_tag" }, { 20, "E1", "time_range", "start_time_remark" },
      { 20, "E1", "time_range", "end_time_remark" }, { 20, "E5", "time_range", "end_time_remark" },
      { 50, "E1", "location", "start_location" }, { 50, "E1", "location", "end_location" },
      { 50, "E5", "location", "end_location" }, { 32, "E9", "authorization_code" },
      { 32, "E10", "params", "authorization_code" }, { 512, "E2", "query", "query_id" },
      { 32, "E2", "query", "out_order_no" }, { 128, "E12", "params", "openid" }, { 32, "E3", "params", "out_order_no" },
      { 20, "E8", "service_introduction" }, { 128, "E8", "openid" }, { 32, "E7", "type" },
    }
    for _, l in ipairs(limits) do
      local f = lookup(unpack(l, 2))
      assert.are.equal(l[1], f.max, table.concat(l, " ", 2))
      assert.are.equal("string", f.type)
    end
  end)

  it("has the number rules of §2 and §6 (integer fen, bounds, item counts)", function()
    local ints = {
      { 0, nil, "E1", "post_payments", "amount" }, { 1, 100, "E1", "post_payments", "count" },
      { 0, nil, "E5", "post_discounts", "amount" }, { 1, 100, "E5", "post_discounts", "count" },
      { 1, nil, "E1", "risk_fund", "amount" }, { 0, nil, "E4", "total_amount" }, { 0, nil, "E5", "total_amount" },
      { 0, nil, "E8", "total_amount" },
    }
    for _, l in ipairs(ints) do
      local f = lookup(unpack(l, 3))
      assert.are.equal("integer", f.type)
      assert.are.equal(l[1], f.min)
      assert.are.equal(l[2], f.max)
    end
    for _, id in ipairs({ "E1", "E4", "E5", "E8" }) do
      assert.are.equal(100, lookup(id, "post_payments").max_items)
      assert.are.equal(30, lookup(id, "post_discounts").max_items, id) -- E8: CONFLICT 5 vs 30 -> 30 (§11)
    end
    for _, id in ipairs({ "E4", "E5", "E8" }) do
      assert.are.equal(1, lookup(id, "post_payments").min_items, id)
      assert.is_true(lookup(id, "post_payments").required, id)
    end
    assert.is_nil(lookup("E1", "post_payments").min_items)
    assert.are.same({ "DEPOSIT", "ADVANCE", "CASH_DEPOSIT", "ESTIMATE_ORDER_COST" }, lookup("E1", "risk_fund", "name").enum)
    assert.are.same({ "Order_Paid" }, lookup("E7", "type").enum)
    assert.are.equal("boolean", lookup("E1", "need_user_confirm").type)
    assert.are.equal(true, lookup("E1", "need_user_confirm").default)
  end)

  it("allows OnAccept only for create's start_time (§1.3, §2.3)", function()
    local with = {}
    local function walk(fields, where, seen)
      for _, f in ipairs(fields) do
        for _, fm in ipairs(f.formats or {}) do
          if fm == "OnAccept" then with[#with + 1] = where .. "/" .. f.name end
        end
        local t = f.object or f.items
        if t and not seen[t] then
          seen[t] = true
          walk(schema.types[t].fields, where .. "/" .. f.name, seen)
          seen[t] = nil
        end
      end
    end
    for _, ep in ipairs(schema.endpoints) do
      walk(ep.params, ep.id, {}); walk(ep.query, ep.id, {})
      if ep.body then walk(ep.body, ep.id, {}) end
    end
    assert.are.same({ "E1/time_range/start_time" }, with)
    assert.are.same({ "time14", "time8" }, lookup("E5", "time_range", "start_time").formats)
    assert.are.same({ "time14", "time8" }, lookup("E8", "time_range", "start_time").formats)
    assert.is_true(lookup("E8", "time_range", "start_time").required)
    assert.are.same({ "time14", "time8" }, lookup("E7", "detail", "paid_time").formats)
  end)

  it("resolves the CONFLICTs with §11's defaults and says so next to the field", function()
    assert.are.equal(512, lookup("E2", "query", "query_id").max)
    assert.is_string(lookup("E2", "query", "query_id").conflict)
    assert.is_string(lookup("E3", "reason").conflict)
    assert.is_string(lookup("E1", "time_range", "end_time_remark").conflict)
    assert.is_true(lookup("E3", "service_id").required)
    assert.is_string(lookup("E3", "service_id").conflict)
    assert.is_true(lookup("E6", "appid").required)
    assert.is_true(lookup("E6", "service_id").required)
    assert.is_string(lookup("E8", "post_discounts").conflict)
    local cs = schema.charsets[lookup("E1", "out_order_no").charset]
    assert.is_truthy(("Ab09_-|*"):match(cs.pattern))
    assert.is_falsy(("a@b"):match(cs.pattern))
  end)

  it("keeps the cross-field rules of §6 that need no server state", function()
    local ids = {}
    for _, t in pairs(schema.types) do for _, r in ipairs(t.rules or {}) do ids[r.id] = r end end
    for _, ep in ipairs(schema.endpoints) do for _, r in ipairs(ep.rules) do ids[r.id] = r end end
    for _, id in ipairs({ "total_amount_sum", "out_order_no_xor_query_id", "openid_required_without_confirm",
      "end_location_needs_start_location", "start_time_remark_needs_start_time", "end_time_remark_needs_end_time",
      "unique_payment_names", "unique_discount_names", "payment_amount_or_description",
      "discount_name_with_description", "discount_amount_with_name", "end_time_after_start_time",
      "notify_url_when_collecting", "detail_when_order_paid" }) do
      assert.is_table(ids[id], id)
    end
    assert.are.same({ "商品信息" }, ids.unique_payment_names.except)
    assert.are.equal("最终总金额计算非法", ids.total_amount_sum.api_message)
    -- the sum applies where total_amount is sent: modify, complete, direct-complete
    for _, ep in ipairs(schema.endpoints) do
      local has_sum = false
      for _, r in ipairs(ep.rules) do if r.id == "total_amount_sum" then has_sum = true end end
      local has_total = ep.body ~= nil and field_of(ep.body, "total_amount") ~= nil
      assert.are.equal(has_total, has_sum, ep.id)
    end
    -- openid with need_user_confirm = true is not refused (the official example sends both)
    assert.are.same({ field = "need_user_confirm", equals = false, default = true },
      ids.openid_required_without_confirm.when)
  end)
end)

describe("docs/payscore.md", function()
  local f = io.open("docs/payscore.md", "rb")
  local doc = f and f:read("*a")
  if f then f:close() end

  it("exists and draws the order life cycle", function()
    assert.is_string(doc)
    assert.is_truthy(doc:find("stateDiagram-v2", 1, true))
    for _, s in ipairs({ "CREATED", "DOING", "DONE", "REVOKED", "EXPIRED", "USER_CONFIRM", "MCH_COMPLETE",
      "USER_PAYING", "USER_PAID" }) do
      assert.is_truthy(doc:find(s, 1, true), s)
    end
  end)

  it("lists every endpoint with its path, aliases, Lua call and fields", function()
    for _, ep in ipairs(schema.endpoints) do
      local head = doc:find("### " .. ep.id .. " ", 1, true)
      assert.is_truthy(head, ep.id)
      local next_head = doc:find("\n### ", head + 1, true) or #doc
      local section = doc:sub(head, next_head)
      assert.is_truthy(section:find(ep.path, 1, true), ep.id .. " path")
      for _, a in ipairs(ep.aliases) do assert.is_truthy(section:find(a, 1, true), ep.id .. " alias " .. a) end
      local call = ep.call:match("^(.-)%{") or ep.call
      assert.is_truthy(section:find(call, 1, true), ep.id .. " call " .. call)
      local function fields(list, prefix)
        for _, fd in ipairs(list) do
          assert.is_truthy(section:find("`" .. prefix .. fd.name .. "`", 1, true), ep.id .. " field " .. prefix ..
            fd.name)
        end
      end
      fields(ep.params, "")
      fields(ep.query, "")
      if ep.body then fields(ep.body, "") end
    end
  end)
end)
