# mk/openssl.mk - the second crypto backend: OpenSSL 3.0 libcrypto (src/openssl/, issue 7).
#
#   make build-openssl     build/openssl/{lua5.4,luajit}/wechatpay/core.so (CRYPTO=openssl)
#   make test-openssl      the whole spec suite on the OpenSSL build under Lua 5.4 and LuaJIT, spec/core under
#                          valgrind and under ASan/UBSan, and the C-level backend harness; TAP into $(BUILD)/tap
#                          (names lua5.4-openssl, luajit-openssl, memcheck-openssl, asan-openssl,
#                          harness-openssl), so `make check`'s summary counts them. Part of `make check`.
#   make harness-openssl   only the C harness (spec/support/backend_harness.c against the openssl CLI)
#   make bench-backends    bench/core.lua on each backend, then bench/backends.lua: sign, verify, GCM 1 KiB,
#                          nonce on both backends in one run, with the ratios
#
# The OpenSSL builds live in their own directories (build/openssl, build/openssl-asan, build/mbedtls for the
# bench), never in $(BUILD): a core.so does not depend on CRYPTO, so switching backends inside one build
# directory could leave a stale library behind.

OSSL_BUILD      := build/openssl
OSSL_ASAN_BUILD := build/openssl-asan
OSSL_CPATH_54   := $(CURDIR)/$(OSSL_BUILD)/lua5.4/?.so;;
OSSL_CPATH_JIT  := $(CURDIR)/$(OSSL_BUILD)/luajit/?.so;;
OSSL_HARNESS    := $(OSSL_BUILD)/backend_harness
OSSL_SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer
# valgrind suppressions for libcrypto's false positives, should any appear: tools/valgrind-openssl.supp
# (none are needed with Debian's OpenSSL 3.0 today; see docs/openssl-backend.md).
OSSL_VG_SUPP    := $(wildcard tools/valgrind-openssl.supp)

.PHONY: build-openssl test-openssl test-openssl-suites test-openssl-lua54 test-openssl-luajit memcheck-openssl asan-openssl harness-openssl \
        bench-backends

build-openssl:
	@$(MAKE) --no-print-directory CRYPTO=openssl BUILD=$(OSSL_BUILD) build

# Every part runs even when an earlier one failed; the target fails at the end if any did. `make check` runs the
# parts as separate CHECK_STEPS, in parallel with the other suites.
OSSL_PARTS := test-openssl-lua54 test-openssl-luajit memcheck-openssl asan-openssl harness-openssl
test-openssl: build-openssl
	@rc=0; for t in $(OSSL_PARTS); do $(MAKE) --no-print-directory $$t || rc=1; done; exit $$rc

# The whole stack runs on the OpenSSL build: the client under Lua 5.4/LuaJIT (LUA_CPATH), the module inside the
# specs' nginx (WP_LUAJIT_CPATH, spec/support/nginx.lua) and the sandbox server (BUILD, sandbox/bin/wxsandbox).
# tools/spec-run writes its TAP under $$BUILD/tap, so the file is moved to $(BUILD)/tap for `make summary`.
# Under LuaJIT, the interpreter-side specs (SPECS_JIT, see the Makefile), as for mbedTLS.
OSSL_RUN = mkdir -p $(BUILD)/tap; export WP_LUAJIT_CPATH="$(CURDIR)/$(OSSL_BUILD)/luajit/?.so"; rc=0; \
	LUA_CPATH="$(1)" BUILD=$(OSSL_BUILD) tools/spec-run $(2) $(3) $(4) || rc=1; \
	if [ "$(abspath $(OSSL_BUILD))" != "$(abspath $(BUILD))" ]; then mv -f $(OSSL_BUILD)/tap/$(2).tap $(BUILD)/tap/; fi; \
	exit $$rc

test-openssl-lua54: build-openssl
	@$(call OSSL_RUN,$(OSSL_CPATH_54),lua5.4-openssl,lua5.4,$(SPECS))

test-openssl-luajit: build-openssl
	@$(call OSSL_RUN,$(OSSL_CPATH_JIT),luajit-openssl,luajit,$(SPECS_JIT))

test-openssl-suites: test-openssl-lua54 test-openssl-luajit

