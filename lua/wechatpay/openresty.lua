--- OpenResty / nginx helpers: notification handlers and key rotation across workers.
--
-- A client built once in `init_by_lua*` (keys parsed once, in the master) works in
-- every worker after the fork: its transports are made on first use in the worker,
-- and the C core reseeds its generator in each process, so workers never share a
-- nonce stream. Inside request handlers and timers it talks over cosockets and
-- never blocks the worker.
--
--     init_by_lua_block {
--       wx = assert(require("wechatpay").new{ ... })
--       certs = require("wechatpay.openresty").cert_store("wechatpay_certs")   -- lua_shared_dict wechatpay_certs 1m;
--     }
--     init_worker_by_lua_block { certs:start_sync(wx, 1) }
--     location = /wxpay/notify {
--       content_by_lua_block {
--         require("wechatpay.openresty").handle_notification(wx, function(event)
--           -- persist event (idempotently, keyed on out_order_no + event_type), then:
--           return true
--         end)
--       }
--     }
-- @module wechatpay.openresty

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"
local reply = require("wechatpay.client.notify").reply

local M = {}

local function ngx_api()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" then error("wechatpay.openresty needs nginx (ngx_lua)", 3) end
  return ngx
end

--- The raw request body, also when nginx buffered it to a temporary file
-- (`client_body_buffer_size` smaller than the body).
-- @return body string, or nil, err
function M.read_body()
  local ngx = ngx_api()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body ~= nil then return body end
  local path = ngx.req.get_body_file()
  if path == nil then return "" end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read the buffered request body: " .. tostring(err) end
  body = f:read("*a")
  f:close()
  return body
end

local function send(status, headers, body)
  local ngx = ngx_api()
  ngx.status = status
  for k, v in pairs(headers) do ngx.header[k] = v end
  if body ~= nil and body ~= "" then ngx.print(body) end
  return ngx.exit(status)
end

--- Answer a WeChat Pay notification in a `content_by_lua*` handler.
--
-- Reads the raw body, verifies and decrypts it with the client, calls
-- `on_event(event, wx)` only for a verified event, and answers per the protocol:
-- `204` when `on_event` returns true; `500 {"code":"FAIL",...}` when it returns
-- false/nil (with an optional message) or raises; `4xx {"code":"FAIL",...}` for a
-- notification that does not verify (tampered, stale, probe, unknown key) — the
-- merchant function is not called then.
-- @tparam table wx the client (or a function returning it)
-- @tparam function on_event
-- @tparam[opt] table opts `error_message`: the FAIL message sent when `on_event` raises
-- @return the event and the status sent, or nil, err and the status sent
function M.handle_notification(wx, on_event, opts)
  local ngx = ngx_api()
  opts = opts or {}
  if type(wx) == "function" then wx = wx() end
  if ngx.req.get_method() ~= "POST" then
    send(405, { ["Content-Type"] = "application/json", Allow = "POST" }, '{"code":"FAIL","message":"POST only"}')
    return nil, errors.new("usage", { message = "notification must be a POST" }), 405
  end
  local body, berr = M.read_body()
  if not body then
    ngx.log(ngx.ERR, "wechatpay notification: ", berr)
    send(reply(false, "cannot read body", 500))
    return nil, errors.new("usage", { message = berr }), 500
  end
  local headers = ngx.req.get_headers(100)
  local event, err = wx:verify_notification(headers, body)
  if not event then
    -- never the body or keys in the log: the reason, the request id and the serial
    ngx.log(ngx.WARN, "wechatpay notification rejected: ", err.kind, " ", tostring(err.reason or err.message),
      " request-id ", tostring(err.request_id), " serial ", tostring(err.serial))
    local status, h, b = reply(err)
    send(status, h, b)
    return nil, err, status
  end
  local ok, handled, message = pcall(on_event, event, wx)
  if not ok then
    ngx.log(ngx.ERR, "wechatpay notification handler raised: ", tostring(handled))
    send(reply(false, opts.error_message or "handler error", 500))
    return nil, errors.new("usage", { message = tostring(handled) }), 500
  end
  if handled then
    send(reply(true))
    return event, 204
  end
  send(reply(false, message or "not processed", 500))
  return nil, errors.new("usage", { message = tostring(message or "not processed") }), 500
end

-- ---- key rotation across workers ---------------------------------------------------------

local Store = {}
Store.__index = Store

--- A certs map shared by the workers through a `lua_shared_dict`.
--
-- Any worker (a timer, an admin endpoint, a certificate download) publishes a
-- new WeChat Pay key or removes one; every worker's client picks the change up
-- at its next `sync` (call it per request — it costs one dictionary read when
-- nothing changed — or run `start_sync` in `init_worker_by_lua*`).
-- @tparam string dict_name the `lua_shared_dict`
function M.cert_store(dict_name)
  local ngx = ngx_api()
  local dict = ngx.shared[dict_name]
  if not dict then error("lua_shared_dict " .. tostring(dict_name) .. " is not defined", 2) end
  return setmetatable({ dict = dict, name = dict_name }, Store)
end

local function add_id(dict, id)
  local ids = dict:get("ids") or ""
  for existing in ids:gmatch("[^\n]+") do if existing == id then return true end end
  return dict:set("ids", ids .. id .. "\n")
end

--- Publish (add or replace) a key for every worker.
-- @tparam string id platform certificate serial or `PUB_KEY_ID_...`
-- @tparam string pem the certificate or public key (PEM)
-- @return true, or nil, err (kind `config`)
function Store:publish(id, pem)
  if type(id) ~= "string" or id == "" or type(pem) ~= "string" then error("publish(id, pem) expects strings", 2) end
  local key, msg = core.key_load(pem, "public")
  if not key then return nil, errors.new("config", { message = "certs[" .. id .. "]: " .. tostring(msg) }) end
  local ok, err = self.dict:set("cert:" .. id, pem)
  if not ok then return nil, errors.new("config", { message = "shared dict: " .. tostring(err) }) end
  add_id(self.dict, id)
  self.dict:incr("version", 1, 0)
  return true
end

--- Remove a key for every worker.
function Store:remove(id)
  self.dict:set("cert:" .. id, "")
  add_id(self.dict, id)
  self.dict:incr("version", 1, 0)
  return true
end

--- Apply the published changes to a client of this worker.
-- @return true when something changed
function Store:sync(wx)
  local version = self.dict:get("version") or 0
  wx._cert_sync = wx._cert_sync or {}
  local seen = wx._cert_sync[self.name]
  if seen and seen.version == version then return false end
  seen = seen or { version = -1, pems = {} }
  local changed = false
  for id in (self.dict:get("ids") or ""):gmatch("[^\n]+") do
    local pem = self.dict:get("cert:" .. id) or ""
    if seen.pems[id] ~= pem then
      if pem == "" then
        wx:remove_cert(id)
      else
        local ok, err = wx:set_cert(id, pem)
        if not ok then
          local ngx = ngx_api()
          ngx.log(ngx.ERR, "wechatpay cert store: ", tostring(err))
        end
      end
      seen.pems[id] = pem
      changed = true
    end
  end
  seen.version = version
  wx._cert_sync[self.name] = seen
  return changed
end

--- Sync a client every `interval` seconds from a per-worker timer (call in `init_worker_by_lua*`).
function Store:start_sync(wx, interval)
  local ngx = ngx_api()
  self:sync(wx)
  return ngx.timer.every(interval or 1, function(premature)
    if not premature then self:sync(wx) end
  end)
end

return M
