-- Notifications end to end: the sandbox POSTs real PAYSCORE.USER_CONFIRM notifications (an order created by our
-- client with a notify_url on a receiver, then confirmed through the sandbox's control endpoint) to a second nginx
-- whose handler is require("wechatpay.openresty").handle_notification(wx, fn), with a client built in init_by_lua
-- from the sandbox's config.json (copied into the receiver's temp dir). The sandbox's delivery log
-- (GET /sandbox/notifications) shows each attempt; time_scale 20000 runs its whole retry schedule (about 3 h) in
-- about half a second.
--
-- Receiver routes (POST /notify/<mode>): ok (accepts), flaky (refuses twice, then accepts), refuse (always returns
-- false -> 500), wrongkey (a client with another APIv3 key: crypto error -> 400, the merchant function not called).
-- Every request's raw body and headers are kept; GET /dump returns what the receiver saw and what reached the
-- merchant function.
local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local support = require "spec.support.client"
local json = require "wechatpay.codec.json"
local wechatpay = require "wechatpay"

local WRONG_APIV3 = "0123456789abcdef0123456789abcdef"

local RECEIVER = [[
  lua_shared_dict receiver 1m;
  init_by_lua_block {
    local json = require "wechatpay.codec.json"
    local f = assert(io.open("@DIR@/sandbox.json", "rb"))
    local c = assert(json.decode(f:read("*a")))
    f:close()
    local function new(apiv3_key)
      return assert(require("wechatpay").new{
        mchid = c.mchid, serial = c.serial, private_key = "file://" .. c.private_key,
        certs = { [c.public_key_id] = "file://" .. c.public_key },
        apiv3_key = apiv3_key, base_uri = c.base_uri, ca_file = c.ca_file,
      })
    end
    wx = new(c.apiv3_key)
    wx_wrong = new("@WRONG@")
  }
  server {
    listen 127.0.0.1:@PORT@;
    location ~ ^/notify/(\w+)$ {
      content_by_lua_block {
        local json = require "wechatpay.codec.json"
        local d = ngx.shared.receiver
        local mode = ngx.var[1]
        ngx.req.read_body()
        local n = d:incr("n:" .. mode, 1, 0)
        d:set("raw:" .. mode .. ":" .. n, assert(json.encode{
          headers = ngx.req.get_headers(100), body = ngx.req.get_body_data() or "" }))
        require("wechatpay.openresty").handle_notification(mode == "wrongkey" and wx_wrong or wx, function(event)
          d:set("event:" .. mode .. ":" .. n, assert(json.encode{ event_type = event.event_type, id = event.id,
            request_id = event.request_id, original_type = event.original_type, resource = event.resource,
            amount_is_number = type(event.resource.total_amount) == "number" }))
          if mode == "flaky" then return n > 2, "not yet" end
          if mode == "refuse" then return false, "merchant refuses" end
          return true
        end)
      }
    }
    location = /dump {
      content_by_lua_block {
        local d, out = ngx.shared.receiver, {}
        for _, k in ipairs(d:get_keys(0)) do
          local v = d:get(k)
          out[k] = type(v) == "string" and require("wechatpay.codec.json").decode(v) or v
        end
        ngx.print(require("wechatpay.codec.json").encode(out))
      }
    }
  }
]]

