-- PayScore, end to end: our client against a sandbox started here (Lua 5.4 and LuaJIT).
--
-- 1. Every endpoint E1-E15 (and the /v3 aliases of E8, E14, E15): the fixture request (spec/payscore/fixtures.lua,
--    every documented field) passes the client's validation and succeeds at the sandbox, in the state it needs
--    (orders created, confirmed, completed...; the sandbox's business clock moved past the service), and the answer
--    matches the documented answer fields (validate.response).
-- 2. The seed: its create and query pass validation unchanged; with the official (2009) service times the client
--    sends the create and only the sandbox's clock rule refuses it; moved to tomorrow it succeeds. openid together
--    with need_user_confirm = true is accepted on both sides.
-- 3. Every schema rule: generated from the schema like spec/payscore/validate_spec.lua (one violating request per
--    field constraint and per cross-field rule, from the fixture request). The client refuses each with a `usage`
--    error naming the field, before any byte is sent (the sandbox's request log stays empty); sent with
--    validate = false, the sandbox refuses each with 400 PARAM_ERROR whose detail.field (and location and issue) is
--    the client's first problem. Where that cannot hold, the case says why (see CLIENT_ONLY / NOT_JSON below).
--
-- Runs one sandbox for the whole file (a temp dir, a free port, stopped in teardown).

local support = require "spec.support.sandbox"
local fx = require "spec.payscore.fixtures"
local violations = require "spec.payscore.violations"
local schema = require "wechatpay.payscore.schema"
local validate = require "wechatpay.payscore.validate"

local copy = fx.copy
local has_core = pcall(require, "wechatpay.core")
local available, why = support.available()

if not (has_core and available) then
  describe("payscore integration", function()
    it("needs the C core, nginx with its Lua module, openssl and curl", function()
      pending("prerequisites missing: " .. tostring(has_core and why or "the C core is not built"))
    end)
  end)
  return
end

local wechatpay = require "wechatpay"
local json = require "wechatpay.codec.json"

local TZ = 8 * 3600
local function time14(t) return os.date("!%Y%m%d%H%M%S", math.floor(t) + TZ) end
local function at(t, hh, mm, ss) -- Unix time of hh:mm:ss (Beijing) on the day of t
  t = math.floor(t)
  return t - (t + TZ) % 86400 + hh * 3600 + mm * 60 + ss
end

local sb, wx, cfg

local function client(opts)
  local c = {
    mchid = cfg.mchid, serial = cfg.serial, private_key = "file://" .. cfg.private_key,
    certs = { [cfg.public_key_id] = "file://" .. cfg.public_key },
    apiv3_key = cfg.apiv3_key, base_uri = cfg.base_uri, ca_file = cfg.ca_file,
  }
  for k, v in pairs(opts or {}) do c[k] = v end
  return assert(wechatpay.new(c))
end

local function control(method, path, body)
  local st, b, raw = sb.control(method, path, body)
  assert(st >= 200 and st < 300, method .. " " .. path .. ": " .. tostring(st) .. " " .. tostring(raw))
  return b
end

local function business_now()
  return control("GET", "/sandbox/clock").business_now
end

--- Move the sandbox's business clock to Unix time t (the protocol clock is untouched: requests stay signed).
local function travel_to(t)
  local c = control("GET", "/sandbox/clock")
  control("POST", "/sandbox/clock", { business_offset = c.business_offset + math.floor(t - c.business_now) })
end

local serial = 0
local function unique(prefix, len)
  serial = serial + 1
  return (prefix .. os.date("%H%M%S") .. string.format("%03d", serial % 1000) .. support.nonce(12)):sub(1, len)
end

--- Options of a verb call for a fixture-shaped request { params, query, json } (+ extra options).
local function call_opts(req, extra)
  local o = {}
  for k, v in pairs(req.params or {}) do o[k] = v end
  if req.query ~= nil and next(req.query) ~= nil then o.query = req.query end
  if req.json ~= nil then o.json = req.json end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

--- The endpoint's call through our client: wx:chain(<template>):<verb>(opts). async: the *Async verb (a promise).
local function call(c, ep, req, extra, template, async)
  local node = c:chain((template or ep.path):sub(2))
  local verb = ep.method:lower() .. (async and "Async" or "")
  return node[verb](node, call_opts(req, extra))
end

local function describe_err(err)
  if type(err) ~= "table" then return tostring(err) end
  return tostring(err) .. (err.body and (" body " .. tostring(err.body)) or "")
end

--- A success of ep: status, and the answer against the documented answer fields.
local function assert_success(ep, res, err)
  assert(res, describe_err(err))
  assert.are.equal(ep.success, res.status, res.body)
  assert.is_true(res.verified)
  if ep.success == 204 then
    assert.are.equal("", res.body)
  else
    local ok, problems = validate.response(ep, res.data)
    assert(ok, ep.id .. " answer: " .. validate.format(problems) .. "\n" .. res.body)
  end
  return res
end

local has, apply, set_at = violations.has, violations.apply, violations.set_at

local function ep_of(id) return schema.by_id[id] end

describe("payscore integration: client against the sandbox", function()
  setup(function()
    sb = support.start { time_scale = 1000 }
    cfg = sb.config
    wx = client()
  end)

  teardown(function()
    if wx then wx:close() end
    if sb then sb:stop() end
  end)

  -------------------------------------------------------------------------------------------------------------------
  describe("every endpoint: the fixture request passes validation and succeeds in the state it needs", function()
    -- orders: A query + cancel; B complete; C complete at 400 元, then modify; D complete, then pay; E complete, then
    -- sync. Users and codes for the authorization calls.
    local orders, service = {}, {}
    local completed_at

    setup(function() control("POST", "/sandbox/reset", {}) end)
    teardown(function() control("POST", "/sandbox/clock", { business_offset = 0 }) end)

    it("E1 create: five orders for tomorrow's service, in flight together (wechatpay.all)", function()
      local now = business_now()
      service.start_t, service.end_t = at(now + 86400, 9, 10, 10), at(now + 86400, 12, 10, 10)
      local promises, bodies = {}, {}
      for i, name in ipairs({ "A", "B", "C", "D", "E" }) do
        local req = fx.request("E1")
        req.json.out_order_no = unique("1234323JKHDFE" .. name, 32)
        req.json.time_range.start_time = time14(service.start_t)
        req.json.time_range.end_time = time14(service.end_t)
        -- §6.3: a DEPOSIT order collects at most its risk fund; these are completed with up to 400 元
        req.json.risk_fund.amount = 40000
        orders[name] = req.json.out_order_no
        bodies[i] = req.json
        promises[i] = call(wx, ep_of("E1"), req, nil, nil, true)
      end
      local results, err = wechatpay.all(promises):wait()
      assert(results, describe_err(err))
      for i, res in ipairs(results) do
        assert_success(ep_of("E1"), res)
        assert.are.equal(bodies[i].out_order_no, res.data.out_order_no)
        assert.are.equal("CREATED", res.data.state)
        assert.is_string(res.data.package)
      end
    end)

    it("E2 query (the fixture's query for order A)", function()
      local req = fx.request("E2")
      req.query.out_order_no = orders.A
      local res = assert_success(ep_of("E2"), call(wx, ep_of("E2"), req))
      assert.are.equal("CREATED", res.data.state)
      assert.are.equal(39900, res.data.total_amount) -- the fixture's create has the 100 fen discount
      if math.type then assert.are.equal("integer", math.type(res.data.total_amount)) end
    end)

    it("E3 cancel: order A, CREATED -> REVOKED", function()
      local req = fx.request("E3")
      req.params.out_order_no = orders.A
      assert_success(ep_of("E3"), call(wx, ep_of("E3"), req))
      local q = fx.request("E2")
      q.query.out_order_no = orders.A
      local res = assert(call(wx, ep_of("E2"), q))
      assert.are.equal("REVOKED", res.data.state)
    end)

    it("E5 complete (the fixture request, the service's own times, after the service): B, C, D, E", function()
      for _, name in ipairs({ "B", "C", "D", "E" }) do
        control("POST", "/sandbox/payscore/orders/" .. orders[name] .. "/confirm", {})
      end
      travel_to(service.end_t + 600) -- the service is over: its end must not lie in the future (§3.5)
      local promises = {}
      for i, name in ipairs({ "B", "C", "D", "E" }) do
        local req = fx.request("E5")
        req.params.out_order_no = orders[name]
        req.json.time_range.start_time = time14(service.start_t)
        req.json.time_range.end_time = time14(service.end_t)
        if name == "C" then -- completed at 400 元, so that E4 can lower it to the fixture's 399 元
          req.json.post_discounts = nil
          req.json.total_amount = 40000
        end
        promises[i] = call(wx, ep_of("E5"), req, nil, nil, true)
      end
      local results, err = wechatpay.all(promises):wait()
      assert(results, describe_err(err))
      for _, res in ipairs(results) do
        assert_success(ep_of("E5"), res)
        assert.are.equal("MCH_COMPLETE", res.data.state_description)
      end
      completed_at = business_now()
    end)

    it("E4 modify: order C, 400 元 -> 399 元", function()
      local req = fx.request("E4")
      req.params.out_order_no = orders.C
      local res = assert_success(ep_of("E4"), call(wx, ep_of("E4"), req))
      assert.are.equal(39900, res.data.total_amount)
      assert.are.equal(39900, res.data.collection.paying_amount)
    end)

    it("E6 pay: order D, collected", function()
      local req = fx.request("E6")
      req.params.out_order_no = orders.D
      assert_success(ep_of("E6"), call(wx, ep_of("E6"), req))
      local q = fx.request("E2")
      q.query.out_order_no = orders.D
      local res = assert(call(wx, ep_of("E2"), q))
      assert.are.equal("DONE", res.data.state)
      assert.are.equal("USER_PAID", res.data.collection.state)
    end)

    it("E7 sync: order E paid offline after the completion", function()
      local paid_t = completed_at + 60
      travel_to(paid_t + 300)
      local req = fx.request("E7")
      req.params.out_order_no = orders.E
      req.json.detail.paid_time = time14(paid_t)
      local res = assert_success(ep_of("E7"), call(wx, ep_of("E7"), req))
      assert.are.equal("DONE", res.data.state)
      assert.are.equal("USER_PAID", res.data.collection.state)
    end)

    it("E8 direct-complete for an authorized user, at its documented path and at the /v3 alias", function()
      local ep = ep_of("E8")
      local now = business_now()
      for _, template in ipairs({ ep.path, ep.aliases[1] }) do
        local openid = unique("oUpF8uMuAJO_M2p", 28)
        control("POST", "/sandbox/payscore/users/" .. openid .. "/authorize", {})
        local req = fx.request("E8")
        req.json.out_order_no = unique("1234323JKHDFEF", 32)
        req.json.openid = openid
        req.json.time_range.start_time = time14(at(now - 86400, 9, 10, 10)) -- yesterday: a past service
        req.json.time_range.end_time = time14(at(now - 86400, 12, 10, 10))
        local res = assert_success(ep, call(wx, ep, req, nil, template))
        assert.are.equal("MCH_COMPLETE", res.data.state_description)
      end
    end)

    local code, code_user = nil, nil
    it("E9 apply permissions (a fresh authorization_code)", function()
      code = unique("4554ADSG5F6A65SDF6Q", 32)
      local req = fx.request("E9")
      req.json.authorization_code = code
      local res = assert_success(ep_of("E9"), call(wx, ep_of("E9"), req))
      assert.is_string(res.data.apply_permissions_token)
    end)

    it("E10 query by authorization_code (UNBINDUSER, then AVAILABLE once a user authorized with it)", function()
      local req = fx.request("E10")
      req.params.authorization_code = code
      local res = assert_success(ep_of("E10"), call(wx, ep_of("E10"), req))
      assert.are.equal("UNBINDUSER", res.data.authorization_state)
      code_user = unique("oUpF8uMuAJO_M2p", 28)
      control("POST", "/sandbox/payscore/users/" .. code_user .. "/authorize", { authorization_code = code })
      res = assert_success(ep_of("E10"), call(wx, ep_of("E10"), req))
      assert.are.equal("AVAILABLE", res.data.authorization_state)
      assert.are.equal(code_user, res.data.openid)
    end)

    it("E11 terminate by authorization_code -> 204", function()
      local req = fx.request("E11")
      req.params.authorization_code = code
      assert_success(ep_of("E11"), call(wx, ep_of("E11"), req))
    end)

    local user = nil
    it("E12 query by openid (an authorized user)", function()
      user = unique("oUpF8uMuAJO_M2p", 28)
      control("POST", "/sandbox/payscore/users/" .. user .. "/authorize", {})
      local req = fx.request("E12")
      req.params.openid = user
      local res = assert_success(ep_of("E12"), call(wx, ep_of("E12"), req))
      assert.are.equal("AVAILABLE", res.data.authorization_state)
    end)

    it("E13 terminate by openid -> 204", function()
      local req = fx.request("E13")
      req.params.openid = user
      assert_success(ep_of("E13"), call(wx, ep_of("E13"), req))
    end)

    it("E14 user-service-state at its documented path and at the alias without /v3", function()
      local ep = ep_of("E14")
      local u = unique("oUpF8uMuAJO_M2p", 28)
      control("POST", "/sandbox/payscore/users/" .. u .. "/authorize", {})
      for _, template in ipairs({ ep.path, ep.aliases[1] }) do
        local req = fx.request("E14")
        req.query.openid = u
        local res = assert_success(ep, call(wx, ep, req, nil, template))
        assert.are.equal("AVAILABLE", res.data.use_service_state)
      end
    end)

    it("E15 terminate (legacy) -> 204 at its documented path and at the /v3 alias", function()
      local ep = ep_of("E15")
      for _, template in ipairs({ ep.path, ep.aliases[1] }) do
        local u = unique("oUpF8uMuAJO_M2p", 28)
        control("POST", "/sandbox/payscore/users/" .. u .. "/authorize", {})
        local req = fx.request("E15")
        req.params.openid = u
        assert_success(ep, call(wx, ep, req, nil, template))
      end
    end)

    it("covered every endpoint", function()
      local seen = {}
      for _, r in ipairs(sb.requests()) do
        if r.route and r.status >= 200 and r.status < 300 then seen[r.route] = true end
      end
      for _, ep in ipairs(schema.endpoints) do assert.is_true(seen[ep.id] == true, ep.id .. " never succeeded") end
    end)
  end)

  -------------------------------------------------------------------------------------------------------------------
  describe("the seed", function()
    setup(function() control("POST", "/sandbox/reset", {}) end)

    it("its create, unchanged, passes the client's validation; only the sandbox's clock rule refuses it", function()
      control("DELETE", "/sandbox/requests")
      local body = fx.seed_create()
      assert.are.equal("20091225091010", body.time_range.start_time)
      local res, err = wx.v3.payscore.serviceorder:post{ json = body }
      assert.is_nil(res)
      assert.are.equal("protocol", err.kind, describe_err(err)) -- sent, answered: not a usage error
      assert.are.equal(400, err.status)
      assert.are.equal("PARAM_ERROR", err.code)
      assert.are.equal("/time_range/start_time", err.detail.field)
      assert.matches("later than the time of the create call", err.detail.issue, 1, true)
      local seen = sb.requests()
      assert.are.equal(1, #seen)
      assert.are.equal("E1", seen[1].route)
      assert.are.equal(400, seen[1].status)
    end)

    it("its create with the times moved to tomorrow (nothing else changed) succeeds: openid with " ..
      "need_user_confirm = true is accepted on both sides", function()
      local body = fx.seed_create()
      local day = os.date("!%Y%m%d", business_now() + 86400 + TZ)
      body.time_range.start_time = day .. "091010"
      body.time_range.end_time = day .. "121010"
      assert.is_true(body.need_user_confirm)
      assert.is_string(body.openid)
      local res = assert_success(ep_of("E1"), wx.v3.payscore.serviceorder:post{ json = body })
      assert.are.equal("1234323JKHDFE1243252", res.data.out_order_no)
      assert.are.equal("CREATED", res.data.state)
    end)

    it("its query, unchanged (with its empty query_id), passes and finds the order", function()
      local q = fx.seed_query()
      assert.are.equal("", q.query_id)
      local res = assert_success(ep_of("E2"), wx.v3.payscore.serviceorder:get{ query = q })
      assert.are.equal("1234323JKHDFE1243252", res.data.out_order_no)
      assert.are.equal("CREATED", res.data.state)
    end)

    it("免确认: need_user_confirm = false with the openid of an authorized user -> DOING/USER_CONFIRM (T2)", function()
      control("POST", "/sandbox/payscore/users/" .. fx.OPENID .. "/authorize", {})
      local body = fx.seed_create()
      local day = os.date("!%Y%m%d", business_now() + 86400 + TZ)
      body.out_order_no = unique("1234323JKHDFE", 32)
      body.time_range.start_time, body.time_range.end_time = day .. "091010", day .. "121010"
      body.need_user_confirm = false
      local res = assert_success(ep_of("E1"), wx.v3.payscore.serviceorder:post{ json = body })
      assert.are.equal("DOING", res.data.state)
      assert.are.equal("USER_CONFIRM", res.data.state_description)
    end)
  end)

  -------------------------------------------------------------------------------------------------------------------
  describe("validate = false", function()
    it("per client: a client built with validate = false sends what the sandbox then refuses", function()
      local loose = client { validate = false }
      local req = fx.request("E3")
      req.json.reason = string.rep("字", 51)
      local res, err = call(loose, ep_of("E3"), req)
      loose:close()
      assert.is_nil(res)
      assert.are.equal("protocol", err.kind, describe_err(err))
      assert.are.equal("/reason", err.detail.field)
      -- and the default client refuses the same request itself
      local _, uerr = call(wx, ep_of("E3"), req)
      assert.are.equal("usage", uerr.kind)
      assert.are.equal("/reason", uerr.problems[1].pointer)
    end)

    it("a raw JSON `body` string is validated like the same `json` table", function()
      -- The same valid cancel, once as `json = {...}`, once as `body = "<its JSON text>"`.
      local req = fx.request("E3")
      local text = assert(json.encode(req.json))
      local jres, jerr = call(wx, ep_of("E3"), req)
      assert.are_not.equal("usage", jerr and jerr.kind) -- valid: sent (answered by the sandbox, whatever it says)
      local node = wx:chain(ep_of("E3").path:sub(2))
      local res, err = node:post{ out_order_no = req.params.out_order_no, body = text }
      if jerr then
        assert.is_nil(res)
        assert.are.equal(jerr.kind, err.kind)
        assert.are.equal(jerr.code, err.code)
      else
        assert.is_nil(err, tostring(err))
        assert.are.equal(jres.status, res.status)
      end
      -- and a raw body that is not JSON is refused before any I/O on a PayScore endpoint
      local _, nerr = node:post{ out_order_no = req.params.out_order_no, body = "{not json" }
      assert.are.equal("usage", nerr.kind)
      assert.matches("body is not JSON", nerr.message, 1, true)
    end)
  end)

  -------------------------------------------------------------------------------------------------------------------
  -- Part 3: every schema rule, generated from the schema (as validate_spec.lua generates them).

  -- The cases of spec/payscore/violations.lua for requests sent on the wire (`uri`: a path parameter no URL can
  -- carry, refused by the URI layer).
  local generator = violations.new { wire = true }
  local gen_endpoint, COVERED_RULES = generator.endpoint, generator.covered

  local MARK = "@@wechatpay-spec-raw-value@@"

  -- The JSON text of a value our encoder refuses (so that the sandbox can be sent it as a raw body).
  local function raw_json(v)
    if type(v) == "string" then return '"' .. v .. '"' end
    if v ~= v then return "NaN" end
    if v == math.huge then return "1e999" end
    return string.format("%.17g", v)
  end

  -- How the sandbox sees a case sent with validate = false:
  --   "same"        400 PARAM_ERROR, detail.field/location/issue = the client's first problem (the same validator)
  --   "not_json"    NOT_JSON: the value has no JSON text (NaN, infinity) or is not UTF-8 (invalid bytes, overlong
  --                 forms, surrogates): our encoder refuses it (usage error even with validate = false), and sent
  --                 as a raw body the sandbox's JSON decoder refuses the whole body, 400 PARAM_ERROR without
  --                 detail.field (issue "JSON: ...") — the real API cannot do better either
  --   "wire"        CLIENT_ONLY: a query parameter's type; on the wire every parameter is a string ("true"), so the
  --                 sandbox sees a valid string and must not report this field
  --   "uri"         CLIENT_ONLY: a path parameter that is missing, empty or not a string/integer: no URL carries it
  --                 (the URI layer refuses it with a usage error naming the placeholder, validate or not)
  local function how(c, req)
    if c.uri then return "uri" end
    if c.wire then return "wire" end
    if c.location == "body" and c.value ~= nil and not c.sets then
      local v = c.value
      if type(v) == "number" and (v ~= v or v == math.huge) then return "not_json" end
      if type(v) == "string" and not validate.utf8_len(v) then
        local _, _, reason = validate.utf8_len(v)
        if reason ~= "4byte" then return "not_json" end
      end
    end
    if req and req.json ~= nil and not json.encode(req.json) then return "raw" end
    return "same"
  end

  local TITLE = {
    uri = "client-only: %s (no URL carries it: refused by the URI layer)",
    wire = "client-only: %s (on the wire the string \"true\": the sandbox cannot see this rule broken)",
    not_json = "the sandbox refuses %s as a body that is not JSON (400 PARAM_ERROR without detail.field)",
    same = "the sandbox refuses %s with 400 PARAM_ERROR at the client's pointer",
  }

  local total_cases = 0

  for _, ep in ipairs(schema.endpoints) do
    local base, cases = gen_endpoint(ep)
    total_cases = total_cases + #cases

    describe(ep.id .. " " .. ep.name .. ": every schema rule", function()
      local refused, answers = {}, {}

      setup(function() control("DELETE", "/sandbox/requests") end)

      for i, c in ipairs(cases) do
        it(("the client refuses %s %s: %s (%s) before sending"):format(c.location, c.pointer, c.label, c.rule),
          function()
            local req = apply(base, c)
            local res, err = call(wx, ep, req)
            assert.is_nil(res)
            assert.are.equal("usage", err.kind, describe_err(err))
            if c.uri then
              assert.are.equal(c.pointer, err.placeholder, tostring(err))
            else
              assert.is_table(err.problems, tostring(err))
              assert.is_not_nil(has(err.problems, c.pointer, c.rule, c.location),
                "expected " .. c.location .. " " .. c.pointer .. " " .. c.rule .. ", got: " .. tostring(err))
              assert.are.equal(ep.id, err.endpoint)
            end
            refused[i] = { req = req, err = err }
          end)
      end

      it(("the sandbox saw none of these %d requests"):format(#cases), function()
        local seen = sb.requests()
        local targets = {}
        for _, r in ipairs(seen) do targets[#targets + 1] = r.method .. " " .. r.target end
        assert.are.same({}, targets)
      end)

      it("sends them again with validate = false, all in flight together", function()
        local promises = {}
        for i, c in ipairs(cases) do
          local r = refused[i]
          if r and not c.uri then
            local req = r.req
            local kind = how(c, req)
            local extra = { validate = false }
            if kind == "raw" or kind == "not_json" then
              -- our encoder refuses the value: send the JSON text as a raw body
              local marked = copy(req)
              set_at(marked, c.path, MARK)
              local text = assert(json.encode(marked.json))
              local s, e = text:find('"' .. MARK .. '"', 1, true)
              extra.body = text:sub(1, s - 1) .. raw_json(c.value) .. text:sub(e + 1)
              req = { params = req.params, query = req.query }
              -- and validate = false alone does not get it out: the encoder is the client's last line
              local _, eerr = call(wx, ep, r.req, { validate = false })
              answers[i] = { encoder_err = eerr }
            end
            promises[#promises + 1] = { i = i, kind = kind, p = call(wx, ep, req, extra, nil, true) }
          end
        end
        for _, x in ipairs(promises) do
          local res, err = x.p:wait()
          answers[x.i] = answers[x.i] or {}
          answers[x.i].res, answers[x.i].err, answers[x.i].kind = res, err, x.kind
        end
        assert.is_true(#promises > 0)
      end)

      for i, c in ipairs(cases) do
        local label = ("%s %s: %s (%s)"):format(c.location, c.pointer, c.label, c.rule)
        if c.uri then
          it(TITLE.uri:format(label), function()
            assert.is_not_nil(refused[i])
            assert.is_nil(answers[i])
          end)
        else
          it((TITLE[how(c)] or TITLE.same):format(label), function()
            local a = assert(answers[i], "not sent")
            local first = refused[i].err.problems[1]
            if a.encoder_err then
              assert.are.equal("usage", a.encoder_err.kind)
              assert.is_nil(a.encoder_err.problems)
            end
            if a.kind == "wire" then
              -- client-only: the sandbox got the string "true", a valid value of this parameter, so it cannot report
              -- this rule: it answers (E14: 200 for the user "true") or reports something else, possibly on the same
              -- field (E2: out_order_no xor query_id)
              if a.res then return end
              local err = a.err
              assert.are.equal("protocol", err.kind, describe_err(err))
              local d = err.detail or {}
              local mine = has(refused[i].err.problems, c.pointer, c.rule, c.location)
              assert.is_false(err.code == "PARAM_ERROR" and d.field == c.pointer and d.issue == mine.message,
                describe_err(err))
              return
            end
            assert.is_nil(a.res, a.res and a.res.body)
            local err = a.err
            assert.are.equal("protocol", err.kind, describe_err(err))
            assert.are.equal(400, err.status)
            assert.are.equal("PARAM_ERROR", err.code)
            if a.kind == "not_json" then
              assert.is_nil(err.detail.field, describe_err(err))
              assert.matches("^JSON: ", err.detail.issue)
              return
            end
            assert.are.equal(first.pointer, err.detail.field, describe_err(err))
            assert.are.equal(first.location, err.detail.location)
            assert.are.equal(first.message, err.detail.issue)
          end)
        end
      end
    end)
  end

  it("the generated cases cover every cross-field rule of the schema", function()
    local all, missing = {}, {}
    for _, t in pairs(schema.types) do for _, r in ipairs(t.rules or {}) do all[r.id] = true end end
    for _, ep in ipairs(schema.endpoints) do for _, r in ipairs(ep.rules) do all[r.id] = true end end
    for id in pairs(all) do if not COVERED_RULES[id] then missing[#missing + 1] = id end end
    table.sort(missing)
    assert.are.same({}, missing)
    assert.is_true(total_cases > 300, "only " .. total_cases .. " cases")
  end)
end)
