/*
 * json_encode.c - the JSON encoder of the C core: a Lua value to the JSON text of a request body.
 * The rules are lua/wechatpay/codec/json.lua's (which documents them, and turns the problems this
 * file reports into messages); json.h sums them up. One pass, recursive, depth-limited.
 *
 * Lua semantics kept on purpose, so that the text is the same as the Lua encoder this replaced:
 * getmetatable() honours __metatable, the marks are compared with Lua's `==`, #t honours __len
 * (Lua 5.4), t[i] of an array hole goes through __index, and a failing array or object reports the
 * first offending key in next() order.
 *
 * Memory: the output and the key array start on the C stack and grow into userdata (wp_jbuf), so a
 * Lua error in the middle leaks nothing. Object keys are anchored on the Lua stack (the first
 * STACK_KEYS of an object, within STACK_BUDGET) or in a Lua table (the rest) while their bytes are in
 * use, so code run by a metamethod or a finalizer during the encoding cannot free a string the encoder
 * still reads. Every level keeps at most LEVEL_KEEP slots besides its anchored keys, so even
 * WP_JSON_MAX_DEPTH levels fit LuaJIT's limit of 8000 slots per C frame.
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */
#define MAX_SAFE_NUM 9007199254740991.0
#define STACK_KEYS 128 /* keys of one object anchored on the Lua stack; more go to an anchor table */
#define LEVEL_SLOTS 24 /* Lua stack slots one level may use for a moment (beside anchored keys) */
#define LEVEL_KEEP 2   /* slots a level keeps while deeper levels run: its value, an anchor table */
/* Slots the encoder's C frame may use: LuaJIT allows 8000 per C frame (LUAI_MAXCSTACK). Keys are
 * anchored on the stack only while what the deepest possible nesting still needs stays within it. */
#define STACK_BUDGET 7000
#define OUT_INIT 2048  /* bytes of output before the first heap block (a create body is ~800) */
#define KEYS_INIT 48   /* object keys (over all open objects) before the first heap block */

#if WP_LUA51
#define RAWGETI_INDEX(i) ((int)(i)) /* LuaJIT: arrays stay far below 2^31 elements */
#else
#define RAWGETI_INDEX(i) (i)
#endif

/* The JSON Pointer of the value being encoded: a chain of frames on the C stack. */
typedef struct pathnode {
    const struct pathnode *up;
    const void *container; /* the table holding this value (for cycle detection) */
    const char *key;       /* object member: the key's bytes (anchored); NULL for an array element */
    size_t klen;
    lua_Integer index; /* array element: 0-based index */
} pathnode;

/* An object key while its object is encoded: slot > 0 is a stack index, slot < 0 the position -slot
 * in the object's anchor table. */
typedef struct keyent {
    const char *s;
    size_t len;
    int slot;
} keyent;

typedef struct encoder {
    lua_State *L;
    const wp_json_marks *m;
    wp_jbuf out;
    wp_jbuf keys; /* keyent array, used as a stack by the objects being encoded */
    char err[WP_JSON_ERRMAX];
} encoder;

static int encode_value(encoder *e, int idx, int depth, const pathnode *node);

static int eq(lua_State *L, int a, int b)
{
#if WP_LUA51
    return lua_equal(L, a, b);
#else
    return lua_compare(L, a, b, LUA_OPEQ);
#endif
}

static void push_index(lua_State *L, lua_Integer i)
{
#if WP_LUA51
    lua_pushnumber(L, (lua_Number)i);
#else
    lua_pushinteger(L, i);
#endif
}

/*
 * A failure: the problem's two values are on top of the stack (pushed by the caller). Put nil, the
 * path (array of tokens) and the problem's name beneath them: the five results of wp_json_encode.
 * Returns 0, which every level passes up without touching the stack.
 */
static int fail(encoder *e, const pathnode *at, const char *problem)
{
    lua_State *L = e->L;
    const pathnode *p;
    int n = 0, i;
    for (p = at; p != NULL; p = p->up) n++;
    lua_pushnil(L);
    lua_insert(L, -3);
    lua_createtable(L, n, 0);
    for (p = at, i = n; p != NULL; p = p->up, i--) {
        if (p->key != NULL) lua_pushlstring(L, p->key, p->klen);
        else push_index(L, p->index);
        lua_rawseti(L, -2, i);
    }
    lua_insert(L, -3);
    lua_pushstring(L, problem);
    lua_insert(L, -3);
    return 0;
}

