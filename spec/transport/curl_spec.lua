-- The libcurl transport (lua/wechatpay/transport/curl.lua) and the C core's HTTP session (src/http.c, src/lhttp.c),
-- against a real nginx on loopback (spec/support/https_server.lua) with a test CA.

local https_server = require "spec.support.https_server"
local curl = require "wechatpay.transport.curl"
local core = require "wechatpay.core"
local cjson = require "cjson"

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function now()
  -- wall clock with sub-second resolution, without a shell: /proc/uptime
  local f = assert(io.open("/proc/uptime", "r"))
  local up = f:read("*n")
  f:close()
  return up
end

local function sleep(s)
  os.execute("sleep " .. s)
end

local function header(res, name)
  for _, h in ipairs(res.headers) do
    if h[1]:lower() == name:lower() then return h[2] end
  end
end

local function random_bytes(n)
  local parts, chunk = {}, {}
  for i = 1, n do
    chunk[#chunk + 1] = math.random(0, 255)
    if #chunk == 4096 or i == n then
      parts[#parts + 1] = string.char((table.unpack or unpack)(chunk)) -- luacheck: ignore 143
      chunk = {}
    end
  end
  return table.concat(parts)
end

-- the request headers the server saw, without the two the transport adds (Host, Content-Length)
local function sent_headers(echo)
  local out = {}
  for _, h in ipairs(echo.headers) do
    local n = h[1]:lower()
    if n ~= "host" and n ~= "content-length" then out[#out + 1] = { h[1], h[2] } end
  end
  return out
end

local function seen(echo, name)
  for _, h in ipairs(echo.headers) do
    if h[1]:lower() == name:lower() then return h[2] end
  end
end

describe("transport.curl", function()
  local srv, other, t, wrong_dir, wrong_ca

  lazy_setup(function()
    srv = https_server.start{ workers = 1 }
    -- same CA, certificate for another name (host name mismatch)
    other = https_server.start{ ca = srv.ca, san = "DNS:wrong.example", cn = "wrong.example" }
    -- a CA that signed nothing we talk to
    wrong_dir = https_server.tmpdir()
    wrong_ca = https_server.make_ca(wrong_dir)
    t = assert(curl.new{ ca_file = srv.ca_file })
  end)

  lazy_teardown(function()
    if t then t:close() end
    if srv then srv.stop() end
    if other then other.stop() end
    if wrong_dir then https_server.run("rm -rf " .. https_server.quote(wrong_dir)) end
  end)

  local function echo(req)
    local res, err = t:request(req)
    assert.is_nil(err)
    assert.are.equal(200, res.status)
    return cjson.decode(res.body), res
  end

  describe("methods and bodies", function()
    local body = "a\0b\r\n{\"x\":1}\0\255\254 end"

    for _, m in ipairs{ "POST", "PUT", "PATCH", "DELETE" } do
      it(m .. " sends the body byte for byte", function()
        local e = echo{ method = m, url = srv.url("/echo"), body = body }
        assert.are.equal(m, e.method)
        assert.are.equal(#body, e.body_len)
        assert.are.equal(hex(body), e.body_hex)
        assert.are.equal(tostring(#body), seen(e, "Content-Length"))
      end)
    end

    it("GET sends no body and no Content-Length", function()
      local e = echo{ method = "GET", url = srv.url("/echo") }
      assert.are.equal("GET", e.method)
      assert.are.equal(0, e.body_len)
      assert.is_nil(seen(e, "Content-Length"))
      assert.is_nil(seen(e, "Transfer-Encoding"))
    end)

    it("POST without a body sends Content-Length: 0", function()
      local e = echo{ method = "POST", url = srv.url("/echo") }
      assert.are.equal("POST", e.method)
      assert.are.equal("0", seen(e, "Content-Length"))
    end)

    it("DELETE without a body sends none", function()
      local e = echo{ method = "DELETE", url = srv.url("/echo") }
      assert.are.equal("DELETE", e.method)
      assert.is_nil(seen(e, "Content-Length"))
    end)

    it("a 1 MiB binary body goes and comes back unchanged", function()
      local big = random_bytes(1024 * 1024 - 3) .. "\0\0\0"
      local res, err = t:request{ method = "POST", url = srv.url("/mirror"), body = big,
                                  headers = { { "Content-Type", "application/octet-stream" } } }
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal("POST", header(res, "X-Method"))
      assert.are.equal(#big, #res.body)
      assert.is_true(res.body == big)
    end)

    it("speaks HTTP/1.1", function()
      local e = echo{ url = srv.url("/echo") }
      assert.are.equal(1.1, e.http_version)
    end)
  end)

  describe("request target and headers", function()
    it("sends the target verbatim (PATH_AS_IS, no re-encoding)", function()
      local e = echo{ url = srv.url("/a/%2F/../b?x=%20&y=%2b+z") }
      assert.are.equal("/a/%2F/../b?x=%20&y=%2b+z", e.target)
      e = echo{ url = srv.url("/v3/x/./N123/%7e?") }
      assert.are.equal("/v3/x/./N123/%7e?", e.target)
    end)

    it("sends the caller's headers as given, in order, and nothing else but Host and Content-Length", function()
      local given = {
        { "Accept", "application/json, text/plain, application/x-gzip, application/pdf, image/png, image/*;q=0.5" },
        { "Content-Type", "application/json; charset=utf-8" },
        { "User-Agent", curl.user_agent("9.9.9") },
        { "Authorization", 'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="x"' },
        { "X-Number", "5" },
        { "x-lower-case", "kept" },
        { "X-Empty", "" },
      }
      local e = echo{ method = "POST", url = srv.url("/echo"), headers = given, body = ("{}"):rep(1000) }
      assert.are.same(given, sent_headers(e))
      assert.are.equal("127.0.0.1:" .. srv.port, seen(e, "Host"))
    end)

    it("adds no Accept, Content-Type, User-Agent or Expect of its own (even for a 2 MiB body)", function()
      local e = echo{ method = "PUT", url = srv.url("/echo"), body = ("z"):rep(2 * 1024 * 1024) }
      assert.are.same({}, sent_headers(e))
      assert.are.equal(2 * 1024 * 1024, e.body_len)
      e = echo{ url = srv.url("/echo") }
      assert.are.same({}, sent_headers(e))
    end)

    it("returns the response headers in order, repeated ones included", function()
      local res, err = t:request{ url = srv.url("/headers") }
      assert.is_nil(err)
      local dups = {}
      for _, h in ipairs(res.headers) do
        if h[1] == "X-Dup" then dups[#dups + 1] = h[2] end
      end
      assert.are.same({ "one", "two" }, dups)
      assert.are.equal("padded value", header(res, "X-Spaces"))
      assert.are.equal("headers", res.body)
    end)

    it("keeps only the final response's headers and reads chunked answers", function()
      local res, err = t:request{ url = srv.url("/chunked") }
      assert.is_nil(err)
      assert.are.equal("chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n", res.body)
      assert.are.equal("chunked", header(res, "Transfer-Encoding"))
      local n = 0
      for _, h in ipairs(res.headers) do if h[1] == "Content-Type" then n = n + 1 end end
      assert.are.equal(1, n)
    end)

    it("keeps only the final answer's headers after an informational (1xx) answer", function()
      local res, err = t:request{ url = srv.url("/raw?case=early") }
      assert.is_nil(err)
      assert.are.equal(200, res.status)
      assert.are.equal("ok", res.body)
      assert.are.equal("1", header(res, "X-Final"))
      assert.is_nil(header(res, "X-Early"))
      assert.is_nil(header(res, "Link"))
    end)

    it("unfolds folded header lines and trims values", function()
      local res, err = t:request{ url = srv.url("/raw?case=fold") }
      assert.is_nil(err)
      assert.are.equal("first second third", header(res, "X-Folded"))
      assert.are.equal("v", header(res, "X-Tight"))
      assert.are.same({ "X-Folded", "X-Tight", "Content-Length", "Connection" },
        { res.headers[1][1], res.headers[2][1], res.headers[3][1], res.headers[4][1] })
    end)

    it("returns 204 with an empty body", function()
      local res, err = t:request{ method = "POST", url = srv.url("/status?code=204"), body = "{}" }
      assert.is_nil(err)
      assert.are.equal(204, res.status)
      assert.are.equal("", res.body)
    end)

    it("returns 4xx/5xx answers as answers (no transport error)", function()
      local res, err = t:request{ url = srv.url("/status?code=503&body=busy") }
      assert.is_nil(err)
      assert.are.equal(503, res.status)
      assert.are.equal("busy", res.body)
    end)

    it("does not follow redirects", function()
      local res, err = t:request{ url = srv.url("/redirect") }
      assert.is_nil(err)
      assert.are.equal(302, res.status)
      assert.truthy(header(res, "Location"):find("/echo", 1, true))
    end)
  end)

  describe("keep-alive", function()
    it("20 sequential requests use one connection, reused after the first", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file })
      local conns, reused = {}, {}
      for i = 1, 20 do
        local res, err = tr:request{ method = i % 2 == 0 and "POST" or "GET", url = srv.url("/echo?i=" .. i),
                                     body = i % 2 == 0 and "x" or nil }
        assert.is_nil(err)
        conns[header(res, "X-Connection")] = true
        reused[i] = res.reused
      end
      tr:close()
      local n = 0
      for _ in pairs(conns) do n = n + 1 end
      assert.are.equal(1, n)
      assert.is_false(reused[1])
      for i = 2, 20 do assert.is_true(reused[i], "request " .. i) end
    end)

    it("bursts of 8 requests in flight keep their 8 connections alive", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file })
      local conns, count, new = {}, 0, 0
      for _ = 1, 5 do
        local fs = {}
        -- slow enough that the 8 are in flight together: 8 connections, opened in the first burst only
        for i = 1, 8 do fs[i] = tr:request_async{ url = srv.url("/slow?ms=100") } end
        for i = 1, 8 do
          local res = assert(fs[i]:wait())
          local c = header(res, "X-Connection")
          if not conns[c] then conns[c], count = true, count + 1 end
          if not res.reused then new = new + 1 end
        end
      end
      tr:close()
      assert.are.equal(8, count)
      assert.are.equal(8, new)
    end)

    it("control: a new transport per request opens a new connection each time", function()
      local conns = {}
      for _ = 1, 3 do
        local tr = assert(curl.new{ ca_file = srv.ca_file })
        local res = assert(tr:request{ url = srv.url("/echo") })
        assert.is_false(res.reused)
        conns[#conns + 1] = header(res, "X-Connection")
        tr:close()
      end
      assert.are_not.equal(conns[1], conns[2])
      assert.are_not.equal(conns[2], conns[3])
    end)

    it("plain HTTP (loopback) is kept alive too", function()
      local tr = assert(curl.new{})
      local a = assert(tr:request{ url = srv.http_url("/echo") })
      local b = assert(tr:request{ url = srv.http_url("/echo") })
      tr:close()
      assert.are.equal("http", cjson.decode(a.body).scheme)
      assert.are.equal(header(a, "X-Connection"), header(b, "X-Connection"))
      assert.is_true(b.reused)
    end)
  end)

  describe("TLS", function()
    it("accepts the server with the right CA", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file })
      local res, err = tr:request{ url = srv.url("/echo") }
      tr:close()
      assert.is_nil(err)
      assert.are.equal("https", cjson.decode(res.body).scheme)
    end)

    it("refuses the server with a wrong CA", function()
      local tr = assert(curl.new{ ca_file = wrong_ca.cert })
      local res, err = tr:request{ url = srv.url("/echo") }
      tr:close()
      assert.is_nil(res)
      assert.are.equal("transport", err.kind)
      assert.are.equal("tls", err.reason)
      assert.is_number(err.curl_code)
      assert.truthy(tostring(err):find("curl " .. err.curl_code, 1, true))
    end)

    it("refuses the server with the default trust store", function()
      local tr = assert(curl.new{})
      local res, err = tr:request{ url = srv.url("/echo") }
      tr:close()
      assert.is_nil(res)
      assert.are.equal("tls", err.reason)
    end)

    it("refuses a certificate for another host name", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file })
      local res, err = tr:request{ url = other.url("/echo") }
      tr:close()
      assert.is_nil(res)
      assert.are.equal("transport", err.kind)
      assert.are.equal("tls", err.reason)
    end)

    it("uses ca_path (a hashed directory)", function()
      local dir = https_server.tmpdir()
      assert(https_server.run("cp " .. https_server.quote(srv.ca_file) .. " " .. https_server.quote(dir .. "/ca.pem")
        .. " && openssl rehash " .. https_server.quote(dir)))
      local tr = assert(curl.new{ ca_path = dir })
      local res, err = tr:request{ url = srv.url("/echo") }
      tr:close()
      https_server.run("rm -rf " .. https_server.quote(dir))
      assert.is_nil(err)
      assert.are.equal(200, res.status)
    end)
  end)

  describe("failures", function()
    it("times out with reason timeout (per request)", function()
      local res, err = t:request{ url = srv.url("/slow?ms=3000"), timeout = 0.5 }
      assert.is_nil(res)
      assert.are.equal("transport", err.kind)
      assert.are.equal("timeout", err.reason)
      assert.are.equal(28, err.curl_code)
    end)

    it("times out with the transport's timeout, and a request may extend it", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file, timeout = 0.3 })
      local res, err = tr:request{ url = srv.url("/slow?ms=1000") }
      assert.is_nil(res)
      assert.are.equal("timeout", err.reason)
      res, err = tr:request{ url = srv.url("/slow?ms=500"), timeout = 5 }
      tr:close()
      assert.is_nil(err)
      assert.are.equal(200, res.status)
    end)

    it("reports a refused connection as connect", function()
      local port = https_server.free_port()
      local res, err = t:request{ url = "https://127.0.0.1:" .. port .. "/" }
      assert.is_nil(res)
      assert.are.equal("connect", err.reason)
      assert.are.equal(7, err.curl_code)
    end)

    it("reports an unknown host as resolve", function()
      local res, err = t:request{ url = "https://no-such-host.invalid/", timeout = 3 }
      assert.is_nil(res)
      if err.reason == "timeout" then
        pending("no DNS answer here")
        return
      end
      assert.are.equal("resolve", err.reason)
      assert.are.equal(6, err.curl_code)
    end)

    it("aborts an answer over max_body with too_large (Content-Length and chunked)", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file, max_body = 100000 })
      local res, err = tr:request{ url = srv.url("/big?bytes=100000") }
      assert.is_nil(err)
      assert.are.equal(100000, #res.body)
      res, err = tr:request{ url = srv.url("/big?bytes=100001") }
      assert.is_nil(res)
      assert.are.equal("too_large", err.reason)
      res, err = tr:request{ url = srv.url("/big?bytes=300000&cl=0") }
      assert.is_nil(res)
      assert.are.equal("too_large", err.reason)
      -- the transport still works afterwards
      res, err = tr:request{ url = srv.url("/echo") }
      tr:close()
      assert.is_nil(err)
      assert.are.equal(200, res.status)
    end)

    it("has a 16 MiB default cap", function()
      local res, err = t:request{ url = srv.url("/big?bytes=" .. (16 * 1024 * 1024 + 1)) }
      assert.is_nil(res)
      assert.are.equal("too_large", err.reason)
    end)

    it("reports a connection closed without an answer as reset", function()
      local res, err = t:request{ url = srv.url("/drop") }
      assert.is_nil(res)
      assert.are.equal("reset", err.reason)
    end)

    it("reports an answer that is not HTTP, or a bad status line, as protocol", function()
      for _, case in ipairs{ "garbage", "badstatus" } do
        local res, err = t:request{ url = srv.url("/raw?case=" .. case) }
        assert.is_nil(res)
        assert.are.equal("transport", err.kind)
        assert.are.equal("protocol", err.reason, case)
      end
    end)

    it("reports a body cut short by a closed connection as reset", function()
      local res, err = t:request{ url = srv.url("/raw?case=short") }
      assert.is_nil(res)
      assert.are.equal("reset", err.reason)
    end)

    it("reports a malformed URL as protocol (core) and a non-HTTP URL as usage (transport)", function()
      local s = core.http_session{}
      local res, err = s:request{ url = "http://127.0.0.1:99999999/" }
      assert.is_nil(res)
      assert.are.equal("protocol", err.reason)
      res, err = s:request{ url = "ftp://127.0.0.1/" }
      assert.is_nil(res)
      assert.are.equal("protocol", err.reason)
      s:close()
      res, err = t:request{ url = "ftp://127.0.0.1/" }
      assert.is_nil(res)
      assert.are.equal("usage", err.kind)
    end)

    it("rejects bad arguments with usage errors", function()
      local cases = {
        { method = "GET" },
        { url = srv.url("/a b") },
        { url = srv.url("/"), method = "BREW" },
        { url = srv.url("/"), body = 5 },
        { url = srv.url("/"), timeout = 0 },
        { url = srv.url("/"), timeout = -1 },
        { url = srv.url("/"), headers = { "X: y" } },
        { url = srv.url("/"), headers = { { "X", "a\r\nInjected: 1" } } },
        { url = srv.url("/"), headers = { { "Bad Name", "v" } } },
      }
      for i, req in ipairs(cases) do
        local res, err = t:request(req)
        assert.is_nil(res, "case " .. i)
        assert.are.equal("usage", err.kind, "case " .. i)
      end
      for _, opts in ipairs{ { timeout = 0 }, { connect_timeout = "1" }, { max_body = 1.5 }, { ca_file = 1 } } do
        local tr, err = curl.new(opts)
        assert.is_nil(tr)
        assert.are.equal("usage", err.kind)
      end
    end)
  end)

  describe("async", function()
    local function slow(ms, tag) return { url = srv.url("/slow?ms=" .. ms .. "&tag=" .. tag) } end

    it("four slow requests in flight take about the time of one (sequential is the control)", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file })
      local t0 = now()
      for i = 1, 4 do assert(tr:request(slow(800, "s" .. i))) end
      local sequential = now() - t0

      t0 = now()
      local fs = {}
      for i = 1, 4 do fs[i] = tr:request_async(slow(800, "a" .. i)) end
      assert.are.equal(4, tr:pending())
      -- waited in an order that is not the start order
      for _, i in ipairs{ 3, 1, 4, 2 } do
        local res, err = fs[i]:wait()
        assert.is_nil(err)
        assert.are.equal(200, res.status)
        assert.truthy(res.body:find("tag=a" .. i, 1, true), res.body)
      end
      local overlapped = now() - t0
      tr:close()
      -- the control: four 800 ms answers one after the other (nginx timers may round each a little down)
      assert.is_true(sequential >= 3.0, "sequential " .. sequential)
      assert.is_true(overlapped < 2.5, "overlapped " .. overlapped)
    end)

    it("waiting on B while A finishes first stores A's result in A's future", function()
      local fa = t:request_async(slow(50, "A"))
      local fb = t:request_async(slow(600, "B"))
      local rb = assert(fb:wait())
      assert.truthy(rb.body:find("tag=B", 1, true))
      assert.is_true(fa:done())
      local ra, ea = fa:wait()
      assert.is_nil(ea)
      assert.truthy(ra.body:find("tag=A", 1, true))
      -- waiting again returns the same result
      assert.are.equal(ra, (fa:wait()))
    end)

    it("done() polls without blocking", function()
      local f = t:request_async(slow(300, "poll"))
      assert.is_false(f:done())
      local polls = 0
      while not f:done() do
        polls = polls + 1
        sleep(0.05)
        assert.is_true(polls < 200)
      end
      assert.is_true(polls >= 1)
      local res = assert(f:wait())
      assert.truthy(res.body:find("tag=poll", 1, true))
    end)

    it("mixes blocking and async requests on one transport", function()
      local f = t:request_async(slow(200, "bg"))
      local res = assert(t:request{ url = srv.url("/echo") })
      assert.are.equal(200, res.status)
      assert.truthy(assert(f:wait()).body:find("tag=bg", 1, true))
      assert.are.equal(0, t:pending())
    end)

    it("async failures come back as transport errors on their future", function()
      local f1 = t:request_async{ url = srv.url("/slow?ms=2000"), timeout = 0.2 }
      local f2 = t:request_async{ url = "https://127.0.0.1:" .. https_server.free_port() .. "/" }
      local f3 = t:request_async{ url = 5 }
      local _, e1 = f1:wait()
      local _, e2 = f2:wait()
      local _, e3 = f3:wait()
      assert.are.equal("timeout", e1.reason)
      assert.are.equal("connect", e2.reason)
      assert.are.equal("usage", e3.kind)
      assert.is_true(f3:done())
    end)

    it("close with requests in flight fails their futures and frees them", function()
      local tr = assert(curl.new{ ca_file = srv.ca_file })
      local fs = {}
      for i = 1, 3 do fs[i] = tr:request_async(slow(2000, "c" .. i)) end
      assert.are.equal(3, tr:pending())
      tr:close()
      for i = 1, 3 do
        local res, err = fs[i]:wait()
        assert.is_nil(res)
        assert.are.equal("transport", err.kind)
        assert.truthy(err.message:find("closed", 1, true))
      end
      assert.are.equal(0, tr:pending())
      local res, err = tr:request{ url = srv.url("/echo") }
      assert.is_nil(res)
      assert.are.equal("transport", err.kind)
      tr:close() -- twice is fine
      -- the server is unharmed
      assert(t:request{ url = srv.url("/echo") })
    end)

    it("a transport collected without close cleans up its requests", function()
      do
        local tr = assert(curl.new{ ca_file = srv.ca_file })
        for i = 1, 3 do tr:request_async(slow(1500, "gc" .. i)) end
        assert(tr:request{ url = srv.url("/echo") })
      end
      collectgarbage("collect")
      collectgarbage("collect")
      assert(t:request{ url = srv.url("/echo") })
    end)
  end)

  describe("core.http_session", function()
    it("has start / wait_any / pending / close", function()
      local s = assert(core.http_session{ ca_file = srv.ca_file, timeout = 5000, connect_timeout = 2000 })
      assert.are.equal(0, s:pending())
      assert.is_nil((s:wait_any(0)))
      local a = s:start{ url = srv.url("/slow?ms=300&tag=x") }
      local b = s:start{ method = "POST", url = srv.url("/mirror"), headers = { "X-Line: 1", { "X-Pair", "2" } },
                         body = "abc" }
      assert.are_not.equal(a, b)
      assert.are.equal(2, s:pending())
      local got = {}
      for _ = 1, 2 do
        local id, res, err = s:wait_any(5000)
        assert.is_nil(err)
        got[id] = res
      end
      assert.are.equal(0, s:pending())
      assert.are.equal("abc", got[b].body)
      assert.truthy(got[a].body:find("tag=x", 1, true))
      assert.is_nil((s:wait_any(100)))
      s:close()
      s:close()
      assert.has_error(function() s:request{ url = srv.url("/") } end)
      assert.are.equal(0, s:pending())
    end)

    it("wait_any returns nothing when nothing finished in time", function()
      local s = assert(core.http_session{ ca_file = srv.ca_file })
      s:start{ url = srv.url("/slow?ms=1000") }
      assert.are.equal(0, select("#", s:wait_any(50)))
      assert.are.equal(1, s:pending())
      s = nil -- luacheck: ignore 311
      collectgarbage("collect") -- __gc with a request in flight
    end)

    it("raises on wrong argument types", function()
      local s = assert(core.http_session{})
      assert.has_error(function() s:request("x") end)
      assert.has_error(function() s:request{} end)
      assert.has_error(function() s:request{ url = "http://x/", headers = { 1 } } end)
      assert.has_error(function() s:request{ url = "http://x/", headers = { "A: b\r\nC: d" } } end)
      assert.has_error(function() core.http_session{ timeout = "x" } end)
      assert.has_error(function() core.http_session{ max_body = -1 } end)
      s:close()
    end)

    it("reports the libcurl version", function()
      assert.is_string(core.curl_version)
      assert.truthy(core.curl_version:match("^%d+%.%d+%.%d+"))
    end)
  end)

  describe("user_agent", function()
    it("names the module, curl, the OS and Lua", function()
      local ua = curl.user_agent("1.2.3")
      local lua = type(jit) == "table" and "LuaJIT/2%.%d+" or "Lua/5%.%d" -- luacheck: ignore 113
      assert.truthy(ua:match("^wechatpay%-lua/1%.2%.3 curl/%d+%.%d+%.%d+ %(Linux/[%w%.%-_+~]+%) " .. lua .. "$"), ua)
      assert.truthy(ua:find("curl/" .. core.curl_version:match("^[%d%.]+"), 1, true))
      assert.are.equal(ua, curl.user_agent("1.2.3"))
      assert.truthy(curl.user_agent("2.0.0"):match("^wechatpay%-lua/2%.0%.0 "))
    end)
  end)
end)
