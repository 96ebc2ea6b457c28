# The notification receiver of the examples (examples/payscore/receiver/wxreceiver renders this into
# $RECEIVER_DIR/nginx.conf): Debian's nginx with its Lua module on 127.0.0.1, plain HTTP (the sandbox delivers to
# http:// notify_urls on loopback). POST /notify is answered by wechatpay.openresty.handle_notification: the
# notification is verified and decrypted with the merchant's client, and the event is appended to events.jsonl.

load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

{{USER}}
worker_processes  1;
daemon            on;
pid               {{DIR}}/nginx.pid;
error_log         {{DIR}}/error.log warn;

events {
    worker_connections  64;
}

http {
    access_log  {{DIR}}/access.log;
    client_body_temp_path  {{DIR}}/tmp/body;
    proxy_temp_path        {{DIR}}/tmp/proxy;
    fastcgi_temp_path      {{DIR}}/tmp/fastcgi;
    uwsgi_temp_path        {{DIR}}/tmp/uwsgi;
    scgi_temp_path         {{DIR}}/tmp/scgi;

    lua_package_path   "{{HERE}}/?.lua;{{REPO}}/lua/?.lua;{{REPO}}/lua/?/init.lua;;";
    lua_package_cpath  "{{CPATH}};;";

    # The client is built once, in the master; the workers inherit it (wechatpay.openresty).
    init_by_lua_block {
        require("receiver").init("{{CONFIG}}", "{{DIR}}/events.jsonl")
    }

    server {
        listen  127.0.0.1:{{PORT}};

        location = /notify {
            content_by_lua_block {
                require("receiver").handle()
            }
        }

        location = /health {
            return 200 "ok\n";
        }
    }
}