static int fail0(encoder *e, const pathnode *at, const char *problem)
{
    lua_pushnil(e->L);
    lua_pushnil(e->L);
    return fail(e, at, problem);
}

/* ---- scalars ---------------------------------------------------------------------------------- */

static void put_int(wp_jbuf *b, long long v)
{
    char tmp[24], *q = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--q = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    if (v < 0) *--q = '-';
    wp_jbuf_add(b, q, (size_t)(tmp + sizeof tmp - q));
}

static int put_number(encoder *e, int idx, const pathnode *node)
{
    lua_State *L = e->L;
    lua_Number d;
    long long i;
#if !WP_LUA51
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if (v <= MAX_SAFE_INT && v >= -MAX_SAFE_INT) {
            put_int(&e->out, (long long)v);
            return 1;
        }
        goto refuse;
    }
#endif
    d = lua_tonumber(L, idx);
    if (!(d >= -MAX_SAFE_NUM && d <= MAX_SAFE_NUM)) goto refuse; /* also NaN and +-inf */
    i = (long long)d;                                          /* in range: defined */
    if ((lua_Number)i != d) goto refuse;                       /* not integral */
    put_int(&e->out, i);                                       /* -0.0 is 0 */
    return 1;
refuse:
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    return fail(e, node, "number");
}

static int put_string(encoder *e, const char *s, size_t n, const pathnode *node, const char *problem)
{
    if (wp_json_quote_into(&e->out, s, n, e->err, sizeof e->err)) return 1;
    lua_pushstring(e->L, e->err);
    lua_pushnil(e->L);
    return fail(e, node, problem);
}

/* ---- arrays ----------------------------------------------------------------------------------- */

static lua_Integer raw_count(lua_State *L, int t)
{
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

/* Not a sequence 1..len: the message needs the table and len (the value at lenidx, or len). */
static int fail_array(encoder *e, int t, int lenidx, lua_Integer len, const pathnode *node)
{
    lua_pushvalue(e->L, t);
    if (lenidx) lua_pushvalue(e->L, lenidx);
    else push_index(e->L, len);
    return fail(e, node, "array");
}

static int encode_array(encoder *e, int t, int depth, const pathnode *node, int hasmt)
{
    lua_State *L = e->L;
    int top = lua_gettop(L);
    int lenidx = 0;
    lua_Integer len = 0, count, i;
    pathnode child;

#if !WP_LUA51
    if (hasmt) {
        lua_len(L, t); /* #t: honours __len, as Lua 5.4 does */
        if (lua_isinteger(L, -1)) {
            len = lua_tointeger(L, -1);
            lua_pop(L, 1);
        } else {
            lenidx = top + 1;
        }
    } else
#endif
        len = (lua_Integer)lua_rawlen(L, t);
    count = raw_count(L, t);
    if (lenidx) {
        /* A __len answering a non-integer: Lua's `count ~= len` holds unless it is a float equal to
         * the count (the loop then runs over 1..count). */
        if (lua_type(L, lenidx) != LUA_TNUMBER || lua_tonumber(L, lenidx) != (lua_Number)count)
            return fail_array(e, t, lenidx, 0, node);
        len = count;
    } else if (count != len) {
        /* count == len and t[1..len] all non-nil  <=>  the keys are exactly 1..len */
        return fail_array(e, t, 0, len, node);
    }
    lua_settop(L, top);
    wp_jbuf_addchar(&e->out, '[');
    child.up = node;
    child.container = lua_topointer(L, t);
    child.key = NULL;
    child.klen = 0;
    for (i = 1; i <= len; i++) {
        if (i > 1) wp_jbuf_addchar(&e->out, ',');
        lua_rawgeti(L, t, RAWGETI_INDEX(i));
        if (hasmt && lua_isnil(L, -1)) { /* t[i] as Lua reads it: __index for a hole */
            lua_pop(L, 1);
            push_index(L, i);
            lua_gettable(L, t);
        }
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return fail_array(e, t, 0, len, node);
        }
        child.index = i - 1;
        if (!encode_value(e, top + 1, depth + 1, &child)) return 0;
        lua_settop(L, top);
    }
    wp_jbuf_addchar(&e->out, ']');
    return 1;
}

