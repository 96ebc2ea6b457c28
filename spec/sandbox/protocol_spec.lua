-- The sandbox's APIv3 protocol side (sandbox/lua/sandbox/server.lua), driven with the curl and openssl command
-- lines: request authentication, routing, answer signing, /v3/certificates, the request log, shared state.

local sandbox = require "spec.support.sandbox"
local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

local function sign_error(res)
  assert.are.equal(401, res.status)
  local b = assert(json.decode(res.body))
  assert.are.equal("SIGN_ERROR", b.code)
  assert.is_string(b.message)
  assert.is_nil(res.headers["wechatpay-signature"])
  assert.is_truthy(res.headers["request-id"])
  return b
end

describe("sandbox protocol", function()
  local sb = sandbox.setup{ routes = sandbox.TEST_ROUTES }
  if not sb then return end

  describe("a correctly signed request", function()
    it("reaches the handler and the answer verifies with the WeChat Pay public key (openssl)", function()
      local res = sb:request{ target = "/v3/sandbox-test/echo" }
      assert.are.equal(200, res.status, res.body)
      local b = json.decode(res.body)
      assert.are.equal("GET", b.method)
      assert.are.equal("/v3/sandbox-test/echo", b.path)
      assert.are.equal(sb.config.mchid, b.mchid)
      assert.are.equal("T-echo", b.id)
      assert.are.equal(sb.config.public_key_id, res.headers["wechatpay-serial"])
      assert.matches("^PUB_KEY_ID_%d+$", res.headers["wechatpay-serial"])
      assert.matches("^[0-9A-Za-z]+$", res.headers["wechatpay-nonce"])
      assert.are.equal(32, #res.headers["wechatpay-nonce"])
      assert.matches("^1%d%d%d%d%d%d%d%d%d$", res.headers["wechatpay-timestamp"])
      assert.is_true(math.abs(tonumber(res.headers["wechatpay-timestamp"]) - os.time()) <= 5)
      assert.matches("^%x+%-0$", res.headers["request-id"])
      assert.are.equal(tostring(#res.body), res.headers["content-length"])
      local ok, out = sb:verify(res)
      assert.is_true(ok, out)
    end)

    it("fails openssl verification when the body is changed (the check can fail)", function()
      local res = sb:request{ target = "/v3/sandbox-test/echo" }
      res.body = res.body .. " "
      assert.is_false((sb:verify(res)))
    end)

    it("accepts the Authorization fields in any order", function()
      local c = sb.config
      local ts, nonce = tostring(os.time()), sandbox.nonce()
      local sig = sandbox.openssl_sign(c.private_key, "GET\n/v3/sandbox-test/echo\n" .. ts .. "\n" .. nonce .. "\n\n")
      local auth = 'WECHATPAY2-SHA256-RSA2048 signature="' .. sig .. '",timestamp="' .. ts .. '",serial_no="'
        .. c.serial .. '",nonce_str="' .. nonce .. '",mchid="' .. c.mchid .. '"'
      local res = sb:request{ target = "/v3/sandbox-test/echo", authorization = auth }
      assert.are.equal(200, res.status, res.body)
      assert.is_true((sb:verify(res)))
    end)

    it("signs the target exactly as on the request line and decodes the query for the handler", function()
      local target = "/v3/sandbox-test/echo?openid=o%2Fa%20b~&a=1&x=%E4%B8%AD"
      local res = sb:request{ target = target }
      assert.are.equal(200, res.status, res.body)
      local b = json.decode(res.body)
      assert.are.equal(target, b.target)
      assert.are.equal("o/a b~", b.query.openid)
      assert.are.equal("1", b.query.a)
      assert.are.equal("中", b.query.x)
      -- a signature over the decoded target does not verify
      local bad = sb:request{ target = target, sign_target = "/v3/sandbox-test/echo?openid=o/a b~&a=1&x=中" }
      sign_error(bad)
    end)

    it("signs over the raw body and hands the decoded JSON to the handler", function()
      local body = '{"out_order_no":"N1","amount":40000,"items":[],"name":"中文"}'
      local res = sb:request{ method = "POST", target = "/v3/sandbox-test/echo", body = body }
      assert.are.equal(200, res.status, res.body)
      local b = json.decode(res.body)
      assert.are.equal(#body, b.raw_len)
      assert.are.equal("N1", b.json.out_order_no)
      assert.are.equal(40000, b.json.amount)
      assert.are.equal("中文", b.json.name)
      assert.is_true((sb:verify(res)))
    end)

    it("reads a large body that nginx buffered to a temp file", function()
      local big = { pad = string.rep("x", 300 * 1024), n = 1 }
      local body = assert(json.encode(big))
      local res = sb:request{ method = "POST", target = "/v3/sandbox-test/echo", body = body }
      assert.are.equal(200, res.status, res.body:sub(1, 300))
      assert.are.equal(#body, json.decode(res.body).raw_len)
    end)

    it("passes URL-decoded path captures to the handler", function()
      local res = sb:request{ method = "POST", target = "/v3/sandbox-test/items/N%2F1%20x/touch", body = "{}" }
      assert.are.equal(200, res.status, res.body)
      assert.are.equal("N/1 x", json.decode(res.body).item)
    end)

    it("signs a 204 over the empty body", function()
      local res = sb:request{ method = "POST", target = "/v3/sandbox-test/empty", body = "{}" }
      assert.are.equal(204, res.status)
      assert.are.equal("", res.body)
      local ok, out = sb:verify(res)
      assert.is_true(ok, out)
    end)
  end)

  describe("authentication failures answer 401 SIGN_ERROR", function()
    it("for a signature over another body", function()
      local res = sb:request{ method = "POST", target = "/v3/sandbox-test/echo", body = '{"a":1}',
        sign_body = '{"a":2}' }
      local b = sign_error(res)
      assert.are.equal("signature", b.detail.field)
      assert.is_table(b.detail.sign_information)
      assert.matches("%-270924332$", res.headers["request-id"])
    end)

    it("for a signature made with another key", function()
      local other = os.tmpname()
      assert.is_true(sandbox.openssl_verify ~= nil)
      os.execute("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " .. other .. " 2>/dev/null")
      local res = sb:request{ target = "/v3/sandbox-test/echo", key = other }
      os.remove(other)
      sign_error(res)
    end)

    it("for a signature that is not base64 or is a probe", function()
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", signature = "not*base64" })
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", signature = "WECHATPAY/SIGNTEST/abc" })
    end)

    it("for a serial_no that is not the merchant certificate's", function()
      local b = sign_error(sb:request{ target = "/v3/sandbox-test/echo", serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1" })
      assert.are.equal("serial_no", b.detail.field)
      b = sign_error(sb:request{ target = "/v3/sandbox-test/echo", serial = sb.config.serial:lower() })
      assert.are.equal("serial_no", b.detail.field)
    end)

    it("for an unknown mchid", function()
      local b = sign_error(sb:request{ target = "/v3/sandbox-test/echo", mchid = "1900009999" })
      assert.are.equal("mchid", b.detail.field)
    end)

    it("for a timestamp 301 s in the past or more than 300 s in the future, not for 295 s", function()
      local now = os.time()
      local b = sign_error(sb:request{ target = "/v3/sandbox-test/echo", timestamp = now - 301 })
      assert.are.equal("timestamp", b.detail.field)
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", timestamp = now + 310 })
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", timestamp = "17000000x0" })
      assert.are.equal(200, sb:request{ target = "/v3/sandbox-test/echo", timestamp = os.time() - 295 }.status)
      assert.are.equal(200, sb:request{ target = "/v3/sandbox-test/echo", timestamp = os.time() + 295 }.status)
    end)

    it("for a nonce used before (a replayed request)", function()
      local nonce, ts = sandbox.nonce(), os.time()
      local first = sb:request{ target = "/v3/sandbox-test/echo", nonce = nonce, timestamp = ts }
      assert.are.equal(200, first.status)
      local b = sign_error(sb:request{ target = "/v3/sandbox-test/echo", nonce = nonce, timestamp = ts })
      assert.are.equal("nonce_str", b.detail.field)
      -- a failed request does not burn its nonce
      local n2 = sandbox.nonce()
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", nonce = n2, signature = "AAAA" })
      assert.are.equal(200, sb:request{ target = "/v3/sandbox-test/echo", nonce = n2 }.status)
    end)

    it("for a missing Authorization, another scheme, or a missing field", function()
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", authorization = false })
      local c = sb.config
      local fields = 'mchid="' .. c.mchid .. '",serial_no="' .. c.serial .. '",timestamp="' .. os.time()
        .. '",nonce_str="' .. sandbox.nonce() .. '",signature="AAAA"'
      sign_error(sb:request{ target = "/v3/sandbox-test/echo", authorization = "WECHATPAY2-SHA256-RSA4096 " .. fields })
      sign_error(sb:request{ target = "/v3/sandbox-test/echo",
        authorization = 'WECHATPAY2-SHA256-RSA2048 mchid="' .. c.mchid .. '",serial_no="' .. c.serial .. '"' })
    end)
  end)

  it("answers 400 INVALID_REQUEST without a User-Agent", function()
    local res = sb:request{ target = "/v3/sandbox-test/echo", user_agent = false }
    assert.are.equal(400, res.status)
    assert.are.equal("INVALID_REQUEST", json.decode(res.body).code)
    assert.is_truthy(res.headers["request-id"])
  end)

  it("answers 404 NOT_FOUND for an unknown path and 405 for another method, unsigned", function()
    local res = sb:request{ target = "/v3/sandbox-test/nothing-here" }
    assert.are.equal(404, res.status)
    assert.are.equal("NOT_FOUND", json.decode(res.body).code)
    assert.is_nil(res.headers["wechatpay-signature"])
    res = sb:request{ method = "DELETE", target = "/v3/sandbox-test/echo" }
    assert.are.equal(405, res.status)
    assert.matches("GET", res.headers["allow"])
  end)

  it("answers 400 PARAM_ERROR for a body that is not JSON", function()
    local res = sb:request{ method = "POST", target = "/v3/sandbox-test/echo", body = "{nope" }
    assert.are.equal(400, res.status)
    assert.are.equal("PARAM_ERROR", json.decode(res.body).code)
  end)

  it("answers handler errors as they are, unsigned, with the internal code in Request-ID", function()
    local res = sb:request{ target = "/v3/sandbox-test/missing" }
    assert.are.equal(404, res.status)
    assert.are.equal("ORDER_NOT_EXIST", json.decode(res.body).code)
    assert.is_nil(res.headers["wechatpay-signature"])
    assert.matches("%-271317510$", res.headers["request-id"])
  end)

  it("answers 500 SYSTEM_ERROR when a handler raises", function()
    local res = sb:request{ target = "/v3/sandbox-test/boom" }
    assert.are.equal(500, res.status)
    assert.are.equal("SYSTEM_ERROR", json.decode(res.body).code)
    assert.matches("boom from the test route", sb:log(), 1, true)
  end)

  describe("GET /v3/certificates", function()
    it("returns the platform certificate encrypted with the APIv3 key, signed with that certificate", function()
      local res = sb:request{ target = "/v3/certificates" }
      assert.are.equal(200, res.status, res.body)
      local b = json.decode(res.body)
      local item = b.data[1]
      assert.are.equal(sb.config.platform_serial, item.serial_no)
      assert.matches("^%x+$", item.serial_no)
      assert.are.equal(40, #item.serial_no)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", item.effective_time)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", item.expire_time)
      local e = item.encrypt_certificate
      assert.are.equal("AEAD_AES_256_GCM", e.algorithm)
      assert.are.equal("certificate", e.associated_data)
      assert.are.equal(12, #e.nonce)
      local pem = assert(core.gcm_decrypt(sb.config.apiv3_key, e.nonce, e.associated_data, e.ciphertext))
      local f = assert(io.open(sb.config.platform_certificate, "rb"))
      local expected = f:read("*a")
      f:close()
      assert.are.equal(expected, pem)
      assert.are.equal(sb.config.platform_serial, res.headers["wechatpay-serial"])
      local ok, out = sb:verify(res)
      assert.is_true(ok, out)
      assert.is_nil(core.gcm_decrypt(string.rep("k", 32), e.nonce, e.associated_data, e.ciphertext))
    end)
  end)

  describe("the request log", function()
    it("records time, method, target, mchid, status and whether the signature verified", function()
      assert.are.equal(204, sb:control("DELETE", "/sandbox/requests"))
      local ok = sb:request{ target = "/v3/sandbox-test/echo?q=1" }
      local bad = sb:request{ target = "/v3/sandbox-test/echo", signature = "AAAA" }
      assert.are.equal(200, ok.status)
      assert.are.equal(401, bad.status)
      local log = sb:requests()
      assert.are.equal(2, #log)
      assert.are.equal("GET", log[1].method)
      assert.are.equal("/v3/sandbox-test/echo?q=1", log[1].target)
      assert.are.equal(sb.config.mchid, log[1].mchid)
      assert.are.equal(200, log[1].status)
      assert.is_true(log[1].sign_ok)
      assert.are.equal(ok.headers["request-id"], log[1].request_id)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT", log[1].time)
      assert.are.equal(401, log[2].status)
      assert.is_false(log[2].sign_ok)
      assert.are.equal("signature", log[2].sign_error)
      -- control requests are not logged
      sb:control("GET", "/sandbox/health")
      assert.are.equal(2, #sb:requests())
      assert.are.equal(204, sb:control("DELETE", "/sandbox/requests"))
      assert.are.equal(0, #sb:requests())
    end)
  end)

  describe("the two workers", function()
    it("share state: a counter incremented through both workers, and a list guarded by with_lock", function()
      local before = json.decode(sb:request{ target = "/v3/sandbox-test/counter" }.body).count
      local pids, n = {}, 0
      local distinct = 0
      for i = 1, 60 do -- every curl run is a new connection; reuseport spreads them over the workers
        local res = sb:request{ method = "POST", target = "/v3/sandbox-test/items/i" .. i .. "/touch", body = "{}" }
        assert.are.equal(200, res.status, res.body)
        local b = json.decode(res.body)
        n = n + 1
        assert.are.equal(before + n, b.count)
        if not pids[b.pid] then
          pids[b.pid] = true
          distinct = distinct + 1
        end
        if distinct >= 2 and i >= 20 then break end
      end
      assert.are.equal(2, distinct)
      local c = json.decode(sb:request{ target = "/v3/sandbox-test/counter" }.body)
      assert.are.equal(before + n, c.count)
      assert.are.equal(before + n, c.listed)
    end)
  end)

  describe("control endpoints", function()
    it("answer health, config (without secrets) and mount extra control routes", function()
      local st, b = sb:control("GET", "/sandbox/health")
      assert.are.equal(200, st)
      assert.are.equal("ok", b.status)
      st, b = sb:control("GET", "/sandbox/config")
      assert.are.equal(200, st)
      assert.are.equal(sb.config.mchid, b.mchid)
      assert.are.equal(sb.config.public_key_id, b.public_key_id)
      assert.are.equal(sb.config.base_uri, b.base_uri)
      assert.is_nil(b.apiv3_key)
      assert.is_nil(b.private_key)
      local _, _, raw = sb:control("GET", "/sandbox/config")
      assert.is_nil(raw:find(sb.config.apiv3_key, 1, true))
      st, b = sb:control("POST", "/sandbox/test/ping", { x = 1 })
      assert.are.equal(200, st)
      assert.is_true(b.pong)
      assert.are.equal(sb.config.mchid, b.mchid)
      st = sb:control("GET", "/sandbox/nothing")
      assert.are.equal(404, st)
      st = sb:control("PUT", "/sandbox/health")
      assert.are.equal(405, st)
    end)

    it("shift the sandbox clock for the protocol and for business rules only", function()
      local st, b = sb:control("POST", "/sandbox/clock", { offset = 1000 })
      assert.are.equal(200, st)
      assert.are.equal(1000, b.offset)
      -- a request stamped with the real clock is now stale
      sign_error(sb:request{ target = "/v3/sandbox-test/echo" })
      local res = sb:request{ target = "/v3/sandbox-test/echo", timestamp = os.time() + 1000 }
      assert.are.equal(200, res.status)
      assert.is_true(math.abs(tonumber(res.headers["wechatpay-timestamp"]) - (os.time() + 1000)) <= 5)
      st, b = sb:control("POST", "/sandbox/clock", { offset = 0, business_offset = 86400 })
      assert.are.equal(200, st)
      assert.are.equal(86400, b.business_offset)
      res = sb:request{ target = "/v3/sandbox-test/echo" }
      assert.are.equal(200, res.status)
      assert.is_true(math.abs(json.decode(res.body).now - (os.time() + 86400)) <= 5)
      assert.is_true(math.abs(tonumber(res.headers["wechatpay-timestamp"]) - os.time()) <= 5)
      sb:control("POST", "/sandbox/clock", { offset = 0, business_offset = 0 })
      st = sb:control("POST", "/sandbox/clock", '{"offset":1.5}')
      assert.are.equal(400, st)
    end)

    it("switch to certificate mode at run time", function()
      assert.are.equal(200, (sb:control("POST", "/sandbox/config", { cert_mode = true })))
      local res = sb:request{ target = "/v3/sandbox-test/echo" }
      assert.are.equal(sb.config.platform_serial, res.headers["wechatpay-serial"])
      assert.is_true((sb:verify(res)))
      assert.are.equal(200, (sb:control("POST", "/sandbox/config", { cert_mode = false })))
      res = sb:request{ target = "/v3/sandbox-test/echo" }
      assert.are.equal(sb.config.public_key_id, res.headers["wechatpay-serial"])
    end)

    it("reset clears state, logs, nonces and faults", function()
      local nonce, ts = sandbox.nonce(), os.time()
      assert.are.equal(200, sb:request{ target = "/v3/sandbox-test/echo", nonce = nonce, timestamp = ts }.status)
      sb:request{ method = "POST", target = "/v3/sandbox-test/items/r/touch", body = "{}" }
      sb:fault{ mode = "probe", match = "/v3/nowhere" }
      sb:reset()
      assert.are.equal(0, #sb:requests())
      local _, f = sb:control("GET", "/sandbox/faults")
      assert.are.equal(0, #f.data)
      local c = json.decode(sb:request{ target = "/v3/sandbox-test/counter" }.body)
      assert.are.equal(0, c.count)
      -- the nonce may be used again after a reset
      assert.are.equal(200, sb:request{ target = "/v3/sandbox-test/echo", nonce = nonce, timestamp = ts }.status)
    end)
  end)
end)

describe("sandbox in certificate mode (SANDBOX_CERT_MODE=1)", function()
  local sb = sandbox.setup{ cert_mode = true, routes = sandbox.TEST_ROUTES }
  if not sb then return end

  it("signs answers with the platform certificate", function()
    assert.is_true(sb.config.cert_mode)
    local res = sb:request{ target = "/v3/sandbox-test/echo" }
    assert.are.equal(200, res.status)
    assert.are.equal(sb.config.platform_serial, res.headers["wechatpay-serial"])
    local ok, out = sb:verify(res)
    assert.is_true(ok, out)
    -- and not with the public key
    local message = res.headers["wechatpay-timestamp"] .. "\n" .. res.headers["wechatpay-nonce"] .. "\n" .. res.body
      .. "\n"
    assert.is_false((sandbox.openssl_verify(sb.config.public_key, message, res.headers["wechatpay-signature"])))
  end)
end)
