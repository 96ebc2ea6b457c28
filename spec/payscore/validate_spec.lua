-- wechatpay.payscore.validate: pure unit specs (no server, no C core needed), Lua 5.4 and LuaJIT.
--
-- Part 1 generates, from the schema itself, one violating request per field constraint and per cross-field rule of
-- every endpoint (starting from a valid request that sends every documented field) and checks that the validator
-- refuses it with the right pointer, location and rule. Part 2 covers the behaviours around it.

local validate = require "wechatpay.payscore.validate"
local schema = require "wechatpay.payscore.schema"
local fx = require "spec.payscore.fixtures"
local violations = require "spec.payscore.violations"

local copy = fx.copy
local IS54 = math.type ~= nil
local has, apply = violations.has, violations.apply

---------------------------------------------------------------------------------------------------------------------
-- Part 1: generated coverage (spec/payscore/violations.lua), with the boundaries the validator must accept

local generator = violations.new()
local gen_endpoint, COVERED_RULES = generator.endpoint, generator.covered

describe("payscore.validate: generated coverage", function()
  local total = 0
  for _, ep in ipairs(schema.endpoints) do
    local base, cases = gen_endpoint(ep)
    describe(ep.id .. " " .. ep.name, function()
      it("accepts the fixture request (every documented field sent)", function()
        local ok, problems, warnings = validate.request(ep, base)
        assert.is_true(ok, validate.format(problems))
        assert.are.equal(0, #warnings, validate.format(warnings))
      end)
      it("has violating cases", function()
        assert.is_true(#cases > 0)
      end)
      for _, c in ipairs(cases) do
        total = total + 1
        local label = string.format("%s %s: %s -> %s", c.location, c.pointer, c.label, c.rule)
        it((c.passes and "accepts " or "refuses ") .. label, function()
          local req = apply(base, c)
          local ok, problems = validate.request(ep, req)
          local found = has(problems, c.pointer, c.rule, c.location)
          if c.passes then
            assert.is_nil(found, validate.format(problems))
          else
            assert.is_false(ok)
            assert.is_not_nil(found, "expected " .. c.location .. " " .. c.pointer .. " " .. c.rule .. ", got: " ..
              validate.format(problems))
            assert.is_string(found.message)
          end
        end)
      end
    end)
  end

  it("covers every cross-field rule of the schema with a violating case", function()
    local all = {}
    for _, t in pairs(schema.types) do for _, r in ipairs(t.rules or {}) do all[r.id] = true end end
    for _, ep in ipairs(schema.endpoints) do for _, r in ipairs(ep.rules) do all[r.id] = true end end
    local missing = {}
    for id in pairs(all) do if not COVERED_RULES[id] or COVERED_RULES[id] < 1 then missing[#missing + 1] = id end end
    table.sort(missing)
    assert.are.same({}, missing)
    assert.is_true(total > 300, "only " .. total .. " cases")
  end)
end)

---------------------------------------------------------------------------------------------------------------------
-- Part 2: behaviour

describe("payscore.validate", function()
  describe("find", function()
    it("finds every endpoint by its canonical path and its aliases, with decoded parameters", function()
      for _, ep in ipairs(schema.endpoints) do
        local templates = { ep.path }
        for _, a in ipairs(ep.aliases) do templates[#templates + 1] = a end
        for _, tpl in ipairs(templates) do
          local path = fx.path(ep.id, tpl)
          local found, params = validate.find(ep.method, path)
          assert.are.equal(ep, found, path)
          assert.are.same(fx.request(ep.id).params, params)
          local f2 = validate.find(ep.method:lower(), path .. "?a=1&b=2")
          assert.are.equal(ep, f2)
        end
      end
    end)
    it("knows the /v3 aliases of E8, E14, E15 (payscore.md §11)", function()
      assert.are.equal("E8", validate.find("POST", "/payscore/serviceorder/direct-complete").id)
      assert.are.equal("E8", validate.find("POST", "/v3/payscore/serviceorder/direct-complete").id)
      assert.are.equal("E14", validate.find("GET", "/payscore/user-service-state").id)
      assert.are.equal("E14", validate.find("GET", "/v3/payscore/user-service-state").id)
      assert.are.equal("E15", validate.find("POST", "/payscore/users/o1/permissions/s1/terminate").id)
      assert.are.equal("E15", validate.find("POST", "/v3/payscore/users/o1/permissions/s1/terminate").id)
    end)
    it("tells E1 from E2 by the method and percent-decodes parameters", function()
      assert.are.equal("E1", validate.find("POST", "/v3/payscore/serviceorder").id)
      assert.are.equal("E2", validate.find("GET", "/v3/payscore/serviceorder?out_order_no=N1").id)
      local ep, params = validate.find("POST", "/v3/payscore/serviceorder/N%2F1%20x/cancel")
      assert.are.equal("E3", ep.id)
      assert.are.same({ out_order_no = "N/1 x" }, params)
      local ep15, p15 = validate.find("POST", "/payscore/users/o%2Bx/permissions/500001/terminate")
      assert.are.equal("E15", ep15.id)
      assert.are.same({ openid = "o+x", service_id = "500001" }, p15)
    end)
    it("returns nil for anything else", function()
      assert.is_nil(validate.find("PUT", "/v3/payscore/serviceorder"))
      assert.is_nil(validate.find("GET", "/v3/payscore/serviceorder/N1/cancel"))
      assert.is_nil(validate.find("POST", "/v3/payscore/serviceorder/"))
      assert.is_nil(validate.find("POST", "/v3/payscore/serviceorder//cancel"))
      assert.is_nil(validate.find("POST", "/v3/payscore/serviceorder/a/b/cancel"))
      assert.is_nil(validate.find("POST", "/v3/payscore/partner/serviceorder"))
      assert.is_nil(validate.find("POST", "/v3/pay/transactions/native"))
      assert.is_nil(validate.find("POST", "v3/payscore/serviceorder"))
      assert.is_nil(validate.find(nil, "/v3/payscore/serviceorder"))
    end)
    it("exposes routes for routers", function()
      local n = 0
      for _, r in ipairs(validate.routes) do
        n = n + 1
        local ep = schema.by_id[r.id]
        assert.are.equal(ep.method, r.method)
        assert.is_truthy(("/x"):match(r.pattern) == nil)
        local path = fx.path(r.id, r.template)
        assert.is_truthy(path:match(r.pattern), r.pattern)
      end
      assert.are.equal(15 + 3, n) -- E8, E14, E15 have one alias each
    end)
  end)

  describe("the seed and the documented examples", function()
    it("accepts the seed's create request unchanged (openid together with need_user_confirm = true)", function()
      local body = fx.seed_create()
      local ok, problems, warnings = validate.request("E1", { json = body })
      assert.is_true(ok, validate.format(problems))
      assert.are.same({}, warnings)
      assert.are.same(fx.seed_create(), body) -- not modified
    end)
    it("accepts the seed's query, whose query_id is empty, as a table and as a string", function()
      local ok, problems = validate.request("E2", { query = fx.seed_query() })
      assert.is_true(ok, validate.format(problems))
      ok, problems = validate.request("E2", { query =
        "appid=wxd678efh567hg6787&out_order_no=1234323JKHDFE1243252&query_id=&service_id=2002000000000558128851361561536" })
      assert.is_true(ok, validate.format(problems))
      local ok3, p3, _, ep = validate.check("GET", "/v3/payscore/serviceorder?appid=wxd678efh567hg6787" ..
        "&out_order_no=1234323JKHDFE1243252&query_id=&service_id=2002000000000558128851361561536")
      assert.is_true(ok3, validate.format(p3))
      assert.are.equal("E2", ep.id)
    end)
    it("accepts a query by query_id alone and refuses a query without either", function()
      local q = fx.seed_query()
      q.out_order_no, q.query_id = nil, "15646546545165651651"
      assert.is_true((validate.request("E2", { query = q })))
      q.query_id = ""
      local ok, problems = validate.request("E2", { query = q })
      assert.is_false(ok)
      assert.is_truthy(has(problems, "out_order_no", "out_order_no_xor_query_id", "query"))
    end)
    it("follows the spec for need_user_confirm and openid", function()
      local body = fx.seed_create()
      body.openid = nil
      assert.is_true((validate.request("E1", { json = body })))       -- 需确认, no openid
      body.need_user_confirm = nil
      assert.is_true((validate.request("E1", { json = body })))       -- default true
      body.need_user_confirm = false
      local ok, problems = validate.request("E1", { json = body })     -- 免确认 needs openid
      assert.is_false(ok)
      assert.are.equal("/openid: is required when need_user_confirm is false", validate.format(problems))
      body.openid = fx.OPENID
      assert.is_true((validate.request("E1", { json = body })))
    end)
    it("computes total_amount without multiplying count, refusing the official complete example's 50000", function()
      local req = fx.request("E5")
      assert.are.equal(4, req.json.post_payments[1].count)
      req.json.total_amount = 50000
      local ok, problems = validate.request("E5", req)
      assert.is_false(ok)
      assert.are.equal("/total_amount: must equal Σpost_payments[].amount - Σpost_discounts[].amount = 39900 " ..
        "(40000 - 100; count is not multiplied), got 50000", validate.format(problems))
      req.json.total_amount = 39900
      assert.is_true((validate.request("E5", req)))
    end)
    it("counts a missing amount as 0 in the sum", function()
      local req = fx.request("E5")
      req.json.post_payments = { { name = "押金", description = "免押" }, { name = "租金", amount = 300 } }
      req.json.post_discounts = nil
      req.json.total_amount = 300
      local ok, problems = validate.request("E5", req)
      assert.is_true(ok, validate.format(problems))
    end)
    it("allows the name 商品信息 to repeat and no other", function()
      local req = fx.request("E5")
      req.json.post_payments = { { name = "商品信息", amount = 100 }, { name = "商品信息", amount = 200 } }
      req.json.post_discounts = nil
      req.json.total_amount = 300
      assert.is_true((validate.request("E5", req)))
      req.json.post_payments[3] = { name = "服务费", amount = 1 }
      req.json.post_payments[4] = { name = "服务费", amount = 1 }
      req.json.total_amount = 302
      local ok, problems = validate.request("E5", req)
      assert.is_false(ok)
      assert.are.equal('/post_payments/3/name: duplicate name "服务费" (same as /post_payments/2/name)',
        validate.format(problems))
    end)
  end)

  describe("numbers", function()
    it("accepts an integral float as the integer (the encoder writes 40000)", function()
      local body = fx.seed_create()
      body.post_payments[1].amount = 40000.0
      body.risk_fund.amount = 1e4
      local ok, problems = validate.request("E1", { json = body })
      assert.is_true(ok, validate.format(problems))
    end)
    it("refuses fractions, NaN, infinities and integers beyond 2^53 - 1, with the value seen", function()
      local body = fx.seed_create()
      body.post_payments[1].amount = 400.5
      local ok, problems = validate.request("E1", { json = body })
      assert.is_false(ok)
      assert.are.equal("/post_payments/0/amount: must be an integer number of fen, got 400.5",
        validate.format(problems))
      assert.are.equal(400.5, problems[1].value)
      assert.are.equal("integer", problems[1].rule)
      body.post_payments[1].amount = 0.1
      assert.are.equal("/post_payments/0/amount: must be an integer number of fen, got 0.1",
        validate.format(select(2, validate.request("E1", { json = body }))))
      body.post_payments[1].amount = 2 ^ 53
      assert.are.equal("/post_payments/0/amount: must be an integer number of fen within ±(2^53 − 1), got " ..
        "9007199254740992", validate.format(select(2, validate.request("E1", { json = body }))))
      body.post_payments[1].amount = -math.huge
      assert.are.equal("/post_payments/0/amount: must be an integer number of fen, got -inf",
        validate.format(select(2, validate.request("E1", { json = body }))))
      body.post_payments[1].amount = 9007199254740991
      assert.is_true((validate.request("E1", { json = body })))
    end)
    it("refuses Lua 5.4 integers beyond 2^53 - 1 (5.4 only)", function()
      if not IS54 then return pending("LuaJIT has no integer subtype") end
      local body = fx.seed_create()
      body.post_payments[1].amount = math.maxinteger
      local ok, problems = validate.request("E1", { json = body })
      assert.is_false(ok)
      assert.is_truthy(has(problems, "/post_payments/0/amount", "integer"))
    end)
    it("refuses numbers given as strings and booleans for counts", function()
      local body = fx.seed_create()
      body.post_payments[1].amount = "40000"
      body.post_payments[1].count = true
      assert.are.equal('/post_payments/0/amount: must be an integer number of fen, got string "40000"; ' ..
        "/post_payments/0/count: must be an integer, got boolean true",
        validate.format(select(2, validate.request("E1", { json = body }))))
    end)
  end)

  describe("strings", function()
    it("counts characters, not bytes", function()
      local body = fx.seed_create()
      body.service_introduction = string.rep("酒", 20) -- 60 bytes
      assert.is_true((validate.request("E1", { json = body })))
      body.service_introduction = string.rep("酒", 19) .. "ab"
      local ok, problems = validate.request("E1", { json = body })
      assert.is_false(ok)
      assert.are.equal("/service_introduction: at most 20 characters, got 21", validate.format(problems))
      assert.are.equal(20, validate.utf8_len(string.rep("é", 10) .. string.rep("中", 10)))
    end)
    it("names the byte of invalid UTF-8 and the code point of a 4-byte character", function()
      local body = fx.seed_create()
      body.attach = "ok\255"
      body.service_introduction = "房\240\159\152\128"
      assert.are.equal("/service_introduction: contains a 4-byte UTF-8 character (U+1F600 at byte 4): the API " ..
        "accepts only 1-3-byte characters (no emoji); /attach: must be valid UTF-8 (invalid byte 0xFF at byte 3)",
        validate.format(select(2, validate.request("E1", { json = body }))))
    end)
    it("accepts empty optional strings and refuses empty required ones", function()
      local body = fx.seed_create()
      body.attach = ""
      body.risk_fund.description = ""
      assert.is_true((validate.request("E1", { json = body })))
      body.appid = ""
      assert.are.equal("/appid: must not be empty", validate.format(select(2, validate.request("E1", { json = body }))))
    end)
    it("checks calendar times and OnAccept only where allowed", function()
      local body = fx.seed_create()
      body.time_range = { start_time = "OnAccept", end_time = "20240229" }
      assert.is_true((validate.request("E1", { json = body })))
      body.time_range.end_time = "20230229"
      assert.are.equal('/time_range/end_time: must be yyyyMMddHHmmss or yyyyMMdd, got "20230229"',
        validate.format(select(2, validate.request("E1", { json = body }))))
      local req = fx.request("E8")
      req.json.time_range.start_time = "OnAccept"
      assert.is_truthy(has(select(2, validate.request("E8", req)), "/time_range/start_time", "format"))
    end)
    it("orders times only when both have the same precision", function()
      local body = fx.seed_create()
      body.time_range.end_time = "20091224"      -- day precision vs second precision: left to the server
      assert.is_true((validate.request("E1", { json = body })))
      body.time_range.start_time, body.time_range.end_time = "20091225", "20091225" -- same day: allowed
      assert.is_true((validate.request("E1", { json = body })))
      body.time_range.start_time, body.time_range.end_time = "20091225091010", "20091225091010"
      assert.are.equal("/time_range/end_time: must be after start_time (20091225091010), got 20091225091010",
        validate.format(select(2, validate.request("E1", { json = body }))))
    end)
  end)

  describe("shapes", function()
    it("refuses a non-table body and objects that are arrays, and arrays that are objects", function()
      local ok, problems = validate.request("E3", { json = "x" })
      assert.is_false(ok)
      assert.are.equal('(body): the body must be a JSON object, got string "x"', validate.format(problems))
      local body = fx.seed_create()
      body.post_payments = { name = "x" }
      body.time_range = { { start_time = "OnAccept" } }
      assert.are.equal("/post_payments: must be an array, got an object; /time_range: must be an object, got an array",
        validate.format(select(2, validate.request("E1", { json = body }))))
    end)
    it("refuses an object with non-string keys", function()
      local body = fx.seed_create()
      body.risk_fund[7] = "x"
      assert.is_truthy(has(select(2, validate.request("E1", { json = body })), "/risk_fund", "type"))
    end)
    it("treats a missing body as an empty object", function()
      local ok, problems = validate.request("E6", { params = { out_order_no = "N1" } })
      assert.is_false(ok)
      assert.are.equal("/appid: is required; /service_id: is required", validate.format(problems))
    end)
    it("warns about a body sent to a GET endpoint", function()
      local req = fx.request("E12")
      req.json = { a = 1 }
      local ok, problems, warnings = validate.request("E12", req)
      assert.is_true(ok, validate.format(problems))
      assert.are.equal(1, #warnings)
    end)
  end)

  describe("unknown fields and null", function()
    it("reports unknown fields as warnings, sorted, with their pointer, not as errors", function()
      local body = fx.seed_create()
      body.zeta, body.alpha = 1, "x"
      body.post_payments[1].sku = "A1"
      body.location["a/b~c"] = true
      local ok, problems, warnings = validate.request("E1", { json = body })
      assert.is_true(ok, validate.format(problems))
      local ptrs = {}
      for i, w in ipairs(warnings) do
        ptrs[i] = w.pointer
        assert.are.equal("unknown_field", w.rule)
      end
      assert.are.same({ "/post_payments/0/sku", "/location/a~1b~0c", "/alpha", "/zeta" }, ptrs)
      assert.are.equal("/alpha: is not a documented field of E1 (sent as is)", validate.format({ warnings[3] }))
    end)
    it("warns about unknown query parameters (also with a string query)", function()
      local q = fx.seed_query()
      q.extra = "1"
      local ok, _, warnings = validate.request("E2", { query = q })
      assert.is_true(ok)
      assert.are.equal("query parameter extra: is not a documented query parameter of E2 (sent as is)",
        validate.format(warnings))
    end)
    it("treats JSON null (json.null, cjson.null) as absent", function()
      local ok_json, json = pcall(require, "wechatpay.codec.json")
      if not ok_json then return pending("wechatpay.codec.json needs the C core on LUA_CPATH") end
      local body = fx.seed_create()
      body.attach = json.null
      body.appid = json.null
      local ok, problems, warnings = validate.request("E1", { json = body })
      assert.is_false(ok)
      assert.are.equal("/appid: is required", validate.format(problems))
      assert.are.equal(2, #warnings)
      assert.are.equal("null", warnings[1].rule)
      local decoded = json.decode('{"appid":"a","service_id":"s","post_payments":[],' ..
        '"post_discounts":[{"name":"n","description":"d","amount":null}],"time_range":[],"reason":"r"}')
      local ok2, p2 = validate.request("E4", { params = { out_order_no = "N1" }, json = decoded })
      assert.is_false(ok2)
      assert.are.equal("/post_payments: must have at least 1 item, got 0; /total_amount: is required; " ..
        "/post_discounts/0/amount: is required when name is given", validate.format(p2))
      local _, _, w2 = validate.request("E4", { params = { out_order_no = "N1" }, json = decoded })
      local seen = {}
      for i, w in ipairs(w2) do seen[i] = w.pointer .. " " .. w.rule end
      assert.are.same({ "/post_discounts/0/amount null", "/time_range unknown_field" }, seen)
      assert.is_true((validate.request("E1", { json = (function()
        local b = fx.seed_create(); b.post_discounts = json.empty_array; b.location = json.empty_object; return b
      end)() })))
    end)
  end)

  describe("query and path parameters", function()
    it("accepts integers for string parameters and refuses booleans and lists", function()
      local q = fx.seed_query()
      q.out_order_no = 12345
      assert.is_true((validate.request("E2", { query = q })))
      q.out_order_no = true
      q.appid = { "a", "b" }
      assert.are.equal("query parameter out_order_no: must be a string, got boolean true; " ..
        "query parameter appid: must be given once, got a list of values",
        validate.format(select(2, validate.request("E2", { query = q }))))
      local parsed = validate.parse_query("?a=1&a=2&b=x%20y+z&c")
      assert.are.same({ a = { "1", "2" }, b = "x y z", c = "" }, parsed)
    end)
    it("checks path parameters from params or from the path, not when neither is given", function()
      local req = fx.request("E3")
      req.params = nil
      assert.is_true((validate.request("E3", req)))
      req.path = "/v3/payscore/serviceorder/N%20123/cancel"
      local ok, problems = validate.request("E3", req)
      assert.is_false(ok)
      assert.are.equal('path parameter out_order_no: may contain only digits, letters and _ - | *, got "N 123"',
        validate.format(problems))
      req.path = nil
      req.params = { out_order_no = "", unrelated = "ignored" }
      assert.are.equal("path parameter out_order_no: is required (got an empty value)",
        validate.format(select(2, validate.request("E3", req))))
    end)
    it("check() does find + request and passes paths that are no PayScore endpoint", function()
      local ok, problems, warnings, ep = validate.check("POST", "/v3/pay/transactions/native", { json = { a = 1 } })
      assert.is_true(ok)
      assert.are.same({}, problems)
      assert.are.same({}, warnings)
      assert.is_nil(ep)
      local ok2, p2, _, ep2 = validate.check("POST", "/v3/payscore/serviceorder/N%201/pay",
        { json = { appid = "a", service_id = "s" } })
      assert.is_false(ok2)
      assert.are.equal("E6", ep2.id)
      assert.is_truthy(has(p2, "out_order_no", "charset", "path"))
    end)
  end)

  describe("results", function()
    it("reports every violation in a deterministic order (path, query, body in schema order, rules last)", function()
      local req = fx.request("E5")
      req.params.out_order_no = "N 1"
      req.json.appid = 1
      req.json.total_amount = 1
      req.json.post_payments[1].amount = 400.5
      req.json.time_range.end_time = "x"
      req.json.goods_tag = string.rep("g", 33)
      local _, p1 = validate.request("E5", req)
      local _, p2 = validate.request("E5", copy(req))
      assert.are.same(p1, p2)
      local order = {}
      for i, p in ipairs(p1) do order[i] = p.pointer .. " " .. p.rule end
      assert.are.same({ "out_order_no charset", "/appid type", "/post_payments/0/amount integer",
        "/time_range/end_time format", "/goods_tag max_length" }, order)
    end)
    it("formats problems as one line", function()
      assert.are.equal("", validate.format({}))
      assert.are.equal("/post_payments/0/amount: must be an integer number of fen, got 400.5; " ..
        "/service_introduction: at most 20 characters, got 21", validate.format({
          { pointer = "/post_payments/0/amount", message = "must be an integer number of fen, got 400.5",
            location = "body" },
          { pointer = "/service_introduction", message = "at most 20 characters, got 21", location = "body" } }))
    end)
    it("turns a problem into the sandbox's PARAM_ERROR body (payscore.md §9.1)", function()
      local body = fx.seed_create()
      body.post_payments[1].amount = 400.5
      local _, problems = validate.request("E1", { json = body })
      -- a value the JSON codec cannot write as a number (not an integer within ±(2^53-1)) is given as text
      assert.are.same({ code = "PARAM_ERROR", message = "参数错误", detail = { field = "/post_payments/0/amount",
        value = "400.5", issue = "must be an integer number of fen, got 400.5", location = "body" } },
        validate.param_error(problems[1]))
      body.post_payments[1].amount = 2 ^ 53 + 2
      _, problems = validate.request("E1", { json = body })
      assert.are.equal("string", type(validate.param_error(problems[1]).detail.value))
      assert.truthy(require("wechatpay.codec.json").encode(validate.param_error(problems[1])))
      body.post_payments[1].amount = 40000
      local req = fx.request("E5")
      req.json.total_amount = 1
      local _, p2 = validate.request("E5", req)
      local e2 = validate.param_error(p2[1])
      assert.are.equal("最终总金额计算非法", e2.message)
      assert.are.equal("/total_amount", e2.detail.field)
      assert.are.equal(1, e2.detail.value)
      local _, p3 = validate.request("E2", { query = { appid = "a", service_id = "s" } })
      assert.are.same({ field = "out_order_no", issue = "exactly one of out_order_no and query_id is required, " ..
        "got neither", location = "query" }, validate.param_error(p3[1]).detail)
      -- values that JSON cannot carry are left out
      body = fx.seed_create()
      body.attach = "\255"
      body.risk_fund.amount = 0 / 0
      local _, p4 = validate.request("E1", { json = body })
      assert.are.equal("/risk_fund/amount", p4[1].pointer)
      assert.are.equal("nan", validate.param_error(p4[1]).detail.value)
      assert.are.equal("/attach", p4[2].pointer)
      assert.is_nil(validate.param_error(p4[2]).detail.value)
    end)
    it("raises for an unknown endpoint (a programming mistake)", function()
      assert.has_error(function() validate.request("E99", {}) end)
      assert.has_error(function() validate.request(nil, {}) end)
    end)
    it("accepts an endpoint by id, by name and as the schema table", function()
      local req = fx.request("E7")
      assert.is_true((validate.request("E7", req)))
      assert.is_true((validate.request("sync", req)))
      assert.is_true((validate.request(schema.by_id.E7, req)))
    end)
  end)

  describe("answers", function()
    it("accepts documented answers and reports wrong types, missing always-present fields and unknown fields",
      function()
        local answer = {
          appid = fx.APPID, mchid = "1230000109", out_order_no = fx.OUT_ORDER_NO, service_id = fx.SERVICE_ID,
          service_introduction = "某某酒店", state = "CREATED", post_payments = fx.seed_create().post_payments,
          risk_fund = { name = "DEPOSIT", amount = 10000 }, time_range = { start_time = "20091225091010" },
          order_id = "15646546545165651651", package = "DJIOSQPYWDxsjdldeskdfnsdf",
        }
        local ok, problems, warnings = validate.response("E1", answer)
        assert.is_true(ok, validate.format(problems))
        assert.are.same({}, warnings)
        answer.post_payments[1].amount = "40000"
        answer.order_id = nil
        answer.new_field = 1
        ok, problems, warnings = validate.response("E1", answer)
        assert.is_false(ok)
        assert.are.equal('/post_payments/0/amount: must be an integer number of fen, got string "40000"; ' ..
          "/order_id: is required", validate.format(problems))
        assert.are.equal(1, #warnings)
        assert.is_true((validate.response("E11", nil)))
        assert.is_false((validate.response("E11", { a = 1 })))
        local q = validate.response("E2", { out_order_no = "N1", service_id = "s", appid = "a", mchid = "m",
          state = "DONE", total_amount = 39900, need_collection = true,
          collection = { state = "USER_PAID", total_amount = 39900, paying_amount = 0, paid_amount = 39900,
            details = { { seq = 1, amount = 39900, paid_type = "NEWTON", paid_time = "20091225121210",
              transaction_id = "15646546545165651651", promotion_detail = {} } } } })
        assert.is_true(q)
      end)
  end)
end)
