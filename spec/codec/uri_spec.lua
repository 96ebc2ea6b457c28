-- spec/codec/uri_spec.lua - the chainable-URI rules of apiv3-protocol §7 (lua/wechatpay/codec/uri.lua).
local uri = require "wechatpay.codec.uri"
local errors = require "wechatpay.errors"

local function usage_err(v, err)
  assert.is_nil(v)
  assert.is_true(errors.is(err))
  assert.equal("usage", err.kind)
  return err
end

describe("uri.segment (§7.2)", function()
  it("normalises identifier keys as the table of §7.2 says", function()
    local cases = {
      { "V3", "v3" }, { "merchantService", "merchant-service" },
      { "ComplaintNotifications", "complaint-notifications" }, { "complaintsV2", "complaints-v2" },
      { "sendPendingmessage", "send-pendingmessage" }, { "imageUpload", "image-upload" },
      { "video_upload", "video_upload" }, { "_out_order_no_", "{out_order_no}" },
      { "_outOrderNo_", "{outOrderNo}" }, { "v3/x/N123", "v3/x/N123" },
    }
    for _, c in ipairs(cases) do
      assert.equal(c[2], uri.segment(c[1]), c[1])
    end
  end)

  it("keeps __ literal and handles other identifier shapes", function()
    assert.equal("__", uri.segment("__"))
    assert.equal("{_}", uri.segment("___"))
    assert.equal("{a}", uri.segment("_a_"))
    assert.equal("_a", uri.segment("_a"))
    assert.equal("a_", uri.segment("a_"))
    assert.equal("payscore", uri.segment("payscore"))
    assert.equal("serviceorder", uri.segment("serviceorder"))
    assert.equal("a-b-c", uri.segment("ABC"))
    assert.equal("x1-y2", uri.segment("X1Y2"))
    assert.equal("_-x", uri.segment("_X"))
  end)

  it("appends any other string literally, case and all", function()
    for _, s in ipairs{ "N123/x", "complaints-v2", "{out_order_no}", "a.b", "AbC-D", "v3/payscore/serviceorder/",
      "9abc", "{+media}" } do
      assert.equal(s, uri.segment(s))
    end
  end)

  it("refuses non-string and empty keys", function()
    usage_err(uri.segment(1))
    usage_err(uri.segment(true))
    usage_err(uri.segment(""))
  end)
end)

