# mk/bench.mk - the client benchmark (issues 3, 6, 7) and `make bench` as one command.
#
#   make bench-client   bench/client.lua: client CPU per request (pipeline vs bare sign/verify, validation, JSON)
#                       and round trips to the local sandbox (kept-alive vs new connection, 8 and 32 in flight),
#                       mbedTLS and OpenSSL builds, Lua 5.4 and LuaJIT, one run, ratios; starts and stops its own
#                       sandbox (temp dir, free port). About 2 minutes. docs/benchmarks.md explains the figures.
#   make bench-all      every benchmark, one after the other (what `make bench` runs)
#   make bench          = bench-all (the Makefile's `bench: bench-core` rule gets the others as prerequisites)
#
# Overridable: BENCH_ROUNDS (3), BENCH_WINDOW (0.5 s), BENCH_BATCHES (9), BENCH_TARGET (0.02 s), BENCH_INTERPS
# ("lua5.4,luajit"), BENCH_SECTIONS ("cpu,net") - environment variables read by bench/client.lua;
# BENCH_SERVER_BUILD: the build whose core the sandbox uses (default: the OpenSSL one, so that the server's own
# signatures cost as little as possible).
# Benchmarks measure the machine: do not run them with -j, or next to other heavy work.

BENCH_MBEDTLS_BUILD := build/mbedtls
BENCH_OPENSSL_BUILD := build/openssl
BENCH_SERVER_BUILD  ?= $(BENCH_OPENSSL_BUILD)

# Every benchmark target of the tree (each defined by its layer's mk file or the Makefile), run in this order.
BENCH_ALL := bench-core bench-json bench-validate bench-backends bench-transport bench-sandbox bench-client

.PHONY: bench-client bench-client-builds bench-all

# Both backends, each in its own build directory (as bench-backends does), so a CRYPTO switch never leaves a stale
# core.so behind.
bench-client-builds:
	@$(MAKE) --no-print-directory CRYPTO=mbedtls BUILD=$(BENCH_MBEDTLS_BUILD) build >/dev/null
	@$(MAKE) --no-print-directory CRYPTO=openssl BUILD=$(BENCH_OPENSSL_BUILD) build >/dev/null

bench-client: bench-client-builds
	@BUILD="$(BENCH_SERVER_BUILD)" LUA_CPATH="$(CURDIR)/$(BENCH_MBEDTLS_BUILD)/lua5.4/?.so;;" \
	  lua5.4 bench/client.lua mbedtls=$(CURDIR)/$(BENCH_MBEDTLS_BUILD) openssl=$(CURDIR)/$(BENCH_OPENSSL_BUILD)

bench-all: $(BENCH_ALL)

bench: bench-all
