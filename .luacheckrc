std = "max"
max_line_length = 120
exclude_files = { "build/**" }
files["spec/**"] = { std = "+busted", max_line_length = 140 }
files["sandbox/**"] = { globals = { "ngx" } }
files["lua/wechatpay/transport/ngx.lua"] = { globals = { "ngx" } }
files["lua/wechatpay/openresty.lua"] = { globals = { "ngx" } }
files["examples/nginx/**"] = { globals = { "ngx" } }
