--- Message and header formatting shaped like the PHP SDK's `WeChatPay\Formatter` (apiv3-protocol §1).
--
--   local formatter = require "wechatpay.crypto.formatter"
--   local ts, nonce = formatter.timestamp(), formatter.nonce()
--   local msg = formatter.request("POST", "/v3/payscore/serviceorder", ts, nonce, body)
--   local auth = formatter.authorization(mchid, nonce, rsa.sign(msg, key), ts, serial)

local core = require "wechatpay.core"

local type, error, tostring = type, error, tostring
local format, find, floor = string.format, string.find, math.floor
local concat = table.concat

local formatter = {}

--- 32 characters of [0-9A-Za-z], unbiased, from the fork-safe generator.
function formatter.nonce()
  local n, err = core.nonce()
  if not n then error("formatter.nonce: " .. tostring(err), 2) end
  return n
end

--- The current Unix time in seconds, as a decimal string.
function formatter.timestamp()
  return format("%d", os.time())
end

-- A field as a string: strings as given, integral numbers in decimal.
local function field(v, what, fn)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" and v == floor(v) and v >= 0 and v < 2 ^ 53 then return format("%d", v) end
  error(("formatter.%s: %s must be a string, got %s"):format(fn, what, t), 3)
end

--- The signed message of a request: METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n (body nil → "").
function formatter.request(method, target, timestamp, nonce, body)
  return concat({
    field(method, "method", "request"),
    field(target, "target", "request"),
    field(timestamp, "timestamp", "request"),
    field(nonce, "nonce", "request"),
    body == nil and "" or field(body, "body", "request"),
  }, "\n") .. "\n"
end

--- The signed message of a response or notification: TIMESTAMP\nNONCE\nBODY\n (body nil → "").
function formatter.response(timestamp, nonce, body)
  return concat({
    field(timestamp, "timestamp", "response"),
    field(nonce, "nonce", "response"),
    body == nil and "" or field(body, "body", "response"),
  }, "\n") .. "\n"
end

local function header_value(v, what)
  if type(v) ~= "string" then
    error(("formatter.authorization: %s must be a string, got %s"):format(what, type(v)), 3)
  end
  -- a quote, comma or control character would change the header's structure
  if find(v, '["\\,%c]') then
    error(("formatter.authorization: %s contains a quote, backslash, comma or control character"):format(what), 3)
  end
  return v
end

--- The Authorization header value (§1.2). Arguments in the PHP SDK's order
-- (mchid, nonce, signature, timestamp, serial); fields emitted in the order
-- mchid, serial_no, timestamp, nonce_str, signature.
function formatter.authorization(mchid, nonce, signature, timestamp, serial)
  if type(timestamp) == "number" then timestamp = field(timestamp, "timestamp", "authorization") end
  return concat({
    'WECHATPAY2-SHA256-RSA2048 mchid="', header_value(mchid, "mchid"),
    '",serial_no="', header_value(serial, "serial"),
    '",timestamp="', header_value(timestamp, "timestamp"),
    '",nonce_str="', header_value(nonce, "nonce"),
    '",signature="', header_value(signature, "signature"), '"',
  })
end

return formatter
