--- The PayScore rules that need server state or a clock (payscore.md §2.3, §3, §6; schema.server_rules). Field
-- rules without state are wechatpay.payscore.validate's (one source of truth); this module adds the rest.
--
-- Every check returns nil when the request passes, or `status, body` (the error answer) when it does not.
-- Times: PayScore business times (`yyyyMMddHHmmss` / `yyyyMMdd`) are Beijing time (UTC+08:00); the sandbox clock
-- (`ctx.now`) is Unix seconds.

local M = {}

local floor, format = math.floor, string.format

M.TZ = 8 * 3600 -- WeChat Pay's zone

-- ---- times ------------------------------------------------------------------------------------

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function days_in_month(y, m)
  local dm = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if m == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then return 29 end
  return dm[m]
end

--- Parse a business time. Returns { t = Unix seconds, day = day number (Beijing), precision = "second"|"day" },
-- { onaccept = true } for "OnAccept", or nil for anything else.
function M.parse_time(s)
  if s == "OnAccept" then return { onaccept = true } end
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se
  if #s == 14 and s:match("^%d+$") then
    y, mo, d = tonumber(s:sub(1, 4)), tonumber(s:sub(5, 6)), tonumber(s:sub(7, 8))
    h, mi, se = tonumber(s:sub(9, 10)), tonumber(s:sub(11, 12)), tonumber(s:sub(13, 14))
  elseif #s == 8 and s:match("^%d+$") then
    y, mo, d = tonumber(s:sub(1, 4)), tonumber(s:sub(5, 6)), tonumber(s:sub(7, 8))
  else
    return nil
  end
  if mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo) then return nil end
  if h and (h > 23 or mi > 59 or se > 59) then return nil end
  local day = days_from_civil(y, mo, d)
  local t = day * 86400 + (h or 0) * 3600 + (mi or 0) * 60 + (se or 0) - M.TZ
  return { t = t, day = day, precision = h and "second" or "day" }
end

--- Day number (Beijing) of a Unix time.
function M.day_of(t)
  return floor((floor(t) + M.TZ) / 86400)
end

--- `yyyyMMddHHmmss` (Beijing) of a Unix time.
function M.time14(t)
  return os.date("!%Y%m%d%H%M%S", floor(t) + M.TZ)
end

--- RFC 3339 in +08:00 (the APIv3's generic time format, §1.3).
function M.rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%S+08:00", floor(t) + M.TZ)
end

-- ---- error answers ----------------------------------------------------------------------------

--- 400 PARAM_ERROR with detail.field as a JSON Pointer (§9.1), for a rule that needs the clock or the state.
function M.param_error(field, issue, value, message, location)
  local detail = { field = field, issue = issue, location = location or "body" }
  if value ~= nil then detail.value = value end
  return 400, { code = "PARAM_ERROR", message = message or "参数错误", detail = detail }
end

--- 400 INVALID_REQUEST (a business rule, §9.3 / §10.4); detail optional.
function M.invalid(message, field, value)
  local body = { code = "INVALID_REQUEST", message = message }
  if field then body.detail = { field = field, value = value, location = "body" } end
  return 400, body
end

--- 403 NO_AUTH
function M.no_auth(message)
  return 403, { code = "NO_AUTH", message = message or "商户信息不合法" }
end

--- 404 ORDER_NOT_EXIST (§3.2)
function M.not_found(message)
  return 404, { code = "ORDER_NOT_EXIST", message = message or "订单不存在" }
end

-- The re-entry message of §3.1 / §10.5 (internal 271316598 订单重入参数校验失败).
M.REENTRY_MESSAGE = "请确认相同单号是否使用了不同的参数"

-- ---- merchant / service configuration -----------------------------------------------------------

--- The sandbox's defaults for a service_id (overridable per merchant in merchants.json:
-- `"services": { "<service_id>": { "risk_fund_cap": 50000, "risk_mode": "deposit", ... } }`, and at run time
-- with POST /sandbox/payscore/settings).
M.SERVICE_DEFAULTS = {
  risk_fund_cap = 50000,     -- fen: the 服务风险金额 cap of the service (§2.5, §6.3)
  risk_mode = "any",         -- "deposit" (先免: DEPOSIT/ADVANCE/CASH_DEPOSIT), "estimate" (先享:
                             -- ESTIMATE_ORDER_COST) or "any" (the sub-mode is fixed per service_id, §2.5)
  no_confirm = true,         -- 免确认 permission (need_user_confirm=false, E9-E13; else 403 NO_AUTH, §3.1)
  direct_complete = true,    -- E8 permission ("not open by default" in production, §3.8; open in the sandbox)
  notify_url = nil,          -- service_notify_url for authorization events without an E9 notify_url (§8.1)
}

