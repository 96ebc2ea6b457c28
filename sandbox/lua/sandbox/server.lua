--- The sandbox's request entry (content_by_lua of every location): the APIv3 protocol as WeChat Pay speaks it.
--
-- Every request that is not under /sandbox/:
--   1. Request-ID on every answer ("<46 hex>-<internal code>", payscore.md §9.5);
--   2. a missing or empty User-Agent -> 400 INVALID_REQUEST (apiv3-protocol §1.4: the server rejects it);
--   3. Authorization (apiv3-protocol §1.2, fields in any order): scheme WECHATPAY2-SHA256-RSA2048, a known mchid,
--      serial_no = that merchant's certificate serial, timestamp within ±300 s of the sandbox clock, signature over
--      "METHOD\nTARGET\nTS\nNONCE\nBODY\n" (TARGET exactly as on the request line, BODY the raw bytes), nonce not
--      used before within the window (shared by the workers) -> else 401 SIGN_ERROR;
--   4. faults of phase "pre" (sandbox.control): delay, or a canned status answered instead of the handler;
--   5. routing: extra routes (SANDBOX_EXTRA_ROUTES, for tests), GET /v3/certificates, sandbox.payscore.routes;
--      unknown path -> 404 NOT_FOUND, known path with another method -> 405; a body that is not JSON -> 400;
--   6. the handler (sandbox/DESIGN.md contract); an error in it -> 500 SYSTEM_ERROR (logged with its traceback);
--   7. 2xx answers are signed: Wechatpay-Timestamp, -Nonce, -Signature over "TS\nNONCE\nBODY\n", -Serial (the
--      public key id, or the platform certificate serial in certificate mode); error answers are not signed;
--   8. faults of phase "post" change the signed answer; the request is logged (GET /sandbox/requests).

local json = require "wechatpay.codec.json"
local core = require "wechatpay.core"
local config = require "sandbox.config"
local util = require "sandbox.util"
local store = require "sandbox.store"
local journal = require "sandbox.journal"
local control = require "sandbox.control"
local notify = require "sandbox.notify"

local M = {}

M.SCHEME = "WECHATPAY2-SHA256-RSA2048"
M.WINDOW = 300          -- seconds, inclusive
M.NONCE_TTL = 660       -- seconds a nonce is remembered (covers ±300 s)

M.routes = {}           -- API routes, in matching order
M.control_routes = {}   -- /sandbox/payscore/... (and extra) control routes
M.payscore = nil        -- the sandbox.payscore module once it is there
M.load_errors = {}

-- ---- built-in API routes ------------------------------------------------------------------------

local platform_pem

--- GET /v3/certificates (apiv3-protocol §3.2): the platform certificate, AES-256-GCM encrypted with the merchant's
-- APIv3 key (associated_data "certificate"). The sandbox always has a platform certificate, so it always answers,
-- signed with the platform certificate whatever the mode (a bootstrap verifies this answer with the certificate it
-- contains); a merchant with "public_key_only": true in merchants.json gets 404 RESOURCE_NOT_EXISTS instead.
local function certificates(ctx)
  local m = ctx.merchant
  if m.public_key_only then return util.errors.answer("RESOURCE_NOT_EXISTS") end
  local wx = config.runtime().wechatpay
  if not platform_pem then platform_pem = assert(config.read_file(wx.platform_certificate)) end
  local nonce = core.nonce():sub(1, 12)
  local ct = assert(core.gcm_encrypt(m.apiv3_key, nonce, "certificate", platform_pem))
  return 200, {
    data = json.array {
      {
        serial_no = wx.platform_serial,
        effective_time = wx.platform_effective_time,
        expire_time = wx.platform_expire_time,
        encrypt_certificate = {
          algorithm = "AEAD_AES_256_GCM",
          nonce = nonce,
          associated_data = "certificate",
          ciphertext = ct,
        },
      },
    },
  }
