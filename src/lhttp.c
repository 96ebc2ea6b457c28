/*
 * lhttp.c - the Lua binding of http.c: core.http_session(opts), core.curl_version.
 *
 *   local s = core.http_session{ ca_file=, ca_path=, connect_timeout=<ms>, timeout=<ms>, max_body=<bytes> }
 *   s:request{ method=, url=, headers={ "Name: value" | {name, value}, ... }, body=, timeout=<ms> }
 *     -> { status=, headers={ {name, value}, ... }, body=, reused= }  |  nil, { code=, message=, reason= }
 *   s:start(req) -> id  |  nil, err          s:wait_any(timeout_ms?) -> id, res, err  |  nothing
 *   s:pending() -> n                         s:close()   (also __gc; __close under 5.4)
 *
 * Failures of the request (network, TLS, timeout, size) are returned; wrong argument types raise.
 * Request bodies and headers are copied into C memory owned by the request before s:start returns.
 */
#include "lcore.h"
#include "http.h"

#include <string.h>

#define SESSION_MT "wechatpay.http_session"

typedef struct {
    wp_http_session *s;
} lsession;

static lsession *check_open(lua_State *L)
{
    lsession *u = (lsession *)luaL_checkudata(L, 1, SESSION_MT);
    if (u->s == NULL) luaL_error(L, "wechatpay.core: the HTTP session is closed");
    return u;
}

static void push_error(lua_State *L, const wp_http_error *err)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, err->code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, err->message);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, err->reason ? err->reason : "other");
    lua_setfield(L, -2, "reason");
}

static void push_response(lua_State *L, const wp_http_response *res)
{
    size_t i;
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)res->status);
    lua_setfield(L, -2, "status");
    lua_createtable(L, (int)res->nheaders, 0);
    for (i = 0; i < res->nheaders; i++) {
        lua_createtable(L, 2, 0);
        lua_pushlstring(L, res->headers[i].name, res->headers[i].name_len);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, res->headers[i].value, res->headers[i].value_len);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, res->body, res->body_len);
    lua_setfield(L, -2, "body");
    lua_pushboolean(L, res->reused);
    lua_setfield(L, -2, "reused");
}

/* Pushes id, res, err of a finished request and releases it (only after everything is on the stack, so an
 * error raised while pushing leaves the request in the session, where close/__gc free it). */
static int push_finished(lua_State *L, wp_http_session *s, wp_http_request *r, int with_id)
{
    wp_http_response res;
    wp_http_error err;
    int n = 0;
    if (with_id) {
        lua_pushinteger(L, (lua_Integer)wp_http_request_id(r));
        n++;
    }
    if (wp_http_result(r, &res, &err) == 0) {
        push_response(L, &res);
        n++;
    } else {
        lua_pushnil(L);
        push_error(L, &err);
        n += 2;
    }
    wp_http_release(s, r);
    return n;
}

/* ---- argument reading ---------------------------------------------------------------------------------------- */

static const char *opt_string_field(lua_State *L, int t, const char *name, size_t *len)
{
    lua_getfield(L, t, name); /* left on the stack: it anchors the string */
    if (lua_isnil(L, -1)) return NULL;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "wechatpay.core: field '%s' must be a string", name);
    return lua_tolstring(L, -1, len);
}

static double opt_positive_field(lua_State *L, int t, const char *name)
{
    double v;
    lua_getfield(L, t, name);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "wechatpay.core: field '%s' must be a number", name);
    v = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v > 0) || v > 9.0e15)
        luaL_error(L, "wechatpay.core: field '%s' must be a positive number", name);
    return v;
}

static long ms_of(double v)
{
    if (v <= 0) return 0;
    if (v < 1) return 1;
    if (v > 2147483647.0) return 2147483647L;
    return (long)(v + 0.5);
}

static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Reads the request table at index t into *spec. Everything it points to stays anchored on the Lua stack (fields)
 * or in the request's headers table (raw reads) until the caller returns; the header array is a userdata. */
