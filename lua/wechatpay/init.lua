--- wechatpay: WeChat Pay APIv3 for Lua 5.4 and LuaJIT/OpenResty.
--
--   local wechatpay = require "wechatpay"
--   local key = wechatpay.rsa.from("file:///path/apiclient_key.pem")
--   local wx = wechatpay.new{ mchid = "1900000001", serial = "...", private_key = key, certs = {...} }
--
-- Everything but VERSION is loaded on first use, so `require "wechatpay"` stays cheap.

local M = { VERSION = "0.1.0" }

local lazy = {
  rsa = function() return require "wechatpay.crypto.rsa" end,
  aes_gcm = function() return require "wechatpay.crypto.aes_gcm" end,
  formatter = function() return require "wechatpay.crypto.formatter" end,
  json = function() return require "wechatpay.codec.json" end,
  errors = function() return require "wechatpay.errors" end,
  crypto_backend = function() return require("wechatpay.core").backend end,
  new = function() return require("wechatpay.client").new end,
  all = function() return require("wechatpay.client").all end,
  reply = function() return require("wechatpay.client").reply end,
  verify_bill = function() return require("wechatpay.client.verifier").bill end,
}

return setmetatable(M, {
  __index = function(t, k)
    local load = lazy[k]
    if load == nil then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})
