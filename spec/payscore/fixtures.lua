--- Valid PayScore requests for every merchant endpoint (E1-E15), for specs and examples.
--
--   local fx = require "spec.payscore.fixtures"
--   fx.seed_create()          -- the seed's create body (the official example), unchanged: fresh copy per call
--   fx.seed_query()           -- the seed's query parameters (with its empty query_id)
--   fx.request("E5")          -- { params = {...}, query = {...}, json = {...} }: a valid request that sends every
--                             -- documented field (fresh copy per call)
--   fx.path("E5")             -- the path of that request, as sent ("/v3/payscore/serviceorder/1234.../complete")
--
-- The times are the official example's (2009): they pass every rule that needs no clock; a server with a clock
-- (the sandbox) wants them moved into the future for create.

local M = {}

local APPID = "wxd678efh567hg6787"
local SERVICE_ID = "2002000000000558128851361561536"
local OUT_ORDER_NO = "1234323JKHDFE1243252"
local OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

M.APPID, M.SERVICE_ID, M.OUT_ORDER_NO, M.OPENID = APPID, SERVICE_ID, OUT_ORDER_NO, OPENID

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end
M.copy = copy

-- The seed: the official create example (wechatpay-php docs of 创建支付分订单, the same as the WeChat Pay page),
-- sent by the project's seed script unchanged.
local SEED_CREATE = {
  out_order_no = OUT_ORDER_NO,
  appid = APPID,
  service_id = SERVICE_ID,
  service_introduction = "某某酒店",
  post_payments = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } },
  post_discounts = { { name = "满20减1元", description = "不与其他优惠叠加", count = 2 } },
  time_range = { start_time = "20091225091010", end_time = "20091225121010",
    start_time_remark = "备注1", end_time_remark = "备注2" },
  location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
  risk_fund = { name = "DEPOSIT", amount = 10000, description = "就餐的预估费用" },
  attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
  notify_url = "https://api.test.com",
  openid = OPENID,
  need_user_confirm = true,
  device = { start_device_id = "HG123456", end_device_id = "HG123456", materiel_no = "example_materiel_no" },
}

local SEED_QUERY = { out_order_no = OUT_ORDER_NO, query_id = "", service_id = SERVICE_ID, appid = APPID }

function M.seed_create() return copy(SEED_CREATE) end
function M.seed_query() return copy(SEED_QUERY) end

local PAYMENTS = { { name = "就餐费用", amount = 40000, description = "就餐人均100元", count = 4 } }
local DISCOUNTS = { { name = "满20减1元", description = "不与其他优惠叠加", amount = 100, count = 2 } }
local TIME_RANGE = { start_time = "20091225091010", start_time_remark = "备注1",
  end_time = "20091225121010", end_time_remark = "备注2" }
local DEVICE = { start_device_id = "HG123456", end_device_id = "HG123456", materiel_no = "example_materiel_no" }

local CREATE = copy(SEED_CREATE)
CREATE.post_discounts = copy(DISCOUNTS)

local REQUESTS = {
  E1 = { json = CREATE },
  E2 = { query = { out_order_no = OUT_ORDER_NO, service_id = SERVICE_ID, appid = APPID } },
  E3 = { params = { out_order_no = OUT_ORDER_NO },
    json = { appid = APPID, service_id = SERVICE_ID, reason = "用户投诉" } },
  E4 = { params = { out_order_no = OUT_ORDER_NO },
    json = { appid = APPID, service_id = SERVICE_ID, post_payments = PAYMENTS, post_discounts = DISCOUNTS,
      total_amount = 39900, reason = "用户投诉", device = DEVICE } },
  E5 = { params = { out_order_no = OUT_ORDER_NO },
    json = { appid = APPID, service_id = SERVICE_ID, post_payments = PAYMENTS, post_discounts = DISCOUNTS,
      total_amount = 39900, time_range = TIME_RANGE, location = { end_location = "嗨客时尚主题展餐厅" },
      profit_sharing = true, goods_tag = "goods_tag", device = DEVICE } },
  E6 = { params = { out_order_no = OUT_ORDER_NO }, json = { appid = APPID, service_id = SERVICE_ID } },
  E7 = { params = { out_order_no = OUT_ORDER_NO },
    json = { appid = APPID, service_id = SERVICE_ID, type = "Order_Paid", detail = { paid_time = "20091225121210" } } },
  E8 = { json = { out_order_no = OUT_ORDER_NO, appid = APPID, openid = OPENID, service_id = SERVICE_ID,
    service_introduction = "某某酒店", post_payments = PAYMENTS, post_discounts = DISCOUNTS,
    time_range = TIME_RANGE, location = { start_location = "嗨客时尚主题展餐厅", end_location = "嗨客时尚主题展餐厅" },
    total_amount = 39900, profit_sharing = true, goods_tag = "goods_tag",
    attach = "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald", notify_url = "https://api.test.com" } },
  E9 = { json = { service_id = SERVICE_ID, appid = APPID, authorization_code = "4554ADSG5F6A65SDF6Q",
    notify_url = "https://api.test.com" } },
  E10 = { params = { authorization_code = "4554ADSG5F6A65SDF6Q" }, query = { service_id = SERVICE_ID } },
  E11 = { params = { authorization_code = "4554ADSG5F6A65SDF6Q" },
    json = { service_id = SERVICE_ID, reason = "用户已不再使用" } },
  E12 = { params = { openid = OPENID }, query = { appid = APPID, service_id = SERVICE_ID } },
  E13 = { params = { openid = OPENID }, json = { service_id = SERVICE_ID, appid = APPID, reason = "用户已不再使用" } },
  E14 = { query = { service_id = SERVICE_ID, appid = APPID, openid = OPENID } },
  E15 = { params = { openid = OPENID, service_id = SERVICE_ID }, json = { appid = APPID, reason = "用户已不再使用" } },
}

function M.request(id)
  local r = REQUESTS[id]
  if not r then error("no fixture for " .. tostring(id)) end
  return { params = copy(r.params or {}), query = copy(r.query or {}), json = copy(r.json) }
end

function M.ids()
  local ids = {}
  for i = 1, 15 do ids[i] = "E" .. i end
  return ids
end

-- percent-encode like codec/uri (unreserved kept)
local function enc(s)
  return (tostring(s):gsub("[^A-Za-z0-9%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- The path of the fixture request of an endpoint (template = the schema's path or one of its aliases).
function M.path(id, template)
  local schema = require "wechatpay.payscore.schema"
  local ep = schema.by_id[id]
  local params = REQUESTS[id].params or {}
  return ((template or ep.path):gsub("{([%w_]+)}", function(name) return enc(params[name]) end))
end

return M
