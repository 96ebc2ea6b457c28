--- PayScore service orders, E1-E8 (payscore.md §3.1-§3.8), over the §5 state machine.
--
-- Order of checks (§10.4): the schema's field rules (wechatpay.payscore.validate -> 400 PARAM_ERROR with
-- detail.field as a JSON Pointer); the merchant's appid/service_id binding (403 NO_AUTH); then, under the order's
-- cross-worker lock: unknown order (404 ORDER_NOT_EXIST), idempotent re-entry, appid consistency (400
-- INVALID_REQUEST), the state matrix (state.lua), the clock and cap rules (rules.lua), the change.

local json = require "wechatpay.codec.json"
local validate = require "wechatpay.payscore.validate"
local rules = require "sandbox.payscore.rules"
local state = require "sandbox.payscore.state"
local model = require "sandbox.payscore.model"

local M = {}

local array = json.array

-- ---- shared steps -------------------------------------------------------------------------------

--- Named path parameters of a route from ctx.params (captures in order).
local function named(ctx, names)
  local p = {}
  for i, n in ipairs(names or {}) do p[n] = ctx.params[i] end
  return p
end

--- The schema's field rules. Returns nil or status, body (the first problem as 400 PARAM_ERROR).
function M.check_fields(ctx, id, names)
  if type(ctx.json) == "table" then ctx.json = model.strip(ctx.json) end
  local ok, problems = validate.request(id, { json = ctx.json, query = ctx.query, params = named(ctx, names) })
  if not ok then return 400, M.param_error(problems[1]) end
end

M.param_error = validate.param_error

--- appid and service_id of the JSON body (the default `ids` of M.admit).
function M.body_ids(ctx) return ctx.json.appid, ctx.json.service_id end
--- appid and service_id of the query string.
function M.query_ids(ctx) return ctx.query.appid, ctx.query.service_id end

--- The steps every merchant endpoint (E1-E15) starts with: the schema's field rules of endpoint `id` (`names`: the
-- route's path parameters), the authenticated merchant (403 NO_AUTH), its binding to the appid and service_id that
-- `ids(ctx)` returns (default M.body_ids; 403 NO_AUTH). Returns the merchant, or nil, status, body.
function M.admit(ctx, id, names, ids)
  local st, b = M.check_fields(ctx, id, names)
  if st then return nil, st, b end
  local m = ctx.merchant
  if not m then return nil, rules.no_auth() end
  st, b = rules.check_binding(m, (ids or M.body_ids)(ctx))
  if st then return nil, st, b end
  return m
end

-- Load an order under its lock and run fn(order, key); unknown order -> 404. Lazily applies T4 (expiry).
local function with_order(ctx, out_order_no, fn)
  local store = ctx.store
  local key = model.order_key(ctx.mchid, out_order_no)
  return store.with_lock(key, function()
    local o = store.get(key)
    if not o then return rules.not_found() end
    if model.refresh(o, ctx.now) then assert(store.put(key, o)) end
    return fn(o, key)
  end)
end

local function save(ctx, key, o)
  o.updated_at = ctx.now
  local ok, err = ctx.store.put(key, o)
  if not ok then error("sandbox payscore: cannot store the order: " .. tostring(err)) end
end

local ORDER_PARAMS = { "out_order_no" }

--- The common part of E3-E7 (an operation on the order of the path): M.admit, then under the order's lock (404
-- when unknown) its appid/service_id (400 INVALID_REQUEST), the settings and the §5.3 matrix for `action`; then
-- fn(order, key, req, merchant, settings, fp) does the rest. opts (all optional):
--   fingerprint = true   fp = the request's fingerprint (idempotent re-entry), else nil
--   replay(o, fp)        before the matrix: a stored answer to replay with 200 (an identical repeat), or nil
--   reentry(o, settings, fp)  the answer when the matrix allows `action` only as an identical re-entry (without it,
--                        fn runs)
local function order_operation(ctx, endpoint_id, action, fn, opts)
  opts = opts or {}
  local m, st, b = M.admit(ctx, endpoint_id, ORDER_PARAMS)
  if not m then return st, b end
  local req = ctx.json
  local fp = opts.fingerprint and model.fingerprint(endpoint_id, req) or nil
  return with_order(ctx, ctx.params[1], function(o, key)
    st, b = rules.check_order_ids(o, req.appid, req.service_id)
    if st then return st, b end
    local settings = model.settings(ctx.store)
    local answer = opts.replay and opts.replay(o, fp)
    if answer then return 200, answer end
    local allowed, status, body = state.check(action, o, settings)
    if allowed == "reentry" and opts.reentry then return opts.reentry(o, settings, fp) end
    if not allowed then return status, body end
    return fn(o, key, req, m, settings, fp)
  end)
