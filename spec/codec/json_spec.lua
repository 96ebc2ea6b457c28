-- spec/codec/json_spec.lua - the JSON codec (lua/wechatpay/codec/json.lua) under Lua 5.4 and LuaJIT.
local json = require "wechatpay.codec.json"
local errors = require "wechatpay.errors"

local is54 = math.type ~= nil
local EMOJI = "\240\159\152\128" -- U+1F600, 4 bytes
local ZH = "\228\184\173\230\150\135" -- 中文, 3-byte sequences
local E_ACUTE = "\195\169" -- é

local function enc(v)
  local s, err = json.encode(v)
  assert(s ~= nil, err and tostring(err))
  return s
end

local function enc_err(v)
  local s, err = json.encode(v)
  assert.is_nil(s)
  assert.is_true(errors.is(err))
  assert.equal("usage", err.kind)
  return err
end

local function dec(s)
  local v, err = json.decode(s)
  assert(err == nil, err and tostring(err))
  return v
end

-- deep equality that also requires decoded arrays to carry array_mt where `a` is marked as an array
local function same(a, b, path)
  path = path or ""
  if type(a) ~= type(b) then return false, path .. ": type " .. type(a) .. " vs " .. type(b) end
  if type(a) ~= "table" then
    if a ~= b then return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    if is54 and type(a) == "number" and math.type(a) ~= math.type(b) then
      return false, path .. ": number subtype " .. math.type(a) .. " vs " .. math.type(b)
    end
    return true
  end
  if a == json.null or b == json.null then return a == b, path .. ": null" end
  if json.is_array(a) ~= json.is_array(b) then return false, path .. ": array-ness differs" end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "/" .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "/" .. tostring(k) .. ": extra key" end
  end
  return true
end

