/*
 * gcm.c - AES-256-GCM with a 16-byte tag on mbedTLS (apiv3-protocol.md 4.1).
 * Decryption uses mbedtls_gcm_auth_decrypt: on a tag mismatch nothing is
 * returned and the output buffer is zeroed.
 */
#include "mbed.h"

#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>

static int gcm_fail(wp_err *e, const char *what, int rc)
{
    char buf[96];
    wp_mbed_strerror(rc, buf, sizeof buf);
    return wp_fail(e, "AES-256-GCM %s failed (%s)", what, buf);
}

int wp_gcm_encrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
                   const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t len, unsigned char *out, wp_err *e)
{
    mbedtls_gcm_context ctx;
    int rc;

    if (ivlen == 0) return wp_fail(e, "AES-256-GCM needs a non-empty IV");
    mbedtls_gcm_init(&ctx);
    rc = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 256);
    if (rc == 0)
        rc = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, len, iv, ivlen, aad, aadlen,
                                       in, out, WP_GCM_TAG, out + len);
    mbedtls_gcm_free(&ctx);
    if (rc != 0) {
        mbedtls_platform_zeroize(out, len + WP_GCM_TAG);
        return gcm_fail(e, "encryption", rc);
    }
    return WP_OK;
}

int wp_gcm_decrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
                   const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t len, unsigned char *out, wp_err *e)
{
    mbedtls_gcm_context ctx;
    size_t n;
    int rc;

    if (ivlen == 0) return wp_fail(e, "AES-256-GCM needs a non-empty IV");
    if (len < WP_GCM_TAG) return wp_fail(e, "ciphertext too short: %zu bytes, need at least %d", len, WP_GCM_TAG);
    n = len - WP_GCM_TAG;
    mbedtls_gcm_init(&ctx);
    rc = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 256);
    if (rc == 0)
        rc = mbedtls_gcm_auth_decrypt(&ctx, n, iv, ivlen, aad, aadlen, in + n, WP_GCM_TAG, in, out);
    mbedtls_gcm_free(&ctx);
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
        mbedtls_platform_zeroize(out, n);
        wp_fail(e, "authentication failed (wrong key, IV or AAD, or altered ciphertext)");
        return WP_MISMATCH;
    }
    if (rc != 0) {
        mbedtls_platform_zeroize(out, n);
        return gcm_fail(e, "decryption", rc);
    }
    return WP_OK;
}
