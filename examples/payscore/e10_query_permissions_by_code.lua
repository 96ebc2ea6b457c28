-- E10 查询用户授权记录(授权协议号) (payscore.md §3.10):
-- GET /v3/payscore/permissions/authorization-code/{authorization_code}?service_id= -> 200, the authorization
-- (UNBINDUSER until a user authorizes with the code, then AVAILABLE). Setup: E9 with a fresh code, and a user
-- authorizes the service with it in the mini-program.
--
--   lua5.4 examples/payscore/e10_query_permissions_by_code.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local code, openid = common.unique(common.AUTHORIZATION_CODE, 30), common.user()
  local r, e = wx.v3.payscore.permissions:post{ json = { service_id = sandbox.service_id, appid = sandbox.appid,
    authorization_code = code, notify_url = "https://api.test.com" } }
  if not r then common.show(r, e) end
  common.step("setup: pre-authorization %s applied (E9)", code)
  common.authorize(openid, { authorization_code = code })

  -- 查询用户授权记录（授权协议号）
  local res, err = wx.v3.payscore.permissions.authorizationCode._authorization_code_:get{
    authorization_code = code,
    query = { service_id = sandbox.service_id },
  }
  common.show(res, err)
  common.expect(res.data.authorization_state == "AVAILABLE" and res.data.openid == openid, "not authorized")
end)