end

--- E1 and E8 (one out_order_no namespace): under the order's lock, an existing order replays its answer to the
-- identical request (§3.1 "该接口支持原参重入") and refuses other parameters for the same out_order_no with 400
-- INVALID_REQUEST (§6.11, §10.5; internal 271316598 订单重入参数校验失败); else make(now) returns the new order
-- and its answer (or nil, status, body), stored with the request's fingerprint `fp`.
local function new_order(ctx, out_order_no, fp, make)
  local key = model.order_key(ctx.mchid, out_order_no)
  return ctx.store.with_lock(key, function()
    local old = ctx.store.get(key)
    if old then
      if old.create_fp == fp and old.create_answer then return 200, old.create_answer end
      return rules.invalid(rules.REENTRY_MESSAGE)
    end
    local o, answer, body = make(ctx.now)
    if not o then return answer, body end
    o.create_fp = fp
    o.create_answer = answer
    save(ctx, key, o)
    return 200, answer
  end)
end

--- §5.4: 免确认 needs the user's authorization of the service (E9 -> USER_OPEN_SERVICE). Returns nil or 403, body.
local function check_authorized(ctx, req)
  local u = ctx.store.get(model.user_key(ctx.mchid, req.service_id, req.openid))
  if not u or u.authorization_state ~= "AVAILABLE" then
    return 403, { code = "NO_AUTH", message = "请检查服务授权状态" }
  end
end

--- T7 / T13: WeChat starts collecting `amount` (the sandbox waits for E6 pay or POST .../pay).
local function start_collection(o, amount)
  o.state, o.state_description = state.DOING, state.MCH_COMPLETE
  o.need_collection = true
  o.collection = { state = state.USER_PAYING, total_amount = amount, paying_amount = amount, paid_amount = 0,
    details = array() }
end

-- ---- E1 create ----------------------------------------------------------------------------------

local CREATE_ANSWER = { "appid", "mchid", "out_order_no", "service_id", "service_introduction", "state",
  "state_description", "post_payments", "post_discounts", "risk_fund", "time_range", "location", "attach",
  "notify_url", "order_id" }

function M.create(ctx)
  local m, st, b = M.admit(ctx, "E1")
  if not m then return st, b end
  local req = ctx.json
  local settings = model.settings(ctx.store)
  local service = model.service(ctx.store, m, req.service_id, settings)
  -- §3.1: need_user_confirm defaults to true; false (免确认) needs the service's permission, else NO_AUTH
  local confirm = req.need_user_confirm ~= false
  if not confirm and not service.no_confirm then return rules.no_auth("商户暂无权限使用此服务") end

  -- the documented default made explicit, so that `"need_user_confirm": true` and its absence are the same request
  local canonical = model.copy(req)
  canonical.need_user_confirm = confirm
  return new_order(ctx, req.out_order_no, model.fingerprint("E1", canonical), function(now)
    -- clock rules (§2.3) -> PARAM_ERROR with the field
    st, b = rules.check_create_times(req.time_range, now)
    if st then return nil, st, b end
    st, b = rules.check_risk_fund(req, service)
    if st then return nil, st, b end
    if not confirm and settings.require_authorization then
      st, b = check_authorized(ctx, req)
      if st then return nil, st, b end
    end
    local o = {
      mchid = ctx.mchid, out_order_no = req.out_order_no, appid = req.appid, service_id = req.service_id,
      service_introduction = req.service_introduction, post_payments = req.post_payments,
      post_discounts = req.post_discounts, risk_fund = req.risk_fund, time_range = req.time_range,
      location = req.location, attach = req.attach, notify_url = req.notify_url, device = req.device,
      need_user_confirm = confirm, order_id = rules.order_id(now), created_at = now, updated_at = now,
      source = "create",
      total_amount = model.items_total(req.post_payments, req.post_discounts),
    }
    -- the official example sends openid with need_user_confirm=true: kept as the default confirming user
    if confirm then
      o.state = state.CREATED -- T1
      o.requested_openid = req.openid
      o.package = rules.token("", 96)
      o.package_expires_at = now + state.PACKAGE_TTL
    else
      o.state, o.state_description = state.DOING, state.USER_CONFIRM -- T2
      o.openid = req.openid
      o.confirmed_at = now
      o.confirmed_time14 = rules.time14(now)
    end
    local answer = model.pick(o, CREATE_ANSWER)
    if confirm then answer.package = o.package end
    return o, answer
  end)
