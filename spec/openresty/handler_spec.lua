-- wechatpay.openresty in a real nginx (Debian's, with its Lua module): a client
-- built in init_by_lua and used by two forked workers, the notification handler,
-- and key rotation across workers through a lua_shared_dict.
local nginx = require "spec.support.nginx"
local openssl = require "spec.support.openssl"
local core = require "wechatpay.core"
local json = require "wechatpay.codec.json"

local APIV3 = "0123456789abcdef0123456789abcdef"
local PUB_ID = "PUB_KEY_ID_0114232134912410000000000000"

describe("openresty helpers", function()
  local srv, ossl, merchant, platform, platform_key, rotated, rotated_key

  local function notification(opts)
    opts = opts or {}
    local plain = '{"out_order_no":"N1","state":"DOING","total_amount":40000}'
    local resource = {
      algorithm = "AEAD_AES_256_GCM", nonce = "0123456789ab", associated_data = "payscore", original_type = "payscore",
      ciphertext = assert(core.gcm_encrypt(APIV3, "0123456789ab", "payscore", plain)),
    }
    local body = assert(json.encode{ id = "EV-1", create_time = "2026-11-29T12:00:00+08:00",
      event_type = "PAYSCORE.USER_CONFIRM", resource_type = "encrypt-resource", summary = opts.summary or "ok",
      resource = resource })
    local ts, nonce = tostring(opts.ts or os.time()), core.nonce()
    local key = opts.key or platform_key
    local sig = opts.signature or assert(core.sign(key, ts .. "\n" .. nonce .. "\n" .. body .. "\n"))
    if opts.tamper then body = body:gsub('"ok"', '"ko"') end
    return body, {
      "Wechatpay-Timestamp: " .. ts, "Wechatpay-Nonce: " .. nonce, "Wechatpay-Signature: " .. sig,
      "Wechatpay-Serial: " .. (opts.serial or PUB_ID), "Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048",
      "Content-Type: application/json", "Request-ID: RID-" .. nonce:sub(1, 8),
    }
  end

  local function post(body, headers)
    local bf = ossl:tmpname(".json")
    ossl:write(bf, body)
    return assert(nginx.curl(srv:url("/notify"), { method = "POST", headers = headers, extra = "--data-binary @" .. bf }))
  end

  local function seen()
    return tonumber(assert(nginx.curl(srv:url("/seen"))).body)
  end

  setup(function()
    ossl = openssl.new()
    merchant = ossl:keyset("merchant")
    platform = ossl:keyset("platform")
    rotated = ossl:keyset("rotated")
    platform_key = assert(core.key_load("file://" .. platform.key_path))
    rotated_key = assert(core.key_load("file://" .. rotated.key_path))
    srv = assert(nginx.start{
      workers = 2,
      http = ([[
        lua_shared_dict wechatpay_certs 1m;
        lua_shared_dict spec 1m;
        client_body_buffer_size 1k;
        init_by_lua_block {
          local core = require "wechatpay.core"
          master_nonce = core.nonce()          -- the generator is seeded in the master, before the fork
          wx = assert(require("wechatpay").new{
            mchid = "1900000001", serial = "3775B6A45ACD5888",
            private_key = "file://@MERCHANT_KEY@",
            certs = { ["@PUB_ID@"] = "file://@PLATFORM_PUB@" },
            apiv3_key = "@APIV3@", base_uri = "https://127.0.0.1:9/",
          })
          certs = require("wechatpay.openresty").cert_store("wechatpay_certs")
        }
        init_worker_by_lua_block {
          local req = assert(require("wechatpay.client.pipeline").prepare(wx, "GET", "v3/x", {}))
          local auth
          for _, h in ipairs(req.headers) do if h[1] == "Authorization" then auth = h[2] end end
          ngx.shared.spec:set("nonce:" .. ngx.worker.pid(), auth:match('nonce_str="(%w+)"'))
          certs:start_sync(wx, 0.05)
        }
        server {
          listen 127.0.0.1:@PORT@;
          location = /notify {
            content_by_lua_block {
              require("wechatpay.openresty").handle_notification(wx, function(event)
                assert(event.resource.total_amount == 40000)
                ngx.shared.spec:incr("seen", 1, 0)
                return event.summary ~= "refuse", "merchant refused"
              end)
            }
          }
          location = /seen { content_by_lua_block { ngx.print(ngx.shared.spec:get("seen") or 0) } }
          location = /nonces {
            content_by_lua_block {
              local out = {}
              for _, k in ipairs(ngx.shared.spec:get_keys()) do
                if k:find("^nonce:") then out[#out + 1] = k .. "=" .. ngx.shared.spec:get(k) end
              end
              out[#out + 1] = "master=" .. master_nonce
              ngx.print(table.concat(out, "\n"))
            }
          }
          location = /publish {
            content_by_lua_block {
              ngx.req.read_body()
              local ok, err = certs:publish(ngx.var.arg_id, ngx.req.get_body_data())
              ngx.print(ok and "published" or tostring(err))
            }
          }
          location = /remove { content_by_lua_block { certs:remove(ngx.var.arg_id) ngx.print("removed") } }
        }
      ]]):gsub("@MERCHANT_KEY@", merchant.key_path):gsub("@PLATFORM_PUB@", platform.pub_path)
        :gsub("@PUB_ID@", PUB_ID):gsub("@APIV3@", APIV3),
    })
  end)

  teardown(function()
    if srv then srv:stop() end
    if ossl then ossl:cleanup() end
  end)

  it("gives the two forked workers different nonce streams", function()
    local r, nonces, master
    for _ = 1, 100 do -- both workers have run init_worker within a moment of the start
      r = assert(nginx.curl(srv:url("/nonces")))
      nonces, master = {}, nil
      for k, v in r.body:gmatch("([%w:]+)=(%w+)") do
        if k == "master" then master = v else nonces[#nonces + 1] = v end
      end
      if #nonces == 2 then break end
      nginx.sleep(0.05)
    end
    assert.equal(2, #nonces, r.body)
    assert.not_equal(nonces[1], nonces[2])
    assert.not_equal(master, nonces[1]); assert.not_equal(master, nonces[2])
    for _, n in ipairs(nonces) do assert.matches("^[0-9A-Za-z]+$", n); assert.equal(32, #n) end
  end)

  it("verifies, decrypts and acknowledges a notification with 204", function()
    local before = seen()
    local r = post(notification())
    assert.equal(204, r.status, r.body)
    assert.equal("", r.body)
    assert.equal(before + 1, seen())
  end)

  it("reads a body nginx buffered to a temporary file", function()
    local before = seen()
    local r = post(notification{ summary = ("x"):rep(8000) })
    assert.equal(204, r.status, r.body)
    assert.equal(before + 1, seen())
  end)

  it("rejects tampered, stale, probe and unknown-key notifications with 4xx, without calling the merchant", function()
    local before = seen()
    local cases = {
      { tamper = true }, { ts = os.time() - 301 }, { signature = "WECHATPAY/SIGNTEST/x" }, { serial = "UNKNOWN" },
      { key = rotated_key },
    }
    for i, c in ipairs(cases) do
      local r = post(notification(c))
      assert.is_true(r.status >= 400 and r.status < 500, "case " .. i .. ": " .. r.status)
      local body = assert(json.decode(r.body))
      assert.equal("FAIL", body.code)
      assert.is_true(#body.message >= 1)
      assert.matches("application/json", r.headers["content-type"])
    end
    assert.equal(before, seen())
  end)

  it("answers 500 FAIL when the merchant function does not accept the event", function()
    local before = seen()
    local r = post(notification{ summary = "refuse" })
    assert.equal(500, r.status)
    assert.equal("FAIL", json.decode(r.body).code)
    assert.equal(before + 1, seen())
  end)

  it("rotates keys in every worker through the shared dict", function()
    local ROT = "ROTATED0000000000000000000000000000000001"
    local function try()
      local codes = {}
      for _ = 1, 6 do codes[#codes + 1] = post(notification{ key = rotated_key, serial = ROT }).status end
      return codes
    end
    for _, c in ipairs(try()) do assert.equal(400, c) end
    local r = assert(nginx.curl(srv:url("/publish?id=" .. ROT), { method = "POST",
      extra = "--data-binary @" .. rotated.cert_path }))
    assert.equal("published", r.body)
    nginx.sleep(0.3)
    for _, c in ipairs(try()) do assert.equal(204, c) end
    assert(nginx.curl(srv:url("/remove?id=" .. ROT)))
    nginx.sleep(0.3)
    for _, c in ipairs(try()) do assert.equal(400, c) end
    r = assert(nginx.curl(srv:url("/publish?id=X"), { method = "POST", body = "not a key" }))
    assert.matches("config error", r.body)
  end)
end)
