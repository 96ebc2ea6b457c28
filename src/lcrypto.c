/*
 * lcrypto.c - the crypto part of the Lua binding (wechatpay.core): keys,
 * signatures, OAEP, AES-256-GCM, random bytes and nonces, digests, base64.
 *
 * Thin: all crypto is in src/<backend>/, all key-form detection in keyform.c.
 * Rules: arguments are checked first (wrong types raise), then buffers are
 * taken; nothing is malloc'ed here, scratch space is either on the stack or a
 * Lua userdata (collected even if a Lua error escapes), and every buffer that
 * held a secret is zeroised before the function returns.
 * Failures a caller must handle return nil, message[, reason].
 */
#include "lcore.h"

#include "crypto.h"
#include "encoding.h"
#include "keyform.h"
#include "nonce.h"

#include <string.h>

#define KEY_MT "wechatpay.key"
#define RANDOM_MAX (1024 * 1024)
#define PROBE_PREFIX "WECHATPAY/SIGNTEST/"
#define PROBE_LEN (sizeof PROBE_PREFIX - 1)
#define RSA_B64_MAX (((WP_RSA_MAX_BYTES + 2) / 3) * 4) /* 684 for 4096-bit */
#define SERIAL_HEX_MAX 130                             /* 64-byte serials */

typedef struct {
    wp_key *k;
} lkey;

/* ---- argument helpers ------------------------------------------------------ */

/* A real string (no number coercion). */
static const char *check_str(lua_State *L, int i, size_t *len)
{
    if (lua_type(L, i) != LUA_TSTRING)
        luaL_argerror(L, i, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, i)));
    return lua_tolstring(L, i, len);
}

static const char *opt_str(lua_State *L, int i, size_t *len)
{
    if (lua_isnoneornil(L, i)) {
        if (len != NULL) *len = 0;
        return NULL;
    }
    return check_str(L, i, len);
}

static wp_key *check_key(lua_State *L, int i)
{
    lkey *u = (lkey *)luaL_checkudata(L, i, KEY_MT);
    if (u->k == NULL) luaL_argerror(L, i, "key has been freed");
    return u->k;
}

/* Scratch memory owned by the Lua GC (no leak if a Lua error escapes). */
static unsigned char *scratch(lua_State *L, size_t n)
{
    return (unsigned char *)lua_newuserdata(L, n > 0 ? n : 1);
}

static int fail(lua_State *L, const char *msg, const char *reason)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    if (reason == NULL) return 2;
    lua_pushstring(L, reason);
    return 3;
}

static size_t key_bytes(const wp_key *k)
{
    return (wp_key_bits(k) + 7) / 8;
}

/* ---- keys ---------------------------------------------------------------- */

static int l_key_load(lua_State *L)
{
    size_t len, passlen = 0;
    const char *input = check_str(L, 1, &len);
    const char *kind_s = opt_str(L, 2, NULL);
    const char *pass = opt_str(L, 3, &passlen);
    wp_key_kind kind = WP_KEY_PRIVATE;
    lkey *u;
    wp_err e;

    if (kind_s != NULL && strcmp(kind_s, "public") == 0)
        kind = WP_KEY_PUBLIC;
    else if (kind_s != NULL && strcmp(kind_s, "private") != 0)
        return luaL_argerror(L, 2, "\"private\" or \"public\" expected");

    /* the userdata exists before the key: once parsed, __gc owns it */
    u = (lkey *)lua_newuserdata(L, sizeof *u);
    u->k = NULL;
    luaL_setmetatable(L, KEY_MT);
    if (wp_key_load(&u->k, kind, input, len, pass, passlen, &e) != WP_OK) {
        u->k = NULL;
        return fail(L, e.msg, NULL);
    }
    return 1;
}

static int l_key_gc(lua_State *L)
{
    lkey *u = (lkey *)lua_touserdata(L, 1);
    if (u != NULL && u->k != NULL) {
        wp_key *k = u->k;
        u->k = NULL; /* safe to run twice */
        wp_key_free(k);
    }
    return 0;
}

static int l_key_tostring(lua_State *L)
{
    lkey *u = (lkey *)luaL_checkudata(L, 1, KEY_MT);
    if (u->k == NULL)
        lua_pushliteral(L, "wechatpay.key (freed)");
    else
        lua_pushfstring(L, "wechatpay.key (%s, %d-bit RSA)",
                        wp_key_kind_of(u->k) == WP_KEY_PRIVATE ? "private" : "public",
                        (int)wp_key_bits(u->k));
    return 1;
}

