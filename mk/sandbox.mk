# mk/sandbox.mk - the local PayScore sandbox (issue 5): Debian's nginx + its Lua module on 127.0.0.1, HTTPS.
#
#   make sandbox          provision (first time) and run it in the foreground (Ctrl-C stops it)
#   make sandbox-start    start it in the background; returns when GET /sandbox/health answers
#   make sandbox-stop     stop it
#   make bench-sandbox    load run: N creates + queries from concurrent client processes (BENCH_ORDERS=1000,
#                         BENCH_CLIENTS=8), requests/s, p50/p99, lost orders, unexpected errors
#
# Overridable: SANDBOX_DIR (default $(BUILD)/sandbox), SANDBOX_PORT (9443), SANDBOX_CERT_MODE=1,
# SANDBOX_TIME_SCALE. State, keys, config.json and logs live in SANDBOX_DIR.
# The specs (spec/sandbox) run with `make test`; nothing is added to CHECK_STEPS. They start sandboxes, which load
# the LuaJIT build of the core inside nginx, so the Lua 5.4 run needs that build too (prerequisite added below).

SANDBOX_DIR  ?= $(BUILD)/sandbox
SANDBOX_PORT ?= 9443
WXSANDBOX    := BUILD="$(BUILD)" SANDBOX_DIR="$(SANDBOX_DIR)" SANDBOX_PORT="$(SANDBOX_PORT)" sandbox/bin/wxsandbox

test-lua54: $(SOJIT)

.PHONY: sandbox sandbox-start sandbox-stop sandbox-status bench-sandbox test-sandbox

sandbox: $(SOJIT)
	@$(WXSANDBOX) run

sandbox-start: $(SOJIT)
	@$(WXSANDBOX) start

sandbox-stop:
	@$(WXSANDBOX) stop

sandbox-status:
	@$(WXSANDBOX) status

bench-sandbox: $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_JIT)" luajit bench/sandbox.lua

# only the sandbox specs, both interpreters (handy while developing)
test-sandbox: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" tools/spec-run sandbox-lua5.4-$(CRYPTO) lua5.4 spec/sandbox
	@LUA_CPATH="$(LUA_CPATH_JIT)" tools/spec-run sandbox-luajit-$(CRYPTO) luajit spec/sandbox
