--- Provisioning of the local sandbox (run by `sandbox/bin/wxsandbox`, under LuaJIT with the project's core).
--
--   luajit sandbox/lua/sandbox/provision.lua provision   -- keys, certificates, config.json, sandbox.json
--   luajit sandbox/lua/sandbox/provision.lua render      -- the above, then nginx.conf from sandbox/conf/
--
-- Environment (set by wxsandbox): SANDBOX_DIR (absolute), SANDBOX_REPO, SANDBOX_BUILD, SANDBOX_PORT,
-- SANDBOX_CERT_MODE, SANDBOX_TIME_SCALE, SANDBOX_MCHID, SANDBOX_EXTRA_ROUTES, SANDBOX_LOG_LEVEL,
-- SANDBOX_OWNER_PID (the sandbox stops itself when that process is gone; the specs set it).
--
-- Idempotent: every key, certificate and APIv3 key is made once, with the openssl command line, and kept; the JSON
-- files and nginx.conf are rewritten from them each time (so a new port or mode takes effect at the next start).
-- Private keys, APIv3 keys and config.json are written with mode 0600 (umask 077).
--
-- Layout of SANDBOX_DIR:
--   ca.pem ca.key                      the sandbox CA (trust ca.pem in clients: config.json `ca_file`)
--   server.pem server.key              TLS certificate of 127.0.0.1 / localhost, signed by the CA
--   trusted.pem                        CAs the sandbox trusts for https notify_urls (starts as a copy of ca.pem)
--   wechatpay/pub_key.pem              the WeChat Pay public key (SPKI); its id in wechatpay/pub_key_id
--   wechatpay/pub_key_private.pem      ... and its private half (the sandbox signs with it)
--   wechatpay/platform_cert.pem        the platform certificate (40-hex serial), platform_key.pem its key
--   merchants.json                     the merchants (edit to add merchants, appids, service_ids)
--   merchants/<mchid>/apiclient_key.pem, apiclient_cert.pem, apiv3_key
--   config.json                        everything a client needs (default merchant + `merchants`)
--   sandbox.json                       the server's runtime configuration (read by sandbox.server)

local MODNAME = ... -- the module name when required, the first argument when run as a script
local json = require "wechatpay.codec.json"
local shell = require "sandbox.shell"

local M = {}

M.DEFAULT_MCHID = "1900000001"
M.DEFAULT_APPID = "wxd678efh567hg6787"
M.DEFAULT_SERVICE_ID = "2002000000000558128851361561536"

local shq, sh, read_file, exists = shell.shq, shell.sh, shell.read_file, shell.exists

-- standard output without its trailing white space
local function capture(cmd)
  return (shell.capture(cmd):gsub("%s+$", ""))
end

local function write_file(p, s, private)
  -- write to a temp name, then rename: a reader never sees half a file
  local tmp = p .. ".tmp"
  if private then sh("umask 077 && : > " .. shq(tmp)) end
  shell.write_file(tmp, s)
  if private then sh("chmod 600 " .. shq(tmp)) end
  assert(os.rename(tmp, p))
end

local function die(msg)
  io.stderr:write("wxsandbox: ", msg, "\n")
  os.exit(1)
end

local function run(cmd, what)
  local log = os.tmpname()
  if not sh("umask 077 && " .. cmd .. " > " .. shq(log) .. " 2>&1") then
    local out = read_file(log) or ""
    os.remove(log)
    die(what .. " failed:\n" .. out)
  end
  os.remove(log)
end

-- 40 upper-case hex digits, positive, no leading zero byte (first digit 1-7): a serial as WeChat Pay issues them.
local function random_serial()
  local hex = capture("openssl rand -hex 20"):upper()
  if not hex:match("^%x+$") or #hex ~= 40 then die("openssl rand failed") end
  local first = tonumber(hex:sub(1, 1), 16) % 7 + 1
  return tostring(first) .. hex:sub(2)
end

local function random_digits(n)
  local hex = capture("openssl rand -hex " .. n)
  local out = {}
  for i = 1, n do out[i] = tostring(tonumber(hex:sub(2 * i - 1, 2 * i), 16) % 10) end
  return table.concat(out)
end

local OPENSSL_CNF = [[
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
]]

local function genkey(path)
  if exists(path) then return false end
  run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " .. shq(path), "key generation")
  sh("chmod 600 " .. shq(path))
  return true
end

-- A certificate for `key` signed by the sandbox CA.
local function issue(dir, key, cert, subject, ext, days)
  if exists(cert) then return false end
  local csr = cert .. ".csr"
  run("openssl req -new -key " .. shq(key) .. " -subj " .. shq(subject) .. " -config " .. shq(dir .. "/openssl.cnf")
    .. " -out " .. shq(csr), "certificate request")
  run("openssl x509 -req -in " .. shq(csr) .. " -CA " .. shq(dir .. "/ca.pem") .. " -CAkey " .. shq(dir .. "/ca.key")
    .. " -set_serial 0x" .. random_serial() .. " -days " .. days .. " -sha256 -extfile " .. shq(dir .. "/openssl.cnf")
    .. " -extensions " .. ext .. " -out " .. shq(cert), "certificate")
  os.remove(csr)
  sh("chmod 644 " .. shq(cert))
  return true
end

local function cert_serial(cert)
  local s = capture("openssl x509 -in " .. shq(cert) .. " -noout -serial")
  local hex = s:match("serial=(%x+)")
  if not hex then die("cannot read the serial of " .. cert) end
  return hex:upper()
end

-- days from 1970-01-01 of a civil date (proleptic Gregorian)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- "2026-11-29 19:44:05Z" (openssl -dateopt iso_8601) -> RFC 3339 in +08:00 (as WeChat Pay writes times)
local function rfc3339_cn(iso)
  local y, mo, d, h, mi, s = iso:match("(%d+)-(%d+)-(%d+)[ T](%d+):(%d+):(%d+)")
  if not y then return nil end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600
    + tonumber(mi) * 60 + tonumber(s)
  return os.date("!%Y-%m-%dT%H:%M:%S+08:00", t + 8 * 3600)
end
M.rfc3339_cn = rfc3339_cn

local function cert_dates(cert)
  local out = capture("openssl x509 -in " .. shq(cert) .. " -noout -dates -dateopt iso_8601")
  local nb = out:match("notBefore=([^\n]+)")
  local na = out:match("notAfter=([^\n]+)")
  return nb and rfc3339_cn(nb), na and rfc3339_cn(na)
end

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function truthy(v)
  return v ~= nil and v ~= "" and v ~= "0" and v:lower() ~= "false" and v:lower() ~= "no"
end

-- Indented JSON with the keys in the given order (config files are read by people too).
local function pretty(value, order, indent)
  indent = indent or ""
  local inner = indent .. "  "
  if type(value) == "table" and not json.is_array(value) and next(value) ~= nil and value[1] == nil then
    local keys, seen = {}, {}
    for _, k in ipairs(order or {}) do
      if value[k] ~= nil then keys[#keys + 1] = k; seen[k] = true end
    end
    local rest = {}
    for k in pairs(value) do if not seen[k] then rest[#rest + 1] = k end end
    table.sort(rest)
    for _, k in ipairs(rest) do keys[#keys + 1] = k end
    local parts = {}
    for i, k in ipairs(keys) do
      parts[i] = inner .. assert(json.encode(k)) .. ": " .. pretty(value[k], order, inner)
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  elseif type(value) == "table" and (value[1] ~= nil) then
    local simple = true
    for _, v in ipairs(value) do if type(v) == "table" then simple = false end end
    if simple then return assert(json.encode(value)) end
    local parts = {}
    for i, v in ipairs(value) do parts[i] = inner .. pretty(v, order, inner) end
    return "[\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "]"
  end
  local s, err = json.encode(value)
  if not s then die("cannot encode a configuration value: " .. tostring(err)) end
  return s
end
M.pretty = pretty

local CONFIG_ORDER = {
  "base_uri", "control_uri", "mchid", "serial", "private_key", "certificate", "public_key_id", "public_key",
  "platform_certificate", "platform_serial", "apiv3_key", "ca_file", "appid", "service_id", "appids", "service_ids",
  "cert_mode", "merchants", "name",
}

local function default_merchants(mchid)
  return {
    merchants = {
      {
        mchid = mchid,
        name = "Sandbox merchant",
        appids = json.array { M.DEFAULT_APPID },
        service_ids = json.array { M.DEFAULT_SERVICE_ID },
      },
    },
  }
end

local function load_merchants(dir, mchid)
  local path = dir .. "/merchants.json"
  local text = read_file(path)
  if not text then
    local doc = default_merchants(mchid)
    write_file(path, pretty(doc, { "merchants", "mchid", "name", "appids", "service_ids" }) .. "\n")
    return doc.merchants
  end
  local doc, err = json.decode(text)
  if not doc then die(path .. ": invalid JSON: " .. tostring(err)) end
  if type(doc) ~= "table" or type(doc.merchants) ~= "table" or doc.merchants[1] == nil then
    die(path .. ": expected { \"merchants\": [ { \"mchid\": \"...\", ... }, ... ] }")
  end
  local seen = {}
  for i, m in ipairs(doc.merchants) do
    if type(m) ~= "table" or type(m.mchid) ~= "string" or not m.mchid:match("^[0-9A-Za-z]+$") then
      die(path .. ": merchants[" .. i .. "].mchid must be a string of digits/letters")
    end
    if seen[m.mchid] then die(path .. ": mchid " .. m.mchid .. " listed twice") end
    seen[m.mchid] = true
    if m.appids ~= nil and type(m.appids) ~= "table" then
      die(path .. ": merchants[" .. i .. "].appids must be an array")
    end
    if m.service_ids ~= nil and type(m.service_ids) ~= "table" then
      die(path .. ": merchants[" .. i .. "].service_ids must be an array")
    end
    if m.apiv3_key ~= nil and (type(m.apiv3_key) ~= "string" or #m.apiv3_key ~= 32) then
      die(path .. ": merchants[" .. i .. "].apiv3_key must be a string of 32 bytes")
    end
  end
  return doc.merchants
end

--- Make every missing key and certificate, then write config.json and sandbox.json. Returns the runtime table.
function M.provision()
  local dir = env("SANDBOX_DIR") or die("SANDBOX_DIR is not set")
  local port = tonumber(env("SANDBOX_PORT", "9443")) or die("SANDBOX_PORT must be a number")
  local cert_mode = truthy(env("SANDBOX_CERT_MODE"))
  local time_scale = tonumber(env("SANDBOX_TIME_SCALE", "1"))
  if not time_scale or time_scale <= 0 then die("SANDBOX_TIME_SCALE must be a positive number") end
  local mchid = env("SANDBOX_MCHID", M.DEFAULT_MCHID)

  for _, d in ipairs({ "", "/tmp", "/lib", "/wechatpay", "/merchants" }) do
    if not sh("mkdir -p " .. shq(dir .. d)) then die("cannot create " .. dir .. d) end
  end
  sh("chmod 700 " .. shq(dir))
  write_file(dir .. "/openssl.cnf", OPENSSL_CNF)

  -- the CA and the TLS certificate of the server
  genkey(dir .. "/ca.key")
  if not exists(dir .. "/ca.pem") then
    run("openssl req -x509 -new -key " .. shq(dir .. "/ca.key") .. " -sha256 -days 3650"
      .. " -subj '/O=WeChat Pay Sandbox/CN=WeChat Pay Sandbox Root CA' -config " .. shq(dir .. "/openssl.cnf")
      .. " -extensions v3_ca -set_serial 0x" .. random_serial() .. " -out " .. shq(dir .. "/ca.pem"), "CA")
    sh("chmod 644 " .. shq(dir .. "/ca.pem"))
  end
  genkey(dir .. "/server.key")
  issue(dir, dir .. "/server.key", dir .. "/server.pem", "/O=WeChat Pay Sandbox/CN=localhost", "v3_server", 825)
  if not exists(dir .. "/trusted.pem") then
    write_file(dir .. "/trusted.pem", assert(read_file(dir .. "/ca.pem")))
  end

  -- WeChat Pay's keys: the public key (with its id) and the platform certificate
  local wx = dir .. "/wechatpay"
  genkey(wx .. "/pub_key_private.pem")
  if not exists(wx .. "/pub_key.pem") then
    run("openssl pkey -in " .. shq(wx .. "/pub_key_private.pem") .. " -pubout -out " .. shq(wx .. "/pub_key.pem"),
      "public key")
    sh("chmod 644 " .. shq(wx .. "/pub_key.pem"))
  end
  local pub_key_id = read_file(wx .. "/pub_key_id")
  pub_key_id = pub_key_id and pub_key_id:match("PUB_KEY_ID_%d+")
  if not pub_key_id then
    -- PUB_KEY_ID_ + 28 digits, like PUB_KEY_ID_0114232134912410000000000000
    local digits = ("01" .. mchid:gsub("%D", "") .. os.date("!%Y%m%d") .. random_digits(28)):sub(1, 28)
    pub_key_id = "PUB_KEY_ID_" .. digits
    write_file(wx .. "/pub_key_id", pub_key_id .. "\n")
  end
  genkey(wx .. "/platform_key.pem")
  issue(dir, wx .. "/platform_key.pem", wx .. "/platform_cert.pem",
    "/C=CN/ST=Guangdong/L=Shenzhen/O=Tenpay.com/OU=Tenpay.com CA Center/CN=Tenpay.com Sign (sandbox)", "v3_leaf", 1825)
  local platform_serial = cert_serial(wx .. "/platform_cert.pem")
  local effective, expire = cert_dates(wx .. "/platform_cert.pem")

  -- merchants
  local merchants = load_merchants(dir, mchid)
  local base_uri = "https://127.0.0.1:" .. port .. "/"
  local rt_merchants, cfg_merchants = {}, {}
  for _, m in ipairs(merchants) do
    local md = dir .. "/merchants/" .. m.mchid
    sh("mkdir -p " .. shq(md))
    genkey(md .. "/apiclient_key.pem")
    issue(dir, md .. "/apiclient_key.pem", md .. "/apiclient_cert.pem",
      "/C=CN/O=WeChat Pay Sandbox merchant/OU=" .. (m.name or "Sandbox merchant"):gsub("[/=,]", " ")
      .. "/CN=" .. m.mchid, "v3_leaf", 1825)
    local apiv3_key = m.apiv3_key
    if not apiv3_key then
      apiv3_key = (read_file(md .. "/apiv3_key") or ""):match("^(%w+)")
      if not apiv3_key or #apiv3_key ~= 32 then
        apiv3_key = capture("openssl rand -hex 16")
        if #apiv3_key ~= 32 then die("openssl rand failed") end
        write_file(md .. "/apiv3_key", apiv3_key .. "\n", true)
      end
    end
    local rm = {}
    for k, v in pairs(m) do rm[k] = v end -- pass every field through (PayScore handlers see ctx.merchant)
    rm.appids = json.array(m.appids or {})
    rm.service_ids = json.array(m.service_ids or {})
    rm.serial = cert_serial(md .. "/apiclient_cert.pem")
    rm.certificate = md .. "/apiclient_cert.pem"
    rm.private_key = md .. "/apiclient_key.pem"
    rm.apiv3_key = apiv3_key
    rt_merchants[#rt_merchants + 1] = rm
    cfg_merchants[#cfg_merchants + 1] = {
      mchid = m.mchid, name = m.name, serial = rm.serial, private_key = rm.private_key, certificate = rm.certificate,
      apiv3_key = apiv3_key, appids = rm.appids, service_ids = rm.service_ids,
    }
  end
  local first = rt_merchants[1]

  local config = {
    base_uri = base_uri,
    control_uri = base_uri .. "sandbox/",
    mchid = first.mchid,
    serial = first.serial,
    private_key = first.private_key,
    certificate = first.certificate,
    public_key_id = pub_key_id,
    public_key = wx .. "/pub_key.pem",
    platform_certificate = wx .. "/platform_cert.pem",
    platform_serial = platform_serial,
    apiv3_key = first.apiv3_key,
    ca_file = dir .. "/ca.pem",
    appid = first.appids[1],
    service_id = first.service_ids[1],
    cert_mode = cert_mode,
    merchants = json.array(cfg_merchants),
  }
  write_file(dir .. "/config.json", pretty(config, CONFIG_ORDER) .. "\n", true)

  local runtime = {
    dir = dir,
    port = port,
    base_uri = base_uri,
    cert_mode = cert_mode,
    time_scale = time_scale,
    extra_routes = env("SANDBOX_EXTRA_ROUTES"),
    owner_pid = tonumber(env("SANDBOX_OWNER_PID", "")),
    default_mchid = first.mchid,
    ca_file = dir .. "/ca.pem",
    wechatpay = {
      public_key_id = pub_key_id,
      public_key = wx .. "/pub_key.pem",
      public_key_private = wx .. "/pub_key_private.pem",
      platform_serial = platform_serial,
      platform_certificate = wx .. "/platform_cert.pem",
      platform_private_key = wx .. "/platform_key.pem",
      platform_effective_time = effective,
      platform_expire_time = expire,
    },
    merchants = json.array(rt_merchants),
  }
  write_file(dir .. "/sandbox.json", pretty(runtime, CONFIG_ORDER) .. "\n", true)
  return runtime
end

--- Provision, then render nginx.conf from sandbox/conf/nginx.conf.tpl.
function M.render()
  local rt = M.provision()
  local repo = env("SANDBOX_REPO") or die("SANDBOX_REPO is not set")
  local build = env("SANDBOX_BUILD", "build")
  if build:sub(1, 1) ~= "/" then build = repo .. "/" .. build end
  local tpl = read_file(repo .. "/sandbox/conf/nginx.conf.tpl") or die("sandbox/conf/nginx.conf.tpl not found")
  local user = capture("id -u") == "0" and "user root;" or "" -- workers read the 0600 keys of the owner
  local vars = {
    DIR = rt.dir, REPO = repo, PORT = tostring(rt.port), CPATH = build .. "/luajit/?.so",
    LOG_LEVEL = env("SANDBOX_LOG_LEVEL", "warn"), USER = user,
  }
  local conf = tpl:gsub("{{([%u_]+)}}", function(k)
    local v = vars[k]
    if v == nil then die("nginx.conf.tpl: unknown placeholder {{" .. k .. "}}") end
    return v
  end)
  for _, d in ipairs({ "body", "proxy", "fastcgi", "uwsgi", "scgi" }) do
    sh("mkdir -p " .. shq(rt.dir .. "/tmp/" .. d))
  end
  write_file(rt.dir .. "/nginx.conf", conf)
  return rt
end

function M.main(argv)
  local cmd = argv[1]
  if cmd == "provision" then
    M.provision()
  elseif cmd == "render" then
    M.render()
  else
    die("usage: provision.lua provision|render")
  end
  return 0
end

if MODNAME ~= "sandbox.provision" then -- run as a script
  os.exit(M.main(arg))
end

return M