describe("uri.expand (§7.3)", function()
  it("expands every placeholder example of §9 exactly", function()
    assert.equal("/v3/x/o%2Fa%20b~", uri.target("/", uri.expand("v3/x/{openid}", { openid = "o/a b~" })))
    assert.equal("/v3/a/AbC%2F1", uri.target("/", uri.expand("{+myurl}", { myurl = "v3/a/AbC%2F1" })))
    local err = usage_err(uri.expand("v3/x/{id}", { id = nil }))
    assert.equal("id", err.placeholder)
    assert.equal('wechatpay usage error: missing value for placeholder {id} in path "v3/x/{id}"', tostring(err))
    assert.equal("/v3/x?a=1&b=x%20y&c=true", uri.target("/", uri.expand("v3/x", {}),
      { b = "x y", a = 1, c = true }))
  end)

  it("percent-encodes every byte outside the unreserved set with upper-case hex in {name}", function()
    assert.equal("v3/%25%2B%3F%23%26%3D%2C%3B%3A%40", uri.expand("v3/{v}", { v = "%+?#&=,;:@" }))
    assert.equal("v3/%E4%B8%AD-._~AZaz09", uri.expand("v3/{v}", { v = "\228\184\173-._~AZaz09" }))
    assert.equal("v3/%00%0A%7F%FF", uri.expand("v3/{v}", { v = "\0\n\127\255" }))
    assert.equal("v3/a%20b/c", uri.expand("v3/{x}/c", { x = "a b" }))
  end)

  it("keeps reserved characters and valid %XX triplets in {+name}, and encodes the rest", function()
    assert.equal(":/?#[]@!$&'()*+,;=", uri.expand("{+v}", { v = ":/?#[]@!$&'()*+,;=" }))
    assert.equal("media/AbC%2f%2F%41", uri.expand("media/{+v}", { v = "AbC%2f%2F%41" }))
    assert.equal("a%20b%25zz%25%25%E4%B8%AD", uri.expand("{+v}", { v = "a b%zz%%\228\184\173" }))
    assert.equal("x%254", uri.expand("{+v}", { v = "x%4" }))
  end)

  it("formats integers without a decimal point", function()
    assert.equal("v3/x/42/-7", uri.expand("v3/x/{a}/{b}", { a = 42, b = -7 }))
    assert.equal("v3/x/42", uri.expand("v3/x/{a}", { a = 42.0 }))
    assert.equal("v3/x/9007199254740991", uri.expand("v3/x/{a}", { a = 9007199254740991 }))
    usage_err(uri.expand("v3/x/{a}", { a = 2 ^ 53 }))
  end)

  it("refuses values that are not strings or integers, and empty values", function()
    for _, v in ipairs{ 1.5, 0 / 0, math.huge, true, {}, print } do
      local err = usage_err(uri.expand("v3/x/{a}", { a = v }))
      assert.equal("a", err.placeholder)
      assert.matches("placeholder {a}: must be a string or an integer", err.message)
    end
    local err = usage_err(uri.expand("v3/{+a}/x", { a = "" }))
    assert.equal('empty value for placeholder {+a} in path "v3/{+a}/x"', err.message)
  end)

  it("refuses unbalanced braces and bad placeholder names", function()
    for _, t in ipairs{ "v3/{a", "v3/a}", "v3/{a{b}}", "{", "}", "v3/}{a}" } do
      local err = usage_err(uri.expand(t, { a = "1", b = "2" }))
      assert.matches("unbalanced braces", err.message, nil, true)
    end
    for _, t in ipairs{ "v3/{}", "v3/{+}", "v3/{a-b}", "v3/{a b}", "v3/{#a}" } do
      local err = usage_err(uri.expand(t, { a = "1" }))
      assert.matches("invalid placeholder", err.message, nil, true)
    end
  end)

  it("refuses placeholder names that collide with option keys", function()
    for _, k in ipairs{ "json", "body", "query", "headers", "timeout", "media", "validate" } do
      local err = usage_err(uri.expand("v3/{" .. k .. "}", { [k] = "x" }))
      assert.matches("collides with the option key", err.message, nil, true)
      usage_err(uri.expand("v3/{+" .. k .. "}", { [k] = "x" }))
    end
  end)

  it("copies literal text as it is, case included, and encodes only bytes not allowed in a URI", function()
    assert.equal("v3/x/N123/addInstitutionsub", uri.expand("v3/x/N123/addInstitutionsub"))
    assert.equal("v3/payscore/serviceorder/N-1/cancel", uri.expand("v3/payscore/serviceorder/{o}/cancel",
      { o = "N-1" }))
    assert.equal("v3/a%20b/%E4%B8%AD/%2F/%25zz/", uri.expand("v3/a b/\228\184\173/%2F/%zz/"))
    local t = "v3/merchant-service/complaints-v2"
    assert.equal(t, uri.expand(t, nil))
    assert.has_error(function() uri.expand(nil, {}) end)
  end)

  it("expands several placeholders and leaves option values alone", function()
    local opts = { out_order_no = "N 1", service_id = "500001", json = { a = 1 } }
    assert.equal("v3/payscore/serviceorder/N%201/x/500001",
      uri.expand("v3/payscore/serviceorder/{out_order_no}/x/{service_id}", opts))
  end)
end)

describe("uri.query (§7.4)", function()
  it("sorts keys byte-wise and percent-encodes keys and values (space is %20)", function()
    assert.equal("A=1&B=2&a=3&b=4", uri.query{ b = 4, a = 3, B = 2, A = 1 })
    assert.equal("k%20k=v%20v%2Bw%26x%3Dy%2F~", uri.query{ ["k k"] = "v v+w&x=y/~" })
    assert.equal("q=%E4%B8%AD", uri.query{ q = "\228\184\173" })
    assert.equal("limit=10&offset=0", uri.query{ limit = 10, offset = 0 })
  end)

  it("sorts byte-wise under another collation locale too", function()
    local saved = os.setlocale(nil, "collate")
    if not os.setlocale("C.UTF-8", "collate") then
      pending("no C.UTF-8 locale here")
      return
    end
    local ok, q = pcall(uri.query, { a = 1, B = 2, _ = 3, ab = 4, aB = 5 })
    os.setlocale(saved, "collate")
    assert.is_true(ok, q)
    assert.equal("B=2&_=3&a=1&aB=5&ab=4", q)
  end)

  it("writes booleans and integral numbers, omits nil, and passes strings verbatim", function()
    assert.equal("a=true&b=false&c=5", uri.query{ a = true, b = false, c = 5.0 })
    assert.equal("b=1", uri.query{ a = nil, b = 1 })
    assert.equal("", uri.query{})
    assert.equal("", uri.query(nil))
    assert.equal("x=a+b&y=%zz", uri.query("x=a+b&y=%zz"))
  end)

  it("refuses tables, functions, non-integral numbers and non-string keys", function()
    local err = usage_err(uri.query{ a = { 1 } })
    assert.equal("a", err.parameter)
    assert.matches('query parameter "a": must be a string, an integer or a boolean, got table', err.message,
      nil, true)
    usage_err(uri.query{ a = print })
    usage_err(uri.query{ a = 1.5 })
    usage_err(uri.query{ a = 0 / 0 })
    usage_err(uri.query{ "positional" })
    usage_err(uri.query(42))
  end)
end)

