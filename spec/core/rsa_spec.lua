-- RSASSA-PKCS1-v1_5/SHA-256 and RSAES-OAEP/SHA-1 (apiv3-protocol §1.1, §2, §4.2, §9), cross-checked
-- against the openssl command line with one openssl-generated key.
local core = require "wechatpay.core"
local rsa = require "wechatpay.crypto.rsa"
local openssl = require "spec.support.openssl"

local MESSAGES = {
  "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n",
  "POST\n/v3/pay/transactions/native?a=1\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"mchid\":\"1900006XXX\"}\n",
  "",
  "binary\0with\0NULs\255\254\n",
  ("POST\n/v3/payscore/serviceorder\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n" .. ("x"):rep(600) .. "\n"),
}

describe("RSA", function()
  local o, k, key, pub, cert_pub

  setup(function()
    o = openssl.new()
    k = o:keyset("rsa")
    key = assert(core.key_load(k.pkcs8_pem))
    pub = assert(core.key_load(k.spki_pem, "public"))
    cert_pub = assert(core.key_load(k.cert_pem, "public"))
  end)
  teardown(function() o:cleanup() end)

  local function b64_bytes(raw) return core.base64_encode(raw) end

  describe("core.sign", function()
    for i = 1, #MESSAGES do
      it("message " .. i .. ": byte-identical to openssl dgst -sha256 -sign, 344 chars ending in ==", function()
        local sig = core.sign(key, MESSAGES[i])
        assert.equal(o:sign(k.key_path, MESSAGES[i]), sig)
        assert.equal(344, #sig)
        assert.matches("^[A-Za-z0-9+/]+==$", sig)
      end)
    end

    it("our signatures verify with openssl dgst -verify (SPKI and certificate)", function()
      for i = 1, 2 do
        local sig = core.sign(key, MESSAGES[i])
        assert.is_true((o:verify(k.pub_path, MESSAGES[i], sig)))
        assert.is_false((o:verify(k.pub_path, MESSAGES[i] .. " ", sig)))
      end
    end)

    it("is deterministic and still PKCS#1 v1.5 after OAEP operations on the same key", function()
      local before = core.sign(key, MESSAGES[1])
      local ct = assert(core.oaep_encrypt(key, "x"))
      assert.equal("x", core.oaep_decrypt(key, ct))
      assert.equal(before, core.sign(key, MESSAGES[1]))
      assert.equal(o:sign(k.key_path, MESSAGES[1]), core.sign(key, MESSAGES[1]))
    end)

    it("a public key cannot sign", function()
      local sig, msg = core.sign(pub, "x")
      assert.is_nil(sig)
      assert.matches("private key", msg)
    end)

    it("non-string message raises", function()
      assert.has_error(function() core.sign(key, nil) end)
      assert.has_error(function() core.sign(key, 12) end)
    end)
  end)

  describe("core.verify", function()
    local sig
    before_each(function() sig = o:sign(k.key_path, MESSAGES[2]) end)

    it("accepts openssl's signature with the SPKI key, the certificate key and the private key", function()
      assert.is_true(core.verify(pub, MESSAGES[2], sig))
      assert.is_true(core.verify(cert_pub, MESSAGES[2], sig))
      assert.is_true(core.verify(key, MESSAGES[2], sig))
    end)

    local function fails(reason, s, msg)
      local ok, why = core.verify(pub, msg or MESSAGES[2], s)
      assert.is_false(ok)
      assert.equal(reason, why)
    end

    it("a probe signature (WECHATPAY/SIGNTEST/...) is SIGNATURE_PROBE, never an error", function()
      fails("SIGNATURE_PROBE", "WECHATPAY/SIGNTEST/")
      fails("SIGNATURE_PROBE", "WECHATPAY/SIGNTEST/" .. sig:sub(20))   -- same length as a real one
      fails("SIGNATURE_PROBE", "WECHATPAY/SIGNTEST/abc==")
      fails("SIGNATURE_PROBE", "WECHATPAY/SIGNTEST/" .. ("A"):rep(5000))
    end)

    it("bad base64, a wrong length or an empty string is SIGNATURE_MALFORMED", function()
      fails("SIGNATURE_MALFORMED", "")
      fails("SIGNATURE_MALFORMED", sig:sub(1, -2))               -- truncated base64
      fails("SIGNATURE_MALFORMED", sig:sub(1, -5))               -- valid base64 of 253 bytes
      fails("SIGNATURE_MALFORMED", "!" .. sig:sub(2))
      fails("SIGNATURE_MALFORMED", sig:sub(1, 64) .. "\n" .. sig:sub(65))
      fails("SIGNATURE_MALFORMED", " " .. sig)
      fails("SIGNATURE_MALFORMED", b64_bytes(("\1"):rep(255)))
      fails("SIGNATURE_MALFORMED", b64_bytes(("\1"):rep(257)))
      fails("SIGNATURE_MALFORMED", b64_bytes(("\1"):rep(512)))
      fails("SIGNATURE_MALFORMED", ("A"):rep(10000))
    end)

    it("a well-formed wrong signature is SIGNATURE_MISMATCH", function()
      fails("SIGNATURE_MISMATCH", sig, MESSAGES[1])
      local raw = core.base64_decode(sig)
      local flipped = raw:sub(1, 100) .. string.char((raw:byte(101) + 1) % 256) .. raw:sub(102)
      fails("SIGNATURE_MISMATCH", b64_bytes(flipped))
      fails("SIGNATURE_MISMATCH", b64_bytes(("\0"):rep(256)))
      fails("SIGNATURE_MISMATCH", b64_bytes(("\255"):rep(256)))   -- larger than the modulus
      -- the probe prefix is case-sensitive: this one is just well-formed base64 of 256 bytes
      fails("SIGNATURE_MISMATCH", "wechatpay/signtest/" .. sig:sub(20))
    end)

    it("non-string arguments raise", function()
      assert.has_error(function() core.verify(pub, MESSAGES[2], nil) end)
      assert.has_error(function() core.verify(pub, nil, sig) end)
      assert.has_error(function() core.verify(pub, MESSAGES[2], 1) end)
    end)
  end)

  describe("RSA-OAEP", function()
    it("openssl pkeyutl ciphertexts decrypt with our key", function()
      for _, pt in ipairs({ "a", "张三", ("x"):rep(214), "\0\1\2" }) do
        assert.equal(pt, core.oaep_decrypt(key, o:oaep_encrypt(k.pub_path, pt)))
      end
    end)

    it("our ciphertexts decrypt with openssl pkeyutl (SPKI, PKCS#1 public, certificate, private key)", function()
      for _, kk in ipairs({ pub, assert(core.key_load(k.pub_pkcs1_pem, "public")), cert_pub, key }) do
        local ct = assert(core.oaep_encrypt(kk, "13800138000"))
        assert.equal(344, #ct)
        assert.equal("13800138000", o:oaep_decrypt(k.key_path, ct))
      end
    end)

    it("214 bytes are accepted (both directions), 215 refused", function()
      local pt = ("\200"):rep(214)
      local ct = assert(core.oaep_encrypt(pub, pt))
      assert.equal(pt, o:oaep_decrypt(k.key_path, ct))
      assert.equal(pt, core.oaep_decrypt(key, ct))
      local none, msg, reason = core.oaep_encrypt(pub, pt .. "x")
      assert.is_nil(none)
      assert.matches("215", msg)
      assert.matches("214", msg)
      assert.equal("PLAINTEXT_TOO_LONG", reason)
    end)

    it("is randomised, and the empty plaintext round-trips", function()
      local a, b = core.oaep_encrypt(pub, "same"), core.oaep_encrypt(pub, "same")
      assert.not_equal(a, b)
      assert.equal("same", core.oaep_decrypt(key, a))
      assert.equal("same", core.oaep_decrypt(key, b))
      assert.equal("", core.oaep_decrypt(key, core.oaep_encrypt(pub, "")))
    end)

    it("PKCS#1 v1.5 encryption is refused (an openssl v1.5 ciphertext does not decrypt)", function()
      local pf = o:write(o:tmpname(".pt"), "hello")
      local cf = o:tmpname(".ct")
      o:run(("openssl pkeyutl -encrypt -pubin -inkey %s -pkeyopt rsa_padding_mode:pkcs1 -in %s -out %s")
        :format(k.pub_path, pf, cf))
      local pt, msg, reason = core.oaep_decrypt(key, core.base64_encode(o:read(cf)))
      assert.is_nil(pt)
      assert.is_string(msg)
      assert.equal("DECRYPT_FAILED", reason)
    end)

    it("bad ciphertexts: nil, message, reason", function()
      local ct = core.oaep_encrypt(pub, "secret")
      local raw = core.base64_decode(ct)
      local cases = {
        { "BAD_BASE64", "not base64!" },
        { "BAD_BASE64", ct:sub(1, -2) },
        { "BAD_LENGTH", core.base64_encode(raw:sub(1, 255)) },
        { "BAD_LENGTH", "" },
        { "BAD_LENGTH", ("A"):rep(2000) },
        { "DECRYPT_FAILED",
          core.base64_encode(raw:sub(1, 10) .. string.char((raw:byte(11) + 1) % 256) .. raw:sub(12)) },
      }
      for _, c in ipairs(cases) do
        local pt, msg, reason = core.oaep_decrypt(key, c[2])
        assert.is_nil(pt)
        assert.is_string(msg)
        assert.is_nil(msg:find("secret", 1, true))
        assert.equal(c[1], reason)
      end
    end)

    it("a public key cannot decrypt", function()
      local pt, msg = core.oaep_decrypt(pub, core.oaep_encrypt(pub, "x"))
      assert.is_nil(pt)
      assert.matches("private key", msg)
    end)
  end)

  describe("wechatpay.crypto.rsa (PHP-SDK shape)", function()
    it("sign / verify with key objects and with key strings", function()
      local sig = assert(rsa.sign(MESSAGES[1], key))
      assert.equal(o:sign(k.key_path, MESSAGES[1]), sig)
      assert.equal(sig, rsa.sign(MESSAGES[1], "file://" .. k.key_path))
      assert.is_true(rsa.verify(MESSAGES[1], sig, pub))
      assert.is_true(rsa.verify(MESSAGES[1], sig, k.cert_pem))
      local ok, reason = rsa.verify(MESSAGES[2], sig, pub)
      assert.is_false(ok)
      assert.equal("SIGNATURE_MISMATCH", reason)
      ok, reason = rsa.verify(MESSAGES[1], "WECHATPAY/SIGNTEST/xyz", pub)
      assert.is_false(ok)
      assert.equal("SIGNATURE_PROBE", reason)
      ok, reason = rsa.verify(MESSAGES[1], "@@@", pub)
      assert.is_false(ok)
      assert.equal("SIGNATURE_MALFORMED", reason)
    end)

    it("a key that does not parse is a config error; a public key cannot sign", function()
      local sig, err = rsa.sign("x", "garbage")
      assert.is_nil(sig)
      assert.equal("config", err.kind)
      sig, err = rsa.sign("x", pub)
      assert.is_nil(sig)
      assert.equal("usage", err.kind)
      local ok, verr = rsa.verify("x", "AAAA", "garbage")
      assert.is_false(ok)
      assert.equal("config", verr.kind)
    end)

    it("encrypt / decrypt; over 214 bytes is a usage error; bad ciphertext a crypto error", function()
      local ct = assert(rsa.encrypt("13800138000", pub))
      assert.equal("13800138000", rsa.decrypt(ct, key))
      assert.equal("13800138000", o:oaep_decrypt(k.key_path, ct))
      assert.equal("13800138000", rsa.decrypt(o:oaep_encrypt(k.pub_path, "13800138000"), "file://" .. k.key_path))
      assert(rsa.encrypt(("a"):rep(214), k.spki_pem))
      local none, err = rsa.encrypt(("a"):rep(215), pub)
      assert.is_nil(none)
      assert.equal("usage", err.kind)
      assert.matches("214", err.message)
      local pt, derr = rsa.decrypt("bad", key)
      assert.is_nil(pt)
      assert.equal("crypto", derr.kind)
      assert.equal("BAD_BASE64", derr.reason)
      pt, derr = rsa.decrypt(ct:sub(1, 10) .. (ct:sub(11, 11) == "A" and "B" or "A") .. ct:sub(12), key)
      assert.is_nil(pt)
      assert.equal("crypto", derr.kind)
      assert.equal("DECRYPT_FAILED", derr.reason)
    end)

    it("non-string arguments raise", function()
      assert.has_error(function() rsa.sign(nil, key) end)
      assert.has_error(function() rsa.verify("x", nil, pub) end)
      assert.has_error(function() rsa.encrypt(42, pub) end)
      assert.has_error(function() rsa.decrypt(false, key) end)
      assert.has_error(function() rsa.serial(nil) end)
    end)
  end)
end)