end

local BUILTIN = {
  { method = "GET", pattern = "^/v3/certificates$", handler = certificates, id = "certificates",
    sign_with = "platform" },
}

-- ---- init ---------------------------------------------------------------------------------------

local function add_routes(dst, src, origin)
  if src == nil then return end
  if type(src) ~= "table" then error(origin .. ": routes must be an array", 0) end
  for i, r in ipairs(src) do
    if type(r) ~= "table" or type(r.method) ~= "string" or type(r.pattern) ~= "string"
      or type(r.handler) ~= "function" then
      error(origin .. ": route " .. i .. " must be { method, pattern, handler, id }", 0)
    end
    dst[#dst + 1] = r
  end
end

local function try_require(name)
  local ok, mod = pcall(require, name)
  if ok then return mod end
  if type(mod) == "string" and mod:find("module '" .. name .. "' not found", 1, true) then return nil end
  M.load_errors[#M.load_errors + 1] = name .. ": " .. tostring(mod)
  if ngx and ngx.log then ngx.log(ngx.ERR, "sandbox: cannot load ", name, ": ", tostring(mod)) end
  return nil
end

--- init_by_lua: read the configuration and collect the routes.
function M.init(dir)
  config.load(dir)
  local rt = config.runtime()
  M.routes, M.control_routes, M.load_errors = {}, {}, {}
  if rt.extra_routes then
    local extra = try_require(rt.extra_routes)
    if extra then
      add_routes(M.routes, extra.routes, rt.extra_routes)
      add_routes(M.control_routes, extra.control_routes, rt.extra_routes)
    end
  end
  add_routes(M.routes, BUILTIN, "builtin")
  M.payscore = try_require("sandbox.payscore")
  if M.payscore then
    add_routes(M.routes, M.payscore.routes, "sandbox.payscore")
    add_routes(M.control_routes, M.payscore.control_routes, "sandbox.payscore")
  end
end

-- Stop the sandbox when the process that owns it is gone (specs: no server left behind by a crashed run).
local function watch_owner(pid)
  ngx.timer.every(2, function(premature)
    if premature then return end
    local f = io.open("/proc/" .. pid .. "/stat", "r")
    if f then f:close() return end
    local p = io.open(config.runtime().dir .. "/nginx.pid", "r")
    local master = p and p:read("*n")
    if p then p:close() end
    if master then os.execute("kill -QUIT " .. math.floor(master)) end
  end)
end

--- init_worker_by_lua: parse the keys of this worker.
function M.init_worker()
  local ok, err = pcall(config.load_keys)
  if not ok then ngx.log(ngx.ERR, "sandbox: ", tostring(err)) end
  local rt = config.runtime()
  if rt.owner_pid and ngx.worker.id() == 0 then watch_owner(rt.owner_pid) end
end

-- ---- protocol -----------------------------------------------------------------------------------

local REQUIRED = { "mchid", "serial_no", "timestamp", "nonce_str", "signature" }

--- Parse an Authorization value: fields table, or nil and the issue.
function M.parse_authorization(v)
  if v == nil or v == "" then return nil, "missing" end
  local scheme, rest = v:match("^(%S+) +(.-)%s*$")
  if scheme ~= M.SCHEME then return nil, "the scheme must be " .. M.SCHEME end
  local fields, pos, n = {}, 1, #rest
  while pos <= n do
    local k, val, e = rest:match('^%s*([%w_]+)="([^"]*)"%s*()', pos)
    if not k then return nil, "expected key=\"value\" at offset " .. pos end
    if fields[k] then return nil, "duplicate field " .. k end
    fields[k] = val
    pos = e
    if pos <= n then
      if rest:sub(pos, pos) ~= "," then return nil, "expected ',' at offset " .. pos end
      pos = pos + 1
    end
  end
  for _, k in ipairs(REQUIRED) do
    if fields[k] == nil or fields[k] == "" then return nil, "missing field " .. k end
  end
  return fields
end

local FORMAT_MSG = "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"

local function sign_error(message, detail, reason)
  return nil, { message = message, detail = detail, reason = reason }
end

local function truncated(s, n)
  if #s <= n then return s end
  return s:sub(1, n) .. "..."
end

--- Check the request's Authorization. Returns { mchid, merchant } or nil, { message, detail, reason } (+ mchid).
function M.authenticate(method, target, body, auth_header)
  local f, issue = M.parse_authorization(auth_header)
  if not f then
    if issue == "missing" then
      return sign_error("Http头缺少Authorization或其值为空",
        { field = "Authorization", location = "header", issue = "missing" }, "missing")
    end
    return sign_error(FORMAT_MSG, { field = "Authorization", location = "header", issue = issue }, "format")
  end
  local m = config.merchant(f.mchid)
  if not m then
    return sign_error("商户号不存在", { field = "mchid", value = f.mchid, location = "authorization",
      issue = "unknown mchid" }, "mchid")
  end
  if f.serial_no ~= m.serial then
    local _, e = sign_error("商户证书序列号有误。请使用签名私钥匹配的证书序列号",
      { field = "serial_no", value = f.serial_no, location = "authorization",
        issue = "not the serial of the merchant API certificate" }, "serial")
    e.mchid = m.mchid
    return nil, e
  end
  local now = config.now()
  local ts = f.timestamp:match("^%d+$") and #f.timestamp <= 12 and tonumber(f.timestamp)
  if not ts or math.abs(now - ts) > M.WINDOW then
    local _, e = sign_error("Http头Authorization中的timestamp与当前时间相差过大，请检查系统时间",
      { field = "timestamp", value = f.timestamp, location = "authorization",
        issue = "more than " .. M.WINDOW .. " s from the server time " .. now }, "timestamp")
    e.mchid = m.mchid
    return nil, e
  end
  local message = method .. "\n" .. target .. "\n" .. f.timestamp .. "\n" .. f.nonce_str .. "\n" .. body .. "\n"
  local key = config.merchant_key(m)
  local ok, reason = core.verify(key, message, f.signature)
  if not ok then
    local _, e = sign_error("签名错误，请检查后再试", {
      field = "signature", location = "authorization", issue = "sign not match: " .. tostring(reason),
      sign_information = {
        method = method, url = target, sign_message_length = #message,
        truncated_sign_message = truncated(message, 256),
      },
    }, "signature")
    e.mchid = m.mchid
    return nil, e
  end
  local nonces = ngx.shared.sandbox_nonces
  local nkey = m.mchid .. ":" .. f.nonce_str
  local fresh, nerr = nonces:safe_add(nkey, ts, M.NONCE_TTL)
  if not fresh and nerr == "no memory" then
    fresh, nerr = nonces:add(nkey, ts, M.NONCE_TTL) -- full: let the oldest nonces go rather than refuse
  end
  if not fresh and nerr ~= "exists" then
    ngx.log(ngx.ERR, "sandbox: nonce store: ", tostring(nerr))
    fresh = true
  end
  if not fresh then
    local _, e = sign_error("Http头Authorization中的nonce_str已被使用，请勿重复使用",
      { field = "nonce_str", value = f.nonce_str, location = "authorization", issue = "nonce reused" }, "nonce")
    e.mchid = m.mchid
    return nil, e
  end
  return { mchid = m.mchid, merchant = m }
end

-- ---- answers ------------------------------------------------------------------------------------

local function unknown_serial()
  if config.cert_mode() then return "1" .. string.rep("0", 38) .. "1" end
  return "PUB_KEY_ID_0100000000000000000000000000"
end

--- Signature headers for a 2xx answer, with a post fault applied. Returns status, body, headers (array).
function M.sign_answer(status, body, fault, force)
  local serial, key = config.signer(force)
  local mode = fault and fault.mode
  if mode == "empty_204" then status, body = 204, "" end
  local ts = config.now()
  if mode == "skew" then ts = ts + fault.seconds end
  ts = string.format("%d", ts)
  local nonce = core.nonce()
  local message = ts .. "\n" .. nonce .. "\n" .. body .. "\n"
  local sig = assert(core.sign(key, message))
  if mode == "bad_signature" then
    sig = assert(core.sign(key, message .. "(not this message)"))
  elseif mode == "probe" then
    sig = "WECHATPAY/SIGNTEST/" .. sig
  elseif mode == "unknown_serial" then
    serial = fault.serial or unknown_serial()
  elseif mode == "tamper_body" then
    if fault.body then
      body = fault.body
    elseif body:match("^%s*{.*}%s*$") and body:match("^%s*{%s*}%s*$") == nil then
      body = body:gsub("}%s*$", ',"tampered":true}')
    else
      body = body .. " "
    end
  end
  return status, body, {
    { "Wechatpay-Nonce", nonce },
    { "Wechatpay-Signature", sig },
    { "Wechatpay-Timestamp", ts },
    { "Wechatpay-Serial", serial },
  }
end

local function internal_code(status, body)
  if status >= 200 and status < 300 then return 0 end
  local code = type(body) == "table" and body.code
  return util.INTERNAL_CODE[code] or 0
end

-- Send an answer and log the request. headers: array of {name, value} or map.
local function finish(entry, status, body, headers, content_type, drop)
  status, body = util.encode_answer(status, body)
  local list = {}
  if headers then
    for k, v in pairs(headers) do
      if type(k) == "number" then list[#list + 1] = v else list[#list + 1] = { k, v } end
    end
  end
  entry.request_id = entry.request_id .. "-" .. (entry.internal_code or 0)
  entry.internal_code = nil
  list[#list + 1] = { "Request-ID", entry.request_id }
  if drop then
    local d = drop:lower()
    for i = #list, 1, -1 do
      if list[i][1]:lower() == d then table.remove(list, i) end
    end
  end
  entry.status = status
  ngx.update_time()
  local elapsed = ngx.now() - entry.t0
  entry.duration_ms = util.ms(elapsed)
  entry.duration_us = math.floor(elapsed * 1e6 + 0.5)
  entry.t0 = nil
  if entry.log then
    entry.log = nil
    journal.append("req", entry)
  end
  ngx.status = status
  local no_body = status == 204 or status == 304 or (status >= 100 and status < 200)
  if not no_body then
    ngx.header["Content-Type"] = content_type or "application/json; charset=utf-8"
  end
  if drop and drop:lower() == "content-type" then ngx.header["Content-Type"] = nil end
  for _, h in ipairs(list) do ngx.header[h[1]] = h[2] end
  if no_body then
    ngx.send_headers()
  elseif body ~= "" then
    ngx.header["Content-Length"] = #body
    ngx.print(body)
  else
    ngx.header["Content-Length"] = 0
    ngx.send_headers()
  end
  return ngx.exit(ngx.OK)
end

-- ---- routing ------------------------------------------------------------------------------------

local function traceback(e)
  return debug.traceback(tostring(e), 2)
end

--- Find and run the route for req in routes. Returns status, body, headers, nil, route; or nil, nil, nil, allowed
-- methods (the path matched with other methods), or nothing when no route matches.
function M.route(routes, req, is_control)
  local allowed
  for _, r in ipairs(routes) do
    local caps = { req.path:match(r.pattern) }
    if caps[1] ~= nil then
      if r.method == req.method then
        local params = {}
        for i, c in ipairs(caps) do
          params[i] = type(c) == "string" and util.pct_decode(c) or c
        end
        if req.raw_body ~= "" and req.json == nil then
          local v, err = json.decode(req.raw_body)
          if v == nil then
            local st, b = util.errors.answer("PARAM_ERROR", "请求体不是合法的JSON",
              { location = "body", issue = err and err.message or "invalid JSON" })
            return st, b, nil, nil, r
          end
          req.json = v
        end
        local mchid = req.mchid
        if is_control then
          mchid = req.query.mchid or (type(req.json) == "table" and type(req.json.mchid) == "string"
            and req.json.mchid) or config.runtime().default_mchid
        end
        local ctx = {
          method = req.method, path = req.path, target = req.target, query = req.query, raw_query = req.raw_query,
          raw_body = req.raw_body, json = req.json, params = params, id = r.id,
          mchid = mchid, merchant = config.merchant(mchid), now = config.business_now(),
          request_id = req.request_id, store = store, notify = notify, errors = util.errors, config = config,
          control = is_control or false,
        }
        local ok, status, body, headers = xpcall(r.handler, traceback, ctx)
        if not ok then
          ngx.log(ngx.ERR, "sandbox: handler ", tostring(r.id or r.pattern), " failed: ", tostring(status))
          local st, b = util.errors.answer("SYSTEM_ERROR", "系统错误",
            { issue = "sandbox handler error: " .. tostring(status):match("^[^\n]*") })
          return st, b, nil, nil, r
        end
        if type(status) ~= "number" then
          ngx.log(ngx.ERR, "sandbox: handler ", tostring(r.id or r.pattern), " returned no status")
          local st, b = util.errors.answer("SYSTEM_ERROR", "系统错误", { issue = "handler returned no status" })
          return st, b, nil, nil, r
        end
        return status, body, headers, nil, r
      end
      allowed = allowed and (allowed .. ", " .. r.method) or r.method
    end
  end
  if allowed then return nil, nil, nil, allowed end
end

local function encode_body(status, body)
  if body == nil or status == 204 then return "" end
  if type(body) == "string" then return body end
  local s, err = json.encode(body)
  if not s then
    ngx.log(ngx.ERR, "sandbox: cannot encode an answer: ", tostring(err))
    return nil, err
  end
  return s
end

local function api_request(req, entry)
  local h = ngx.req.get_headers(100)
  local ua = h["user-agent"]
  if type(ua) == "table" then ua = ua[1] end
  local body, berr = util.read_body()
  if not body then
    entry.internal_code = 0
    return finish(entry, util.errors.answer("SYSTEM_ERROR", "系统错误", { issue = berr }))
  end
  req.raw_body = body
  if ua == nil or ua:match("^%s*$") then
    entry.sign_ok = false
    local st, b = util.errors.answer("INVALID_REQUEST", "Http头缺少User-Agent，请求必须携带User-Agent",
      { field = "User-Agent", location = "header", issue = "missing" })
    return finish(entry, st, b)
  end

  local auth_header = h["authorization"]
  if type(auth_header) == "table" then auth_header = auth_header[1] end
  local auth, why = M.authenticate(req.method, req.target, body, auth_header)
  if not auth then
    entry.sign_ok = false
    entry.mchid = why.mchid
    entry.sign_error = why.reason
    local st, b = util.errors.answer("SIGN_ERROR", why.message, why.detail)
    entry.internal_code = internal_code(st, b)
    return finish(entry, st, b)
  end
  entry.sign_ok = true
  entry.mchid = auth.mchid
  req.mchid = auth.mchid

  -- faults answered before the handler
  local pre = control.claim_fault("pre", req.method, req.path)
  if pre then
    entry.fault = pre.mode
    local ms = pre.mode == "delay" and pre.ms or pre.delay
    if ms and ms > 0 then ngx.sleep(ms / 1000) end
    if pre.mode == "status" then
      local st = pre.status
      local b = pre.body
      if type(b) == "table" then b = assert(json.encode(b)) end
      b = b or ""
      local headers = {}
      for k, v in pairs(pre.headers or {}) do headers[#headers + 1] = { k, tostring(v) } end
      if st >= 200 and st < 300 then
        local sig
        st, b, sig = M.sign_answer(st, b, nil)
        for _, x in ipairs(sig) do headers[#headers + 1] = x end
      end
      local ok, decoded = pcall(json.decode, b)
      entry.internal_code = internal_code(st, ok and type(decoded) == "table" and decoded or nil)
      return finish(entry, st, b, headers, pre.content_type)
    end
  end

  local status, rbody, rheaders, allowed, route = M.route(M.routes, req, false)
  if route then entry.route = route.id end
  if not status then
    local st, b
    if allowed then
      st, b = util.errors.answer("METHOD_NOT_ALLOWED", "请求方法不被允许，请使用 " .. allowed)
      rheaders = { Allow = allowed }
    else
      st, b = util.errors.answer("NOT_FOUND", "请求的资源不存在：" .. req.path)
      rheaders = nil
    end
    return finish(entry, st, b, rheaders)
  end

  local text, eerr = encode_body(status, rbody)
  if not text then
    status, rbody = util.errors.answer("SYSTEM_ERROR", "系统错误", { issue = "answer not encodable: " .. tostring(eerr) })
    text = assert(json.encode(rbody))
  end
  entry.internal_code = internal_code(status, rbody)
  local headers = {}
  for k, v in pairs(rheaders or {}) do
    if type(k) == "number" then headers[#headers + 1] = v else headers[#headers + 1] = { k, v } end
  end
  if status >= 200 and status < 300 then
    local post = control.claim_fault("post", req.method, req.path)
    local drop
    if post then
      entry.fault = post.mode
      if post.delay and post.delay > 0 then ngx.sleep(post.delay / 1000) end
      if post.mode == "drop_header" then drop = post.header end
    end
    local sig
    status, text, sig = M.sign_answer(status, text, post, route.sign_with)
    for _, x in ipairs(sig) do headers[#headers + 1] = x end
    return finish(entry, status, text, headers, nil, drop)
  end
  return finish(entry, status, text, headers)
end

local function control_request(req, entry)
  local body, berr = util.read_body()
  if not body then return finish(entry, util.errors.answer("SYSTEM_ERROR", "系统错误", { issue = berr })) end
  req.raw_body = body
  if body ~= "" then
    local v, err = json.decode(body)
    if v == nil then
      return finish(entry, util.errors.answer("PARAM_ERROR", "the body is not JSON",
        { location = "body", issue = err and err.message }))
    end
    req.json = v
  end
  local ok, status, rbody, headers = xpcall(control.dispatch, traceback, req, M)
  if not ok then
    ngx.log(ngx.ERR, "sandbox: control ", req.path, " failed: ", tostring(status))
    return finish(entry, util.errors.answer("SYSTEM_ERROR", "系统错误",
      { issue = tostring(status):match("^[^\n]*") }))
  end
  local text, err = encode_body(status, rbody)
  if not text then
    return finish(entry, util.errors.answer("SYSTEM_ERROR", "系统错误", { issue = tostring(err) }))
  end
  return finish(entry, status, text, headers)
end

--- content_by_lua entry point.
function M.handle()
  ngx.update_time()
  local method = ngx.req.get_method()
  local target = ngx.var.request_uri
  local path, raw_query = util.split_target(target)
  local req = {
    method = method, target = target, path = path, raw_query = raw_query, query = util.parse_query(raw_query),
    request_id = util.request_id(),
  }
  local entry = {
    time = config.rfc3339(config.now()), method = method, target = target, request_id = req.request_id,
    worker = ngx.worker.pid(), t0 = ngx.req.start_time(), sign_ok = false,
  }
  if path == "/sandbox" or path:sub(1, 9) == "/sandbox/" then
    return control_request(req, entry)
  end
  entry.log = true
  return api_request(req, entry)
end

return M
