/* ljson.c - placeholder until this part of the binding lands. */
#include "lcore.h"

void wp_open_json(lua_State *L)
{
    (void)L;
}
