-- spec/core/json_spec.lua - the C JSON decoder and quoting (src/json.c) with hostile inputs.
-- Also runs under valgrind and ASan: inputs stay small enough to be quick there.
local core = require "wechatpay.core"

local is54 = math.type ~= nil
local ARR = { __name = "test.array" }
local NULL = setmetatable({}, { __name = "test.null" })

local function ok(s)
  local v, err = core.json_decode(s, ARR, NULL)
  assert(err == nil, "expected success for " .. ("%q"):format(s:sub(1, 60)) .. ": " .. tostring(err))
  return v
end

local function bad(s, pattern)
  local v, err = core.json_decode(s, ARR, NULL)
  assert.is_nil(v, ("%q"):format(s:sub(1, 60)))
  assert.is_string(err)
  assert.matches("^JSON: ", err)
  assert.matches(" at byte %d+$", err)
  if pattern then assert.matches(pattern, err, nil, true) end
  return err
end

describe("core.json_decode", function()
  it("decodes every JSON type", function()
    local v = ok(' { "s" : "x" , "i" : -12 , "f" : 0.5 , "t" : true , "n" : null , "a" : [ 1 , [ ] ] , "o" : { } } ')
    assert.equal("x", v.s)
    assert.equal(-12, v.i)
    assert.equal(0.5, v.f)
    assert.is_true(v.t)
    assert.equal(NULL, v.n)
    assert.equal(ARR, getmetatable(v.a))
    assert.equal(ARR, getmetatable(v.a[2]))
    assert.is_nil(getmetatable(v.o))
    assert.is_nil(next(v.o))
    assert.equal(false, ok("false"))
    assert.equal("", ok('""'))
  end)

  it("pushes integers as integers under 5.4 and floats for fractions and exponents", function()
    assert.equal(40000, ok("40000"))
    assert.equal(0, ok("-0"))
    assert.equal(100, ok("1E2"))
    assert.equal(-1e-7, ok("-1e-7"))
    if is54 then
      assert.equal("integer", math.type(ok("40000")))
      assert.equal(math.maxinteger, ok("9223372036854775807"))
      assert.equal(math.mininteger, ok("-9223372036854775808"))
      assert.equal("float", math.type(ok("9223372036854775808")))
      assert.equal("float", math.type(ok("1.0")))
      assert.equal("float", math.type(ok("1e0")))
    end
    assert.equal(2 ^ 63, ok("9223372036854775808"))
    assert.equal(1e30, ok("1000000000000000000000000000000"))
  end)

  it("handles huge and tiny numbers without crashing", function()
    bad("1e400", "number out of range")
    bad("-1e400", "number out of range")
    bad(string.rep("9", 400), "number out of range")
    assert.equal(0, ok("1e-400"))
    assert.equal(0.1, ok("0." .. string.rep("0", 500) .. "1e500"))
    assert.equal(1e300, ok("1" .. string.rep("0", 300)))
  end)

  it("refuses numbers outside the RFC 8259 grammar", function()
    for _, s in ipairs{ "01", "-01", "+1", ".5", "1.", "1.e2", "1e", "1e+", "-", "--1", "0x10", "1_000", "NaN",
      "Infinity", "-Infinity", "1.5.2", "[1,]", "[01]" } do
      bad(s)
    end
  end)

  it("refuses malformed structure", function()
    for _, s in ipairs{ "", " ", "[", "]", "{", "}", "[1,2", '{"a"', '{"a":', '{"a":1', '{"a" 1}', '{a:1}', "{'a':1}",
      '{"a":1,}', "[1 2]", '{"a":1 "b":2}', "[,1]", "tru", "nul", "falsy", "True", "1 2", "[] []", "/* c */ 1",
      "1 // c", "\239\187\191{}", "\0", "[1]\0", '"abc', '"abc\\' } do
      bad(s)
    end
  end)

  it("reports the byte of the first error", function()
    assert.equal("JSON: unexpected character 'x' at byte 17", bad('{"amount":1, "b"x'))
    assert.equal("JSON: unexpected end of input at byte 6", bad("[1,2,"))
    assert.equal("JSON: unexpected character 0x00 at byte 4", bad("[1]\0"))
  end)

  it("fails cleanly on every truncation of a document", function()
    local doc = '{"a":[1,-2.5e3,{"b":"c\\u00e9\\ud83d\\ude00\\n"}],"d":true,"e":null,"f":"\228\184\173"}'
    assert.is_table(ok(doc))
    for i = 0, #doc - 1 do
      bad(doc:sub(1, i))
    end
  end)

  it("limits nesting to 1000 levels with an error, never a stack overflow", function()
    assert.is_table(ok(string.rep("[", 1000) .. string.rep("]", 1000)))
    assert.is_table(ok(string.rep('{"a":', 999) .. "[]" .. string.rep("}", 999)))
    bad(string.rep("[", 1001) .. string.rep("]", 1001), "nesting deeper than 1000 levels")
    bad(string.rep("[", 100000), "nesting deeper than 1000 levels")
    bad(string.rep('{"a":', 100000), "nesting deeper than 1000 levels")
    bad(string.rep('[{"a":', 50000), "nesting deeper than 1000 levels")
  end)

  it("decodes escapes, surrogate pairs and \\u0000 (NUL kept inside the string)", function()
    assert.equal('"\\/\b\f\n\r\t', ok([["\"\\\/\b\f\n\r\t"]]))
    assert.equal("A\195\169\228\184\173\240\159\152\128", ok([["\u0041\u00E9\u4e2d\ud83d\ude00"]]))
    assert.equal("\244\143\191\191", ok([["\uDBFF\uDFFF"]]))
    local s = ok([["a\u0000b"]])
    assert.equal(3, #s)
    assert.equal("a\0b", s)
    local o = ok('{"k\\u0000":"\\u0000"}')
    assert.equal("\0", o["k\0"])
  end)

  it("refuses bad escapes and lone surrogates", function()
    bad([["\x"]], "invalid escape")
    bad([["\U0041"]], "invalid escape")
    bad([["\'"]], "invalid escape")
    bad([["\u12"]], "invalid \\u escape")
    bad([["\u12G4"]], "invalid \\u escape")
    bad([["\u"]], "invalid \\u escape")
    bad([["\ud800"]], "lone UTF-16 surrogate")
    bad([["\udc00"]], "lone UTF-16 surrogate")
    bad([["\ud800\u0041"]], "lone UTF-16 surrogate")
    bad([["\ud800x"]], "lone UTF-16 surrogate")
    bad([["\ud800\ud800"]], "lone UTF-16 surrogate")
    bad([["\udfff\ud800"]], "lone UTF-16 surrogate")
  end)

  it("refuses raw control characters and invalid UTF-8 inside strings", function()
    bad('"a\0b"', "unescaped control character 0x00")
    bad('"a\nb"', "unescaped control character 0x0A")
    bad('"\31"', "unescaped control character 0x1F")
    for _, s in ipairs{ "\128", "\191", "\192\128", "\193\191", "\224\128\128", "\224\159\191", "\237\160\128",
      "\237\191\191", "\240\128\128\128", "\244\144\128\128", "\245\128\128\128", "\255", "\228\184", "\240\159\152",
      "\195" } do
      bad('"' .. s .. '"', "invalid UTF-8 in string at byte 2")
    end
    assert.equal("\127\194\128\223\191\224\160\128\239\191\191\240\144\128\128\244\143\191\191",
      ok('"\127\194\128\223\191\224\160\128\239\191\191\240\144\128\128\244\143\191\191"'))
  end)

  it("lets the last duplicate key win", function()
    assert.equal(3, ok('{"a":1,"a":2,"a":3}').a)
  end)

  it("works without array_mt and without a null value", function()
    local v = core.json_decode('{"a":[1],"n":null}')
    assert.is_nil(getmetatable(v.a))
    assert.is_nil(v.n)
    assert.is_nil(next(v, next(v)))
    local a = core.json_decode("[1,null,3]", nil, nil)
    assert.equal(3, a[3])
    assert.is_nil(a[2])
  end)

  it("raises for wrong argument types", function()
    assert.has_error(function() core.json_decode(nil) end)
    assert.has_error(function() core.json_decode(123) end)
    assert.has_error(function() core.json_decode("[]", "mt") end)
  end)

  it("decodes large input", function()
    local parts = {}
    for i = 1, 20000 do parts[i] = '{"i":' .. i .. ',"s":"v\\n' .. i .. '"}' end
    local v = ok("[" .. table.concat(parts, ",") .. "]")
    assert.equal(20000, #v)
    assert.equal(12345, v[12345].i)
    assert.equal("v\n20000", v[20000].s)
    local long = string.rep("\228\184\173x\\\"", 50000)
    assert.equal(#long - 50000, #ok('"' .. long .. '"'))
  end)
end)

describe("core.json_quote", function()
  it("escapes quote, backslash and control characters, and keeps other bytes raw", function()
    assert.equal('"abc"', core.json_quote("abc"))
    assert.equal('""', core.json_quote(""))
    assert.equal([["\"\\/\b\f\n\r\t\u0000\u0001\u001f"]], core.json_quote('"\\/\b\f\n\r\t\0\1\31'))
    assert.equal('"\127\195\169\228\184\173\239\191\191"', core.json_quote("\127\195\169\228\184\173\239\191\191"))
  end)

  it("round-trips through the decoder", function()
    local s = "a\0b\"c\\d\ne\228\184\173" .. string.rep("xyz\t", 1000)
    assert.equal(s, core.json_decode(core.json_quote(s)))
  end)

  it("refuses 4-byte sequences and invalid UTF-8, naming the byte", function()
    local q, err = core.json_quote("ab\240\159\152\128")
    assert.is_nil(q)
    assert.equal("4-byte UTF-8 sequence (U+1F600) at byte 3 of the string: the API accepts only 1-3-byte UTF-8", err)
    q, err = core.json_quote("\244\143\191\191")
    assert.is_nil(q)
    assert.matches("U+10FFFF", err, nil, true)
    for s, at in pairs{ ["x\255"] = 2, ["\192\128"] = 1, ["ab\237\160\128"] = 3, ["\228\184"] = 1, ["\128"] = 1 } do
      q, err = core.json_quote(s)
      assert.is_nil(q)
      assert.equal("invalid UTF-8 at byte " .. at .. " of the string", err)
    end
  end)

  it("raises for a non-string argument", function()
    assert.has_error(function() core.json_quote(nil) end)
    assert.has_error(function() core.json_quote({}) end)
  end)
end)

describe("core.json_encoder", function()
  local A_MT, O_MT = { __name = "test.array" }, { __name = "test.object" }
  local EA_MT, EO_MT = { __name = "test.empty_array" }, { __name = "test.empty_object" }
  local N = setmetatable({}, { __name = "test.null", __metatable = false })
  local EA, EO = setmetatable({}, EA_MT), setmetatable({}, EO_MT)
  local enc = core.json_encoder{ array_mt = A_MT, object_mt = O_MT, null = N, empty_array_mt = EA_MT,
    empty_object_mt = EO_MT }
  local function arr(t) return setmetatable(t, A_MT) end

  local function good(v, ...)
    local s, path, problem = enc(v, ...)
    assert(s, "expected text, got problem " .. tostring(problem))
    assert.is_nil(path)
    return s
  end

  local function pack(...) return { n = select("#", ...), ... } end

  -- returns path, problem, a, b
  local function refused(v, ...)
    local r = pack(enc(v, ...))
    assert.equal(5, r.n)
    assert.is_nil(r[1])
    assert.is_table(r[2])
    assert.is_string(r[3])
    return r[2], r[3], r[4], r[5]
  end

  it("writes every JSON type, keys sorted byte-wise, integers without a point", function()
    assert.equal('{"":0,"\\u0000":{},"A":[],"a":[1,-2,true,false],"b":{},"c":"x\\ny"}',
      good{ a = arr{ 1, -2.0, true, false }, b = EO, c = "x\ny", A = EA, [""] = -0.0, ["\0"] = {} })
    assert.equal("[9007199254740991,-9007199254740991,100000000000000,40000]",
      good{ 9007199254740991, -9007199254740991, 1e14, 40000.0 })
    assert.equal('"\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\127\195\169\228\184\173"',
      good('"\\/\b\f\n\r\t\1\31\127\195\169\228\184\173'))
  end)

  it("answers nil, the pointer's tokens, the problem and its values", function()
    local path, problem, a, b = refused{ a = { 1, arr{ 2, 2.5 } } }
    assert.same({ "a", 1, 1 }, path)
    if is54 then assert.equal("integer", math.type(path[2])) end
    assert.equal("number", problem)
    assert.equal(2.5, a)
    assert.is_nil(b)

    path, problem, a = refused{ x = { ["k\255"] = 1 } }
    assert.same({ "x", "k\255" }, path)
    assert.equal("key", problem)
    assert.equal("invalid UTF-8 at byte 2 of the string", a)

    path, problem, a = refused{ "ok", "\240\159\152\128" }
    assert.same({ 1 }, path)
    assert.equal("string", problem)
    assert.matches("^4%-byte UTF%-8 sequence %(U%+1F600%) at byte 1", a)

    local t = { 1, 2, x = 3 }
    path, problem, a, b = refused{ list = t }
    assert.same({ "list" }, path)
    assert.equal("array", problem)
    assert.equal(t, a)
    assert.equal(2, b)

    path, problem, a = refused{ o = { a = 1, [true] = 2 } }
    assert.same({ "o" }, path)
    assert.equal("object_key", problem)
    assert.is_true(a)

    assert.same({ "n" }, (refused{ n = N }))
    assert.equal("null", select(2, refused(N)))
    path, problem, a = refused{ f = print }
    assert.same({ "f" }, path)
    assert.equal("type", problem)
    assert.equal(print, a)
    problem, a = select(2, refused(nil))
    assert.equal("type", problem)
    assert.is_nil(a)
  end)

  it("refuses the numbers the API cannot take", function()
    for _, v in ipairs{ 0.5, -1e-300, 1e300, 2 ^ 53, -(2 ^ 53), 0 / 0, math.huge, -math.huge } do
      local _, problem, a = refused{ v }
      assert.equal("number", problem)
      if v == v then assert.equal(v, a) else assert.is_true(a ~= a) end
    end
    if is54 then
      for _, v in ipairs{ math.maxinteger, math.mininteger, 9007199254740992, -9007199254740992 } do
        assert.equal("number", select(2, refused(v)))
      end
    end
  end)

  it("honours lua-cjson's markers passed per call", function()
    local cjson = require "cjson"
    assert.equal("cjson_null", select(2, refused({ cjson.null }, cjson.null)))
    assert.equal("type", select(2, refused({ cjson.null })))     -- not passed: just a userdata
    assert.equal("[[]]", good({ io.stdout }, nil, nil, io.stdout)) -- an empty-array marker
    local cj_mt = {}
    assert.equal("[[1]]", good({ setmetatable({ 1 }, cj_mt) }, nil, cj_mt))
    assert.equal("[]", good(setmetatable({}, cj_mt), nil, cj_mt))
  end)

  it("needs all five marks", function()
    assert.has_error(function() core.json_encoder{ array_mt = A_MT } end)
    assert.has_error(function() core.json_encoder() end)
  end)

  it("refuses nesting deeper than 1000 levels with an error, also for very deep tables", function()
    local function nest(n)
      local root = {}
      local t = root
      for _ = 2, n do
        local c = {}
        t[1] = c
        t = c
      end
      return root
    end
    assert.equal(string.rep("[", 999) .. "{}" .. string.rep("]", 999), good(nest(1000)))
    for _, n in ipairs{ 1001, 100000 } do
      local path, problem = refused(nest(n))
      assert.equal("depth", problem)
      assert.equal(1000, #path)
    end
    -- objects and marked arrays alike; markers at the limit are still fine
    local root = {}
    local t = root
    for _ = 1, 5000 do
      local c = arr{}
      t.k = c
      local d = {}
      c[1] = d
      t = d
    end
    assert.equal("depth", select(2, refused(root)))
    local leaf = nest(1000)
    local tip = leaf
    for _ = 2, 1000 do tip = tip[1] end
    tip[1] = EA
    assert.equal(string.rep("[", 1000) .. "[]" .. string.rep("]", 1000), good(leaf))
  end)

  it("refuses cycles, not a table used twice", function()
    local t = {}
    t.self = t
    assert.same({ "self" }, (refused(t)))
    assert.equal("cycle", select(2, refused(t)))
    local a, b = { name = "a" }, { name = "b" }
    a.next, b.next = b, a
    local path, problem = refused{ list = arr{ a } }
    assert.same({ "list", 0, "next", "next" }, path)
    assert.equal("cycle", problem)
    local shared = arr{ 1 }
    assert.equal('{"a":[1],"b":[[1],[1]]}', good{ a = shared, b = { shared, shared } })
  end)

  it("encodes huge strings and outputs (the buffer grows)", function()
    local unit = "x\228\184\173\"\\\n\1"
    local s = string.rep(unit, 100000)
    local out = good(s)
    assert.equal(2 + 100000 * (1 + 3 + 2 + 2 + 2 + 6), #out)
    assert.equal(s, core.json_decode(out))
    assert.equal(string.rep('x\228\184\173\\"\\\\\\n\\u0001', 3), good(unit:rep(3)):sub(2, -2))
    local q = core.json_quote(s)
    assert.equal(out, q)
    local list = {}
    for i = 1, 20000 do list[i] = i end
    assert.equal("[" .. table.concat(list, ",") .. "]", good(list))
  end)

  it("sorts many keys, anchored on the stack and beyond it", function()
    local t, names = {}, {}
    for i = 1, 20000 do
      local k = ("%05d"):format((i * 7919) % 20011)
      t[k] = i
      names[#names + 1] = k
    end
    table.sort(names) -- decimal digits, same length: any collation orders them byte-wise
    local parts = {}
    for i, k in ipairs(names) do parts[i] = '"' .. k .. '":' .. t[k] end
    assert.equal("{" .. table.concat(parts, ",") .. "}", good(t))
  end)

  it("handles deep nesting with many keys at every level (the Lua stack stays bounded)", function()
    local depth, width = 600, 150
    local root = {}
    local t = root
    for _ = 1, depth do
      for j = 1, width do t[("k%03d"):format(j)] = j end
      local c = {}
      t.z = c
      t = c
    end
    local level = {}
    for j = 1, width do level[j] = ('"k%03d":%d'):format(j, j) end
    local prefix = "{" .. table.concat(level, ",") .. ',"z":'
    assert.equal(prefix:rep(depth) .. "{}" .. string.rep("}", depth), good(root))
  end)

  -- Code run by the encoder: __eq when it compares a value with the null mark. LuaJIT calls __eq only when
  -- both operands share it, so this encoder's null mark and the trapped tables share one.
  local trap_action
  local function trap_eq()
    if trap_action then return trap_action() end
    return false
  end
  local enc_trap = core.json_encoder{ array_mt = A_MT, object_mt = O_MT, null = setmetatable({}, { __eq = trap_eq }),
    empty_array_mt = EA_MT, empty_object_mt = EO_MT }
  local function trapped(t) return setmetatable(t, { __eq = trap_eq }) end

  it("survives metamethods that change the tables being encoded", function()
    -- the trap empties the parent and collects garbage: keys the encoder did not anchor would be freed
    local parent = {}
    trap_action = function()
      for k in pairs(parent) do parent[k] = nil end
      collectgarbage()
      collectgarbage()
      return false
    end
    for i = 1, 300 do parent[("key-%03d-"):format(i) .. ("x"):rep(60)] = i end
    parent["key-000"] = trapped{ v = 1 }
    local r = { enc_trap(parent) }
    assert.is_nil(r[1])
    assert.equal("type", r[3]) -- the next key's value is gone: nil, as the Lua encoder saw it too
    assert.is_nil(r[4])
    assert.equal(1, #r[2])
    assert.matches("^key%-001%-x+$", r[2][1])

    local list = arr{}
    trap_action = function()
      for i = #list, 2, -1 do list[i] = nil end
      collectgarbage()
      return false
    end
    list[1] = trapped{}
    for i = 2, 50 do list[i] = ("s"):rep(50) .. i end
    r = { enc_trap(list) }
    assert.is_nil(r[1])
    assert.equal("array", r[3])
    assert.equal(list, r[4])
    assert.equal(50, r[5])
    trap_action = nil
  end)

  it("lets metamethods raise, and encode reentrantly", function()
    trap_action = function() error("boom from __eq") end
    local raised, err = pcall(enc_trap, { a = arr{ trapped{ 1 } } })
    assert.is_false(raised)
    assert.matches("boom from __eq", tostring(err))
    trap_action = function()
      assert.equal('{"a":"b","nested":[1,2]}', enc_trap{ nested = { 1, 2 }, a = "b" })
      return false
    end
    local inner = trapped{ x = 1 }
    assert.equal('{"a":{"x":1},"b":{"x":1}}', enc_trap{ a = inner, b = inner })
    trap_action = function() return true end -- "equal to null": refused as null
    assert.equal("null", select(3, enc_trap{ a = trapped{ x = 1 } }))
    trap_action = nil
    -- a stack-hungry caller: the encoder checks the stack it needs
    local function recurse(n, ...)
      if n == 0 then return good{ k = arr{ 1, { y = "z" } } } end
      return recurse(n - 1, n, ...)
    end
    assert.equal('{"k":[1,{"y":"z"}]}', recurse(150))
  end)
end)
