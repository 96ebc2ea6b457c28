# OpenResty layer: the cosocket transport and its nginx specs.
#
#   make test-openresty   run spec/openresty under Lua 5.4 and LuaJIT (starts throwaway nginx instances on
#                         loopback; the curl transport inside nginx needs the LuaJIT build of the core)
#
# `make test` already runs spec/openresty with every other spec, so nothing is added to CHECK_STEPS.

.PHONY: test-openresty

test-openresty: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" WP_LUAJIT_CPATH="$(CURDIR)/$(BUILD)/luajit/?.so" \
	  tools/spec-run openresty-lua5.4-$(CRYPTO) lua5.4 spec/openresty
	@LUA_CPATH="$(LUA_CPATH_JIT)" WP_LUAJIT_CPATH="$(CURDIR)/$(BUILD)/luajit/?.so" \
	  tools/spec-run openresty-luajit-$(CRYPTO) luajit spec/openresty
