-- The entry module (lazy fields) and wechatpay.crypto.formatter (apiv3-protocol §1, §9).
describe("require 'wechatpay'", function()
  it("is cheap: VERSION only, the rest loads on first use", function()
    package.loaded["wechatpay"] = nil
    package.loaded["wechatpay.crypto.rsa"] = nil
    package.loaded["wechatpay.crypto.aes_gcm"] = nil
    package.loaded["wechatpay.crypto.formatter"] = nil
    local wechatpay = require "wechatpay"
    assert.equal("0.1.0", wechatpay.VERSION)
    assert.is_nil(rawget(wechatpay, "rsa"))
    assert.is_nil(package.loaded["wechatpay.crypto.rsa"])
    assert.is_nil(package.loaded["wechatpay.crypto.formatter"])
    assert.equal(require "wechatpay.crypto.rsa", wechatpay.rsa)
    assert.equal(wechatpay.rsa, rawget(wechatpay, "rsa"))
  end)

  it("exposes rsa, aes_gcm, formatter, json, errors, crypto_backend", function()
    local wechatpay = require "wechatpay"
    assert.equal(require "wechatpay.crypto.rsa", wechatpay.rsa)
    assert.equal(require "wechatpay.crypto.aes_gcm", wechatpay.aes_gcm)
    assert.equal(require "wechatpay.crypto.formatter", wechatpay.formatter)
    assert.equal(require "wechatpay.codec.json", wechatpay.json)
    assert.equal(require "wechatpay.errors", wechatpay.errors)
    assert.equal(require("wechatpay.core").backend, wechatpay.crypto_backend)
    assert.is_nil(wechatpay.no_such_field)
  end)

  it("new and all come from wechatpay.client", function()
    local ok, client = pcall(require, "wechatpay.client")
    if not ok then
      pending("wechatpay.client does not load yet: " .. tostring(client))
      return
    end
    local wechatpay = require "wechatpay"
    assert.is_function(wechatpay.new)
    assert.equal(client.new, wechatpay.new)
    assert.is_function(wechatpay.all)
    assert.equal(client.all, wechatpay.all)
  end)
end)

describe("wechatpay.crypto.formatter", function()
  local formatter = require "wechatpay.crypto.formatter"
  local TS, NONCE = "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242"

  it("request: the two example messages of §1.1, byte for byte", function()
    assert.equal("GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n",
      formatter.request("GET", "/v3/certificates", TS, NONCE, ""))
    assert.equal("GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n",
      formatter.request("GET", "/v3/certificates", TS, NONCE))
    assert.equal("POST\n/v3/pay/transactions/native?a=1\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
      .. "{\"mchid\":\"1900006XXX\"}\n",
      formatter.request("POST", "/v3/pay/transactions/native?a=1", TS, NONCE, "{\"mchid\":\"1900006XXX\"}"))
  end)

  it("request: exactly five LFs, a numeric timestamp in decimal", function()
    local m = formatter.request("GET", "/", 1554208460, NONCE, nil)
    assert.equal("GET\n/\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", m)
    local _, lfs = m:gsub("\n", "")
    assert.equal(5, lfs)
  end)

  it("response: T\\nN\\n\\n for a 204, T\\nN\\nBODY\\n otherwise", function()
    assert.equal("1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", formatter.response(TS, NONCE, ""))
    assert.equal("1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", formatter.response(TS, NONCE))
    assert.equal("1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n", formatter.response(TS, NONCE, "{}"))
  end)

  it("authorization: PHP SDK argument order, fields mchid, serial_no, timestamp, nonce_str, signature", function()
    local sig = ("A"):rep(342) .. "=="
    local h = formatter.authorization("1900006XXX", NONCE, sig, TS, "F5765756002FDD77")
    assert.equal('WECHATPAY2-SHA256-RSA2048 mchid="1900006XXX",serial_no="F5765756002FDD77",'
      .. 'timestamp="1554208460",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="' .. sig .. '"', h)
    assert.matches('^WECHATPAY2%-SHA256%-RSA2048 mchid="[0-9A-Za-z]+",serial_no="[0-9A-Za-z]+",'
      .. 'timestamp="1%d%d%d%d%d%d%d%d%d",nonce_str="[0-9A-Za-z]+",signature="[0-9A-Za-z+/]+=?=?"$', h)
  end)

  it("authorization with a real signature and nonce", function()
    local core = require "wechatpay.core"
    local openssl = require "spec.support.openssl"
    local o = openssl.new()
    local ok, err = pcall(function()
      o:run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem")
      local rsa = require "wechatpay.crypto.rsa"
      local key = assert(rsa.from("file://" .. o:path("k.pem")))
      local ts, nonce = formatter.timestamp(), formatter.nonce()
      local msg = formatter.request("GET", "/v3/certificates", ts, nonce)
      local h = formatter.authorization("1900006XXX", nonce, rsa.sign(msg, key), ts, "F5765756002FDD77")
      assert.matches('^WECHATPAY2%-SHA256%-RSA2048 mchid="1900006XXX",serial_no="F5765756002FDD77",'
        .. 'timestamp="1%d+",nonce_str="[0-9A-Za-z]+",signature="[0-9A-Za-z+/]+==?"$', h)
      assert.equal(o:sign(o:path("k.pem"), msg), h:match('signature="([^"]+)"'))
      assert.equal(nonce, h:match('nonce_str="([^"]+)"'))
      assert.is_true(core.verify(key, msg, h:match('signature="([^"]+)"')))
    end)
    o:cleanup()
    assert(ok, err)
  end)

  it("authorization refuses a numeric mchid and values that would break the header", function()
    assert.has_error(function() formatter.authorization(1900006, NONCE, "sig", TS, "SERIAL") end)
    assert.has_error(function() formatter.authorization('19"00', NONCE, "sig", TS, "SERIAL") end)
    assert.has_error(function() formatter.authorization("1900", NONCE, "sig", TS, "SER\r\nX: y") end)
    assert.has_error(function() formatter.authorization("1900", nil, "sig", TS, "SERIAL") end)
  end)

  it("request/response refuse non-string fields (except integral timestamps)", function()
    assert.has_error(function() formatter.request(nil, "/", TS, NONCE, "") end)
    assert.has_error(function() formatter.request("GET", "/", 1.5, NONCE, "") end)
    assert.has_error(function() formatter.request("GET", "/", TS, NONCE, {}) end)
    assert.has_error(function() formatter.response(TS, 5.5, "") end)
  end)

  it("timestamp: the current Unix time as a decimal string", function()
    local before = os.time()
    local ts = formatter.timestamp()
    assert.matches("^%d+$", ts)
    assert.is_true(tonumber(ts) >= before and tonumber(ts) <= os.time())
  end)

  it("nonce: 32 characters of [0-9A-Za-z], fresh each time", function()
    local a, b = formatter.nonce(), formatter.nonce()
    assert.matches("^[0-9A-Za-z]+$", a)
    assert.equal(32, #a)
    assert.not_equal(a, b)
  end)
end)
