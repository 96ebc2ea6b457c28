-- Notifications of the sandbox (sandbox/lua/sandbox/notify.lua): delivered to a second nginx (HTTPS with a
-- certificate of the sandbox CA, and plain HTTP), envelope decrypted with the APIv3 key (core.gcm_decrypt),
-- signature checked with the openssl command line, retries, the delivery log.

local sandbox = require "spec.support.sandbox"
local https_server = require "spec.support.https_server"
local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

-- The receiver (spec.support.sandbox.receiver): /notify/<name>?fail=N answers 500 to the first N deliveries of <name>
-- (then 200, or ?status=), ?sleep=S waits S seconds first (once); received(name) lists what arrived (headers and raw
-- body).
describe("sandbox notifications", function()
  local sb = sandbox.setup{ routes = sandbox.TEST_ROUTES, time_scale = 1000 }
  if not sb then return end

  local rx
  setup(function() rx = sandbox.receiver(sb.dir) end)
  teardown(function() if rx then rx.stop() end end)

  local names = 0
  local function new_name()
    names = names + 1
    return "n" .. names .. "-" .. sandbox.nonce(6)
  end

  local function received(name) return rx.received(name) end

  local function send(url, plaintext, event_type)
    local res = sb:request{ method = "POST", target = "/v3/sandbox-test/notify", body = {
      url = url, event_type = event_type or "PAYSCORE.USER_CONFIRM", plaintext = plaintext } }
    assert.are.equal(200, res.status, res.body)
    return json.decode(res.body)
  end

  -- poll the delivery log until the notification reaches a final state
  local function wait_final(id, limit)
    local deadline = os.time() + (limit or 20)
    while os.time() <= deadline do
      for _, n in ipairs(sb:notifications()) do
        if n.id == id and (n.status == "delivered" or n.status == "failed") then return n end
      end
      os.execute("sleep 0.1")
    end
    error("notification " .. id .. " not final in time")
  end

  local function check_delivery(r, plaintext, event_type)
    local h = r.headers
    assert.are.equal("POST", r.method)
    assert.matches("^application/json", h["content-type"])
    assert.are.equal("WECHATPAY2-SHA256-RSA2048", h["wechatpay-signature-type"])
    assert.is_truthy(h["request-id"])
    assert.are.equal(32, #h["wechatpay-nonce"])
    assert.is_true(math.abs(tonumber(h["wechatpay-timestamp"]) - os.time()) <= 10)
    local message = h["wechatpay-timestamp"] .. "\n" .. h["wechatpay-nonce"] .. "\n" .. r.body .. "\n"
    local env = assert(json.decode(r.body))
    assert.matches("^EV%-%d+$", env.id)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", env.create_time)
    assert.are.equal(event_type or "PAYSCORE.USER_CONFIRM", env.event_type)
    assert.are.equal("encrypt-resource", env.resource_type)
    assert.are.equal("微信支付分服务订单用户已确认", env.summary)
    local res = env.resource
    assert.are.equal("AEAD_AES_256_GCM", res.algorithm)
    assert.are.equal("payscore", res.original_type)
    assert.are.equal("payscore", res.associated_data)
    assert.are.equal(12, #res.nonce)
    local pt = assert(core.gcm_decrypt(sb.config.apiv3_key, res.nonce, res.associated_data, res.ciphertext))
    assert.are.same(plaintext, json.decode(pt))
    -- a wrong key does not decrypt
    assert.is_nil(core.gcm_decrypt(string.rep("0", 32), res.nonce, res.associated_data, res.ciphertext))
    return h["wechatpay-serial"], message, h["wechatpay-signature"], env
  end

  it("delivers a signed envelope over HTTPS that decrypts with the APIv3 key", function()
    local name = new_name()
    local plaintext = { out_order_no = "N1", state = "DOING", state_description = "USER_CONFIRM", total_amount = 40000,
      mchid = sb.config.mchid }
    local sent = send(rx.url("/notify/" .. name), plaintext)
    assert.matches("^EV%-", sent.id)
    local n = wait_final(sent.id)
    assert.are.equal("delivered", n.status)
    assert.are.equal(1, #n.attempts)
    assert.are.equal(200, n.attempts[1].status)
    local got = received(name)
    assert.are.equal(1, #got)
    local serial, message, sig, env = check_delivery(got[1], plaintext)
    assert.are.equal(sent.id, env.id)
    assert.are.equal(sb.config.public_key_id, serial)
    local ok, out = sandbox.openssl_verify(sb.config.public_key, message, sig)
    assert.is_true(ok, out)
    assert.is_false((sandbox.openssl_verify(sb.config.public_key, message .. "x", sig)))
  end)

  it("delivers over plain HTTP and to https://localhost, and counts 204 as success", function()
    local name = new_name()
    local n = wait_final(send(rx.http_url("/notify/" .. name .. "?status=204"), { a = 1 }).id)
    assert.are.equal("delivered", n.status)
    assert.are.equal(204, n.attempts[1].status)
    local port = rx.url("/"):match(":(%d+)/$")
    name = new_name()
    n = wait_final(send("https://localhost:" .. port .. "/notify/" .. name, { a = 2 }).id)
    assert.are.equal("delivered", n.status)
    assert.are.equal(1, #received(name))
  end)

  it("retries after 500 answers on the (scaled) schedule, signing each attempt afresh", function()
    local name = new_name()
    local plaintext = { out_order_no = "N2", n = 2 }
    local n = wait_final(send(rx.url("/notify/" .. name .. "?fail=2"), plaintext).id)
    assert.are.equal("delivered", n.status)
    assert.are.equal(3, #n.attempts)
    assert.are.equal(500, n.attempts[1].status)
    assert.are.equal(500, n.attempts[2].status)
    assert.are.equal(200, n.attempts[3].status)
    local got = received(name)
    assert.are.equal(3, #got)
    assert.are.equal(got[1].body, got[3].body) -- the same envelope
    assert.are_not.equal(got[1].headers["wechatpay-nonce"], got[2].headers["wechatpay-nonce"])
    for i = 1, 3 do
      local _, message, sig = check_delivery(got[i], plaintext)
      assert.is_true((sandbox.openssl_verify(sb.config.public_key, message, sig)))
    end
  end)

  it("retries a delivery answered after more than 5 s", function()
    local name = new_name()
    local n = wait_final(send(rx.http_url("/notify/" .. name .. "?sleep=6"), { slow = true }).id, 30)
    assert.are.equal("delivered", n.status)
    assert.are.equal(2, #n.attempts)
    assert.is_truthy(n.attempts[1].error)
    assert.are.equal(2, #received(name))
  end)

  it("gives up after the last retry and logs every attempt", function()
    assert.are.equal(200, (sb:control("POST", "/sandbox/config", { time_scale = 100000 })))
    local name = new_name()
    local n = wait_final(send(rx.http_url("/notify/" .. name .. "?fail=1000"), { x = 1 }).id)
    sb:control("POST", "/sandbox/config", { time_scale = 1000 })
    assert.are.equal("failed", n.status)
    assert.are.equal(10, #n.attempts) -- the first attempt and 9 retries (payscore.md §8.1, current schedule)
    assert.are.equal(10, #received(name))
    for _, a in ipairs(n.attempts) do assert.are.equal(500, a.status) end
  end)

  it("refuses a receiver whose certificate the sandbox does not trust, and logs why", function()
    local other = https_server.start{ builtin = false, http = "lua_shared_dict received 1m;",
      locations = sandbox.receiver_locations() }
    assert.are.equal(200, (sb:control("POST", "/sandbox/config", { time_scale = 100000 })))
    local ok, err = pcall(function()
      local n = wait_final(send(other.url("/notify/" .. new_name()), { x = 1 }).id)
      assert.are.equal("failed", n.status)
      assert.is_nil(n.attempts[1].status)
      assert.matches("tls", n.attempts[1].error)
    end)
    sb:control("POST", "/sandbox/config", { time_scale = 1000 })
    other.stop()
    assert(ok, err)
  end)

  it("signs with the platform certificate in certificate mode", function()
    assert.are.equal(200, (sb:control("POST", "/sandbox/config", { cert_mode = true })))
    local name = new_name()
    local ok, err = pcall(function()
      wait_final(send(rx.url("/notify/" .. name), { c = 1 }).id)
    end)
    sb:control("POST", "/sandbox/config", { cert_mode = false })
    assert(ok, err)
    local serial, message, sig = check_delivery(received(name)[1], { c = 1 })
    assert.are.equal(sb.config.platform_serial, serial)
    assert.is_true((sandbox.openssl_verify(sb.config.platform_certificate, message, sig, true)))
  end)

  it("lists deliveries with filters", function()
    local list = sb:notifications("?event_type=PAYSCORE.USER_CONFIRM&status=delivered")
    assert.is_true(#list >= 3)
    for _, n in ipairs(list) do
      assert.are.equal("delivered", n.status)
      assert.are.equal(sb.config.mchid, n.mchid)
      assert.is_string(n.url)
      assert.is_table(n.plaintext)
    end
    assert.are.equal(0, #sb:notifications("?event_type=NOPE"))
  end)

  it("refuses a notification without a usable URL", function()
    local res = sb:request{ method = "POST", target = "/v3/sandbox-test/notify",
      body = { url = "ftp://x", event_type = "PAYSCORE.USER_CONFIRM", plaintext = { a = 1 } } }
    assert.are.equal(400, res.status)
  end)
end)
