/*
 * mbed.h - internals shared by the mbedTLS backend files (src/mbedtls/).
 */
#ifndef WP_MBED_H
#define WP_MBED_H

#include "crypto.h"

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

struct wp_key {
    wp_key_kind kind;
    /* PKCS#1 v1.5: signatures. Never switched to v2.1 (it would sign with PSS). */
    mbedtls_pk_context pk;
    /* A copy of the same RSA key, PKCS#1 v2.1 with SHA-1: OAEP only. */
    mbedtls_rsa_context oaep;
};

/* The fork-safe generator as an mbedTLS f_rng (random.c); p_rng is unused. */
int wp_mbed_rng(void *p_rng, unsigned char *buf, size_t len);

/* Short description of an mbedTLS error code (no key material). */
void wp_mbed_strerror(int code, char *buf, size_t cap);

/* Encrypted PKCS#8 (PBES2 with AES-CBC) that mbedTLS 2.28 cannot decrypt
 * itself: pem is a NUL-terminated ENCRYPTED PRIVATE KEY PEM block. Parses the
 * decrypted PrivateKeyInfo into pk (which must be initialised and empty).
 * (pbes2.c) */
int wp_mbed_parse_pbes2(mbedtls_pk_context *pk, const char *pem,
                        const unsigned char *pass, size_t passlen, wp_err *e);

/* The public key of the first certificate of a NUL-terminated PEM text, as
 * an RSA context set up in pk (initialised, empty). Fails for non-RSA keys.
 * (cert.c) */
int wp_mbed_pk_from_cert(mbedtls_pk_context *pk, const char *pem, size_t len, wp_err *e);

/* Messages for parse failures and for "not RSA" (key.c). */
int wp_mbed_parse_fail(wp_err *e, int rc, int encrypted);
int wp_mbed_not_rsa(wp_err *e, const mbedtls_pk_context *pk);

#endif /* WP_MBED_H */