# tools/spec-run's valgrind line takes no suppressions file; with one present, a wrapper directory puts a
# `valgrind` first on PATH that adds it.
memcheck-openssl: build-openssl
	@if [ -n "$(OSSL_VG_SUPP)" ]; then \
	  mkdir -p $(OSSL_BUILD)/vgwrap; \
	  printf '#!/bin/sh\nexec %s --suppressions=%s "$$@"\n' "$$(command -v valgrind)" "$(abspath $(OSSL_VG_SUPP))" \
	    > $(OSSL_BUILD)/vgwrap/valgrind; \
	  chmod +x $(OSSL_BUILD)/vgwrap/valgrind; \
	  PATH="$(CURDIR)/$(OSSL_BUILD)/vgwrap:$$PATH"; export PATH; \
	fi; \
	LUA_CPATH="$(OSSL_CPATH_54)" BUILD=$(BUILD) WP_MEMCHECK=1 tools/spec-run memcheck-openssl valgrind spec/core

asan-openssl:
	@$(MAKE) --no-print-directory CRYPTO=openssl BUILD=$(OSSL_ASAN_BUILD) CFLAGS="-O1 -g $(OSSL_SANFLAGS)" \
	  LDFLAGS="-fsanitize=address,undefined" build
	@LUA_CPATH="$(CURDIR)/$(OSSL_ASAN_BUILD)/lua5.4/?.so;;" BUILD=$(BUILD) WP_ASAN=1 \
	  tools/spec-run asan-openssl lua5.4 spec/core

OSSL_HARNESS_DEPS := spec/support/backend_harness.c $(wildcard src/openssl/*.c src/openssl/*.h) src/crypto.h
OSSL_HARNESS_CC    = $(CC) $(WARNFLAGS) -O1 -g -DWP_HARNESS_OPENSSL -DBACKEND_NAME='"openssl"' -Isrc \
                     spec/support/backend_harness.c $(wildcard src/openssl/*.c)

$(OSSL_HARNESS): $(OSSL_HARNESS_DEPS)
	@mkdir -p $(dir $@)
	$(OSSL_HARNESS_CC) -o $@ -lcrypto

$(OSSL_HARNESS)-asan: $(OSSL_HARNESS_DEPS)
	@mkdir -p $(dir $@)
	$(OSSL_HARNESS_CC) $(OSSL_SANFLAGS) -o $@ -lcrypto

# The harness under ASan/UBSan writes the TAP (the harness is not a busted suite); then once more under valgrind
# (errors and definite leaks; LeakSanitizer is left off as in `make asan`), one more TAP line. Same closing line
# as tools/spec-run.
harness-openssl: $(OSSL_HARNESS) $(OSSL_HARNESS)-asan
	@mkdir -p $(BUILD)/tap; tap=$(BUILD)/tap/harness-openssl.tap; \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  $(OSSL_HARNESS)-asan > $$tap 2>&1; rc=$$?; \
	if [ $$rc -ne 0 ]; then echo "not ok - harness-openssl: exited with status $$rc under ASan" >> $$tap; fi; \
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	  $(OSSL_HARNESS) > $(OSSL_BUILD)/harness-valgrind.log 2>&1; vrc=$$?; \
	if [ $$vrc -eq 0 ]; then echo "ok - harness-openssl under valgrind: no errors, no definite leaks" >> $$tap; \
	else echo "not ok - harness-openssl under valgrind: status $$vrc" >> $$tap; \
	  grep -v '^ok ' $(OSSL_BUILD)/harness-valgrind.log | head -60 >> $$tap; fi; \
	p=$$(grep -c '^ok ' $$tap); f=$$(grep -c '^not ok ' $$tap); \
	if [ $$f -ne 0 ]; then grep -v '^ok ' $$tap | head -100; fi; \
	echo "harness-openssl: $$p passed, $$f failed"; \
	[ $$f -eq 0 ]

# bench/core.lua (each backend next to `openssl speed rsa2048`), then the side-by-side table with ratios.
bench-backends:
	@$(MAKE) --no-print-directory CRYPTO=mbedtls BUILD=build/mbedtls build >/dev/null
	@$(MAKE) --no-print-directory CRYPTO=openssl BUILD=$(OSSL_BUILD) build >/dev/null
	@if [ -f bench/core.lua ]; then \
	  LUA_CPATH="$(CURDIR)/build/mbedtls/lua5.4/?.so;;" lua5.4 bench/core.lua && echo && \
	  LUA_CPATH="$(OSSL_CPATH_54)" lua5.4 bench/core.lua && echo; fi
	@lua5.4 bench/backends.lua mbedtls=$(CURDIR)/build/mbedtls/lua5.4/?.so openssl=$(CURDIR)/$(OSSL_BUILD)/lua5.4/?.so

CHECK_STEPS += $(OSSL_PARTS)
