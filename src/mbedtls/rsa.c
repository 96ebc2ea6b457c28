/*
 * rsa.c - RSASSA-PKCS1-v1_5/SHA-256 signatures and RSAES-OAEP/SHA-1 on mbedTLS.
 * Signatures use the explicit v1.5 functions on the v1.5 context; OAEP uses
 * the dedicated v2.1 copy (see key.c).
 */
#include "mbed.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <string.h>

#define OAEP_OVERHEAD 42 /* 2 * SHA-1 length + 2 */

int wp_rsa_sign(wp_key *k, const unsigned char *msg, size_t len,
                unsigned char *sig, size_t *siglen, wp_err *e)
{
    unsigned char hash[32];
    mbedtls_rsa_context *rsa;
    char buf[96];
    int rc;

    if (k->kind != WP_KEY_PRIVATE) return wp_fail(e, "signing needs a private key");
    rsa = mbedtls_pk_rsa(k->pk);
    if (*siglen < mbedtls_rsa_get_len(rsa)) return wp_fail(e, "signature buffer too small");
    if (mbedtls_sha256_ret(msg, len, hash, 0) != 0) return wp_fail(e, "SHA-256 failed");
    /* blinding RNG: the fork-safe generator */
    rc = mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, wp_mbed_rng, NULL, MBEDTLS_RSA_PRIVATE,
                                           MBEDTLS_MD_SHA256, 32, hash, sig);
    mbedtls_platform_zeroize(hash, sizeof hash);
    if (rc != 0) {
        mbedtls_platform_zeroize(sig, *siglen);
        wp_mbed_strerror(rc, buf, sizeof buf);
        return wp_fail(e, "RSA signing failed (%s)", buf);
    }
    *siglen = mbedtls_rsa_get_len(rsa);
    return WP_OK;
}

int wp_rsa_verify(wp_key *k, const unsigned char *msg, size_t len,
                  const unsigned char *sig, size_t siglen)
{
    unsigned char hash[32];
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
    int rc;

    if (rsa == NULL) return WP_ERR;
    if (siglen != mbedtls_rsa_get_len(rsa)) return WP_MISMATCH;
    if (mbedtls_sha256_ret(msg, len, hash, 0) != 0) return WP_ERR;
    rc = mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC,
                                             MBEDTLS_MD_SHA256, 32, hash, sig);
    /* any failure with a right-length signature (including a value >= n) is a
     * mismatch, not an error */
    return rc == 0 ? WP_OK : WP_MISMATCH;
}

int wp_rsa_oaep_encrypt(wp_key *k, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen, wp_err *e)
{
    size_t n = mbedtls_rsa_get_len(&k->oaep);
    char buf[96];
    int rc;

    if (n <= OAEP_OVERHEAD || len > n - OAEP_OVERHEAD)
        return wp_fail(e, "plaintext too long for RSA-OAEP: %zu bytes, at most %zu",
                       len, n > OAEP_OVERHEAD ? n - OAEP_OVERHEAD : 0);
    if (*outlen < n) return wp_fail(e, "ciphertext buffer too small");
    rc = mbedtls_rsa_rsaes_oaep_encrypt(&k->oaep, wp_mbed_rng, NULL, MBEDTLS_RSA_PUBLIC,
                                        NULL, 0, len, in, out);
    if (rc != 0) {
        wp_mbed_strerror(rc, buf, sizeof buf);
        return wp_fail(e, "RSA-OAEP encryption failed (%s)", buf);
    }
    *outlen = n;
    return WP_OK;
}

int wp_rsa_oaep_decrypt(wp_key *k, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen, wp_err *e)
{
    size_t n = mbedtls_rsa_get_len(&k->oaep);
    size_t olen = 0;
    size_t cap = *outlen;
    int rc;

    *outlen = 0;
    if (k->kind != WP_KEY_PRIVATE) return wp_fail(e, "OAEP decryption needs a private key");
    if (len != n) return wp_fail(e, "ciphertext must be %zu bytes, got %zu", n, len);
    rc = mbedtls_rsa_rsaes_oaep_decrypt(&k->oaep, wp_mbed_rng, NULL, MBEDTLS_RSA_PRIVATE,
                                        NULL, 0, &olen, in, out, cap);
    if (rc != 0) {
        mbedtls_platform_zeroize(out, cap);
        return wp_fail(e, "RSA-OAEP decryption failed (wrong key or corrupt ciphertext)");
    }
    *outlen = olen;
    return WP_OK;
}
