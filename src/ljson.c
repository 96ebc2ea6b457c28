/*
 * ljson.c - the Lua binding of json.c and json_encode.c: core.json_decode, core.json_quote and
 * core.json_encoder.
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

/* The encoder made by core.json_encoder: encode(value [, cjson_null, cjson_array_mt, cjson_empty_array])
 * -> text | nil, path, problem, a, b (see wp_json_encode). Upvalues: the five marks, "__metatable". */
static int l_json_encode(lua_State *L)
{
    wp_json_marks m;
    lua_settop(L, 4);
    m.array_mt = lua_upvalueindex(1);
    m.object_mt = lua_upvalueindex(2);
    m.null = lua_upvalueindex(3);
    m.empty_array_mt = lua_upvalueindex(4);
    m.empty_object_mt = lua_upvalueindex(5);
    m.metatable_key = lua_upvalueindex(6);
    m.cjson_null = lua_isnil(L, 2) ? 0 : 2;
    m.cjson_array_mt = lua_isnil(L, 3) ? 0 : 3;
    m.cjson_empty_array = lua_isnil(L, 4) ? 0 : 4;
    return wp_json_encode(L, 1, &m);
}

/* core.json_encoder{ array_mt =, object_mt =, null =, empty_array_mt =, empty_object_mt = } -> encode */
static int l_json_encoder(lua_State *L)
{
    static const char *const fields[] = {"array_mt", "object_mt", "null", "empty_array_mt", "empty_object_mt"};
    int i;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    for (i = 0; i < 5; i++) {
        lua_getfield(L, 1, fields[i]);
        if (lua_isnil(L, -1)) return luaL_error(L, "json_encoder: %s is required", fields[i]);
    }
    lua_pushliteral(L, "__metatable");
    lua_pushcclosure(L, l_json_encode, 6);
    return 1;
}

static const luaL_Reg json_funcs[] = {
    {"json_decode", l_json_decode},
    {"json_quote", l_json_quote},
    {"json_encoder", l_json_encoder},
    {NULL, NULL},
};

void wp_open_json(lua_State *L)
{
    luaL_setfuncs(L, json_funcs, 0);
}