static int l_key_kind(lua_State *L)
{
    wp_key *k = check_key(L, 1);
    lua_pushstring(L, wp_key_kind_of(k) == WP_KEY_PRIVATE ? "private" : "public");
    return 1;
}

static int l_key_bits(lua_State *L)
{
    wp_key *k = check_key(L, 1);
    lua_pushinteger(L, (lua_Integer)wp_key_bits(k));
    return 1;
}

static int l_cert_serial(lua_State *L)
{
    size_t len;
    const char *input = check_str(L, 1, &len);
    char hex[SERIAL_HEX_MAX + 1];
    wp_err e;

    if (wp_cert_serial_load(input, len, hex, sizeof hex, &e) != WP_OK) return fail(L, e.msg, NULL);
    lua_pushstring(L, hex);
    return 1;
}

/* ---- signatures -------------------------------------------------------------- */

static int l_sign(lua_State *L)
{
    wp_key *k = check_key(L, 1);
    size_t len;
    const char *msg = check_str(L, 2, &len);
    unsigned char sig[WP_RSA_MAX_BYTES];
    char b64[RSA_B64_MAX + 1];
    size_t siglen = sizeof sig;
    wp_err e;

    if (wp_key_kind_of(k) != WP_KEY_PRIVATE) return fail(L, "signing needs a private key", NULL);
    if (wp_rsa_sign(k, (const unsigned char *)msg, len, sig, &siglen, &e) != WP_OK)
        return fail(L, e.msg, NULL);
    wp_b64_encode(sig, siglen, b64);
    lua_pushstring(L, b64);
    return 1;
}

static int verify_false(lua_State *L, const char *reason)
{
    lua_pushboolean(L, 0);
    lua_pushstring(L, reason);
    return 2;
}

static int l_verify(lua_State *L)
{
    wp_key *k = check_key(L, 1);
    size_t len, b64len, rawlen = 0;
    const char *msg = check_str(L, 2, &len);
    const char *b64 = check_str(L, 3, &b64len);
    unsigned char raw[WP_RSA_MAX_BYTES + 3];
    wp_err e;
    int rc;

    /* the probe prefix is valid base64: test it before decoding */
    if (b64len >= PROBE_LEN && memcmp(b64, PROBE_PREFIX, PROBE_LEN) == 0)
        return verify_false(L, "SIGNATURE_PROBE");
    if (b64len == 0 || b64len > RSA_B64_MAX) return verify_false(L, "SIGNATURE_MALFORMED");
    if (wp_b64_decode(b64, b64len, raw, &rawlen, &e) != WP_OK || rawlen != key_bytes(k))
        return verify_false(L, "SIGNATURE_MALFORMED");
    rc = wp_rsa_verify(k, (const unsigned char *)msg, len, raw, rawlen);
    if (rc == WP_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return verify_false(L, "SIGNATURE_MISMATCH");
}

/* ---- RSA-OAEP ------------------------------------------------------------------ */

static int l_oaep_encrypt(lua_State *L)
{
    wp_key *k = check_key(L, 1);
    size_t len, outlen;
    const char *pt = check_str(L, 2, &len);
    unsigned char out[WP_RSA_MAX_BYTES];
    char b64[RSA_B64_MAX + 1];
    size_t max = key_bytes(k) > 42 ? key_bytes(k) - 42 : 0;
    wp_err e;

    if (len > max) {
        lua_pushnil(L);
        lua_pushfstring(L, "plaintext too long for RSA-OAEP: %d bytes, at most %d", (int)len, (int)max);
        lua_pushliteral(L, "PLAINTEXT_TOO_LONG");
        return 3;
    }
    outlen = sizeof out;
    if (wp_rsa_oaep_encrypt(k, (const unsigned char *)pt, len, out, &outlen, &e) != WP_OK)
        return fail(L, e.msg, "ENCRYPT_FAILED");
    wp_b64_encode(out, outlen, b64);
    lua_pushstring(L, b64);
    return 1;
}

static int l_oaep_decrypt(lua_State *L)
{
    wp_key *k = check_key(L, 1);
    size_t b64len, rawlen = 0, outlen;
    const char *b64 = check_str(L, 2, &b64len);
    unsigned char raw[WP_RSA_MAX_BYTES + 3];
    unsigned char out[WP_RSA_MAX_BYTES];
    wp_err e;

    if (wp_key_kind_of(k) != WP_KEY_PRIVATE)
        return fail(L, "RSA-OAEP decryption needs a private key", "NOT_PRIVATE_KEY");
    if (b64len > RSA_B64_MAX) {
        lua_pushnil(L);
        lua_pushfstring(L, "ciphertext too long: %d base64 characters", (int)b64len);
        lua_pushliteral(L, "BAD_LENGTH");
        return 3;
    }
    if (wp_b64_decode(b64, b64len, raw, &rawlen, &e) != WP_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "ciphertext: %s", e.msg);
        lua_pushliteral(L, "BAD_BASE64");
        return 3;
    }
    if (rawlen != key_bytes(k)) {
        lua_pushnil(L);
        lua_pushfstring(L, "ciphertext must be %d bytes, got %d", (int)key_bytes(k), (int)rawlen);
        lua_pushliteral(L, "BAD_LENGTH");
        return 3;
    }
    outlen = sizeof out;
    if (wp_rsa_oaep_decrypt(k, raw, rawlen, out, &outlen, &e) != WP_OK) {
        wp_zeroize(out, sizeof out);
        return fail(L, e.msg, "DECRYPT_FAILED");
    }
    lua_pushlstring(L, (const char *)out, outlen);
    wp_zeroize(out, sizeof out);
    return 1;
}

