-- The client pipeline, end to end except for the network: a recording transport
-- (the unit edge) answers with messages signed by a throwaway "WeChat Pay" key.
-- Signatures are cross-checked with the openssl command line.
local openssl = require "spec.support.openssl"
local core = require "wechatpay.core"
local json = require "wechatpay.codec.json"
local wechatpay = require "wechatpay"

local PUB_ID = "PUB_KEY_ID_0114232134912410000000000000"
local MERCHANT_SERIAL = "3775B6A45ACD5888C1A9C1A8C0A3AAF3F8F1C5D2"

describe("client pipeline", function()
  local ossl, dir, merchant, platform, now
  local transport, answer, sent

  local function signed(status, body, hdrs)
    hdrs = hdrs or {}
    local ts = hdrs.ts or tostring(now)
    local nonce = hdrs.nonce or core.nonce()
    local sig = hdrs.signature or assert(core.sign(platform.key, ts .. "\n" .. nonce .. "\n" .. (hdrs.signed_body or body) .. "\n"))
    local h = {
      { "Request-ID", "08F78BB20613C8D8A8D7B8B7A9A1B1C1" },
      { "Content-Type", "application/json" },
      { "Wechatpay-Timestamp", ts }, { "Wechatpay-Nonce", nonce },
      { "Wechatpay-Signature", sig }, { "Wechatpay-Serial", hdrs.serial or PUB_ID },
    }
    if hdrs.drop then
      for i = #h, 1, -1 do if h[i][1] == hdrs.drop then table.remove(h, i) end end
    end
    for _, extra in ipairs(hdrs.extra or {}) do h[#h + 1] = extra end
    return { status = status, headers = h, body = body }
  end

  local function new_client(extra)
    local cfg = {
      mchid = "1900000001", serial = MERCHANT_SERIAL,
      private_key = "file://" .. merchant.key_path,
      certs = { [PUB_ID] = "file://" .. platform.pub_path },
      apiv3_key = "0123456789abcdef0123456789abcdef",
      base_uri = "https://api.example.test/",
      transport = transport, now = function() return now end,
    }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return assert(wechatpay.new(cfg))
  end

  setup(function()
    ossl = openssl.new()
    dir = ossl.dir
    merchant = ossl:keyset("merchant")
    platform = ossl:keyset("platform")
    platform.key = assert(core.key_load("file://" .. platform.key_path))
    transport = {
      request = function(_, req) sent[#sent + 1] = req; return answer(req) end,
      request_async = function(self, req)
        local res, err = self:request(req)
        return { wait = function() return res, err end, done = function() return true end }
      end,
    }
  end)
  teardown(function() ossl:cleanup() end)
  before_each(function()
    now = os.time()
    sent = {}
    answer = function() return signed(200, '{"out_order_no":"1234323JKHDFE1243252","total_amount":40000}') end
  end)

  local SEED = {
    out_order_no = "1234323JKHDFE1243252", appid = "wxd678efh567hg6787",
    service_id = "2002000000000558128851361561536", service_introduction = "某某酒店",
    post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    time_range = { start_time = "OnAccept" },
    risk_fund = { name = "ESTIMATE_ORDER_COST", amount = 10000 },
    notify_url = "https://api.test.com", openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", need_user_confirm = true,
  }

  it("signs the seed's create in all three call forms, identically, and openssl verifies it", function()
    local wx = new_client()
    local r1 = assert(wx.v3.payscore.serviceorder:post{ json = SEED })
    local r2 = assert(wx:chain("v3/payscore/serviceorder"):post{ json = SEED })
    local r3 = assert(wx["v3/payscore/serviceorder"].post{ json = SEED })
    assert.equal(3, #sent)
    for i = 1, 3 do
      assert.equal("POST", sent[i].method)
      assert.equal("https://api.example.test/v3/payscore/serviceorder", sent[i].url)
      assert.equal(sent[1].body, sent[i].body)
    end
    assert.same(r1.data, r2.data); assert.same(r2.data, r3.data)
    assert.equal(40000, r1.data.total_amount)
    if math.type then assert.equal("integer", math.type(r1.data.total_amount)) end
    assert.is_true(r1.verified)
    assert.equal("08F78BB20613C8D8A8D7B8B7A9A1B1C1", r1.request_id)
    assert.equal("application/json", r1.headers["Content-Type"])

    local auth
    for _, h in ipairs(sent[1].headers) do if h[1] == "Authorization" then auth = h[2] end end
    local ts, nonce, sig = auth:match('^WECHATPAY2%-SHA256%-RSA2048 mchid="1900000001",serial_no="' .. MERCHANT_SERIAL
      .. '",timestamp="(1%d%d%d%d%d%d%d%d%d)",nonce_str="(%w+)",signature="([%w+/]+=*)"$')
    assert.truthy(ts, auth)
    assert.equal(32, #nonce)
    local message = "POST\n/v3/payscore/serviceorder\n" .. ts .. "\n" .. nonce .. "\n" .. sent[1].body .. "\n"
    assert.is_true(ossl:verify(merchant.pub_path, message, sig))
    assert.equal(ossl:sign(merchant.key_path, message), sig)
    -- the amount went out as an integer
    assert.truthy(sent[1].body:find('"amount":40000,', 1, true))
  end)

  it("fills placeholders, encodes them, and signs the target sent", function()
    local wx = new_client()
    assert(wx.v3.payscore.serviceorder._out_order_no_.cancel:post{
      out_order_no = "N/1 2", json = { appid = "wxd678efh567hg6787", service_id = "1", reason = "r" }, validate = false })
    assert.equal("https://api.example.test/v3/payscore/serviceorder/N%2F1%202/cancel", sent[1].url)
    assert(wx:chain("v3/payscore/permissions/openid/{openid}"):get{ openid = "oUpF8", query = { service_id = "x y", appid = "a" } })
    assert.equal("https://api.example.test/v3/payscore/permissions/openid/oUpF8?appid=a&service_id=x%20y", sent[2].url)
    assert(wx.v3.certificates:get{ query = "a=%20&b=1" })
    assert.equal("https://api.example.test/v3/certificates?a=%20&b=1", sent[3].url)
  end)

  it("refuses usage errors before any I/O", function()
    local wx = new_client()
    local cases = {
      function() return wx.v3.payscore.serviceorder._out_order_no_.cancel:post{ json = {} } end,
      function() return wx.v3.payscore.serviceorder:post{ json = { amount = 400.5 }, validate = false } end,
      function() return wx.v3.x:post{ json = { a = json.null } } end,
      function() return wx:chain("v2/pay/x"):get{} end,
      function() return wx.v3.x:post{ body = 12 } end,
      function() return wx.v3.x:get{ query = { a = { 1 } } } end,
      function() return wx.v3.x:get("not a table") end,
    }
    for i, f in ipairs(cases) do
      local res, err = f()
      assert.is_nil(res, "case " .. i)
      assert.equal("usage", err.kind, "case " .. i .. ": " .. tostring(err))
      assert.matches("usage error", tostring(err))
    end
    assert.equal(0, #sent)
  end)

  it("replaces a caller's Authorization and keeps other headers", function()
    local wx = new_client()
    assert(wx.v3.x:get{ headers = { Authorization = "forged", ["X-Test"] = "1", accept = "text/plain" } })
    local names = {}
    for _, h in ipairs(sent[1].headers) do names[h[1]:lower()] = (names[h[1]:lower()] or 0) + 1 end
    assert.equal(1, names.authorization)
    assert.equal(1, names.accept)
    for _, h in ipairs(sent[1].headers) do
      if h[1]:lower() == "authorization" then assert.matches("^WECHATPAY2", h[2]) end
      if h[1]:lower() == "accept" then assert.equal("text/plain", h[2]) end
    end
    assert.is_nil(sent[1].body)
  end)

  describe("verification of answers", function()
    local function reason_of(a)
      answer = function() return a end
      local res, err = new_client().v3.x:get{}
      assert.is_nil(res)
      assert.equal("verification", err.kind)
      return err.reason, err
    end
    local body = '{"a":1}'

    it("names the reason of every failure", function()
      assert.equal("HEADERS_INCOMPLETE", reason_of(signed(200, body, { drop = "Wechatpay-Nonce" })))
      assert.equal("HEADERS_INCOMPLETE", reason_of(signed(200, body, { drop = "Wechatpay-Signature" })))
      assert.equal("TIMESTAMP_INVALID", reason_of(signed(200, body, { ts = "12ab" })))
      assert.equal("TIMESTAMP_OFFSET", reason_of(signed(200, body, { ts = tostring(now - 301) })))
      assert.equal("TIMESTAMP_OFFSET", reason_of(signed(200, body, { ts = tostring(now + 301) })))
      local r, err = reason_of(signed(200, body, { serial = "ABCDEF" }))
      assert.equal("UNKNOWN_SERIAL", r)
      assert.same({ PUB_ID }, err.known_serials)
      assert.matches(PUB_ID, tostring(err), 1, true)
      assert.equal("SIGNATURE_PROBE", reason_of(signed(200, body, { signature = "WECHATPAY/SIGNTEST/" .. ("A"):rep(300) })))
      assert.equal("SIGNATURE_MALFORMED", reason_of(signed(200, body, { signature = "AAAA" })))
      assert.equal("SIGNATURE_MALFORMED", reason_of(signed(200, body, { signature = "%%%" })))
      assert.equal("SIGNATURE_MISMATCH", reason_of(signed(200, body, { signed_body = '{"a":2}' })))
      local _, e = reason_of(signed(200, body, { signed_body = "x" }))
      assert.equal(body, e.body)
      assert.equal(200, e.status)
      assert.equal("08F78BB20613C8D8A8D7B8B7A9A1B1C1", e.request_id)
    end)

    it("accepts exactly +-300 s and an empty 204", function()
      local wx = new_client()
      answer = function() return signed(200, body, { ts = tostring(now - 300) }) end
      assert(wx.v3.x:get{})
      answer = function() return signed(200, body, { ts = tostring(now + 300) }) end
      assert(wx.v3.x:get{})
      answer = function() return signed(204, "") end
      local res = assert(wx.v3.x:post{ json = { a = 1 } })
      assert.equal(204, res.status); assert.equal("", res.body); assert.is_nil(res.data)
    end)

    it("returns skip-listed downloads unverified and flagged", function()
      answer = function() return { status = 200, headers = { { "Content-Type", "application/x-gzip" } }, body = "\31\139bytes" } end
      local res = assert(new_client():chain("v3/billdownload/file"):get{ query = "token=abc" })
      assert.is_false(res.verified)
      assert.equal("\31\139bytes", res.body)
      answer = function() return { status = 200, headers = {}, body = "x" } end
      local _, err = new_client():chain("v3/merchant-service/images/upload"):post{ body = "{}" }
      assert.equal("HEADERS_INCOMPLETE", err.reason)
    end)

    it("verifies overseas statements over the sha1 JSON", function()
      local stmt = "statement bytes"
      local sha1 = core.sha1_hex(stmt):upper()
      answer = function()
        return signed(200, stmt, { signed_body = '{"sha1":"' .. sha1 .. '"}', extra = { { "Wechatpay-Statement-Sha1", sha1 } } })
      end
      local res = assert(new_client():chain("v3/global/statements"):get{})
      assert.equal(stmt, res.body)
      answer = function()
        return signed(200, stmt .. "!", { signed_body = '{"sha1":"' .. sha1 .. '"}', extra = { { "Wechatpay-Statement-Sha1", sha1 } } })
      end
      local _, err = new_client():chain("v3/global/statements"):get{}
      assert.equal("STATEMENT_SHA1_MISMATCH", err.reason)
    end)

    it("follows the certs map at runtime", function()
      local wx = new_client()
      answer = function() return signed(200, body, { serial = "NEWSERIAL01" }) end
      local _, err = wx.v3.x:get{}
      assert.equal("UNKNOWN_SERIAL", err.reason)
      assert(wx:set_cert("NEWSERIAL01", "file://" .. platform.pub_path))
      assert(wx.v3.x:get{})
      assert.is_true(wx:remove_cert("NEWSERIAL01"))
      _, err = wx.v3.x:get{}
      assert.equal("UNKNOWN_SERIAL", err.reason)
      local ok, cerr = wx:set_cert(MERCHANT_SERIAL, "file://" .. platform.pub_path)
      assert.is_nil(ok); assert.equal("config", cerr.kind)
    end)
  end)

  it("checks a downloaded bill's SHA-1 against hash_value (cross-checked with openssl)", function()
    local bill = "\31\139 交易时间,公众账号ID\n`2026-11-29,`wx1\n"
    local hash = ossl:digest("sha1", bill)
    assert.is_true(wechatpay.verify_bill(bill, hash:upper(), "SHA1"))
    assert.is_true(wechatpay.verify_bill(bill, hash))
    local ok, why = wechatpay.verify_bill(bill .. "x", hash)
    assert.is_false(ok); assert.matches("differs", why)
    assert.is_false((wechatpay.verify_bill(bill, hash, "MD5")))
  end)

  it("turns non-2xx answers into protocol errors with every field", function()
    answer = function()
      return { status = 400, headers = { { "Request-ID", "RID-1" }, { "Content-Type", "application/json" } },
        body = '{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount","issue":"bad"}}' }
    end
    local res, err = new_client().v3.x:get{}
    assert.is_nil(res)
    assert.equal("protocol", err.kind)
    assert.equal(400, err.status); assert.equal("PARAM_ERROR", err.code); assert.equal("参数错误", err.message)
    assert.equal("/amount", err.detail.field); assert.equal("RID-1", err.request_id)
    assert.matches("400 PARAM_ERROR", tostring(err))
    answer = function() return { status = 502, headers = {}, body = "<html>bad gateway</html>" } end
    res, err = new_client().v3.x:get{}
    assert.is_nil(res)
    assert.equal("protocol", err.kind); assert.equal(502, err.status); assert.equal("<html>bad gateway</html>", err.body)
  end)

  it("reports a signed answer that is not JSON as a decode error", function()
    answer = function() return signed(200, "{not json") end
    local res, err = new_client().v3.x:get{}
    assert.is_nil(res); assert.equal("decode", err.kind); assert.equal("{not json", err.body)
  end)

  it("passes transport errors through", function()
    local errors = require "wechatpay.errors"
    answer = function() return nil, errors.new("transport", { message = "Timeout", reason = "timeout", curl_code = 28 }) end
    local res, err = new_client().v3.x:get{}
    assert.is_nil(res); assert.equal("transport", err.kind); assert.equal("timeout", err.reason)
  end)

  it("refuses bad configuration with config errors", function()
    local base = {
      mchid = "1900000001", serial = MERCHANT_SERIAL, private_key = "file://" .. merchant.key_path,
      certs = { [PUB_ID] = "file://" .. platform.pub_path }, transport = transport,
    }
    local function with(k, v)
      local c = {}
      for a, b in pairs(base) do c[a] = b end
      c[k] = v
      return c
    end
    local bad = {
      with("mchid", 1900000001), with("serial", "x"), with("private_key", "file:///nonexistent.pem"),
      with("private_key", "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"),
      with("certs", {}), with("certs", { [MERCHANT_SERIAL] = "file://" .. platform.pub_path }),
      with("apiv3_key", ("k"):rep(31)), with("base_uri", "ftp://x"),
    }
    for i, cfg in ipairs(bad) do
      local wx, err = wechatpay.new(cfg)
      assert.is_nil(wx, "case " .. i)
      assert.equal("config", err.kind, "case " .. i)
      assert.not_matches("BEGIN", tostring(err))
    end
  end)

  it("runs async calls through promises and wechatpay.all", function()
    local wx = new_client()
    local seen = {}
    local v = wx.v3.payscore.serviceorder:postAsync{ json = SEED }
      :next(function(res) seen[#seen + 1] = res.status; return res.data.total_amount end)
      :wait()
    assert.equal(40000, v); assert.same({ 200 }, seen)
    local ps = {}
    for i = 1, 3 do ps[i] = wx.v3.x:getAsync{ query = { i = i } } end
    local all = assert(wechatpay.all(ps):wait())
    assert.equal(3, #all)
    answer = function() return { status = 500, headers = {}, body = "" } end
    local res, err = wx.v3.x:getAsync{}:next(function() error("not reached") end):wait()
    assert.is_nil(res); assert.equal("protocol", err.kind)
    local r2 = wx.v3.x:getAsync{}:next(nil, function(e) return "handled " .. e.status end):wait()
    assert.equal("handled 500", r2)
    local _, uerr = wx.v3.x._id_:getAsync{}:wait()
    assert.equal("usage", uerr.kind)
  end)

  it("sets Wechatpay-Serial for encrypted fields and refuses mixed keys", function()
    local wx = new_client()
    assert(wx:set_cert("SECONDSERIAL", "file://" .. platform.pub_path))
    local ct, id = assert(wx:encrypt("张三"))
    assert.equal(PUB_ID, id)
    assert.equal("张三", ossl:oaep_decrypt(platform.key_path, ct))
    assert(wx.v3.x:post{ json = { name = ct } })
    local serial
    for _, h in ipairs(sent[1].headers) do if h[1] == "Wechatpay-Serial" then serial = h[2] end end
    assert.equal(PUB_ID, serial)
    local ct2 = assert(wx:encrypt("李四", "SECONDSERIAL"))
    local res, err = wx.v3.x:post{ json = { a = ct, b = ct2 } }
    assert.is_nil(res); assert.equal("usage", err.kind)
    local _, e2 = wx:encrypt(("x"):rep(215))
    assert.equal("usage", e2.kind)
  end)

  it("uploads media signing the meta JSON", function()
    local wx = new_client()
    local f = dir .. "/pic.png"
    local fh = assert(io.open(f, "wb")); fh:write("\137PNG\0data"); fh:close()
    assert(wx.v3.merchant.media.upload:post{ media = { file = f } })
    local req = sent[1]
    local meta = '{"filename":"pic.png","sha256":"' .. core.sha256_hex("\137PNG\0data") .. '"}'
    assert.truthy(req.body:find(meta, 1, true))
    assert.truthy(req.body:find("\137PNG\0data", 1, true))
    local auth
    for _, h in ipairs(req.headers) do if h[1] == "Authorization" then auth = h[2] end end
    local ts, nonce, sig = auth:match('timestamp="(%d+)",nonce_str="(%w+)",signature="([^"]+)"')
    assert.is_true(ossl:verify(merchant.pub_path, "POST\n/v3/merchant/media/upload\n" .. ts .. "\n" .. nonce .. "\n" .. meta .. "\n", sig))
  end)

  describe("notifications", function()
    local APIV3 = "0123456789abcdef0123456789abcdef"
    local function notification(opts)
      opts = opts or {}
      local plain = opts.plain or '{"out_order_no":"1234323JKHDFE1243252","state":"DOING","total_amount":40000}'
      local res = {
        algorithm = "AEAD_AES_256_GCM", nonce = "0123456789ab", associated_data = "payscore", original_type = "payscore",
        ciphertext = assert(core.gcm_encrypt(opts.key or APIV3, "0123456789ab", "payscore", plain)),
      }
      local body = assert(json.encode({ id = "EV-2018022511223320873", create_time = "2015-05-20T13:29:35+08:00",
        event_type = "PAYSCORE.USER_CONFIRM", resource_type = "encrypt-resource", summary = "ok", resource = res }))
      local ts, nonce = tostring(opts.ts or now), core.nonce()
      local sig = opts.signature or assert(core.sign(platform.key, ts .. "\n" .. nonce .. "\n" .. body .. "\n"))
      return { ["Wechatpay-Timestamp"] = ts, ["wechatpay-nonce"] = nonce, ["WECHATPAY-SIGNATURE"] = sig,
        ["Wechatpay-Serial"] = opts.serial or PUB_ID, ["Wechatpay-Signature-Type"] = opts.stype or "WECHATPAY2-SHA256-RSA2048",
        ["Request-ID"] = "RID-N" }, body
    end

    it("verifies, decrypts and decodes", function()
      local h, body = notification()
      local env = assert(new_client():verify_notification(h, body))
      assert.equal("PAYSCORE.USER_CONFIRM", env.event_type)
      assert.equal("DOING", env.resource.state)
      assert.equal(40000, env.resource.total_amount)
      assert.equal("payscore", env.original_type)
      assert.equal("RID-N", env.request_id)
    end)

    it("rejects tampered, stale, probe, wrong-type and undecryptable ones", function()
      local wx = new_client()
      local h, body = notification()
      local _, e = wx:verify_notification(h, body:gsub("USER_CONFIRM", "USER_PAID"))
      assert.equal("SIGNATURE_MISMATCH", e.reason)
      h, body = notification{ ts = now - 301 }
      _, e = wx:verify_notification(h, body); assert.equal("TIMESTAMP_OFFSET", e.reason)
      h, body = notification{ signature = "WECHATPAY/SIGNTEST/abc" }
      _, e = wx:verify_notification(h, body); assert.equal("SIGNATURE_PROBE", e.reason)
      h, body = notification{ stype = "HMAC-SHA256" }
      _, e = wx:verify_notification(h, body); assert.equal("SIGNATURE_TYPE", e.reason)
      h, body = notification{ key = ("z"):rep(32) }
      _, e = wx:verify_notification(h, body); assert.equal("crypto", e.kind)
      local status, hdrs, rbody = wechatpay.reply(e)
      assert.equal(400, status); assert.equal("application/json", hdrs["Content-Type"])
      assert.matches('^{"code":"FAIL","message":".+"}$', rbody)
      assert.equal(204, (wechatpay.reply(true)))
    end)
  end)
end)
