--- Control endpoints of the sandbox under /sandbox/ (no authentication; they do what WeChat Pay or a user would do
-- and let tests inspect and steer the server), and the fault table they manage.
--
--   GET    /sandbox/health                 {"status":"ok", ...}
--   GET    /sandbox/config                 public part of config.json; POST {cert_mode=bool, time_scale=n} changes it
--   GET    /sandbox/requests[?limit=&since=]   requests seen on the API paths; DELETE clears
--   GET    /sandbox/notifications[?limit=&since=&event_type=&mchid=]  deliveries with attempts; DELETE clears
--   GET    /sandbox/clock                  the sandbox clock; POST {offset=s | advance=s | business_offset=s}
--   POST   /sandbox/reset                  clears state (orders...), logs, faults, nonces, clock offsets
--   GET    /sandbox/faults                 the fault table; POST adds a fault; DELETE clears all
--   DELETE /sandbox/faults/<id>            removes one fault
--   *      /sandbox/payscore/...           PayScore control routes (sandbox.payscore.control_routes)
--
-- Faults (POST /sandbox/faults, JSON body):
--   match   path prefix the fault applies to (default "/"; API paths only, never /sandbox/)
--   method  only this method (default: any)
--   count   how many answers it changes (default 1; -1: until deleted)
--   delay   optional milliseconds to wait before answering, with any mode
--   mode    one of
--     status         {status, body (string or JSON object), content_type, headers}: answered INSTEAD of the handler
--                    (the request changes nothing, like a gateway error); 2xx statuses are signed
--     delay          {ms}: wait, then handle the request normally
--     bad_signature  a well-formed signature over another message (verification reason SIGNATURE_MISMATCH)
--     drop_header    {header}: the answer lacks this header (default Wechatpay-Signature)
--     skew           {seconds}: added to Wechatpay-Timestamp, the signature still valid for it
--     unknown_serial {serial}: Wechatpay-Serial names a key the client does not have
--     probe          the signature is WECHATPAY/SIGNTEST/...
--     tamper_body    {body}: the body is changed after signing (default: one field added)
--     empty_204      204 with an empty body, correctly signed
--   Every mode but status and delay applies AFTER the handler ran (its state changes happen, as when a real answer
--   is lost or mangled on its way), and only to 2xx (signed) answers; a non-2xx answer leaves the fault in place.

local json = require "wechatpay.codec.json"
local util = require "sandbox.util"
local journal = require "sandbox.journal"
local store = require "sandbox.store"
local config = require "sandbox.config"

local unpack = table.unpack or unpack -- luacheck: ignore 143

local M = {}

local function sys() return ngx.shared.sandbox_sys end

-- ---- faults -------------------------------------------------------------------------------------

M.MODES = {
  status = "pre", delay = "pre",
  bad_signature = "post", drop_header = "post", skew = "post", unknown_serial = "post", probe = "post",
  tamper_body = "post", empty_204 = "post",
}

local cache = { version = -1, list = {} }

local function fault_list()
  local s = sys()
  local v = s:get("faults#version") or 0
  if v ~= cache.version then
    local text = s:get("faults")
    cache.list = text and json.decode(text) or {}
    cache.version = v
  end
  return cache.list
end

local function save_faults(list)
  local s = sys()
  s:set("faults", assert(json.encode(json.array(list))))
  s:incr("faults#version", 1, 0)
end

local function is_int(v) return type(v) == "number" and v == math.floor(v) end

