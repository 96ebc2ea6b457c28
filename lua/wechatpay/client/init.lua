--- The WeChat Pay APIv3 client.
--
--     local wechatpay = require "wechatpay"
--     local wx = assert(wechatpay.new {
--       mchid = "1900000001", serial = "3775B6A45ACD5888...",
--       private_key = "file:///etc/wxpay/apiclient_key.pem",
--       certs = { ["PUB_KEY_ID_0114232134912410000000000000"] = "file:///etc/wxpay/pub_key.pem" },
--       apiv3_key = "...32 bytes...",
--     })
--     local res, err = wx.v3.payscore.serviceorder:post{ json = {...} }
--
-- Every request is signed with the merchant key and every 2xx answer verified
-- with the WeChat Pay key its `Wechatpay-Serial` names. Keys are parsed once,
-- here; nothing is parsed per request.
-- @module wechatpay.client

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"
local chain = require "wechatpay.client.chain"
local uri = require "wechatpay.codec.uri"
local transport = require "wechatpay.transport"
local pipeline = require "wechatpay.client.pipeline"
local notify = require "wechatpay.client.notify"
local Promise = require "wechatpay.client.promise"

local M = {}

local VERSION = "0.1.0"

local Client = {}
local client_mt = {}

local function config_error(message)
  return nil, errors.new("config", { message = message })
end

local DEFAULTS = {
  base_uri = "https://api.mch.weixin.qq.com/",
  timeout = 30, connect_timeout = 10, clock_window = 300,
}

local function load_key(thing, kind, what, passphrase)
  if type(thing) == "userdata" then
    if thing.kind and thing:kind() ~= kind and kind == "private" then
      return config_error(what .. ": a public key cannot sign")
    end
    return thing
  end
  if type(thing) ~= "string" then
    return config_error(("%s: expected a key string, path or key object, got %s"):format(what, type(thing)))
  end
  local key, msg = core.key_load(thing, kind, passphrase)
  if not key then return config_error(what .. ": " .. tostring(msg)) end
  return key
end

