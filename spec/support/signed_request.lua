--- Signed APIv3 requests for specs, independent of the client: the crypto core signs (`core.sign`) and verifies
-- (`core.verify`), the curl command line sends (one request, or many at once with `curl --parallel`).
--
--   local signed = require "spec.support.signed_request"
--   local c = signed.new(sb.config)          -- config.json of the sandbox (mchid, serial, private_key, ...)
--   local res = c:request("POST", "/v3/payscore/serviceorder", { json = {...} })
--   local res = c:request("GET", "/v3/payscore/serviceorder", { query = { out_order_no = "N1", ... } })
--   -- res = { status, headers (lower-case names), header_list, body (raw), data (decoded JSON or nil),
--   --         verified (2xx: signature, serial and timestamp checked), verify_error, request_id, target }
--   local list = c:parallel({ { "POST", target, { json = ... } }, ... }, 50)   -- every request in flight at once
--   local status, data, raw = c:control("POST", "/sandbox/payscore/orders/N1/confirm", { openid = "o1" })
--   signed.message(method, target, ts, nonce, body), signed.authorization(mchid, serial, ts, nonce, sig)  -- §1.2
--
-- Options of request: json (table, encoded with the project codec), body (raw string), query (table: sorted,
-- RFC 3986 encoded; or a string sent as is), headers ({ "Name: value" }), max_time.
-- Works under Lua 5.4 and LuaJIT.

local core = require "wechatpay.core"
local json = require "wechatpay.codec.json"
local nginx = require "spec.support.nginx"

local M = {}
M.WINDOW = 300
M.USER_AGENT = "wechatpay-lua-spec/1.0 (signed_request)"

local shq, write_file = nginx.shq, nginx.write_file

