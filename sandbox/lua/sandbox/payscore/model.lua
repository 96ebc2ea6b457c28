--- PayScore records in the sandbox store, their views (what the API answers), settings, fingerprints for
-- idempotent re-entry, and notifications. Shared by orders.lua, permissions.lua and control.lua.
--
-- Store keys (sandbox.store, shared by the nginx workers):
--   ps:o:<mchid>:<out_order_no>           an order (internal record; `M.entity(order)` is the API view)
--   ps:q:<mchid>:<query_id>               { out_order_no } for E2 by query_id
--   ps:a:<mchid>:<authorization_code>     an authorization (E9 pre-authorization record)
--   ps:u:<mchid>:<service_id>:<openid>    a user's authorization state of a service (E12, E14, 免确认 checks)
--   ps:settings                           run-time settings (POST /sandbox/payscore/settings); reset clears them

local json = require "wechatpay.codec.json"
local rules = require "sandbox.payscore.rules"
local state = require "sandbox.payscore.state"

local M = {}

local array = json.array

-- ---- keys ---------------------------------------------------------------------------------------

function M.order_key(mchid, out_order_no) return "ps:o:" .. mchid .. ":" .. out_order_no end
function M.orders_prefix(mchid) return "ps:o:" .. (mchid and (mchid .. ":") or "") end
function M.query_key(mchid, query_id) return "ps:q:" .. mchid .. ":" .. query_id end
function M.code_key(mchid, code) return "ps:a:" .. mchid .. ":" .. code end
function M.codes_prefix(mchid) return "ps:a:" .. (mchid and (mchid .. ":") or "") end
function M.user_key(mchid, service_id, openid) return "ps:u:" .. mchid .. ":" .. service_id .. ":" .. openid end
function M.users_prefix(mchid) return "ps:u:" .. (mchid and (mchid .. ":") or "") end
--- The lock of a merchant's authorizations (E9-E15 and the authorize/deauthorize controls).
function M.perm_lock(mchid) return "ps:perm:" .. mchid end

-- ---- settings -----------------------------------------------------------------------------------

