/*
 * digest.c - SHA-256 and SHA-1 on OpenSSL (EVP, one shot).
 */
#include "ossl.h"

#include <string.h>

static void digest(const EVP_MD *md, const unsigned char *in, size_t len, unsigned char *out,
                   size_t outlen)
{
    WP_OSSL_ENTER();
    /* EVP_Digest fails only when memory runs out; the interface has no error
     * path, so the digest is all zero then (it never matches a real one). */
    if (EVP_Digest(in, len, out, NULL, md, NULL) != 1) memset(out, 0, outlen);
    WP_OSSL_LEAVE();
}

void wp_sha256(const unsigned char *in, size_t len, unsigned char out[32])
{
    digest(EVP_sha256(), in, len, out, 32);
}

void wp_sha1(const unsigned char *in, size_t len, unsigned char out[20])
{
    digest(EVP_sha1(), in, len, out, 20);
}
