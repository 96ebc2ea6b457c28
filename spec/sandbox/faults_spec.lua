-- Fault injection of the sandbox (POST /sandbox/faults): every mode does what it says, counts, matching, phases.

local sandbox = require "spec.support.sandbox"
local json = require "wechatpay.codec.json"

describe("sandbox faults", function()
  local sb = sandbox.setup{ routes = sandbox.TEST_ROUTES }
  if not sb then return end
  before_each(function()
    assert.are.equal(200, (sb:control("DELETE", "/sandbox/faults")))
  end)

  local function echo() return sb:request{ target = "/v3/sandbox-test/echo" } end
  local function touch(i)
    return sb:request{ method = "POST", target = "/v3/sandbox-test/items/" .. (i or "f") .. "/touch", body = "{}" }
  end
  local function count()
    return json.decode(sb:request{ target = "/v3/sandbox-test/counter" }.body).count
  end

  it("bad_signature: a well-formed signature that does not verify, once", function()
    local f = sb:fault{ match = "/v3/sandbox-test/echo", mode = "bad_signature" }
    assert.is_number(f.id)
    local res = echo()
    assert.are.equal(200, res.status)
    assert.matches("^[A-Za-z0-9+/]+=*$", res.headers["wechatpay-signature"])
    assert.are.equal(344, #res.headers["wechatpay-signature"])
    assert.is_false((sb:verify(res)))
    local again = echo()
    assert.is_true((sb:verify(again)))
  end)

  it("faults other than status and delay apply after the handler ran", function()
    local before = count()
    sb:fault{ match = "/v3/sandbox-test/items/", mode = "bad_signature" }
    local res = touch()
    assert.are.equal(200, res.status)
    assert.is_false((sb:verify(res)))
    assert.are.equal(before + 1, count())
  end)

  it("drop_header removes the named header and keeps the others", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "drop_header", header = "Wechatpay-Timestamp" }
    local res = echo()
    assert.are.equal(200, res.status)
    assert.is_nil(res.headers["wechatpay-timestamp"])
    assert.is_truthy(res.headers["wechatpay-signature"])
    assert.is_truthy(res.headers["wechatpay-serial"])
    assert.is_truthy(res.headers["request-id"])
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "drop_header" }
    res = echo()
    assert.is_nil(res.headers["wechatpay-signature"])
    assert.is_truthy(res.headers["wechatpay-timestamp"])
  end)

  it("skew adds seconds to Wechatpay-Timestamp and the signature still verifies", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "skew", seconds = 600 }
    local res = echo()
    local ts = tonumber(res.headers["wechatpay-timestamp"])
    assert.is_true(math.abs(ts - (os.time() + 600)) <= 5)
    local ok, out = sb:verify(res)
    assert.is_true(ok, out)
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "skew", seconds = -400 }
    ts = tonumber(echo().headers["wechatpay-timestamp"])
    assert.is_true(math.abs(ts - (os.time() - 400)) <= 5)
  end)

  it("unknown_serial names a key the client does not have", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "unknown_serial" }
    local res = echo()
    local serial = res.headers["wechatpay-serial"]
    assert.are_not.equal(sb.config.public_key_id, serial)
    assert.are_not.equal(sb.config.platform_serial, serial)
    assert.matches("^PUB_KEY_ID_%d+$", serial)
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "unknown_serial", serial = "7132D72A03E93CDDF8C03BBD1F37EEDF" }
    assert.are.equal("7132D72A03E93CDDF8C03BBD1F37EEDF", echo().headers["wechatpay-serial"])
  end)

  it("probe sends a WECHATPAY/SIGNTEST/ signature", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "probe" }
    local res = echo()
    assert.matches("^WECHATPAY/SIGNTEST/", res.headers["wechatpay-signature"])
    assert.is_false((sb:verify(res)))
  end)

  it("tamper_body changes the body after signing", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "tamper_body" }
    local res = echo()
    assert.are.equal(200, res.status)
    local b = assert(json.decode(res.body))
    assert.is_true(b.tampered)
    assert.is_false((sb:verify(res)))
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "tamper_body", body = '{"changed":1}' }
    res = echo()
    assert.are.equal('{"changed":1}', res.body)
    assert.is_false((sb:verify(res)))
  end)

  it("status answers instead of the handler: a 500 HTML page, a 429 JSON body, a signed 200 that is not JSON",
    function()
      local before = count()
      sb:fault{ match = "/v3/sandbox-test/items/", mode = "status", status = 500,
        body = "<html><body><h1>500 Internal Server Error</h1></body></html>", content_type = "text/html" }
      local res = touch()
      assert.are.equal(500, res.status)
      assert.matches("^text/html", res.headers["content-type"])
      assert.matches("<h1>500", res.body)
      assert.is_nil(res.headers["wechatpay-signature"])
      assert.is_truthy(res.headers["request-id"])
      assert.are.equal(before, count()) -- the handler did not run

      sb:fault{ match = "/v3/sandbox-test/", method = "GET", mode = "status", status = 429,
        body = { code = "FREQUENCY_LIMITED", message = "频率超限" }, headers = { ["Retry-After"] = "1" } }
      res = echo()
      assert.are.equal(429, res.status)
      assert.are.equal("FREQUENCY_LIMITED", json.decode(res.body).code)
      assert.are.equal("1", res.headers["retry-after"])
      assert.matches("%-268435472$", res.headers["request-id"])

      sb:fault{ match = "/v3/sandbox-test/echo", mode = "status", status = 200, body = "not json at all",
        content_type = "text/plain" }
      res = echo()
      assert.are.equal(200, res.status)
      assert.are.equal("not json at all", res.body)
      local ok, out = sb:verify(res)
      assert.is_true(ok, out)
    end)

  it("delay waits before answering (ngx.sleep), then answers normally", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "delay", ms = 1200 }
    sb:control("DELETE", "/sandbox/requests")
    local res = echo()
    assert.are.equal(200, res.status)
    assert.is_true((sb:verify(res)))
    local log = sb:requests()
    assert.are.equal("delay", log[1].fault)
    assert.is_true(log[1].duration_ms >= 1150, "duration " .. tostring(log[1].duration_ms))
  end)

  it("a delay can be added to any mode", function()
    sb:fault{ match = "/v3/sandbox-test/echo", mode = "probe", delay = 600 }
    sb:control("DELETE", "/sandbox/requests")
    local res = echo()
    assert.matches("^WECHATPAY/SIGNTEST/", res.headers["wechatpay-signature"])
    assert.is_true(sb:requests()[1].duration_ms >= 550)
  end)

  it("empty_204 answers a signed 204 with an empty body after the handler ran", function()
    local before = count()
    sb:fault{ match = "/v3/sandbox-test/items/", mode = "empty_204" }
    local res = touch()
    assert.are.equal(204, res.status)
    assert.are.equal("", res.body)
    local ok, out = sb:verify(res)
    assert.is_true(ok, out)
    assert.are.equal(before + 1, count())
  end)

  it("matches a path prefix and a method, and counts", function()
    sb:fault{ match = "/v3/sandbox-test/echo", method = "POST", mode = "probe", count = 2 }
    assert.is_true((sb:verify(echo()))) -- GET: not matched
    local function post() return sb:request{ method = "POST", target = "/v3/sandbox-test/echo", body = "{}" } end
    assert.matches("^WECHATPAY/SIGNTEST/", post().headers["wechatpay-signature"])
    assert.matches("^WECHATPAY/SIGNTEST/", post().headers["wechatpay-signature"])
    assert.is_true((sb:verify(post())))
    local _, list = sb:control("GET", "/sandbox/faults")
    assert.are.equal(2, list.data[1].hits)
    assert.are.equal(0, list.data[1].remaining)
  end)

  it("count -1 applies until the fault is deleted", function()
    local f = sb:fault{ match = "/v3/sandbox-test/echo", mode = "probe", count = -1 }
    for _ = 1, 3 do assert.matches("^WECHATPAY/SIGNTEST/", echo().headers["wechatpay-signature"]) end
    local st, b = sb:control("DELETE", "/sandbox/faults/" .. f.id)
    assert.are.equal(200, st)
    assert.are.equal(1, b.removed)
    assert.is_true((sb:verify(echo())))
    assert.are.equal(404, (sb:control("DELETE", "/sandbox/faults/" .. f.id)))
  end)

  it("signature faults wait for a 2xx answer: an error answer does not use them up", function()
    sb:fault{ match = "/v3/sandbox-test/", mode = "probe" }
    local res = sb:request{ target = "/v3/sandbox-test/missing" }
    assert.are.equal(404, res.status)
    assert.matches("^WECHATPAY/SIGNTEST/", echo().headers["wechatpay-signature"])
  end)

  it("never apply to /sandbox/ control paths and refuse invalid definitions", function()
    sb:fault{ match = "/", mode = "status", status = 503, count = -1 }
    local st = sb:control("GET", "/sandbox/health")
    assert.are.equal(200, st)
    assert.are.equal(503, echo().status)
    assert.are.equal(400, (sb:control("POST", "/sandbox/faults", { mode = "explode" })))
    assert.are.equal(400, (sb:control("POST", "/sandbox/faults", { mode = "status" })))
    assert.are.equal(400, (sb:control("POST", "/sandbox/faults", { mode = "probe", count = 0 })))
    assert.are.equal(400, (sb:control("POST", "/sandbox/faults", { mode = "probe", match = "v3" })))
    assert.are.equal(400, (sb:control("POST", "/sandbox/faults", { mode = "delay" })))
  end)
end)
