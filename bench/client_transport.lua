-- bench/client_transport.lua - the libcurl transport against the loopback test server (nginx, one worker).
--
--   make bench-transport        (or: LUA_CPATH="build/lua5.4/?.so;;" lua5.4 bench/client_transport.lua)
--
-- Prints requests/s and ratios from one run: sequential over one kept-alive connection vs a new transport
-- (new connection + TLS handshake) per request; 1, 8 and 32 requests in flight against a fast answer and a 20 ms
-- answer. Figures depend on the machine; only the ratios mean something. "conn." is the number of connections the
-- transport opened for the whole run (at most the number in flight when keep-alive works).

package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path

local https_server = require "spec.support.https_server"
local curl = require "wechatpay.transport.curl"

local SCALE = tonumber(os.getenv("BENCH_SCALE") or "1") or 1

local function now()
  local f = assert(io.open("/proc/uptime", "r"))
  local up = f:read("*n")
  f:close()
  return up
end

local function timed(n, fn)
  local t0, c0 = now(), os.clock()
  fn()
  local wall, cpu = now() - t0, os.clock() - c0
  if wall <= 0 then wall = 0.01 end
  return n / wall, cpu / n * 1e6, wall
end

local srv = https_server.start{
  workers = 1,
  locations = [[
    location = /tiny { return 200 '{"ok":true}'; }
  ]],
}

local ok, err = pcall(function()
  local lua = type(jit) == "table" and jit.version or _VERSION -- luacheck: ignore 113
  print(("transport bench: %s, %s, nginx 1 worker on 127.0.0.1"):format(lua, curl.user_agent("bench")))

  local function seq_keepalive(url, n)
    local t = assert(curl.new{ ca_file = srv.ca_file })
    assert(t:request{ url = url }) -- warm: connection + handshake
    local rps, cpu = timed(n, function()
      for _ = 1, n do
        local res = assert(t:request{ url = url })
        assert(res.reused)
      end
    end)
    t:close()
    return rps, cpu
  end

  local function seq_new(url, n)
    return timed(n, function()
      for _ = 1, n do
        local t = assert(curl.new{ ca_file = srv.ca_file })
        local res = assert(t:request{ url = url })
        assert(not res.reused)
        t:close()
      end
    end)
  end

  -- keeps `window` requests in flight until n are done; returns req/s, CPU us/req, new connections
  local function inflight(url, n, window)
    local t = assert(curl.new{ ca_file = srv.ca_file })
    local function run(count)
      local queue, head, started, done, new = {}, 1, 0, 0, 0
      while done < count do
        while started < count and started - done < window do
          started = started + 1
          queue[started] = t:request_async{ url = url }
        end
        local res, e = queue[head]:wait()
        assert(res, e)
        if not res.reused then new = new + 1 end
        queue[head] = nil
        head = head + 1
        done = done + 1
      end
      return new
    end
    local opened = run(window * 10) -- warm: opens (most of) the connections the window needs
    local rps, cpu = timed(n, function() opened = opened + run(n) end)
    t:close()
    return rps, cpu, opened
  end

  local tiny, slow = srv.url("/tiny"), srv.url("/slow?ms=20")
  local N = math.floor(20000 * SCALE)
  local NNEW = math.floor(300 * SCALE)

  local ka, ka_cpu = seq_keepalive(tiny, N)
  local nw, nw_cpu = seq_new(tiny, NNEW)
  print(("sequential, one kept-alive connection : %8.0f req/s  (%5.0f us CPU/req)"):format(ka, ka_cpu))
  print(("sequential, new transport per request : %8.0f req/s  (%5.0f us CPU/req)"):format(nw, nw_cpu))
  print(("  keep-alive / new connection          : %8.1fx"):format(ka / nw))

  local base = ka
  for _, w in ipairs{ 8, 32 } do
    local r, c, opened = inflight(tiny, N, w)
    print(("%2d in flight, fast answer              : %8.0f req/s  (%5.0f us CPU/req)  %.2fx sequential, %d conn.")
      :format(w, r, c, r / base, opened))
  end

  local NS = math.floor(100 * SCALE)
  local s1 = seq_keepalive(slow, NS)
  print(("sequential, 20 ms answer               : %8.1f req/s"):format(s1))
  for _, w in ipairs{ 8, 32 } do
    local r = inflight(slow, math.floor(NS * w / 4), w)
    print(("%2d in flight, 20 ms answer             : %8.1f req/s  %.1fx sequential"):format(w, r, r / s1))
  end
end)

srv.stop()
if not ok then error(err, 0) end
