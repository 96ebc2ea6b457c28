/*
 * nonce.h - request nonces (apiv3-protocol.md section 1.3). src/nonce.c.
 */
#ifndef WP_NONCE_H
#define WP_NONCE_H

#include "crypto.h"

#define WP_NONCE_LEN 32

/* 32 characters from [0-9A-Za-z], unbiased: bytes >= 248 are discarded, the
 * rest mapped with byte % 62. Draws from wp_random (fork-safe). out gets a
 * terminating NUL (capacity WP_NONCE_LEN + 1). */
int wp_nonce(char out[WP_NONCE_LEN + 1], wp_err *e);

#endif /* WP_NONCE_H */