local DEPOSIT = { DEPOSIT = true, ADVANCE = true, CASH_DEPOSIT = true }
M.DEPOSIT_NAMES = DEPOSIT

local function contains(list, v)
  if type(list) ~= "table" then return false end
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end
M.contains = contains

--- Effective settings of a service: defaults < merchants.json `services[id]` < run-time overrides.
function M.service(merchant, service_id, overrides)
  local out = {}
  for k, v in pairs(M.SERVICE_DEFAULTS) do out[k] = v end
  local conf = merchant and type(merchant.services) == "table" and merchant.services[service_id]
  if type(conf) == "table" then for k, v in pairs(conf) do out[k] = v end end
  local o = overrides and overrides[(merchant and merchant.mchid or "") .. ":" .. service_id]
  if type(o) == "table" then for k, v in pairs(o) do out[k] = v end end
  return out
end

--- appid bound to the merchant and service_id configured for it (§1.3): else 403 NO_AUTH 商户暂无权限使用此服务
-- (§9.4: "mchid/appid not bound to service_id").
function M.check_binding(merchant, appid, service_id)
  if not merchant then return M.no_auth() end
  if appid ~= nil and not contains(merchant.appids, appid) then
    return M.no_auth("商户暂无权限使用此服务")
  end
  if service_id ~= nil and not contains(merchant.service_ids, service_id) then
    return M.no_auth("商户暂无权限使用此服务")
  end
end

--- §1.3 / §6.10: the appid of a later call must be the create appid; the service_id must be the order's.
function M.check_order_ids(order, appid, service_id)
  if appid ~= nil and appid ~= order.appid then
    return M.invalid("appid与创建订单时的appid不一致", "/appid", appid)
  end
  if service_id ~= nil and service_id ~= order.service_id then
    return M.invalid("service_id与创建订单时的service_id不一致", "/service_id", service_id)
  end
end

-- ---- create (E1) --------------------------------------------------------------------------------

--- §2.3 create-time rules against the clock. tr: the request's time_range.
function M.check_create_times(tr, now)
  local s = M.parse_time(tr.start_time)
  if not s then return M.param_error("/time_range/start_time", "invalid time", tr.start_time) end
  if s.precision == "second" and s.t <= now then
    return M.param_error("/time_range/start_time",
      "start_time must be later than the time of the create call (second precision)", tr.start_time)
  end
  if s.precision == "day" and s.day < M.day_of(now) then
    return M.param_error("/time_range/start_time",
      "start_time must not be before the date of the create call (day precision)", tr.start_time)
  end
  if tr.end_time ~= nil then
    local e = M.parse_time(tr.end_time)
    if not e or e.onaccept then return M.param_error("/time_range/end_time", "invalid time", tr.end_time) end
    if e.precision == "second" then
      if s.t and s.precision == "second" and e.t <= s.t then
        return M.param_error("/time_range/end_time", "end_time must be later than start_time", tr.end_time)
      end
      if s.day and s.precision == "day" and e.day < s.day then
        return M.param_error("/time_range/end_time", "end_time must not be before start_time", tr.end_time)
      end
      if e.t <= now + 60 then
        return M.param_error("/time_range/end_time",
          "end_time must be more than 1 minute after the time of the create call (second precision)", tr.end_time)
      end
    else
      if s.day and e.day < s.day then
        return M.param_error("/time_range/end_time", "end_time must not be before start_time (day precision)",
          tr.end_time)
      end
      if e.day < M.day_of(now) then
        return M.param_error("/time_range/end_time",
          "end_time must not be before the date of the create call (day precision)", tr.end_time)
      end
    end
  end
