-- E13 解除用户授权关系(openid) (payscore.md §3.13): POST /v3/payscore/permissions/openid/{openid}/terminate -> 204
-- (no body); refused while the user has an open order of the service. Setup: the user authorized the service (a
-- fresh user, the official openid made unique).
--
--   lua5.4 examples/payscore/e13_terminate_permissions_by_openid.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local openid = common.user()
  common.authorize(openid)

  -- 解除用户授权关系（openid）
  local res, err = wx.v3.payscore.permissions.openid._openid_.terminate:post{
    openid = openid,
    json = { service_id = sandbox.service_id, appid = sandbox.appid, reason = "用户已不再使用" },
  }
  common.show(res, err)
  common.expect(res.status == 204, "status " .. res.status)
  local q = wx.v3.payscore.permissions.openid._openid_:get{ openid = openid,
    query = { appid = sandbox.appid, service_id = sandbox.service_id } }
  common.step("the authorization is now %s", q and q.data.authorization_state or "?")
  common.expect(q and q.data.authorization_state == "UNAVAILABLE", "still authorized")
end)
