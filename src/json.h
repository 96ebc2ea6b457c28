/*
 * json.h - the JSON decoder and string quoting of the C core (json.c).
 *
 * Strict RFC 8259: no comments, no trailing commas, no leading zeros, no NaN/Infinity,
 * no BOM, strings must be valid UTF-8 (RFC 3629: no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF), raw control characters in strings are refused, \uXXXX escapes
 * (including surrogate pairs) are decoded and lone surrogates refused. Any value is
 * accepted at the top level. Byte positions in messages are 1-based (s:sub(n, n) in Lua).
 */
#ifndef WP_JSON_H
#define WP_JSON_H

#include <stddef.h>
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

/*
 * Push the JSON string literal of s[0..len): '"' ... '"' with '"', '\\' and control characters
 * (U+0000-U+001F) escaped (\b \f \n \r \t, others \u00XX); every other byte, UTF-8 included, is kept raw.
 * On invalid UTF-8 or a 4-byte sequence (the API accepts only 1-3-byte UTF-8) push nothing, write a
 * message naming the byte position into err and return 0.
 */
int wp_json_quote(lua_State *L, const char *s, size_t len, char *err, size_t errsz);

/*
 * Length (2, 3 or 4) of the valid UTF-8 sequence at p (*p >= 0x80), or 0 if it is invalid
 * or truncated at end.
 */
size_t wp_utf8_seq(const unsigned char *p, const unsigned char *end);

#endif /* WP_JSON_H */
