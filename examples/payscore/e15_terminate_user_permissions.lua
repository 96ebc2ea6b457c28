-- E15 商户解除用户授权关系 (legacy, 2020; payscore.md §3.15):
-- POST /payscore/users/{openid}/permissions/{service_id}/terminate (no /v3, as the 2020 page; the /v3 path is
-- accepted too) -> 204 (no body). Setup: the user authorized the service.
--
--   lua5.4 examples/payscore/e15_terminate_user_permissions.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local openid = common.user()
  common.authorize(openid)

  -- 商户解除用户授权关系
  local res, err = wx.payscore.users._openid_.permissions._service_id_.terminate:post{
    openid = openid,
    service_id = sandbox.service_id,
    json = { appid = sandbox.appid, reason = "用户已不再使用" },
  }
  common.show(res, err)
  common.expect(res.status == 204, "status " .. res.status)
  local q = wx.v3.payscore.userServiceState:get{
    query = { service_id = sandbox.service_id, appid = sandbox.appid, openid = openid } }
  common.step("use_service_state is now %s", q and q.data.use_service_state or "?")
  common.expect(q and q.data.use_service_state == "UNAVAILABLE", "still authorized")
end)
