-- The ngx transport's pure parts (URL, request head, status line, response and chunk parsing), outside nginx,
-- under Lua 5.4 and LuaJIT. The socket is a mock that behaves like an ngx_lua cosocket at the receive edge
-- ("*l" lines without CR/LF, receive(n) exact sizes, nil/"closed"/partial at the end, nil/"timeout" on a stall).
-- Everything above the socket is the real code; spec/openresty/transport_spec.lua drives it in a real nginx.

local ngxt = require "wechatpay.transport.ngx"
local transport = require "wechatpay.transport"
local errors = require "wechatpay.errors"
local I = ngxt._internal

-- A socket serving `data`; at its end: "closed" (default) or "timeout" (stall = true).
local function mock(data, stall)
  local s = { rest = data, reads = 0, timeouts = {} }
  local function fail(partial)
    if stall then return nil, "timeout", partial end
    return nil, "closed", partial
  end
  function s.settimeout(self, t) self.timeouts[#self.timeouts + 1] = t end
  function s.receive(self, pat)
    self.reads = self.reads + 1
    if pat == "*l" then
      local i = self.rest:find("\n", 1, true)
      if not i then
        local p = self.rest:gsub("\r", "")
        self.rest = ""
        return fail(p)
      end
      local line = self.rest:sub(1, i - 1):gsub("\r", "")
      self.rest = self.rest:sub(i + 1)
      return line
    end
    assert(type(pat) == "number" and pat > 0, "unexpected receive pattern " .. tostring(pat))
    if #self.rest >= pat then
      local d = self.rest:sub(1, pat)
      self.rest = self.rest:sub(pat + 1)
      return d
    end
    local p = self.rest
    self.rest = ""
    return fail(p)
  end
  return s
end

local function ctx(over)
  local c = { now = function() return 100 end, deadline = 110, max_body = 1024 }
  for k, v in pairs(over or {}) do c[k] = v end
  return c
end

local function read(data, method, over, stall)
  local sock = mock(data, stall)
  local res, keep = I.read_response(sock, method or "GET", ctx(over))
  return res, keep, sock
end

local function header(res, name)
  local out = {}
  for _, h in ipairs(res.headers) do
    if h[1]:lower() == name:lower() then out[#out + 1] = h[2] end
  end
  return (table.unpack or unpack)(out) -- luacheck: ignore 143
end

describe("ngx transport, parsing helpers (outside nginx)", function()
  describe("parse_url", function()
    it("splits an https URL and keeps the target byte for byte", function()
      local u = assert(I.parse_url("https://api.mch.weixin.qq.com/v3/pay%2Fscore/a%20b?x=%E4%B8%AD&y=a+b&z="))
      assert.same({ "https", true, "api.mch.weixin.qq.com", 443 }, { u.scheme, u.tls, u.host, u.port })
      assert.equal("/v3/pay%2Fscore/a%20b?x=%E4%B8%AD&y=a+b&z=", u.target)
      assert.equal("api.mch.weixin.qq.com", u.authority)
      assert.equal("api.mch.weixin.qq.com", u.sni)
      assert.is_nil(u.ip)
    end)

    it("takes ports, IP literals, empty targets and bare queries", function()
      local u = assert(I.parse_url("http://127.0.0.1:8080"))
      assert.same({ false, "127.0.0.1", 8080, "/", "127.0.0.1:8080", "4" },
        { u.tls, u.host, u.port, u.target, u.authority, u.ip })
      u = assert(I.parse_url("HTTPS://[::1]:9443?a=1#frag"))
      assert.same({ "https", "[::1]", 9443, "/?a=1", "[::1]:9443", "::1", "6" },
        { u.scheme, u.host, u.port, u.target, u.authority, u.sni, u.ip })
      u = assert(I.parse_url("https://h.example:443/x#y"))
      assert.equal("h.example", u.authority) -- default port not repeated in Host
      assert.equal("/x", u.target)
      u = assert(I.parse_url("http://h.example:/p"))
      assert.equal(80, u.port)
    end)

    it("refuses what it cannot send", function()
      for _, bad in ipairs({ "ftp://h/x", "/v3/x", "https:///x", "https://h:0/", "https://h:70000/",
                             "https://u:p@h/", "https://h/a b", "https://h/a\r\nX: y", "https://h:8x/",
                             "https://h_ !/" }) do
        local u, err = I.parse_url(bad)
        assert.is_nil(u, bad)
        assert.is_string(err)
      end
      assert.is_nil((I.parse_url(42)))
    end)
  end)

  describe("build_request", function()
    local u = assert(I.parse_url("https://api.example:8443/v3/x?a=%20"))

    it("writes the request line, Host, the caller's headers in order, Content-Length, Connection, the body", function()
      local head, close = I.build_request("POST", u,
        { { "Accept", "application/json" }, { "Authorization", "WECHATPAY2-SHA256-RSA2048 x=\"1\"" },
          "X-Str:  v  " }, '{"a":1}', true)
      assert.equal("POST /v3/x?a=%20 HTTP/1.1\r\nHost: api.example:8443\r\nAccept: application/json\r\n"
        .. "Authorization: WECHATPAY2-SHA256-RSA2048 x=\"1\"\r\nX-Str: v\r\nContent-Length: 7\r\n"
        .. "Connection: keep-alive\r\n\r\n{\"a\":1}", head)
      assert.is_false(close)
    end)

    it("adds Content-Length: 0 to body methods only, and no Expect", function()
      local get = assert(I.build_request("GET", u, {}, nil, true))
      assert.is_nil(get:find("Content-Length", 1, true))
      local post = assert(I.build_request("POST", u, {}, nil, true))
      assert.truthy(post:find("\r\nContent-Length: 0\r\n", 1, true))
      assert.is_nil(post:find("Expect", 1, true))
      local del = assert(I.build_request("DELETE", u, nil, "", true))
      assert.truthy(del:find("\r\nContent-Length: 0\r\n", 1, true))
    end)

    it("keeps the caller's Host, Connection and a matching Content-Length", function()
      local head, close = I.build_request("PUT", u, { { "Host", "other" }, { "Connection", "close" },
        { "Content-Length", "2" } }, "ab", true)
      assert.equal("PUT /v3/x?a=%20 HTTP/1.1\r\nHost: other\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab",
        head)
      assert.is_true(close)
      local _, close2 = I.build_request("GET", u, {}, nil, false)
      assert.is_true(close2)
      assert.truthy((I.build_request("GET", u, {}, nil, false)):find("\r\nConnection: close\r\n", 1, true))
    end)

    it("refuses header injection, bad names, bad methods and inconsistent lengths", function()
      assert.is_nil((I.build_request("GET", u, { { "X", "a\r\nEvil: 1" } })))
      assert.is_nil((I.build_request("GET", u, { { "X", "a\nb" } })))
      assert.is_nil((I.build_request("GET", u, { { "Bad Name", "v" } })))
      assert.is_nil((I.build_request("GET", u, { { "X" } })))
      assert.is_nil((I.build_request("G T", u, {})))
      assert.is_nil((I.build_request("POST", u, { { "Content-Length", "3" } }, "ab")))
      assert.is_nil((I.build_request("POST", u, { { "Transfer-Encoding", "chunked" } }, "ab")))
      assert.is_nil((I.build_request("POST", u, {}, 12)))
    end)
  end)

  describe("parse_status_line", function()
    it("reads HTTP/1.x status lines", function()
      assert.same({ 200, 1, "OK" }, { I.parse_status_line("HTTP/1.1 200 OK") })
      assert.same({ 404, 0, "" }, { I.parse_status_line("HTTP/1.0 404") })
      assert.same({ 500, 1, "Internal Server Error" }, { I.parse_status_line("HTTP/1.1 500 Internal Server Error") })
      assert.same({ 204, 1, "" }, { I.parse_status_line("HTTP/1.1 204 ") })
    end)
    it("refuses anything else", function()
      for _, bad in ipairs({ "HTTP/2 200", "HTTP/2.0 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "ICY 200 OK",
                             "HTTP/1.1 200OK", "", "<html>" }) do
        assert.is_nil((I.parse_status_line(bad)), bad)
      end
    end)
  end)

  describe("read_response", function()
    it("reads a Content-Length body and keeps the headers as received", function()
      local res, keep, sock = read("HTTP/1.1 200 OK\r\nRequest-ID: r1\r\nSet-Cookie: a=1\r\ncontent-length: 5\r\n"
        .. "Set-Cookie: b=2\r\nX-Empty:\r\n\r\nhelloNEXT")
      assert.equal(200, res.status)
      assert.same({ { "Request-ID", "r1" }, { "Set-Cookie", "a=1" }, { "content-length", "5" },
        { "Set-Cookie", "b=2" }, { "X-Empty", "" } }, res.headers)
      assert.equal("hello", res.body)
      assert.is_true(keep)
      assert.equal("NEXT", sock.rest) -- nothing read past the body
      assert.is_true(#sock.timeouts > 0)
    end)

    it("reads a chunked body with extensions and trailers", function()
      local res, keep, sock = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "5;name=value\r\nhello\r\n1A\r\n" .. ("x"):rep(26) .. "\r\n000\r\nDigest: abc\r\n\r\nNEXT")
      assert.equal("hello" .. ("x"):rep(26), res.body)
      assert.is_true(keep)
      assert.equal("NEXT", sock.rest)
    end)

    it("reads chunks larger than one receive and joins them", function()
      local big = ("0123456789abcdef"):rep(5000) -- 80000 bytes > the 64 KiB read size
      local res = read(("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n")
        :format(#big, big), "GET", { max_body = 100000 })
      assert.equal(big, res.body)
    end)

    it("stops at max_body: announced length, chunked total, read-until-close", function()
      local res, err = read("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" .. ("a"):rep(2000))
      assert.is_nil(res)
      assert.same({ "transport", "too_large" }, { err.kind, err.reason })
      assert.is_true(errors.is(err))
      local sock
      res, err, sock = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" .. ("a"):rep(512)
        .. "\r\n200\r\n" .. ("b"):rep(512) .. "\r\n1\r\nc\r\n0\r\n\r\n")
      assert.is_nil(res)
      assert.equal("too_large", err.reason)
      assert.truthy(#sock.rest > 0) -- it did not read the rest
      res, err = read("HTTP/1.0 200 OK\r\n\r\n" .. ("a"):rep(1025))
      assert.is_nil(res)
      assert.equal("too_large", err.reason)
      res = read("HTTP/1.0 200 OK\r\n\r\n" .. ("a"):rep(1024))
      assert.equal(1024, #res.body) -- exactly max_body is allowed
      res, err = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n")
      assert.is_nil(res)
      assert.equal("too_large", err.reason)
    end)

    it("has no body for 204, 304 and HEAD, and does not wait for one", function()
      for _, case in ipairs({ { "GET", "HTTP/1.1 204 No Content\r\n\r\n" },
                              { "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n" },
                              { "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" } }) do
        local res, keep = read(case[2], case[1], nil, true) -- a stall after the head would time out
        assert.equal("", res.body)
        assert.is_true(keep)
      end
    end)

    it("skips interim 1xx answers", function()
      local res = read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        .. "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
      assert.same({ 201, "ok", { { "Content-Length", "2" } } }, { res.status, res.body, res.headers })
      local _, err = read("HTTP/1.1 101 Switching Protocols\r\n\r\n")
      assert.equal("protocol", err.reason)
      local _, err2 = read(("HTTP/1.1 100 Continue\r\n\r\n"):rep(20))
      assert.equal("protocol", err2.reason)
    end)

    it("decides connection reuse from the version, Connection and the framing", function()
      local _, keep = read("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n")
      assert.is_false(keep)
      _, keep = read("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
      assert.is_false(keep)
      _, keep = read("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
      assert.is_true(keep)
      local res
      res, keep = read("HTTP/1.1 200 OK\r\n\r\nuntil the end")
      assert.equal("until the end", res.body)
      assert.is_false(keep)
      _, keep = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
      assert.is_false(keep)
    end)

    it("folds obsolete continuation lines into the previous value", function()
      local res = read("HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\n\tc\r\nContent-Length: 0\r\n\r\n")
      assert.equal("a b c", header(res, "X-Long"))
    end)

    it("reports malformed answers as protocol errors", function()
      for _, bad in ipairs({
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n continuation first\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
      }) do
        local res, err = read(bad)
        assert.is_nil(res, bad)
        assert.same({ "transport", "protocol" }, { err.kind, err.reason }, bad)
      end
      local res = read("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc")
      assert.equal("abc", res.body) -- repeated identical values are one length
    end)

    it("reports a connection closed early as reset", function()
      local _, err = read("")
      assert.same({ "transport", "reset" }, { err.kind, err.reason })
      assert.matches("before any response", err.message)
      _, err = read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
      assert.equal("reset", err.reason)
      _, err = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
      assert.equal("reset", err.reason)
      _, err = read("HTTP/1.1 200 OK\r\nContent-Le")
      assert.equal("reset", err.reason)
    end)

    it("reports stalls and an expired deadline as timeout", function()
      local _, err = read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET", nil, true)
      assert.same({ "transport", "timeout" }, { err.kind, err.reason })
      local sock = mock("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      local res
      res, err = I.read_response(sock, "GET", ctx({ now = function() return 111 end }))
      assert.is_nil(res)
      assert.equal("timeout", err.reason)
      assert.equal(0, sock.reads) -- nothing was read after the deadline
    end)

    it("bounds each receive by the time left and by read_timeout", function()
      local t = 100
      local sock = mock("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      assert(I.read_response(sock, "GET", ctx({ now = function() t = t + 1; return t end, deadline = 105.5 })))
      assert.same({ 4500, 3500, 2500 }, sock.timeouts)
      sock = mock("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      assert(I.read_response(sock, "GET", ctx({ read_timeout = 0.25 })))
      assert.same({ 250, 250, 250 }, sock.timeouts)
    end)

    it("caps the header block", function()
      local many = { "HTTP/1.1 200 OK\r\n" }
      for i = 1, 300 do many[#many + 1] = "X-H" .. i .. ": v\r\n" end
      many[#many + 1] = "\r\n"
      local _, err = read(table.concat(many))
      assert.equal("too_large", err.reason)
      _, err = read("HTTP/1.1 200 OK\r\nX-Big: " .. ("a"):rep(70000) .. "\r\n\r\n")
      assert.equal("too_large", err.reason)
    end)
  end)

  describe("the transport outside nginx", function()
    it("builds, but answers requests with a usage error", function()
      local t = ngxt.new({ timeout = 1, ca_file = "/ignored" })
      local res, err = t:request({ method = "GET", url = "http://127.0.0.1:1/" })
      assert.is_nil(res)
      assert.same({ "usage" }, { err.kind })
      assert.matches("inside nginx", err.message)
      assert.is_true(t:close())
    end)

    it("names itself in the User-Agent", function()
      local ua = ngxt.new():user_agent("1.2.3")
      assert.matches("^wechatpay%-lua/1%.2%.3 ngx_lua/[%d.]+ nginx/[%d.]+ %(%w+/[^)]+%) Lu[%w]+/%d%.%d$", ua)
      assert.equal(ua, ngxt.user_agent("1.2.3"))
    end)

    it("answers a usage error for a bad request table or timeout", function()
      local t = ngxt.new()
      local _, err = t:request("http://x/")
      assert.equal("usage", err.kind)
    end)

    it("checks its options", function()
      assert.has_error(function() ngxt.new({ timeout = 0 }) end)
      assert.has_error(function() ngxt.new({ connect_timeout = "5" }) end)
      assert.has_error(function() ngxt.new({ max_body = -1 }) end)
      assert.has_error(function() ngxt.new({ pool_size = 0 }) end)
    end)
  end)

  describe("transport.select outside nginx", function()
    it("picks curl, honours a forced choice and passes objects through", function()
      assert.is_nil(transport.phase())
      assert.is_false(transport.cosockets_allowed())
      assert.equal("curl", transport.kind({}))
      assert.equal("curl", transport.kind(nil))
      assert.equal("ngx", transport.kind({ transport = "ngx" }))
      assert.equal("curl", transport.kind({ transport = "curl" }))
      local obj = { request = function() end }
      local t, kind = transport.select({ transport = obj })
      assert.equal(obj, t)
      assert.equal("custom", kind)
      local n, nkind = transport.select({ transport = "ngx", timeout = 3 })
      assert.equal("ngx", nkind)
      assert.equal(3, n.timeout)
      assert.has_error(function() transport.kind({ transport = "libcurl" }) end)
      assert.has_error(function() transport.kind({ transport = {} }) end)
    end)

    it("follows the nginx phase when an ngx API is present", function()
      local saved = rawget(_G, "ngx")
      local phase
      _G.ngx = { get_phase = function() return phase end }
      local ok, err = pcall(function()
        for _, p in ipairs({ "rewrite", "access", "content", "timer", "ssl_cert" }) do
          phase = p
          assert.equal("ngx", transport.kind({}), p)
        end
        for _, p in ipairs({ "init", "init_worker", "set", "header_filter", "body_filter", "log", "balancer" }) do
          phase = p
          assert.equal("curl", transport.kind({}), p)
        end
        phase = "init"
        assert.equal("ngx", transport.kind({ transport = "ngx" }))
      end)
      _G.ngx = saved
      assert(ok, err)
    end)
  end)
end)
