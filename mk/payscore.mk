# mk/payscore.mk - the PayScore schema and validator (lua/wechatpay/payscore/).
#
#   make test-payscore     the pure unit specs of spec/payscore/ under Lua 5.4 and LuaJIT (also part of `make test`)
#   make bench-validate    µs per validation of the seed's create request (Lua 5.4 and LuaJIT), median of batches
#
# The validator is pure Lua (no C core); the specs use the C core only to check JSON null markers of
# wechatpay.codec.json (pending without it).

.PHONY: test-payscore bench-validate

test-payscore: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" tools/spec-run payscore-lua5.4 lua5.4 spec/payscore
	@LUA_CPATH="$(LUA_CPATH_JIT)" tools/spec-run payscore-luajit luajit spec/payscore

bench-validate:
	@lua5.4 bench/validate.lua
	@luajit bench/validate.lua

bench: bench-validate
