-- E12 查询用户授权记录(openid) (payscore.md §3.12):
-- GET /v3/payscore/permissions/openid/{openid}?appid=&service_id= -> 200, the user's authorization of the service
-- (AVAILABLE / UNAVAILABLE). Setup: the user authorized the service (a fresh user, the official openid made unique).
--
--   lua5.4 examples/payscore/e12_query_permissions_by_openid.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local openid = common.user()
  common.authorize(openid)

  -- 查询用户授权记录（openid）
  local res, err = wx.v3.payscore.permissions.openid._openid_:get{
    openid = openid,
    query = { appid = sandbox.appid, service_id = sandbox.service_id },
  }
  common.show(res, err)
  common.expect(res.data.authorization_state == "AVAILABLE", "not AVAILABLE")
end)
