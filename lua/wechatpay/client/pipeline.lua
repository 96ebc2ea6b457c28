--- The request pipeline: build, validate, encode, sign, send, verify, decode.
--
-- Every call of every verb goes through `prepare` (no I/O: usage errors come
-- out here) and `finish` (turns a transport answer into a result or an error),
-- with one transport exchange in between, blocking or asynchronous. Nothing
-- else in the module builds, signs or verifies a request.
-- @module wechatpay.client.pipeline

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"
local json = require "wechatpay.codec.json"
local uri = require "wechatpay.codec.uri"
local formatter = require "wechatpay.crypto.formatter"
local verifier = require "wechatpay.client.verifier"
local multipart = require "wechatpay.client.multipart"
local Promise = require "wechatpay.client.promise"

local ok_validate, validate = pcall(require, "wechatpay.payscore.validate")
if not ok_validate then validate = nil end

local M = {}

local type, pairs, tostring = type, pairs, tostring
local concat = table.concat
local sign = core.sign

--- Option keys of a verb call; every other key is a placeholder value.
M.OPTIONS = { json = true, body = true, query = true, headers = true, timeout = true, media = true, validate = true }

local DEFAULT_ACCEPT = "application/json, text/plain, application/x-gzip, application/pdf, image/png, image/*;q=0.5"
local JSON_TYPE = "application/json; charset=utf-8"

local function usage(message, extra)
  local f = { message = message }
  if extra then for k, v in pairs(extra) do f[k] = v end end
  return nil, errors.new("usage", f)
end

-- Strings produced by client:encrypt() that a body may carry: `Wechatpay-Serial`
-- must name their key. Walk only when such strings are pending.
local function encrypted_serials(client, value, found, seen)
  local t = type(value)
  if t == "string" then
    local serial = client._encrypted[value]
    if serial then found[serial] = true end
  elseif t == "table" and not seen[value] then
    seen[value] = true
    for _, v in pairs(value) do encrypted_serials(client, v, found, seen) end
  end
  return found
end