end

-- ---- E2 query -----------------------------------------------------------------------------------

function M.query(ctx)
  local m, st, b = M.admit(ctx, "E2", nil, M.query_ids)
  if not m then return st, b end
  local q = ctx.query
  local out_order_no = q.out_order_no
  if out_order_no == nil or out_order_no == "" then
    -- §3.2: query_id, returned to the front end after confirmation
    local ref = ctx.store.get(model.query_key(ctx.mchid, q.query_id))
    if not ref then return rules.not_found() end
    out_order_no = ref.out_order_no
  end
  return with_order(ctx, out_order_no, function(o)
    st, b = rules.check_order_ids(o, q.appid, q.service_id)
    if st then return st, b end
    return 200, model.entity(o)
  end)
end

-- ---- E3 cancel ----------------------------------------------------------------------------------

local CANCEL_ANSWER = { "appid", "mchid", "out_order_no", "service_id", "order_id" }

-- REVOKED: the identical cancel (reason included) replays its answer (§3.3 re-entrant); other parameters ->
-- INVALID_REQUEST as §6.11/§10.5 word it (§5.3 would say ORDER_CANCELED: the re-entry wording wins here)
local function cancel_reentry(o, _, fp)
  if o.cancel_fp == fp and o.cancel_answer then return 200, o.cancel_answer end
  return rules.invalid(rules.REENTRY_MESSAGE)
end

function M.cancel(ctx)
  return order_operation(ctx, "E3", "cancel", function(o, key, req, _, _, fp)
    -- T5 / T6 / T12
    o.state = state.REVOKED
    o.state_description = nil
    o.total_amount = 0 -- §3.3 "total_amount = 0"
    if o.collection then o.collection.total_amount = 0; o.collection.paying_amount = 0 end
    o.cancel_reason = req.reason
    o.cancelled_at = ctx.now
    o.package = nil
    o.package_expires_at = nil
    local answer = model.pick(o, CANCEL_ANSWER)
    o.cancel_fp = fp
    o.cancel_answer = answer
    save(ctx, key, o)
    return 200, answer
  end, { fingerprint = true, reentry = cancel_reentry })
end

-- ---- E4 modify ----------------------------------------------------------------------------------

