--- Notifications (payscore.md §8, apiv3-protocol §5): envelope, AES-256-GCM resource, signed headers, delivery by
-- POST on a cosocket from a timer (never blocks the request that caused it), retries, delivery log.
--
--   local id, seq = notify.send{
--     mchid = "1900000001",                       -- default: the first merchant
--     url = order.notify_url,                     -- http:// or https:// (verified against the sandbox's trust
--                                                 -- store <dir>/trusted.pem); host: an IP literal or localhost
--     event_type = "PAYSCORE.USER_CONFIRM",
--     summary = "微信支付分服务订单用户已确认",     -- default by event type
--     resource_type = "encrypt-resource",          -- default
--     original_type = "payscore",                  -- default
--     associated_data = "payscore",                -- default: original_type
--     plaintext = { ... },                          -- table (JSON-encoded with the project codec) or a string
--   }
--   -- id: "EV-<yyyyMMddHHmmss><5 digits>", seq: its entry in GET /sandbox/notifications; or nil, message
--
-- Delivery: the first attempt at once; success is a 200 or 204 answer within 5 s; otherwise it is retried after
-- 15 s, 15 s, 30 s, 3 min, 30 min, 30 min, 30 min, 30 min, 60 min (payscore.md §8.1, the current schedule that
-- §11 picks over the older 24 h one), each interval divided by the time scale (SANDBOX_TIME_SCALE, or POST
-- /sandbox/config {time_scale}); then the delivery is "failed". Each attempt is signed afresh (new timestamp and
-- nonce) with the key answers are signed with (public key, or the platform certificate in certificate mode) and
-- carries Wechatpay-Signature-Type and a new Request-ID. Every attempt is logged: status, error, duration.
-- POST /sandbox/reset stops pending retries.

local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"
local config = require "sandbox.config"
local journal = require "sandbox.journal"
local util = require "sandbox.util"

local M = {}

M.SCHEDULE = { 15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600 }
M.TIMEOUT = 5
M.SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

M.SUMMARIES = {
  ["PAYSCORE.USER_CONFIRM"] = "微信支付分服务订单用户已确认",
  ["PAYSCORE.USER_PAID"] = "微信支付分服务订单支付成功",
  ["PAYSCORE.USER_OPEN_SERVICE"] = "用户开启微信支付分服务",
  ["PAYSCORE.USER_CLOSE_SERVICE"] = "用户解除微信支付分服务授权",
}

local function sys() return ngx.shared.sandbox_sys end

local function generation() return sys():get("generation") or 0 end

local function truncated(s, n)
  if type(s) ~= "string" then return nil end
  if #s <= n then return s end
  return s:sub(1, n) .. "..."
end

-- nginx resolves no names without a `resolver`: localhost is dialled as 127.0.0.1 (TLS name stays "localhost")
local function target(url)
  local scheme, host, rest = url:match("^(https?)://([^/:?#]+)(.*)$")
  if scheme and host:lower() == "localhost" then
    return scheme .. "://127.0.0.1" .. rest, "localhost"
  end
  return url, nil
end

local attempt

local function schedule(delay, seq, n)
  local ok, err = ngx.timer.at(delay, attempt, seq, n)
  if not ok then
    ngx.log(ngx.ERR, "sandbox notify: cannot schedule delivery ", seq, ": ", tostring(err))
    local rec = journal.get("ntf", seq)
    if rec then
      rec.status = "failed"
      rec.error = "cannot schedule: " .. tostring(err)
      journal.update("ntf", seq, rec)
    end
  end
end

