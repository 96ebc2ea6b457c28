--- A running PayScore sandbox for the business specs (spec/sandbox/payscore_*_spec.lua): two merchants, a second
-- appid and a 先享 service on merchant A, a signed-request client per merchant (spec.support.signed_request), and
-- helpers in the seed's terms (payscore.md §3.1 example, service times moved into the future).
--
--   local fixture = require "spec.support.payscore_fixture"
--   local fx = fixture.start()          -- setup(); fx:stop() in teardown()
--   local fx = fixture.setup()          -- the same in a describe block (pending when the sandbox cannot run)
--   local res = fx:create(no, { need_user_confirm = false, openid = "o1" })   -- seed body + overrides
--   fx:confirm(no), fx:complete(no, {...}), fx:query(no), fx:post(no, "cancel", {...}), fx:control(...)
--   fx:events("PAYSCORE.USER_PAID", no)  -- delivered notifications (log), resource decrypted

local sandbox = require "spec.support.sandbox"
local signed = require "spec.support.signed_request"
local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

local M = {}

M.APPID = "wxd678efh567hg6787"
M.APPID2 = "wx0000000000000002"
M.SERVICE = "2002000000000558128851361561536"
M.SERVICE_ESTIMATE = "2002000000000000000000000000002" -- 先享 (ESTIMATE_ORDER_COST), cap 30000
M.MCHID_A, M.MCHID_B = "1900000001", "1900000002"
M.OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" -- the official example's
-- The official example's notify_url is https://api.test.com; the specs use a loopback port where nothing listens
-- (deliveries fail and are retried, which the log shows; no traffic leaves the machine).
M.NOTIFY_URL = "http://127.0.0.1:" .. require("spec.support.nginx").free_ports(1)[1] .. "/payscore/notify"

M.MERCHANTS = {
  merchants = {
    { mchid = M.MCHID_A, name = "Merchant A", appids = json.array { M.APPID, M.APPID2 },
      service_ids = json.array { M.SERVICE, M.SERVICE_ESTIMATE },
      services = { [M.SERVICE_ESTIMATE] = { risk_mode = "estimate", risk_fund_cap = 30000 } } },
    { mchid = M.MCHID_B, name = "Merchant B", appids = json.array { M.APPID }, service_ids = json.array { M.SERVICE } },
  },
}

