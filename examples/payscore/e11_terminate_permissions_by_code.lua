-- E11 解除用户授权关系(授权协议号) (payscore.md §3.11):
-- POST /v3/payscore/permissions/authorization-code/{authorization_code}/terminate -> 204 (no body); the
-- authorization becomes UNAVAILABLE (PAYSCORE.USER_CLOSE_SERVICE goes to its notify_url). Setup: E9 with a fresh
-- code, and a user authorizes the service with it.
--
--   lua5.4 examples/payscore/e11_terminate_permissions_by_code.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local code, openid = common.unique(common.AUTHORIZATION_CODE, 30), common.user()
  local r, e = wx.v3.payscore.permissions:post{ json = { service_id = sandbox.service_id, appid = sandbox.appid,
    authorization_code = code, notify_url = "https://api.test.com" } }
  if not r then common.show(r, e) end
  common.step("setup: pre-authorization %s applied (E9)", code)
  common.authorize(openid, { authorization_code = code })

  -- 解除用户授权关系（授权协议号）
  local res, err = wx.v3.payscore.permissions.authorizationCode._authorization_code_.terminate:post{
    authorization_code = code,
    json = { service_id = sandbox.service_id, reason = "用户已不再使用" },
  }
  common.show(res, err)
  common.expect(res.status == 204, "status " .. res.status)
  local q = wx.v3.payscore.permissions.authorizationCode._authorization_code_:get{ authorization_code = code,
    query = { service_id = sandbox.service_id } }
  common.step("the authorization is now %s", q and q.data.authorization_state or "?")
  common.expect(q and q.data.authorization_state == "UNAVAILABLE", "still authorized")
end)
