-- Key forms of apiv3-protocol §3.1/§3.2 (core.key_load, core.cert_serial, rsa.from, rsa.serial).
-- Every form is derived from one openssl-generated key, and every private form must give the
-- byte-identical signature of `openssl dgst -sha256 -sign` (§9).
local core = require "wechatpay.core"
local openssl = require "spec.support.openssl"

local MSG = "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"

describe("core.key_load", function()
  local o, k, ref, ec, small

  setup(function()
    o = openssl.new()
    k = o:keyset("rsa")
    ref = o:sign(k.key_path, MSG)
    ec = o:ec_key()
    small = o:keyset("small", 1024)
  end)
  teardown(function() o:cleanup() end)

  -- The base64 body of a PEM text, without armour and line breaks.
  local function body(pem)
    return (pem:gsub("%-%-%-%-%-[^\n]*%-%-%-%-%-", ""):gsub("[^%w+/=]", ""))
  end

  -- A message must not contain the passphrase, any 16 characters of the key's base64, a long hex
  -- run, or binary bytes. (Windows are taken from the message's own base64-alphabet runs: cheap
  -- under valgrind.)
  local function assert_no_key_bytes(msg)
    assert.is_string(msg)
    assert.is_nil(msg:find(k.pass, 1, true), "passphrase in message: " .. msg)
    assert.is_nil(msg:find("[%z\1-\8\11-\31\127-\255]"), "binary bytes in message")
    assert.is_nil(msg:find(("%x"):rep(32)), "long hex run in message: " .. msg)
    local secrets = { body(k.pkcs8_pem), body(k.pkcs1_pem), body(k.enc_pem), k.pkcs8_b64, k.pkcs1_b64 }
    for run in msg:gmatch("[%w+/=]+") do
      for i = 1, #run - 15 do
        local w = run:sub(i, i + 15)
        for _, secret in ipairs(secrets) do
          assert.is_nil(secret:find(w, 1, true), "key bytes in message: " .. msg)
        end
      end
    end
  end

  local function refused(pattern, ...)
    local key, msg = core.key_load(...)
    assert.is_nil(key)
    assert.is_string(msg)
    if pattern then assert.matches(pattern, msg) end
    assert_no_key_bytes(msg)
    return msg
  end

  describe("private key forms (§3.1)", function()
    local forms = {
      { "PEM PKCS#8", function() return k.pkcs8_pem end },
      { "PEM PKCS#1", function() return k.pkcs1_pem end },
      { "PEM encrypted PKCS#8 (PBES2 AES-256-CBC)", function() return k.enc_pem, k.pass end },
      { "file:// PKCS#8", function() return "file://" .. k.key_path end },
      { "file:// PKCS#1", function() return "file://" .. k.pkcs1_path end },
      { "file:// encrypted PKCS#8", function() return "file://" .. k.enc_path, k.pass end },
      { "private.pkcs1:// bare base64", function() return "private.pkcs1://" .. k.pkcs1_b64 end },
      { "private.pkcs8:// bare base64", function() return "private.pkcs8://" .. k.pkcs8_b64 end },
      { "PEM with CRLF line ends", function() return (k.pkcs8_pem:gsub("\n", "\r\n")) end },
      { "PEM inside other text", function()
        return "Bag Attributes\n    friendlyName: x\n" .. k.pkcs1_pem .. "\n\n"
      end },
      { "PEM without final newline", function() return (k.pkcs8_pem:gsub("%s+$", "")) end },
    }
    for _, f in ipairs(forms) do
      it(f[1] .. ": loads and signs byte-identically to openssl dgst -sha256 -sign", function()
        local input, pass = f[2]()
        local key, err = core.key_load(input, "private", pass)
        assert.is_nil(err)
        assert.equal("private", key:kind())
        assert.equal(2048, key:bits())
        assert.equal("wechatpay.key (private, 2048-bit RSA)", tostring(key))
        assert.equal(ref, core.sign(key, MSG))
      end)
    end

    it("encrypted PKCS#8 variants: AES-128/192-CBC, PRF hmacWithSHA1/SHA512, 3DES", function()
      for _, v in ipairs({ "-v2 aes-128-cbc -v2prf hmacWithSHA1", "-v2 aes-192-cbc -v2prf hmacWithSHA512",
                           "-v2 des3", "-v2 aes-256-cbc -iter 1" }) do
        local out = o:tmpname(".pem")
        o:run(("openssl pkcs8 -topk8 %s -in %s -passout pass:pw123 -out %s"):format(v, k.key_path, out))
        local key, err = core.key_load(o:read(out), "private", "pw123")
        assert(key, v .. ": " .. tostring(err))
        assert.equal(ref, core.sign(key, MSG))
        assert.is_nil(core.key_load(o:read(out), "private", "pw124"))
      end
    end)

    it("kind defaults to private", function()
      assert.equal("private", assert(core.key_load(k.pkcs8_pem)):kind())
    end)

    it("a passphrase given for an unencrypted key is ignored", function()
      assert.equal(ref, core.sign(assert(core.key_load(k.pkcs8_pem, "private", "unused")), MSG))
    end)
  end)

  describe("public key forms (§3.2)", function()
    local forms = {
      { "PEM SPKI", function() return k.spki_pem end },
      { "PEM PKCS#1 public", function() return k.pub_pkcs1_pem end },
      { "X.509 certificate", function() return k.cert_pem end },
      { "file:// SPKI", function() return "file://" .. k.pub_path end },
      { "file:// PKCS#1 public", function() return "file://" .. k.pub_pkcs1_path end },
      { "file:// certificate", function() return "file://" .. k.cert_path end },
      { "public.pkcs1:// bare base64", function() return "public.pkcs1://" .. k.pub_pkcs1_b64 end },
      { "public.spki:// bare base64", function() return "public.spki://" .. k.spki_b64 end },
    }
    for _, f in ipairs(forms) do
      it(f[1] .. ": loads and verifies openssl's signature", function()
        local pub, err = core.key_load(f[2](), "public")
        assert.is_nil(err)
        assert.equal("public", pub:kind())
        assert.equal(2048, pub:bits())
        assert.equal("wechatpay.key (public, 2048-bit RSA)", tostring(pub))
        assert.is_true(core.verify(pub, MSG, ref))
        local ok, reason = core.verify(pub, MSG .. "x", ref)
        assert.is_false(ok)
        assert.equal("SIGNATURE_MISMATCH", reason)
      end)
    end
  end)

  describe("bad input: nil and a clear message, never key bytes", function()
    it("(the key-bytes check itself catches a leaked fragment, binary bytes and the passphrase)", function()
      assert.has_error(function() assert_no_key_bytes("bad key near " .. k.pkcs1_b64:sub(301, 330) .. ".") end)
      assert.has_error(function() assert_no_key_bytes("bad key: " .. core.base64_decode(k.pkcs1_b64):sub(9, 20)) end)
      assert.has_error(function() assert_no_key_bytes("wrong passphrase " .. k.pass) end)
      assert_no_key_bytes("private key: wrong passphrase or corrupt key")
    end)
    it("empty string", function()
      refused("private key", "")
      refused("public key", "", "public")
    end)
    it("garbage", function()
      refused("unrecognised", "this is not a key")
      refused(nil, "-----BEGIN PRIVATE KEY-----\nnot base64 at all!!\n-----END PRIVATE KEY-----\n")
      refused(nil, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "public")
      refused(nil, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "public")
    end)
    it("an unsupported PEM block", function()
      refused("unsupported PEM", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    end)
    it("truncated PEM (no END line)", function()
      refused("truncated", k.pkcs8_pem:sub(1, 900))
    end)
    it("PEM with a line of its base64 body removed", function()
      local lines = {}
      for line in k.pkcs8_pem:gmatch("[^\n]+") do lines[#lines + 1] = line end
      table.remove(lines, 10)
      refused("private key", table.concat(lines, "\n") .. "\n")
    end)
    it("PEM with a corrupted body", function()
      local pem = k.pkcs1_pem:gsub("\n(....)", "\n!%1", 1)
      refused("private key", pem)
    end)
    it("truncated bare base64", function()
      refused("base64", "private.pkcs8://" .. k.pkcs8_b64:sub(1, 1001))  -- not a multiple of 4
      refused("private key", "private.pkcs8://" .. k.pkcs8_b64:sub(1, 1000)) -- valid base64, truncated DER
      refused("private key", "private.pkcs1://" .. k.pkcs1_b64:sub(1, 800))
      refused("public key", "public.spki://" .. k.spki_b64:sub(1, 200), "public")
    end)
    it("bare base64 with a line break, a space or no data", function()
      refused("line break", "private.pkcs8://" .. k.pkcs8_b64:sub(1, 64) .. "\n" .. k.pkcs8_b64:sub(65))
      refused("base64", "private.pkcs8://" .. k.pkcs8_b64 .. " ")
      refused("private key", "private.pkcs8://")
    end)
    it("bare base64 without a scheme", function()
      refused("private key", k.pkcs8_b64)
    end)
    it("an EC key (PKCS#8, SEC1, SPKI, certificate)", function()
      refused("not RSA", ec.pem)
      refused("not RSA", ec.sec1)
      refused("not RSA", ec.pub, "public")
      refused("not RSA", ec.cert, "public")
    end)
    it("a 1024-bit RSA key, private and public", function()
      local msg = refused("1024", small.pkcs8_pem)
      assert.matches("2048", msg)
      refused("1024%-bit", small.pkcs1_pem)
      refused("1024%-bit", "private.pkcs8://" .. small.pkcs8_b64)
      refused("1024%-bit", small.spki_pem, "public")
      refused("1024%-bit", small.cert_pem, "public")
    end)
    it("a 3072-bit RSA key (2048 only)", function()
      local path = o:tmpname(".pem")
      o:run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out " .. path)
      refused("3072%-bit RSA, 2048 required", "file://" .. path)
    end)
    it("a missing file:// path names the path and the reason", function()
      local msg = refused("cannot open", "file:///nonexistent/dir/apiclient_key.pem")
      assert.matches("file:///nonexistent/dir/apiclient_key.pem", msg, 1, true)
      assert.matches("No such file or directory", msg, 1, true)
    end)
    it("a relative file:// path, a directory, an empty path", function()
      refused("absolute", "file://relative/key.pem")
      refused("regular file", "file:///tmp")
      refused("private key", "file://")
      refused("NUL", "file:///tmp/x\0y")
    end)
    it("a file that holds no key", function()
      local path = o:write(o:tmpname(".txt"), "hello\n")
      refused("unrecognised", "file://" .. path)
    end)
    it("a wrong passphrase", function()
      refused("wrong passphrase", k.enc_pem, "private", "not the passphrase")
      refused("wrong passphrase", "file://" .. k.enc_path, "private", "x")
    end)
    it("a missing passphrase", function()
      refused("passphrase", k.enc_pem)
      refused("passphrase", k.enc_pem, "private", "")
    end)
    it("a public key where a private key is expected, and the reverse", function()
      refused("private key", k.spki_pem)
      refused("private key", k.cert_pem)
      refused("public key", k.pkcs8_pem, "public")
      refused("public key", "private.pkcs8://" .. k.pkcs8_b64, "public")
      refused("private key", "public.spki://" .. k.spki_b64)
    end)
    it("a NUL byte inside the PEM", function()
      refused("private key", k.pkcs8_pem:sub(1, 100) .. "\0" .. k.pkcs8_pem:sub(101))
    end)
  end)

  describe("arguments", function()
    it("non-string input, kind or passphrase raises", function()
      assert.has_error(function() core.key_load() end)
      assert.has_error(function() core.key_load(42) end)
      assert.has_error(function() core.key_load({}) end)
      assert.has_error(function() core.key_load(k.pkcs8_pem, 1) end)
      assert.has_error(function() core.key_load(k.pkcs8_pem, "secret") end)
      assert.has_error(function() core.key_load(k.enc_pem, "private", 1234) end)
    end)
  end)

  describe("key objects", function()
    it("__gc frees once and is safe to run twice; a freed key raises on use", function()
      local key = assert(core.key_load(k.pkcs8_pem))
      local gc = getmetatable(key).__gc
      gc(key)
      gc(key)
      assert.equal("wechatpay.key (freed)", tostring(key))
      assert.has_error(function() key:bits() end)
      assert.has_error(function() core.sign(key, "x") end)
    end)
    it("many keys and failed loads are collected without trouble", function()
      for _ = 1, 20 do
        assert(core.key_load(k.pkcs1_pem))
        assert.is_nil(core.key_load(k.enc_pem, "private", "wrong"))
        assert.is_nil(core.key_load("file:///nonexistent"))
      end
      collectgarbage()
      collectgarbage()
    end)
    it("sign and verify reject other userdata and tables", function()
      assert.has_error(function() core.sign(io.stdout, "x") end)
      assert.has_error(function() core.sign({}, "x") end)
      assert.has_error(function() core.verify("key", "x", "y") end)
    end)
  end)

  describe("core.cert_serial", function()
    it("equals openssl x509 -serial, from PEM and from file://", function()
      assert.equal(k.cert_serial, core.cert_serial(k.cert_pem))
      assert.equal(k.cert_serial, core.cert_serial("file://" .. k.cert_path))
      assert.matches("^%x+$", k.cert_serial)
    end)
    it("a serial whose first byte has the high bit set (DER sign byte) and a one-byte serial", function()
      local pem, path = o:cert_with_serial(k.key_path, "8A1B2C3D4E5F60718293")
      assert.equal(o:cert_serial(path), core.cert_serial(pem))
      assert.equal("8A1B2C3D4E5F60718293", core.cert_serial(pem))
      local pem1, path1 = o:cert_with_serial(k.key_path, "01")
      assert.equal(o:cert_serial(path1), core.cert_serial(pem1))
    end)
    it("refuses what is not a certificate", function()
      for _, bad in ipairs({ "", "garbage", k.spki_pem, "file:///nonexistent.pem",
                             "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }) do
        local s, msg = core.cert_serial(bad)
        assert.is_nil(s)
        assert.matches("certificate", msg)
      end
      assert.has_error(function() core.cert_serial(nil) end)
    end)
  end)

  describe("rsa.from / rsa.serial", function()
    local rsa = require "wechatpay.crypto.rsa"
    it("loads private (default) and public keys, returns a key object as is", function()
      local key = assert(rsa.from("file://" .. k.key_path))
      assert.equal("private", key:kind())
      assert.equal(key, rsa.from(key))
      assert.equal(key, rsa.from(key, "public"))
      assert.equal("public", assert(rsa.from(k.cert_pem, "public")):kind())
      assert.equal("private", assert(rsa.from(k.enc_pem, "private", k.pass)):kind())
      assert.is_true(rsa.is_key(key))
      assert.is_false(rsa.is_key(io.stdout))
      assert.is_false(rsa.is_key("x"))
    end)
    it("a key that cannot be parsed is a config error", function()
      local key, err = rsa.from(ec.pem)
      assert.is_nil(key)
      assert.equal("config", err.kind)
      assert.matches("not RSA", err.message)
      assert.matches("not RSA", tostring(err))
      key, err = rsa.from(k.enc_pem, "private", "wrong")
      assert.is_nil(key)
      assert.equal("config", err.kind)
    end)
    it("wrong argument types raise", function()
      assert.has_error(function() rsa.from(42) end)
      assert.has_error(function() rsa.from(nil) end)
      assert.has_error(function() rsa.from(k.pkcs8_pem, "secret") end)
      assert.has_error(function() rsa.from(k.enc_pem, "private", 1) end)
    end)
    it("rsa.serial", function()
      assert.equal(k.cert_serial, rsa.serial(k.cert_pem))
      local s, err = rsa.serial("nope")
      assert.is_nil(s)
      assert.equal("config", err.kind)
    end)
  end)
end)
