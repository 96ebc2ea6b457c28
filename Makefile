# wechatpay - WeChat Pay APIv3 for Lua 5.4 and LuaJIT/OpenResty.
#
#   make              build wechatpay/core.so for Lua 5.4 and for LuaJIT (5.1 ABI)
#   make check        install missing Debian packages, build, lint, run every test
#   make demo         build, start the local PayScore sandbox, run the seed example
#   make CRYPTO=openssl ...   use OpenSSL's libcrypto instead of mbedTLS
#
# Overridable: CC, CFLAGS, CRYPTO, BUILD, LUA54_INCLUDE_DIR, LUAJIT_INCLUDE_DIR.

CRYPTO            ?= mbedtls
BUILD             ?= build
LUA54_INCLUDE_DIR ?= /usr/include/lua5.4
LUAJIT_INCLUDE_DIR ?= /usr/include/luajit-2.1
CC                ?= cc
OPTFLAGS          ?= -O2 -g
CFLAGS            ?= $(OPTFLAGS)
WARNFLAGS          = -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -fPIC
LDFLAGS           ?=

# luarocks passes an unset WECHATPAY_CRYPTO as an empty string
ifeq ($(strip $(CRYPTO)),)
override CRYPTO := mbedtls
endif

ifeq ($(CRYPTO),mbedtls)
CRYPTO_LIBS = -lmbedtls -lmbedx509 -lmbedcrypto
else ifeq ($(CRYPTO),openssl)
CRYPTO_LIBS = -lcrypto
else
$(error CRYPTO must be mbedtls or openssl)
endif
LIBS = $(CRYPTO_LIBS) -lcurl

