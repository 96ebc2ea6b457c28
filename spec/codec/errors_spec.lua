-- spec/codec/errors_spec.lua - the error values (lua/wechatpay/errors.lua).
local errors = require "wechatpay.errors"

describe("errors", function()
  it("has the seven kinds of §6.2", function()
    assert.same({ "config", "usage", "transport", "protocol", "verification", "crypto", "decode" }, errors.KINDS)
  end)

  it("builds values with kind and the given fields", function()
    local headers = { ["Request-ID"] = "r1" }
    local e = errors.new("protocol", { status = 400, code = "PARAM_ERROR", message = "m", headers = headers,
      body = "{}", request_id = "r1", kind = "ignored" })
    assert.equal("protocol", e.kind)
    assert.equal(400, e.status)
    assert.equal("PARAM_ERROR", e.code)
    assert.equal(headers, e.headers)
    assert.equal("{}", e.body)
    assert.is_true(errors.is(e))
    assert.equal("m", errors.new("usage", "m").message)
    assert.equal("usage", errors.usage("x").kind)
    assert.equal("crypto", errors.crypto{ reason = "r" }.kind)
    assert.equal("decode", errors.new("decode").kind)
  end)

  it("raises for an unknown kind or bad fields (programming mistakes)", function()
    assert.has_error(function() errors.new("http", {}) end)
    assert.has_error(function() errors.new(nil, {}) end)
    assert.has_error(function() errors.new("usage", 42) end)
  end)

  it("tells our errors from anything else", function()
    assert.is_true(errors.is(errors.new("config", { message = "x" })))
    assert.is_false(errors.is({ kind = "usage" }))
    assert.is_false(errors.is("usage"))
    assert.is_false(errors.is(nil))
  end)

  it("reads well in a log", function()
    assert.equal("wechatpay protocol error: 400 PARAM_ERROR \229\143\130\230\149\176\233\148\153\232\175\175 "
      .. "(field /amount/currency: Currency code is invalid) [request-id 08F78BB20]",
      tostring(errors.new("protocol", { status = 400, code = "PARAM_ERROR",
        message = "\229\143\130\230\149\176\233\148\153\232\175\175",
        detail = { field = "/amount/currency", value = "XYZ", issue = "Currency code is invalid", location = "body" },
        request_id = "08F78BB20" })))
    assert.equal("wechatpay verification error: UNKNOWN_SERIAL: serial 5157F09EFDC096DE15EBE81A47057A72 is not in "
      .. "the certs map (HTTP 200) [request-id r2]",
      tostring(errors.new("verification", { reason = "UNKNOWN_SERIAL", status = 200, request_id = "r2",
        message = "serial 5157F09EFDC096DE15EBE81A47057A72 is not in the certs map" })))
    assert.equal("wechatpay transport error: curl 28: Operation timed out after 2000 milliseconds",
      tostring(errors.new("transport", { curl_code = 28, message = "Operation timed out after 2000 milliseconds" })))
    local msg = "/post_payments/0/amount: must be an integer number of fen, got 400.5"
    assert.equal("wechatpay usage error: " .. msg, tostring(errors.new("usage", { message = msg })))
    assert.equal("wechatpay crypto error: AUTH_FAILED: authentication tag mismatch",
      tostring(errors.new("crypto", { reason = "AUTH_FAILED", message = "authentication tag mismatch" })))
    assert.equal("wechatpay config error", tostring(errors.new("config")))
    assert.equal("wechatpay protocol error: 404 ORDER_NOT_EXIST x (location query)",
      tostring(errors.new("protocol", { status = 404, code = "ORDER_NOT_EXIST", message = "x",
        detail = { location = "query" } })))
  end)

  it("shortens a long raw body in the text but keeps it whole in the field", function()
    local body = "<html>\n<head><title>502 Bad Gateway</title></head>\n" .. string.rep("\228\184\173", 200) .. "</html>"
    local e = errors.new("protocol", { status = 502, body = body, request_id = "" })
    assert.equal(body, e.body)
    local text = tostring(e)
    assert.matches("^wechatpay protocol error: 502 body: <html> <head><title>502 Bad Gateway</title></head> ", text)
    assert.matches("\226\128\166$", text) -- ends with an ellipsis
    assert.is_true(#text <= 260, #text)
    assert.is_nil(text:find("\n", 1, true))
    -- the cut never splits a UTF-8 sequence
    local cut = text:sub(1, -4)
    assert.is_nil(cut:find("[\228][\128-\191]?$"))
    assert.equal(0, (#cut - #"wechatpay protocol error: 502 body: <html> <head><title>502 Bad Gateway</title></head> ")
      % 3)
    local d = errors.new("decode", { status = 200, message = "JSON: unexpected character '<' at byte 1",
      body = body })
    assert.is_true(#tostring(d) <= 300)
    assert.equal("wechatpay decode error: JSON: x (HTTP 200) body: (empty)",
      tostring(errors.new("decode", { status = 200, message = "JSON: x", body = "" })))
  end)

  it("summarises an unknown detail shape without the whole table", function()
    local e = errors.new("protocol", { status = 400, code = "X", message = "y",
      detail = { b = 2, a = "1", nested = { 1 } } })
    assert.equal("wechatpay protocol error: 400 X y (a=1, b=2)", tostring(e))
  end)
end)