describe("uri.target", function()
  it("joins the base path, the path and the query", function()
    assert.equal("/v3/x", uri.target("/", "v3/x"))
    assert.equal("/v3/x", uri.target(nil, "v3/x"))
    assert.equal("/hk/v3/x", uri.target("/hk/", "v3/x"))
    assert.equal("/hk/v3/x", uri.target("/hk", "v3/x"))
    assert.equal("/v3/x", uri.target("/", "/v3/x"))
    assert.equal("/v3/x/", uri.target("/", "v3/x/"))
    assert.equal("/v3/x?a=1", uri.target("/", "v3/x", { a = 1 }))
    assert.equal("/v3/x?z=1&a=2", uri.target("/", "v3/x", "z=1&a=2"))
    assert.equal("/v3/x?z=1", uri.target("/", "v3/x", "?z=1"))
    assert.equal("/v3/x", uri.target("/", "v3/x", {}))
    assert.equal("/v3/x?a=1&b=2", uri.target("/", "v3/x?a=1", { b = 2 }))
  end)

  it("refuses APIv2 paths (first segment v2, any case)", function()
    for _, p in ipairs{ "v2/pay/micropay", "V2/x", "/v2/x", "v2", "v2?x=1" } do
      local err = usage_err(uri.target("/", p))
      assert.matches("APIv2 is out of scope", err.message, nil, true)
    end
    usage_err(uri.target("/hk/", "v2/x"))
    assert.equal("/v20/x", uri.target("/", "v20/x"))
    assert.equal("/v3/v2", uri.target("/", "v3/v2"))
    assert.is_true(uri.is_v2("V2/x"))
    assert.is_false(uri.is_v2("v3/x"))
  end)

  it("passes query errors on", function()
    usage_err(uri.target("/", "v3/x", { a = {} }))
  end)
end)

describe("uri.split_base", function()
  it("splits the origin and the base path", function()
    local o, p = uri.split_base("https://api.mch.weixin.qq.com/")
    assert.equal("https://api.mch.weixin.qq.com", o)
    assert.equal("/", p)
    o, p = uri.split_base("https://api.mch.weixin.qq.com")
    assert.equal("https://api.mch.weixin.qq.com", o)
    assert.equal("/", p)
    o, p = uri.split_base("https://api.mch.weixin.qq.com/hk/")
    assert.equal("https://api.mch.weixin.qq.com", o)
    assert.equal("/hk/", p)
    o, p = uri.split_base("https://apihk.mch.weixin.qq.com/hk")
    assert.equal("https://apihk.mch.weixin.qq.com", o)
    assert.equal("/hk/", p)
    o, p = uri.split_base("HTTPS://127.0.0.1:18443/a/b/")
    assert.equal("https://127.0.0.1:18443", o)
    assert.equal("/a/b/", p)
    o = uri.split_base("https://[::1]:8443/")
    assert.equal("https://[::1]:8443", o)
  end)

  it("accepts http only when asked", function()
    local o, err = uri.split_base("http://127.0.0.1:8080/")
    assert.is_nil(o)
    assert.equal("config", err.kind)
    assert.equal("http://127.0.0.1:8080", (uri.split_base("http://127.0.0.1:8080/", { allow_http = true })))
  end)

  it("refuses malformed base URIs with a config error", function()
    for _, b in ipairs{ "api.mch.weixin.qq.com", "https://", "https:///x", "https://u:p@host/", "https://h/?a=1",
      "https://h/#f", "https://h/a b/", "ftp://h/", "https://h:x/", 42 } do
      local o, err = uri.split_base(b)
      assert.is_nil(o, tostring(b))
      assert.is_true(errors.is(err))
      assert.equal("config", err.kind)
    end
  end)
end)
