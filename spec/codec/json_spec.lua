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

describe("json.encode: exact text and messages", function()
  it("writes the seed create body byte for byte", function()
    local body = {
      out_order_no = "1234323JKHDFE1243252", appid = "wxd678efh567hg6787", service_id = "500001",
      service_introduction = "充电宝租借",
      post_payments = { { name = "租金", amount = 40000, description = "2元/小时", count = 1 },
        { name = "服务费", amount = 400.0, description = "每次 4 元", count = 2 } },
      post_discounts = { { name = "新用户优惠", description = "首单立减", amount = 100, count = 1 } },
      time_range = { start_time = "OnAccept", end_time = "20251231235959", start_time_remark = "借出" },
      location = { start_location = "北京市海淀区 A 座" },
      risk_fund = { name = "DEPOSIT", amount = 99900, description = "押金" },
      attach = "order%3D1234%26shop%3D77", notify_url = "https://merchant.example.com/wxpay/payscore/notify",
      need_user_confirm = true, device = { start_device_id = "SN20251231A001", materiel_no = "M1000023" },
      extra = json.empty_array, remark = "a/b\\c\"d\te\127\1",
    }
    assert.equal('{"appid":"wxd678efh567hg6787","attach":"order%3D1234%26shop%3D77","device":{"materiel_no":'
      .. '"M1000023","start_device_id":"SN20251231A001"},"extra":[],"location":{"start_location":"北京市海淀区 A 座"},'
      .. '"need_user_confirm":true,"notify_url":"https://merchant.example.com/wxpay/payscore/notify","out_order_no":'
      .. '"1234323JKHDFE1243252","post_discounts":[{"amount":100,"count":1,"description":"首单立减","name":'
      .. '"新用户优惠"}],"post_payments":[{"amount":40000,"count":1,"description":"2元/小时","name":"租金"},'
      .. '{"amount":400,"count":2,"description":"每次 4 元","name":"服务费"}],"remark":"a/b\\\\c\\"d\\te\127\\u0001",'
      .. '"risk_fund":{"amount":99900,"description":"押金","name":"DEPOSIT"},"service_id":"500001",'
      .. '"service_introduction":"充电宝租借","time_range":{"end_time":"20251231235959","start_time":"OnAccept",'
      .. '"start_time_remark":"借出"}}', enc(body))
  end)

  it("names the refused number exactly", function()
    local BEYOND = " is beyond ±(2^53-1), not exactly representable on LuaJIT; send large identifiers as strings"
    assert.equal("/a: must be an integer, got 0.10000000000000001", enc_err{ a = 0.1 }.message)
    assert.equal("/a: must be an integer, got 0.33333333333333331", enc_err{ a = 1 / 3 }.message)
    assert.equal("/a: must be an integer, got -0.5", enc_err{ a = -0.5 }.message)
    assert.equal("/a: integer 1.0000000000000001e+300" .. BEYOND, enc_err{ a = 1e300 }.message)
    assert.equal("/a: integer -1.0000000000000001e+300" .. BEYOND, enc_err{ a = -1e300 }.message)
    assert.equal("/a: integer 9007199254740992" .. BEYOND, enc_err{ a = 2 ^ 53 }.message)
    assert.equal("/~0~1/~1~0/0: must be an integer, got inf", enc_err{ ["~/"] = { ["/~"] = { math.huge } } }.message)
    if is54 then
      assert.equal("/a: integer 9223372036854775807" .. BEYOND, enc_err{ a = math.maxinteger }.message)
    end
  end)

  it("names the offending key of a mixed or sparse table exactly", function()
    assert.equal("sparse or mixed table: key 1.5 in an array of length 1", enc_err{ [1] = 1, [1.5] = 2 }.message)
    assert.equal("mixed or sparse table: key 1 in an object (only string keys; an array must be a sequence 1..n)",
      enc_err(json.object{ 1 }).message)
    assert.equal("/x: mixed or sparse table: key 1.5 in an object (only string keys; an array must be a sequence "
      .. "1..n)", enc_err{ x = { [1.5] = 1 } }.message)
    assert.equal("/x: non-string key (boolean) in an object", enc_err{ x = { [true] = 1 } }.message)
    assert.equal("/t: sparse or mixed table: key 2 in an array of length 0", enc_err{ t = json.array{ [2] = 1 } }.message)
    assert.equal('/t: mixed table: string key "a\\\n\\0b\\"\\\\" in an array',
      enc_err{ t = { 1, 2, ["a\n\0b\"\\"] = 3 } }.message)
    assert.equal("/t: sparse or mixed table: key -1 in an array of length 2", enc_err{ t = { 1, 2, [-1] = 3 } }.message)
    assert.equal("/t: sparse or mixed table: key 2.5 in an array of length 2", enc_err{ t = { 1, 2, [2.5] = 3 } }.message)
    assert.equal("/t: sparse or mixed table: key false in an array of length 2",
      enc_err{ t = { 1, 2, [false] = 3 } }.message)
    assert.equal("/a/1: invalid UTF-8 at byte 4 of the string", enc_err{ a = { "ok", "bad\255" } }.message)
    assert.equal("/a/b: cannot encode a thread value", enc_err{ a = { b = coroutine.create(print) } }.message)
    assert.equal("cannot encode a nil value", enc_err(nil).message)
  end)

  it("reports the first error in key order, keys and values alike", function()
    assert.equal("/a: must be an integer, got 0.5", enc_err{ a = 0.5, ["k\255"] = 1 }.message)
    assert.equal("/A\255: key: invalid UTF-8 at byte 2 of the string", enc_err{ ["A\255"] = 1, z = 0.5 }.message)
    assert.equal("/z: must be an integer, got 0.5", enc_err{ ["\255"] = 1, z = 0.5 }.message) -- "\255" sorts last
    assert.equal("/: must be an integer, got 1.5", enc_err{ [""] = 1.5 }.message)
    assert.equal("/", enc_err{ [""] = 1.5 }.pointer)
  end)

  it("reads marks as getmetatable() answers them (__metatable)", function()
    assert.equal("[1,2]", enc(setmetatable({ 1, 2 }, { __metatable = json.array_mt })))
    assert.equal("[]", enc(setmetatable({ 1, 2, 3 }, { __metatable = getmetatable(json.empty_array) })))
    assert.equal("{}", enc(setmetatable({ 1 }, { __metatable = getmetatable(json.empty_object) })))
    assert.equal('{"a":1}', enc(setmetatable({ a = 1 }, { __metatable = false })))
    assert.equal("{}", enc(setmetatable({}, { __metatable = "locked" })))
    assert.equal("[1]", enc(setmetatable({ 1 }, { __metatable = "locked" })))
    assert.equal('{"a":[2]}', enc{ a = setmetatable({ 2 }, { __index = function() return 0 end }) })
  end)

  it("writes lua-cjson's empty array marker as [] when lua-cjson has one", function()
    local cjson = require "cjson"
    local saved = cjson.empty_array
    local marker = io.stdout -- any userdata: lua-cjson 2.1.0 (Debian 12) has no marker of its own
    cjson.empty_array = marker
    local ok, s = pcall(json.encode, { list = marker })
    cjson.empty_array = saved
    assert.is_true(ok, s)
    assert.equal('{"list":[]}', s)
    assert.equal("/list: cannot encode a userdata value", enc_err{ list = marker }.message)
  end)

  it("encodes the same under repeated and interleaved calls (no state kept between calls)", function()
    local a = { z = { 1, 2 }, y = json.array{}, x = "é" }
    local b = { ["\255"] = 1 }
    local first = enc(a)
    for _ = 1, 50 do
      assert.equal(first, enc(a))
      assert.is_nil((json.encode(b)))
    end
    assert.equal('{"x":"é","y":[],"z":[1,2]}', first)
  end)
end)

