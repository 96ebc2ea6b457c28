/*
 * json.c - strict RFC 8259 JSON decoder (building Lua values), JSON string quoting and the output
 * buffer the quoting and the encoder (json_encode.c) write into. See json.h for the contract.
 * The decoder: single pass, recursive descent with an explicit depth limit.
 */
#include "json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

size_t wp_utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
        else if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
        if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;      /* no overlong forms */
        else if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
        if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0; /* continuation byte, C0, C1, F5..FF */
}

/* Byte classes inside a JSON string: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 non-ASCII. */
const unsigned char wp_json_str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* ---- decoder ---------------------------------------------------------------------------------- */

typedef struct parser {
    lua_State *L;
    const unsigned char *s, *p, *end;
    int depth;
    int array_mt; /* absolute index or 0 */
    int null;     /* absolute index */
    char *err;
    size_t errsz;
} parser;

static size_t pos_of(const parser *ps, const unsigned char *at)
{
    return (size_t)(at - ps->s) + 1;
}

static int fail(parser *ps, const unsigned char *at, const char *what)
{
    snprintf(ps->err, ps->errsz, "JSON: %s at byte %lu", what, (unsigned long)pos_of(ps, at));
    return 0;
}

static int fail_char(parser *ps, const unsigned char *at)
{
    if (at >= ps->end) return fail(ps, ps->end, "unexpected end of input");
    if (*at >= 0x21 && *at <= 0x7E)
        snprintf(ps->err, ps->errsz, "JSON: unexpected character '%c' at byte %lu", *at,
                 (unsigned long)pos_of(ps, at));
    else
        snprintf(ps->err, ps->errsz, "JSON: unexpected character 0x%02X at byte %lu", *at,
                 (unsigned long)pos_of(ps, at));
    return 0;
}

#define IS_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')

static inline void skip_ws(parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && IS_WS(*p)) p++;
    ps->p = p;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = (v << 4) | d;
    }
    *out = v;
    return 1;
}

static size_t utf8_put(unsigned cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * ps->p is just after the opening quote. Pushes the string. Kept out of line: its luaL_Buffer
 * is large and must not sit in every frame of the recursion.
 */
static WP_NOINLINE int parse_string(parser *ps)
{
    lua_State *L = ps->L;
    const unsigned char *p = ps->p, *end = ps->end, *run = p;
    luaL_Buffer b;
    int buffered = 0;

    for (;;) {
        while (p < end && wp_json_str_class[*p] == 0) p++;
        if (WP_UNLIKELY(p >= end)) return fail(ps, end, "unterminated string, unexpected end of input");
        switch (wp_json_str_class[*p]) {
        case 1: /* closing quote */
            if (!buffered) {
                lua_pushlstring(L, (const char *)run, (size_t)(p - run));
            } else {
                luaL_addlstring(&b, (const char *)run, (size_t)(p - run));
                luaL_pushresult(&b);
            }
            ps->p = p + 1;
            return 1;
        case 4: {
            size_t n = wp_utf8_seq(p, end);
            if (n == 0) return fail(ps, p, "invalid UTF-8 in string");
            p += n;
            break;
        }
        case 3: {
            char what[64];
            snprintf(what, sizeof what, "unescaped control character 0x%02X in string", *p);
            return fail(ps, p, what);
        }
        default: { /* 2: backslash */
            const unsigned char *esc = p;
            char c;
            if (!buffered) {
                if (!lua_checkstack(L, 8)) return fail(ps, p, "Lua stack exhausted");
                luaL_buffinit(L, &b);
                buffered = 1;
            }
            luaL_addlstring(&b, (const char *)run, (size_t)(p - run));
            p++;
            if (p >= end) return fail(ps, end, "unterminated string, unexpected end of input");
            switch (*p) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                char u[4];
                if (end - p < 5 || !hex4(p + 1, &cp)) return fail(ps, esc, "invalid \\u escape");
                p += 5;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return fail(ps, esc, "lone UTF-16 surrogate in \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail(ps, esc, "lone UTF-16 surrogate in \\u escape");
                }
                luaL_addlstring(&b, u, utf8_put(cp, u));
                run = p;
                continue;
            }
            default:
                return fail(ps, esc, "invalid escape in string");
            }
            luaL_addchar(&b, c);
            p++;
            run = p;
            break;
        }
        }
    }
}

