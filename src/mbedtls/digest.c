/*
 * digest.c - SHA-256 and SHA-1 on mbedTLS.
 */
#include "mbed.h"

#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

void wp_sha256(const unsigned char *in, size_t len, unsigned char out[32])
{
    (void)mbedtls_sha256_ret(in, len, out, 0);
}

void wp_sha1(const unsigned char *in, size_t len, unsigned char out[20])
{
    (void)mbedtls_sha1_ret(in, len, out);
}