--- Run-time settings and their defaults.
M.SETTINGS = {
  -- CONFLICT (§5.3/§11): cancel after complete (DOING/MCH_COMPLETE, USER_PAYING): "allow" (current official cancel
  -- page; §11's default) or "reject" (2019 doc, wechatpay-skills: PARAM_ERROR 当前订单状态不满足撤销条件).
  cancel_after_complete = "allow",
  -- wrong-state answers: "default" (§10.4: ORDER_CANCELED / ORDER_DONE / INVALID_ORDER_STATE) or "realistic"
  -- (§9.4: the observed PARAM_ERROR / INVALID_REQUEST pairs).
  errors = "default",
  -- 免确认 create (E1 need_user_confirm=false) and direct-complete (E8) need the user's authorization of the service
  -- (§5.4); false skips that check.
  require_authorization = true,
  -- E6 pay attempts the deduction at once: success -> DONE + PAYSCORE.USER_PAID, unless the order was marked by
  -- POST /sandbox/payscore/orders/{no}/pay-fail (then E6 answers 支付分扣款失败 and the order stays USER_PAYING).
  pay_deducts = true,
  -- per service overrides, "<mchid>:<service_id>" -> { risk_fund_cap, risk_mode, no_confirm, direct_complete,
  -- notify_url } (see rules.SERVICE_DEFAULTS)
  services = nil,
}

local VALID_SETTINGS = {
  cancel_after_complete = { allow = true, reject = true },
  errors = { default = true, realistic = true },
  require_authorization = "boolean",
  pay_deducts = "boolean",
}
local SERVICE_FIELDS = {
  risk_fund_cap = "integer", risk_mode = { any = true, deposit = true, estimate = true }, no_confirm = "boolean",
  direct_complete = "boolean", notify_url = "string",
}

function M.settings(store)
  local s = store.get("ps:settings") or {}
  for k, v in pairs(M.SETTINGS) do if s[k] == nil then s[k] = v end end
  return s
end

--- Merge a settings change (POST body) for merchant mchid. Returns the new settings or nil, message.
function M.update_settings(store, mchid, body)
  if type(body) ~= "table" then return nil, "the body must be a JSON object" end
  local cur = store.get("ps:settings") or {}
  for k, v in pairs(body) do
    local rule = VALID_SETTINGS[k]
    if k == "services" then
      if type(v) ~= "table" or json.is_array(v) then return nil, "services must be an object by service_id" end
      cur.services = cur.services or {}
      for sid, conf in pairs(v) do
        if type(conf) ~= "table" then return nil, "services." .. sid .. " must be an object" end
        local key = mchid .. ":" .. sid
        local dst = cur.services[key] or {}
        for f, x in pairs(conf) do
          local fr = SERVICE_FIELDS[f]
          if fr == nil then return nil, "unknown service setting " .. f end
          if fr == "integer" then
            if type(x) ~= "number" or x ~= math.floor(x) or x < 0 then return nil, f .. " must be an integer ≥ 0" end
          elseif type(fr) == "table" then
            if not fr[x] then return nil, f .. ": unknown value " .. tostring(x) end
          elseif type(x) ~= fr then
            return nil, f .. " must be a " .. fr
          end
          dst[f] = x
        end
        cur.services[key] = dst
      end
    elseif rule == nil then
      if k ~= "mchid" then return nil, "unknown setting " .. tostring(k) end -- mchid: the merchant selector
    elseif type(rule) == "table" then
      if not rule[v] then return nil, k .. ": unknown value " .. tostring(v) end
      cur[k] = v
    elseif type(v) ~= rule then
      return nil, k .. " must be a " .. rule
    else
      cur[k] = v
    end
  end
  assert(store.put("ps:settings", cur))
  return M.settings(store)
end

--- Effective settings of a service of merchant m.
function M.service(store, m, service_id, settings)
  settings = settings or M.settings(store)
  return rules.service(m, service_id, settings.services)
end

-- ---- fingerprints (idempotent re-entry) ---------------------------------------------------------

local null = json.null

local function strip(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if x ~= null and type(x) ~= "userdata" then out[k] = strip(x) end
  end
  return setmetatable(out, getmetatable(v))
end
--- A copy of a decoded body without its JSON nulls ("treat null as absent", §1.1), so that nothing stored holds one.
M.strip = strip

--- A canonical text of a request body: JSON nulls dropped (treated as absent, §1.1), keys sorted (the codec sorts),
-- so that the same parameters in another key order or spacing are "identical" (§6.11).
function M.fingerprint(kind, body)
  local s = json.encode(strip(body or {}))
  return kind .. ":" .. (s or "?")
end

-- ---- amounts ------------------------------------------------------------------------------------

local function sum(list)
  local n = 0
  if type(list) == "table" then
    for _, x in ipairs(list) do n = n + (tonumber(x.amount) or 0) end
  end
  return n
end
M.sum = sum

--- Σpost_payments − Σpost_discounts, at least 0 (§2.7).
function M.items_total(payments, discounts)
  local t = sum(payments) - sum(discounts)
  if t < 0 then t = 0 end
  return t
end

-- ---- views --------------------------------------------------------------------------------------

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return setmetatable(out, getmetatable(v))
end
M.copy = copy

--- The ServiceOrderEntity of §2.8 (E2, E4, E7, notifications).
function M.entity(o)
  local e = {
    out_order_no = o.out_order_no, service_id = o.service_id, appid = o.appid, mchid = o.mchid,
    service_introduction = o.service_introduction, state = o.state,
    post_payments = copy(o.post_payments), post_discounts = copy(o.post_discounts), risk_fund = copy(o.risk_fund),
    total_amount = o.total_amount, time_range = copy(o.time_range), location = copy(o.location), attach = o.attach,
    notify_url = o.notify_url, openid = o.openid, order_id = o.order_id,
  }
  -- "非DOING状态将不会返回该参数" (§5.1)
  if o.state == state.DOING then e.state_description = o.state_description end
  -- "非0元完结后返回" (§2.8): after a completion only
  if o.need_collection ~= nil then e.need_collection = o.need_collection end
  if o.collection ~= nil then e.collection = copy(o.collection) end
  return e
end

--- The subset of fields named in `fields` (array of names) of the entity.
function M.pick(o, fields)
  local e = M.entity(o)
  local out = {}
  for _, f in ipairs(fields) do out[f] = e[f] end
  return out
end

--- Authorization record view (§3.10 / §3.12).
function M.authorization_view(rec)
  return {
    service_id = rec.service_id, appid = rec.appid, mchid = rec.mchid, openid = rec.openid,
    authorization_code = rec.authorization_code, authorization_state = rec.authorization_state,
    notify_url = rec.notify_url, cancel_authorization_time = rec.cancel_authorization_time,
    authorization_success_time = rec.authorization_success_time,
  }
end

--- Order view for the control endpoints: the entity plus the sandbox's own fields.
function M.control_view(o)
  local e = M.entity(o)
  e.sandbox = {
    package = o.package, package_expires = o.package_expires_at and rules.rfc3339(o.package_expires_at) or nil,
    query_id = o.query_id, created = o.created_at and rules.rfc3339(o.created_at) or nil,
    confirmed = o.confirmed_at and rules.rfc3339(o.confirmed_at) or nil,
    completed = o.completed_at and rules.rfc3339(o.completed_at) or nil,
    need_user_confirm = o.need_user_confirm, source = o.source, phase = state.phase(o),
    deduction_fail = o.deduction_fail or false, deduction_failures = o.deduction_failures or 0,
    last_deduction_error = o.last_deduction_error, modify_count = o.modify_count or 0,
    cancel_reason = o.cancel_reason, deposit_paid = o.deposit_paid or false,
  }
  return e
end

-- ---- life cycle helpers -------------------------------------------------------------------------

--- T4: a CREATED order unchanged for 30 days (sandbox clock) is EXPIRED. Returns true when it changed `o`.
function M.refresh(o, now)
  if o.state == state.CREATED and o.created_at and now >= o.created_at + state.EXPIRE_AFTER then
    M.expire(o, now)
    return true
  end
  return false
end

function M.expire(o, now)
  o.state = state.EXPIRED
  o.state_description = nil
  o.package = nil
  o.package_expires_at = nil
  o.updated_at = now
end

--- T9: a successful deduction (NEWTON). Mutates o; returns the new detail.
function M.deduct(o, now)
  local c = o.collection
  local amount = c.paying_amount or 0
  local details = c.details or array()
  local detail = { seq = #details + 1, amount = amount, paid_type = "NEWTON", paid_time = rules.time14(now) }
  if amount > 0 then detail.transaction_id = rules.transaction_id(now) end
  details[#details + 1] = detail
  c.details = array(details)
  c.paid_amount = (c.paid_amount or 0) + amount
  c.paying_amount = 0
  c.state = state.USER_PAID
  o.state = state.DONE
  o.state_description = nil
  o.deduction_fail = nil
  o.updated_at = now
  return detail
end

-- ---- notifications ------------------------------------------------------------------------------

--- Send a notification if the url can take one; returns id or nil, message (logged, never raised).
function M.notify(ctx, mchid, url, event_type, payload)
  if not url then return nil, "no notify_url" end
  local id, err = ctx.notify.send { mchid = mchid, url = url, event_type = event_type, plaintext = payload }
  if not id and ngx and ngx.log then
    ngx.log(ngx.WARN, "sandbox payscore: ", event_type, " not sent: ", tostring(err))
  end
  return id, err
end

--- PAYSCORE.USER_CONFIRM payload (§8.5): the entity subset; need_collection as in the real sample [S41b].
M.USER_CONFIRM_FIELDS = { "appid", "mchid", "out_order_no", "service_id", "openid", "state", "state_description",
  "total_amount", "service_introduction", "post_payments", "post_discounts", "risk_fund", "time_range", "location",
  "attach", "notify_url", "order_id" }

function M.user_confirm_payload(o)
  local p = M.pick(o, M.USER_CONFIRM_FIELDS)
  p.need_collection = true
  return p
end

--- PAYSCORE.USER_PAID payload (§8.5): the full entity.
function M.user_paid_payload(o)
  return M.entity(o)
end

--- PAYSCORE.USER_OPEN_SERVICE / USER_CLOSE_SERVICE payload (§8.5; keys mchid/openid per §8.5's CONFLICT default).
function M.service_payload(rec, status, now)
  return {
    appid = rec.appid, mchid = rec.mchid, service_id = rec.service_id, openid = rec.openid,
    user_service_status = status, openorclose_time = rules.time14(now),
    authorization_code = rec.authorization_code,
  }
end

return M
