--- The PayScore (微信支付分) layer.
--
--   local payscore = require "wechatpay.payscore"
--   payscore.schema      -- every merchant endpoint E1-E15 as data (wechatpay.payscore.schema)
--   payscore.validate    -- request/answer checks against it (wechatpay.payscore.validate)
--
-- Members are loaded on first use.

local lazy = {
  schema = "wechatpay.payscore.schema",
  validate = "wechatpay.payscore.validate",
}

return setmetatable({}, {
  __index = function(t, k)
    local name = lazy[k]
    if not name then return nil end
    local m = require(name)
    rawset(t, k, m)
    return m
  end,
})
