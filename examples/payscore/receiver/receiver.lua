--- The handler of the examples' notification receiver (runs inside nginx, see nginx.conf.tpl).
--
-- `init(config_path, events_path)` builds the merchant's client from the sandbox's config.json (in
-- init_by_lua, once); `handle()` answers POST /notify with wechatpay.openresty.handle_notification: only a
-- notification that verifies (signature, timestamp, key id) and decrypts reaches the function below, which appends
-- the event, with its decrypted resource, as one JSON line to events.jsonl and acknowledges it (204). Anything else
-- is answered 4xx/5xx, which makes the sandbox retry, as WeChat Pay does.

local wechatpay = require "wechatpay"
local json = require "wechatpay.codec.json"
local openresty = require "wechatpay.openresty"

local M = {}

local wx, events_path

function M.init(config_path, path)
  local f = assert(io.open(config_path, "rb"), "no sandbox config at " .. config_path)
  local sandbox = assert(json.decode(f:read("*a")))
  f:close()
  wx = assert(wechatpay.new {
    mchid = sandbox.mchid,
    serial = sandbox.serial,
    private_key = "file://" .. sandbox.private_key,
    certs = {
      [sandbox.public_key_id] = "file://" .. sandbox.public_key,                -- public-key mode (default)
      [sandbox.platform_serial] = "file://" .. sandbox.platform_certificate,    -- certificate mode
    },
    apiv3_key = sandbox.apiv3_key,
  })
  events_path = path
end

function M.handle()
  openresty.handle_notification(wx, function(event)
    -- persist first, acknowledge after: a failure here answers 500 and the notification comes again
    local line = assert(json.encode {
      id = event.id, create_time = event.create_time, event_type = event.event_type,
      resource_type = event.resource_type, summary = event.summary, request_id = event.request_id,
      resource = event.resource,
    })
    local f = assert(io.open(events_path, "ab"))
    assert(f:write(line, "\n"))
    f:close()
    return true
  end)
end

return M