/* strtod over s[0..n), independent of the C locale's decimal point. */
static double to_double(lua_State *L, const unsigned char *s, size_t n, int *ok)
{
    char small[128], *buf = small, *endp;
    const char *dp = localeconv()->decimal_point;
    double d;
    size_t i;
    int boxed = 0;
    if (n + 1 > sizeof small) {
        buf = (char *)lua_newuserdata(L, n + 1);
        boxed = 1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (dp != NULL && dp[0] != '.' && dp[0] != '\0' && dp[1] == '\0')
        for (i = 0; i < n; i++)
            if (buf[i] == '.') buf[i] = dp[0];
    errno = 0;
    d = strtod(buf, &endp);
    *ok = (endp == buf + n);
    if (boxed) lua_pop(L, 1);
    return d;
}

static int parse_number(parser *ps)
{
    lua_State *L = ps->L;
    const unsigned char *start = ps->p, *p = start, *end = ps->end, *digits;
    int neg = 0, isint = 1;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    digits = p;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return fail_char(ps, p);
    }
    if (p < end && *p == '.') {
        isint = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return fail_char(ps, p);
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        isint = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return fail_char(ps, p);
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    ps->p = p;

    if (isint && p - digits <= 19) {
        /* up to 19 digits fit in uint64 without overflow */
        uint64_t v = 0;
        const unsigned char *q;
        for (q = digits; q < p; q++) v = v * 10 + (uint64_t)(*q - '0');
        if (v <= (uint64_t)INT64_MAX || (neg && v == (uint64_t)INT64_MAX + 1)) {
#if WP_LUA51
            double d = (double)v;
            lua_pushnumber(L, (neg && v) ? -d : d);
#else
            lua_Integer i;
            if (!neg) i = (lua_Integer)v;
            else if (v == (uint64_t)INT64_MAX + 1) i = (lua_Integer)INT64_MIN;
            else i = -(lua_Integer)v;
            lua_pushinteger(L, i);
#endif
            return 1;
        }
    }
    {
        int ok;
        double d = to_double(L, start, (size_t)(p - start), &ok);
        if (!ok) return fail(ps, start, "unparsable number");
        if (isinf(d)) return fail(ps, start, "number out of range");
        lua_pushnumber(L, (lua_Number)d);
    }
    return 1;
}

static int parse_value(parser *ps);

static int enter(parser *ps)
{
    if (++ps->depth > WP_JSON_MAX_DEPTH) {
        char what[64];
        snprintf(what, sizeof what, "nesting deeper than %d levels", WP_JSON_MAX_DEPTH);
        return fail(ps, ps->p, what);
    }
    if (!lua_checkstack(ps->L, 4)) return fail(ps, ps->p, "nesting too deep for the Lua stack");
    return 1;
}

static int parse_array(parser *ps)
{
    lua_State *L = ps->L;
    int i = 1;
    if (!enter(ps)) return 0;
    ps->p++; /* '[' */
    lua_newtable(L);
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            if (!parse_value(ps)) return 0;
            lua_rawseti(L, -2, i++);
            skip_ws(ps);
            if (ps->p >= ps->end) return fail(ps, ps->end, "unexpected end of input in array");
            if (*ps->p == ',') {
                ps->p++;
                continue;
            }
            if (*ps->p == ']') {
                ps->p++;
                break;
            }
            return fail_char(ps, ps->p);
        }
    }
    if (ps->array_mt) {
        lua_pushvalue(L, ps->array_mt);
        lua_setmetatable(L, -2);
    }
    ps->depth--;
    return 1;
}

static int parse_object(parser *ps)
{
    lua_State *L = ps->L;
    if (!enter(ps)) return 0;
    ps->p++; /* '{' */
    lua_newtable(L);
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return 1;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end) return fail(ps, ps->end, "unexpected end of input in object");
        if (*ps->p != '"') return fail_char(ps, ps->p);
        ps->p++;
        if (!parse_string(ps)) return 0;
        skip_ws(ps);
        if (ps->p >= ps->end) return fail(ps, ps->end, "unexpected end of input in object");
        if (*ps->p != ':') return fail_char(ps, ps->p);
        ps->p++;
        if (!parse_value(ps)) return 0;
        lua_rawset(L, -3); /* duplicate keys: the last one wins */
        skip_ws(ps);
        if (ps->p >= ps->end) return fail(ps, ps->end, "unexpected end of input in object");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == '}') {
            ps->p++;
            break;
        }
        return fail_char(ps, ps->p);
    }
    ps->depth--;
    return 1;
}

static int literal(parser *ps, const char *word, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (ps->p + i >= ps->end || ps->p[i] != (unsigned char)word[i]) return fail_char(ps, ps->p + i);
    ps->p += n;
    return 1;
}

static int parse_value(parser *ps)
{
    lua_State *L = ps->L;
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, ps->end, "unexpected end of input");
    switch (*ps->p) {
    case '{': return parse_object(ps);
    case '[': return parse_array(ps);
    case '"': ps->p++; return parse_string(ps);
    case 't':
        if (!literal(ps, "true", 4)) return 0;
        lua_pushboolean(L, 1);
        return 1;
    case 'f':
        if (!literal(ps, "false", 5)) return 0;
        lua_pushboolean(L, 0);
        return 1;
    case 'n':
        if (!literal(ps, "null", 4)) return 0;
        lua_pushvalue(L, ps->null);
        return 1;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(ps);
    default:
        return fail_char(ps, ps->p);
    }
}

