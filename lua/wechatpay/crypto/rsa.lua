--- RSA helpers shaped like the official PHP SDK's `WeChatPay\Crypto\Rsa`.
--
--   local rsa = require "wechatpay.crypto.rsa"
--   local key = rsa.from("file:///path/apiclient_key.pem")      -- private (default kind)
--   local pub = rsa.from(pem_or_cert_or_path, "public")
--   local sig = rsa.sign(message, key)                           -- base64 RSASSA-PKCS1-v1_5 SHA-256
--   rsa.verify(message, sig, pub)                                -- true | false, reason
--   local ct  = rsa.encrypt("name", pub)                         -- base64 RSAES-OAEP (SHA-1)
--   rsa.decrypt(ct, key)                                         -- plaintext | nil, err
--   rsa.serial(cert_pem_or_path)                                 -- upper-case hex serial
--
-- Keys are parsed once into userdata (freed and zeroised by the GC); every form of
-- apiv3-protocol §3 is accepted: PEM PKCS#1/PKCS#8/encrypted PKCS#8 (+ passphrase),
-- SPKI, PKCS#1 public, X.509 certificate, `file://`, `private.pkcs1://`,
-- `private.pkcs8://`, `public.pkcs1://`, `public.spki://`. RSA 2048 only.

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"

local type, getmetatable, error, tostring = type, getmetatable, error, tostring

local rsa = {}

local OAEP_OVERHEAD = 42 -- 2 * SHA-1 length + 2

--- True for a key object made by rsa.from / core.key_load.
function rsa.is_key(v)
  if type(v) ~= "userdata" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name == "wechatpay.key"
end
local is_key = rsa.is_key

--- Parse a key once.
-- @param thing key text, `file://` path, bare-base64 form, or a key object (returned as is)
-- @param kind "private" (default) or "public"
-- @param passphrase for an ENCRYPTED PRIVATE KEY
-- @return key, or nil, err (kind `config`)
function rsa.from(thing, kind, passphrase)
  if is_key(thing) then return thing end
  kind = kind or "private"
  if kind ~= "private" and kind ~= "public" then
    error("rsa.from: kind must be \"private\" or \"public\", got " .. tostring(kind), 2)
  end
  if type(thing) ~= "string" then
    error("rsa.from: key must be a string or a key object, got " .. type(thing), 2)
  end
  if passphrase ~= nil and type(passphrase) ~= "string" then
    error("rsa.from: passphrase must be a string, got " .. type(passphrase), 2)
  end
  local key, msg = core.key_load(thing, kind, passphrase)
  if not key then return nil, errors.new("config", { message = msg, reason = "KEY_INVALID" }) end
  return key
end

local function key_of(thing, kind)
  if is_key(thing) then return thing end
  return rsa.from(thing, kind)
end

local function check_string(v, what, fn)
  if type(v) ~= "string" then
    error(("rsa.%s: %s must be a string, got %s"):format(fn, what, type(v)), 3)
  end
end

--- Sign with RSASSA-PKCS1-v1_5 / SHA-256.
-- @return base64 signature, or nil, err
function rsa.sign(message, key)
  check_string(message, "message", "sign")
  local k, err = key_of(key, "private")
  if not k then return nil, err end
  if k:kind() ~= "private" then
    return nil, errors.new("usage", { message = "rsa.sign: signing needs a private key" })
  end
  local sig, msg = core.sign(k, message)
  if not sig then return nil, errors.new("crypto", { message = msg, reason = "SIGN_FAILED" }) end
  return sig
end

--- Verify an RSASSA-PKCS1-v1_5 / SHA-256 signature.
-- @return true, or false, reason (`SIGNATURE_PROBE`, `SIGNATURE_MALFORMED`, `SIGNATURE_MISMATCH`;
-- a key that cannot be parsed gives false and a config error)
function rsa.verify(message, signature, pub)
  check_string(message, "message", "verify")
  check_string(signature, "signature", "verify")
  local k, err = key_of(pub, "public")
  if not k then return false, err end
  return core.verify(k, message, signature)
end

--- Encrypt with RSAES-OAEP (SHA-1, MGF1-SHA-1, empty label).
-- @return base64 ciphertext, or nil, err (kind `usage` when the plaintext is too long)
function rsa.encrypt(plaintext, pub)
  check_string(plaintext, "plaintext", "encrypt")
  local k, err = key_of(pub, "public")
  if not k then return nil, err end
  local max = math.floor(k:bits() / 8) - OAEP_OVERHEAD
  if #plaintext > max then
    return nil, errors.new("usage", {
      message = ("rsa.encrypt: plaintext is %d bytes, RSA-OAEP with a %d-bit key takes at most %d")
        :format(#plaintext, k:bits(), max),
      reason = "PLAINTEXT_TOO_LONG",
    })
  end
  local ct, msg, reason = core.oaep_encrypt(k, plaintext)
  if not ct then return nil, errors.new("crypto", { message = msg, reason = reason or "OAEP_ENCRYPT" }) end
  return ct
end

--- Decrypt a base64 RSAES-OAEP ciphertext with a private key.
-- @return plaintext, or nil, err (kind `crypto`)
function rsa.decrypt(ciphertext, key)
  check_string(ciphertext, "ciphertext", "decrypt")
  local k, err = key_of(key, "private")
  if not k then return nil, err end
  local pt, msg, reason = core.oaep_decrypt(k, ciphertext)
  if not pt then return nil, errors.new("crypto", { message = msg, reason = reason or "OAEP_DECRYPT" }) end
  return pt
end

--- Serial number of an X.509 certificate (PEM text or `file://` path), upper-case hex.
-- @return serial, or nil, err (kind `config`)
function rsa.serial(cert)
  check_string(cert, "certificate", "serial")
  local serial, msg = core.cert_serial(cert)
  if not serial then return nil, errors.new("config", { message = msg, reason = "CERT_INVALID" }) end
  return serial
end

return rsa
