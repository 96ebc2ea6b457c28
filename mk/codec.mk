# mk/codec.mk - the codec layer (errors, codec/json, codec/uri, src/json.c).
# Its specs (spec/codec, spec/core/json_spec.lua) run with `make test`, memcheck and asan; nothing to add to
# CHECK_STEPS. `make bench-json`: encode/decode speed next to Debian's lua-cjson, under Lua 5.4 and LuaJIT.

.PHONY: bench-json test-codec

bench-json: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" lua5.4 bench/json.lua
	@LUA_CPATH="$(LUA_CPATH_JIT)" luajit bench/json.lua

# only the codec specs, both interpreters (handy while developing)
test-codec: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" tools/spec-run codec-lua5.4-$(CRYPTO) lua5.4 spec/codec spec/core/json_spec.lua
	@LUA_CPATH="$(LUA_CPATH_JIT)" tools/spec-run codec-luajit-$(CRYPTO) luajit spec/codec spec/core/json_spec.lua