/* ---- AES-256-GCM ------------------------------------------------------------- */

/* key, iv and aad of gcm_encrypt/gcm_decrypt (arguments 1..3). Returns 0 and
 * pushes nil, msg, reason on a bad key or IV. */
static int gcm_args(lua_State *L, const char **key, const char **iv, size_t *ivlen,
                    const char **aad, size_t *aadlen)
{
    size_t keylen;
    *key = check_str(L, 1, &keylen);
    *iv = check_str(L, 2, ivlen);
    *aad = opt_str(L, 3, aadlen);
    if (*aad == NULL) *aad = "";
    if (keylen != 32) {
        lua_pushnil(L);
        lua_pushfstring(L, "APIv3 key must be 32 bytes, got %d", (int)keylen);
        lua_pushliteral(L, "KEY_LENGTH");
        return 0;
    }
    if (*ivlen == 0) {
        fail(L, "AES-256-GCM IV (nonce) must not be empty", "BAD_IV");
        return 0;
    }
    return 1;
}

static int l_gcm_encrypt(lua_State *L)
{
    const char *key, *iv, *aad, *pt;
    size_t ivlen, aadlen, len, b64cap;
    unsigned char *ct;
    char *b64;
    wp_err e;

    if (!gcm_args(L, &key, &iv, &ivlen, &aad, &aadlen)) {
        check_str(L, 4, &len);
        return 3;
    }
    pt = check_str(L, 4, &len);
    b64cap = wp_b64_encoded_len(len + WP_GCM_TAG);
    if (len > ((size_t)-1) / 2 || b64cap == 0) return luaL_argerror(L, 4, "plaintext too large");
    ct = scratch(L, len + WP_GCM_TAG);
    b64 = (char *)scratch(L, b64cap + 1);
    if (wp_gcm_encrypt((const unsigned char *)key, (const unsigned char *)iv, ivlen,
                       (const unsigned char *)aad, aadlen, (const unsigned char *)pt, len, ct, &e) != WP_OK)
        return fail(L, e.msg, "ENCRYPT_FAILED");
    wp_b64_encode(ct, len + WP_GCM_TAG, b64);
    lua_pushlstring(L, b64, b64cap);
    return 1;
}

static int l_gcm_decrypt(lua_State *L)
{
    const char *key, *iv, *aad, *b64;
    size_t ivlen, aadlen, b64len, rawlen = 0, n;
    unsigned char *raw, *out;
    wp_err e;
    int rc;

    if (!gcm_args(L, &key, &iv, &ivlen, &aad, &aadlen)) {
        check_str(L, 4, &b64len);
        return 3;
    }
    b64 = check_str(L, 4, &b64len);
    raw = scratch(L, wp_b64_decoded_max(b64len));
    if (wp_b64_decode(b64, b64len, raw, &rawlen, &e) != WP_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "ciphertext: %s", e.msg);
        lua_pushliteral(L, "BAD_BASE64");
        return 3;
    }
    if (rawlen < WP_GCM_TAG) {
        lua_pushnil(L);
        lua_pushfstring(L, "ciphertext too short: %d bytes, need at least %d", (int)rawlen, WP_GCM_TAG);
        lua_pushliteral(L, "TOO_SHORT");
        return 3;
    }
    n = rawlen - WP_GCM_TAG;
    out = scratch(L, n);
    rc = wp_gcm_decrypt((const unsigned char *)key, (const unsigned char *)iv, ivlen,
                        (const unsigned char *)aad, aadlen, raw, rawlen, out, &e);
    if (rc != WP_OK) {
        wp_zeroize(out, n);
        return fail(L, e.msg, rc == WP_MISMATCH ? "AUTH_FAILED" : "DECRYPT_FAILED");
    }
    lua_pushlstring(L, (const char *)out, n);
    wp_zeroize(out, n);
    return 1;
}

