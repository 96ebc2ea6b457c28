--- The PayScore order state machine of payscore.md §5, as data, and the answers for an operation the state forbids.
--
--   local state = require "sandbox.payscore.state"
--   state.phase(order)                       -- "CREATED" | "DOING/USER_CONFIRM" | "DOING/MCH_COMPLETE" | "DONE" | ...
--   local ok, status, body = state.check("complete", order, settings)
--   -- ok: true (allowed) | "reentry" (allowed only as an identical re-entry) | false (status, body = the error answer)
--
-- Phases are `state` plus, while DOING, `state_description` (§5.1); in the sandbox a DOING/MCH_COMPLETE order always
-- has `collection.state = USER_PAYING` (a successful deduction moves it to DONE at once, §5.2 T9).

local M = {}

M.CREATED, M.DOING, M.DONE, M.REVOKED, M.EXPIRED = "CREATED", "DOING", "DONE", "REVOKED", "EXPIRED"
M.USER_CONFIRM, M.MCH_COMPLETE = "USER_CONFIRM", "MCH_COMPLETE"
M.USER_PAYING, M.USER_PAID = "USER_PAYING", "USER_PAID"

--- A CREATED order unchanged for this long becomes EXPIRED (§5.1, T4).
M.EXPIRE_AFTER = 30 * 86400
--- `package` (confirm-page token) lifetime (§3.1).
M.PACKAGE_TTL = 3600
--- `apply_permissions_token` lifetime (§3.9).
M.PERMISSIONS_TOKEN_TTL = 3600

--- The phases, in life-cycle order.
M.PHASES = { "CREATED", "DOING/USER_CONFIRM", "DOING/MCH_COMPLETE", "DONE", "REVOKED", "EXPIRED" }

--- §5.2 transitions (documentation for the control listing and the docs; the handlers implement them).
M.TRANSITIONS = {
  { id = "T1", from = nil, by = "E1 create, need_user_confirm=true", to = "CREATED", effects = "package" },
  { id = "T2", from = nil, by = "E1 create, need_user_confirm=false", to = "DOING/USER_CONFIRM",
    effects = "openid bound, no package, no notification" },
  { id = "T3", from = "CREATED", by = "user confirms (control /confirm)", to = "DOING/USER_CONFIRM",
    effects = "openid bound, query_id, PAYSCORE.USER_CONFIRM" },
  { id = "T4", from = "CREATED", by = "30 days unchanged (sandbox clock) or control /expire", to = "EXPIRED" },
  { id = "T5", from = "CREATED", by = "E3 cancel", to = "REVOKED", effects = "total_amount 0" },
  { id = "T6", from = "DOING/USER_CONFIRM", by = "E3 cancel", to = "REVOKED", effects = "total_amount 0" },
  { id = "T7", from = "DOING/USER_CONFIRM", by = "E5 complete, total_amount > 0", to = "DOING/MCH_COMPLETE",
    effects = "need_collection, collection USER_PAYING" },
  { id = "T8", from = "DOING/USER_CONFIRM", by = "E5 complete, total_amount = 0", to = "DONE",
    effects = "need_collection false" },
  { id = "T9", from = "DOING/MCH_COMPLETE", by = "deduction succeeds (E6 pay, control /pay)", to = "DONE",
    effects = "collection USER_PAID, NEWTON detail with transaction_id, PAYSCORE.USER_PAID" },
  { id = "T10", from = "DOING/MCH_COMPLETE", by = "E4 modify (lower amount)", to = "DOING/MCH_COMPLETE",
    effects = "total and paying amounts lowered" },
  { id = "T11", from = "DOING/MCH_COMPLETE", by = "E7 sync Order_Paid", to = "DONE",
    effects = "collection USER_PAID, MCH detail" },
  { id = "T12", from = "DOING/MCH_COMPLETE", by = "E3 cancel (setting cancel_after_complete)", to = "REVOKED" },
  { id = "T13", from = nil, by = "E8 direct-complete", to = "DOING/MCH_COMPLETE or DONE (total 0)" },
}

