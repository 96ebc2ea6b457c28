-- examples/nginx, run as a user would (examples/nginx/run), against a local
-- sandbox: the merchant service creates and queries a PayScore order from its
-- handlers over cosockets and receives the USER_CONFIRM notification.
local nginx = require "spec.support.nginx"
local sandbox = require "spec.support.sandbox"
local json = require "wechatpay.codec.json"

describe("examples/nginx", function()
  local sb, port, dir, env

  setup(function()
    sb = assert(sandbox.start{})
    port = nginx.free_ports(1)[1]
    dir = nginx.capture("mktemp -d /tmp/wp-example.XXXXXX")
    env = ("SANDBOX_CONFIG=%s EXAMPLE_PORT=%d EXAMPLE_DIR=%s"):format(
      nginx.shq(sb.config_path or (sb.dir .. "/config.json")), port, nginx.shq(dir))
    local ok, out = nginx.sh(env .. " examples/nginx/run start >/dev/null")
    assert(ok, out)
    for _ = 1, 100 do
      if nginx.curl(("http://127.0.0.1:%d/events"):format(port), { max_time = 2 }) then break end
      nginx.sleep(0.05)
    end
  end)

  teardown(function()
    if env then nginx.sh(env .. " examples/nginx/run stop >/dev/null") end
    if dir and dir:match("^/tmp/wp%-example%.") then nginx.sh("rm -rf " .. nginx.shq(dir)) end
    if sb then sb.stop() end
  end)

  local function call(method, path, body)
    local r = assert(nginx.curl(("http://127.0.0.1:%d%s"):format(port, path), { method = method, body = body }))
    return r.status, json.decode(r.body), r.body
  end

  it("creates, queries and is notified of a PayScore order", function()
    local no = "NGX" .. os.time()
    local status, data, raw = call("POST", "/orders", '{"out_order_no":"' .. no .. '"}')
    assert.equal(200, status, raw)
    assert.equal(no, data.order.out_order_no)
    assert.equal("CREATED", data.order.state)
    assert.equal(40000, data.order.post_payments[1].amount)
    assert.truthy(data.request_id)

    status, data, raw = call("GET", "/orders/query?out_order_no=" .. no)
    assert.equal(200, status, raw)
    assert.equal("CREATED", data.order.state)
    assert.equal(40000, data.order.total_amount)

    local cs = sb.control("POST", "/sandbox/payscore/orders/" .. no .. "/confirm", {})
    assert.equal(200, cs)
    local events
    for _ = 1, 100 do
      status, events = call("GET", "/events")
      assert.equal(200, status)
      if #events > 0 then break end
      nginx.sleep(0.05)
    end
    assert.equal(1, #events)
    assert.same({ event_type = "PAYSCORE.USER_CONFIRM", out_order_no = no, state = "DOING", total_amount = 40000 },
      events[1])

    status, data = call("GET", "/orders/query?out_order_no=" .. no)
    assert.equal(200, status)
    assert.equal("DOING", data.order.state)
  end)

  it("answers a usage error from the client without reaching the sandbox", function()
    local before = #sb.requests()
    local status, data = call("POST", "/orders", '{"out_order_no":"bad order no!"}')
    assert.equal(400, status)
    assert.equal("usage", data.kind)
    assert.matches("/out_order_no", data.message, 1, true)
    assert.equal(before, #sb.requests())
  end)
end)