local function validate_fault(f)
  if type(f) ~= "table" then return nil, "the body must be a JSON object" end
  local phase = M.MODES[f.mode]
  if not phase then
    local names = {}
    for k in pairs(M.MODES) do names[#names + 1] = k end
    table.sort(names)
    return nil, "mode must be one of " .. table.concat(names, ", ")
  end
  local out = {}
  for k, v in pairs(f) do out[k] = v end
  out.phase = phase
  out.match = f.match or "/"
  if type(out.match) ~= "string" or out.match:sub(1, 1) ~= "/" then return nil, "match must be a path prefix" end
  if f.method ~= nil then
    if type(f.method) ~= "string" then return nil, "method must be a string" end
    out.method = f.method:upper()
  end
  out.count = f.count == nil and 1 or f.count
  if not is_int(out.count) or out.count == 0 or out.count < -1 then
    return nil, "count must be a positive integer, or -1 for always"
  end
  if f.delay ~= nil and (not is_int(f.delay) or f.delay < 0) then return nil, "delay must be milliseconds" end
  if f.mode == "status" then
    if not is_int(f.status) or f.status < 100 or f.status > 599 then return nil, "status must be an HTTP status" end
    if f.body ~= nil and type(f.body) ~= "string" and type(f.body) ~= "table" then
      return nil, "body must be a string or a JSON object"
    end
    if f.content_type ~= nil and type(f.content_type) ~= "string" then return nil, "content_type must be a string" end
    if f.headers ~= nil and type(f.headers) ~= "table" then return nil, "headers must be an object" end
  elseif f.mode == "delay" then
    local ms = f.ms or f.delay
    if not is_int(ms) or ms < 0 then return nil, "ms must be milliseconds" end
    out.ms = ms
    out.delay = nil
  elseif f.mode == "drop_header" then
    out.header = f.header or "Wechatpay-Signature"
    if type(out.header) ~= "string" then return nil, "header must be a header name" end
  elseif f.mode == "skew" then
    out.seconds = f.seconds or 600
    if not is_int(out.seconds) then return nil, "seconds must be an integer" end
  elseif f.mode == "unknown_serial" then
    if f.serial ~= nil and type(f.serial) ~= "string" then return nil, "serial must be a string" end
  elseif f.mode == "tamper_body" then
    if f.body ~= nil and type(f.body) ~= "string" then return nil, "body must be a string" end
  end
  return out
end

function M.add_fault(f)
  local fault, err = validate_fault(f)
  if not fault then return nil, err end
  return store.with_lock("#faults", function()
    local s = sys()
    fault.id = s:incr("faults#seq", 1, 0)
    if fault.count > 0 then s:set("fault#left:" .. fault.id, fault.count) end
    local list = {}
    for i, x in ipairs(fault_list()) do list[i] = x end
    list[#list + 1] = fault
    save_faults(list)
    return fault
  end)
end

function M.clear_faults(id)
  return store.with_lock("#faults", function()
    local list, removed = {}, 0
    for _, x in ipairs(fault_list()) do
      if id == nil or x.id == id then
        removed = removed + 1
        sys():delete("fault#left:" .. x.id)
        sys():delete("fault#hits:" .. x.id)
      else
        list[#list + 1] = x
      end
    end
    save_faults(list)
    return removed
  end)
end

--- The first fault of this phase ("pre" or "post") that matches and still has uses; it is used up by one.
function M.claim_fault(phase, method, path)
  local list = fault_list()
  if #list == 0 then return nil end
  local s = sys()
  for _, f in ipairs(list) do
    if f.phase == phase and (f.method == nil or f.method == method) and path:sub(1, #f.match) == f.match then
      local ok = f.count < 0
      if not ok then
        local left = s:incr("fault#left:" .. f.id, -1, 0)
        ok = left ~= nil and left >= 0
      end
      if ok then
        s:incr("fault#hits:" .. f.id, 1, 0)
        return f
      end
    end
  end
  return nil
end

local function faults_view()
  local s = sys()
  local out = json.array()
  for _, f in ipairs(fault_list()) do
    local v = {}
    for k, x in pairs(f) do v[k] = x end
    v.hits = s:get("fault#hits:" .. f.id) or 0
    if f.count > 0 then v.remaining = math.max(s:get("fault#left:" .. f.id) or 0, 0) end
    out[#out + 1] = v
  end
  return out
end

-- ---- clock --------------------------------------------------------------------------------------

local function clock_view()
  local now = config.now()
  return {
    now = now, now_rfc3339 = config.rfc3339(now), real = ngx.time(),
    offset = config.clock_offset(), business_offset = config.business_offset(),
    business_now = config.business_now(), business_now_rfc3339 = config.rfc3339(config.business_now()),
  }
end

local function set_clock(body)
  local s = sys()
  if type(body) ~= "table" then return nil, "the body must be a JSON object" end
  for _, k in ipairs({ "offset", "advance", "business_offset" }) do
    if body[k] ~= nil and not is_int(body[k]) then return nil, k .. " must be an integer number of seconds" end
  end
  if body.offset ~= nil then s:set("clock_offset", body.offset) end
  if body.advance ~= nil then s:incr("clock_offset", body.advance, 0) end
  if body.business_offset ~= nil then s:set("business_offset", body.business_offset) end
  return clock_view()
end

-- ---- reset --------------------------------------------------------------------------------------

function M.reset(server)
  store.flush()
  ngx.shared.sandbox_nonces:flush_all()
  ngx.shared.sandbox_nonces:flush_expired()
  journal.clear("req")
  journal.clear("ntf")
  M.clear_faults()
  local s = sys()
  s:delete("clock_offset")
  s:delete("business_offset")
  s:incr("generation", 1, 0) -- pending notification retries stop
  local ps = server and server.payscore
  if ps and type(ps.reset) == "function" then ps.reset() end
  return { reset = true, generation = s:get("generation") }
end

-- ---- dispatch -----------------------------------------------------------------------------------

local function limit_args(q)
  return tonumber(q.limit), tonumber(q.since)
end

local function ok(body) return 200, body end

local function bad(msg) return util.errors.answer("PARAM_ERROR", msg) end

local builtin = {
  { "GET", "^/sandbox/health$", function(_, server)
    return ok { status = "ok", pid = ngx.worker.pid(), worker = ngx.worker.id(), time = config.now(),
      payscore = server.payscore ~= nil, cert_mode = config.cert_mode() }
  end },
  { "GET", "^/sandbox/config$", function() return ok(config.public()) end },
  { "POST", "^/sandbox/config$", function(req)
    local b = req.json
    if type(b) ~= "table" then return bad("the body must be a JSON object") end
    if b.cert_mode ~= nil then
      if type(b.cert_mode) ~= "boolean" then return bad("cert_mode must be a boolean") end
      sys():set("cert_mode", b.cert_mode)
    end
    if b.time_scale ~= nil then
      if type(b.time_scale) ~= "number" or b.time_scale <= 0 then return bad("time_scale must be > 0") end
      sys():set("time_scale", b.time_scale)
    end
    return ok(config.public())
  end },
  { "GET", "^/sandbox/requests$", function(req)
    return ok { data = journal.list("req", limit_args(req.query)) }
  end },
  { "DELETE", "^/sandbox/requests$", function()
    journal.clear("req")
    return 204
  end },
  { "GET", "^/sandbox/notifications$", function(req)
    local q = req.query
    local all = journal.list("ntf", limit_args(q))
    local out = json.array()
    for _, n in ipairs(all) do
      if (q.event_type == nil or n.event_type == q.event_type) and (q.mchid == nil or n.mchid == q.mchid)
        and (q.status == nil or n.status == q.status) then
        out[#out + 1] = n
      end
    end
    return ok { data = out }
  end },
  { "DELETE", "^/sandbox/notifications$", function()
    journal.clear("ntf")
    return 204
  end },
  { "GET", "^/sandbox/clock$", function() return ok(clock_view()) end },
  { "POST", "^/sandbox/clock$", function(req)
    local v, err = set_clock(req.json)
    if not v then return bad(err) end
    return ok(v)
  end },
  { "POST", "^/sandbox/reset$", function(_, server) return ok(M.reset(server)) end },
  { "GET", "^/sandbox/faults$", function() return ok { data = faults_view() } end },
  { "POST", "^/sandbox/faults$", function(req)
    local f, err = M.add_fault(req.json)
    if not f then return bad(err) end
    return ok(f)
  end },
  { "DELETE", "^/sandbox/faults$", function()
    return ok { removed = M.clear_faults() }
  end },
  { "DELETE", "^/sandbox/faults/(%d+)$", function(_, _, id)
    local n = M.clear_faults(tonumber(id))
    if n == 0 then return util.errors.answer("NOT_FOUND", "no fault " .. id) end
    return ok { removed = n }
  end },
}

--- Handle a /sandbox/... request. req: { method, path, raw_query, query, raw_body, json, request_id }.
-- Returns status, body (table or string or nil), headers.
function M.dispatch(req, server)
  local allowed
  for _, r in ipairs(builtin) do
    local caps = { req.path:match(r[2]) }
    if caps[1] ~= nil then
      if r[1] == req.method then
        return r[3](req, server, unpack(caps))
      end
      allowed = allowed and (allowed .. ", " .. r[1]) or r[1]
    end
  end
  -- PayScore control routes (sandbox.payscore.control_routes), with the handler contract of sandbox/DESIGN.md
  local status, body, headers, allow = server.route(server.control_routes, req, true)
  if status then return status, body, headers end
  allowed = allowed or allow
  if allowed then
    local st, b = util.errors.answer("METHOD_NOT_ALLOWED", "use " .. allowed)
    return st, b, { Allow = allowed }
  end
  return util.errors.answer("NOT_FOUND", "no control endpoint " .. req.method .. " " .. req.path)
end

return M
