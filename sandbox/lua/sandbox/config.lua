--- Runtime configuration of the sandbox inside nginx: the merchants, WeChat Pay's keys, the answer-signing mode
-- and the sandbox clock.
--
-- `load(dir)` runs in init_by_lua (master) and reads <dir>/sandbox.json written by sandbox.provision; keys are
-- parsed lazily, once per worker (the C core's handles are not shared across the fork).
-- Settings that can change at run time (cert_mode, time_scale, the clock offsets) live in the shared dict
-- `sandbox_sys`, so both workers see the same values.

local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

local M = {}

local rt                 -- the decoded sandbox.json
local merchants = {}     -- mchid -> merchant table
local keys = {}          -- per worker: name -> key handle

local function sys() return ngx.shared.sandbox_sys end

local function read_file(p)
  local f, err = io.open(p, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end
M.read_file = read_file

function M.load(dir)
  local text = assert(read_file(dir .. "/sandbox.json"))
  local doc = assert(json.decode(text))
  rt = doc
  merchants = {}
  for _, m in ipairs(doc.merchants) do merchants[m.mchid] = m end
  keys = {}
  local s = sys()
  if s then
    -- start-time settings; POST /sandbox/config changes them at run time
    s:set("cert_mode", doc.cert_mode and true or false)
    s:set("time_scale", doc.time_scale or 1)
  end
  return doc
end

function M.runtime() return rt end
function M.merchant(mchid) return mchid and merchants[mchid] end
function M.default_merchant() return merchants[rt.default_mchid] end
function M.merchants() return rt.merchants end

-- ---- keys (per worker) --------------------------------------------------------------------------

local function key(name, path, kind)
  local k = keys[name]
  if k then return k end
  local err
  k, err = core.key_load("file://" .. path, kind)
  if not k then error("sandbox: cannot load " .. path .. ": " .. tostring(err), 0) end
  keys[name] = k
  return k
end

--- The public key of a merchant's API certificate (verifies its requests).
function M.merchant_key(m)
  return key("merchant:" .. m.mchid, m.certificate, "public")
end

--- Parse every key now (init_worker), so that a broken key shows at start and not at the first request.
function M.load_keys()
  keys = {}
  for _, m in ipairs(rt.merchants) do M.merchant_key(m) end
  key("pub", rt.wechatpay.public_key_private, "private")
  key("platform", rt.wechatpay.platform_private_key, "private")
end

function M.cert_mode()
  local v = sys():get("cert_mode")
  if v == nil then return rt.cert_mode and true or false end
  return v
end

function M.time_scale()
  return sys():get("time_scale") or rt.time_scale or 1
end

--- The key answers and notifications are signed with: serial (Wechatpay-Serial), key handle.
-- force: "platform" or "public_key" to ignore the mode.
function M.signer(force)
  local wx = rt.wechatpay
  local platform = force == "platform" or (force == nil and M.cert_mode())
  if platform then
    return wx.platform_serial, key("platform", wx.platform_private_key, "private")
  end
  return wx.public_key_id, key("pub", wx.public_key_private, "private")
end

-- ---- the sandbox clock --------------------------------------------------------------------------

--- Seconds added to the real clock for everything (protocol checks, signatures, business rules).
function M.clock_offset() return sys():get("clock_offset") or 0 end
--- Seconds added on top for business rules only (ctx.now), leaving the protocol clock alone.
function M.business_offset() return sys():get("business_offset") or 0 end

--- The sandbox clock (integer seconds) used by the protocol: real time + offset.
function M.now()
  return ngx.time() + M.clock_offset()
end

--- The clock the business logic sees (ctx.now).
function M.business_now()
  return ngx.time() + M.clock_offset() + M.business_offset()
end

--- RFC 3339 in +08:00 (WeChat Pay's zone) of a Unix time.
function M.rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%S+08:00", math.floor(t) + 8 * 3600)
end

--- The public part of config.json (no APIv3 keys, no private key paths).
function M.public()
  local m = M.default_merchant()
  local list = {}
  for _, x in ipairs(rt.merchants) do
    list[#list + 1] = { mchid = x.mchid, name = x.name, serial = x.serial, certificate = x.certificate,
      appids = json.array(x.appids or {}), service_ids = json.array(x.service_ids or {}) }
  end
  return {
    base_uri = rt.base_uri,
    control_uri = rt.base_uri .. "sandbox/",
    mchid = m.mchid,
    serial = m.serial,
    certificate = m.certificate,
    public_key_id = rt.wechatpay.public_key_id,
    public_key = rt.wechatpay.public_key,
    platform_certificate = rt.wechatpay.platform_certificate,
    platform_serial = rt.wechatpay.platform_serial,
    ca_file = rt.ca_file,
    appid = (m.appids or {})[1],
    service_id = (m.service_ids or {})[1],
    cert_mode = M.cert_mode(),
    time_scale = M.time_scale(),
    merchants = json.array(list),
  }
end

return M
