--- AES-256-GCM helpers shaped like the PHP SDK's `WeChatPay\Crypto\AesGcm` (apiv3-protocol §4.1).
--
--   local aes_gcm = require "wechatpay.crypto.aes_gcm"
--   local b64 = aes_gcm.encrypt("hello", apiv3_key, "0123456789ab", "certificate")
--   local plaintext, err = aes_gcm.decrypt(resource.ciphertext, apiv3_key, resource.nonce,
--                                          resource.associated_data)
--
-- The key is the 32-byte APIv3 key used as is; the IV is the `nonce` string; an absent AAD is
-- empty; ciphertexts are base64(ciphertext || 16-byte tag). A failed decryption returns no
-- plaintext at all.

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"

local type, error = type, error

local aes_gcm = {}

local function check_args(fn, data, key, iv, aad)
  if type(data) ~= "string" then
    error(("aes_gcm.%s: %s must be a string, got %s")
      :format(fn, fn == "encrypt" and "plaintext" or "ciphertext", type(data)), 3)
  end
  if type(key) ~= "string" then error(("aes_gcm.%s: key must be a string, got %s"):format(fn, type(key)), 3) end
  if type(iv) ~= "string" then error(("aes_gcm.%s: iv must be a string, got %s"):format(fn, type(iv)), 3) end
  if aad ~= nil and type(aad) ~= "string" then
    error(("aes_gcm.%s: aad must be a string or nil, got %s"):format(fn, type(aad)), 3)
  end
end

-- kind of the error for a failure reason of the core
local function failure(reason, msg)
  if reason == "KEY_LENGTH" then return errors.new("config", { message = msg, reason = reason }) end
  return errors.new("crypto", { message = msg, reason = reason or "AEAD" })
end

--- Encrypt. @return base64(ciphertext || tag), or nil, err
function aes_gcm.encrypt(plaintext, key, iv, aad)
  check_args("encrypt", plaintext, key, iv, aad)
  local ct, msg, reason = core.gcm_encrypt(key, iv, aad or "", plaintext)
  if not ct then return nil, failure(reason, msg) end
  return ct
end

--- Decrypt and authenticate. @return plaintext, or nil, err (kind `crypto` with a `reason`:
-- BAD_BASE64, TOO_SHORT, AUTH_FAILED; kind `config` for a key that is not 32 bytes)
function aes_gcm.decrypt(ciphertext, key, iv, aad)
  check_args("decrypt", ciphertext, key, iv, aad)
  local pt, msg, reason = core.gcm_decrypt(key, iv, aad or "", ciphertext)
  if not pt then return nil, failure(reason, msg) end
  return pt
end

return aes_gcm
