-- PAYSCORE.USER_CLOSE_SERVICE (payscore.md §8.5): the authorization of a user ended — here the user removes it in
-- WeChat; the merchant's E11/E13/E15 terminations send the same event.
-- The notify_url is the examples' receiver (examples/payscore/receiver/: a small nginx whose handler is
-- wechatpay.openresty.handle_notification): it verifies the notification's signature, decrypts its resource with
-- the APIv3 key, records the event and answers 204; this script prints what it received.
--
--   lua5.4 examples/payscore/notify_user_close_service.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local receiver = common.receiver()
  local code, openid = common.unique(common.AUTHORIZATION_CODE, 30), common.user()
  local r, e = wx.v3.payscore.permissions:post{ json = { service_id = sandbox.service_id, appid = sandbox.appid,
    authorization_code = code, notify_url = receiver.url } }
  if not r then common.show(r, e) end
  common.step("setup: pre-authorization %s applied (E9), notify_url %s", code, receiver.url)
  common.authorize(openid, { authorization_code = code })

  -- what the user does: remove the authorization in WeChat (a sandbox control endpoint)
  common.control("POST", "payscore/users/" .. openid .. "/deauthorize", { service_id = sandbox.service_id })
  common.step("the user removed the authorization; waiting for the notification")

  local event = receiver.wait("PAYSCORE.USER_CLOSE_SERVICE", function(ev) return ev.resource.openid == openid end)
  common.show_event(event)
  common.expect(event.resource.user_service_status == "USER_CLOSE_SERVICE", "user_service_status")
end)
