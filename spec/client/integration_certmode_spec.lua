-- The client against the sandbox in certificate mode (sandbox.start{ cert_mode = true }): answers signed with the
-- platform certificate, GET /v3/certificates (download, decrypt, verify with the certificate it carries), the
-- bootstrap of a client that holds only the WeChat Pay public key, a public-key-only merchant, and a switch of mode
-- at run time (migration: a client holding both keys). Real libcurl, real HTTPS, the sandbox CA in ca_file.
local sandbox = require "spec.support.sandbox"
local support = require "spec.support.client"
local core = require "wechatpay.core"
local json = require "wechatpay.codec.json"

local PK_ONLY = "1900000003" -- a merchant with "public_key_only": true (merchants.json)

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

describe("client against the sandbox (certificate mode)", function()
  local sb, c, counter = nil, nil, 0

  local function new_no()
    counter = counter + 1
    return "CM" .. os.time() % 100000000 .. "_" .. counter
  end

  local function both_certs()
    return { [c.public_key_id] = "file://" .. c.public_key, [c.platform_serial] = "file://" .. c.platform_certificate }
  end

  setup(function()
    sb = sandbox.start{ cert_mode = true, merchants = { merchants = {
      { mchid = "1900000001", name = "Sandbox merchant", appids = json.array{ "wxd678efh567hg6787" },
        service_ids = json.array{ "2002000000000558128851361561536" } },
      { mchid = PK_ONLY, name = "Public key only", public_key_only = true },
    } } }
    c = sb.config
  end)

  teardown(function()
    if sb then sb:stop() end
  end)

  before_each(function()
    sb.control("DELETE", "/sandbox/faults")
  end)

  it("verifies answers signed with the platform certificate (certs = { [platform_serial] = file://... })", function()
    assert.is_true(c.cert_mode)
    local wx = support.from_sandbox(sb, { certs = support.platform_certs(sb) })
    local no = new_no()
    local res = assert(wx.v3.payscore.serviceorder:post{ json = support.seed(no) })
    assert.equal(200, res.status)
    assert.is_true(res.verified)
    assert.equal(c.platform_serial, res.headers["wechatpay-serial"])
    assert.equal(no, res.data.out_order_no)
    res = assert(wx:chain("v3/payscore/serviceorder"):get{ query = support.seed_query(no) })
    assert.is_true(res.verified)
    assert.equal(c.platform_serial, res.headers["wechatpay-serial"])
    assert.equal("CREATED", res.data.state)
    assert.equal(40000, res.data.total_amount)
    wx:close()
  end)

  it("downloads the platform certificate: decrypted, verified with itself, serial = platform_serial", function()
    local wx = support.from_sandbox(sb, { certs = support.platform_certs(sb) })
    local seq = support.last_seq(sb)
    local list, err = wx:download_certificates()
    assert.is_nil(err)
    assert.equal(1, #list)
    local cert = list[1]
    assert.equal(c.platform_serial, cert.serial_no)
    assert.equal(read(c.platform_certificate), cert.certificate)
    assert.equal(c.platform_serial, core.cert_serial(cert.certificate))
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", cert.effective_time)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%+08:00$", cert.expire_time)
    assert.equal("public", cert.key:kind())
    local log = support.requests_since(sb, seq)
    assert.equal(1, #log)
    assert.equal("/v3/certificates", log[1].target)
    assert.is_true(log[1].sign_ok)
    wx:close()
  end)

  it("refuses a certificate download whose answer does not verify", function()
    local wx = support.from_sandbox(sb)
    for _, case in ipairs{
      { f = { mode = "tamper_body" }, reason = "SIGNATURE_MISMATCH" },
      { f = { mode = "bad_signature" }, reason = "SIGNATURE_MISMATCH" },
      { f = { mode = "unknown_serial", serial = "10000000000000000000000000000000000000FF" }, reason = "UNKNOWN_SERIAL" },
      { f = { mode = "probe" }, reason = "SIGNATURE_PROBE" },
      { f = { mode = "drop_header", header = "Wechatpay-Nonce" }, reason = "HEADERS_INCOMPLETE" },
    } do
      case.f.match = "/v3/certificates"
      sb.fault(case.f)
      local list, err = wx:download_certificates()
      assert.is_nil(list, case.f.mode)
      assert.equal("verification", err.kind, case.f.mode)
      assert.equal(case.reason, err.reason, case.f.mode)
    end
    wx:close()
  end)

  -- A client that already holds the key the answer names must verify it before anything else (§2: checks in
  -- order, first failure wins), as every other call does; and every error derived from an answer carries its
  -- Request-ID (§2). download_certificates decodes and decrypts first, and builds its decode/crypto errors without
  -- request_id: a body altered on the way comes out as "crypto DECRYPT" instead of SIGNATURE_MISMATCH.
  it("download_certificates verifies with a key it holds before decrypting, and its errors carry the Request-ID",
    function()
    local wx = support.from_sandbox(sb, { certs = support.platform_certs(sb) })
    local altered = '{"data":[{"serial_no":"' .. c.platform_serial .. '","effective_time":"2026-01-01T00:00:00+08:00",'
      .. '"expire_time":"2031-01-01T00:00:00+08:00","encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM",'
      .. '"nonce":"0123456789ab","associated_data":"certificate","ciphertext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}]}'
    sb.fault{ mode = "tamper_body", body = altered, match = "/v3/certificates" }
    local seq = support.last_seq(sb)
    local list, err = wx:download_certificates()
    assert.is_nil(list)
    assert.equal("verification", err.kind)
    assert.equal("SIGNATURE_MISMATCH", err.reason)
    assert.equal(support.requests_since(sb, seq)[1].request_id, err.request_id)

    sb.fault{ mode = "status", status = 200, body = "<html>gateway</html>", content_type = "text/html",
      match = "/v3/certificates" }
    seq = support.last_seq(sb)
    list, err = wx:download_certificates()
    assert.is_nil(list)
    assert.equal("decode", err.kind)
    assert.equal(support.requests_since(sb, seq)[1].request_id, err.request_id) -- today: nil
    wx:close()
  end)

  it("bootstraps a client holding only the public key: UNKNOWN_SERIAL, download, set_cert, verified", function()
    local wx = support.from_sandbox(sb) -- public-key mode keys only
    local no = new_no()
    local res, err = wx.v3.payscore.serviceorder:post{ json = support.seed(no) }
    assert.is_nil(res)
    assert.equal("verification", err.kind)
    assert.equal("UNKNOWN_SERIAL", err.reason)
    assert.equal(c.platform_serial, err.serial)
    assert.same({ c.public_key_id }, err.known_serials)

    local list = assert(wx:download_certificates())
    assert.equal(c.platform_serial, list[1].serial_no)
    assert.is_true(wx:set_cert(list[1].serial_no, list[1].certificate))
    assert.same({ c.platform_serial, c.public_key_id }, wx:cert_ids())
    -- the order was made although its answer could not be verified by this client: query it
    res = assert(wx.v3.payscore.serviceorder:get{ query = support.seed_query(no) })
    assert.is_true(res.verified)
    assert.equal(c.platform_serial, res.headers["wechatpay-serial"])
    assert.equal("CREATED", res.data.state)

    -- the key object works as well as the PEM
    local wx2 = support.from_sandbox(sb)
    assert.is_true(wx2:set_cert(list[1].serial_no, list[1].key))
    assert.is_true(assert(wx2.v3.payscore.serviceorder:get{ query = support.seed_query(no) }).verified)
    wx:close()
    wx2:close()
  end)

  it("reports RESOURCE_NOT_EXISTS for a public-key-only merchant as a protocol error, once", function()
    local m
    for _, x in ipairs(c.merchants) do if x.mchid == PK_ONLY then m = x end end
    assert.is_table(m)
    local wx = support.from_sandbox(sb, { mchid = m.mchid, serial = m.serial, private_key = "file://" .. m.private_key,
      apiv3_key = m.apiv3_key })
    local seq = support.last_seq(sb)
    local list, err = wx:download_certificates()
    assert.is_nil(list)
    assert.equal("protocol", err.kind)
    assert.equal(404, err.status)
    assert.equal("RESOURCE_NOT_EXISTS", err.code)
    local log = support.requests_since(sb, seq)
    assert.equal(1, #log)
    assert.equal(PK_ONLY, log[1].mchid)
    assert.equal(err.request_id, log[1].request_id)
    wx:close()
  end)

  it("follows a switch of mode at run time: both keys verify either, one key only its own mode", function()
    local both = support.from_sandbox(sb, { certs = both_certs() })
    local cert_only = support.from_sandbox(sb, { certs = support.platform_certs(sb) })
    local no = new_no()
    assert(both.v3.payscore.serviceorder:post{ json = support.seed(no) })
    local q = function(w) return w.v3.payscore.serviceorder:get{ query = support.seed_query(no) } end

    local st = sb.control("POST", "/sandbox/config", { cert_mode = false })
    assert.equal(200, st)
    finally(function() sb.control("POST", "/sandbox/config", { cert_mode = true }) end)
    local res = assert(q(both))
    assert.equal(c.public_key_id, res.headers["wechatpay-serial"])
    local _, err = q(cert_only)
    assert.equal("UNKNOWN_SERIAL", err.reason)
    assert.equal(c.public_key_id, err.serial)

    -- the map is mutable at run time: without the public key, the same client fails; with it again, it passes
    assert.is_true(both:remove_cert(c.public_key_id))
    _, err = q(both)
    assert.equal("UNKNOWN_SERIAL", err.reason)
    assert.is_true(both:set_cert(c.public_key_id, "file://" .. c.public_key))
    assert.is_true(assert(q(both)).verified)

    st = sb.control("POST", "/sandbox/config", { cert_mode = true })
    assert.equal(200, st)
    res = assert(q(both))
    assert.equal(c.platform_serial, res.headers["wechatpay-serial"])
    assert.is_true(assert(q(cert_only)).verified)
    both:close()
    cert_only:close()
  end)
end)