-- ok, output (stdout and stderr) of a shell command run without LD_PRELOAD
local function sh(cmd)
  local p = assert(io.popen("env -u LD_PRELOAD sh -c " .. shq(cmd) .. " 2>&1; echo \"__rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc == 0, (out:gsub("__rc=%d+%s*$", ""))
end

local function pct(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end
M.pct = pct

--- "a=1&b=x%20y" from a table (keys sorted), or the string as is.
function M.query_string(q)
  if q == nil then return "" end
  if type(q) == "string" then return q end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = pct(k) .. "=" .. pct(q[k]) end
  return table.concat(parts, "&")
end

local Client = {}
Client.__index = Client

--- A client for the sandbox described by a config.json table.
function M.new(config)
  local c = setmetatable({ config = config }, Client)
  c.base = (config.base_uri or ""):gsub("/+$", "")
  c.key = assert(core.key_load("file://" .. config.private_key))
  c.keys = {}
  if config.public_key_id and config.public_key then
    c.keys[config.public_key_id] = assert(core.key_load("file://" .. config.public_key, "public"))
  end
  if config.platform_serial and config.platform_certificate then
    c.keys[config.platform_serial] = assert(core.key_load("file://" .. config.platform_certificate, "public"))
  end
  c.tmp = os.tmpname()
  os.remove(c.tmp)
  assert(sh("mkdir -p " .. shq(c.tmp)))
  c.n = 0
  return c
end

function Client:close()
  if self.tmp and self.tmp:match("^/tmp/") then sh("rm -rf " .. shq(self.tmp)) end
  self.tmp = nil
end

function Client:file(name)
  self.n = self.n + 1
  return self.tmp .. "/" .. self.n .. "-" .. name
end

--- The message a request signs (apiv3-protocol §1.2): "METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n".
function M.message(method, target, ts, nonce, body)
  return method .. "\n" .. target .. "\n" .. ts .. "\n" .. nonce .. "\n" .. body .. "\n"
end

--- The Authorization header value (apiv3-protocol §1.2) of a signature `sig` made by merchant `mchid` with the key
-- of certificate `serial`.
function M.authorization(mchid, serial, ts, nonce, sig)
  return 'WECHATPAY2-SHA256-RSA2048 mchid="' .. mchid .. '",serial_no="' .. serial .. '",timestamp="' .. ts
    .. '",nonce_str="' .. nonce .. '",signature="' .. sig .. '"'
end

--- The Authorization header value for method/target/body (apiv3-protocol §1.2).
function Client:authorization(method, target, body, o)
  o = o or {}
  local ts = tostring(o.timestamp or os.time())
  local nonce = o.nonce or core.nonce()
  local sig = assert(core.sign(self.key, M.message(method, target, ts, nonce, body)))
  return M.authorization(o.mchid or self.config.mchid, o.serial or self.config.serial, ts, nonce, sig)
end

-- method, target, body, headers of a request description
function Client:prepare(method, path, o)
  o = o or {}
  local body = o.body
  if o.json ~= nil then body = assert(json.encode(o.json)) end
  body = body or ""
  local qs = M.query_string(o.query)
  local target = path .. (qs ~= "" and ("?" .. qs) or "")
  local headers = { "Accept: application/json", "User-Agent: " .. M.USER_AGENT, "Expect:" }
  if body ~= "" then headers[#headers + 1] = "Content-Type: application/json" end
  headers[#headers + 1] = "Authorization: " .. self:authorization(method, target, body, o)
  for _, h in ipairs(o.headers or {}) do headers[#headers + 1] = h end
  return method, target, body, headers
end

--- Check a 2xx answer's signature (apiv3-protocol §2): true or false, reason.
function Client:verify(res)
  local h = res.headers
  local ts, nonce, sig, serial = h["wechatpay-timestamp"], h["wechatpay-nonce"], h["wechatpay-signature"],
    h["wechatpay-serial"]
  if not (ts and nonce and sig and serial) then return false, "HEADERS_INCOMPLETE" end
  local t = tonumber(ts)
  if not t or math.abs(os.time() - t) > M.WINDOW then return false, "TIMESTAMP_OFFSET" end
  local key = self.keys[serial]
  if not key then return false, "UNKNOWN_SERIAL " .. serial end
  local ok, why = core.verify(key, ts .. "\n" .. nonce .. "\n" .. res.body .. "\n", sig)
  if not ok then return false, why end
  return true
end

-- Fill status/headers/body/data/verified from curl's files.
function Client:finish(res, hdr_file, out_file)
  local head, body = nginx.take_answer(hdr_file, out_file)
  local status, map, list = nginx.parse_headers(head)
  res.status, res.headers, res.header_list, res.body = status, map, list, body
  if not status then return res end
  res.request_id = map["request-id"]
  if body ~= "" then
    local ok, v = pcall(json.decode, body)
    if ok then res.data = v end
  end
  if status >= 200 and status < 300 then
    res.verified, res.verify_error = self:verify(res)
  else
    res.verified = false
  end
  return res
end

-- The files of one request: answer headers, answer body, and the request body (written; nil when none is sent).
function Client:files(method, body)
  local hdr, out = self:file("h"), self:file("o")
  local bf
  if body ~= "" or method ~= "GET" then
    bf = self:file("b")
    write_file(bf, body)
  end
  return hdr, out, bf
end

-- curl for one request of this client (its CA, the target byte for byte, HTTP/1.1): ok, curl's output.
function Client:curl(url, method, body_file, headers, hdr_file, out_file, max_time)
  return sh(nginx.curl_command(url, { exact = true, max_time = max_time, method = method, head_file = hdr_file,
    body_file = out_file, ca_file = self.config.ca_file, data_file = body_file, headers = headers }))
end

--- One signed request (see the top of the file).
function Client:request(method, path, o)
  o = o or {}
  local m, target, body, headers = self:prepare(method, path, o)
  local hdr, out, bf = self:files(m, body)
  local ok, msg = self:curl(self.base .. target, m, bf, headers, hdr, out, o.max_time)
  if bf then os.remove(bf) end
  local res = self:finish({ target = target, sent_body = body }, hdr, out)
  if not res.status then error("curl " .. target .. " failed: " .. tostring(msg) .. tostring(ok), 2) end
  return res
end

local function cfg_quote(s)
  return '"' .. tostring(s):gsub("\\", "\\\\"):gsub('"', '\\"') .. '"'
end

--- Many signed requests at once: `curl --parallel` with every request in flight together (up to `max`).
-- reqs: array of { method, path, opts }. Returns the results in the same order.
function Client:parallel(reqs, max)
  local cfg, files, results = {}, {}, {}
  for i, r in ipairs(reqs) do
    local m, target, body, headers = self:prepare(r[1], r[2], r[3])
    local hdr, out, bf = self:files(m, body)
    files[i] = { hdr, out, bf }
    results[i] = { target = target, sent_body = body }
    if i > 1 then cfg[#cfg + 1] = "next" end
    cfg[#cfg + 1] = "url = " .. cfg_quote(self.base .. target)
    cfg[#cfg + 1] = "request = " .. cfg_quote(m)
    cfg[#cfg + 1] = "dump-header = " .. cfg_quote(hdr)
    cfg[#cfg + 1] = "output = " .. cfg_quote(out)
    cfg[#cfg + 1] = "max-time = 60"
    cfg[#cfg + 1] = "noproxy = \"*\""
    cfg[#cfg + 1] = "path-as-is"
    cfg[#cfg + 1] = "http1.1"
    if self.config.ca_file then cfg[#cfg + 1] = "cacert = " .. cfg_quote(self.config.ca_file) end
    if bf then cfg[#cfg + 1] = "data-binary = " .. cfg_quote("@" .. bf) end
    for _, h in ipairs(headers) do cfg[#cfg + 1] = "header = " .. cfg_quote(h) end
  end
  local cfg_file = self:file("curl.cfg")
  write_file(cfg_file, table.concat(cfg, "\n") .. "\n")
  local ok, msg = sh("curl -sS --parallel --parallel-immediate --parallel-max " .. (max or #reqs) .. " -K "
    .. shq(cfg_file))
  os.remove(cfg_file)
  for i, f in ipairs(files) do
    self:finish(results[i], f[1], f[2])
    if f[3] then os.remove(f[3]) end
    if not results[i].status then results[i].curl_error = msg .. tostring(ok) end
  end
  return results
end

--- A control request (no signature): status, decoded body (or nil), raw body.
function Client:control(method, path, body)
  local text
  if body ~= nil then text = type(body) == "string" and body or assert(json.encode(body)) end
  local hdr, out = self:file("h"), self:file("o")
  local bf
  if text then
    bf = self:file("b")
    write_file(bf, text)
  end
  local ok, msg = self:curl(self.base .. path, method, bf, { "Content-Type: application/json", "Expect:" }, hdr, out)
  if bf then os.remove(bf) end
  local res = self:finish({}, hdr, out)
  if not res.status then error("curl " .. path .. " failed: " .. tostring(msg) .. tostring(ok), 2) end
  return res.status, res.data, res.body, res
end

return M
