/* lcrypto.c - placeholder until this part of the binding lands. */
#include "lcore.h"

void wp_open_crypto(lua_State *L)
{
    (void)L;
}
