-- `wxsandbox provision` / start / status / stop, merchants.json: keys and certificates checked with the openssl CLI.

local sandbox = require "spec.support.sandbox"
local nginx = require "spec.support.nginx"
local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

local sh, capture, shq, read_file, write_file = nginx.sh, nginx.capture, nginx.shq, nginx.read_file, nginx.write_file

local available, why = sandbox.available()

local function wx(dir, args, env)
  local out = os.tmpname()
  local ok = sh("SANDBOX_DIR=" .. shq(dir) .. " " .. (env or "") .. " " .. shq(sandbox.WXSANDBOX) .. " " .. args
    .. " > " .. shq(out) .. " 2>&1")
  local text = read_file(out) or ""
  os.remove(out)
  return ok, text
end

local function mode(path)
  return capture("stat -c %a " .. shq(path))
end

local function modulus(cmd)
  return capture(cmd .. " -noout -modulus 2>/dev/null")
end

describe("wxsandbox provision", function()
  if not available then
    pending("sandbox prerequisites missing: " .. tostring(why))
    return
  end

  local dir, cfg
  setup(function()
    dir = capture("mktemp -d /tmp/wp-sandbox-prov.XXXXXX")
    local ok, out = wx(dir, "provision", "SANDBOX_PORT=29999")
    assert(ok, out)
    cfg = assert(json.decode(assert(read_file(dir .. "/config.json"))))
  end)
  teardown(function()
    if dir and not os.getenv("WP_KEEP_TMP") then sh("rm -rf " .. shq(dir)) end
  end)

  it("writes config.json with everything a client needs", function()
    assert.are.equal("https://127.0.0.1:29999/", cfg.base_uri)
    assert.are.equal("https://127.0.0.1:29999/sandbox/", cfg.control_uri)
    assert.are.equal("1900000001", cfg.mchid)
    assert.are.equal("wxd678efh567hg6787", cfg.appid)
    assert.are.equal("2002000000000558128851361561536", cfg.service_id)
    assert.matches("^PUB_KEY_ID_%d+$", cfg.public_key_id)
    assert.are.equal(39, #cfg.public_key_id)
    assert.matches("^%x+$", cfg.serial)
    assert.matches("^%x+$", cfg.platform_serial)
    assert.are.equal(40, #cfg.platform_serial)
    assert.are.equal(32, #cfg.apiv3_key)
    assert.is_false(cfg.cert_mode)
    assert.are.equal(1, #cfg.merchants)
    assert.are.equal(cfg.serial, cfg.merchants[1].serial)
  end)

  it("makes a merchant certificate whose serial is the merchant serial and whose key is the private key", function()
    local serial = capture("openssl x509 -in " .. shq(cfg.certificate) .. " -noout -serial"):match("serial=(%x+)")
    assert.are.equal(serial, cfg.serial)
    assert.are.equal(cfg.serial, core.cert_serial("file://" .. cfg.certificate))
    assert.are.equal(modulus("openssl x509 -in " .. shq(cfg.certificate)),
      modulus("openssl rsa -in " .. shq(cfg.private_key)))
    assert.matches("OK", capture("openssl verify -CAfile " .. shq(cfg.ca_file) .. " " .. shq(cfg.certificate)))
    local key = assert(core.key_load("file://" .. cfg.private_key))
    assert.are.equal(2048, key:bits())
  end)

  it("makes the WeChat Pay public key and the platform certificate", function()
    assert.matches("BEGIN PUBLIC KEY", read_file(cfg.public_key))
    assert.are.equal(2048, assert(core.key_load("file://" .. cfg.public_key, "public")):bits())
    assert.are.equal(cfg.platform_serial, core.cert_serial("file://" .. cfg.platform_certificate))
    assert.matches("OK", capture("openssl verify -CAfile " .. shq(cfg.ca_file) .. " " .. shq(cfg.platform_certificate)))
    -- the sandbox signs with the private halves: a signature by them verifies with the published keys
    local msg = "1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n"
    local sig = sandbox.openssl_sign(dir .. "/wechatpay/pub_key_private.pem", msg)
    assert.is_true((sandbox.openssl_verify(cfg.public_key, msg, sig)))
    sig = sandbox.openssl_sign(dir .. "/wechatpay/platform_key.pem", msg)
    assert.is_true((sandbox.openssl_verify(cfg.platform_certificate, msg, sig, true)))
  end)

  it("makes a server certificate for 127.0.0.1 and localhost signed by the CA", function()
    local pem = dir .. "/server.pem"
    assert.matches("OK", capture("openssl verify -CAfile " .. shq(cfg.ca_file) .. " " .. shq(pem)))
    local text = capture("openssl x509 -in " .. shq(pem) .. " -noout -ext subjectAltName")
    assert.matches("IP Address:127.0.0.1", text, 1, true)
    assert.matches("DNS:localhost", text, 1, true)
  end)

  it("keeps private keys, APIv3 keys and config.json private (0600)", function()
    for _, p in ipairs({ cfg.private_key, dir .. "/ca.key", dir .. "/server.key", dir .. "/wechatpay/pub_key_private.pem",
      dir .. "/wechatpay/platform_key.pem", dir .. "/merchants/1900000001/apiv3_key", dir .. "/config.json",
      dir .. "/sandbox.json" }) do
      assert.are.equal("600", mode(p), p)
    end
  end)

  it("is idempotent: a second run keeps every key and serial, and takes a new port", function()
    local before = {}
    for _, p in ipairs({ cfg.private_key, cfg.certificate, cfg.public_key, cfg.platform_certificate, cfg.ca_file }) do
      before[p] = read_file(p)
    end
    local ok, out = wx(dir, "provision", "SANDBOX_PORT=29998")
    assert(ok, out)
    local again = json.decode(read_file(dir .. "/config.json"))
    for p, text in pairs(before) do assert.are.equal(text, read_file(p), p) end
    assert.are.equal(cfg.serial, again.serial)
    assert.are.equal(cfg.public_key_id, again.public_key_id)
    assert.are.equal(cfg.platform_serial, again.platform_serial)
    assert.are.equal(cfg.apiv3_key, again.apiv3_key)
    assert.are.equal("https://127.0.0.1:29998/", again.base_uri)
  end)

  it("refuses a broken merchants.json with a message", function()
    local d = capture("mktemp -d /tmp/wp-sandbox-prov.XXXXXX")
    write_file(d .. "/merchants.json", '{"merchants": [{"mchid": 1900000001}]}')
    local ok, out = wx(d, "provision")
    sh("rm -rf " .. shq(d))
    assert.is_false(ok)
    assert.matches("mchid", out)
  end)
end)

describe("wxsandbox with two merchants (merchants.json)", function()
  local sb = sandbox.setup{ routes = sandbox.TEST_ROUTES, merchants = {
    merchants = {
      { mchid = "1900000001", appids = { "wxd678efh567hg6787" }, service_ids = { "2002000000000558128851361561536" } },
      { mchid = "1900000002", name = "Second shop", appids = { "wx0000000000000002" }, service_ids = { "500002" },
        apiv3_key = "abcdefghijklmnopqrstuvwxyz012345" },
      { mchid = "1900000003", public_key_only = true },
    },
  } }
  if not sb then return end

  it("provisions each merchant with its own certificate and APIv3 key", function()
    local m = sb.config.merchants
    assert.are.equal(3, #m)
    assert.are.equal("1900000002", m[2].mchid)
    assert.are.equal("abcdefghijklmnopqrstuvwxyz012345", m[2].apiv3_key)
    assert.are_not.equal(m[1].serial, m[2].serial)
    assert.are_not.equal(m[1].apiv3_key, m[3].apiv3_key)
    assert.are.same({ "wx0000000000000002" }, m[2].appids)
  end)

  it("authenticates each merchant with its own key and serial, not another's", function()
    local m2 = sb.config.merchants[2]
    local res = sb:request{ target = "/v3/sandbox-test/echo", mchid = m2.mchid, serial = m2.serial, key = m2.private_key }
    assert.are.equal(200, res.status, res.body)
    assert.are.equal("1900000002", json.decode(res.body).mchid)
    res = sb:request{ target = "/v3/sandbox-test/echo", mchid = m2.mchid, serial = m2.serial }
    assert.are.equal(401, res.status)
    res = sb:request{ target = "/v3/sandbox-test/echo", mchid = m2.mchid }
    assert.are.equal(401, res.status)
  end)

  it("encrypts /v3/certificates with the merchant's APIv3 key; a public-key-only merchant gets RESOURCE_NOT_EXISTS",
    function()
      local m2 = sb.config.merchants[2]
      local res = sb:request{ target = "/v3/certificates", mchid = m2.mchid, serial = m2.serial, key = m2.private_key }
      assert.are.equal(200, res.status)
      local e = json.decode(res.body).data[1].encrypt_certificate
      assert.is_truthy(core.gcm_decrypt(m2.apiv3_key, e.nonce, e.associated_data, e.ciphertext))
      assert.is_nil(core.gcm_decrypt(sb.config.apiv3_key, e.nonce, e.associated_data, e.ciphertext))
      local m3 = sb.config.merchants[3]
      res = sb:request{ target = "/v3/certificates", mchid = m3.mchid, serial = m3.serial, key = m3.private_key }
      assert.are.equal(404, res.status)
      assert.are.equal("RESOURCE_NOT_EXISTS", json.decode(res.body).code)
    end)

  it("reports status, refuses a second start and stops", function()
    local ok, out = wx(sb.dir, "status")
    assert.is_true(ok, out)
    assert.matches("running", out)
    ok, out = wx(sb.dir, "start", "SANDBOX_PORT=" .. sb.port)
    assert.is_true(ok, out)
    assert.matches("already running", out)
    ok, out = wx(sb.dir, "stop")
    assert.is_true(ok, out)
    ok, out = wx(sb.dir, "status")
    assert.is_false(ok)
    assert.matches("not running", out)
    assert.is_nil(read_file(sb.dir .. "/nginx.pid"))
  end)
end)
