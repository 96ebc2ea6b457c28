-- PayScore authorizations in the running sandbox (payscore.md §3.9-§3.15, §5.4, §8.5): the pre-authorization of
-- E9 and its record (E10, E11), the user's record (E12, E13), the legacy user-service-state (E14, E15) with and
-- without /v3, the user's side (control authorize / deauthorize), open orders blocking a termination, and the
-- USER_OPEN_SERVICE / USER_CLOSE_SERVICE notifications (decrypted from the delivery log).

local fixture = require "spec.support.payscore_fixture"
local signed = require "spec.support.signed_request"

local APPID, SERVICE = fixture.APPID, fixture.SERVICE
local AUTH_URL = fixture.NOTIFY_URL .. "/auth" -- nothing listens there: deliveries are logged, then retried

describe("PayScore sandbox: authorizations", function()
  local fx = fixture.setup()
  if not fx then return end
  after_each(function() fx:default_settings() end)

  local function err(res, status, code, message)
    assert.are.equal(status, res.status, res.body)
    assert.are.equal(code, res.data.code, res.body)
    if message then assert.are.equal(message, res.data.message, res.body) end
    return res.data
  end

  local function ok(res, status)
    assert.are.equal(status or 200, res.status, res.body)
    assert.is_true(res.verified, tostring(res.verify_error))
    return res.data
  end

  local n = 0
  local function code()
    n = n + 1
    return "AUTH" .. os.time() .. "_" .. n
  end
  local function user()
    n = n + 1
    return "o-user-" .. os.time() .. "-" .. n
  end

  local function apply(c, over)
    local b = { service_id = SERVICE, appid = APPID, authorization_code = c, notify_url = AUTH_URL }
    for k, v in pairs(over or {}) do if v == false then b[k] = nil else b[k] = v end end
    return fx.c:request("POST", "/v3/payscore/permissions", { json = b })
  end
  local function by_code(c, service_id)
    return fx.c:request("GET", "/v3/payscore/permissions/authorization-code/" .. signed.pct(c),
      { query = { service_id = service_id or SERVICE } })
  end
  local function terminate_code(c, reason)
    return fx.c:request("POST", "/v3/payscore/permissions/authorization-code/" .. signed.pct(c) .. "/terminate",
      { json = { service_id = SERVICE, reason = reason or "用户要求" } })
  end
  local function by_openid(o, appid)
    return fx.c:request("GET", "/v3/payscore/permissions/openid/" .. signed.pct(o),
      { query = { appid = appid or APPID, service_id = SERVICE } })
  end
  local function terminate_openid(o, appid)
    return fx.c:request("POST", "/v3/payscore/permissions/openid/" .. signed.pct(o) .. "/terminate",
      { json = { service_id = SERVICE, appid = appid or APPID, reason = "不再使用" } })
  end
  local function authorize(o, body)
    return fx:control("POST", "/sandbox/payscore/users/" .. signed.pct(o) .. "/authorize", body or {})
  end
  local function deauthorize(o, body)
    return fx:control("POST", "/sandbox/payscore/users/" .. signed.pct(o) .. "/deauthorize", body or {})
  end
  local function user_state(o, path)
    return fx.c:request("GET", path or "/v3/payscore/user-service-state",
      { query = { service_id = SERVICE, appid = APPID, openid = o } })
  end

  it("E9 -> user authorizes -> E10/E12/E14 AVAILABLE, PAYSCORE.USER_OPEN_SERVICE to the E9 notify_url", function()
    local c, o = code(), user()
    local d = ok(apply(c))
    assert.is_string(d.apply_permissions_token)
    assert.is_true(#d.apply_permissions_token > 0 and #d.apply_permissions_token <= 300)
    -- the same request again: the live token; other parameters: re-entry refused
    assert.are.equal(d.apply_permissions_token, ok(apply(c)).apply_permissions_token)
    err(apply(c, { notify_url = AUTH_URL .. "/other" }), 400, "INVALID_REQUEST",
      "请确认相同单号是否使用了不同的参数")
    local r = ok(by_code(c))
    assert.are.equal("UNBINDUSER", r.authorization_state)
    assert.is_nil(r.openid)
    assert.are.equal(c, r.authorization_code)
    assert.are.equal(fixture.MCHID_A, r.mchid)
    assert.are.equal(AUTH_URL, r.notify_url)

    local st, data = authorize(o, { authorization_code = c })
    assert.are.equal(200, st)
    assert.is_true(data.changed)
    r = ok(by_code(c))
    assert.are.equal("AVAILABLE", r.authorization_state)
    assert.are.equal(o, r.openid)
    assert.are.equal(APPID, r.appid)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", r.authorization_success_time)
    local u = ok(by_openid(o))
    assert.are.equal("AVAILABLE", u.authorization_state)
    assert.are.equal(c, u.authorization_code)
    assert.are.equal(o, u.openid)
    assert.are.equal("AVAILABLE", ok(user_state(o)).use_service_state)
    assert.are.equal("AVAILABLE", ok(user_state(o, "/payscore/user-service-state")).use_service_state)

    local ev = fx:events("PAYSCORE.USER_OPEN_SERVICE", o)
    assert.are.equal(1, #ev)
    local p = ev[1].payload
    assert.are.equal("USER_OPEN_SERVICE", p.user_service_status)
    assert.are.equal(c, p.authorization_code)
    assert.are.equal(fixture.MCHID_A, p.mchid)
    assert.are.equal(SERVICE, p.service_id)
    assert.are.equal(APPID, p.appid)
    assert.matches("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d$", p.openorclose_time)
    assert.are.equal(AUTH_URL, ev[1].log.url)
    assert.are.equal("用户开启微信支付分服务", ev[1].envelope.summary)

    -- one code per user, not reusable
    assert.are.equal(400, (authorize(user(), { authorization_code = c })))
    err(apply(c), 400, "INVALID_REQUEST", "授权协议号已被使用")
  end)

  it("E11: terminating by code is blocked by open orders, then closes the authorization", function()
    local c, o = code(), user()
    ok(apply(c))
    assert.are.equal(200, (authorize(o, { authorization_code = c })))
    -- a 免确认 order of this user is DOING: 存在未完成订单
    local no = fixture.new_no()
    ok(fx:create(no, { need_user_confirm = false, openid = o }))
    err(terminate_code(c), 400, "INVALID_REQUEST", "存在未完成订单")
    ok(fx:cancel(no))
    local res = terminate_code(c)
    assert.are.equal(204, res.status, res.body)
    assert.are.equal("", res.body)
    assert.is_true(res.verified, tostring(res.verify_error)) -- 204 answers are signed too
    local r = ok(by_code(c))
    assert.are.equal("UNAVAILABLE", r.authorization_state)
    assert.matches("%+08:00$", r.cancel_authorization_time)
    assert.are.equal("UNAVAILABLE", ok(by_openid(o)).authorization_state)
    local ev = fx:events("PAYSCORE.USER_CLOSE_SERVICE", o)
    assert.are.equal(1, #ev)
    assert.are.equal("USER_CLOSE_SERVICE", ev[1].payload.user_service_status)
    assert.are.equal(c, ev[1].payload.authorization_code)
    -- a 免确认 order now needs a new authorization
    err(fx:create(fixture.new_no(), { need_user_confirm = false, openid = o }), 403, "NO_AUTH")
    -- terminating again / a code no user holds
    err(terminate_code(c), 400, "INVALID_REQUEST")
    local c2 = code()
    ok(apply(c2))
    err(terminate_code(c2), 400, "INVALID_REQUEST", "商户解除授权的授权码不是这个用户签约的授权")
  end)

  it("E10/E11 answer 404 ORDER_NOT_EXIST for unknown codes or another service", function()
    err(by_code(code()), 404, "ORDER_NOT_EXIST")
    local c = code()
    ok(apply(c))
    err(by_code(c, fixture.SERVICE_ESTIMATE), 404, "ORDER_NOT_EXIST")
    err(terminate_code(code()), 404, "ORDER_NOT_EXIST")
  end)

  it("E12/E13 by openid: UNAVAILABLE for a stranger, terminate, appid mismatch", function()
    local o = user()
    local u = ok(by_openid(o))
    assert.are.equal("UNAVAILABLE", u.authorization_state)
    assert.are.equal(o, u.openid)
    err(terminate_openid(o), 400, "INVALID_REQUEST")
    -- the legacy 普通授权 (no code), with a notify_url for the notifications
    local st, data = authorize(o, { notify_url = AUTH_URL .. "/legacy" })
    assert.are.equal(200, st)
    assert.is_true(data.changed)
    st, data = authorize(o)
    assert.are.equal(200, st)
    assert.is_false(data.changed) -- already authorized
    u = ok(by_openid(o))
    assert.are.equal("AVAILABLE", u.authorization_state)
    assert.is_nil(u.authorization_code)
    -- §9.4: an appid the openid does not belong to -> 500 SYSTEM_ERROR 系统繁忙
    err(by_openid(o, fixture.APPID2), 500, "SYSTEM_ERROR")
    err(terminate_openid(o, fixture.APPID2), 400, "INVALID_REQUEST")
    local res = terminate_openid(o)
    assert.are.equal(204, res.status, res.body)
    assert.are.equal("UNAVAILABLE", ok(by_openid(o)).authorization_state)
    local ev = fx:events("PAYSCORE.USER_CLOSE_SERVICE", o)
    assert.are.equal(1, #ev)
    assert.are.equal(AUTH_URL .. "/legacy", ev[1].log.url)
    assert.are.equal(1, #fx:events("PAYSCORE.USER_OPEN_SERVICE", o))
    err(terminate_openid(o), 400, "INVALID_REQUEST", "用户未授权该服务")
  end)

  it("E14/E15 legacy: user-service-state and terminate, with and without /v3 (§11)", function()
    local o = user()
    assert.are.equal("UNAVAILABLE", ok(user_state(o)).use_service_state)
    assert.are.equal(200, (authorize(o)))
    local s = ok(user_state(o, "/payscore/user-service-state"))
    assert.are.same({ appid = APPID, service_id = SERVICE, openid = o, use_service_state = "AVAILABLE" }, s)
    local path = "/payscore/users/" .. o .. "/permissions/" .. SERVICE .. "/terminate"
    local res = fx.c:request("POST", path, { json = { appid = APPID, reason = "不再使用" } })
    assert.are.equal(204, res.status, res.body)
    assert.are.equal("UNAVAILABLE", ok(user_state(o)).use_service_state)
    assert.are.equal(200, (authorize(o)))
    res = fx.c:request("POST", "/v3" .. path, { json = { appid = APPID, reason = "不再使用" } })
    assert.are.equal(204, res.status, res.body)
    res = fx.c:request("POST", "/v3" .. path, { json = { appid = APPID, reason = "不再使用" } })
    err(res, 400, "INVALID_REQUEST")
    local d = err(fx.c:request("POST", path, { json = { appid = APPID } }), 400, "PARAM_ERROR")
    assert.are.equal("/reason", d.detail.field)
  end)

  it("the user's de-authorization (control) closes the service and notifies", function()
    local c, o = code(), user()
    ok(apply(c))
    assert.are.equal(200, (authorize(o, { authorization_code = c })))
    local st, data = deauthorize(o)
    assert.are.equal(200, st)
    assert.is_true(data.changed)
    assert.are.equal("UNAVAILABLE", ok(by_code(c)).authorization_state)
    assert.are.equal("UNAVAILABLE", ok(by_openid(o)).authorization_state)
    local ev = fx:events("PAYSCORE.USER_CLOSE_SERVICE", o)
    assert.are.equal(1, #ev)
    assert.are.equal(AUTH_URL, ev[1].log.url)
    st, data = deauthorize(o)
    assert.are.equal(200, st)
    assert.is_false(data.changed)
    st, data = fx:control("GET", "/sandbox/payscore/users")
    assert.are.equal(200, st)
    local seen
    for _, u in ipairs(data.users) do if u.openid == o then seen = u end end
    assert.are.equal("UNAVAILABLE", seen.authorization_state)
  end)

  it("checks fields, bindings and the 免确认 permission", function()
    local d = err(apply("bad code!"), 400, "PARAM_ERROR")
    assert.are.equal("/authorization_code", d.detail.field)
    d = err(apply(code(), { notify_url = "https://x.example/cb?with=query" }), 400, "PARAM_ERROR")
    assert.are.equal("/notify_url", d.detail.field)
    err(apply(code(), { appid = "wx_not_bound" }), 403, "NO_AUTH")
    d = err(fx.c:request("GET", "/v3/payscore/permissions/openid/" .. user(), { query = { service_id = SERVICE } }),
      400, "PARAM_ERROR")
    assert.are.equal("appid", d.detail.field)
    fx:settings { services = { [SERVICE] = { no_confirm = false } } }
    err(apply(code()), 403, "NO_AUTH", "商户暂无权限使用此服务")
  end)
end)
