--- Notifications (callbacks) and platform-certificate download (apiv3-protocol.md §3.2, §5).
-- @module wechatpay.client.notify

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"
local json = require "wechatpay.codec.json"
local verifier = require "wechatpay.client.verifier"
local pipeline = require "wechatpay.client.pipeline"

local M = {}

local SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

local function crypto_error(reason, message)
  return nil, errors.new("crypto", { reason = reason, message = message })
end

--- Decrypt an `AEAD_AES_256_GCM` resource object with the APIv3 key.
-- @return plaintext string, or nil, err (kind `crypto` or `config`)
function M.decrypt_resource(client, resource)
  if type(resource) ~= "table" then return crypto_error("RESOURCE", "resource is not an object") end
  if resource.algorithm ~= "AEAD_AES_256_GCM" then
    return crypto_error("ALGORITHM", "unsupported resource algorithm " .. tostring(resource.algorithm))
  end
  if not client._apiv3_key then
    return nil, errors.new("config", { message = "apiv3_key is needed to decrypt notifications and certificates" })
  end
  local ct, nonce, aad = resource.ciphertext, resource.nonce, resource.associated_data
  if type(ct) ~= "string" or type(nonce) ~= "string" or (aad ~= nil and type(aad) ~= "string") then
    return crypto_error("RESOURCE", "resource needs string ciphertext, nonce and associated_data")
  end
  local pt, err = core.gcm_decrypt(client._apiv3_key, nonce, aad or "", ct)
  if not pt then return crypto_error("DECRYPT", "resource does not decrypt with the APIv3 key: " .. tostring(err)) end
  return pt
end

--- Verify, decrypt and decode a notification.
function M.verify(client, headers, body)
  if type(body) ~= "string" then error("verify_notification expects the raw body string", 3) end
  local hdr = verifier.header_lookup(headers)
  local request_id = hdr("request-id")
  local stype = hdr("wechatpay-signature-type")
  if stype ~= nil and stype ~= SIGNATURE_TYPE then
    return nil, errors.new("verification", {
      reason = "SIGNATURE_TYPE", request_id = request_id, body = body,
      message = "Wechatpay-Signature-Type must be " .. SIGNATURE_TYPE .. ", got " .. tostring(stype),
    })
  end
  local ok, verr = verifier.verify(client, hdr, body, { request_id = request_id, what = "notification" })
  if not ok then return nil, verr end

  local env, derr = json.decode(body)
  if type(env) ~= "table" then
    return nil, errors.new("decode", { request_id = request_id, body = body,
      message = "notification body is not a JSON object: " .. tostring(derr and derr.message or derr) })
  end
  local encrypted = env.resource
  local pt, cerr = M.decrypt_resource(client, encrypted)
  if not pt then
    cerr.request_id = request_id
    return nil, cerr
  end
  local resource, rerr = json.decode(pt, { body = false })
  if resource == nil then
    return nil, errors.new("decode", { request_id = request_id, body = body,
      message = "decrypted resource is not JSON: " .. tostring(rerr and rerr.message or rerr) })
  end
  env.resource = resource
  env.resource_encrypted = encrypted
  env.original_type = type(encrypted) == "table" and encrypted.original_type or nil
  env.request_id = request_id
  return env
end

local function utf8_prefix(s, n)
  -- first n characters of a UTF-8 string
  local i, count = 1, 0
  while i <= #s and count < n do
    local c = s:byte(i)
    i = i + (c >= 0xF0 and 4 or c >= 0xE0 and 3 or c >= 0xC0 and 2 or 1)
    count = count + 1
  end
  return s:sub(1, i - 1)
end

--- The answer to a notification: status, headers, body.
--   `reply(true)` → 204 with no body; `reply(false, "reason" [, status])` → status (default 500, or 400 for
--   an `errors` value of kind verification/decode/crypto) with `{"code":"FAIL","message":...}`.
-- @param ok true, or false/an error value
-- @tparam[opt] string message
-- @tparam[opt] number status
function M.reply(ok, message, status)
  if ok == true then return 204, {}, "" end
  if errors.is(ok) then
    local e = ok
    message = message or (e.reason or e.kind)
    if not status then
      status = (e.kind == "verification" or e.kind == "decode" or e.kind == "crypto") and 400 or 500
    end
  end
  message = utf8_prefix(tostring(message or "FAIL"), 64)
  if message == "" then message = "FAIL" end
  local body = '{"code":"FAIL","message":' .. (core.json_quote(message) or '"FAIL"') .. "}"
  return status or 500, { ["Content-Type"] = "application/json" }, body
end

--- GET /v3/certificates, decrypted and verified with the certificate it names.
function M.download_certificates(client)
  local req, err = pipeline.prepare(client, "GET", "v3/certificates", {})
  if not req then return nil, err end
  local res, terr = client:transport():request(req)
  if not res then return pipeline.finish(client, req, res, terr) end
  if res.status < 200 or res.status > 299 then return pipeline.finish(client, req, res, nil) end

  local hdr = verifier.header_lookup(res.headers)
  local serial, request_id = hdr("wechatpay-serial"), hdr("request-id")
  local body = res.body or ""
  local ctx = { status = res.status, request_id = request_id }
  -- an answer signed by a key we already hold is verified first, like every other answer (§2)
  local verified = false
  if serial ~= nil and client._certs[serial] ~= nil then
    local ok, verr = verifier.verify(client, hdr, body, ctx)
    if not ok then return nil, verr end
    verified = true
  end

  local data, derr = json.decode(body)
  if type(data) ~= "table" or type(data.data) ~= "table" then
    return nil, errors.new("decode", { status = res.status, request_id = request_id, body = body,
      message = "certificate list is not JSON with data[]: " .. tostring(derr and derr.message or derr) })
  end
  local list, by_serial = {}, {}
  for i, item in ipairs(data.data) do
    local pem, cerr = M.decrypt_resource(client, item.encrypt_certificate)
    if not pem then
      cerr.request_id = request_id
      return nil, cerr
    end
    local key, kerr = core.key_load(pem, "public")
    if not key then
      return nil, errors.new("crypto", { reason = "CERTIFICATE", message = tostring(kerr), request_id = request_id })
    end
    local cserial = core.cert_serial(pem)
    if cserial ~= item.serial_no then
      return nil, errors.new("verification", { reason = "SERIAL_MISMATCH", status = res.status, body = body,
        request_id = request_id,
        message = ("certificate %d: serial_no %s but the certificate's serial is %s")
          :format(i, tostring(item.serial_no), tostring(cserial)) })
    end
    list[i] = { serial_no = item.serial_no, effective_time = item.effective_time,
                expire_time = item.expire_time, certificate = pem, key = key }
    by_serial[item.serial_no] = key
  end
  if verified then return list end
  -- bootstrap: the answer is signed by one of the certificates it carries
  ctx.certs = serial and by_serial[serial] and { [serial] = by_serial[serial] } or {}
  local ok, verr = verifier.verify(client, hdr, body, ctx)
  if not ok then return nil, verr end
  return list
end

return M