--- Create a client.
-- @tparam table config `mchid`, `serial`, `private_key` (+ `passphrase`), `certs` (id → key/cert),
-- optional `apiv3_key`, `base_uri`, `ca_file`, `ca_path`, `timeout`, `connect_timeout` (seconds), `user_agent`,
-- `clock_window` (seconds, default 300), `transport` (`"curl"`, `"ngx"` or an object), `validate` (default true),
-- `max_body`, `on_unknown_serial` (function(serial, client) → key or nil).
-- @return client, or nil, err (kind `config`)
function M.new(config)
  if type(config) ~= "table" then return config_error("wechatpay.new expects a configuration table") end
  local mchid, serial = config.mchid, config.serial
  if type(mchid) ~= "string" or not mchid:match("^[0-9A-Za-z]+$") or #mchid > 32 then
    return config_error("mchid must be the merchant id as a string of digits (e.g. \"1900000001\"), got "
      .. (type(mchid) == "string" and ("%q"):format(mchid) or type(mchid)))
  end
  if type(serial) ~= "string" or not serial:match("^[0-9A-Za-z]+$") or #serial < 8 or #serial > 40 then
    return config_error("serial must be the merchant API certificate serial (8-40 hex characters)")
  end
  local key, kerr = load_key(config.private_key, "private", "private_key", config.passphrase)
  if not key then return nil, kerr end

  local apiv3_key = config.apiv3_key
  if apiv3_key ~= nil and (type(apiv3_key) ~= "string" or #apiv3_key ~= 32) then
    return config_error(("apiv3_key must be the 32-byte APIv3 key, got %s"):format(
      type(apiv3_key) == "string" and (#apiv3_key .. " bytes") or type(apiv3_key)))
  end

  local origin, base_path = uri.split_base(config.base_uri or DEFAULTS.base_uri)
  if not origin then return nil, base_path end

  local function positive(name)
    local v = config[name]
    if v == nil then return DEFAULTS[name] end
    if type(v) ~= "number" or v <= 0 then error(name .. " must be a positive number of seconds", 3) end
    return v
  end

  local self = setmetatable({
    _mchid = mchid, _serial = serial, _key = key, _apiv3_key = apiv3_key,
    _origin = origin, _base_path = base_path, _base_uri = origin .. base_path,
    _timeout = positive("timeout"), _connect_timeout = positive("connect_timeout"),
    _window = positive("clock_window"),
    _ca_file = config.ca_file, _ca_path = config.ca_path, _max_body = config.max_body,
    _user_agent = config.user_agent, _validate = config.validate ~= false,
    _transport_choice = config.transport, _transports = {}, _ua = {},
    _on_unknown_serial = config.on_unknown_serial,
    _now = config.now or os.time,
    _certs = {}, _encrypted = {}, _encrypted_n = 0,
  }, client_mt)
  self._root = chain.new_node(self, "")
  -- a configured transport fixes the kind once; otherwise it follows the nginx phase of each call
  if config.transport ~= nil then self._transport_kind = transport.kind({ transport = config.transport }) end

  local certs = config.certs
  if type(certs) ~= "table" or next(certs) == nil then
    return config_error("certs must be a non-empty table { [platform serial or PUB_KEY_ID_...] = key }: "
      .. "the WeChat Pay keys that sign answers and notifications")
  end
  for id, v in pairs(certs) do
    local ok, err = self:set_cert(id, v)
    if not ok then return nil, err end
  end
  return self
end

client_mt.__index = function(self, k)
  local m = Client[k]
  if m ~= nil then return m end
  if type(k) == "string" and k:sub(1, 1) ~= "_" or (type(k) == "string" and k:match("^_.+_$")) then
    return self._root[k]
  end
  return nil
end
client_mt.__tostring = function(self)
  return ("wechatpay client (mchid %s, %s)"):format(self._mchid, self._base_uri)
end

--- A node for a literal path: `wx:chain("v3/payscore/serviceorder/{out_order_no}/cancel")`.
function Client:chain(path)
  return chain.chain(self._root, path)
end

--- Call without the chain: `wx:request("POST", "v3/payscore/serviceorder", { json = ... })`.
function Client:request(method, path, opts)
  return pipeline.call(self, method:upper(), path, opts)
end

--- Add or replace a WeChat Pay key (platform certificate or public key) in the certs map.
-- Takes effect for the next verification.
-- @return true, or nil, err (kind `config`)
function Client:set_cert(id, key)
  if type(id) ~= "string" or id == "" then return config_error("certs: keys must be serial or PUB_KEY_ID_ strings") end
  if id == self._serial then
    return config_error(("certs: %q is the merchant serial. The certs map holds WeChat Pay keys (platform " ..
      "certificate serials or PUB_KEY_ID_... ids); the merchant serial is only sent as serial_no."):format(id))
  end
  local k, err = load_key(key, "public", "certs[" .. id .. "]")
  if not k then return nil, err end
  self._certs[id] = k
  return true
end

--- Remove a key from the certs map.
function Client:remove_cert(id)
  local had = self._certs[id] ~= nil
  self._certs[id] = nil
  return had
end

--- The ids of the certs map, sorted.
function Client:cert_ids()
  local ids = {}
  for id in pairs(self._certs) do ids[#ids + 1] = id end
  table.sort(ids)
  return ids
end

--- Encrypt a sensitive field (RSA-OAEP) with a WeChat Pay key of the certs map.
-- A request whose JSON carries the result gets `Wechatpay-Serial` set to that key's id.
-- @tparam string plaintext at most 214 bytes
-- @tparam[opt] string id the key; default: the only key, else the first `PUB_KEY_ID_` one
-- @return base64 ciphertext, or nil, err
function Client:encrypt(plaintext, id)
  if type(plaintext) ~= "string" then error("encrypt expects a string", 2) end
  if id == nil then
    local ids = self:cert_ids()
    id = ids[1]
    for _, i in ipairs(ids) do if i:find("^PUB_KEY_ID_") then id = i break end end
  end
  local key = self._certs[id]
  if not key then return nil, errors.new("usage", { message = "encrypt: no WeChat Pay key " .. tostring(id) }) end
  if #plaintext > 214 then
    return nil, errors.new("usage", { message = ("encrypt: %d bytes, RSA-OAEP with a 2048-bit key takes at most 214")
      :format(#plaintext) })
  end
  local ct, err = core.oaep_encrypt(key, plaintext)
  if not ct then return nil, errors.new("crypto", { reason = "OAEP", message = tostring(err) }) end
  if self._encrypted_n >= 1024 then self._encrypted, self._encrypted_n = {}, 0 end
  self._encrypted[ct] = id
  self._encrypted_n = self._encrypted_n + 1
  return ct, id
end

--- Decrypt a sensitive field of an answer with the merchant private key.
function Client:decrypt(ciphertext)
  local pt, err = core.oaep_decrypt(self._key, ciphertext)
  if not pt then return nil, errors.new("crypto", { reason = "OAEP", message = tostring(err) }) end
  return pt
end

--- The User-Agent sent: the configured one, else the transport module's
-- (`wechatpay-lua/<version> curl/<x> (Linux/<release>) Lua/5.4`, or ngx_lua's), computed once.
function Client:user_agent()
  local ua = self._user_agent
  if ua then return ua end
  local kind = self._transport_kind or (transport.cosockets_allowed() and "ngx" or "curl")
  ua = self._ua[kind]
  if ua == nil then
    local mod = kind ~= "custom" and require("wechatpay.transport." .. kind) or nil
    ua = mod and mod.user_agent and mod.user_agent(VERSION) or ("wechatpay-lua/" .. VERSION .. " (" .. _VERSION .. ")")
    self._ua[kind] = ua
  end
  return ua
end

--- The transport for this call: the configured one, else nginx cosockets where
-- they are allowed (non-blocking), else libcurl. One instance of each kind per
-- client, made on first use (so a client built in `init_by_lua` makes its
-- transports in the workers, after the fork).
function Client:transport()
  local kind = self._transport_kind or (transport.cosockets_allowed() and "ngx" or "curl")
  if kind == "custom" then return self._transport_choice end
  local t = self._transports[kind]
  if t == nil then
    t = transport.select {
      transport = kind, ca_file = self._ca_file, ca_path = self._ca_path, timeout = self._timeout,
      connect_timeout = self._connect_timeout, max_body = self._max_body,
    }
    self._transports[kind] = t
  end
  return t
end

--- Verify and decrypt a notification (apiv3-protocol.md §5).
-- @tparam table headers the request headers (map of any case, or list of pairs)
-- @tparam string body the raw body, exactly as received
-- @return the envelope with `resource` decrypted and decoded, or nil, err
function Client:verify_notification(headers, body)
  return notify.verify(self, headers, body)
end

--- Download the platform certificates (`GET /v3/certificates`), decrypt them and
-- verify the answer with the certificate it names. Installs nothing.
-- @return array of `{ serial_no, effective_time, expire_time, certificate (PEM), key }`, or nil, err
function Client:download_certificates()
  return notify.download_certificates(self)
end

--- Close the transports (kept-alive connections).
function Client:close()
  for _, t in pairs(self._transports) do if t.close then t:close() end end
  self._transports = {}
end

M.Client = Client
M.VERSION = VERSION
M.all = Promise.all
M.reply = notify.reply

return M
