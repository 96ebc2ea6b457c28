/*
 * forktest.c - proves that wechatpay.core's random generator is fork-safe,
 * through the real module. Built by spec/core/random_spec.lua with `cc`
 * against the Lua (or LuaJIT) library of the interpreter running the spec.
 *
 *   forktest CPATH CHILDREN DRAWS
 *
 * Embeds Lua, sets package.cpath = CPATH, requires "wechatpay.core" and draws
 * random bytes and a nonce in the parent (so the generator is seeded and has
 * state to inherit), then forks CHILDREN children. Each child prints one line
 * "child<i> <DRAWS nonces> <hex of 32 random bytes>" and _exit()s; after they
 * have finished the parent prints "parent ..." the same way. Without a reseed
 * after fork() every child line would be identical.
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char script[] =
    "local core = require 'wechatpay.core'\n"
    "assert(#core.random(64) == 64) assert(#core.nonce() == 32)\n"
    "function draw(n)\n"
    "  local t = {}\n"
    "  for i = 1, n do t[i] = core.nonce() end\n"
    "  t[#t + 1] = (core.random(32):gsub('.', function(c) return string.format('%02x', c:byte()) end))\n"
    "  return table.concat(t, ' ')\n"
    "end\n";

static int emit(lua_State *L, const char *who, int draws)
{
    char line[8192];
    const char *s;
    int n;

    lua_getglobal(L, "draw");
    lua_pushinteger(L, draws);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fprintf(stderr, "%s: %s\n", who, lua_tostring(L, -1));
        return 1;
    }
    s = lua_tostring(L, -1);
    n = snprintf(line, sizeof line, "%s %s\n", who, s ? s : "");
    lua_pop(L, 1);
    if (n <= 0 || (size_t)n >= sizeof line) return 1;
    /* one write(2) per line: lines of concurrent children do not interleave */
    return write(STDOUT_FILENO, line, (size_t)n) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    lua_State *L;
    int children, draws, i, failed = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: forktest CPATH CHILDREN DRAWS\n");
        return 2;
    }
    children = atoi(argv[2]);
    draws = atoi(argv[3]);
    if (children < 1 || children > 16 || draws < 1 || draws > 100) return 2;

    L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, argv[1]);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    if (luaL_loadstring(L, script) != 0 || lua_pcall(L, 0, 0, 0) != 0) {
        fprintf(stderr, "forktest: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    fflush(stdout);
    for (i = 0; i < children; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            failed = 1;
            break;
        }
        if (pid == 0) {
            char who[32];
            snprintf(who, sizeof who, "child%d", i + 1);
            _exit(emit(L, who, draws));
        }
    }
    for (;;) {
        int status;
        pid_t w = wait(&status);
        if (w < 0) break;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    }
    if (emit(L, "parent", draws) != 0) failed = 1;
    lua_close(L);
    return failed;
}
