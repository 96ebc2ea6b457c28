--- Chainable endpoint nodes (apiv3-protocol.md §7).
--
--     wx.v3.payscore.serviceorder:post{ json = {...} }
--     wx.v3.payscore.serviceorder._out_order_no_.cancel:post{ out_order_no = "N1", json = {...} }
--     wx:chain("v3/payscore/serviceorder"):get{ query = {...} }
--     wx["v3/payscore/serviceorder"]:post{ json = {...} }
--
-- A node is immutable: it holds its client and its path template; indexing
-- returns a (cached) child node. Identifier keys are normalised by
-- `codec.uri.segment`; `chain(s)` and non-identifier keys are appended
-- literally. Verbs are callable as `node:post{}` and `node.post{}`.
-- @module wechatpay.client.chain

local uri = require "wechatpay.codec.uri"
local pipeline = require "wechatpay.client.pipeline"

local M = {}

-- Node fields live at integer keys, which no path segment uses.
local CLIENT, PATH = 1, 2

local VERBS = { get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE" }

local Node = {}

local function new_node(client, path)
  return setmetatable({ [CLIENT] = client, [PATH] = path }, Node)
end
M.new_node = new_node

local function join(path, seg)
  if path == "" then return seg end
  if path:sub(-1) == "/" then return path .. seg end
  return path .. "/" .. seg
end

local function chain(node, s)
  if type(s) ~= "string" or s == "" then
    error("chain() expects a non-empty string, got " .. type(s), 2)
  end
  -- literal: may hold '/', placeholders, any case; a leading '/' is not doubled
  local path = rawget(node, PATH)
  if path ~= "" and s:sub(1, 1) == "/" then s = s:sub(2) end
  return new_node(rawget(node, CLIENT), join(path, s))
end
M.chain = chain

-- a verb bound to its node, usable as node:post(opts) and node.post(opts)
local function verb(node, method, async)
  local client, path = rawget(node, CLIENT), rawget(node, PATH)
  local call = async and pipeline.call_async or pipeline.call
  return function(a, b)
    local opts = a
    if a == node then opts = b end
    return call(client, method, path, opts)
  end
end

Node.__index = function(node, key)
  if type(key) ~= "string" then return nil end
  local child
  if key == "chain" then
    child = chain
  elseif VERBS[key] then
    child = verb(node, VERBS[key], false)
  elseif key:sub(-5) == "Async" and VERBS[key:sub(1, -6)] then
    child = verb(node, VERBS[key:sub(1, -6)], true)
  else
    child = new_node(rawget(node, CLIENT), join(rawget(node, PATH), uri.segment(key)))
  end
  rawset(node, key, child)
  return child
end

Node.__tostring = function(node)
  return "wechatpay endpoint /" .. rawget(node, PATH)
end

Node.__newindex = function()
  error("wechatpay endpoint nodes are immutable", 2)
end

--- The path template of a node (for logs and tests).
function M.path(node) return rawget(node, PATH) end

return M
