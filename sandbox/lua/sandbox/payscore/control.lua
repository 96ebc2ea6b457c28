--- PayScore control endpoints (no authentication): what a user or WeChat Pay would do, and views of the state.
-- Every endpoint takes the merchant from `?mchid=` or the body's "mchid" (default: the first merchant).
--
--   GET  /sandbox/payscore/orders[?state=&openid=&service_id=]   the merchant's orders (entity + "sandbox" fields)
--   GET  /sandbox/payscore/orders/{out_order_no}                 one order
--   POST /sandbox/payscore/orders/{out_order_no}/confirm         the user confirms (T3): {openid?, deposit_paid?}
--   POST /sandbox/payscore/orders/{out_order_no}/pay             a deduction succeeds (T9): DONE + USER_PAID
--   POST /sandbox/payscore/orders/{out_order_no}/pay-fail        a deduction fails: stays USER_PAYING {message?}
--   POST /sandbox/payscore/orders/{out_order_no}/expire          the order expires (T4, CREATED only)
--   POST /sandbox/payscore/users/{openid}/authorize              the user authorizes the service
--        {service_id?, appid?, authorization_code?, notify_url?}
--   POST /sandbox/payscore/users/{openid}/deauthorize            the user removes the authorization {service_id?}
--   GET  /sandbox/payscore/users                                 authorizations (users and E9 codes)
--   GET  /sandbox/payscore/settings   POST ... {...}             run-time settings (model.SETTINGS)
--   GET  /sandbox/payscore/states                                the §5 state machine as data

local json = require "wechatpay.codec.json"
local rules = require "sandbox.payscore.rules"
local state = require "sandbox.payscore.state"
local model = require "sandbox.payscore.model"
local orders = require "sandbox.payscore.orders"
local permissions = require "sandbox.payscore.permissions"

local M = {}

--- The confirming user when neither the request nor the order names one: the official example's openid.
M.DEFAULT_OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

local function bad(message, code, status)
  return status or 400, { code = code or "PARAM_ERROR", message = message }
end

local function body_of(ctx)
  local b = ctx.json
  if b == nil then return {} end
  if type(b) ~= "table" or json.is_array(b) then return nil end
  return b
end

local function need_merchant(ctx)
  if not ctx.merchant then return bad("unknown merchant " .. tostring(ctx.mchid), "NO_AUTH", 403) end
end

-- Run fn(order, key, body) on an order under its lock.
local function on_order(ctx, fn)
  local st, b = need_merchant(ctx)
  if st then return st, b end
  local body = body_of(ctx)
  if not body then return bad("the body must be a JSON object") end
  local key = model.order_key(ctx.mchid, ctx.params[1])
  return ctx.store.with_lock(key, function()
    local o = ctx.store.get(key)
    if not o then return rules.not_found() end
    if model.refresh(o, ctx.now) then assert(ctx.store.put(key, o)) end
    return fn(o, key, body)
  end)
end

local function save(ctx, key, o)
  o.updated_at = ctx.now
  assert(ctx.store.put(key, o))
end

