rockspec_format = "3.0"
package = "wechatpay"
version = "scm-1"
source = {
  url = "git+file:///wechatpay",
}
description = {
  summary = "WeChat Pay APIv3 (PayScore first) for Lua 5.4 and OpenResty, with a small C core",
  detailed = [[
Chainable, signed and verified WeChat Pay APIv3 calls (the official PHP SDK's call shape), a C core on
mbedTLS (or OpenSSL's libcrypto) for RSA-SHA256, RSA-OAEP, AES-256-GCM and nonces, libcurl for HTTP and
nginx cosockets inside OpenResty, PayScore request validation and a local PayScore sandbox.
]],
  license = "MIT",
  labels = { "wechatpay", "payment", "openresty" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  MBEDTLS = { header = "mbedtls/pk.h" },
  CURL = { library = "curl" },
}
-- `luarocks make WECHATPAY_CRYPTO=openssl` builds on OpenSSL's libcrypto; default mbedTLS.
build = {
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    CRYPTO = "$(WECHATPAY_CRYPTO)",
  },
  install_target = "install-rock",
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
    CRYPTO = "$(WECHATPAY_CRYPTO)",
  },
}