--- §5.3 operation-permission matrix. Values: true = allowed; "reentry" = only an identical repeat of the call
-- that led there; "setting" = decided by a sandbox setting; nil = refused (answer from M.refusal).
-- CONFLICT (§5.3/§11): cancel of DOING/MCH_COMPLETE (USER_PAYING) — the current official cancel page allows it,
-- the 2019 doc and wechatpay-skills forbid it: setting `cancel_after_complete`, default "allow" (§11).
-- UNCERTAIN (§5.3/§11): complete of DOING/MCH_COMPLETE — "USER_CONFIRM; MCH_COMPLETE only for identical re-entry".
M.MATRIX = {
  query    = { CREATED = true, ["DOING/USER_CONFIRM"] = true, ["DOING/MCH_COMPLETE"] = true, DONE = true,
               REVOKED = true, EXPIRED = true },
  cancel   = { CREATED = true, ["DOING/USER_CONFIRM"] = true, ["DOING/MCH_COMPLETE"] = "setting",
               REVOKED = "reentry" },
  complete = { ["DOING/USER_CONFIRM"] = true, ["DOING/MCH_COMPLETE"] = "reentry" },
  modify   = { ["DOING/MCH_COMPLETE"] = true },
  pay      = { ["DOING/MCH_COMPLETE"] = true },
  sync     = { ["DOING/MCH_COMPLETE"] = true },
  -- what a user / WeChat does (control endpoints)
  confirm  = { CREATED = true },
  expire   = { CREATED = true },
  deduct   = { ["DOING/MCH_COMPLETE"] = true },
}

function M.phase(order)
  if order.state == M.DOING then return "DOING/" .. tostring(order.state_description) end
  return order.state
end

-- §9.3 messages.
M.MESSAGES = {
  PARAM_ERROR = "参数错误",
  INVALID_REQUEST = "请求参数符合参数格式，但不符合业务规则",
  INVALID_ORDER_STATE = "单据状态错误",
  ORDER_CANCELED = "单据已取消",
  ORDER_DONE = "订单已完成",
  NO_AUTH = "商户信息不合法",
  ORDER_NOT_EXIST = "订单不存在",
  SYSTEM_ERROR = "系统错误",
  FREQUENCY_LIMITED = "频率超限",
}

local function body(code, message)
  return { code = code, message = message or M.MESSAGES[code] }
end
M.body = body

--- The error answer for `op` refused in the order's phase.
-- settings.errors: "default" (§10.4: REVOKED -> ORDER_CANCELED, DONE -> ORDER_DONE, other -> INVALID_ORDER_STATE)
-- or "realistic" (§9.4's observed pairs: cancel -> PARAM_ERROR 当前订单状态不满足撤销条件, the others ->
-- INVALID_REQUEST 当前订单状态不合法).
function M.refusal(op, order, settings)
  local phase = M.phase(order)
  if settings and settings.errors == "realistic" then
    if op == "cancel" then return 400, body("PARAM_ERROR", "当前订单状态不满足撤销条件") end
    if phase ~= "DONE" then return 400, body("INVALID_REQUEST", "当前订单状态不合法") end
    return 400, body("ORDER_DONE")
  end
  if phase == "REVOKED" then return 400, body("ORDER_CANCELED") end
  if phase == "DONE" then return 400, body("ORDER_DONE") end
  return 400, body("INVALID_ORDER_STATE")
end

--- May `op` run on `order`? Returns true | "reentry" | false, status, error body.
function M.check(op, order, settings)
  local row = M.MATRIX[op]
  if not row then error("sandbox.payscore.state: unknown operation " .. tostring(op), 2) end
  local v = row[M.phase(order)]
  if v == true or v == "reentry" then return v end
  if v == "setting" then
    if not settings or settings.cancel_after_complete ~= "reject" then return true end
    -- §5.3: "an option to reject with PARAM_ERROR 当前订单状态不满足撤销条件" (271316592)
    return false, 400, body("PARAM_ERROR", "当前订单状态不满足撤销条件")
  end
  return false, M.refusal(op, order, settings)
end

return M
