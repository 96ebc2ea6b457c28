--- Small HTTP helpers shared by the sandbox's server, control endpoints and notifications.

local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"

local M = {}

local byte, char, format, gsub, find, sub = string.byte, string.char, string.format, string.gsub, string.find,
  string.sub
local concat = table.concat

--- Percent-decoding (RFC 3986; `+` stays a plus sign).
function M.pct_decode(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- "path?query" -> path, raw query (nil when there is no `?`)
function M.split_target(target)
  local q = find(target, "?", 1, true)
  if not q then return target, nil end
  return sub(target, 1, q - 1), sub(target, q + 1)
end

--- Decoded query table (last value wins for repeated keys).
function M.parse_query(raw)
  local out = {}
  if not raw or raw == "" then return out end
  for pair in raw:gmatch("[^&]+") do
    local eq = find(pair, "=", 1, true)
    local k, v
    if eq then k, v = sub(pair, 1, eq - 1), sub(pair, eq + 1) else k, v = pair, "" end
    out[M.pct_decode(k)] = M.pct_decode(v)
  end
  return out
end

local function hex(s)
  return (gsub(s, ".", function(c) return format("%02X", byte(c)) end))
end
M.hex = hex

--- A Request-ID base like WeChat Pay's (46 upper-case hex digits); the header adds "-<internal code>".
function M.request_id()
  return hex(core.random(23))
end

-- Internal numeric codes WeChat Pay appends to Request-ID (payscore.md §9.5), by error code.
M.INTERNAL_CODE = {
  SIGN_ERROR = 270924332,
  ORDER_NOT_EXIST = 271317510,
  FREQUENCY_LIMITED = 268435472,
  PARAM_ERROR = 268435464,
  NO_AUTH = 268503786,
  INVALID_ORDER_STATE = 271302262,
  ORDER_CANCELED = 271302333,
}

--- The request body as received (from memory or from nginx's temp file).
function M.read_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local path = ngx.req.get_body_file()
  if not path then return "" end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read the buffered body: " .. tostring(err) end
  data = f:read("*a")
  f:close()
  return data
end

--- Error-answer bodies of the APIv3 (payscore.md §9.1, §9.3) and their default statuses and messages.
M.ERRORS = {
  PARAM_ERROR = { 400, "参数错误" },
  INVALID_REQUEST = { 400, "HTTP 请求不符合微信支付 APIv3 接口规则" },
  SIGN_ERROR = { 401, "签名错误，请检查后再试" },
  NO_AUTH = { 403, "商户信息不合法" },
  NOT_FOUND = { 404, "请求的资源不存在" },
  ORDER_NOT_EXIST = { 404, "订单不存在" },
  RESOURCE_NOT_EXISTS = { 404, "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥" },
  METHOD_NOT_ALLOWED = { 405, "请求方法不被允许" },
  INVALID_ORDER_STATE = { 400, "单据状态错误" },
  ORDER_CANCELED = { 400, "单据已取消" },
  ORDER_DONE = { 400, "订单已完成" },
  FREQUENCY_LIMITED = { 429, "频率超限" },
  SYSTEM_ERROR = { 500, "系统异常，请稍后重试" },
}

M.errors = {}
--- {code, message, detail} (detail omitted when nil)
function M.errors.body(code, message, detail)
  local d = M.ERRORS[code]
  return { code = code, message = message or (d and d[2]) or code, detail = detail }
end
--- status, body for a known code (status from the table above unless given)
function M.errors.answer(code, message, detail, status)
  local d = M.ERRORS[code]
  return status or (d and d[1]) or 400, M.errors.body(code, message, detail)
end

--- The text of an answer: status, body string ("" for none). body: a string (as is), a table (encoded as JSON; one
-- the codec refuses -> 500 SYSTEM_ERROR, logged) or nil.
function M.encode_answer(status, body)
  if type(body) == "table" then
    local s, err = json.encode(body)
    if not s then
      ngx.log(ngx.ERR, "sandbox: cannot encode an answer: ", tostring(err))
      return 500, '{"code":"SYSTEM_ERROR","message":"系统错误"}'
    end
    body = s
  end
  return status, body or ""
end

--- Send an answer. body: a string (sent as is) or a table (JSON). headers: { name = value } or { {name, value} }.
function M.send(status, body, headers, content_type)
  status, body = M.encode_answer(status, body)
  ngx.status = status
  if status ~= 204 and status ~= 304 then
    ngx.header["Content-Type"] = content_type or "application/json; charset=utf-8"
  end
  if headers then
    for k, v in pairs(headers) do
      if type(k) == "number" then ngx.header[v[1]] = v[2] else ngx.header[k] = v end
    end
  end
  if body ~= "" and status ~= 204 and status ~= 304 then ngx.print(body) end
  return ngx.exit(status >= 200 and status < 300 and ngx.HTTP_OK or status)
end

--- Lower-cased request header lookup (first value).
function M.header(name)
  local v = ngx.req.get_headers(100)[name]
  if type(v) == "table" then v = v[1] end
  return v
end

--- Integer milliseconds (the codec writes integers only).
function M.ms(seconds)
  return math.floor(seconds * 1000 + 0.5)
end

M.concat = concat

return M