local function wrong_state(o, op)
  return 400, { code = "INVALID_ORDER_STATE",
    message = op .. " needs " .. table.concat((function()
      local t = {}
      for _, p in ipairs(state.PHASES) do if state.MATRIX[op][p] then t[#t + 1] = p end end
      return t
    end)(), " or ") .. "; the order is " .. state.phase(o) }
end

-- ---- orders -------------------------------------------------------------------------------------

local function list_orders(ctx)
  local st, b = need_merchant(ctx)
  if st then return st, b end
  local q = ctx.query
  local out = json.array()
  for _, item in ipairs(ctx.store.list(model.orders_prefix(ctx.mchid))) do
    local o = item.value
    model.refresh(o, ctx.now) -- the view only; the record changes at its next use
    if (q.state == nil or q.state == o.state) and (q.openid == nil or q.openid == o.openid)
      and (q.service_id == nil or q.service_id == o.service_id) then
      out[#out + 1] = model.control_view(o)
    end
  end
  return 200, { data = out, total = #out }
end

local function get_order(ctx)
  return on_order(ctx, function(o) return 200, model.control_view(o) end)
end

local function confirm(ctx)
  return on_order(ctx, function(o, key, body)
    if not state.check("confirm", o) then return wrong_state(o, "confirm") end
    if body.openid ~= nil and (type(body.openid) ~= "string" or body.openid == "" or #body.openid > 128) then
      return bad("openid must be a string of 1..128 characters")
    end
    if body.deposit_paid ~= nil and type(body.deposit_paid) ~= "boolean" then
      return bad("deposit_paid must be a boolean")
    end
    -- the confirm page opens with the package: valid 1 hour, single use (§3.1)
    if o.package_expires_at and ctx.now > o.package_expires_at then
      return bad("the order's package expired (valid 1 hour, §3.1): create a new order", "INVALID_REQUEST")
    end
    local now = ctx.now
    -- T3
    o.state, o.state_description = state.DOING, state.USER_CONFIRM
    o.openid = body.openid or o.requested_openid or (ctx.merchant.openid) or M.DEFAULT_OPENID
    o.confirmed_at = now
    o.confirmed_time14 = rules.time14(now)
    o.deposit_paid = body.deposit_paid or nil
    o.package, o.package_expires_at = nil, nil
    o.query_id = rules.token("", 40)
    assert(ctx.store.put(model.query_key(ctx.mchid, o.query_id), { out_order_no = o.out_order_no }))
    save(ctx, key, o)
    local id, err = model.notify(ctx, o.mchid, o.notify_url, "PAYSCORE.USER_CONFIRM", model.user_confirm_payload(o))
    return 200, { order = model.control_view(o), query_id = o.query_id, notification = id,
      notification_error = (not id) and err or nil }
  end)
end

local function pay(ctx)
  return on_order(ctx, function(o, key)
    if not state.check("deduct", o) then return wrong_state(o, "deduct") end
    local detail, id = orders.succeed_deduction(ctx, o)
    save(ctx, key, o)
    return 200, { order = model.control_view(o), detail = detail, notification = id }
  end)
end

local function pay_fail(ctx)
  return on_order(ctx, function(o, key, body)
    if not state.check("deduct", o) then return wrong_state(o, "deduct") end
    if body.message ~= nil and type(body.message) ~= "string" then return bad("message must be a string") end
    -- the attempt fails; WeChat goes on retrying ("中间不会自动失效", §3.5): the order stays DOING/MCH_COMPLETE,
    -- USER_PAYING, and E6 pay fails too until POST .../pay
    o.deduction_fail = true
    o.deduction_failures = (o.deduction_failures or 0) + 1
    o.last_deduction_error = body.message or "支付分扣款失败"
    save(ctx, key, o)
    return 200, { order = model.control_view(o) }
  end)
end

local function expire(ctx)
  return on_order(ctx, function(o, key)
    if not state.check("expire", o) then return wrong_state(o, "expire") end
    model.expire(o, ctx.now) -- T4
    save(ctx, key, o)
    return 200, { order = model.control_view(o) }
  end)
end

-- ---- users --------------------------------------------------------------------------------------

local function user_opts(ctx)
  local body = body_of(ctx)
  if not body then return nil, "the body must be a JSON object" end
  local m = ctx.merchant
  local opts = {
    openid = ctx.params[1],
    service_id = body.service_id or (m.service_ids or {})[1],
    appid = body.appid or (m.appids or {})[1],
    authorization_code = body.authorization_code,
    notify_url = body.notify_url,
  }
  for _, k in ipairs({ "service_id", "appid", "authorization_code", "notify_url" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then return nil, k .. " must be a string" end
  end
  if not opts.service_id then return nil, "service_id is needed (the merchant has none configured)" end
  if not opts.authorization_code then
    if not rules.contains(m.service_ids, opts.service_id) then
      return nil, "service_id " .. opts.service_id .. " is not configured for merchant " .. m.mchid
    end
  end
  return opts
end

local function authorize(ctx)
  local st, b = need_merchant(ctx)
  if st then return st, b end
  local opts, err = user_opts(ctx)
  if not opts then return bad(err) end
  return permissions.authorize(ctx, opts)
end

local function deauthorize(ctx)
  local st, b = need_merchant(ctx)
  if st then return st, b end
  local opts, err = user_opts(ctx)
  if not opts then return bad(err) end
  return permissions.deauthorize(ctx, opts)
end

local function list_users(ctx)
  local st, b = need_merchant(ctx)
  if st then return st, b end
  local users, codes = json.array(), json.array()
  for _, item in ipairs(ctx.store.list(model.users_prefix(ctx.mchid))) do
    users[#users + 1] = model.authorization_view(item.value)
  end
  for _, item in ipairs(ctx.store.list(model.codes_prefix(ctx.mchid))) do
    local v = model.authorization_view(item.value)
    v.apply_permissions_token = item.value.token
    codes[#codes + 1] = v
  end
  return 200, { users = users, authorization_codes = codes }
end

-- ---- settings and state machine -----------------------------------------------------------------

local function settings_view(ctx)
  local s = model.settings(ctx.store)
  local services = {}
  if ctx.merchant then
    for _, sid in ipairs(ctx.merchant.service_ids or {}) do
      services[sid] = model.service(ctx.store, ctx.merchant, sid, s)
    end
  end
  s.services = nil
  s.effective_services = services
  return s
end

local function get_settings(ctx)
  return 200, settings_view(ctx)
end

local function post_settings(ctx)
  local st, b = need_merchant(ctx)
  if st then return st, b end
  local _, err = model.update_settings(ctx.store, ctx.mchid, ctx.json)
  if err then return bad(err) end
  return 200, settings_view(ctx)
end

local function states()
  local matrix = {}
  for op, row in pairs(state.MATRIX) do
    local r = {}
    for _, p in ipairs(state.PHASES) do
      local v = row[p]
      r[p] = v == true and "allowed" or (v or "refused")
    end
    matrix[op] = r
  end
  local tr = json.array()
  for i, t in ipairs(state.TRANSITIONS) do
    tr[i] = { id = t.id, from = t.from or "-", by = t.by, to = t.to, effects = t.effects }
  end
  return 200, { phases = json.array(state.PHASES), transitions = tr, matrix = matrix }
end

local O = "^/sandbox/payscore/orders/([^/]+)"

M.routes = {
  { method = "GET", pattern = "^/sandbox/payscore/orders$", handler = list_orders, id = "ps-orders" },
  { method = "GET", pattern = O .. "$", handler = get_order, id = "ps-order" },
  { method = "POST", pattern = O .. "/confirm$", handler = confirm, id = "ps-confirm" },
  { method = "POST", pattern = O .. "/pay$", handler = pay, id = "ps-pay" },
  { method = "POST", pattern = O .. "/pay%-fail$", handler = pay_fail, id = "ps-pay-fail" },
  { method = "POST", pattern = O .. "/expire$", handler = expire, id = "ps-expire" },
  { method = "POST", pattern = "^/sandbox/payscore/users/([^/]+)/authorize$", handler = authorize,
    id = "ps-authorize" },
  { method = "POST", pattern = "^/sandbox/payscore/users/([^/]+)/deauthorize$", handler = deauthorize,
    id = "ps-deauthorize" },
  { method = "GET", pattern = "^/sandbox/payscore/users$", handler = list_users, id = "ps-users" },
  { method = "GET", pattern = "^/sandbox/payscore/settings$", handler = get_settings, id = "ps-settings" },
  { method = "POST", pattern = "^/sandbox/payscore/settings$", handler = post_settings, id = "ps-settings-set" },
  { method = "GET", pattern = "^/sandbox/payscore/states$", handler = states, id = "ps-states" },
}

return M
