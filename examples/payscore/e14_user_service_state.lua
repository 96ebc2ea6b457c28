-- E14 查询用户授权状态 (legacy 普通授权, 2019; payscore.md §3.14):
-- GET /v3/payscore/user-service-state?service_id=&appid=&openid= (the 2019 example's path has no /v3: accepted too)
-- -> 200, use_service_state AVAILABLE / UNAVAILABLE. Setup: the user authorized the service.
--
--   lua5.4 examples/payscore/e14_user_service_state.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local openid = common.user()
  common.authorize(openid)

  -- 查询用户授权状态
  local res, err = wx.v3.payscore.userServiceState:get{
    query = { service_id = sandbox.service_id, appid = sandbox.appid, openid = openid },
  }
  common.show(res, err)
  common.expect(res.data.use_service_state == "AVAILABLE", "use_service_state " .. tostring(res.data.use_service_state))
end)