function M.modify(ctx)
  return order_operation(ctx, "E4", "modify", function(o, key, req, m, settings)
    -- §3.4: not for 先免 orders whose user actually paid the deposit (sandbox wording of the message)
    if o.deposit_paid and o.risk_fund and rules.DEPOSIT_NAMES[o.risk_fund.name] then
      return rules.invalid("用户已支付押金的订单不支持修改金额")
    end
    -- §3.4 / §11: downward only, any number of times, strictly decreasing (CONFLICT: "only once" in 2019-20 docs)
    local current = o.collection and o.collection.total_amount or o.total_amount
    if req.total_amount >= current then
      return rules.invalid("修改后的总金额必须小于修改前的总金额", "/total_amount", req.total_amount)
    end
    local service = model.service(ctx.store, m, o.service_id, settings)
    local st, b = rules.check_total_cap(req.total_amount, o.risk_fund, service)
    if st then return st, b end
    -- T10
    o.post_payments = req.post_payments
    o.post_discounts = req.post_discounts
    o.total_amount = req.total_amount
    o.modify_count = (o.modify_count or 0) + 1
    o.modify_reason = req.reason
    local c = o.collection
    c.total_amount = req.total_amount
    c.paying_amount = req.total_amount - (c.paid_amount or 0)
    if c.paying_amount <= 0 then
      -- nothing left to collect (modified to 0): collected -> DONE (UNCERTAIN: no source; the natural reading)
      c.paying_amount = 0
      c.state = state.USER_PAID
      o.state, o.state_description = state.DONE, nil
    end
    save(ctx, key, o)
    return 200, model.entity(o)
  end)
end

-- ---- E5 complete --------------------------------------------------------------------------------

local COMPLETE_ANSWER = { "appid", "mchid", "out_order_no", "service_id", "service_introduction", "state",
  "state_description", "total_amount", "post_payments", "post_discounts", "risk_fund", "time_range", "location",
  "order_id", "need_collection" }

-- an identical repeat of the complete that succeeded replays its answer (also once a 0-amount complete made the
-- order DONE)
local function complete_replay(o, fp)
  if o.complete_fp == fp and o.complete_answer and (state.phase(o) == "DOING/MCH_COMPLETE"
      or (o.state == state.DONE and o.complete_total == 0)) then
    return o.complete_answer
  end
end

-- UNCERTAIN (§5.3/§11): MCH_COMPLETE accepts only an identical re-entry (complete_replay); anything else is a wrong
-- state
local function complete_reentry(o, settings)
  return state.refusal("complete", o, settings)
end

function M.complete(ctx)
  return order_operation(ctx, "E5", "complete", function(o, key, req, m, settings, fp)
    -- §2.4: end_location at complete requires a create-time start_location
    if req.location and req.location.end_location ~= nil and not (o.location and o.location.start_location) then
      return rules.param_error("/location/end_location", "end_location requires a start_location given at create",
        req.location.end_location)
    end
    local t1, t2 = rules.check_complete_times(o, req.time_range, ctx.now)
    if t1 then return t1, t2 end
    local merged = t2
    local service = model.service(ctx.store, m, o.service_id, settings)
    local st, b = rules.check_total_cap(req.total_amount, o.risk_fund, service)
    if st then return st, b end
    local now = ctx.now
    o.post_payments = req.post_payments
    o.post_discounts = req.post_discounts
    o.total_amount = req.total_amount
    o.time_range = merged
    if req.location and req.location.end_location ~= nil then
      o.location = o.location or {}
      o.location.end_location = req.location.end_location
    end
    o.profit_sharing = req.profit_sharing
    o.goods_tag = req.goods_tag
    if req.device then o.device = req.device end
    o.completed_at = now
    o.complete_total = req.total_amount
    if req.total_amount > 0 then
      start_collection(o, req.total_amount) -- T7
    else
      -- T8: nothing to collect (UNCERTAIN exact fields, §5.2): DONE, need_collection false, no collection
      o.state, o.state_description = state.DONE, nil
      o.need_collection = false
    end
    local answer = model.pick(o, COMPLETE_ANSWER)
    if o.state == state.DONE then answer.state_description = nil end
    o.complete_fp = fp
    o.complete_answer = answer
    save(ctx, key, o)
    return 200, answer
  end, { fingerprint = true, replay = complete_replay, reentry = complete_reentry })
end

-- ---- E6 pay -------------------------------------------------------------------------------------

local PAY_ANSWER = { "appid", "mchid", "out_order_no", "service_id", "order_id" }

--- T9 on `o` (saved by the caller): DONE, collection USER_PAID, PAYSCORE.USER_PAID. Returns the detail and the
-- notification id.
function M.succeed_deduction(ctx, o)
  local detail = model.deduct(o, ctx.now)
  local id = model.notify(ctx, o.mchid, o.notify_url, "PAYSCORE.USER_PAID", model.user_paid_payload(o))
  return detail, id
