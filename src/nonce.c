/*
 * nonce.c - unbiased 32-character nonces. See nonce.h.
 */
#include "nonce.h"

static const char alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int wp_nonce(char out[WP_NONCE_LEN + 1], wp_err *e)
{
    unsigned char pool[48];
    size_t have = 0;

    while (have < WP_NONCE_LEN) {
        size_t i;
        if (wp_random(pool, sizeof pool, e) != WP_OK) {
            wp_zeroize(pool, sizeof pool);
            return WP_ERR;
        }
        for (i = 0; i < sizeof pool && have < WP_NONCE_LEN; i++) {
            if (pool[i] >= 248) continue; /* 248 = 4 * 62: keep the mapping unbiased */
            out[have++] = alphabet[pool[i] % 62];
        }
    }
    out[WP_NONCE_LEN] = '\0';
    wp_zeroize(pool, sizeof pool);
    return WP_OK;
}
