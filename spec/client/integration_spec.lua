-- The client against the real local sandbox (issue 3, "Tests against a real server"): our client with its real
-- libcurl transport, over HTTPS with certificate checks on (the sandbox CA in ca_file), against a sandbox nginx that
-- verifies every request's signature, signs its answers with WeChat Pay's public key (public-key mode) and can be told
-- to misbehave (POST /sandbox/faults). Every value asserted comes from the server: its answers, its request log
-- (GET /sandbox/requests: the target it saw, whether the signature verified) and the echo routes of
-- spec/support/client.lua (what it received). One sandbox for the whole file.
--
-- Certificate mode: spec/client/integration_certmode_spec.lua; notifications: spec/client/integration_notify_spec.lua.
--
-- Verification reasons not reachable through the sandbox: TIMESTAMP_INVALID and SIGNATURE_MALFORMED need an answer
-- whose Wechatpay-Timestamp or Wechatpay-Signature has an arbitrary value, and no fault mode sets one (the `status`
-- mode's `headers` are overridden by the signature headers it adds); spec/client/pipeline_spec.lua covers both.
local sandbox = require "spec.support.sandbox"
local support = require "spec.support.client"
local json = require "wechatpay.codec.json"
local wechatpay = require "wechatpay"

local SEED_NO = require("spec.payscore.fixtures").OUT_ORDER_NO -- "1234323JKHDFE1243252"
local MATH_TYPE = math.type -- nil on LuaJIT: every number is a double there

local function is_integer(v)
  if MATH_TYPE then return MATH_TYPE(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

describe("client against the sandbox (public-key mode)", function()
  local sb, c, wx, wxr, rec
  local counter = 0

  -- a fresh out_order_no (charset of payscore.md §6.6)
  local function new_no(prefix)
    counter = counter + 1
    return (prefix or "CI") .. os.time() % 100000000 .. "_" .. counter
  end

  local function create(no, over)
    local res, err = wx.v3.payscore.serviceorder:post{ json = support.seed(no, over) }
    assert(res, tostring(err))
    return res
  end

  local function fault(f) return sb.fault(f) end

  setup(function()
    sb = sandbox.start{ routes = support.ROUTES }
    c = sb.config
    wx = support.from_sandbox(sb)
    wxr, rec = support.recording(sb)
  end)

  teardown(function()
    if wx then wx:close() end
    if wxr then wxr:close() end
    if sb then sb:stop() end
  end)

  before_each(function()
    sb.control("DELETE", "/sandbox/faults")
  end)

  -- the one log entry the sandbox wrote for a call made since `seq`
  local function logged_once(seq)
    local list = support.requests_since(sb, seq)
    assert.equal(1, #list, "requests logged: " .. json.encode(list))
    return list[1]
  end

  describe("the seed", function()
    local forms = {
      { name = "chained wx.v3.payscore.serviceorder:post{}", node = function(w) return w.v3.payscore.serviceorder end },
      { name = "declared wx:chain(\"v3/payscore/serviceorder\"):post{}",
        node = function(w) return w:chain("v3/payscore/serviceorder") end },
      { name = "indexed wx[\"v3/payscore/serviceorder\"]:post{}", node = function(w) return w["v3/payscore/serviceorder"] end },
      { name = "indexed, node.post{} (no colon)", node = function(w) return w["v3/payscore/serviceorder"] end, dot = true },
    }

    for i, form in ipairs(forms) do
      it("creates and queries the seed, verified, with the answer's Request-ID: " .. form.name, function()
        local no = SEED_NO .. "F" .. i
        local node = form.node(wx)
        local seq = support.last_seq(sb)
        local body = support.seed(no)
        local res, err
        if form.dot then res, err = node.post{ json = body } else res, err = node:post{ json = body } end
        assert.is_nil(err)
        assert.equal(200, res.status)
        assert.is_true(res.verified)
        assert.equal(no, res.data.out_order_no)
        assert.equal("CREATED", res.data.state)
        assert.equal(c.mchid, res.data.mchid)
        assert.equal(c.public_key_id, res.headers["wechatpay-serial"])
        assert.matches("^%x+%-0$", res.request_id)
        assert.equal(support.header(res.header_list, "Request-ID"), res.request_id)
        assert.equal(res.headers["Request-ID"], res.request_id)
        local entry = logged_once(seq)
        assert.equal(res.request_id, entry.request_id)
        assert.equal("E1", entry.route)
        assert.is_true(entry.sign_ok)

        seq = support.last_seq(sb)
        local q = support.seed_query(no)
        if form.dot then res, err = node.get{ query = q } else res, err = node:get{ query = q } end
        assert.is_nil(err)
        assert.equal(200, res.status)
        assert.is_true(res.verified)
        assert.equal(no, res.data.out_order_no)
        assert.equal("CREATED", res.data.state)
        assert.equal(40000, res.data.total_amount)
        assert.equal(support.header(res.header_list, "Request-ID"), res.request_id)
        entry = logged_once(seq)
        assert.equal(res.request_id, entry.request_id)
        -- the seed's query (with its empty query_id), keys sorted, every value encoded
        assert.equal("/v3/payscore/serviceorder?appid=wxd678efh567hg6787&out_order_no=" .. no
          .. "&query_id=&service_id=2002000000000558128851361561536", entry.target)
      end)
    end

    it("decodes amounts as integers and re-encodes the answer byte for byte, arrays as arrays", function()
      local no = new_no("INT")
      create(no)
      local res = assert(wx.v3.payscore.serviceorder:get{ query = support.seed_query(no) })
      local d = res.data
      assert.is_true(is_integer(d.total_amount))
      assert.is_true(is_integer(d.post_payments[1].amount))
      assert.is_true(is_integer(d.risk_fund.amount))
      assert.equal("40000", tostring(d.total_amount))   -- not 40000.0 (Debian's lua-cjson under 5.4)
      assert.equal("10000", tostring(d.risk_fund.amount))
      assert.is_true(json.is_array(d.post_payments))
      assert.is_true(json.is_array(d.post_discounts))
      -- the sandbox encodes with sorted keys and raw UTF-8, as we do: the same bytes come back out
      assert.equal(res.body, assert(json.encode(d)))
      assert.equal(res.body:match('"post_payments":(%b[])'), assert(json.encode(d.post_payments)))

      -- decoded arrays sent back in a request stay arrays: a new order made of the answer's parts
      local no2 = new_no("INT")
      local res2 = assert(wx.v3.payscore.serviceorder:post{ json = support.seed(no2, {
        post_payments = d.post_payments, post_discounts = d.post_discounts, risk_fund = d.risk_fund }) })
      assert.equal(json.encode(d.post_payments), json.encode(res2.data.post_payments))
      assert.equal(res.body:match('"post_discounts":(%b[])'), res2.body:match('"post_discounts":(%b[])'))
    end)

    it("runs the seed asynchronously: postAsync():next(getAsync):wait() and wechatpay.all", function()
      local no = new_no("ASY")
      local created
      local res, err = wx.v3.payscore.serviceorder:postAsync{ json = support.seed(no) }
        :next(function(r)
          created = r
          return wx:chain("v3/payscore/serviceorder"):getAsync{ query = support.seed_query(no) }
        end)
        :wait()
      assert.is_nil(err)
      assert.equal(200, created.status)
      assert.is_true(created.verified)
      assert.equal("CREATED", created.data.state)
      assert.equal(no, res.data.out_order_no)
      assert.equal(40000, res.data.total_amount)
      assert.is_true(res.verified)
      assert.not_equal(created.request_id, res.request_id)

      local nos = { new_no("ALL"), new_no("ALL"), new_no("ALL") }
      local made = assert(wechatpay.all{
        wx.v3.payscore.serviceorder:postAsync{ json = support.seed(nos[1]) },
        wx:chain("v3/payscore/serviceorder"):postAsync{ json = support.seed(nos[2]) },
        wx["v3/payscore/serviceorder"].postAsync{ json = support.seed(nos[3]) },
      }:wait())
      assert.equal(3, #made)
      for i = 1, 3 do
        assert.equal(nos[i], made[i].data.out_order_no)
        assert.is_true(made[i].verified)
      end
      local ids = {}
      for _, e in ipairs(support.requests_since(sb, 0)) do ids[e.request_id] = e end
      for i = 1, 3 do assert.equal("E1", ids[made[i].request_id].route) end

      -- a rejection: the first error met in order, with its index; on_err handles it
      local all, aerr = wechatpay.all{
        wx.v3.payscore.serviceorder:getAsync{ query = support.seed_query(nos[1]) },
        wx.v3.payscore.serviceorder:getAsync{ query = support.seed_query("NEVER" .. nos[2]) },
      }:wait()
      assert.is_nil(all)
      assert.equal("protocol", aerr.kind)
      assert.equal(404, aerr.status)
      assert.equal(2, aerr.index)
      local handled = wx.v3.payscore.serviceorder:getAsync{ query = support.seed_query("NEVER" .. nos[3]) }
        :next(function() return "not reached" end, function(e) return "handled " .. e.code end)
        :wait()
      assert.equal("handled ORDER_NOT_EXIST", handled)
    end)
  end)

  describe("paths and queries", function()
    it("cancels through _out_order_no_ with | and * percent-encoded, the target signed being the target seen", function()
      local no = "CI|X*" .. os.time() % 100000000
      create(no)
      local seq = support.last_seq(sb)
      local n = #rec.sent
      local res, err = wxr.v3.payscore.serviceorder._out_order_no_.cancel:post{
        out_order_no = no, json = { appid = c.appid, service_id = c.service_id, reason = "用户投诉" } }
      assert.is_nil(err)
      assert.equal(200, res.status)
      assert.equal(no, res.data.out_order_no)
      local target = "/v3/payscore/serviceorder/" .. no:gsub("|", "%%7C"):gsub("%*", "%%2A") .. "/cancel"
      assert.equal(target, rec.sent[n + 1].target)
      local entry = logged_once(seq)
      assert.equal(target, entry.target)
      assert.equal("E3", entry.route)
      assert.is_true(entry.sign_ok)
      local q = assert(wx.v3.payscore.serviceorder:get{ query = support.seed_query(no) })
      assert.equal("REVOKED", q.data.state)
    end)

    it("encodes {name} fully and keeps reserved characters of {+name}; the server decodes them back", function()
      local seq = support.last_seq(sb)
      local res = assert(wxr:chain("v3/spec-client/items/{id}"):get{ id = "a/b c%2F:é" })
      assert.equal("/v3/spec-client/items/a%2Fb%20c%252F%3A%C3%A9", res.data.target)
      assert.equal("a/b c%2F:é", res.data.params[1])
      assert.equal(res.data.target, rec.sent[#rec.sent].target)
      assert.is_true(logged_once(seq).sign_ok)

      seq = support.last_seq(sb)
      res = assert(wxr:chain("v3/spec-client/items/{+id}"):get{ id = "a%2Fb:c@d" })
      assert.equal("/v3/spec-client/items/a%2Fb:c@d", res.data.target)
      assert.equal("a/b:c@d", res.data.params[1])
      assert.is_true(logged_once(seq).sign_ok)
    end)

    it("sends query tables with sorted, RFC 3986-encoded pairs, and query strings verbatim", function()
      local seq = support.last_seq(sb)
      local query = { b = "x y", a = 1, c = true, ["k/é"] = "v&=?/|*+", z = "~-._", e = false }
      local res = assert(wxr.v3["spec-client"].echo:get{ query = query })
      local target = "/v3/spec-client/echo?a=1&b=x%20y&c=true&e=false&k%2F%C3%A9=v%26%3D%3F%2F%7C%2A%2B&z=~-._"
      assert.equal(target, rec.sent[#rec.sent].target)
      assert.equal(target, res.data.target)
      local entry = logged_once(seq)
      assert.equal(target, entry.target)
      assert.is_true(entry.sign_ok)
      assert.same({ a = "1", b = "x y", c = "true", e = "false", ["k/é"] = "v&=?/|*+", z = "~-._" }, res.data.query)

      seq = support.last_seq(sb)
      res = assert(wxr.v3["spec-client"].echo:get{ query = "z=1&a=%41&b=x+y" })
      assert.equal("/v3/spec-client/echo?z=1&a=%41&b=x+y", res.data.target)
      assert.equal("/v3/spec-client/echo?z=1&a=%41&b=x+y", logged_once(seq).target)
      assert.equal("A", res.data.query.a)
    end)

    it("lets the sandbox refuse with validate = false what the validator refuses before I/O", function()
      local seq = support.last_seq(sb)
      local body = support.seed(new_no("VAL"))
      body.service_introduction = nil
      local res, err = wx.v3.payscore.serviceorder:post{ json = body }
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      assert.matches("/service_introduction: is required", err.message, 1, true)
      assert.equal(0, #support.requests_since(sb, seq))

      res, err = wx.v3.payscore.serviceorder:post{ json = body, validate = false }
      assert.is_nil(res)
      assert.equal("protocol", err.kind)
      assert.equal(400, err.status)
      assert.equal("PARAM_ERROR", err.code)
      assert.equal("/service_introduction", err.detail.field)
      assert.equal(json.decode(err.body).detail.field, err.detail.field)
      local entry = logged_once(seq)
      assert.equal(400, entry.status)
      assert.equal(entry.request_id, err.request_id)
      assert.equal(err.headers["request-id"], err.request_id)
    end)
  end)

  describe("errors", function()
    it("config: bad keys, the merchant serial in the certs map, a wrong APIv3 key length", function()
      local seq = support.last_seq(sb)
      local cases = {
        { private_key = "file:///nonexistent/apiclient_key.pem" },
        { private_key = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n" },
        { private_key = "file://" .. c.public_key },                         -- a public key cannot sign
        { certs = { [c.public_key_id] = "file:///nonexistent/pub_key.pem" } },
        { certs = { [c.serial] = "file://" .. c.certificate } },             -- the merchant's own serial
        { certs = {} },
        { apiv3_key = "too short" },
        { mchid = 1900000001 },
      }
      for i, over in ipairs(cases) do
        local w, err = wechatpay.new(support.config(sb, over))
        assert.is_nil(w, "case " .. i)
        assert.equal("config", err.kind, "case " .. i)
        assert.matches("^wechatpay config error: ", tostring(err))
      end
      local _, err = wechatpay.new(support.config(sb, cases[5]))
      assert.matches("merchant serial", err.message, 1, true)
      -- at run time too, and the map is left as it was
      local ok, serr = wx:set_cert(c.serial, "file://" .. c.certificate)
      assert.is_nil(ok)
      assert.equal("config", serr.kind)
      assert.same({ c.public_key_id }, wx:cert_ids())
      assert.equal(0, #support.requests_since(sb, seq))
    end)

    it("usage: a missing or empty placeholder, a float amount, null — before any I/O", function()
      local seq = support.last_seq(sb)
      local node = wx.v3.payscore.serviceorder._out_order_no_.cancel
      local reason = { appid = c.appid, service_id = c.service_id, reason = "用户投诉" }
      local res, err = node:post{ json = reason }
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      assert.matches("out_order_no", err.message, 1, true)
      res, err = node:post{ out_order_no = "", json = reason }
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      local body = support.seed(new_no("USE"))
      body.post_payments[1].amount = 400.5
      res, err = wx.v3.payscore.serviceorder:post{ json = body, validate = false }
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      assert.matches("/post_payments/0/amount", err.message, 1, true)
      res, err = wx.v3.payscore.serviceorder:post{ json = support.seed(new_no("USE"), { attach = json.null }),
        validate = false }
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      assert.matches("/attach", err.message, 1, true)
      res, err = node:postAsync{ json = reason }:wait()
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      assert.equal(0, #support.requests_since(sb, seq))
    end)

    it("transport: the wrong CA is refused (tls), nothing listening (connect)", function()
      local seq = support.last_seq(sb)
      -- a certificate that did not issue the sandbox's: the merchant's own
      local wrong = support.from_sandbox(sb, { ca_file = c.certificate })
      local res, err = wrong.v3["spec-client"].echo:get{}
      assert.is_nil(res)
      assert.equal("transport", err.kind)
      assert.equal("tls", err.reason)
      assert.equal(60, err.curl_code) -- CURLE_PEER_FAILED_VERIFICATION
      assert.is_nil(err.status)
      wrong:close()

      local port = require("spec.support.nginx").free_ports(1)[1]
      local closed = support.from_sandbox(sb, { base_uri = "https://127.0.0.1:" .. port .. "/" })
      res, err = closed.v3["spec-client"].echo:get{}
      assert.is_nil(res)
      assert.equal("transport", err.kind)
      assert.equal("connect", err.reason)
      assert.equal(7, err.curl_code) -- CURLE_COULDNT_CONNECT
      res, err = closed.v3["spec-client"].echo:getAsync{}:wait()
      assert.is_nil(res)
      assert.equal("connect", err.reason)
      closed:close()
      assert.equal(0, #support.requests_since(sb, seq))
    end)

    it("transport: an answer slower than the timeout (client's and per call), then the client goes on", function()
      local seq = support.last_seq(sb)
      fault{ mode = "delay", ms = 1500, match = "/v3/spec-client/items/", count = 3 }
      local slow = support.from_sandbox(sb, { timeout = 0.4 })
      local res, err = slow.v3["spec-client"].items._id_:get{ id = "slow1" }
      assert.is_nil(res)
      assert.equal("transport", err.kind)
      assert.equal("timeout", err.reason)
      assert.equal(28, err.curl_code) -- CURLE_OPERATION_TIMEDOUT
      -- the per-call option overrides the client's 10 s
      res, err = wx.v3["spec-client"].items._id_:get{ id = "slow2", timeout = 0.4 }
      assert.is_nil(res)
      assert.equal("timeout", err.reason)
      -- and asynchronously
      res, err = wx.v3["spec-client"].items._id_:getAsync{ id = "slow3", timeout = 0.4 }:wait()
      assert.is_nil(res)
      assert.equal("transport", err.kind)
      assert.equal("timeout", err.reason)
      -- the same clients work afterwards
      res = assert(slow.v3["spec-client"].items._id_:get{ id = "after" })
      assert.equal("after", res.data.params[1])
      res = assert(wx.v3["spec-client"].items._id_:get{ id = "after2" })
      assert.equal("after2", res.data.params[1])
      slow:close()
      -- the sandbox finishes (and logs) the abandoned requests 1.5 s after they came: wait for them, so that they
      -- do not show up in the log of the next spec
      local function abandoned()
        local n = 0
        for _, e in ipairs(support.requests_since(sb, seq)) do
          if e.fault == "delay" and e.target:find("/slow", 1, true) then n = n + 1 end
        end
        return n == 3
      end
      assert.is_true(support.wait_for(abandoned, 10))
    end)

    it("protocol: 404 ORDER_NOT_EXIST with every field", function()
      local seq = support.last_seq(sb)
      local res, err = wx.v3.payscore.serviceorder:get{ query = support.seed_query("NOSUCHORDER1") }
      assert.is_nil(res)
      assert.equal("protocol", err.kind)
      assert.equal(404, err.status)
      assert.equal("ORDER_NOT_EXIST", err.code)
      assert.equal("订单不存在", err.message)
      local entry = logged_once(seq)
      assert.equal(entry.request_id, err.request_id)
      assert.equal(err.headers["Request-ID"], err.request_id)
      assert.equal("ORDER_NOT_EXIST", json.decode(err.body).code)
      assert.equal("wechatpay protocol error: 404 ORDER_NOT_EXIST 订单不存在 [request-id " .. err.request_id .. "]",
        tostring(err))
    end)

    it("protocol: a 500 HTML page kept raw, a 429 JSON body decoded; the handler did not run", function()
      local html = "<html><head><title>500 Internal Server Error</title></head><body>网关错误</body></html>"
      fault{ mode = "status", status = 500, body = html, content_type = "text/html", match = "/v3/payscore/serviceorder",
        method = "POST" }
      local no = new_no("GW")
      local res, err = wx.v3.payscore.serviceorder:post{ json = support.seed(no) }
      assert.is_nil(res)
      assert.equal("protocol", err.kind)
      assert.equal(500, err.status)
      assert.equal(html, err.body)
      assert.is_nil(err.code)
      assert.is_nil(err.detail)
      assert.equal("text/html", err.headers["content-type"])
      assert.matches("^%x+%-0$", err.request_id)
      -- answered instead of the handler: no order was made
      local _, qerr = wx.v3.payscore.serviceorder:get{ query = support.seed_query(no) }
      assert.equal(404, qerr.status)

      fault{ mode = "status", status = 429, body = { code = "FREQUENCY_LIMITED", message = "频率超限" } }
      res, err = wx.v3["spec-client"].echo:get{}
      assert.is_nil(res)
      assert.equal("protocol", err.kind)
      assert.equal(429, err.status)
      assert.equal("FREQUENCY_LIMITED", err.code)
      assert.equal("频率超限", err.message)
      assert.equal('{"code":"FREQUENCY_LIMITED","message":"频率超限"}', err.body)
    end)

    it("decode: a signed 200 that is not JSON (verified first, then refused)", function()
      local seq = support.last_seq(sb)
      fault{ mode = "status", status = 200, body = "<html>not json</html>", content_type = "application/json" }
      local res, err = wx.v3["spec-client"].echo:get{}
      assert.is_nil(res)
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.equal("<html>not json</html>", err.body)
      assert.equal(logged_once(seq).request_id, err.request_id)
      -- verification comes first: a client holding another key under that id refuses the same answer as unverified
      fault{ mode = "status", status = 200, body = "<html>not json</html>", content_type = "application/json" }
      local wrong_key = support.from_sandbox(sb, { certs = { [c.public_key_id] = "file://" .. c.platform_certificate } })
      res, err = wrong_key.v3["spec-client"].echo:get{}
      assert.is_nil(res)
      assert.equal("verification", err.kind)
      assert.equal("SIGNATURE_MISMATCH", err.reason)
      wrong_key:close()
    end)
  end)

  describe("verification of answers", function()
    local function failing(f, reason)
      local seq = support.last_seq(sb)
      fault(f)
      local res, err = wx.v3["spec-client"].echo:get{ query = { case = f.mode } }
      assert.is_nil(res, f.mode)
      assert.equal("verification", err.kind, f.mode)
      assert.equal(reason, err.reason, f.mode)
      assert.equal(200, err.status)
      local entry = logged_once(seq)
      assert.equal(f.mode, entry.fault)
      assert.equal(entry.request_id, err.request_id)
      assert.is_true(#err.body > 0)
      assert.is_number(err.local_time)
      return err
    end

    it("HEADERS_INCOMPLETE for each missing signature header", function()
      for _, h in ipairs{ "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial" } do
        local err = failing({ mode = "drop_header", header = h }, "HEADERS_INCOMPLETE")
        assert.equal("answer is missing " .. h, err.message)
      end
    end)

    it("TIMESTAMP_OFFSET beyond 300 s either way, inclusive window", function()
      local err = failing({ mode = "skew", seconds = -301 }, "TIMESTAMP_OFFSET")
      assert.matches("^%d+$", err.timestamp)
      assert.is_true(err.local_time - tonumber(err.timestamp) >= 301)
      -- +300 always passes: the sandbox signs before we read our clock, so the offset can only shrink
      fault{ mode = "skew", seconds = 300 }
      local before = os.time()
      local res = assert(wx.v3["spec-client"].echo:get{})
      local after = os.time()
      assert.is_true(res.verified)
      local server_time = tonumber(res.headers["wechatpay-timestamp"]) - 300
      assert.is_true(server_time >= before and server_time <= after + 1, "the skew was +300 s")
      -- +301 fails and -300 passes unless a second boundary falls between the sandbox's clock read and ours:
      -- the expected outcome must show within three tries
      local function outcome(seconds, expect_ok)
        for _ = 1, 3 do
          fault{ mode = "skew", seconds = seconds }
          local r, e = wx.v3["spec-client"].echo:get{}
          if expect_ok and r then return true end
          if not expect_ok and e and e.reason == "TIMESTAMP_OFFSET" then return true end
        end
        return false
      end
      assert.is_true(outcome(301, false), "+301 s must fail")
      assert.is_true(outcome(-300, true), "-300 s must pass")
    end)

    it("UNKNOWN_SERIAL names the serial received and the keys configured", function()
      local err = failing({ mode = "unknown_serial", serial = "PUB_KEY_ID_0999999999999999999999999999" },
        "UNKNOWN_SERIAL")
      assert.equal("PUB_KEY_ID_0999999999999999999999999999", err.serial)
      assert.same({ c.public_key_id }, err.known_serials)
      assert.matches(c.public_key_id, err.message, 1, true)
    end)

    it("SIGNATURE_PROBE for a WECHATPAY/SIGNTEST/ signature", function()
      failing({ mode = "probe" }, "SIGNATURE_PROBE")
    end)

    it("SIGNATURE_MISMATCH for a tampered body and for a signature over another message", function()
      local err = failing({ mode = "tamper_body" }, "SIGNATURE_MISMATCH")
      assert.matches(',"tampered":true}$', err.body)
      assert.equal(c.public_key_id, err.serial)
      err = failing({ mode = "tamper_body", body = '{"state":"DONE"}' }, "SIGNATURE_MISMATCH")
      assert.equal('{"state":"DONE"}', err.body)
      failing({ mode = "bad_signature" }, "SIGNATURE_MISMATCH")
    end)

    it("an answer lost to a verification failure still changed the server: query before acting", function()
      local no = new_no("LOST")
      fault{ mode = "bad_signature", match = "/v3/payscore/serviceorder", method = "POST" }
      local res, err = wx.v3.payscore.serviceorder:post{ json = support.seed(no) }
      assert.is_nil(res)
      assert.equal("SIGNATURE_MISMATCH", err.reason)
      assert.equal(no, json.decode(err.body).out_order_no)
      local q = assert(wx.v3.payscore.serviceorder:get{ query = support.seed_query(no) })
      assert.equal("CREATED", q.data.state)
    end)
  end)

  describe("answers without a body", function()
    it("verifies a 204 of E13 over the empty body (a bad signature on it is caught)", function()
      local openid = "oCI204" .. os.time() % 100000
      local function authorize()
        local st = sb.control("POST", "/sandbox/payscore/users/" .. openid .. "/authorize", {})
        assert.equal(200, st)
      end
      local function terminate()
        return wx.v3.payscore.permissions.openid._openid_.terminate:post{
          openid = openid, json = { service_id = c.service_id, appid = c.appid, reason = "用户已不再使用" } }
      end
      authorize()
      fault{ mode = "bad_signature", match = "/v3/payscore/permissions/" }
      local res, err = terminate()
      assert.is_nil(res)
      assert.equal("SIGNATURE_MISMATCH", err.reason)
      assert.equal(204, err.status)
      assert.equal("", err.body)

      authorize()
      local seq = support.last_seq(sb)
      res, err = terminate()
      assert.is_nil(err)
      assert.equal(204, res.status)
      assert.equal("", res.body)
      assert.is_nil(res.data)
      assert.is_true(res.verified)
      assert.equal(logged_once(seq).request_id, res.request_id)
      assert.equal("E13", support.requests_since(sb, seq)[1].route)
    end)

    it("verifies the empty_204 fault's answer", function()
      fault{ mode = "empty_204" }
      local res = assert(wx.v3["spec-client"].echo:post{ json = { x = 1 } })
      assert.equal(204, res.status)
      assert.equal("", res.body)
      assert.is_nil(res.data)
      assert.is_true(res.verified)
    end)
  end)

  describe("connections", function()
    it("keeps the connection alive across sequential calls (also across an error answer)", function()
      local w = support.from_sandbox(sb)
      local conn, seq = nil, support.last_seq(sb)
      for i = 1, 5 do
        local res = assert(w.v3["spec-client"].echo:get{ query = { i = i } })
        assert.equal(i > 1, res.reused, "call " .. i)
        conn = conn or res.data.connection
        assert.equal(conn, res.data.connection, "nginx connection number of call " .. i)
        assert.equal(i, res.data.connection_requests)
      end
      local _, err = w.v3.payscore.serviceorder:get{ query = support.seed_query("NOSUCHORDER2") }
      assert.equal(404, err.status)
      local res = assert(w.v3["spec-client"].echo:get{})
      assert.is_true(res.reused)
      assert.equal(conn, res.data.connection)
      assert.equal(7, res.data.connection_requests)
      -- one connection, so one sandbox worker answered all seven
      local entries = support.requests_since(sb, seq)
      assert.equal(7, #entries)
      for _, e in ipairs(entries) do assert.equal(entries[1].worker, e.worker) end
      w:close()
    end)

    it("overlaps asynchronous calls: 4 answers delayed 800 ms come in about the time of one", function()
      local w = support.from_sandbox(sb)
      local seq = support.last_seq(sb)
      fault{ mode = "delay", ms = 800, match = "/v3/spec-client/items/", count = 8 }
      -- control: one after the other
      local t0 = support.uptime()
      for i = 1, 4 do assert(w.v3["spec-client"].items._id_:get{ id = "seq" .. i }) end
      local sequential = support.uptime() - t0
      -- the same four at once
      t0 = support.uptime()
      local ps = {}
      for i = 1, 4 do ps[i] = w.v3["spec-client"].items._id_:getAsync{ id = "par" .. i } end
      local all = assert(wechatpay.all(ps):wait())
      local overlapped = support.uptime() - t0
      for i = 1, 4 do
        assert.equal("par" .. i, all[i].data.params[1])
        assert.is_true(all[i].verified)
      end
      local delayed = 0
      for _, e in ipairs(support.requests_since(sb, seq)) do
        if e.fault == "delay" then
          delayed = delayed + 1
          assert.is_true(e.duration_ms >= 800, "the sandbox held each answer 800 ms")
        end
      end
      assert.equal(8, delayed)
      assert.is_true(sequential >= 3.2 - 0.05, "the control took 4 x 800 ms: " .. sequential)
      assert.is_true(overlapped < 2.4, ("4 overlapped calls took %.2f s (sequential %.2f s)"):format(overlapped,
        sequential))
      w:close()
    end)
  end)

  describe("sensitive fields", function()
    it("sends Wechatpay-Serial for a field encrypted with wx:encrypt, and the sandbox decrypts it", function()
      local ct, id = wxr:encrypt("张三")
      assert.equal(c.public_key_id, id)
      local res = assert(wxr.v3["spec-client"].echo:post{ json = { secret = ct, name = "plain" } })
      assert.equal(c.public_key_id, res.data.headers["wechatpay-serial"])
      assert.equal("张三", res.data.secret_plain)
      assert.equal(c.public_key_id, support.header(rec.sent[#rec.sent].headers, "Wechatpay-Serial"))
      -- without an encrypted field, no header
      res = assert(wxr.v3["spec-client"].echo:post{ json = { name = "plain" } })
      assert.is_nil(res.data.headers["wechatpay-serial"])
    end)

    it("refuses a request mixing fields encrypted with two keys, before any I/O", function()
      local both = support.from_sandbox(sb, { certs = {
        [c.public_key_id] = "file://" .. c.public_key, [c.platform_serial] = "file://" .. c.platform_certificate } })
      local a = assert(both:encrypt("张三", c.public_key_id))
      local b = assert(both:encrypt("李四", c.platform_serial))
      local seq = support.last_seq(sb)
      local res, err = both.v3["spec-client"].echo:post{ json = { secret = a, other = b } }
      assert.is_nil(res)
      assert.equal("usage", err.kind)
      assert.equal(0, #support.requests_since(sb, seq))
      res = assert(both.v3["spec-client"].echo:post{ json = { secret = b } })
      assert.equal(c.platform_serial, res.data.headers["wechatpay-serial"])
      assert.equal("李四", res.data.secret_plain)
      both:close()
    end)
  end)

  describe("keys of the other mode", function()
    it("a client holding only the platform certificate fails with UNKNOWN_SERIAL in public-key mode", function()
      local cert_only = support.from_sandbox(sb, { certs = support.platform_certs(sb) })
      local res, err = cert_only.v3["spec-client"].echo:get{}
      assert.is_nil(res)
      assert.equal("UNKNOWN_SERIAL", err.reason)
      assert.equal(c.public_key_id, err.serial)
      assert.same({ c.platform_serial }, err.known_serials)
      -- a client holding both verifies either
      local both = support.from_sandbox(sb, { certs = {
        [c.public_key_id] = "file://" .. c.public_key, [c.platform_serial] = "file://" .. c.platform_certificate } })
      assert.is_true(assert(both.v3["spec-client"].echo:get{}).verified)
      cert_only:close()
      both:close()
    end)
  end)
end)
