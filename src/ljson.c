/*
 * ljson.c - the Lua binding of json.c: core.json_decode and core.json_quote.
 */
#include "lcore.h"
#include "json.h"

/* core.json_decode(s [, array_mt [, null]]) -> value | nil, msg */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s;
    char err[WP_JSON_ERRMAX];
    luaL_checktype(L, 1, LUA_TSTRING);
    s = lua_tolstring(L, 1, &len);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 3);
    if (wp_json_decode(L, s, len, lua_isnil(L, 2) ? 0 : 2, 3, err, sizeof err)) return 1;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* core.json_quote(s) -> '"..."' | nil, msg */
static int l_json_quote(lua_State *L)
{
    size_t len;
    const char *s;
    char err[WP_JSON_ERRMAX];
    luaL_checktype(L, 1, LUA_TSTRING);
    s = lua_tolstring(L, 1, &len);
    if (wp_json_quote(L, s, len, err, sizeof err)) return 1;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

static const luaL_Reg json_funcs[] = {
    {"json_decode", l_json_decode},
    {"json_quote", l_json_quote},
    {NULL, NULL},
};

void wp_open_json(lua_State *L)
{
    luaL_setfuncs(L, json_funcs, 0);
}