describe("notifications from the sandbox to a handle_notification receiver", function()
  local sb, c, rcv, wx, counter = nil, nil, nil, nil, 0

  setup(function()
    sb = sandbox.start{ time_scale = 20000 }
    c = sb.config
    wx = support.from_sandbox(sb)
    rcv = assert(nginx.start{
      files = { ["sandbox.json"] = assert(json.encode(c)) },
      http = (RECEIVER:gsub("@WRONG@", WRONG_APIV3)),
    })
  end)

  teardown(function()
    if wx then wx:close() end
    if rcv then rcv:stop() end
    if sb then sb:stop() end
  end)

  local function dump()
    local r = assert(nginx.curl(rcv:url("/dump")))
    assert.equal(200, r.status)
    return assert(json.decode(r.body))
  end

  -- create an order whose notify_url is the receiver's /notify/<mode>, confirm it: the notification id and order no
  local function confirmed(mode)
    counter = counter + 1
    local no = "NT" .. os.time() % 100000000 .. "_" .. mode .. counter
    local res = assert(wx.v3.payscore.serviceorder:post{ json = support.seed(no, {
      notify_url = rcv:url("/notify/" .. mode) }) })
    assert.equal("CREATED", res.data.state)
    local st, b = sb.control("POST", "/sandbox/payscore/orders/" .. no .. "/confirm", {})
    assert.equal(200, st)
    assert.matches("^EV%-%d+$", b.notification)
    return b.notification, no
  end

  -- the delivery record of a notification once its status is one of `statuses`
  local function delivery(id, statuses)
    return support.wait_for(function()
      for _, n in ipairs(sb.notifications()) do
        if n.id == id and statuses[n.status] then return n end
      end
    end, 15)
  end

  local function statuses_of(rec)
    local s = {}
    for i, a in ipairs(rec.attempts) do s[i] = a.status end
    return s
  end

  it("reaches the merchant function verified and decrypted; the sandbox logs a 204 delivery", function()
    local id, no = confirmed("ok")
    local rec = assert(delivery(id, { delivered = true }), "delivered")
    assert.equal("PAYSCORE.USER_CONFIRM", rec.event_type)
    assert.equal(1, rec.attempt_count)
    assert.same({ 204 }, statuses_of(rec))
    assert.equal(rcv:url("/notify/ok"), rec.url)

    local seen = dump()
    assert.equal(1, seen["n:ok"])
    local event = seen["event:ok:1"]
    assert.equal(id, event.id)
    assert.equal("PAYSCORE.USER_CONFIRM", event.event_type)
    assert.equal("payscore", event.original_type)
    assert.equal(no, event.resource.out_order_no)
    assert.equal("DOING", event.resource.state)
    assert.equal("USER_CONFIRM", event.resource.state_description)
    assert.equal(40000, event.resource.total_amount)
    assert.is_true(event.amount_is_number)
    assert.equal(rec.attempts[1].request_id, event.request_id)
    assert.same(rec.plaintext.out_order_no, event.resource.out_order_no)

    -- the raw delivery verifies here too (our client, Lua 5.4 or LuaJIT), headers in any case
    local raw = seen["raw:ok:1"]
    assert.equal(c.public_key_id, raw.headers["wechatpay-serial"])
    assert.equal("WECHATPAY2-SHA256-RSA2048", raw.headers["wechatpay-signature-type"])
    local ev = assert(wx:verify_notification(raw.headers, raw.body))
    assert.equal(no, ev.resource.out_order_no)
    assert.equal("DOING", ev.resource.state)
    assert.equal(event.request_id, ev.request_id)
    local tampered = raw.body:gsub('"PAYSCORE.USER_CONFIRM"', '"PAYSCORE.USER_PAID"')
    local _, err = wx:verify_notification(raw.headers, tampered)
    assert.equal("verification", err.kind)
    assert.equal("SIGNATURE_MISMATCH", err.reason)
  end)

  it("is retried while the merchant function returns false (500), and delivered once it accepts", function()
    local id = confirmed("flaky")
    local rec = assert(delivery(id, { delivered = true }), "delivered")
    assert.same({ 500, 500, 204 }, statuses_of(rec))
    assert.equal('{"code":"FAIL","message":"not yet"}', rec.attempts[1].body)
    local seen = dump()
    assert.equal(3, seen["n:flaky"])
    for n = 1, 3 do assert.equal(id, seen["event:flaky:" .. n].id) end
    -- each attempt signed afresh
    assert.not_equal(seen["raw:flaky:1"].headers["wechatpay-nonce"], seen["raw:flaky:2"].headers["wechatpay-nonce"])
    assert.not_equal(rec.attempts[1].request_id, rec.attempts[2].request_id)
  end)

  it("fails after the whole retry schedule when the receiver always refuses", function()
    local id = confirmed("refuse")
    local rec = assert(delivery(id, { failed = true }), "failed")
    assert.equal(10, rec.attempt_count) -- the first attempt and 9 retries (payscore.md §8.1)
    for i, s in ipairs(statuses_of(rec)) do
      assert.equal(500, s, "attempt " .. i)
      assert.equal('{"code":"FAIL","message":"merchant refuses"}', rec.attempts[i].body)
    end
    assert.equal(10, dump()["n:refuse"])
  end)

  it("crypto: a receiver with a wrong APIv3 key answers 400 DECRYPT without calling the merchant", function()
    local id = confirmed("wrongkey")
    local rec = assert(delivery(id, { failed = true }), "failed")
    for i, s in ipairs(statuses_of(rec)) do
      assert.equal(400, s, "attempt " .. i)
      assert.equal('{"code":"FAIL","message":"DECRYPT"}', rec.attempts[i].body)
    end
    local seen = dump()
    assert.equal(10, seen["n:wrongkey"])
    for k in pairs(seen) do assert.is_nil(k:match("^event:wrongkey"), k) end

    -- the same delivery here: verified, then refused by AES-GCM with the wrong key; the right key opens it
    local raw = seen["raw:wrongkey:1"]
    local wrong = support.from_sandbox(sb, { apiv3_key = WRONG_APIV3 })
    local ev, err = wrong:verify_notification(raw.headers, raw.body)
    assert.is_nil(ev)
    assert.equal("crypto", err.kind)
    assert.equal("DECRYPT", err.reason)
    local status, headers, body = wechatpay.reply(err)
    assert.equal(400, status)
    assert.equal("application/json", headers["Content-Type"])
    assert.equal('{"code":"FAIL","message":"DECRYPT"}', body)
    ev = assert(wx:verify_notification(raw.headers, raw.body))
    assert.equal("DOING", ev.resource.state)
  end)

  it("gives crypto errors of a notification its Request-ID (handle_notification logs it)", function()
    local seen = dump()
    local raw = assert(seen["raw:wrongkey:1"])
    local wrong = support.from_sandbox(sb, { apiv3_key = WRONG_APIV3 })
    local _, err = wrong:verify_notification(raw.headers, raw.body)
    assert.equal("crypto", err.kind)
    assert.equal(raw.headers["request-id"], err.request_id)
  end)
end)