/* ---- random, nonce, digests, base64 ------------------------------------------ */

static int l_random(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char *buf;
    wp_err e;

    luaL_argcheck(L, n >= 0 && n <= RANDOM_MAX, 1, "must be between 0 and 1048576");
    buf = scratch(L, (size_t)n);
    if (wp_random(buf, (size_t)n, &e) != WP_OK) return fail(L, e.msg, NULL);
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    wp_zeroize(buf, (size_t)n);
    return 1;
}

static int l_nonce(lua_State *L)
{
    char buf[WP_NONCE_LEN + 1];
    wp_err e;

    if (wp_nonce(buf, &e) != WP_OK) return fail(L, e.msg, NULL);
    lua_pushlstring(L, buf, WP_NONCE_LEN);
    return 1;
}

static int l_sha256_hex(lua_State *L)
{
    size_t len;
    const char *s = check_str(L, 1, &len);
    unsigned char d[32];
    char hex[65];

    wp_sha256((const unsigned char *)s, len, d);
    wp_hex_lower(d, sizeof d, hex);
    lua_pushlstring(L, hex, 64);
    return 1;
}

static int l_sha1_hex(lua_State *L)
{
    size_t len;
    const char *s = check_str(L, 1, &len);
    unsigned char d[20];
    char hex[41];

    wp_sha1((const unsigned char *)s, len, d);
    wp_hex_lower(d, sizeof d, hex);
    lua_pushlstring(L, hex, 40);
    return 1;
}

static int l_base64_encode(lua_State *L)
{
    size_t len, outlen;
    const char *s = check_str(L, 1, &len);
    char *out;

    outlen = wp_b64_encoded_len(len);
    if (len > 0 && outlen == 0) return luaL_argerror(L, 1, "input too large");
    out = (char *)scratch(L, outlen + 1);
    wp_b64_encode((const unsigned char *)s, len, out);
    lua_pushlstring(L, out, outlen);
    return 1;
}

static int l_base64_decode(lua_State *L)
{
    size_t len, outlen = 0;
    const char *s = check_str(L, 1, &len);
    unsigned char *out = scratch(L, wp_b64_decoded_max(len));
    wp_err e;

    if (wp_b64_decode(s, len, out, &outlen, &e) != WP_OK) return fail(L, e.msg, NULL);
    lua_pushlstring(L, (const char *)out, outlen);
    return 1;
}

/* ---- registration ---------------------------------------------------------- */

static const luaL_Reg key_methods[] = {
    { "kind", l_key_kind },
    { "bits", l_key_bits },
    { NULL, NULL },
};

static const luaL_Reg crypto_funcs[] = {
    { "key_load", l_key_load },
    { "cert_serial", l_cert_serial },
    { "sign", l_sign },
    { "verify", l_verify },
    { "oaep_encrypt", l_oaep_encrypt },
    { "oaep_decrypt", l_oaep_decrypt },
    { "gcm_encrypt", l_gcm_encrypt },
    { "gcm_decrypt", l_gcm_decrypt },
    { "random", l_random },
    { "nonce", l_nonce },
    { "sha256_hex", l_sha256_hex },
    { "sha1_hex", l_sha1_hex },
    { "base64_encode", l_base64_encode },
    { "base64_decode", l_base64_decode },
    { NULL, NULL },
};

void wp_open_crypto(lua_State *L)
{
    wp_err e;

    if (wp_crypto_init(&e) != WP_OK) luaL_error(L, "wechatpay.core: %s", e.msg);

    luaL_newmetatable(L, KEY_MT);
    lua_pushliteral(L, KEY_MT);
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, l_key_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_key_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_setfuncs(L, key_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_setfuncs(L, crypto_funcs, 0);
    lua_pushstring(L, wp_crypto_backend());
    lua_setfield(L, -2, "backend");
    lua_pushstring(L, wp_crypto_version());
    lua_setfield(L, -2, "backend_version");
}
