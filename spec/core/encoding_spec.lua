-- Strict base64 (RFC 4648 §4) and hex digests, cross-checked with the openssl command line.
local core = require "wechatpay.core"
local openssl = require "spec.support.openssl"

describe("encodings and digests", function()
  local o
  setup(function() o = openssl.new() end)
  teardown(function() o:cleanup() end)

  describe("base64", function()
    local RFC4648 = {
      { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
      { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    }

    it("RFC 4648 test vectors, both ways", function()
      for _, v in ipairs(RFC4648) do
        assert.equal(v[2], core.base64_encode(v[1]))
        assert.equal(v[1], core.base64_decode(v[2]))
      end
    end)

    it("agrees with openssl base64 -A on binary data of many lengths", function()
      for _, n in ipairs({ 1, 2, 3, 31, 32, 33, 256, 1000 }) do
        local data = core.random(n)
        local ours = core.base64_encode(data)
        assert.equal(o:base64(data), ours)
        assert.equal(data, core.base64_decode(ours))
      end
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      all = table.concat(all)
      assert.equal(o:base64(all), core.base64_encode(all))
      assert.equal(all, core.base64_decode(core.base64_encode(all)))
    end)

    it("the decoder is strict: nil and a message naming an offset, not the input", function()
      local bad = {
        "Zm9v!", "Zm9", "Zg=", "Z===", "====", "Zg==Zg==", "Zm=v", "Zh==", "Zm9=",
        "Zm9vYg==\n", "Zm9v\nYmFy", "Zm9v\r\nYmFy", " Zm9v", "Zm9v ", "Zm9v\0", "Zm-_", "Zm9v\t",
      }
      for _, s in ipairs(bad) do
        local out, msg = core.base64_decode(s)
        assert.is_nil(out, s)
        assert.matches("invalid base64", msg)
      end
    end)

    it("non-string arguments raise (no number coercion)", function()
      assert.has_error(function() core.base64_encode(nil) end)
      assert.has_error(function() core.base64_encode(123) end)
      assert.has_error(function() core.base64_decode(123) end)
      assert.has_error(function() core.base64_decode({}) end)
    end)
  end)

  describe("digests", function()
    local inputs = { "", "abc", "binary\0data\255", ("0123456789"):rep(10000) }

    it("sha256_hex equals openssl dgst -sha256 (lower-case hex)", function()
      for _, s in ipairs(inputs) do
        local h = core.sha256_hex(s)
        assert.matches("^[0-9a-f]+$", h)
        assert.equal(64, #h)
        assert.equal(o:digest("sha256", s), h)
      end
    end)

    it("sha1_hex equals openssl dgst -sha1 (lower-case hex)", function()
      for _, s in ipairs(inputs) do
        local h = core.sha1_hex(s)
        assert.matches("^[0-9a-f]+$", h)
        assert.equal(40, #h)
        assert.equal(o:digest("sha1", s), h)
      end
    end)

    it("non-string arguments raise", function()
      assert.has_error(function() core.sha256_hex(nil) end)
      assert.has_error(function() core.sha256_hex(1) end)
      assert.has_error(function() core.sha1_hex(true) end)
    end)
  end)

  describe("module fields", function()
    it("backend and backend_version", function()
      assert.is_truthy(core.backend == "mbedtls" or core.backend == "openssl")
      assert.is_string(core.backend_version)
      assert.is_truthy(#core.backend_version > 0)
      if core.backend == "mbedtls" then assert.matches("^mbed TLS 2%.", core.backend_version) end
    end)
  end)
end)