attempt = function(premature, seq, n)
  if premature then return end -- nginx is shutting down
  local rec = journal.get("ntf", seq)
  if not rec then return end -- the log was cleared
  if rec.generation ~= generation() then
    rec.status = "cancelled"
    journal.update("ntf", seq, rec)
    return
  end
  local serial, key = config.signer()
  local ts = string.format("%d", config.now())
  local nonce = core.nonce()
  local sig = assert(core.sign(key, ts .. "\n" .. nonce .. "\n" .. rec.body .. "\n"))
  local request_id = util.request_id() .. "-0"
  local headers = {
    { "Content-Type", "application/json" },
    { "Accept", "*/*" },
    { "User-Agent", "Mozilla/4.0" },
    { "Request-ID", request_id },
    { "Wechatpay-Nonce", nonce },
    { "Wechatpay-Serial", serial },
    { "Wechatpay-Signature", sig },
    { "Wechatpay-Signature-Type", M.SIGNATURE_TYPE },
    { "Wechatpay-Timestamp", ts },
  }
  local url, server_name = target(rec.url)
  local t0 = ngx.now()
  local res, err
  local okt, transport = pcall(require, "wechatpay.transport.ngx")
  if okt then
    local t = transport.new { connect_timeout = M.TIMEOUT, timeout = M.TIMEOUT, keepalive = false,
      server_name = server_name, max_body = 64 * 1024 }
    res, err = t:request { method = "POST", url = url, headers = headers, body = rec.body, timeout = M.TIMEOUT }
  else
    err = { reason = "other", message = "wechatpay.transport.ngx: " .. tostring(transport) }
  end
  ngx.update_time()
  local elapsed = ngx.now() - t0
  local a = {
    n = n, time = config.rfc3339(config.now()), duration_ms = util.ms(elapsed), request_id = request_id,
    status = res and res.status or nil,
    body = res and truncated(res.body, 256) or nil,
  }
  local ok = res ~= nil and (res.status == 200 or res.status == 204) and elapsed <= M.TIMEOUT
  if not res then
    a.error = tostring(err and err.reason or "error") .. ": " .. tostring(err and err.message or err)
  elseif not ok then
    a.error = elapsed > M.TIMEOUT and "answered after more than 5 s" or ("HTTP " .. res.status)
  end
  rec = journal.get("ntf", seq)
  if not rec then return end
  rec.attempts = rec.attempts or json.array()
  rec.attempts[#rec.attempts + 1] = a
  rec.attempt_count = #rec.attempts
  if ok then
    rec.status = "delivered"
    rec.delivered_at = a.time
    rec.next_attempt = nil
    journal.update("ntf", seq, rec)
    return
  end
  local interval = M.SCHEDULE[n]
  if not interval then
    rec.status = "failed"
    rec.next_attempt = nil
    journal.update("ntf", seq, rec)
    return
  end
  local delay = interval / config.time_scale()
  rec.status = "retrying"
  rec.next_attempt = config.rfc3339(config.now() + delay)
  journal.update("ntf", seq, rec)
  schedule(delay, seq, n + 1)
end

--- Build, log and schedule a notification (see the top of the file). Returns id, seq or nil, message.
function M.send(n)
  if type(n) ~= "table" then error("sandbox.notify.send: expects a table", 2) end
  local m = config.merchant(n.mchid or config.runtime().default_mchid)
  if not m then return nil, "unknown merchant " .. tostring(n.mchid) end
  if type(n.url) ~= "string" or not n.url:match("^https?://[^/]") then
    return nil, "notify url must be an http(s) URL, got " .. tostring(n.url)
  end
  if type(n.event_type) ~= "string" then return nil, "event_type must be a string" end
  local plaintext = n.plaintext
  if type(plaintext) == "table" then
    local s, err = json.encode(plaintext)
    if not s then return nil, "plaintext: " .. tostring(err) end
    plaintext = s
  elseif type(plaintext) ~= "string" then
    return nil, "plaintext must be a table or a string"
  end
  local original_type = n.original_type or "payscore"
  local ad = n.associated_data or original_type
  local iv = core.nonce():sub(1, 12)
  local ct, cerr = core.gcm_encrypt(m.apiv3_key, iv, ad, plaintext)
  if not ct then return nil, "encryption failed: " .. tostring(cerr) end
  local now = config.now()
  local num = sys():incr("ntf#id", 1, 0)
  local id = "EV-" .. os.date("!%Y%m%d%H%M%S", now + 8 * 3600) .. string.format("%05d", num % 100000)
  local envelope = {
    id = id,
    create_time = config.rfc3339(now),
    resource_type = n.resource_type or "encrypt-resource",
    event_type = n.event_type,
    summary = n.summary or M.SUMMARIES[n.event_type] or n.event_type,
    resource = {
      original_type = original_type,
      algorithm = "AEAD_AES_256_GCM",
      ciphertext = ct,
      associated_data = ad,
      nonce = iv,
    },
  }
  local body = assert(json.encode(envelope))
  local rec = {
    id = id, mchid = m.mchid, url = n.url, event_type = n.event_type, summary = envelope.summary,
    status = "pending", created = envelope.create_time, attempts = json.array(), attempt_count = 0,
    body = body, generation = generation(),
  }
  if type(n.plaintext) == "table" then rec.plaintext = n.plaintext else rec.plaintext_raw = plaintext end
  local seq = journal.append("ntf", rec)
  schedule(0, seq, 1)
  return id, seq
end

return M
