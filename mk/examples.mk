# mk/examples.mk - the runnable examples (issue 6): examples/seed.lua and examples/payscore/*.lua (one script per
# PayScore endpoint E1-E15 and per notification type), each run against a sandbox.
#
#   make test-examples      start a throwaway sandbox (temp SANDBOX_DIR, free SANDBOX_PORT), run every example under
#                           Lua 5.4 and LuaJIT (examples/payscore/run-all), TAP into $(BUILD)/tap/examples.tap,
#                           stop the sandbox; fails when any example failed. Part of `make check`.
#   make test-integration   only spec/payscore/integration_spec.lua (client against a sandbox it starts), both
#                           interpreters; `make test` runs it with every other spec.
#
# One example by hand: `make sandbox-start`, then
#   LUA_CPATH="build/lua5.4/?.so;;" lua5.4 examples/payscore/e05_complete.lua build/sandbox/config.json

.PHONY: test-examples test-integration

test-examples: $(SO54) $(SOJIT)
	@BUILD="$(BUILD)" examples/payscore/run-all "$(BUILD)/tap/examples.tap"

test-integration: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" tools/spec-run integration-lua5.4-$(CRYPTO) lua5.4 spec/payscore/integration_spec.lua
	@LUA_CPATH="$(LUA_CPATH_JIT)" tools/spec-run integration-luajit-$(CRYPTO) luajit spec/payscore/integration_spec.lua

CHECK_STEPS += test-examples
