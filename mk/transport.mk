# mk/transport.mk - the libcurl transport (src/http.c, src/lhttp.c, lua/wechatpay/transport/curl.lua).
# Its specs (spec/transport) run with `make test`; this adds only the benchmark.

.PHONY: bench-transport

# Sequential keep-alive vs new connection per request, 8 and 32 in flight, against the loopback nginx.
bench-transport: $(SO54) $(SOJIT)
	@LUA_CPATH="$(LUA_CPATH_54)" lua5.4 bench/client_transport.lua
	@LUA_CPATH="$(LUA_CPATH_JIT)" luajit bench/client_transport.lua
