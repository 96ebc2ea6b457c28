--- The sandbox's PayScore business logic (sandbox/DESIGN.md handler contract).
--
--   local payscore = require "sandbox.payscore"
--   payscore.routes          -- E1-E15 (payscore.md §0), with the /v3 and no-/v3 paths §11 accepts, from the
--                            -- schema's own route table (wechatpay.payscore.validate.routes): one source of truth
--   payscore.control_routes  -- /sandbox/payscore/... (sandbox.payscore.control)
--
-- Files: orders.lua (E1-E8), permissions.lua (E9-E15), state.lua (§5 state machine and permission matrix),
-- rules.lua (the clock and state rules of §2.3/§6), model.lua (records, views, settings, notifications),
-- control.lua (what a user or WeChat Pay does).

local validate = require "wechatpay.payscore.validate"
local orders = require "sandbox.payscore.orders"
local permissions = require "sandbox.payscore.permissions"
local control = require "sandbox.payscore.control"

local M = {}

M.HANDLERS = {
  E1 = orders.create,
  E2 = orders.query,
  E3 = orders.cancel,
  E4 = orders.modify,
  E5 = orders.complete,
  E6 = orders.pay,
  E7 = orders.sync,
  E8 = orders.direct_complete,
  E9 = permissions.apply,
  E10 = permissions.query_by_code,
  E11 = permissions.terminate_by_code,
  E12 = permissions.query_by_openid,
  E13 = permissions.terminate_by_openid,
  E14 = permissions.user_service_state,
  E15 = permissions.terminate_legacy,
}

M.routes = {}
for _, r in ipairs(validate.routes) do
  local handler = M.HANDLERS[r.id]
  if not handler then error("sandbox.payscore: no handler for " .. r.id) end
  M.routes[#M.routes + 1] = { method = r.method, pattern = r.pattern, handler = handler, id = r.id,
    template = r.template }
end
for id in pairs(M.HANDLERS) do
  local found = false
  for _, r in ipairs(M.routes) do if r.id == id then found = true end end
  if not found then error("sandbox.payscore: the schema has no route for " .. id) end
end

M.control_routes = control.routes

--- POST /sandbox/reset calls this after the store was flushed (nothing is cached per worker).
function M.reset() end

return M