/* ---- objects ---------------------------------------------------------------------------------- */

static int key_cmp(const keyent *a, const keyent *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c != 0) return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int key_qcmp(const void *a, const void *b)
{
    return key_cmp((const keyent *)a, (const keyent *)b);
}

/* Byte-wise order (keys are distinct, so the order is total and any sort gives the same result). */
static void sort_keys(keyent *k, size_t n)
{
    size_t i, j;
    if (n > 16) {
        qsort(k, n, sizeof *k, key_qcmp);
        return;
    }
    for (i = 1; i < n; i++) { /* insertion sort: the small objects of this API */
        keyent x = k[i];
        for (j = i; j > 0 && key_cmp(&x, &k[j - 1]) < 0; j--) k[j] = k[j - 1];
        k[j] = x;
    }
}

static void push_key(lua_State *L, const keyent *k, int anchor)
{
    if (k->slot > 0) lua_pushvalue(L, k->slot);
    else lua_rawgeti(L, anchor, -k->slot);
}

static int encode_object(encoder *e, int t, int depth, const pathnode *node, int hasmt)
{
    lua_State *L = e->L;
    int top = lua_gettop(L), anchor = 0, on_stack, nanchored = 0;
    size_t base = e->keys.len / sizeof(keyent), nk = 0, stacked = 0, i;
    pathnode child;

    on_stack = lua_gettop(L) + STACK_KEYS + LEVEL_KEEP * (WP_JSON_MAX_DEPTH - depth) + LEVEL_SLOTS < STACK_BUDGET &&
               lua_checkstack(L, STACK_KEYS + LEVEL_SLOTS);
    if (!on_stack && !lua_checkstack(L, LEVEL_SLOTS)) return luaL_error(L, "JSON encoder: Lua stack exhausted");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        keyent k;
        lua_pop(L, 1); /* the value: read again below, as t[k] */
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pushnil(L);
            return fail(e, node, "object_key"); /* values: the key, nil */
        }
        k.s = lua_tolstring(L, -1, &k.len);
        if (on_stack && stacked < STACK_KEYS) {
            lua_pushvalue(L, -1); /* the copy drives next(); the key below it stays as the anchor */
            k.slot = lua_gettop(L) - 1;
            stacked++;
        } else {
            if (!anchor) {
                lua_createtable(L, 16, 0);
                lua_insert(L, -2);
                anchor = lua_gettop(L) - 1;
            }
            if (nanchored == 0x7fffffff) return luaL_error(L, "JSON encoder: too many keys");
            lua_pushvalue(L, -1);
            lua_rawseti(L, anchor, ++nanchored);
            k.slot = -nanchored;
        }
        wp_jbuf_add(&e->keys, (const char *)&k, sizeof k);
        nk++;
    }
    sort_keys((keyent *)(void *)e->keys.p + base, nk);

    wp_jbuf_addchar(&e->out, '{');
    child.up = node;
    child.container = lua_topointer(L, t);
    child.index = 0;
    for (i = 0; i < nk; i++) {
        /* a copy: nested objects may move the key array */
        keyent k = ((const keyent *)(const void *)e->keys.p)[base + i];
        int v;
        if (i > 0) wp_jbuf_addchar(&e->out, ',');
        child.key = k.s;
        child.klen = k.len;
        if (!put_string(e, k.s, k.len, &child, "key")) return 0;
        wp_jbuf_addchar(&e->out, ':');
        push_key(L, &k, anchor);
        lua_rawget(L, t);
        if (hasmt && lua_isnil(L, -1)) { /* t[k] as Lua reads it (only if the table changed meanwhile) */
            lua_pop(L, 1);
            push_key(L, &k, anchor);
            lua_gettable(L, t);
        }
        v = lua_gettop(L);
        if (!encode_value(e, v, depth + 1, &child)) return 0;
        lua_pop(L, 1);
    }
    wp_jbuf_addchar(&e->out, '}');
    e->keys.len = base * sizeof(keyent);
    lua_settop(L, top);
    return 1;
}

/* ---- tables ----------------------------------------------------------------------------------- */

