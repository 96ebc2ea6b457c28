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
