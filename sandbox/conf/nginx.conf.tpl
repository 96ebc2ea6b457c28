# nginx configuration of the local WeChat Pay sandbox (rendered by `wxsandbox` into
# {{DIR}}/nginx.conf; edit sandbox/conf/nginx.conf.tpl, not the rendered copy).
# Started as: nginx -p {{DIR}} -c {{DIR}}/nginx.conf

load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

{{USER}}
worker_processes  2;
worker_shutdown_timeout  10s;
pid               {{DIR}}/nginx.pid;
error_log         {{DIR}}/error.log {{LOG_LEVEL}};

events {
    worker_connections  1024;
}

http {
    access_log  {{DIR}}/access.log;
    default_type  application/json;
    server_tokens off;

    client_body_temp_path  {{DIR}}/tmp/body;
    proxy_temp_path        {{DIR}}/tmp/proxy;
    fastcgi_temp_path      {{DIR}}/tmp/fastcgi;
    uwsgi_temp_path        {{DIR}}/tmp/uwsgi;
    scgi_temp_path         {{DIR}}/tmp/scgi;

    lua_package_path   "{{REPO}}/lua/?.lua;{{REPO}}/lua/?/init.lua;{{REPO}}/sandbox/lua/?.lua;{{REPO}}/sandbox/lua/?/init.lua;{{DIR}}/lib/?.lua;;";
    lua_package_cpath  "{{CPATH}};;";

    # State shared by the two workers (sandbox/lua/sandbox/store.lua and server.lua).
    lua_shared_dict  sandbox_state   64m;   # business state (orders, authorizations, ...)
    lua_shared_dict  sandbox_sys     4m;    # faults, clock offset, mode, counters
    lua_shared_dict  sandbox_nonces  16m;   # request nonces seen within the window
    lua_shared_dict  sandbox_log     64m;   # request log and notification deliveries
    lua_shared_dict  sandbox_locks   1m;    # store.with_lock

    lua_max_pending_timers  8192;
    lua_max_running_timers  1024;

    # Notifications to https:// notify_urls are verified against the sandbox CA
    # (add your own CA to {{DIR}}/trusted.pem if your receiver uses another one).
    lua_ssl_trusted_certificate  {{DIR}}/trusted.pem;
    lua_ssl_verify_depth         4;
    lua_socket_log_errors        off;

    init_by_lua_block {
        require("sandbox.server").init("{{DIR}}")
    }
    init_worker_by_lua_block {
        require("sandbox.server").init_worker()
    }

    server {
        listen  127.0.0.1:{{PORT}} ssl reuseport;
        server_name  localhost;

        ssl_certificate      {{DIR}}/server.pem;
        ssl_certificate_key  {{DIR}}/server.key;
        ssl_protocols        TLSv1.2 TLSv1.3;
        ssl_session_cache    shared:SSL:1m;

        keepalive_requests       10000;
        client_max_body_size     16m;
        client_body_buffer_size  64k;   # larger bodies go to a temp file; server.lua reads them from there

        location / {
            content_by_lua_block {
                require("sandbox.server").handle()
            }
        }
    }
}