describe("json.encode", function()
  describe("numbers", function()
    it("writes integers without a decimal point or exponent", function()
      assert.equal("40000", enc(40000))
      assert.equal("0", enc(0))
      assert.equal("-1", enc(-1))
      assert.equal("123456789012345", enc(123456789012345))
      assert.equal("100000000000000", enc(1e14))
      assert.equal("9007199254740991", enc(9007199254740991))
      assert.equal("-9007199254740991", enc(-9007199254740991))
      assert.equal('{"amount":400,"total":40000}', enc{ total = 40000, amount = 400 })
    end)

    it("writes a float with an integral value as the integer", function()
      assert.equal("40000", enc(40000.0))
      assert.equal("100", enc(1e2))
      assert.equal("0", enc(-0.0))
      assert.equal("[1,2]", enc{ 2.0 / 2, 4 / 2 })
    end)

    it("refuses non-integral numbers with the JSON Pointer of the value", function()
      local err = enc_err{ out_order_no = "N1", post_payments = { { name = "x", amount = 400.5 } } }
      assert.equal("/post_payments/0/amount: must be an integer, got 400.5", err.message)
      assert.equal("/post_payments/0/amount", err.pointer)
      assert.equal("wechatpay usage error: /post_payments/0/amount: must be an integer, got 400.5", tostring(err))
      assert.matches("^/a: must be an integer, got 0%.1", enc_err{ a = 0.1 }.message)
      assert.matches("^must be an integer", enc_err(1.5).message)
    end)

    it("refuses NaN and infinities", function()
      assert.equal("/a: must be an integer, got NaN", enc_err{ a = 0 / 0 }.message)
      assert.matches("^/a: must be an integer, got %-?inf", enc_err{ a = math.huge }.message)
      assert.matches("^/a/0: must be an integer, got %-inf", enc_err{ a = { -math.huge } }.message)
    end)

    it("refuses integers beyond ±(2^53-1)", function()
      assert.matches("beyond", enc_err{ id = 2 ^ 53 }.message)
      assert.matches("^/id: integer", enc_err{ id = -(2 ^ 53) }.message)
      assert.matches("beyond", enc_err(1e300).message)
      if is54 then
        assert.matches("^/id: integer 9007199254740992 is beyond", enc_err{ id = math.tointeger(2 ^ 53) }.message)
        assert.matches("beyond", enc_err(math.maxinteger).message)
        assert.matches("beyond", enc_err(math.mininteger).message)
      end
    end)
  end)

  describe("strings", function()
    it("keeps UTF-8 and '/' raw and escapes quote, backslash and control characters", function()
      assert.equal('"abc"', enc("abc"))
      assert.equal('""', enc(""))
      assert.equal('"' .. ZH .. E_ACUTE .. '/x"', enc(ZH .. E_ACUTE .. "/x"))
      assert.equal([["a\"b\\c"]], enc('a"b\\c'))
      assert.equal([["\b\f\n\r\t\u0000\u001f"]], enc("\b\f\n\r\t\0\31"))
      assert.equal('"\127"', enc("\127"))
      assert.equal('"\239\191\191"', enc("\239\191\191")) -- U+FFFF, 3 bytes
    end)

    it("refuses 4-byte UTF-8 (emoji) naming the byte", function()
      local err = enc_err{ remark = "ab" .. EMOJI }
      assert.matches("^/remark: 4%-byte UTF%-8 sequence %(U%+1F600%) at byte 3", err.message)
    end)

    it("refuses invalid UTF-8", function()
      assert.matches("^/a: invalid UTF%-8 at byte 2", enc_err{ a = "x\255" }.message)
      assert.matches("invalid UTF%-8 at byte 1", enc_err("\192\128").message)       -- overlong
      assert.matches("invalid UTF%-8 at byte 1", enc_err("\237\160\128").message)   -- encoded surrogate
      assert.matches("invalid UTF%-8 at byte 2", enc_err("a\228\184").message)      -- truncated
    end)

    it("validates object keys too", function()
      assert.matches("key: invalid UTF%-8", enc_err{ ["k\255"] = 1 }.message)
      assert.matches("4%-byte", enc_err{ [EMOJI] = 1 }.message)
      assert.equal('{"\\"k\\n":1}', enc{ ['"k\n'] = 1 })
    end)
  end)

  describe("tables", function()
    it("sorts object keys byte-wise", function()
      assert.equal('{"A":3,"_":5,"a":2,"aa":6,"b":1,"' .. E_ACUTE .. '":4}',
        enc{ b = 1, a = 2, A = 3, [E_ACUTE] = 4, _ = 5, aa = 6 })
    end)

    it("sorts large objects byte-wise too", function()
      local t, names = {}, {}
      for i = 1, 40 do
        local k = string.char(65 + (i * 7) % 26) .. string.char(97 + (i * 11) % 26) .. (i % 3 == 0 and "_" or "") .. i
        t[k] = i
        names[#names + 1] = k
      end
      table.sort(names, function(a, b) -- explicit byte order as the reference
        for i = 1, math.min(#a, #b) do
          if a:byte(i) ~= b:byte(i) then return a:byte(i) < b:byte(i) end
        end
        return #a < #b
      end)
      local parts = {}
      for i, k in ipairs(names) do parts[i] = '"' .. k .. '":' .. t[k] end
      assert.equal("{" .. table.concat(parts, ",") .. "}", enc(t))
    end)

    it("sorts byte-wise under another collation locale too", function()
      local saved = os.setlocale(nil, "collate")
      if not os.setlocale("C.UTF-8", "collate") then
        pending("no C.UTF-8 locale here")
        return
      end
      local ok, s = pcall(json.encode, { a = 1, B = 2, _ = 3, ["a\0"] = 4, [E_ACUTE] = 5, ab = 6 })
      os.setlocale(saved, "collate")
      assert.is_true(ok, s)
      assert.equal('{"B":2,"_":3,"a":1,"a\\u0000":4,"ab":6,"' .. E_ACUTE .. '":5}', s)
    end)

    it("encodes sequences as arrays and a plain empty table as {}", function()
      assert.equal("[1,2,3]", enc{ 1, 2, 3 })
      assert.equal('["a",{"b":true},[false]]', enc{ "a", { b = true }, { false } })
      assert.equal("{}", enc({}))
      assert.equal('{"a":{}}', enc{ a = {} })
    end)

    it("has markers for empty arrays and objects", function()
      assert.equal("[]", enc(json.empty_array))
      assert.equal("{}", enc(json.empty_object))
      assert.equal("[]", enc(json.array()))
      assert.equal("[]", enc(json.array{}))
      assert.equal("[1]", enc(json.array{ 1 }))
      assert.equal("{}", enc(json.object()))
      assert.equal('{"a":[],"b":{}}', enc{ a = json.empty_array, b = json.empty_object })
      assert.is_true(json.is_array(json.empty_array))
      assert.is_true(json.is_array(json.array{}))
      assert.is_false(json.is_array({ 1 }))
      assert.has_error(function() json.empty_array[1] = 1 end)
      assert.has_error(function() json.empty_object.a = 1 end)
      assert.has_error(function() json.array(json.empty_object) end)
      assert.has_error(function() json.object(json.empty_array) end)
      assert.has_error(function() json.array(json.null) end)
      assert.equal("[]", enc(json.empty_array))
      assert.has_error(function() json.array("x") end)
      assert.has_error(function() json.object(1) end)
    end)

    it("refuses an object marked table with integer keys, and arrays with string keys", function()
      assert.matches("key 1 in an object", enc_err(json.object{ 1 }).message)
      assert.matches('string key "x" in an array', enc_err(json.array{ x = 1 }).message)
    end)

    it("refuses mixed and sparse tables", function()
      assert.matches('^/t: mixed table: string key "x" in an array', enc_err{ t = { 1, 2, x = 3 } }.message)
      assert.matches("key 2 in an object", enc_err{ [2] = "a" }.message)
      assert.matches("sparse", enc_err{ 1, nil, 3 }.message)
      assert.matches("sparse", enc_err(json.array{ [1] = 1, [3] = 3 }).message)
      assert.matches("key 1.5 in an", enc_err{ [1] = 1, [1.5] = 2 }.message)
      assert.matches("non%-string key %(boolean%)", enc_err{ [true] = 1 }.message)
    end)

    it("refuses null (ours and lua-cjson's) with the key to omit", function()
      local err = enc_err{ a = { b = json.null } }
      assert.equal("/a/b: JSON null is not accepted by the API; omit the key", err.message)
      assert.matches("null is not accepted", enc_err(json.null).message)
      local cjson = require "cjson"
      assert.matches("^/x: JSON null is not accepted by the API; omit the key %(cjson%.null%)",
        enc_err{ x = cjson.null }.message)
      assert.equal("null", tostring(json.null))
    end)

    it("refuses functions, userdata, threads and cycles", function()
      assert.equal("/f: cannot encode a function value", enc_err{ f = print }.message)
      assert.equal("/1: cannot encode a userdata value", enc_err{ 1, io.stdout }.message)
      assert.equal("cannot encode a thread value", enc_err(coroutine.create(print)).message)
      local t = { a = {} }
      t.a.b = t
      assert.equal("/a/b: cycle: a table contains itself", enc_err(t).message)
      local arr = json.array{}
      arr[1] = arr
      assert.matches("^/0: cycle", enc_err(arr).message)
    end)

    it("allows the same table twice when it is not a cycle", function()
      local shared = { 1 }
      assert.equal('{"a":[1],"b":[1]}', enc{ a = shared, b = shared })
    end)

    it("escapes JSON Pointer tokens", function()
      assert.equal("/a~1b/c~0d: must be an integer, got 0.5", enc_err{ ["a/b"] = { ["c~d"] = 0.5 } }.message)
    end)

    it("limits nesting to 1000 levels, like the decoder", function()
      local function nest(n)
        local t = {}
        local root = t
        for _ = 2, n do
          local c = {}
          t[1] = c
          t = c
        end
        return root
      end
      local ok = enc(nest(1000))
      assert.equal(string.rep("[", 999) .. "{}" .. string.rep("]", 999), ok)
      assert.is_table(dec(ok))
      assert.matches("nesting deeper than 1000", enc_err(nest(1001)).message)
      assert.is_nil(json.decode(string.rep("[", 1001) .. string.rep("]", 1001)))
    end)
  end)
end)

describe("json.decode", function()
  it("keeps amounts integers", function()
    local v = dec('{"a":40000}')
    assert.equal(40000, v.a)
    if is54 then assert.equal("integer", math.type(v.a)) end
    assert.equal('{"a":40000}', enc(v))
    if is54 then
      assert.equal("float", math.type(dec("1.5")))
      assert.equal("float", math.type(dec("1e2")))
      assert.equal("integer", math.type(dec("-9007199254740993")))
      assert.equal(-9007199254740993, dec("-9007199254740993"))
    else
      assert.equal(9007199254740992, dec("9007199254740993")) -- documented: nearest double
    end
    assert.equal(1.5, dec("1.5"))
    assert.equal(-0.25, dec("-25e-2"))
  end)

  it("keeps empty arrays and arrays of objects arrays when re-encoded", function()
    local v = dec('{"list":[],"o":{},"post_payments":[{"amount":1,"name":"a"},{"amount":2,"name":"b"}]}')
    assert.is_true(json.is_array(v.list))
    assert.is_false(json.is_array(v.o))
    assert.is_true(json.is_array(v.post_payments))
    assert.equal('{"list":[],"o":{},"post_payments":[{"amount":1,"name":"a"},{"amount":2,"name":"b"}]}', enc(v))
    assert.equal("[]", enc(dec("[]")))
    assert.equal("[[],[{}]]", enc(dec("[[],[{}]]")))
  end)

  it("decodes null as json.null and true/false as booleans", function()
    local v = dec('{"a":null,"b":[null],"c":true,"d":false}')
    assert.equal(json.null, v.a)
    assert.equal(json.null, v.b[1])
    assert.is_true(v.c)
    assert.is_false(v.d)
  end)

  it("returns a decode error with the message and the full raw body", function()
    local body = '<html><body>' .. string.rep("502 Bad Gateway ", 40) .. '</body></html>'
    local v, err = json.decode(body)
    assert.is_nil(v)
    assert.is_true(errors.is(err))
    assert.equal("decode", err.kind)
    assert.equal("JSON: unexpected character '<' at byte 1", err.message)
    assert.equal(body, err.body)
    local text = tostring(err)
    assert.matches("^wechatpay decode error: JSON: unexpected character '<' at byte 1", text)
    assert.is_true(#text < 320, "__tostring keeps the body short: " .. #text)
    local _, e2 = json.decode('{"a":1,}')
    assert.equal("JSON: unexpected character '}' at byte 8", e2.message)
    local _, e3 = json.decode("")
    local _, e4 = json.decode('{"secret":', { body = false })
    assert.is_nil(e4.body)
    assert.is_nil(tostring(e4):find("secret", 1, true))
    assert.equal("JSON: unexpected end of input at byte 1", e3.message)
  end)

  it("round-trips a big body (~1 MB) and refuses hostile nesting with an error", function()
    local items = json.array{}
    for i = 1, 5000 do
      items[i] = { seq = i, amount = i * 100, name = ZH .. i, remark = string.rep("x", 150) }
    end
    local s = enc{ items = items }
    assert.is_true(#s > 900000, #s)
    local v = dec(s)
    assert.equal(5000, #v.items)
    assert.equal(500000, v.items[5000].amount)
    assert.equal(s, enc(v))
    for _, hostile in ipairs{ string.rep("[", 200000), string.rep('{"a":', 200000), string.rep("[{},", 200000) } do
      local r, err = json.decode(hostile)
      assert.is_nil(r)
      assert.equal("decode", err.kind)
      assert.matches("nesting deeper than 1000 levels", err.message, nil, true)
      assert.equal(hostile, err.body)
    end
  end)

  it("raises for a non-string argument (a programming mistake)", function()
    assert.has_error(function() json.decode(nil) end)
    assert.has_error(function() json.decode({}) end)
  end)

  it("decodes what lua-cjson encodes, and lua-cjson decodes what we encode", function()
    local cjson = require "cjson"
    local doc = { a = { 1, 2, 3 }, b = "x\"y\\z\n" .. ZH, c = { d = true, e = false }, n = -42 }
    local ours = dec(cjson.encode(doc))
    local back = cjson.decode(enc(doc))
    for _, v in ipairs{ ours, back } do
      assert.equal(3, #v.a)
      assert.equal(2, v.a[2])
      assert.equal(doc.b, v.b)
      assert.is_true(v.c.d)
      assert.is_false(v.c.e)
      assert.equal(-42, v.n)
    end
  end)
end)

describe("json round trip (randomized, fixed seed)", function()
  -- equality ignoring array marks and number subtypes (lua-cjson 2.1.0 decodes [] as a plain table, 1 as 1.0)
  local function loose(a, b, path)
    path = path or ""
    if type(a) ~= type(b) then return false, path .. ": type " .. type(a) .. " vs " .. type(b) end
    if type(a) ~= "table" then return a == b, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    for k, v in pairs(a) do
      local ok, why = loose(v, b[k], path .. "/" .. tostring(k))
      if not ok then return false, why end
    end
    for k in pairs(b) do
      if a[k] == nil then return false, path .. "/" .. tostring(k) .. ": extra key" end
    end
    return true
  end
  local CHARS = { "a", "Z", "0", " ", "/", '"', "\\", "\n", "\t", "\0", "\31", "\127", E_ACUTE, "\228\184\173",
    "\239\191\191", "\223\191", "~", "{", "}", "[", "]", ",", ":" }
  local seed = 20240601
  -- a small LCG of our own: the same sequence under 5.4 and LuaJIT
  local function rnd(n)
    seed = seed * 48271 % 2147483647 -- MINSTD: products stay below 2^53, exact on LuaJIT too
    return seed % n + 1
  end
  local function rstring()
    local t = {}
    for i = 1, rnd(12) - 1 do t[i] = CHARS[rnd(#CHARS)] end
    return table.concat(t)
  end
  local function rvalue(depth)
    local k = rnd(depth > 4 and 4 or 7)
    if k == 1 then return rstring()
    elseif k == 2 then
      local n = rnd(2000001) - 1000001
      if rnd(4) == 1 then n = n * 1000000000 end -- up to ~1e15, still < 2^53
      return n
    elseif k == 3 then return rnd(2) == 1
    elseif k == 4 then return rnd(2) == 1 and -9007199254740991 or 9007199254740991
    elseif k == 5 or k == 6 then
      local a = json.array{}
      for i = 1, rnd(5) - 1 do a[i] = rvalue(depth + 1) end
      return a
    else
      local o = {}
      for _ = 1, rnd(5) - 1 do o[rstring()] = rvalue(depth + 1) end
      return o
    end
  end

  it("decode(encode(v)) == v and encoding is stable, over 500 generated values", function()
    local cjson = require "cjson"
    for i = 1, 500 do
      local v = rvalue(0)
      local s = enc(v)
      local back = dec(s)
      local ok, why = same(v, back)
      assert(ok, "value " .. i .. " " .. s .. ": " .. tostring(why))
      assert.equal(s, enc(back))
      -- an independent decoder (lua-cjson) reads the same value from the text we produced
      local ok2, why2 = loose(v, cjson.decode(s))
      assert(ok2, "cjson disagrees on value " .. i .. " " .. s .. ": " .. tostring(why2))
    end
  end)
end)
