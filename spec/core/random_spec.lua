-- Random bytes and nonces (apiv3-protocol §1.3): format, uniqueness, no modulo bias, and
-- fork safety (two children of one parent never share a stream).
local core = require "wechatpay.core"
local openssl = require "spec.support.openssl"

describe("random", function()
  describe("core.random", function()
    it("returns n bytes, 0 <= n <= 1 MiB", function()
      assert.equal("", core.random(0))
      assert.equal(1, #core.random(1))
      assert.equal(1000, #core.random(1000))
      assert.equal(1048576, #core.random(1048576))
    end)
    it("two draws differ", function()
      assert.not_equal(core.random(32), core.random(32))
    end)
    it("refuses negative, too large and non-numeric sizes", function()
      assert.has_error(function() core.random(-1) end)
      assert.has_error(function() core.random(1048577) end)
      assert.has_error(function() core.random("x") end)
      assert.has_error(function() core.random() end)
    end)
    it("bytes are spread over all 256 values", function()
      local seen, n = {}, 0
      for c in core.random(16384):gmatch(".") do
        if not seen[c] then seen[c] = true; n = n + 1 end
      end
      assert.equal(256, n)
    end)
  end)

  describe("core.nonce", function()
    local N = 10000
    local nonces

    setup(function()
      nonces = {}
      local nonce = core.nonce
      for i = 1, N do nonces[i] = nonce() end
    end)

    it("10,000 nonces all match ^[0-9A-Za-z]{32}$", function()
      for i = 1, N do
        local s = nonces[i]
        assert(#s == 32 and not s:find("[^0-9A-Za-z]"), s)
      end
    end)

    it("10,000 nonces have no duplicates", function()
      local seen = {}
      for i = 1, N do
        assert(not seen[nonces[i]], "duplicate nonce " .. nonces[i])
        seen[nonces[i]] = true
      end
    end)

    it("every character is used about equally, and 0-7 are not favoured (no byte % 62 bias)", function()
      local counts = {}
      for i = 1, N do
        for c in nonces[i]:gmatch(".") do counts[c] = (counts[c] or 0) + 1 end
      end
      local alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
      local expected = N * 32 / 62 -- ~5161, standard deviation ~71
      local low, high = 0, 0
      for i = 1, 62 do
        local c = alphabet:sub(i, i)
        local n = counts[c] or 0
        assert(n > expected * 0.85 and n < expected * 1.15, ("character %s seen %d times"):format(c, n))
        if i <= 8 then low = low + n else high = high + n end
      end
      -- A biased mapping of every byte with % 62 makes '0'..'7' 25% more frequent (5/256 vs 4/256).
      local ratio = (low / 8) / (high / 54)
      assert(ratio > 0.95 and ratio < 1.05, ("'0'-'7' ratio %.3f"):format(ratio))
    end)
  end)

  describe("fork safety", function()
    local o, bin, cpath

    setup(function()
      o = openssl.new()
      local _, root = openssl.sh("pwd") -- busted runs from the repository root
      root = root:gsub("%s+$", "")
      local libs = jit and "-I/usr/include/luajit-2.1 -lluajit-5.1" or "-I/usr/include/lua5.4 -llua5.4"
      local ok, flags = openssl.sh("pkg-config --cflags --libs " .. (jit and "luajit" or "lua5.4"))
      if ok then libs = flags:gsub("%s+$", "") end
      bin = o:path(jit and "forktest-luajit" or "forktest-lua5.4")
      -- built and linked against the library of the interpreter running this spec; cc itself
      -- runs without the sanitizer preload of `make asan`
      o:run(("env -u LD_PRELOAD cc -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -o %s %s %s")
        :format(openssl.quote(bin), openssl.quote(root .. "/spec/support/forktest.c"), libs))
      -- the module the spec itself loaded (relative entries made absolute)
      cpath = (";" .. package.cpath):gsub(";%./", ";" .. root .. "/"):sub(2)
    end)
    teardown(function() o:cleanup() end)

    it("two children forked after the parent drew random bytes produce different streams", function()
      local out = o:run(("%s %s 2 4"):format(openssl.quote(bin), openssl.quote(cpath)))
      local lines = {}
      for who, rest in out:gmatch("(%w+) ([^\n]+)") do lines[who] = rest end
      assert.is_string(lines.child1, out)
      assert.is_string(lines.child2, out)
      assert.is_string(lines.parent, out)
      assert.not_equal(lines.child1, lines.child2)
      assert.not_equal(lines.child1, lines.parent)
      assert.not_equal(lines.child2, lines.parent)
      -- not one nonce or random block shared between the three processes
      local seen = {}
      for _, who in ipairs({ "child1", "child2", "parent" }) do
        local n = 0
        for word in lines[who]:gmatch("%S+") do
          assert(not seen[word], "shared across processes: " .. word)
          seen[word] = true
          n = n + 1
        end
        assert.equal(5, n)
      end
    end)
  end)
end)