--- Build and sign a request. No I/O.
-- @return req (for the transport, plus bookkeeping) or nil, err
function M.prepare(client, method, template, opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    return usage(("%s %s: options must be a table, got %s"):format(method, template, type(opts)))
  end

  -- path: placeholders from the non-option keys
  local path, perr = uri.expand(template, opts)
  if not path then return nil, perr end
  local query = opts.query
  local target, terr = uri.target(client._base_path, path, query)
  if not target then return nil, terr end
  local full_path = target:match("^[^?]*")

  -- PayScore: check the request against the API documents before anything else
  local warnings
  if validate and opts.validate ~= false and client._validate then
    local ep = validate.find(method, full_path:sub(#client._base_path))
    if ep then
      local params = {}
      for k, v in pairs(opts) do
        if type(k) == "string" and not M.OPTIONS[k] then params[k] = v end
      end
      local body_value = opts.json
      if body_value == nil and type(opts.body) == "string" and opts.body ~= "" then
        -- a raw body is checked as what it says
        local derr
        body_value, derr = json.decode(opts.body, { body = false })
        if body_value == nil then
          return usage(("%s %s: body is not JSON (%s); PayScore endpoints take JSON bodies")
            :format(method, full_path, tostring(derr and derr.message or derr)))
        end
      end
      local ok, problems, warns = validate.request(ep, { json = body_value, query = query, params = params })
      if not ok then
        return usage(("%s %s: %s"):format(method, full_path, validate.format(problems)),
          { problems = problems, endpoint = ep.id })
      end
      if warns and #warns > 0 then warnings = warns end
    end
  end

  -- body
  local body, content_type, signed_body = nil, nil, nil
  if opts.media ~= nil then
    local mp, merr = multipart.build(opts.media)
    if not mp then return nil, merr end
    body, content_type, signed_body = mp.body, mp.content_type, mp.meta
  elseif opts.json ~= nil then
    local s, jerr = json.encode(opts.json)
    if not s then
      jerr.message = ("%s %s: %s"):format(method, full_path, jerr.message or "")
      return nil, jerr
    end
    body, content_type = s, JSON_TYPE
  elseif opts.body ~= nil then
    if type(opts.body) ~= "string" then
      return usage(("%s %s: body must be a string, got %s"):format(method, full_path, type(opts.body)))
    end
    body, content_type = opts.body, JSON_TYPE
  end
  if signed_body == nil then signed_body = body or "" end

  -- headers: defaults, the caller's (Authorization is always ours), then ours
  local headers, index = {}, {}
  local function set(name, value)
    local lname = name:lower()
    local i = index[lname]
    if i then headers[i][2] = value
    else
      headers[#headers + 1] = { name, value }
      index[lname] = #headers
    end
  end
  set("Accept", DEFAULT_ACCEPT)
  if content_type then set("Content-Type", content_type) end
  set("User-Agent", client:user_agent())
  local hs = opts.headers
  if hs ~= nil then
    if type(hs) ~= "table" then return usage("headers must be a table") end
    for k, v in pairs(hs) do
      local name, value = k, v
      if type(k) == "number" and type(v) == "table" then name, value = v[1], v[2] end
      if type(name) ~= "string" or (type(value) ~= "string" and type(value) ~= "number") then
        return usage("headers: names and values must be strings")
      end
      value = tostring(value)
      if name:find("[\r\n:]") or value:find("[\r\n]") then
        return usage(("headers: %q has a line break or colon"):format(name))
      end
      if name:lower() ~= "authorization" then set(name, value) end
    end
  end
  if next(client._encrypted) ~= nil and opts.json ~= nil then
    local found = encrypted_serials(client, opts.json, {}, {})
    local serials = {}
    for s in pairs(found) do serials[#serials + 1] = s end
    if #serials > 1 then
      table.sort(serials)
      return usage("encrypted fields of one request were made with different WeChat Pay keys: "
        .. concat(serials, ", "))
    end
    if #serials == 1 and not index["wechatpay-serial"] then set("Wechatpay-Serial", serials[1]) end
  end

  local ts, nonce = tostring(client._now()), core.nonce()
  local message = formatter.request(method, target, ts, nonce, signed_body)
  local signature, serr = sign(client._key, message)
  if not signature then
    return nil, errors.new("crypto", { reason = "SIGN_FAILED", message = "signing failed: " .. tostring(serr) })
  end
  set("Authorization", formatter.authorization(client._mchid, nonce, signature, ts, client._serial))

  return {
    method = method, url = client._origin .. target, target = target, path = full_path,
    headers = headers, body = body, timeout = opts.timeout or client._timeout, warnings = warnings,
  }
end

local header_mt = {
  __index = function(t, k)
    if type(k) == "string" then return rawget(t, k:lower()) end
  end,
}

local function header_table(list)
  local h = setmetatable({}, header_mt)
  for i = 1, #list do
    local name, value = list[i][1]:lower(), list[i][2]
    if rawget(h, name) == nil then rawset(h, name, value) end
  end
  return h
end

local function is_json(ctype, body)
  if ctype then return ctype:lower():find("json", 1, true) ~= nil end
  local c = body:match("^%s*(.)")
  return c == "{" or c == "["
end

--- Turn the transport's answer into a result or an error.
function M.finish(client, req, res, terr)
  if res == nil then
    if errors.is(terr) then return nil, terr end
    return nil, errors.new("transport", { message = tostring(terr), reason = "other" })
  end
  local status, body = res.status, res.body or ""
  local headers = header_table(res.headers or {})
  local request_id = headers["request-id"]

  if status < 200 or status > 299 then
    local f = { status = status, request_id = request_id, headers = headers, body = body }
    if body ~= "" then
      local data = json.decode(body)
      if type(data) == "table" then
        f.code = type(data.code) == "string" and data.code or nil
        f.message = type(data.message) == "string" and data.message or nil
        f.detail = type(data.detail) == "table" and data.detail or nil
        f.data = data
      end
    end
    -- without a JSON {code, message}, the log line shows an excerpt of the raw body instead
    return nil, errors.new("protocol", f)
  end

  local verified, statement = true, false
  local path = req.path
  local rel = path:sub(#client._base_path)
  if verifier.skipped(rel) then
    verified = false
  else
    local hdr = function(n) return headers[n] end
    local signed_body
    if verifier.statement(path) or verifier.statement(rel) then
      local sha1 = headers["wechatpay-statement-sha1"]
      if sha1 then
        statement = true
        signed_body = '{"sha1":"' .. sha1 .. '"}'
        if core.sha1_hex(body) ~= sha1:lower() then
          return nil, errors.new("verification", {
            reason = "STATEMENT_SHA1_MISMATCH", status = status, request_id = request_id, body = body,
            message = "the statement's SHA-1 differs from Wechatpay-Statement-Sha1",
          })
        end
      end
    end
    local ok, verr = verifier.verify(client, hdr, body,
      { status = status, request_id = request_id, signed_body = signed_body })
    if not ok then return nil, verr end
  end

  local data
  if verified and not statement and body ~= "" and is_json(headers["content-type"], body) then
    local derr
    data, derr = json.decode(body)
    if data == nil then
      return nil, errors.new("decode", {
        status = status, request_id = request_id, body = body, headers = headers,
        message = "answer is not valid JSON: " .. tostring(derr and derr.message or derr),
      })
    end
  end
  return {
    status = status, headers = headers, header_list = res.headers, request_id = request_id,
    body = body, data = data, verified = verified, warnings = req.warnings, reused = res.reused,
  }
end

--- One blocking call.
function M.call(client, method, template, opts)
  local req, err = M.prepare(client, method, template, opts)
  if not req then return nil, err end
  local res, terr = client:transport():request(req)
  return M.finish(client, req, res, terr)
end

--- One asynchronous call: the request is in flight when this returns.
function M.call_async(client, method, template, opts)
  local req, err = M.prepare(client, method, template, opts)
  if not req then return Promise.rejected(err) end
  local future = client:transport():request_async(req)
  return Promise.new(function()
    local res, terr = future:wait()
    return M.finish(client, req, res, terr)
  end)
end


return M
