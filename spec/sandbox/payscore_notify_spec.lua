-- PayScore notifications received by a real handler (a second nginx over HTTPS, its certificate issued by the
-- sandbox CA): PAYSCORE.USER_CONFIRM when the user confirms, PAYSCORE.USER_PAID when a deduction succeeds,
-- PAYSCORE.USER_OPEN_SERVICE / USER_CLOSE_SERVICE on authorization changes (payscore.md §8). Each delivery's
-- signature is verified with the WeChat Pay public key (core.verify) and its resource decrypted with the APIv3 key
-- (core.gcm_decrypt); the payload is compared with what the merchant's query answers.

local fixture = require "spec.support.payscore_fixture"
local sandbox = require "spec.support.sandbox"
local signed = require "spec.support.signed_request"
local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

describe("PayScore sandbox: notifications to a real handler", function()
  local fx = fixture.setup()
  if not fx then return end

  -- the receiver (spec.support.sandbox.receiver) answers 204 to every delivery
  local rx, pub
  setup(function()
    rx = sandbox.receiver(fx.sb.dir, 204)
    pub = assert(core.key_load("file://" .. fx.cfg.public_key, "public"))
  end)
  teardown(function() if rx then rx.stop() end end)

  -- deliveries to /notify/<name>, waited for (the sandbox delivers from a timer)
  local function received(name, count) return rx.received(name, count) end

  -- verify, decrypt and decode one delivery
  local function open(r, event_type)
    local h = r.headers
    assert.are.equal("WECHATPAY2-SHA256-RSA2048", h["wechatpay-signature-type"])
    assert.are.equal(fx.cfg.public_key_id, h["wechatpay-serial"])
    assert.is_true(math.abs(tonumber(h["wechatpay-timestamp"]) - os.time()) <= 300)
    local ok, reason = core.verify(pub, h["wechatpay-timestamp"] .. "\n" .. h["wechatpay-nonce"] .. "\n" .. r.body
      .. "\n", h["wechatpay-signature"])
    assert.is_true(ok, tostring(reason))
    assert.is_false((core.verify(pub, h["wechatpay-timestamp"] .. "\n" .. h["wechatpay-nonce"] .. "\n" .. r.body
      .. " \n", h["wechatpay-signature"])))
    local env = assert(json.decode(r.body))
    assert.are.equal(event_type, env.event_type)
    assert.are.equal("encrypt-resource", env.resource_type)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", env.create_time)
    local res = env.resource
    assert.are.equal("AEAD_AES_256_GCM", res.algorithm)
    assert.are.equal("payscore", res.original_type)
    local pt = assert(core.gcm_decrypt(fx.cfg.apiv3_key, res.nonce, res.associated_data, res.ciphertext))
    return assert(json.decode(pt)), env
  end

  local n = 0
  local function name()
    n = n + 1
    return "r" .. n .. "-" .. sandbox.nonce(6)
  end

  it("USER_CONFIRM on confirmation and USER_PAID on a successful deduction, to the order's notify_url", function()
    local box = name()
    local no = fixture.new_no()
    local res = fx:create(no, { notify_url = rx.url("/notify/" .. box) })
    assert.are.equal(200, res.status, res.body)
    assert.are.equal(200, (fx:confirm(no, { openid = "o-notify" })))
    local got = received(box, 1)
    assert.are.equal(1, #got)
    local p, env = open(got[1], "PAYSCORE.USER_CONFIRM")
    assert.are.equal("微信支付分服务订单用户已确认", env.summary)
    local q = fx:query(no).data
    for _, k in ipairs({ "appid", "mchid", "out_order_no", "service_id", "openid", "state", "state_description",
      "total_amount", "service_introduction", "order_id", "attach", "notify_url" }) do
      assert.are.same(q[k], p[k], k)
    end
    assert.are.same(q.post_payments, p.post_payments)
    assert.are.same(q.risk_fund, p.risk_fund)
    assert.are.same(q.time_range, p.time_range)
    assert.are.equal("DOING", p.state)
    assert.are.equal("USER_CONFIRM", p.state_description)

    assert.are.equal(200, fx:complete(no, 7000).status)
    assert.are.equal(200, fx:pay(no).status)
    got = received(box, 2)
    assert.are.equal(2, #got)
    p = open(got[2], "PAYSCORE.USER_PAID")
    q = fx:query(no).data
    assert.are.same(q, p) -- the full entity
    assert.are.equal("DONE", p.state)
    assert.are.equal("USER_PAID", p.collection.state)
    assert.matches("^%d+$", p.collection.details[1].transaction_id)
    -- the delivery log agrees
    local log = fx:events("PAYSCORE.USER_PAID", no)
    assert.are.equal(1, #log)
    local deadline = os.time() + 10
    while log[1].log.status ~= "delivered" and os.time() <= deadline do
      os.execute("sleep 0.1")
      log = fx:events("PAYSCORE.USER_PAID", no)
    end
    assert.are.equal("delivered", log[1].log.status)
    assert.are.equal(204, log[1].log.attempts[1].status)
  end)

  it("USER_OPEN_SERVICE and USER_CLOSE_SERVICE to the E9 notify_url", function()
    local box = name()
    local code = "NTF" .. os.time() .. n
    local res = fx.c:request("POST", "/v3/payscore/permissions", { json = { service_id = fixture.SERVICE,
      appid = fixture.APPID, authorization_code = code, notify_url = rx.url("/notify/" .. box) } })
    assert.are.equal(200, res.status, res.body)
    assert.are.equal(200, (fx:control("POST", "/sandbox/payscore/users/o-auth-" .. n .. "/authorize",
      { authorization_code = code })))
    res = fx.c:request("POST", "/v3/payscore/permissions/authorization-code/" .. signed.pct(code) .. "/terminate",
      { json = { service_id = fixture.SERVICE, reason = "测试" } })
    assert.are.equal(204, res.status, res.body)
    local got = received(box, 2)
    assert.are.equal(2, #got)
    local open_p = open(got[1], "PAYSCORE.USER_OPEN_SERVICE")
    local close_p = open(got[2], "PAYSCORE.USER_CLOSE_SERVICE")
    for _, p in ipairs({ open_p, close_p }) do
      assert.are.equal(fixture.APPID, p.appid)
      assert.are.equal(fixture.MCHID_A, p.mchid)
      assert.are.equal(fixture.SERVICE, p.service_id)
      assert.are.equal("o-auth-" .. n, p.openid)
      assert.are.equal(code, p.authorization_code)
      assert.matches("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d$", p.openorclose_time)
    end
    assert.are.equal("USER_OPEN_SERVICE", open_p.user_service_status)
    assert.are.equal("USER_CLOSE_SERVICE", close_p.user_service_status)
  end)
end)
