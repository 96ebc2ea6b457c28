-- E9 商户预授权 Apply permissions (payscore.md §3.9): POST /v3/payscore/permissions -> 200 with the
-- apply_permissions_token the PayScore mini-program's authorization page opens with (wxpayScoreEnable, valid 1 h).
-- The merchant's authorization_code is single use: the official value with a fresh suffix.
--
--   lua5.4 examples/payscore/e09_apply_permissions.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function(wx, sandbox)
  local code = common.unique(common.AUTHORIZATION_CODE, 30)
  common.note("authorization_code %s (the official %s made unique: one code per user, never reused).", code,
    common.AUTHORIZATION_CODE)

  -- 商户预授权
  local res, err = wx.v3.payscore.permissions:post{
    json = {
      service_id = sandbox.service_id,
      appid = sandbox.appid,
      authorization_code = code,
      notify_url = "https://api.test.com",
    },
  }
  common.show(res, err)
  common.expect(type(res.data.apply_permissions_token) == "string", "no apply_permissions_token")
end)
