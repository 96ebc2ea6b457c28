/* lhttp.c - placeholder until this part of the binding lands. */
#include "lcore.h"

void wp_open_http(lua_State *L)
{
    (void)L;
}