static int encode_table(encoder *e, int t, int depth, const pathnode *node)
{
    lua_State *L = e->L;
    const wp_json_marks *m = e->m;
    int top = lua_gettop(L), kind = 0, hasmt;
    const void *self;
    const pathnode *p;

    if (!lua_checkstack(L, LEVEL_SLOTS)) return luaL_error(L, "JSON encoder: Lua stack exhausted");
    hasmt = lua_getmetatable(L, t);
    if (hasmt) {
        int mt = top + 1;
        lua_pushvalue(L, m->metatable_key); /* getmetatable(): mt.__metatable (raw) if set */
        lua_rawget(L, mt);
        if (!lua_isnil(L, -1)) lua_replace(L, mt);
        else lua_pop(L, 1);
        if (eq(L, mt, m->array_mt)) {
            kind = 1;
        } else if (eq(L, mt, m->object_mt)) {
            kind = 2;
        } else if (eq(L, t, m->null)) {
            lua_settop(L, top);
            return fail0(e, node, "null");
        } else if (eq(L, mt, m->empty_array_mt)) {
            lua_settop(L, top);
            wp_jbuf_add(&e->out, "[]", 2);
            return 1;
        } else if (eq(L, mt, m->empty_object_mt)) {
            lua_settop(L, top);
            wp_jbuf_add(&e->out, "{}", 2);
            return 1;
        } else if (m->cjson_array_mt && eq(L, mt, m->cjson_array_mt)) {
            kind = 1;
        }
        lua_settop(L, top);
    }
    if (depth >= WP_JSON_MAX_DEPTH) return fail0(e, node, "depth");
    if (!kind) {
        lua_pushnil(L);
        if (!lua_next(L, t)) { /* a plain empty table */
            wp_jbuf_add(&e->out, "{}", 2);
            return 1;
        }
        lua_settop(L, top);
        lua_rawgeti(L, t, 1);
        kind = lua_isnil(L, -1) ? 2 : 1;
        lua_pop(L, 1);
    }
    self = lua_topointer(L, t);
    for (p = node; p != NULL; p = p->up)
        if (p->container == self) return fail0(e, node, "cycle");
    return kind == 1 ? encode_array(e, t, depth, node, hasmt) : encode_object(e, t, depth, node, hasmt);
}

/* ---- values ----------------------------------------------------------------------------------- */

static int encode_value(encoder *e, int idx, int depth, const pathnode *node)
{
    lua_State *L = e->L;
    const wp_json_marks *m = e->m;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return put_string(e, s, n, node, "string");
    }
    case LUA_TNUMBER:
        return put_number(e, idx, node);
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) wp_jbuf_add(&e->out, "true", 4);
        else wp_jbuf_add(&e->out, "false", 5);
        return 1;
    case LUA_TTABLE:
        return encode_table(e, idx, depth, node);
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
        if (m->cjson_null && eq(L, idx, m->cjson_null)) return fail0(e, node, "cjson_null");
        if (m->cjson_empty_array && eq(L, idx, m->cjson_empty_array)) {
            wp_jbuf_add(&e->out, "[]", 2);
            return 1;
        }
        break;
    default:
        break;
    }
    lua_pushvalue(L, idx); /* nil, function, thread, other userdata, cdata: Lua names the type */
    lua_pushnil(L);
    return fail(e, node, "type");
}

int wp_json_encode(lua_State *L, int idx, const wp_json_marks *m)
{
    encoder e;
    char out_init[OUT_INIT];
    keyent keys_init[KEYS_INIT];

    if (!lua_checkstack(L, LEVEL_SLOTS + 2)) return luaL_error(L, "JSON encoder: Lua stack exhausted");
    lua_pushnil(L); /* slot of the output's heap block */
    lua_pushnil(L); /* slot of the key array's heap block */
    e.L = L;
    e.m = m;
    wp_jbuf_init(&e.out, L, lua_gettop(L) - 1, out_init, sizeof out_init);
    wp_jbuf_init(&e.keys, L, lua_gettop(L), (char *)(void *)keys_init, sizeof keys_init);
    if (!encode_value(&e, idx, 0, NULL)) return 5;
    lua_pushlstring(L, e.out.p, e.out.len);
    return 1;
}
