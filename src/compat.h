/*
 * compat.h - the only place that knows the difference between the Lua 5.1 ABI
 * (LuaJIT, OpenResty, Debian's nginx Lua module) and Lua 5.3/5.4.
 * Every C file that talks to Lua includes this header instead of lua.h.
 */
#ifndef WP_COMPAT_H
#define WP_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
/* Lua 5.1 / LuaJIT */
#define WP_LUA51 1

#ifndef luaL_newlibtable
#define luaL_newlibtable(L, l) lua_createtable(L, 0, (int)(sizeof(l) / sizeof((l)[0])) - 1)
#endif
#ifndef luaL_newlib
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
#endif
#define lua_rawlen(L, i) lua_objlen(L, (i))

/* LuaJIT 2.1 already provides luaL_setfuncs, luaL_testudata and luaL_setmetatable
 * when built with LUAJIT_ENABLE_LUA52COMPAT; Debian's build does not, so define them. */
#if !defined(LUAJIT_VERSION_NUM) || !defined(LUAJIT_ENABLE_LUA52COMPAT)
static inline void wp_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#undef luaL_setfuncs
#define luaL_setfuncs wp_setfuncs

static inline void *wp_testudata(lua_State *L, int ud, const char *tname)
{
    void *p = lua_touserdata(L, ud);
    if (p != NULL && lua_getmetatable(L, ud)) {
        luaL_getmetatable(L, tname);
        if (!lua_rawequal(L, -1, -2)) p = NULL;
        lua_pop(L, 2);
        return p;
    }
    return NULL;
}
#undef luaL_testudata
#define luaL_testudata wp_testudata

static inline void wp_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}
#undef luaL_setmetatable
#define luaL_setmetatable wp_setmetatable
#endif

/* 5.1 has no integer subtype: every number is a double. */
#define wp_isinteger(L, i) \
    (lua_type(L, (i)) == LUA_TNUMBER && \
     lua_tonumber(L, (i)) == (lua_Number)(lua_Integer)lua_tonumber(L, (i)))

#else
/* Lua 5.3 / 5.4 */
#define WP_LUA51 0
#define wp_isinteger(L, i) lua_isinteger(L, (i))
#endif

#endif /* WP_COMPAT_H */
