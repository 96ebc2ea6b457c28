/*
 * json.h - the JSON codec of the C core: the decoder and string quoting (json.c) and the
 * encoder (json_encode.c).
 *
 * Decoding is strict RFC 8259: no comments, no trailing commas, no leading zeros, no NaN/Infinity,
 * no BOM, strings must be valid UTF-8 (RFC 3629: no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF), raw control characters in strings are refused, \uXXXX escapes
 * (including surrogate pairs) are decoded and lone surrogates refused. Any value is
 * accepted at the top level. Byte positions in messages are 1-based (s:sub(n, n) in Lua).
 */
#ifndef WP_JSON_H
#define WP_JSON_H

#include <stddef.h>
#include <string.h>
#include "compat.h"

#define WP_JSON_MAX_DEPTH 1000 /* arrays + objects nested deeper than this are an error */
#define WP_JSON_ERRMAX 160

/*
 * Decode s[0..len) and push the value on L's stack; return 1.
 * On failure push nothing, write "JSON: ... at byte N" into err and return 0.
 * array_mt: absolute stack index of a table set as the metatable of every decoded array, or 0 for none.
 * null: absolute stack index of the value that stands for JSON null (a nil there means: keys with a
 * null value are left out of objects, and arrays get holes).
 * Numbers: an integer literal (no fraction, no exponent) within int64 is pushed with lua_pushinteger
 * under Lua 5.3/5.4 (under the 5.1 ABI, LuaJIT, every number is a double: exact up to 2^53, larger
 * integers are rounded to the nearest double). Integer literals beyond int64, and every literal with a
 * fraction or an exponent, are doubles (strtod, correctly rounded); a literal beyond the double range
 * (e.g. 1e400) is an error. "-0" is the integer 0.
 * Raises a Lua error only when memory runs out.
 */
int wp_json_decode(lua_State *L, const char *s, size_t len, int array_mt, int null, char *err, size_t errsz);

#if defined(__GNUC__)
#define WP_NOINLINE __attribute__((noinline))
#define WP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WP_NOINLINE
#define WP_UNLIKELY(x) (x)
#endif

/*
 * A growable output buffer for JSON text. It starts in caller-provided memory (usually on the C
 * stack) and grows into Lua userdata kept in one stack slot reserved by the caller (slot: an absolute
 * index holding any value, replaced on growth). Nothing is malloc'd: a Lua error raised while the
 * buffer is in use (out of memory, an error in a metamethod) leaks nothing. Growth allocates, so it
 * needs one free stack slot and may run the garbage collector. Unlike luaL_Buffer it never touches
 * the top of the stack, so values can be pushed and popped freely while it is in use.
 */
typedef struct wp_jbuf {
    lua_State *L;
    char *p;
    size_t len, cap;
    int slot;
} wp_jbuf;

void wp_jbuf_init(wp_jbuf *b, lua_State *L, int slot, char *init, size_t initcap);
void wp_jbuf_grow(wp_jbuf *b, size_t more); /* room for `more` bytes after len; raises on overflow */

static inline void wp_jbuf_add(wp_jbuf *b, const char *s, size_t n)
{
    if (WP_UNLIKELY(b->cap - b->len < n)) wp_jbuf_grow(b, n);
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void wp_jbuf_addchar(wp_jbuf *b, char c)
{
    if (WP_UNLIKELY(b->cap == b->len)) wp_jbuf_grow(b, 1);
    b->p[b->len++] = c;
}

/*
 * Append the JSON string literal of s[0..len) to b: '"' ... '"' with '"', '\\' and control
 * characters (U+0000-U+001F) escaped (\b \f \n \r \t, others \u00XX with lower-case hex); every
 * other byte, '/', DEL and UTF-8 included, is kept raw. On invalid UTF-8 or a 4-byte sequence (the
 * API accepts only 1-3-byte UTF-8) write a message naming the byte position into err and return 0
 * (b then holds a partial literal); else return 1.
 */
int wp_json_quote_into(wp_jbuf *b, const char *s, size_t len, char *err, size_t errsz);

/* The same literal pushed on L's stack (return 1); on failure push nothing and return 0. */
int wp_json_quote(lua_State *L, const char *s, size_t len, char *err, size_t errsz);

/*
 * Length (2, 3 or 4) of the valid UTF-8 sequence at p (*p >= 0x80), or 0 if it is invalid
 * or truncated at end.
 */
size_t wp_utf8_seq(const unsigned char *p, const unsigned char *end);

/* Byte classes inside a JSON string: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 non-ASCII. */
extern const unsigned char wp_json_str_class[256];

/*
 * The encoder. The Lua values it recognises, as stack indices (lua_upvalueindex() pseudo-indices
 * are fine); the cjson_* ones are 0 when absent.
 */
typedef struct wp_json_marks {
    int array_mt, object_mt;             /* metatables that make a table an array / an object */
    int null;                            /* the JSON null sentinel (refused) */
    int empty_array_mt, empty_object_mt; /* metatables of the `[]` / `{}` markers */
    int metatable_key;                   /* the string "__metatable" */
    int cjson_null, cjson_array_mt, cjson_empty_array; /* lua-cjson's, when it is loaded */
} wp_json_marks;

/*
 * Encode the value at absolute index idx as JSON text, with the rules of
 * lua/wechatpay/codec/json.lua (which documents them and formats the messages):
 *  - numbers: integers within +-(2^53-1), written as integers (an integral float such as 40000.0
 *    or -0.0 is written as 40000 or 0); NaN, +-inf, non-integral and larger numbers are refused;
 *  - strings: wp_json_quote_into (1-3-byte UTF-8 only);
 *  - tables: the metatable as getmetatable() answers it (honouring __metatable) decides first:
 *    array_mt / cjson_array_mt -> array, object_mt -> object, the null sentinel itself -> refused,
 *    empty_array_mt / empty_object_mt -> `[]` / `{}`. Then nesting deeper than
 *    WP_JSON_MAX_DEPTH is refused; an unmarked empty table is `{}`; an unmarked table with t[1]
 *    is an array, else an object. Arrays: #t (honouring __len under 5.4) must equal the number of
 *    keys and every t[i] must be non-nil (t[i] as Lua reads it: __index for holes). Objects: string
 *    keys only, written in byte-wise sorted order (memcmp, shorter prefix first). Cycles are refused;
 *    the same table twice side by side is not a cycle;
 *  - userdata equal to cjson_null is refused, equal to cjson_empty_array is `[]`;
 *  - anything else (nil, functions, threads, other userdata, LuaJIT cdata) is refused.
 * Equality with the marks is Lua's `==` (lua_compare / lua_equal), as in Lua.
 *
 * On success push the text and return 1. On failure push five values and return 5:
 *   nil, path, problem, a, b
 * path: the JSON Pointer's reference tokens of the offending value as an array (object keys as
 * strings, array indices, 0-based, as integers); problem and its values a, b:
 *   "string" msg | "key" msg (invalid UTF-8 / 4-byte sequence in a string value / object key)
 *   "number" v   | "null" | "cjson_null" | "depth" | "cycle" | "type" v
 *   "array" t len (not a sequence 1..len; len is #t as Lua computes it)
 *   "object_key" k (the first non-string key met by next())
 * Raises only for out-of-memory, a Lua stack overflow, or an error raised by a metamethod.
 */
int wp_json_encode(lua_State *L, int idx, const wp_json_marks *m);

#endif /* WP_JSON_H */
