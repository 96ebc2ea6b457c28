--- PayScore authorizations, E9-E15 (payscore.md §3.9-§3.15), and the user's side of them (authorize /
-- de-authorize, used by the control endpoints).
--
-- Two records (model.lua): the pre-authorization of E9 (`ps:a:<mchid>:<authorization_code>`, states UNBINDUSER ->
-- AVAILABLE -> UNAVAILABLE) and the user's state of a service (`ps:u:<mchid>:<service_id>:<openid>`, AVAILABLE |
-- UNAVAILABLE) that E12/E14 read and that 免确认 orders need. Every change runs under the merchant's
-- authorization lock (both workers).

local rules = require "sandbox.payscore.rules"
local state = require "sandbox.payscore.state"
local model = require "sandbox.payscore.model"
local orders = require "sandbox.payscore.orders"

local M = {}

-- field rules, merchant, appid/service_id binding: the same first steps as the order endpoints
local admit, query_ids = orders.admit, orders.query_ids

local function locked(ctx, fn)
  return ctx.store.with_lock(model.perm_lock(ctx.mchid), fn)
end

-- Where authorization notifications go: the E9 notify_url, else the user record's, else the service's
-- service_notify_url (§8.1).
local function notify_url_of(ctx, rec, service_id)
  if rec and rec.notify_url then return rec.notify_url end
  local m = ctx.merchant
  local service = model.service(ctx.store, m, service_id)
  return service.notify_url
end

--- The user's open orders of a service (DOING: ongoing or unpaid) — "存在未完成订单" blocks a termination.
function M.open_orders(ctx, service_id, openid)
  local n = 0
  for _, item in ipairs(ctx.store.list(model.orders_prefix(ctx.mchid))) do
    local o = item.value
    if o.service_id == service_id and o.openid == openid and o.state == state.DOING then n = n + 1 end
  end
  return n
end

-- ---- the user's side (control endpoints) --------------------------------------------------------

--- The user authorizes the service (mini-program wxpayScoreEnable with an E9 token, or the legacy 普通授权).
-- opts: { openid, service_id, appid, authorization_code?, notify_url? }. Returns status, body.
function M.authorize(ctx, opts)
  local now = ctx.now
  return locked(ctx, function()
    local store = ctx.store
    local code_rec, code_key
    if opts.authorization_code then
      code_key = model.code_key(ctx.mchid, opts.authorization_code)
      code_rec = store.get(code_key)
      if not code_rec then
        return 404, { code = "ORDER_NOT_EXIST", message = "no authorization_code " .. opts.authorization_code }
      end
      if code_rec.authorization_state ~= "UNBINDUSER" then
        return 400, { code = "INVALID_REQUEST",
          message = "authorization_code already used (one code per user, not reusable: §3.9)" }
      end
      if code_rec.token_expires_at and now > code_rec.token_expires_at then
        return 400, { code = "INVALID_REQUEST", message = "apply_permissions_token expired (valid 1 hour: §3.9)" }
      end
      opts.service_id = code_rec.service_id
      opts.appid = opts.appid or code_rec.appid
    end
    local ukey = model.user_key(ctx.mchid, opts.service_id, opts.openid)
    local u = store.get(ukey) or { mchid = ctx.mchid, service_id = opts.service_id, openid = opts.openid }
    if u.authorization_state == "AVAILABLE" and not code_rec then
      return 200, { changed = false, authorization = model.authorization_view(u) }
    end
    local t = rules.rfc3339(now)
    u.appid = opts.appid
    u.authorization_state = "AVAILABLE"
    u.authorization_success_time = t
    u.authorization_code = code_rec and code_rec.authorization_code or nil
    u.notify_url = (code_rec and code_rec.notify_url) or opts.notify_url or u.notify_url
    u.updated_at = now
    assert(store.put(ukey, u))
    if code_rec then
      code_rec.openid = opts.openid
      code_rec.appid = opts.appid -- "appid recorded at the user's last successful authorization" (§3.10)
      code_rec.authorization_state = "AVAILABLE"
      code_rec.authorization_success_time = t
      code_rec.token = nil
      assert(store.put(code_key, code_rec))
    end
    local url = notify_url_of(ctx, u, opts.service_id)
    local id, err = model.notify(ctx, ctx.mchid, url, "PAYSCORE.USER_OPEN_SERVICE",
      model.service_payload(u, "USER_OPEN_SERVICE", now))
    return 200, { changed = true, authorization = model.authorization_view(u), notification = id,
      notification_error = (not id) and err or nil }
  end)