end

function M.pay(ctx)
  return order_operation(ctx, "E6", "pay", function(o, key, _, _, settings)
    local answer = model.pick(o, PAY_ANSWER)
    if o.deduction_fail then
      -- the user cannot pay (POST .../pay-fail): the attempt fails, the order stays USER_PAYING
      -- ("扣款失败" [S37]; internal 271316574 支付分扣款失败)
      o.deduction_failures = (o.deduction_failures or 0) + 1
      o.last_deduction_error = "支付分扣款失败"
      save(ctx, key, o)
      return rules.invalid("支付分扣款失败")
    end
    if settings.pay_deducts then M.succeed_deduction(ctx, o) end
    save(ctx, key, o)
    return 200, answer
  end)
end

-- ---- E7 sync ------------------------------------------------------------------------------------

function M.sync(ctx)
  return order_operation(ctx, "E7", "sync", function(o, key, req)
    local st, b = rules.check_paid_time(o, req.detail.paid_time, ctx.now)
    if st then return st, b end
    -- T11: paid through another channel; detail paid_type MCH (UNCERTAIN, §3.7), no transaction_id, no
    -- notification (WeChat only stops collecting)
    local p = rules.parse_time(req.detail.paid_time)
    local c = o.collection
    local details = c.details or array()
    local amount = c.paying_amount or 0
    details[#details + 1] = { seq = #details + 1, amount = amount, paid_type = "MCH",
      paid_time = rules.time14(p.t) }
    c.details = array(details)
    c.paid_amount = (c.paid_amount or 0) + amount
    c.paying_amount = 0
    c.state = state.USER_PAID
    o.state, o.state_description = state.DONE, nil
    o.deduction_fail = nil
    save(ctx, key, o)
    return 200, model.entity(o)
  end)
end

-- ---- E8 direct-complete -------------------------------------------------------------------------

local DIRECT_ANSWER = { "appid", "mchid", "out_order_no", "service_id", "order_id", "service_introduction", "state",
  "state_description", "post_payments", "post_discounts", "time_range", "location", "attach", "notify_url",
  "total_amount" }

function M.direct_complete(ctx)
  local m, st, b = M.admit(ctx, "E8")
  if not m then return st, b end
  local req = ctx.json
  local settings = model.settings(ctx.store)
  local service = model.service(ctx.store, m, req.service_id, settings)
  -- §3.8: "not open by default" (permission via operations); open in the sandbox unless the service says no
  if not service.direct_complete then return rules.no_auth("商户暂无权限使用此服务") end
  -- same out_order_no namespace as E1; an identical repeat replays (re-entry as E1, §6.11)
  return new_order(ctx, req.out_order_no, model.fingerprint("E8", req), function(now)
    st, b = rules.check_direct_times(req.time_range, now)
    if st then return nil, st, b end
    st, b = rules.check_total_cap(req.total_amount, nil, service)
    if st then return nil, st, b end
    if settings.require_authorization then
      st, b = check_authorized(ctx, req)
      if st then return nil, st, b end
    end
    local o = {
      mchid = ctx.mchid, out_order_no = req.out_order_no, appid = req.appid, service_id = req.service_id,
      openid = req.openid, service_introduction = req.service_introduction, post_payments = req.post_payments,
      post_discounts = req.post_discounts, time_range = req.time_range, location = req.location,
      attach = req.attach, notify_url = req.notify_url, total_amount = req.total_amount,
      profit_sharing = req.profit_sharing, goods_tag = req.goods_tag, need_user_confirm = false,
      order_id = rules.order_id(now), created_at = now, confirmed_at = now, completed_at = now,
      complete_total = req.total_amount, source = "direct_complete",
    }
    if req.total_amount > 0 then
      -- T13: collection pending (E6 pay / POST .../pay completes it, with PAYSCORE.USER_PAID)
      start_collection(o, req.total_amount)
    else
      o.state = state.DONE
      o.need_collection = false
    end
    return o, model.pick(o, DIRECT_ANSWER)
  end)
end

return M