describe("json.encode: error pointers (randomized, fixed seed)", function()
  local seed = 777
  local function rnd(n)
    seed = seed * 48271 % 2147483647
    return seed % n + 1
  end
  local KEYS = { "a", "b", "amount", "~", "/", "a/b", "~1", "", "中", "x y", "\"" }
  local BAD = {
    { 0.5, "must be an integer, got 0.5" },
    { 0 / 0, "must be an integer, got NaN" },
    { json.null, "JSON null is not accepted by the API; omit the key" },
    { "x\255", "invalid UTF-8 at byte 2 of the string" },
    { "\240\159\152\128", "4-byte UTF-8 sequence (U+1F600) at byte 1 of the string: the API accepts only 1-3-byte UTF-8" },
    { print, "cannot encode a function value" },
    { -2 ^ 53, "integer -9007199254740992 is beyond ±(2^53-1), not exactly representable on LuaJIT; send large "
      .. "identifiers as strings" },
  }
  local function escape(tok)
    return (tostring(tok):gsub("~", "~0"):gsub("/", "~1"))
  end

  -- a valid value with one bad leaf at a known path; returns value, pointer
  local function build(depth)
    if depth == 0 or rnd(4) == 1 then
      local bad = BAD[rnd(#BAD)]
      return bad[1], "", bad[2]
    end
    local child, ptr, msg = build(depth - 1)
    if rnd(2) == 1 then
      local a = json.array{}
      local n = rnd(4)
      local at = rnd(n)
      for i = 1, n do a[i] = (i == at) and child or { ok = i, s = "v" .. i } end
      return a, "/" .. (at - 1) .. ptr, msg
    else
      local o = {}
      local k = KEYS[rnd(#KEYS)]
      for _ = 1, rnd(4) do
        local other = KEYS[rnd(#KEYS)] .. "_"
        o[other] = { n = rnd(100), t = json.array{ true, "x" } }
      end
      o[k] = child
      return o, "/" .. escape(k) .. ptr, msg
    end
  end

  it("points at the one bad value, over 500 generated bodies", function()
    for i = 1, 500 do
      local v, ptr, msg = build(rnd(8))
      local err = enc_err(v)
      assert(err.pointer == ptr, ("value %d: pointer %q, expected %q"):format(i, err.pointer, ptr))
      local expected = (ptr ~= "" and (ptr .. ": ") or "") .. msg
      assert(err.message == expected, ("value %d: %q, expected %q"):format(i, err.message, expected))
    end
  end)
end)