end

-- Terminate (user or merchant): user record and its code record -> UNAVAILABLE, USER_CLOSE_SERVICE.
local function close(ctx, u, ukey, now)
  local t = rules.rfc3339(now)
  u.authorization_state = "UNAVAILABLE"
  u.cancel_authorization_time = t
  u.updated_at = now
  assert(ctx.store.put(ukey, u))
  if u.authorization_code then
    local ckey = model.code_key(ctx.mchid, u.authorization_code)
    local c = ctx.store.get(ckey)
    if c then
      c.authorization_state = "UNAVAILABLE"
      c.cancel_authorization_time = t
      assert(ctx.store.put(ckey, c))
    end
  end
  local url = notify_url_of(ctx, u, u.service_id)
  return model.notify(ctx, ctx.mchid, url, "PAYSCORE.USER_CLOSE_SERVICE",
    model.service_payload(u, "USER_CLOSE_SERVICE", now))
end

--- The user removes the authorization in WeChat. Returns status, body.
function M.deauthorize(ctx, opts)
  return locked(ctx, function()
    local ukey = model.user_key(ctx.mchid, opts.service_id, opts.openid)
    local u = ctx.store.get(ukey)
    if not u or u.authorization_state ~= "AVAILABLE" then
      return 200, { changed = false, authorization = u and model.authorization_view(u) or nil }
    end
    local id, err = close(ctx, u, ukey, ctx.now)
    return 200, { changed = true, authorization = model.authorization_view(u), notification = id,
      notification_error = (not id) and err or nil }
  end)
end

-- ---- E9 apply permissions -----------------------------------------------------------------------

function M.apply(ctx)
  local m, st, b = admit(ctx, "E9")
  if not m then return st, b end
  local req = ctx.json
  if not model.service(ctx.store, m, req.service_id).no_confirm then
    return rules.no_auth("商户暂无权限使用此服务")
  end
  local fp = model.fingerprint("E9", req)
  local now = ctx.now
  return locked(ctx, function()
    local key = model.code_key(ctx.mchid, req.authorization_code)
    local rec = ctx.store.get(key)
    if rec then
      -- unique per mchid: the same request again gets the live token (or a fresh one); other parameters, or a code
      -- a user already used, are refused ("one code per user, not reusable", §3.9)
      if rec.fp ~= fp then return rules.invalid(rules.REENTRY_MESSAGE) end
      if rec.authorization_state ~= "UNBINDUSER" then return rules.invalid("授权协议号已被使用") end
      if not rec.token or now > rec.token_expires_at then
        rec.token = rules.token("", 96)
        rec.token_expires_at = now + state.PERMISSIONS_TOKEN_TTL
        assert(ctx.store.put(key, rec))
      end
      return 200, { apply_permissions_token = rec.token }
    end
    rec = {
      mchid = ctx.mchid, service_id = req.service_id, appid = req.appid, authorization_code = req.authorization_code,
      notify_url = req.notify_url, authorization_state = "UNBINDUSER", fp = fp,
      token = rules.token("", 96), token_expires_at = now + state.PERMISSIONS_TOKEN_TTL, created_at = now,
    }
    assert(ctx.store.put(key, rec))
    return 200, { apply_permissions_token = rec.token }
  end)
end

-- ---- E10 / E11 by authorization_code --------------------------------------------------------------

local CODE_PARAMS = { "authorization_code" }

function M.query_by_code(ctx)
  local m, st, b = admit(ctx, "E10", CODE_PARAMS, function() return nil, ctx.query.service_id end)
  if not m then return st, b end
  local rec = ctx.store.get(model.code_key(ctx.mchid, ctx.params[1]))
  -- §9.3 has one 404 code for every PayScore page: ORDER_NOT_EXIST
  if not rec or rec.service_id ~= ctx.query.service_id then return rules.not_found() end
  return 200, model.authorization_view(rec)