int wp_json_decode(lua_State *L, const char *s, size_t len, int array_mt, int null, char *err, size_t errsz)
{
    parser ps;
    int top = lua_gettop(L);
    ps.L = L;
    ps.s = ps.p = (const unsigned char *)s;
    ps.end = ps.s + len;
    ps.depth = 0;
    ps.array_mt = array_mt;
    ps.null = null;
    ps.err = err;
    ps.errsz = errsz;
    if (!lua_checkstack(L, 8)) {
        snprintf(err, errsz, "JSON: Lua stack exhausted");
        return 0;
    }
    if (!parse_value(&ps)) {
        lua_settop(L, top);
        return 0;
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail_char(&ps, ps.p);
        lua_settop(L, top);
        return 0;
    }
    return 1;
}

/* ---- output buffer ---------------------------------------------------------------------------- */

void wp_jbuf_init(wp_jbuf *b, lua_State *L, int slot, char *init, size_t initcap)
{
    b->L = L;
    b->p = init;
    b->len = 0;
    b->cap = initcap;
    b->slot = slot;
}

void wp_jbuf_grow(wp_jbuf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 64;
    char *p;
    if (more > ((size_t)-1 / 2) - b->len) luaL_error(b->L, "JSON text too large");
    while (cap - b->len < more) cap *= 2; /* b->len + more <= SIZE_MAX / 2: no overflow */
    p = (char *)lua_newuserdata(b->L, cap);
    if (b->len) memcpy(p, b->p, b->len);
    lua_replace(b->L, b->slot); /* the old block (if any) is garbage now */
    b->p = p;
    b->cap = cap;
}

/* ---- quoting ---------------------------------------------------------------------------------- */

static void utf8_error(const unsigned char *s, const unsigned char *p, size_t n, char *err, size_t errsz)
{
    if (n != 4) {
        snprintf(err, errsz, "invalid UTF-8 at byte %lu of the string", (unsigned long)(p - s) + 1);
    } else {
        unsigned cp = ((unsigned)(p[0] & 0x07) << 18) | ((unsigned)(p[1] & 0x3F) << 12) |
                      ((unsigned)(p[2] & 0x3F) << 6) | (unsigned)(p[3] & 0x3F);
        snprintf(err, errsz,
                 "4-byte UTF-8 sequence (U+%04X) at byte %lu of the string: the API accepts only 1-3-byte UTF-8", cp,
                 (unsigned long)(p - s) + 1);
    }
}

int wp_json_quote_into(wp_jbuf *b, const char *str, size_t len, char *err, size_t errsz)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str, *p = s, *end = s + len, *run = s;

    if (WP_UNLIKELY(len > ((size_t)-1 / 4))) luaL_error(b->L, "JSON text too large");
    if (WP_UNLIKELY(b->cap - b->len < len + 2)) wp_jbuf_grow(b, len + 2);
    b->p[b->len++] = '"';
    for (;;) {
        unsigned char c;
        char e[6];
        size_t n;
        while (p < end && wp_json_str_class[*p] == 0) p++;
        if (p >= end) break;
        c = *p;
        if (wp_json_str_class[c] == 4) {
            n = wp_utf8_seq(p, end);
            if (n == 0 || n == 4) {
                utf8_error(s, p, n, err, errsz);
                return 0;
            }
            p += n;
            continue;
        }
        wp_jbuf_add(b, (const char *)run, (size_t)(p - run));
        e[0] = '\\';
        n = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hexd[c >> 4];
            e[5] = hexd[c & 15];
            n = 6;
        }
        wp_jbuf_add(b, e, n);
        p++;
        run = p;
    }
    wp_jbuf_add(b, (const char *)run, (size_t)(end - run));
    wp_jbuf_addchar(b, '"');
    return 1;
}

int wp_json_quote(lua_State *L, const char *s, size_t len, char *err, size_t errsz)
{
    char init[256];
    wp_jbuf b;
    int slot;
    luaL_checkstack(L, 3, "JSON quoting");
    lua_pushnil(L); /* the buffer's slot */
    slot = lua_gettop(L);
    wp_jbuf_init(&b, L, slot, init, sizeof init);
    if (!wp_json_quote_into(&b, s, len, err, errsz)) {
        lua_settop(L, slot - 1);
        return 0;
    }
    lua_pushlstring(L, b.p, b.len);
    lua_remove(L, slot);
    return 1;
}
