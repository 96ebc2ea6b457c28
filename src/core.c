/*
 * core.c - luaopen_wechatpay_core: the module table of the C core.
 */
#include "lcore.h"

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_wechatpay_core(lua_State *L)
{
    lua_newtable(L);
    wp_open_crypto(L);
    wp_open_json(L);
    wp_open_http(L);
    return 1;
}