end

function M.terminate_by_code(ctx)
  local m, st, b = admit(ctx, "E11", CODE_PARAMS, function() return nil, ctx.json.service_id end)
  if not m then return st, b end
  local req = ctx.json
  return locked(ctx, function()
    local rec = ctx.store.get(model.code_key(ctx.mchid, ctx.params[1]))
    if not rec or rec.service_id ~= req.service_id then return rules.not_found() end
    if rec.authorization_state ~= "AVAILABLE" or not rec.openid then
      -- [S10]'s failure example for a code no user holds
      return rules.invalid("商户解除授权的授权码不是这个用户签约的授权")
    end
    local ukey = model.user_key(ctx.mchid, rec.service_id, rec.openid)
    local u = ctx.store.get(ukey)
    if not u or u.authorization_state ~= "AVAILABLE" or u.authorization_code ~= rec.authorization_code then
      return rules.invalid("商户解除授权的授权码不是这个用户签约的授权")
    end
    if M.open_orders(ctx, rec.service_id, rec.openid) > 0 then return rules.invalid("存在未完成订单") end
    close(ctx, u, ukey, ctx.now)
    return 204
  end)
end

-- ---- E12 / E13 by openid ------------------------------------------------------------------------

local OPENID_PARAMS = { "openid" }

function M.query_by_openid(ctx)
  local m, st, b = admit(ctx, "E12", OPENID_PARAMS, query_ids)
  if not m then return st, b end
  local q = ctx.query
  local openid = ctx.params[1]
  local u = ctx.store.get(model.user_key(ctx.mchid, q.service_id, openid))
  if not u then
    -- never authorized: the record says so
    return 200, { service_id = q.service_id, appid = q.appid, mchid = ctx.mchid, openid = openid,
      authorization_state = "UNAVAILABLE" }
  end
  if u.appid and u.appid ~= q.appid then
    -- §3.12 / §9.4: observed 500 SYSTEM_ERROR 系统繁忙 when appid and openid do not belong together
    return 500, { code = "SYSTEM_ERROR", message = "系统繁忙，请稍后重试" }
  end
  local v = model.authorization_view(u)
  v.notify_url = nil -- not a field of the openid record (§3.12)
  return 200, v
end

local function terminate_user(ctx, service_id, appid, openid)
  return locked(ctx, function()
    local ukey = model.user_key(ctx.mchid, service_id, openid)
    local u = ctx.store.get(ukey)
    if not u or u.authorization_state ~= "AVAILABLE" then
      return rules.invalid("用户未授权该服务") -- sandbox wording (no documented message)
    end
    if appid and u.appid and u.appid ~= appid then
      return rules.invalid("appid与用户授权时的appid不一致", "/appid", appid)
    end
    if M.open_orders(ctx, service_id, openid) > 0 then return rules.invalid("存在未完成订单") end
    close(ctx, u, ukey, ctx.now)
    return 204
  end)
end

function M.terminate_by_openid(ctx)
  local m, st, b = admit(ctx, "E13", OPENID_PARAMS)
  if not m then return st, b end
  local req = ctx.json
  return terminate_user(ctx, req.service_id, req.appid, ctx.params[1])
end

-- ---- E14 / E15 legacy 普通授权 --------------------------------------------------------------------

function M.user_service_state(ctx)
  local m, st, b = admit(ctx, "E14", nil, query_ids)
  if not m then return st, b end
  local q = ctx.query
  local u = ctx.store.get(model.user_key(ctx.mchid, q.service_id, q.openid))
  local available = u and u.authorization_state == "AVAILABLE" and (u.appid == nil or u.appid == q.appid)
  return 200, { appid = q.appid, service_id = q.service_id, openid = q.openid,
    use_service_state = available and "AVAILABLE" or "UNAVAILABLE" }
end

function M.terminate_legacy(ctx)
  local m, st, b = admit(ctx, "E15", { "openid", "service_id" }, function() return ctx.json.appid, ctx.params[2] end)
  if not m then return st, b end
  return terminate_user(ctx, ctx.params[2], ctx.json.appid, ctx.params[1])
end

return M
