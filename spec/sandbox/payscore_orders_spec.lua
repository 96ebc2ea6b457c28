-- PayScore orders in the running sandbox (payscore.md §3.1-§3.8, §5, §6, §9): every order endpoint, each state
-- transition of §5.2, the permission matrix of §5.3, the clock and state rules of §2.3/§6 with violating requests,
-- idempotent re-entry, appid consistency, collection records, package and query_id, notifications in the log.
-- Requests are signed by the crypto core and sent with curl (spec/support/signed_request.lua).

local fixture = require "spec.support.payscore_fixture"
local json = require "wechatpay.codec.json"

local APPID, SERVICE = fixture.APPID, fixture.SERVICE

describe("PayScore sandbox: orders", function()
  local fx = fixture.setup()
  if not fx then return end
  after_each(function()
    fx:default_settings()
    fx:business_offset(0)
  end)

  local function err(res, status, code, message)
    assert.are.equal(status, res.status, res.body)
    assert.is_table(res.data, res.body)
    assert.are.equal(code, res.data.code, res.body)
    if message then assert.are.equal(message, res.data.message, res.body) end
    assert.is_truthy(res.request_id)
    assert.is_nil(res.headers["wechatpay-signature"]) -- error answers are not signed
    return res.data
  end

  local function ok(res, status)
    assert.are.equal(status or 200, res.status, res.body)
    assert.is_true(res.verified, tostring(res.verify_error))
    return res.data
  end

  local function state_of(no)
    local d = ok(fx:query(no))
    return d.state, d.state_description, d
  end

  -- ---- E1 create ------------------------------------------------------------------------------

  describe("E1 create", function()
    it("creates the seed's order in 需确认 mode: CREATED with a package (T1)", function()
      local no = fixture.new_no()
      local d = ok(fx:create(no))
      assert.are.equal("CREATED", d.state)
      assert.is_nil(d.state_description) -- only while DOING
      assert.are.equal(no, d.out_order_no)
      assert.are.equal(APPID, d.appid)
      assert.are.equal(fixture.MCHID_A, d.mchid)
      assert.are.equal(SERVICE, d.service_id)
      assert.are.equal("某某酒店", d.service_introduction)
      assert.matches("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d?$", d.order_id)
      assert.is_string(d.package)
      assert.is_true(#d.package > 0 and #d.package <= 300)
      assert.are.equal(40000, d.post_payments[1].amount)
      assert.are.equal("DEPOSIT", d.risk_fund.name)
      assert.are.equal("备注1", d.time_range.start_time_remark)
      assert.are.equal("Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald", d.attach)
      assert.are.equal(fixture.NOTIFY_URL, d.notify_url)
    end)

    it("replays an identical create byte for byte, whatever the key order (re-entry, §3.1)", function()
      local no = fixture.new_no()
      local first = ok(fx:create(no))
      local again = fx:create(no)
      ok(again)
      -- the same parameters in another key order and spacing
      local body = fixture.seed(no)
      local keys = {}
      for k in pairs(body) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return a > b end)
      local parts = {}
      for i, k in ipairs(keys) do parts[i] = json.encode(k) .. " : " .. json.encode(body[k]) end
      local reordered = fx.c:request("POST", "/v3/payscore/serviceorder", { body = "{ " .. table.concat(parts, ", ")
        .. " }" })
      ok(reordered)
      local firstraw = fx:query(no) -- one order only
      assert.are.equal(first.order_id, firstraw.data.order_id)
      assert.are.equal(again.body, reordered.body)
      assert.are.equal(first.package, reordered.data.package)
      assert.are.equal(first.order_id, again.data.order_id)
      -- need_user_confirm omitted is its default (true): the same request
      local b = fixture.seed(no)
      b.need_user_confirm = nil
      local omitted = fx.c:request("POST", "/v3/payscore/serviceorder", { json = b })
      ok(omitted)
      assert.are.equal(again.body, omitted.body)
    end)

    it("refuses other parameters for the same out_order_no with INVALID_REQUEST (§6.11)", function()
      local no = fixture.new_no()
      local first = ok(fx:create(no))
      err(fx:create(no, { service_introduction = "另一个服务" }), 400, "INVALID_REQUEST",
        "请确认相同单号是否使用了不同的参数")
      err(fx:create(no, { attach = false }), 400, "INVALID_REQUEST")
      local d = ok(fx:query(no))
      assert.are.equal("某某酒店", d.service_introduction)
      assert.are.equal(first.order_id, d.order_id)
    end)

    it("answers field violations with PARAM_ERROR and detail.field as a JSON Pointer (the schema's rules)", function()
      local d = err(fx:create(fixture.new_no(), { service_introduction = string.rep("长", 21) }), 400, "PARAM_ERROR")
      assert.are.equal("/service_introduction", d.detail.field)
      d = err(fx:create(fixture.new_no(), { risk_fund = false }), 400, "PARAM_ERROR")
      assert.are.equal("/risk_fund", d.detail.field)
      d = err(fx:create("bad#no"), 400, "PARAM_ERROR")
      assert.are.equal("/out_order_no", d.detail.field)
      -- a non-integral amount, as raw JSON
      local body = assert(json.encode(fixture.seed(fixture.new_no()))):gsub('"amount":40000', '"amount":400.5')
      d = err(fx.c:request("POST", "/v3/payscore/serviceorder", { body = body }), 400, "PARAM_ERROR")
      assert.are.equal("/post_payments/0/amount", d.detail.field)
      assert.are.equal("400.5", tostring(d.detail.value))
      -- 免确认 without openid
      d = err(fx:create(fixture.new_no(), { need_user_confirm = false, openid = false }), 400, "PARAM_ERROR")
      assert.are.equal("/openid", d.detail.field)
    end)

    it("accepts the official example's openid with need_user_confirm = true", function()
      local no = fixture.new_no()
      assert.are.equal("CREATED", ok(fx:create(no, { openid = "o-example" })).state)
      local _, data = fx:confirm(no)
      assert.are.equal("o-example", data.order.openid) -- the confirming user defaults to it
    end)

    describe("clock rules (§2.3) against the sandbox clock", function()
      it("second precision: start_time must be later than the call", function()
        local d = err(fx:create(fixture.new_no(), { time_range = { start_time = fixture.t14(-60) } }), 400,
          "PARAM_ERROR")
        assert.are.equal("/time_range/start_time", d.detail.field)
        ok(fx:create(fixture.new_no(), { time_range = { start_time = fixture.t14(120) } }))
      end)

      it("day precision: start_time may be today, not yesterday", function()
        ok(fx:create(fixture.new_no(), { time_range = { start_time = fixture.day(0) } }))
        local d = err(fx:create(fixture.new_no(), { time_range = { start_time = fixture.day(-1) } }), 400,
          "PARAM_ERROR")
        assert.are.equal("/time_range/start_time", d.detail.field)
      end)

      it("end_time must be more than a minute after the call (second precision)", function()
        local d = err(fx:create(fixture.new_no(), { time_range = { start_time = "OnAccept",
          end_time = fixture.t14(30) } }), 400, "PARAM_ERROR")
        assert.are.equal("/time_range/end_time", d.detail.field)
        ok(fx:create(fixture.new_no(), { time_range = { start_time = "OnAccept", end_time = fixture.t14(600) } }))
      end)

      it("follows the business clock (POST /sandbox/clock business_offset)", function()
        local tr = { start_time = fixture.t14(3600) }
        fx:business_offset(7200) -- the sandbox's business time is two hours ahead
        local d = err(fx:create(fixture.new_no(), { time_range = tr }), 400, "PARAM_ERROR")
        assert.are.equal("/time_range/start_time", d.detail.field)
        fx:business_offset(0)
        ok(fx:create(fixture.new_no(), { time_range = tr }))
      end)

      it("an identical re-entry still replays after the start time has passed", function()
        local no = fixture.new_no()
        local first = fx:create(no, { time_range = { start_time = fixture.t14(3600) } })
        ok(first)
        fx:business_offset(7200)
        local again = fx:create(no, { time_range = first.data.time_range })
        ok(again)
        assert.are.equal(first.body, again.body)
      end)
    end)

    describe("service caps (§2.5, §6.3)", function()
      it("refuses a risk_fund.amount above the service cap", function()
        local d = err(fx:create(fixture.new_no(), { risk_fund = { name = "DEPOSIT", amount = 50001 } }), 400,
          "INVALID_REQUEST", "创建订单的订单风险金额超过此服务的服务风险金额")
        assert.are.equal("/risk_fund/amount", d.detail.field)
        ok(fx:create(fixture.new_no(), { risk_fund = { name = "DEPOSIT", amount = 50000 } }))
        fx:settings { services = { [SERVICE] = { risk_fund_cap = 20000 } } }
        err(fx:create(fixture.new_no(), { risk_fund = { name = "DEPOSIT", amount = 20001 } }), 400, "INVALID_REQUEST")
      end)

      it("without discounts, Σpost_payments.amount must stay within the cap", function()
        err(fx:create(fixture.new_no(), { post_discounts = false,
          post_payments = json.array { { name = "a", amount = 30000 }, { name = "b", amount = 20001 } } }), 400,
          "INVALID_REQUEST", "创建订单的订单风险金额超过此服务的服务风险金额")
        ok(fx:create(fixture.new_no(), { post_discounts = false,
          post_payments = json.array { { name = "a", amount = 30000 }, { name = "b", amount = 20000 } } }))
      end)

      it("a 先享 service takes ESTIMATE_ORDER_COST only (merchants.json services)", function()
        local over = { service_id = fixture.SERVICE_ESTIMATE }
        local d = err(fx:create(fixture.new_no(), over), 400, "INVALID_REQUEST")
        assert.are.equal("/risk_fund/name", d.detail.field)
        over.risk_fund = { name = "ESTIMATE_ORDER_COST", amount = 30000 }
        ok(fx:create(fixture.new_no(), over))
        over.risk_fund = { name = "ESTIMATE_ORDER_COST", amount = 30001 }
        err(fx:create(fixture.new_no(), over), 400, "INVALID_REQUEST")
      end)
    end)

    it("refuses an appid or service_id not bound to the merchant with 403 NO_AUTH", function()
      err(fx:create(fixture.new_no(), { appid = "wx_not_bound_here" }), 403, "NO_AUTH", "商户暂无权限使用此服务")
      err(fx:create(fixture.new_no(), { service_id = "2002000000000000000000000000999" }), 403, "NO_AUTH")
      -- merchant B has no second appid
      err(fx:create(fixture.new_no(), { appid = fixture.APPID2 }, fx.cb), 403, "NO_AUTH")
    end)

    it("免确认 (T2): needs the user's authorization, then starts DOING/USER_CONFIRM without package", function()
      local openid = "o-noconfirm-" .. fixture.new_no()
      local over = { need_user_confirm = false, openid = openid }
      err(fx:create(fixture.new_no(), over), 403, "NO_AUTH", "请检查服务授权状态")
      assert.are.equal(200, (fx:control("POST", "/sandbox/payscore/users/" .. openid .. "/authorize", {})))
      local no = fixture.new_no()
      local d = ok(fx:create(no, over))
      assert.are.equal("DOING", d.state)
      assert.are.equal("USER_CONFIRM", d.state_description)
      assert.is_nil(d.package)
      local q = ok(fx:query(no))
      assert.are.equal(openid, q.openid)
      -- no USER_CONFIRM notification on this path (UNCERTAIN in §5.2 T2: none sent)
      assert.are.equal(0, #fx:events("PAYSCORE.USER_CONFIRM", no))
      -- without the service's 免确认 permission: NO_AUTH
      fx:settings { services = { [SERVICE] = { no_confirm = false } } }
      err(fx:create(fixture.new_no(), over), 403, "NO_AUTH", "商户暂无权限使用此服务")
      -- the authorization check can be switched off
      fx:settings { services = { [SERVICE] = { no_confirm = true } }, require_authorization = false }
      ok(fx:create(fixture.new_no(), { need_user_confirm = false, openid = "o-never-authorized" }))
    end)
  end)

  -- ---- E2 query -------------------------------------------------------------------------------

  describe("E2 query", function()
    it("answers the ServiceOrderEntity; unknown orders are 404 ORDER_NOT_EXIST", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      local d = ok(fx:query(no))
      assert.are.equal("CREATED", d.state)
      assert.are.equal(40000, d.total_amount) -- Σpayments − Σdiscounts (the discount has no amount)
      assert.is_nil(d.need_collection)
      assert.is_nil(d.collection)
      assert.is_nil(d.package)
      err(fx:query(fixture.new_no()), 404, "ORDER_NOT_EXIST", "订单不存在")
    end)

    it("needs exactly one of out_order_no and query_id (PARAM_ERROR)", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      local d = err(fx:query(no, { query_id = "abc" }), 400, "PARAM_ERROR")
      assert.is_truthy(d.detail.field == "out_order_no" or d.detail.field == "query_id")
      err(fx:query(no, { out_order_no = false }), 400, "PARAM_ERROR")
    end)

    it("finds the order by query_id after the user confirmed (T3)", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      local st, data = fx:confirm(no)
      assert.are.equal(200, st)
      assert.is_string(data.query_id)
      local d = ok(fx:query(nil, { out_order_no = false, query_id = data.query_id }))
      assert.are.equal(no, d.out_order_no)
      err(fx:query(nil, { out_order_no = false, query_id = "no-such-query-id" }), 404, "ORDER_NOT_EXIST")
    end)

    it("checks appid and service_id against the order; merchants do not see each other's orders", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      err(fx:query(no, { appid = fixture.APPID2 }), 400, "INVALID_REQUEST")
      err(fx:query(no, { service_id = fixture.SERVICE_ESTIMATE }), 400, "INVALID_REQUEST")
      err(fx:query(no, nil, fx.cb), 404, "ORDER_NOT_EXIST")
      ok(fx:create(no, nil, fx.cb)) -- the same out_order_no is free for merchant B
      assert.are.equal(fixture.MCHID_B, ok(fx:query(no, nil, fx.cb)).mchid)
    end)
  end)

  -- ---- confirm, expire (what the user / time does) ---------------------------------------------

  describe("confirmation and expiry", function()
    it("T3: the user confirms: DOING/USER_CONFIRM, openid bound, PAYSCORE.USER_CONFIRM sent", function()
      local no = fixture.new_no()
      ok(fx:create(no, { openid = false }))
      local st, data = fx:confirm(no, { openid = "o-user-1" })
      assert.are.equal(200, st)
      assert.matches("^EV%-", data.notification)
      local s, desc, d = state_of(no)
      assert.are.equal("DOING", s)
      assert.are.equal("USER_CONFIRM", desc)
      assert.are.equal("o-user-1", d.openid)
      local ev = fx:events("PAYSCORE.USER_CONFIRM", no)
      assert.are.equal(1, #ev)
      local p = ev[1].payload
      assert.are.equal("DOING", p.state)
      assert.are.equal("USER_CONFIRM", p.state_description)
      assert.are.equal("o-user-1", p.openid)
      assert.are.equal(d.order_id, p.order_id)
      assert.are.equal(fixture.MCHID_A, p.mchid)
      assert.are.equal("Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald", p.attach)
      assert.are.equal("encrypt-resource", ev[1].envelope.resource_type)
      assert.are.equal(fixture.NOTIFY_URL, ev[1].log.url)
      -- the package is single use: a second confirm is refused
      st = fx:confirm(no)
      assert.are.equal(400, st)
    end)

    it("the package is valid for one hour", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      fx:business_offset(3601)
      local st, data = fx:confirm(no)
      assert.are.equal(400, st)
      assert.matches("package", data.message)
      fx:business_offset(0)
      assert.are.equal(200, (fx:confirm(no)))
    end)

    it("T4: a CREATED order expires (control, or 30 days on the sandbox clock)", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      local st, data = fx:control("POST", "/sandbox/payscore/orders/" .. no .. "/expire")
      assert.are.equal(200, st)
      assert.are.equal("EXPIRED", data.order.state)
      local s, desc = state_of(no)
      assert.are.equal("EXPIRED", s)
      assert.is_nil(desc)
      err(fx:cancel(no), 400, "INVALID_ORDER_STATE", "单据状态错误")
      err(fx:complete(no), 400, "INVALID_ORDER_STATE")
      assert.are.equal(400, (fx:confirm(no)))
      -- 30 days
      local no2 = fixture.new_no()
      ok(fx:create(no2, { time_range = { start_time = fixture.day(1) } }))
      fx:business_offset(30 * 86400 - 60)
      assert.are.equal("CREATED", (state_of(no2)))
      fx:business_offset(30 * 86400 + 1)
      assert.are.equal("EXPIRED", (state_of(no2)))
      -- expire works on CREATED only
      fx:business_offset(0)
      local no3 = fx:confirmed()
      assert.are.equal(400, (fx:control("POST", "/sandbox/payscore/orders/" .. no3 .. "/expire")))
    end)
  end)

  -- ---- E3 cancel ------------------------------------------------------------------------------

  describe("E3 cancel", function()
    it("T5: CREATED -> REVOKED, total_amount 0; the identical cancel replays byte for byte", function()
      local no = fixture.new_no()
      local created = ok(fx:create(no))
      local res = fx:cancel(no, "服务未发生")
      local d = ok(res)
      assert.are.same({ appid = APPID, mchid = fixture.MCHID_A, out_order_no = no, service_id = SERVICE,
        order_id = created.order_id }, d)
      local s, _, q = state_of(no)
      assert.are.equal("REVOKED", s)
      assert.are.equal(0, q.total_amount)
      local again = fx:cancel(no, "服务未发生")
      ok(again)
      assert.are.equal(res.body, again.body)
      err(fx:cancel(no, "另一个原因"), 400, "INVALID_REQUEST", "请确认相同单号是否使用了不同的参数")
    end)

    it("T6: DOING/USER_CONFIRM -> REVOKED", function()
      local no = fx:confirmed()
      ok(fx:cancel(no))
      assert.are.equal("REVOKED", (state_of(no)))
    end)

    it("T12: DOING/MCH_COMPLETE -> REVOKED by default; PARAM_ERROR with cancel_after_complete=reject", function()
      local no = fx:completed(3000)
      fx:settings { cancel_after_complete = "reject" }
      err(fx:cancel(no), 400, "PARAM_ERROR", "当前订单状态不满足撤销条件")
      fx:settings { cancel_after_complete = "allow" }
      ok(fx:cancel(no))
      local s, _, q = state_of(no)
      assert.are.equal("REVOKED", s)
      assert.are.equal(0, q.total_amount)
    end)

    it("refuses DONE (ORDER_DONE), a foreign appid (INVALID_REQUEST), unknown orders (404)", function()
      local no = fx:completed(0) -- T8: DONE
      err(fx:cancel(no), 400, "ORDER_DONE", "订单已完成")
      local no2 = fixture.new_no()
      ok(fx:create(no2))
      err(fx:post(no2, "cancel", { appid = fixture.APPID2, service_id = SERVICE, reason = "x" }), 400,
        "INVALID_REQUEST")
      err(fx:cancel(fixture.new_no()), 404, "ORDER_NOT_EXIST")
      local d = err(fx:post(no2, "cancel", { appid = APPID, service_id = SERVICE }), 400, "PARAM_ERROR")
      assert.are.equal("/reason", d.detail.field)
      assert.are.equal("CREATED", (state_of(no2)))
    end)

    it("orders cancelled are ORDER_CANCELED for complete, pay, modify and sync", function()
      local no = fx:confirmed()
      ok(fx:cancel(no))
      err(fx:complete(no), 400, "ORDER_CANCELED", "单据已取消")
      err(fx:pay(no), 400, "ORDER_CANCELED")
      err(fx:post(no, "modify", fx:ids { post_payments = json.array { { name = "x", amount = 1 } },
        total_amount = 1, reason = "r" }), 400, "ORDER_CANCELED")
      err(fx:post(no, "sync", fx:ids { type = "Order_Paid", detail = { paid_time = fixture.t14(-1) } }), 400,
        "ORDER_CANCELED")
    end)

    it("realistic error mode answers the observed pairs of §9.4", function()
      fx:settings { errors = "realistic" }
      local no = fixture.new_no()
      ok(fx:create(no))
      err(fx:complete(no), 400, "INVALID_REQUEST", "当前订单状态不合法")
      local done = fx:completed(0)
      err(fx:cancel(done), 400, "PARAM_ERROR", "当前订单状态不满足撤销条件")
    end)
  end)

  -- ---- E5 complete ----------------------------------------------------------------------------

  describe("E5 complete", function()
    it("T7: USER_CONFIRM -> DOING/MCH_COMPLETE with a collection to pay", function()
      local no = fx:confirmed()
      local body = fixture.complete_body(8000)
      local res = fx:post(no, "complete", body)
      local d = ok(res)
      assert.are.equal("DOING", d.state)
      assert.are.equal("MCH_COMPLETE", d.state_description)
      assert.are.equal(8000, d.total_amount)
      assert.is_true(d.need_collection)
      assert.are.equal(1, #d.post_payments)
      local _, desc, q = state_of(no)
      assert.are.equal("MCH_COMPLETE", desc)
      assert.are.same({ state = "USER_PAYING", total_amount = 8000, paying_amount = 8000, paid_amount = 0,
        details = {} }, q.collection)
      assert.is_true(json.is_array(q.collection.details))
      -- an identical re-entry replays; other parameters are a wrong state now
      local again = fx:post(no, "complete", body)
      ok(again)
      assert.are.equal(res.body, again.body)
      err(fx:complete(no, 7000), 400, "INVALID_ORDER_STATE")
    end)

    it("T8: a 0 total completes to DONE without collection", function()
      local no = fx:confirmed()
      local d = ok(fx:complete(no, 0))
      assert.are.equal("DONE", d.state)
      assert.is_nil(d.state_description)
      assert.is_false(d.need_collection)
      local s, _, q = state_of(no)
      assert.are.equal("DONE", s)
      assert.is_false(q.need_collection)
      assert.is_nil(q.collection)
    end)

    it("needs a confirmed order: CREATED is INVALID_ORDER_STATE", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      err(fx:complete(no), 400, "INVALID_ORDER_STATE")
      assert.are.equal("CREATED", (state_of(no)))
    end)

    it("checks the total: the sum (PARAM_ERROR 最终总金额计算非法) and the caps (INVALID_REQUEST)", function()
      local no = fx:confirmed()
      local d = err(fx:complete(no, 5000, { total_amount = 4999 }), 400, "PARAM_ERROR", "最终总金额计算非法")
      assert.are.equal("/total_amount", d.detail.field)
      -- 先免 (DEPOSIT 10000): total ≤ the create risk_fund.amount
      d = err(fx:complete(no, 10001), 400, "INVALID_REQUEST")
      assert.are.equal("/total_amount", d.detail.field)
      ok(fx:complete(no, 10000))
      -- 先享: total ≤ the service cap (30000), may exceed risk_fund.amount
      local est = { service_id = fixture.SERVICE_ESTIMATE, risk_fund = { name = "ESTIMATE_ORDER_COST", amount = 100 } }
      local no2 = fx:confirmed(est)
      err(fx:complete(no2, 30001, { service_id = fixture.SERVICE_ESTIMATE }), 400, "INVALID_REQUEST",
        "总金额超过此服务的服务风险金额")
      ok(fx:complete(no2, 30000, { service_id = fixture.SERVICE_ESTIMATE }))
    end)

    it("checks the actual service times against the clock (§2.3, §3.5)", function()
      local no = fx:confirmed()
      local d = err(fx:complete(no, 1000, { time_range = { start_time = fixture.t14(-3600),
        end_time = fixture.t14(120) } }), 400, "PARAM_ERROR", "实际结束时间不能晚于使用完结接口的时间")
      assert.are.equal("/time_range/end_time", d.detail.field)
      -- the create times (tomorrow) are kept when complete gives none: end_time in the future
      err(fx:complete(no, 1000, { time_range = false }), 400, "PARAM_ERROR")
      -- only the end: the create start (tomorrow) is after it
      d = err(fx:complete(no, 1000, { time_range = { end_time = fixture.t14(-60) } }), 400, "PARAM_ERROR",
        "真实结束时间小于预计开始时间")
      assert.are.equal("/time_range/end_time", d.detail.field)
      -- the format first passed (create: yyyyMMddHHmmss)
      d = err(fx:complete(no, 1000, { time_range = { start_time = fixture.day(-1), end_time = fixture.day(0) } }),
        400, "PARAM_ERROR")
      assert.are.equal("/time_range/end_time", d.detail.field)
      ok(fx:complete(no, 1000))
    end)

    it("needs end_time when create gave none; OnAccept starts at the confirmation", function()
      local no = fx:confirmed { time_range = { start_time = "OnAccept" } }
      local d = err(fx:complete(no, 1000, { time_range = false }), 400, "PARAM_ERROR")
      assert.are.equal("/time_range/end_time", d.detail.field)
      -- the service started when the user confirmed (a moment ago): an end before that is refused
      err(fx:complete(no, 1000, { time_range = { end_time = fixture.t14(-60) } }), 400, "PARAM_ERROR")
      fx:business_offset(120)
      local done = ok(fx:complete(no, 1000, { time_range = { end_time = fixture.t14(60) } }))
      assert.matches("^%d+$", done.time_range.start_time) -- the confirmation time replaced OnAccept
    end)

    it("end_location needs a start_location given at create", function()
      local no = fx:confirmed { location = false }
      local d = err(fx:complete(no, 1000, { location = { end_location = "B" } }), 400, "PARAM_ERROR")
      assert.are.equal("/location/end_location", d.detail.field)
      local no2 = fx:confirmed { location = { start_location = "A" } }
      assert.are.equal("B", ok(fx:complete(no2, 1000, { location = { end_location = "B" } })).location.end_location)
    end)

    it("treats JSON null as absent (§1.1)", function()
      local no = fx:confirmed()
      local body = assert(json.encode(fixture.complete_body(1000))):gsub("^{", '{"location":{"end_location":null},'
        .. '"goods_tag":null,')
      local d = ok(fx:post(no, "complete", body))
      assert.are.equal("嗨客时尚主题展餐厅", d.location.end_location) -- unchanged
      assert.is_nil(d.goods_tag)
    end)

    it("refuses a foreign appid", function()
      local no = fx:confirmed()
      err(fx:complete(no, 1000, { appid = fixture.APPID2 }), 400, "INVALID_REQUEST")
      assert.are.equal("USER_CONFIRM", select(2, state_of(no)))
    end)
  end)

  -- ---- E6 pay, deductions ---------------------------------------------------------------------

  describe("E6 pay and deductions", function()
    it("T9 by E6: DONE, collection USER_PAID with a NEWTON detail, PAYSCORE.USER_PAID", function()
      local no = fx:completed(6000)
      local res = fx:pay(no)
      local d = ok(res)
      assert.are.equal(no, d.out_order_no)
      assert.are.equal(APPID, d.appid)
      assert.are.equal(SERVICE, d.service_id)
      assert.is_string(d.order_id)
      local s, desc, q = state_of(no)
      assert.are.equal("DONE", s)
      assert.is_nil(desc)
      local c = q.collection
      assert.are.equal("USER_PAID", c.state)
      assert.are.equal(6000, c.paid_amount)
      assert.are.equal(0, c.paying_amount)
      assert.are.equal(1, #c.details)
      assert.are.equal(1, c.details[1].seq)
      assert.are.equal(6000, c.details[1].amount)
      assert.are.equal("NEWTON", c.details[1].paid_type)
      assert.matches("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d$", c.details[1].paid_time)
      assert.matches("^" .. string.rep("%d", 28) .. "$", c.details[1].transaction_id)
      local ev = fx:events("PAYSCORE.USER_PAID", no)
      assert.are.equal(1, #ev)
      assert.are.equal("DONE", ev[1].payload.state)
      assert.are.same(c, ev[1].payload.collection)
      assert.are.equal("微信支付分服务订单支付成功", ev[1].envelope.summary)
      err(fx:pay(no), 400, "ORDER_DONE")
    end)

    it("needs MCH_COMPLETE: USER_CONFIRM is INVALID_ORDER_STATE", function()
      local no = fx:confirmed()
      err(fx:pay(no), 400, "INVALID_ORDER_STATE")
    end)

    it("a failed deduction leaves USER_PAYING; E6 fails until a deduction succeeds (control /pay)", function()
      local no = fx:completed(4000)
      local st, data = fx:control("POST", "/sandbox/payscore/orders/" .. no .. "/pay-fail", { message = "余额不足" })
      assert.are.equal(200, st)
      assert.are.equal("USER_PAYING", data.order.collection.state)
      err(fx:pay(no), 400, "INVALID_REQUEST", "支付分扣款失败")
      local _, desc, q = state_of(no)
      assert.are.equal("MCH_COMPLETE", desc)
      assert.are.equal(4000, q.collection.paying_amount)
      assert.are.equal(0, #fx:events("PAYSCORE.USER_PAID", no))
      st, data = fx:control("POST", "/sandbox/payscore/orders/" .. no .. "/pay")
      assert.are.equal(200, st)
      assert.are.equal("DONE", data.order.state)
      assert.are.equal(1, #fx:events("PAYSCORE.USER_PAID", no))
      -- pay and pay-fail need MCH_COMPLETE
      assert.are.equal(400, (fx:control("POST", "/sandbox/payscore/orders/" .. no .. "/pay")))
      assert.are.equal(400, (fx:control("POST", "/sandbox/payscore/orders/" .. no .. "/pay-fail")))
    end)

    it("with pay_deducts=false, E6 answers and the order keeps waiting", function()
      fx:settings { pay_deducts = false }
      local no = fx:completed(2000)
      ok(fx:pay(no))
      assert.are.equal("MCH_COMPLETE", select(2, state_of(no)))
    end)
  end)

  -- ---- E4 modify ------------------------------------------------------------------------------

  describe("E4 modify", function()
    local function modify(no, amount, over)
      local b = fx:ids { post_payments = json.array { { name = "就餐费用", amount = amount } }, total_amount = amount,
        reason = "价格调整" }
      for k, v in pairs(over or {}) do b[k] = v end
      return fx:post(no, "modify", b)
    end

    it("T10: lowers the amount while USER_PAYING, several times, strictly decreasing", function()
      local no = fx:completed(9000)
      local d = ok(modify(no, 8000))
      assert.are.equal("MCH_COMPLETE", d.state_description)
      assert.are.equal(8000, d.total_amount)
      assert.are.equal(8000, d.collection.total_amount)
      assert.are.equal(8000, d.collection.paying_amount)
      assert.are.equal("USER_PAYING", d.collection.state)
      ok(modify(no, 7000))
      err(modify(no, 7000), 400, "INVALID_REQUEST")
      err(modify(no, 7500), 400, "INVALID_REQUEST")
      d = err(modify(no, 6000, { total_amount = 5000 }), 400, "PARAM_ERROR", "最终总金额计算非法")
      assert.are.equal("/total_amount", d.detail.field)
      ok(fx:pay(no))
      assert.are.equal(7000, ok(fx:query(no)).collection.paid_amount)
      err(modify(no, 100), 400, "ORDER_DONE")
    end)

    it("is refused before completion and for deposit-paid 先免 orders", function()
      local no = fx:confirmed()
      err(modify(no, 100), 400, "INVALID_ORDER_STATE")
      local no2 = fixture.new_no()
      ok(fx:create(no2))
      assert.are.equal(200, (fx:confirm(no2, { deposit_paid = true })))
      ok(fx:complete(no2, 5000))
      err(modify(no2, 100), 400, "INVALID_REQUEST")
      err(modify(fx:completed(3000), 100, { appid = fixture.APPID2 }), 400, "INVALID_REQUEST")
    end)
  end)

  -- ---- E7 sync --------------------------------------------------------------------------------

  describe("E7 sync", function()
    local function sync(no, paid_time)
      return fx:post(no, "sync", fx:ids { type = "Order_Paid", detail = { paid_time = paid_time } })
    end

    it("T11: paid elsewhere -> DONE with an MCH detail, no notification", function()
      local no = fx:completed(3000)
      fx:business_offset(10)
      local d = ok(sync(no, fixture.t14(5)))
      assert.are.equal("DONE", d.state)
      assert.is_nil(d.state_description)
      local c = d.collection
      assert.are.equal("USER_PAID", c.state)
      assert.are.equal(3000, c.paid_amount)
      assert.are.equal("MCH", c.details[1].paid_type)
      assert.are.equal(fixture.t14(5), c.details[1].paid_time)
      assert.is_nil(c.details[1].transaction_id)
      assert.are.equal(0, #fx:events("PAYSCORE.USER_PAID", no))
      err(sync(no, fixture.t14(5)), 400, "ORDER_DONE")
    end)

    it("checks complete-call time < paid_time ≤ sync-call time", function()
      local no = fx:completed(3000)
      local d = err(sync(no, fixture.t14(120)), 400, "PARAM_ERROR")
      assert.are.equal("/detail/paid_time", d.detail.field)
      d = err(sync(no, fixture.t14(-120)), 400, "PARAM_ERROR")
      assert.are.equal("/detail/paid_time", d.detail.field)
      d = err(fx:post(no, "sync", fx:ids { type = "Order_Paid" }), 400, "PARAM_ERROR")
      assert.are.equal("/detail", d.detail.field)
      err(sync(fx:confirmed(), fixture.t14(-1)), 400, "INVALID_ORDER_STATE")
    end)
  end)

  -- ---- E8 direct-complete ---------------------------------------------------------------------

  describe("E8 direct-complete", function()
    local openid
    setup(function()
      openid = "o-direct-" .. fixture.new_no()
      assert.are.equal(200, (fx:control("POST", "/sandbox/payscore/users/" .. openid .. "/authorize", {})))
    end)

    local function body(no, amount, over)
      local b = { out_order_no = no, appid = APPID, service_id = SERVICE, openid = openid,
        service_introduction = "充电宝", post_payments = json.array { { name = "租借费", amount = amount } },
        total_amount = amount, time_range = { start_time = fixture.t14(-7200), end_time = fixture.t14(-60) },
        notify_url = fixture.NOTIFY_URL, attach = "a=1" }
      for k, v in pairs(over or {}) do if v == false then b[k] = nil else b[k] = v end end
      return b
    end
    local function direct(b, path)
      return fx.c:request("POST", path or "/payscore/serviceorder/direct-complete", { json = b })
    end

    it("T13: creates a completed order on both paths (§11), then collects like any other", function()
      local no = fixture.new_no()
      local first = body(no, 2500) -- times are relative to now: the replay must send the same ones
      local res = direct(first)
      local d = ok(res)
      assert.are.equal("DOING", d.state)
      assert.are.equal("MCH_COMPLETE", d.state_description)
      assert.are.equal(2500, d.total_amount)
      assert.are.equal(openid, ok(fx:query(no)).openid)
      local again = direct(first)
      assert.are.equal(res.body, again.body)
      err(direct(body(no, 2400)), 400, "INVALID_REQUEST", "请确认相同单号是否使用了不同的参数")
      ok(fx:pay(no))
      assert.are.equal(1, #fx:events("PAYSCORE.USER_PAID", no))
      local no2 = fixture.new_no()
      assert.are.equal("DONE", ok(direct(body(no2, 0, { notify_url = false }),
        "/v3/payscore/serviceorder/direct-complete")).state)
    end)

    it("shares the out_order_no namespace with E1", function()
      local no = fixture.new_no()
      ok(fx:create(no))
      err(direct(body(no, 100)), 400, "INVALID_REQUEST")
    end)

    it("checks the times against the call, the user's authorization and the permission", function()
      local d = err(direct(body(fixture.new_no(), 100, { time_range = { start_time = fixture.t14(60) } })), 400,
        "PARAM_ERROR")
      assert.are.equal("/time_range/start_time", d.detail.field)
      d = err(direct(body(fixture.new_no(), 100, { time_range = { start_time = fixture.t14(-60),
        end_time = fixture.t14(60) } })), 400, "PARAM_ERROR")
      assert.are.equal("/time_range/end_time", d.detail.field)
      err(direct(body(fixture.new_no(), 100, { openid = "o-stranger" })), 403, "NO_AUTH", "请检查服务授权状态")
      d = err(direct(body(fixture.new_no(), 100, { notify_url = false })), 400, "PARAM_ERROR")
      assert.are.equal("/notify_url", d.detail.field)
      err(direct(body(fixture.new_no(), 50001)), 400, "INVALID_REQUEST")
      fx:settings { services = { [SERVICE] = { direct_complete = false } } }
      err(direct(body(fixture.new_no(), 100)), 403, "NO_AUTH", "商户暂无权限使用此服务")
    end)
  end)

  -- ---- control views --------------------------------------------------------------------------

  it("lists the merchant's orders with their sandbox fields (GET /sandbox/payscore/orders)", function()
    local no = fixture.new_no()
    ok(fx:create(no))
    local st, data = fx:control("GET", "/sandbox/payscore/orders?state=CREATED")
    assert.are.equal(200, st)
    local found
    for _, o in ipairs(data.data) do
      assert.are.equal("CREATED", o.state)
      if o.out_order_no == no then found = o end
    end
    assert.is_table(found)
    assert.are.equal("CREATED", found.sandbox.phase)
    assert.is_string(found.sandbox.package)
    st, data = fx:control("GET", "/sandbox/payscore/orders?mchid=" .. fixture.MCHID_B)
    assert.are.equal(200, st)
    for _, o in ipairs(data.data) do assert.are.equal(fixture.MCHID_B, o.mchid) end
    assert.are.equal(404, (fx:control("GET", "/sandbox/payscore/orders/" .. fixture.new_no())))
    st, data = fx:control("GET", "/sandbox/payscore/states")
    assert.are.equal(200, st)
    assert.are.equal("allowed", data.matrix.complete["DOING/USER_CONFIRM"])
    assert.are.equal("refused", data.matrix.pay["CREATED"])
  end)
end)
