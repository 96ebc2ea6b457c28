-- AES-256-GCM (apiv3-protocol §4.1, §9): core.gcm_* and wechatpay.crypto.aes_gcm.
local core = require "wechatpay.core"
local aes_gcm = require "wechatpay.crypto.aes_gcm"

local KEY, IV, AAD = "0123456789abcdef0123456789abcdef", "0123456789ab", "certificate"
local VECTOR = "8cyLViwuyN4D6+jaX5Ea+OGy5PP9" -- §9: "hello"

local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

describe("AES-256-GCM", function()
  describe("known answers", function()
    it("§9 vector: encrypt gives it, decrypt gives hello", function()
      assert.equal(VECTOR, core.gcm_encrypt(KEY, IV, AAD, "hello"))
      assert.equal(VECTOR, aes_gcm.encrypt("hello", KEY, IV, AAD))
      assert.equal(21, #core.base64_decode(VECTOR))
      assert.equal("hello", core.gcm_decrypt(KEY, IV, AAD, VECTOR))
      assert.equal("hello", aes_gcm.decrypt(VECTOR, KEY, IV, AAD))
    end)

    it("McGrew-Viega GCM test case 16 (binary key and IV, 20-byte AAD, 60-byte plaintext)", function()
      local k = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
      local p = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        .. "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
      local a = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
      local iv = unhex("cafebabefacedbaddecaf888")
      local c = unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        .. "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
      local t = unhex("76fc6ece0f4e1768cddf8853bb2d551b")
      assert.equal(core.base64_encode(c .. t), core.gcm_encrypt(k, iv, a, p))
      assert.equal(p, core.gcm_decrypt(k, iv, a, core.base64_encode(c .. t)))
    end)
  end)

  describe("failures give no plaintext", function()
    local function fails(reason, key, iv, aad, ct)
      local pt, msg, why = core.gcm_decrypt(key, iv, aad, ct)
      assert.is_nil(pt)
      assert.is_string(msg)
      assert.is_nil(msg:find("hello", 1, true))
      assert.equal(reason, why)
      local pt2, err = aes_gcm.decrypt(ct, key, iv, aad)
      assert.is_nil(pt2)
      assert.equal(reason == "KEY_LENGTH" and "config" or "crypto", err.kind)
      assert.equal(reason, err.reason)
    end

    it("wrong AAD (transaction), wrong key, wrong IV", function()
      fails("AUTH_FAILED", KEY, IV, "transaction", VECTOR)
      fails("AUTH_FAILED", KEY, IV, "", VECTOR)
      fails("AUTH_FAILED", ("x"):rep(32), IV, AAD, VECTOR)
      fails("AUTH_FAILED", KEY, "0123456789ac", AAD, VECTOR)
    end)

    it("any single altered byte of ciphertext or tag", function()
      local raw = core.base64_decode(VECTOR)
      for i = 1, #raw do
        local altered = raw:sub(1, i - 1) .. string.char((raw:byte(i) + 1) % 256) .. raw:sub(i + 1)
        fails("AUTH_FAILED", KEY, IV, AAD, core.base64_encode(altered))
      end
    end)

    it("the last base64 character removed, bad base64", function()
      fails("BAD_BASE64", KEY, IV, AAD, VECTOR:sub(1, -2))
      fails("BAD_BASE64", KEY, IV, AAD, VECTOR .. "\n")
      fails("BAD_BASE64", KEY, IV, AAD, "!!!!")
    end)

    it("input shorter than the 16-byte tag, empty input", function()
      fails("TOO_SHORT", KEY, IV, AAD, core.base64_encode(("\0"):rep(15)))
      fails("TOO_SHORT", KEY, IV, AAD, "")
      fails("AUTH_FAILED", KEY, IV, AAD, core.base64_encode(("\0"):rep(16)))
    end)

    it("a 31- or 33-byte APIv3 key is a config error naming the length", function()
      fails("KEY_LENGTH", KEY:sub(1, 31), IV, AAD, VECTOR)
      fails("KEY_LENGTH", KEY .. "x", IV, AAD, VECTOR)
      local _, msg = core.gcm_decrypt(KEY:sub(1, 31), IV, AAD, VECTOR)
      assert.equal("APIv3 key must be 32 bytes, got 31", msg)
      local ct, err = aes_gcm.encrypt("hello", KEY:sub(1, 31), IV, AAD)
      assert.is_nil(ct)
      assert.equal("config", err.kind)
      assert.matches("32 bytes, got 31", err.message)
    end)

    it("an empty IV", function()
      fails("BAD_IV", KEY, "", AAD, VECTOR)
    end)
  end)

  describe("round trips", function()
    it("sizes 0..65536, AAD nil equals AAD empty", function()
      for _, n in ipairs({ 0, 1, 15, 16, 17, 255, 1024, 65536 }) do
        local pt = core.random(n)
        local iv = core.nonce():sub(1, 12)
        local ct = aes_gcm.encrypt(pt, KEY, iv, nil)
        assert.equal(math.floor((n + 16 + 2) / 3) * 4, #ct)
        assert.equal(ct, aes_gcm.encrypt(pt, KEY, iv, ""))
        assert.equal(pt, aes_gcm.decrypt(ct, KEY, iv))
        assert.equal(pt, core.gcm_decrypt(KEY, iv, nil, ct))
      end
    end)
  end)

  describe("arguments", function()
    it("non-string arguments raise", function()
      assert.has_error(function() core.gcm_decrypt(nil, IV, AAD, VECTOR) end)
      assert.has_error(function() core.gcm_decrypt(KEY, 12, AAD, VECTOR) end)
      assert.has_error(function() core.gcm_decrypt(KEY, IV, {}, VECTOR) end)
      assert.has_error(function() core.gcm_decrypt(KEY, IV, AAD, nil) end)
      assert.has_error(function() core.gcm_encrypt(KEY, IV, AAD, nil) end)
      assert.has_error(function() core.gcm_encrypt(KEY:sub(1, 31), IV, AAD, nil) end)
      assert.has_error(function() aes_gcm.decrypt(nil, KEY, IV, AAD) end)
      assert.has_error(function() aes_gcm.encrypt("x", KEY, nil, AAD) end)
      assert.has_error(function() aes_gcm.encrypt("x", KEY, IV, 5) end)
    end)
  end)
end)