SRCS    := $(sort $(wildcard src/*.c) $(wildcard src/$(CRYPTO)/*.c))
# The backend a build directory was built with: switching CRYPTO in one BUILD rebuilds everything.
CRYPTO_STAMP := $(BUILD)/.crypto-backend
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(CRYPTO_STAMP) 2>/dev/null)" = "$(CRYPTO)" ] || echo $(CRYPTO) > $(CRYPTO_STAMP); })
HDRS    := $(wildcard src/*.h) $(wildcard src/$(CRYPTO)/*.h) $(CRYPTO_STAMP)
OBJ54   := $(patsubst src/%.c,$(BUILD)/obj/lua5.4/%.o,$(SRCS))
OBJJIT  := $(patsubst src/%.c,$(BUILD)/obj/luajit/%.o,$(SRCS))
SO54    := $(BUILD)/lua5.4/wechatpay/core.so
SOJIT   := $(BUILD)/luajit/wechatpay/core.so

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;
LUA_CPATH_54     := $(CURDIR)/$(BUILD)/lua5.4/?.so;;
LUA_CPATH_JIT    := $(CURDIR)/$(BUILD)/luajit/?.so;;

.PHONY: doc test-doc check-suites demo rock install-rock test-rock all build deps check test test-lua54 test-luajit lint memcheck asan clean demo \
        bench bench-core summary-reset summary

all build: $(SO54) $(SOJIT)

$(BUILD)/obj/lua5.4/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARNFLAGS) $(CFLAGS) -I$(LUA54_INCLUDE_DIR) -Isrc -c $< -o $@

$(BUILD)/obj/luajit/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARNFLAGS) $(CFLAGS) -I$(LUAJIT_INCLUDE_DIR) -Isrc -c $< -o $@

$(SO54): $(OBJ54)
	@mkdir -p $(dir $@)
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(SOJIT): $(OBJJIT)
	@mkdir -p $(dir $@)
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- dependencies (Debian 12) ------------------------------------------------
deps:
	@tools/deps

# ---- tests -------------------------------------------------------------------
# Every suite writes TAP under $(BUILD)/tap; `make summary` prints the closing
# line "N passed, N failed" over all of them.
SPECS ?= spec
CHECK_STEPS :=

test: test-lua54 test-luajit

test-lua54: $(SO54)
	@LUA_CPATH="$(LUA_CPATH_54)" tools/spec-run lua5.4-$(CRYPTO) lua5.4 $(SPECS)

# Under LuaJIT, the specs of code that runs in the interpreter (the core, codecs,
# client, PayScore layer, transports). The servers' own specs (spec/sandbox, and
# spec/openresty's nginx specs) drive nginx -- always LuaJIT -- through the curl
# and openssl command lines; the interpreter that drives them changes nothing,
# so they run once per backend, under the Lua 5.4 driver.
SPECS_JIT ?= spec/core spec/codec spec/client spec/payscore spec/transport spec/openresty/ngx_parse_spec.lua

test-luajit: $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_JIT)" tools/spec-run luajit-$(CRYPTO) luajit $(SPECS_JIT)

lint:
	luacheck -q lua spec bench examples sandbox
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I src -I $(LUA54_INCLUDE_DIR) src

memcheck: $(SO54)
	@LUA_CPATH="$(LUA_CPATH_54)" WP_MEMCHECK=1 tools/spec-run memcheck-$(CRYPTO) "valgrind" spec/core

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" build
	@LUA_CPATH="$(CURDIR)/build/asan/lua5.4/?.so;;" WP_ASAN=1 tools/spec-run asan-$(CRYPTO) lua5.4 spec/core

summary-reset:
	@rm -rf $(BUILD)/tap

summary:
	@tools/summary $(BUILD)/tap


clean:
	rm -rf build

# ---- benchmarks ----------------------------------------------------------------
bench: bench-core

bench-core: $(SO54)
	@LUA_CPATH="$(LUA_CPATH_54)" lua5.4 bench/core.lua

# ---- luarocks (`luarocks --lua-version=5.4 make` drives these two) ---------------
# One ABI, the one luarocks names: LUA_INCDIR, LIBFLAG, INST_LIBDIR, INST_LUADIR.
LUA_INCDIR ?= $(LUA54_INCLUDE_DIR)
LIBFLAG    ?= -shared
ROCKDIR     = $(BUILD)/rock
OBJROCK    := $(patsubst src/%.c,$(ROCKDIR)/obj/%.o,$(SRCS))

$(ROCKDIR)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARNFLAGS) $(CFLAGS) -I$(LUA_INCDIR) -Isrc -c $< -o $@

$(ROCKDIR)/wechatpay/core.so: $(OBJROCK)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

rock: $(ROCKDIR)/wechatpay/core.so

install-rock: rock
	@test -n "$(INST_LIBDIR)" && test -n "$(INST_LUADIR)" || { echo "INST_LIBDIR and INST_LUADIR are set by luarocks"; exit 1; }
	mkdir -p $(INST_LIBDIR)/wechatpay
	cp $(ROCKDIR)/wechatpay/core.so $(INST_LIBDIR)/wechatpay/core.so
	cd lua && find wechatpay -name '*.lua' | while read f; do \
	  mkdir -p "$(INST_LUADIR)/$$(dirname $$f)"; cp "$$f" "$(INST_LUADIR)/$$f"; done

# The rockspec builds and installs offline into a throwaway tree, and the
# installed module loads under Lua 5.4.
test-rock:
	@rm -rf $(BUILD)/rocktree $(BUILD)/rock
	@luarocks --lua-version=5.4 make --tree=$(BUILD)/rocktree --deps-mode=none wechatpay-scm-1.rockspec >$(BUILD)/rock.log 2>&1 \
	  || { cat $(BUILD)/rock.log; exit 1; }
	@mkdir -p $(BUILD)/tap
	@if LUA_PATH="$(CURDIR)/$(BUILD)/rocktree/share/lua/5.4/?.lua;$(CURDIR)/$(BUILD)/rocktree/share/lua/5.4/?/init.lua;;" \
	   LUA_CPATH="$(CURDIR)/$(BUILD)/rocktree/lib/lua/5.4/?.so;;" \
	   lua5.4 -e 'local w = require "wechatpay"; assert(w.VERSION); assert(require("wechatpay.core").nonce():match("^%w+$$"))'; \
	 then echo "ok 1 - luarocks make installs a loadable rock" > $(BUILD)/tap/rock.tap; echo "rock: 1 passed, 0 failed"; \
	 else echo "not ok 1 - luarocks make installs a loadable rock" > $(BUILD)/tap/rock.tap; echo "rock: 0 passed, 1 failed"; exit 1; fi
CHECK_STEPS += test-rock

# ---- the demo (README command one) ---------------------------------------------
# Start the sandbox, run the seed (create a PayScore order, query it, confirm it
# through the sandbox, query again), stop the sandbox.
demo: deps build
	@$(WXSANDBOX) start
	@LUA_CPATH="$(LUA_CPATH_54)" lua5.4 examples/seed.lua "$(abspath $(SANDBOX_DIR))/config.json"; rc=$$?; \
	  $(WXSANDBOX) stop; exit $$rc

# ---- API reference (LDoc) ---------------------------------------------------------
doc:
	@ldoc -q -d $(BUILD)/doc . && echo "API reference in $(BUILD)/doc/index.html"

# The LDoc comments stay parseable: the reference builds without errors.
test-doc:
	@mkdir -p $(BUILD)/tap; if ldoc -q -d $(BUILD)/doc . > $(BUILD)/doc.log 2>&1; then \
	  echo "ok 1 - ldoc builds the API reference" > $(BUILD)/tap/doc.tap; echo "doc: 1 passed, 0 failed"; \
	else cat $(BUILD)/doc.log; echo "not ok 1 - ldoc builds the API reference" > $(BUILD)/tap/doc.tap; \
	  echo "doc: 0 passed, 1 failed"; exit 1; fi
CHECK_STEPS += test-doc

# ---- everything --------------------------------------------------------------
# Each layer adds its own targets in mk/<layer>.mk and appends the ones
# `make check` must run to CHECK_STEPS (read before this rule).
-include mk/*.mk

# `make check`: the Debian packages, then every suite, CHECK_JOBS at a time
# (most of their time is spent waiting on nginx, sockets and timers), all of
# them even when one fails, then the closing line over every suite's TAP.
CHECK_JOBS ?= 2

check: deps
	@rm -rf $(BUILD)/tap
	@rc=0; $(MAKE) --no-print-directory -j$(CHECK_JOBS) -O -k check-suites || rc=1; \
	  tools/summary $(BUILD)/tap || rc=1; exit $$rc

# longest first, so that the parallel jobs finish together
check-suites: test-lua54 $(filter test-openssl-lua54,$(CHECK_STEPS)) test-luajit \
  $(filter test-openssl-luajit,$(CHECK_STEPS)) memcheck asan lint $(CHECK_STEPS)