end

--- §2.5 / §6.3: risk_fund.amount ≤ the service cap; without post_discounts, Σpost_payments.amount ≤ cap; the
-- risk_fund name must fit the service's sub-mode.
function M.check_risk_fund(req, service)
  local rf = req.risk_fund
  local cap = service.risk_fund_cap
  if service.risk_mode == "deposit" and not DEPOSIT[rf.name] then
    return M.invalid("风险金名称与服务的模式不符", "/risk_fund/name", rf.name)
  elseif service.risk_mode == "estimate" and rf.name ~= "ESTIMATE_ORDER_COST" then
    return M.invalid("风险金名称与服务的模式不符", "/risk_fund/name", rf.name)
  end
  if cap and rf.amount > cap then
    return M.invalid("创建订单的订单风险金额超过此服务的服务风险金额", "/risk_fund/amount", rf.amount)
  end
  local discounts = req.post_discounts
  if cap and (discounts == nil or #discounts == 0) and type(req.post_payments) == "table" then
    local sum = 0
    for _, p in ipairs(req.post_payments) do sum = sum + (tonumber(p.amount) or 0) end
    if sum > cap then
      return M.invalid("创建订单的订单风险金额超过此服务的服务风险金额", "/post_payments", sum)
    end
  end
end

--- §6.3: total_amount caps at complete/modify/direct-complete. 先免 (deposit names): total ≤ the create
-- risk_fund.amount (≤ cap); 先享 / no risk fund: total ≤ the service cap (internal 271316656).
function M.check_total_cap(total, risk_fund, service)
  local cap = service.risk_fund_cap
  if risk_fund and DEPOSIT[risk_fund.name] and total > risk_fund.amount then
    return M.invalid("总金额超过创建订单时的服务风险金额", "/total_amount", total)
  end
  if cap and total > cap then
    return M.invalid("总金额超过此服务的服务风险金额", "/total_amount", total)
  end
end

-- ---- complete (E5) ------------------------------------------------------------------------------

--- §2.3 / §3.5 complete-time rules. Returns nil, merged time_range (what the order records) or status, body.
-- order.time_range: as created; order.confirmed_time14: when the user confirmed (for OnAccept).
function M.check_complete_times(order, tr, now)
  local created = order.time_range or {}
  tr = tr or {}
  local start_s = tr.start_time or created.start_time
  if start_s == "OnAccept" then start_s = order.confirmed_time14 or M.time14(order.created_at or now) end
  local end_s = tr.end_time or created.end_time
  if end_s == nil then
    return M.param_error("/time_range/end_time", "end_time is required: create gave none (§3.5)")
  end
  local e = M.parse_time(end_s)
  local field = tr.end_time and "/time_range/end_time" or "/time_range"
  if not e or e.onaccept then return M.param_error(field, "invalid end_time", end_s) end
  -- the same format as first passed (§2.3); OnAccept at create implies second precision
  if tr.end_time ~= nil then
    local first
    if created.end_time ~= nil then
      local c = M.parse_time(created.end_time)
      first = c and c.precision
    elseif created.start_time == "OnAccept" then
      first = "second"
    end
    if first and e.precision ~= first then
      return M.param_error("/time_range/end_time",
        "end_time must use the format first passed (" .. (first == "second" and "yyyyMMddHHmmss" or "yyyyMMdd")
          .. ")", tr.end_time)
    end
  end
  -- the actual end must not be in the future ("实际结束时间不能晚于使用完结接口的时间")
  if (e.precision == "second" and e.t > now) or (e.precision == "day" and e.day > M.day_of(now)) then
    return M.param_error(field, "end_time must not be later than the time of the complete call", end_s,
      "实际结束时间不能晚于使用完结接口的时间")
  end
  local s = M.parse_time(start_s)
  if tr.start_time ~= nil and not s then
    return M.param_error("/time_range/start_time", "invalid start_time", tr.start_time)
  end
  if s and not s.onaccept then
    if tr.start_time ~= nil and ((s.precision == "second" and s.t > now) or
        (s.precision == "day" and s.day > M.day_of(now))) then
      return M.param_error("/time_range/start_time", "start_time must not be later than the time of the complete call",
        tr.start_time)
    end
    local bad
    if s.precision == "second" and e.precision == "second" then bad = e.t <= s.t
    else bad = e.day < s.day end
    if bad then
      -- internal 271316637 真实结束时间小于预计开始时间
      return M.param_error(field, "end_time must be later than start_time", end_s, "真实结束时间小于预计开始时间")
    end
  end
  local merged = {}
  for k, v in pairs(created) do merged[k] = v end
  for k, v in pairs(tr) do merged[k] = v end
  if merged.start_time == "OnAccept" and order.confirmed_time14 then merged.start_time = order.confirmed_time14 end
  return nil, merged
end

-- ---- direct-complete (E8) -----------------------------------------------------------------------

--- §3.8: start_time < call time; end_time > start_time and ≤ call time.
function M.check_direct_times(tr, now)
  local s = M.parse_time(tr.start_time)
  if not s or s.onaccept then return M.param_error("/time_range/start_time", "invalid time", tr.start_time) end
  if (s.precision == "second" and s.t >= now) or (s.precision == "day" and s.day > M.day_of(now)) then
    return M.param_error("/time_range/start_time", "start_time must be earlier than the time of the call",
      tr.start_time)
  end
  if tr.end_time ~= nil then
    local e = M.parse_time(tr.end_time)
    if not e or e.onaccept then return M.param_error("/time_range/end_time", "invalid time", tr.end_time) end
    if (e.precision == "second" and e.t > now) or (e.precision == "day" and e.day > M.day_of(now)) then
      return M.param_error("/time_range/end_time", "end_time must not be later than the time of the call",
        tr.end_time, "实际结束时间不能晚于使用完结接口的时间")
    end
    local bad
    if s.precision == "second" and e.precision == "second" then bad = e.t <= s.t else bad = e.day < s.day end
    if bad then
      return M.param_error("/time_range/end_time", "end_time must be later than start_time", tr.end_time)
    end
  end
end

-- ---- sync (E7) ----------------------------------------------------------------------------------

--- §3.7: service start < complete-call time < paid_time ≤ sync-call time; yyyyMMdd means 00:00:00 (CONFLICT,
-- §11 default: the new docs' 00:00:00, not the old wiki's 23:59:59).
function M.check_paid_time(order, paid_time, now)
  local p = M.parse_time(paid_time)
  if not p or p.onaccept then return M.param_error("/detail/paid_time", "invalid time", paid_time) end
  if p.t > now then
    return M.param_error("/detail/paid_time", "paid_time must not be later than the time of the sync call", paid_time)
  end
  if order.completed_at and p.t <= order.completed_at then
    return M.param_error("/detail/paid_time", "paid_time must be later than the time of the complete call",
      paid_time)
  end
end

-- ---- identifiers --------------------------------------------------------------------------------

local DIGITS = "0123456789"
local ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

--- n characters of `alphabet` from the core's CSPRNG (unbiased: bytes ≥ a multiple of #alphabet are dropped).
function M.random_chars(n, alphabet)
  local core = require "wechatpay.core"
  alphabet = alphabet or ALNUM
  local k = #alphabet
  local limit = 256 - 256 % k
  local out = {}
  while #out < n do
    local bytes = core.random(n * 2)
    for i = 1, #bytes do
      local b = bytes:byte(i)
      if b < limit then
        local j = b % k + 1
        out[#out + 1] = alphabet:sub(j, j)
        if #out == n then break end
      end
    end
  end
  return table.concat(out)
end

--- order_id: a 32-digit numeric string (§10.9: 31-32 digits), like 1000000000202507291103118571229.
function M.order_id(now)
  return "1000" .. M.time14(now) .. M.random_chars(14, DIGITS)
end

--- transaction_id: 28 digits (§10.9), like 4200000000202507291234567890.
function M.transaction_id(now)
  return "4200" .. os.date("!%Y%m%d", floor(now) + M.TZ) .. M.random_chars(16, DIGITS)
end

--- An opaque token (package, apply_permissions_token, query_id).
function M.token(prefix, n)
  return (prefix or "") .. M.random_chars(n or 48)
end

M.format = format

return M