--- Beijing time `yyyyMMddHHmmss` of now + offset seconds (the sandbox runs on this machine's clock).
function M.t14(offset)
  return os.date("!%Y%m%d%H%M%S", os.time() + (offset or 0) + 8 * 3600)
end

--- Beijing date `yyyyMMdd` of today + days.
function M.day(days)
  return os.date("!%Y%m%d", os.time() + (days or 0) * 86400 + 8 * 3600)
end

local seq = 0
--- A fresh out_order_no (charset of §6.6).
function M.new_no(prefix)
  seq = seq + 1
  return (prefix or "PS") .. os.time() .. "_" .. seq .. "-" .. sandbox.nonce(6)
end

--- The seed's create body (payscore.md §3.1 / examples/seed.lua), times moved to tomorrow; `over` replaces fields
-- (false removes one).
function M.seed(no, over)
  local day = M.day(1)
  local b = {
    out_order_no = no,
    appid = M.APPID,
    service_id = M.SERVICE,
    service_introduction = "某某酒店",
    post_payments = json.array { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
    post_discounts = json.array { { name = "满20减1元", description = "不与其他优惠叠加", count = 2 } },
    time_range = { start_time = day .. "091010", end_time = day .. "121010",
      start_time_remark = "备注1", end_time_remark = "备注2" },
    location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
    risk_fund = { name = "DEPOSIT", amount = 10000, description = "就餐的预估费用" },
    attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
    notify_url = M.NOTIFY_URL,
    openid = M.OPENID,
    need_user_confirm = true,
  }
  for k, v in pairs(over or {}) do
    if v == false and k ~= "need_user_confirm" and k ~= "profit_sharing" then b[k] = nil else b[k] = v end
  end
  return b
end

--- A complete (E5) body: one item of `amount`, service from an hour ago to a minute ago.
function M.complete_body(amount, over)
  amount = amount or 5000
  local b = {
    appid = M.APPID, service_id = M.SERVICE,
    post_payments = json.array { { name = "就餐费用", amount = amount, description = "就餐人均100元", count = 1 } },
    total_amount = amount,
    time_range = { start_time = M.t14(-3600), end_time = M.t14(-60) },
  }
  for k, v in pairs(over or {}) do if v == false then b[k] = nil else b[k] = v end end
  return b
end

local Fx = {}
Fx.__index = Fx

function M.available() return sandbox.available() end

--- Start the sandbox and the clients (opts: time_scale). `into`: the table to make the fixture of (default a new one).
function M.start(opts, into)
  opts = opts or {}
  local sb = sandbox.start { merchants = M.MERCHANTS, time_scale = opts.time_scale or 1000 }
  local fx = setmetatable(into or {}, Fx)
  fx.sb, fx.cfg = sb, sb.config
  fx.c = signed.new(sb.config)
  -- merchant B's client: its key and serial from config.json `merchants`
  for _, m in ipairs(sb.config.merchants) do
    if m.mchid == M.MCHID_B then
      local cb = {}
      for k, v in pairs(sb.config) do cb[k] = v end
      cb.mchid, cb.serial, cb.private_key, cb.apiv3_key = m.mchid, m.serial, m.private_key, m.apiv3_key
      fx.cb = signed.new(cb)
      fx.apiv3_b = m.apiv3_key
    end
  end
  return fx
end

--- In a describe block: a fixture started by setup(), stopped by teardown(); pending when the sandbox cannot run
-- (then nil). The table returned is filled in by setup().
function M.setup(opts)
  return sandbox.setup(opts, M.start)
end

function Fx:stop()
  if self.c then self.c:close() end
  if self.cb then self.cb:close() end
  if self.sb then self.sb:stop() end
end

-- ---- API calls (merchant A unless `client` is given) ---------------------------------------------

function Fx:create(no, over, client)
  return (client or self.c):request("POST", "/v3/payscore/serviceorder", { json = M.seed(no, over) })
end

function Fx:query(no, query, client)
  local q = { out_order_no = no, service_id = M.SERVICE, appid = M.APPID }
  for k, v in pairs(query or {}) do if v == false then q[k] = nil else q[k] = v end end
  return (client or self.c):request("GET", "/v3/payscore/serviceorder", { query = q })
end

--- POST /v3/payscore/serviceorder/{no}/{action} with a JSON body (or raw string).
function Fx:post(no, action, body, client)
  local o = type(body) == "string" and { body = body } or { json = body }
  return (client or self.c):request("POST", "/v3/payscore/serviceorder/" .. signed.pct(no) .. "/" .. action, o)
end

function Fx.ids(_, extra)
  local b = { appid = M.APPID, service_id = M.SERVICE }
  for k, v in pairs(extra or {}) do b[k] = v end
  return b
end

function Fx:complete(no, amount, over)
  return self:post(no, "complete", M.complete_body(amount, over))
end

function Fx:cancel(no, reason)
  return self:post(no, "cancel", self:ids { reason = reason or "用户取消" })
end

function Fx:pay(no) return self:post(no, "pay", self:ids()) end

-- ---- control ------------------------------------------------------------------------------------

function Fx:control(method, path, body)
  return self.c:control(method, path, body)
end

function Fx:confirm(no, body)
  return self:control("POST", "/sandbox/payscore/orders/" .. signed.pct(no) .. "/confirm", body or {})
end

function Fx:order(no)
  local st, data = self:control("GET", "/sandbox/payscore/orders/" .. signed.pct(no))
  assert(st == 200, "control GET order " .. no .. ": " .. tostring(st))
  return data
end

function Fx:settings(body)
  local st, data, raw = self:control("POST", "/sandbox/payscore/settings", body)
  assert(st == 200, "settings: " .. tostring(raw))
  return data
end

function Fx:default_settings()
  return self:settings { cancel_after_complete = "allow", errors = "default", require_authorization = true,
    pay_deducts = true, services = { [M.SERVICE] = { risk_fund_cap = 50000, no_confirm = true,
      direct_complete = true, risk_mode = "any" } } }
end

function Fx:business_offset(seconds)
  local st = self:control("POST", "/sandbox/clock", { business_offset = seconds })
  assert(st == 200, "clock")
end

--- An order in DOING/USER_CONFIRM (created, confirmed). Returns no.
function Fx:confirmed(over)
  local no = M.new_no()
  local res = self:create(no, over)
  assert(res.status == 200, res.body)
  local st, _, raw = self:confirm(no)
  assert(st == 200, raw)
  return no
end

--- An order in DOING/MCH_COMPLETE (created, confirmed, completed with amount). Returns no.
function Fx:completed(amount, over)
  local no = self:confirmed(over)
  local res = self:complete(no, amount or 5000)
  assert(res.status == 200, res.body)
  return no
end

-- ---- notifications ------------------------------------------------------------------------------

--- Notifications of the delivery log for event_type (and out_order_no / openid in the payload), oldest first,
-- each with `envelope` (decoded body) and `payload` (the resource decrypted with the merchant's APIv3 key).
function Fx:events(event_type, match)
  local out = {}
  for _, n in ipairs(self.sb:notifications("?event_type=" .. event_type)) do
    local env = assert(json.decode(n.body))
    local key = n.mchid == M.MCHID_B and self.apiv3_b or self.cfg.apiv3_key
    local r = env.resource
    local pt = assert(core.gcm_decrypt(key, r.nonce, r.associated_data, r.ciphertext))
    local payload = assert(json.decode(pt))
    if match == nil or payload.out_order_no == match or payload.openid == match then
      out[#out + 1] = { log = n, envelope = env, payload = payload }
    end
  end
  return out
end

return M
