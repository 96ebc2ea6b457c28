--- Promises for the `*Async` verbs.
--
-- A promise stands for the result of a request already in flight. It settles
-- when somebody waits on it (`:wait()`, or `wechatpay.all`): the transport is
-- driven until that request is finished, and every other request finishing on
-- the way is kept for its own promise. Callbacks given to `:next` therefore run
-- inside the `:wait()` of the chain they belong to, in order, exactly once.
--
--     local res, err = wx.v3.payscore.serviceorder:postAsync{ json = body }
--       :next(function(res) return res.data end, function(err) return nil, err end)
--       :wait()
--
-- A callback's return values become the next promise's result: `value` (or a
-- promise, which is waited on) fulfils it, `nil, err` rejects it, and a raised
-- Lua error rejects it with that error value.
-- @module wechatpay.client.promise

local Promise = {}
Promise.__index = Promise

local PENDING, DONE = 0, 1

--- A promise whose result is produced by `settle()` (called once, on demand).
-- @tparam function settle returns `value` or `nil, err`
function Promise.new(settle)
  return setmetatable({ _settle = settle, _state = PENDING }, Promise)
end

--- An already fulfilled promise.
function Promise.resolved(value)
  return setmetatable({ _state = DONE, _value = value }, Promise)
end

--- An already rejected promise.
function Promise.rejected(err)
  return setmetatable({ _state = DONE, _err = err }, Promise)
end

local function is_promise(v)
  return getmetatable(v) == Promise
end
Promise.is = is_promise

local function adopt(ok, a, b)
  if not ok then return nil, a end          -- raised error: rejection
  if is_promise(a) then return a:wait() end -- a promise: its result
  if a == nil then return nil, b end        -- nil, err: rejection
  return a
end

--- Wait for the result.
-- @return value, or `nil, err`
function Promise:wait()
  if self._state == PENDING then
    local settle = self._settle
    self._settle = nil
    local ok, v, e = pcall(settle)
    if not ok then v, e = nil, v end
    self._value, self._err, self._state = v, e, DONE
    if v == nil and e == nil then
      self._err = "promise settled without a value or an error"
    end
  end
  if self._value ~= nil then return self._value end
  return nil, self._err
end

--- Chain callbacks.
-- @tparam[opt] function on_ok called with the value
-- @tparam[opt] function on_err called with the error
-- @return a new promise
function Promise:next(on_ok, on_err)
  local parent = self
  return Promise.new(function()
    local v, e = parent:wait()
    if v ~= nil then
      if on_ok then return adopt(pcall(on_ok, v)) end
      return v
    end
    if on_err then return adopt(pcall(on_err, e)) end
    return nil, e
  end)
end
Promise.and_then = Promise.next

--- Shorthand for `:next(nil, on_err)`.
function Promise:catch(on_err)
  return self:next(nil, on_err)
end

--- Is the result known (without waiting)?
function Promise:settled()
  return self._state == DONE
end

--- A promise for all of `list`: fulfilled with the array of values (same order),
-- or rejected with the first error met in order (its `index` field says which).
function Promise.all(list)
  assert(type(list) == "table", "wechatpay.all expects an array of promises")
  return Promise.new(function()
    local values, first_err = {}, nil
    for i = 1, #list do
      local p = list[i]
      local v, e
      if is_promise(p) then v, e = p:wait() else v = p end
      if v == nil and first_err == nil then
        first_err = e
        if type(e) == "table" and rawget(e, "index") == nil then pcall(rawset, e, "index", i) end
      end
      values[i] = v
    end
    if first_err ~= nil then return nil, first_err end
    return values
  end)
end

return Promise