static void read_request(lua_State *L, int t, wp_http_req_spec *spec)
{
    size_t len, i, n;
    const char *m, *url;
    int ht;

    luaL_checktype(L, t, LUA_TTABLE);
    memset(spec, 0, sizeof *spec);

    m = opt_string_field(L, t, "method", &len);
    if (m == NULL) {
        m = "GET";
    } else {
        if (len == 0) luaL_error(L, "wechatpay.core: field 'method' is empty");
        for (i = 0; i < len; i++)
            if (!is_tchar((unsigned char)m[i])) luaL_error(L, "wechatpay.core: field 'method' is not a token");
    }
    spec->method = m;

    url = opt_string_field(L, t, "url", &len);
    if (url == NULL) luaL_error(L, "wechatpay.core: field 'url' is required");
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            luaL_error(L, "wechatpay.core: field 'url' contains a space or a control character");
    }
    spec->url = url;

    spec->body = opt_string_field(L, t, "body", &spec->body_len);
    spec->timeout_ms = ms_of(opt_positive_field(L, t, "timeout"));

    lua_getfield(L, t, "headers");
    ht = lua_gettop(L);
    if (lua_isnil(L, ht)) return;
    if (!lua_istable(L, ht)) luaL_error(L, "wechatpay.core: field 'headers' must be a table");
    n = (size_t)lua_rawlen(L, ht);
    if (n == 0) return;
    {
        wp_http_header_in *h = (wp_http_header_in *)lua_newuserdata(L, n * sizeof *h);
        for (i = 0; i < n; i++) {
            size_t j;
            /* what h[i] points to stays on the stack until the call returns */
            luaL_checkstack(L, 4, "wechatpay.core: too many headers");
            lua_rawgeti(L, ht, (int)i + 1);
            if (lua_type(L, -1) == LUA_TSTRING) {
                h[i].name = lua_tolstring(L, -1, &h[i].name_len);
                h[i].value = NULL;
                h[i].value_len = 0;
            } else if (lua_istable(L, -1)) {
                lua_rawgeti(L, -1, 1);
                lua_rawgeti(L, -2, 2);
                if (lua_type(L, -2) != LUA_TSTRING ||
                    (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
                    luaL_error(L, "wechatpay.core: header %d must be {name, value} with string values", (int)i + 1);
                h[i].name = lua_tolstring(L, -2, &h[i].name_len);
                h[i].value = lua_tolstring(L, -1, &h[i].value_len); /* a number is converted in its stack slot */
            } else {
                luaL_error(L, "wechatpay.core: header %d must be a string or {name, value}", (int)i + 1);
            }
            if (h[i].name_len == 0) luaL_error(L, "wechatpay.core: header %d has an empty name", (int)i + 1);
            for (j = 0; j < h[i].name_len; j++)
                if (h[i].name[j] == '\r' || h[i].name[j] == '\n' || h[i].name[j] == '\0')
                    luaL_error(L, "wechatpay.core: header %d contains CR, LF or NUL", (int)i + 1);
            for (j = 0; h[i].value && j < h[i].value_len; j++)
                if (h[i].value[j] == '\r' || h[i].value[j] == '\n' || h[i].value[j] == '\0')
                    luaL_error(L, "wechatpay.core: header %d contains CR, LF or NUL", (int)i + 1);
        }
        spec->headers = h;
        spec->nheaders = n;
    }
}

/* ---- session methods ---------------------------------------------------------------------------------------- */

static int s_start(lua_State *L)
{
    lsession *u = check_open(L);
    wp_http_req_spec spec;
    wp_http_error err;
    long long id;
    read_request(L, 2, &spec);
    if (wp_http_start(u->s, &spec, &id, &err) != 0) {
        lua_pushnil(L);
        push_error(L, &err);
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

static int s_request(lua_State *L)
{
    lsession *u = check_open(L);
    wp_http_req_spec spec;
    wp_http_error err;
    wp_http_request *r;
    long long id;
    read_request(L, 2, &spec);
    if (wp_http_start(u->s, &spec, &id, &err) != 0) {
        lua_pushnil(L);
        push_error(L, &err);
        return 2;
    }
    r = wp_http_wait_id(u->s, id);
    if (r == NULL) return luaL_error(L, "wechatpay.core: request %d vanished", (int)id);
    return push_finished(L, u->s, r, 0);
}

static int s_wait_any(lua_State *L)
{
    lsession *u = check_open(L);
    long timeout = -1;
    wp_http_request *r;
    if (!lua_isnoneornil(L, 2)) {
        double v = (double)luaL_checknumber(L, 2);
        if (v < 0) v = 0;
        timeout = v > 2147483647.0 ? 2147483647L : (long)v;
    }
    r = wp_http_wait_any(u->s, timeout);
    if (r == NULL) return 0;
    return push_finished(L, u->s, r, 1);
}

static int s_pending(lua_State *L)
{
    lsession *u = (lsession *)luaL_checkudata(L, 1, SESSION_MT);
    lua_pushinteger(L, (lua_Integer)wp_http_pending(u->s));
    return 1;
}

static int s_close(lua_State *L)
{
    lsession *u = (lsession *)luaL_checkudata(L, 1, SESSION_MT);
    if (u->s) {
        wp_http_session_free(u->s);
        u->s = NULL;
    }
    return 0;
}

static int s_tostring(lua_State *L)
{
    lsession *u = (lsession *)luaL_checkudata(L, 1, SESSION_MT);
    lua_pushfstring(L, "wechatpay.http_session (%s)", u->s ? "open" : "closed");
    return 1;
}

static int l_http_session(lua_State *L)
{
    wp_http_opts o;
    wp_http_error err;
    lsession *u;
    memset(&o, 0, sizeof o);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        o.ca_file = opt_string_field(L, 1, "ca_file", NULL);
        o.ca_path = opt_string_field(L, 1, "ca_path", NULL);
        o.connect_timeout_ms = ms_of(opt_positive_field(L, 1, "connect_timeout"));
        o.timeout_ms = ms_of(opt_positive_field(L, 1, "timeout"));
        o.max_body = (size_t)opt_positive_field(L, 1, "max_body");
    }
    u = (lsession *)lua_newuserdata(L, sizeof *u);
    u->s = NULL;
    luaL_setmetatable(L, SESSION_MT);
    u->s = wp_http_session_new(&o, &err);
    if (u->s == NULL) {
        lua_pushnil(L);
        push_error(L, &err);
        return 2;
    }
    return 1;
}

static const luaL_Reg session_methods[] = {
    {"request", s_request},
    {"start", s_start},
    {"wait_any", s_wait_any},
    {"pending", s_pending},
    {"close", s_close},
    {NULL, NULL}
};

void wp_open_http(lua_State *L)
{
    if (wp_http_global_init() != 0) luaL_error(L, "wechatpay.core: curl_global_init failed");
    if (luaL_newmetatable(L, SESSION_MT)) {
        luaL_newlib(L, session_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, s_close);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, s_close);
        lua_setfield(L, -2, "__close");
#endif
        lua_pushcfunction(L, s_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_http_session);
    lua_setfield(L, -2, "http_session");
    lua_pushstring(L, wp_http_curl_version());
    lua_setfield(L, -2, "curl_version");
}
