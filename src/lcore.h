/*
 * lcore.h - the parts of the Lua binding. core.c builds the module table
 * `wechatpay.core` and lets each part add its functions to it.
 */
#ifndef WP_LCORE_H
#define WP_LCORE_H

#include "compat.h"

/* Each adds its functions/fields to the table on top of the stack. */
void wp_open_crypto(lua_State *L); /* lcrypto.c: keys, sign/verify, OAEP, GCM, random, digests, base64 */
void wp_open_json(lua_State *L);   /* ljson.c: json_decode, json_quote, json_encoder */
void wp_open_http(lua_State *L);   /* lhttp.c: http_session, curl_version */

#endif
