--- Verification of WeChat Pay answers and notifications (apiv3-protocol.md §2, §5).
--
-- Checks, in order, stopping at the first failure: the four signature headers
-- (`HEADERS_INCOMPLETE`), the clock window (`TIMESTAMP_INVALID`,
-- `TIMESTAMP_OFFSET`), the key named by `Wechatpay-Serial` (`UNKNOWN_SERIAL`),
-- and the RSA-SHA256 signature over `TIMESTAMP\nNONCE\nBODY\n`
-- (`SIGNATURE_PROBE`, `SIGNATURE_MALFORMED`, `SIGNATURE_MISMATCH`).
-- @module wechatpay.client.verifier

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"
local formatter = require "wechatpay.crypto.formatter"

local M = {}

local floor, tonumber, tostring, type = math.floor, tonumber, tostring, type
local concat, sort = table.concat, table.sort

--- Case-insensitive header lookup over either a map (`{ ["Name"] = value }`,
-- values may be arrays: the first is used) or a list of `{name, value}` pairs.
-- Returns a function `get(name)`; names are looked up in lower case.
function M.header_lookup(headers)
  local map = {}
  if type(headers) == "table" then
    if headers[1] ~= nil and type(headers[1]) == "table" then
      for i = 1, #headers do
        local h = headers[i]
        local k = h[1]:lower()
        if map[k] == nil then map[k] = h[2] end
      end
    else
      for k, v in pairs(headers) do
        if type(k) == "string" then
          if type(v) == "table" then v = v[1] end
          local lk = k:lower()
          -- keep the first value when both `Name` and `name` are present
          if map[lk] == nil then map[lk] = v end
        end
      end
    end
  end
  return function(name) return map[name] end
end

local function serial_list(certs)
  local ids = {}
  for id in pairs(certs) do ids[#ids + 1] = id end
  sort(ids)
  return ids
end

--- Verify a signed message (answer or notification).
-- @tparam table client the client (its `_certs`, `_window`, `_now`, `_on_unknown_serial`)
-- @tparam function hdr header lookup from `header_lookup`
-- @tparam string body the raw body
-- @tparam table ctx `status`, `request_id`, `what` (for the error); optional `signed_body` (the BODY to verify
-- instead of `body`: statements) and `certs` (verify with this map instead of the client's, without the
-- unknown-serial hook: a certificate-download bootstrap)
-- @return true, or nil, err (kind `verification`)
function M.verify(client, hdr, body, ctx)
  local ts, nonce = hdr("wechatpay-timestamp"), hdr("wechatpay-nonce")
  local sig, serial = hdr("wechatpay-signature"), hdr("wechatpay-serial")
  local now = client._now()

  local function fail(reason, message, extra)
    local f = {
      reason = reason, message = message,
      status = ctx.status, request_id = ctx.request_id,
      serial = serial, timestamp = ts, local_time = now, body = body,
    }
    if extra then for k, v in pairs(extra) do f[k] = v end end
    return nil, errors.new("verification", f)
  end

  local missing = {}
  if ts == nil then missing[#missing + 1] = "Wechatpay-Timestamp" end
  if nonce == nil then missing[#missing + 1] = "Wechatpay-Nonce" end
  if sig == nil then missing[#missing + 1] = "Wechatpay-Signature" end
  if serial == nil then missing[#missing + 1] = "Wechatpay-Serial" end
  if #missing > 0 then
    return fail("HEADERS_INCOMPLETE", (ctx.what or "answer") .. " is missing " .. concat(missing, ", "))
  end

  if not ts:match("^%d+$") or #ts > 12 then
    return fail("TIMESTAMP_INVALID", "Wechatpay-Timestamp is not a decimal Unix time: " .. ts:sub(1, 40))
  end
  local t = tonumber(ts)
  local skew = now - t
  if skew < 0 then skew = -skew end
  if skew > client._window then
    return fail("TIMESTAMP_OFFSET", ("Wechatpay-Timestamp %s is %d s away from the local clock %d (window %d s)")
      :format(ts, floor(now - t), now, client._window))
  end

  local certs = ctx.certs or client._certs
  local key = certs[serial]
  if key == nil and not ctx.certs and client._on_unknown_serial then
    local ok, added = pcall(client._on_unknown_serial, serial, client)
    if ok and added then
      local ok2 = client:set_cert(serial, added)
      if ok2 then key = client._certs[serial] end
    end
  end
  if key == nil then
    local ids = serial_list(certs)
    return fail("UNKNOWN_SERIAL",
      ("Wechatpay-Serial %q names no WeChat Pay key of this client (configured: %s). The certs map holds WeChat Pay " ..
       "platform certificate serials or PUB_KEY_ID_ public key ids, not the merchant serial.")
        :format(serial, #ids > 0 and concat(ids, ", ") or "none"),
      { known_serials = ids })
  end

  local message = formatter.response(ts, nonce, ctx.signed_body or body)
  local ok, reason = core.verify(key, message, sig)
  if ok then return true end
  local text = {
    SIGNATURE_PROBE = "Wechatpay-Signature is a WECHATPAY/SIGNTEST/ probe",
    SIGNATURE_MALFORMED = "Wechatpay-Signature is not a base64 RSA-2048 signature",
    SIGNATURE_MISMATCH = "Wechatpay-Signature does not match the body with key " .. tostring(serial),
  }
  reason = reason or "SIGNATURE_MISMATCH"
  return fail(reason, text[reason] or reason)
end

local function lower(s) return s:lower() end

--- Is this request path (without query) on the unsigned-download skip list?
function M.skipped(path)
  local p = lower(path)
  if p == "/v3/billdownload/file" then return true end
  local pre = "/v3/merchant-service/images/"
  return p:sub(1, #pre) == pre and p ~= "/v3/merchant-service/images/upload"
end

--- Overseas statements: the path whose answers are signed over `{"sha1":"…"}`.
function M.statement(path)
  local p = lower(path)
  return p == "/hk/v3/statements" or p == "/v3/global/statements"
end

--- Integrity of a downloaded bill (trade or fund-flow bill, §2): the SHA-1 of the
-- bytes received against the `hash_value` (`hash_type` `SHA1`) of the preceding
-- `tradebill`/`fundflowbill` answer. Hex is compared case-insensitively.
-- @tparam string bytes the downloaded file, exactly as received (still gzipped if it came gzipped)
-- @tparam string hash_value
-- @tparam[opt="SHA1"] string hash_type
-- @return true, or false and a reason
function M.bill(bytes, hash_value, hash_type)
  if type(bytes) ~= "string" or type(hash_value) ~= "string" then
    error("verify_bill(bytes, hash_value [, hash_type]) expects strings", 2)
  end
  if hash_type ~= nil and hash_type:upper() ~= "SHA1" then return false, "unsupported hash_type " .. hash_type end
  if core.sha1_hex(bytes) == hash_value:lower() then return true end
  return false, "SHA-1 of the bill differs from hash_value"
end

return M
