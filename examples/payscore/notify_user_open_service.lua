-- PAYSCORE.USER_OPEN_SERVICE (payscore.md §8.5): a user authorized the service (免确认 mode) on the page opened
-- with E9's apply_permissions_token; the resource names the user (openid) and the authorization_code.
-- The notify_url is the examples' receiver (examples/payscore/receiver/: a small nginx whose handler is
-- wechatpay.openresty.handle_notification): it verifies the notification's signature, decrypts its resource with
-- the APIv3 key, records the event and answers 204; this script prints what it received.
--
--   lua5.4 examples/payscore/notify_user_open_service.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local receiver = common.receiver()
  local code, openid = common.unique(common.AUTHORIZATION_CODE, 30), common.user()
  local r, e = wx.v3.payscore.permissions:post{ json = { service_id = sandbox.service_id, appid = sandbox.appid,
    authorization_code = code, notify_url = receiver.url } }
  if not r then common.show(r, e) end
  common.step("setup: pre-authorization %s applied (E9), notify_url %s", code, receiver.url)

  -- what the user does: authorize the service in the mini-program (a sandbox control endpoint)
  common.authorize(openid, { authorization_code = code })

  local event = receiver.wait("PAYSCORE.USER_OPEN_SERVICE", function(ev) return ev.resource.openid == openid end)
  common.show_event(event)
  common.expect(event.resource.user_service_status == "USER_OPEN_SERVICE"
    and event.resource.authorization_code == code, "resource")
end)
