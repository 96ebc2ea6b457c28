/*
 * crypto.h - the internal crypto interface of the C core.
 *
 * One implementation per library, chosen at build time:
 *   src/mbedtls/       (default, CRYPTO=mbedtls)
 *   src/openssl/       (CRYPTO=openssl, OpenSSL 3.0 EVP API)
 * Backend-independent code (key forms, base64/hex, nonces, the Lua binding)
 * includes only this header and never a library header, so there is no
 * #ifdef on the backend anywhere outside src/<backend>/.
 *
 * Conventions
 *  - Functions return WP_OK (0) on success, WP_ERR on failure with a message in
 *    *e, and (where documented) WP_MISMATCH for a well-formed input that does not
 *    verify/authenticate.
 *  - Messages never contain key bytes, passphrases or plaintext.
 *  - Keys are RSA only. wp_key_* parsing does not check the size; the caller
 *    (keyform.c) refuses anything but 2048 bits.
 *  - A private key handle keeps a PKCS#1 v1.5 context for signing and a separate
 *    OAEP (PKCS#1 v2.1, SHA-1) context for decryption; they are never the same
 *    context (mbedTLS signs with PSS once a context is switched to v2.1).
 *  - wp_random is fork-safe: a child process never repeats its parent's or a
 *    sibling's stream (reseeded when getpid() changes, or the OS generator).
 */
#ifndef WP_CRYPTO_H
#define WP_CRYPTO_H

#include <stddef.h>

#define WP_OK 0
#define WP_ERR (-1)
#define WP_MISMATCH 1

#define WP_ERRMAX 192
typedef struct wp_err {
    char msg[WP_ERRMAX];
} wp_err;

/* printf-style helper implemented in keyform.c; always returns WP_ERR. */
int wp_fail(wp_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

typedef struct wp_key wp_key; /* opaque, defined by the backend */

typedef enum { WP_KEY_PRIVATE = 0, WP_KEY_PUBLIC = 1 } wp_key_kind;

typedef enum {
    WP_DER_PKCS1_PRIVATE = 0, /* RSAPrivateKey            */
    WP_DER_PKCS8_PRIVATE,     /* PrivateKeyInfo            */
    WP_DER_PKCS1_PUBLIC,      /* RSAPublicKey              */
    WP_DER_SPKI               /* SubjectPublicKeyInfo      */
} wp_der_form;

#define WP_RSA_MAX_BYTES 512 /* buffers for signatures/ciphertexts (up to 4096-bit) */
#define WP_GCM_TAG 16

/* ---- backend: library state --------------------------------------------- */
int wp_crypto_init(wp_err *e);     /* idempotent; seeds the generator        */
const char *wp_crypto_backend(void); /* "mbedtls" or "openssl"              */
const char *wp_crypto_version(void); /* e.g. "mbed TLS 2.28.3"              */

/* ---- backend: keys -------------------------------------------------------- */
/* pem must be NUL-terminated at pem[len] (len excludes the NUL).
 * WP_KEY_PRIVATE accepts RSA PRIVATE KEY, PRIVATE KEY, ENCRYPTED PRIVATE KEY
 * (pass/passlen, may be NULL/0). WP_KEY_PUBLIC accepts PUBLIC KEY,
 * RSA PUBLIC KEY and CERTIFICATE (the certificate's public key). */
int wp_key_from_pem(wp_key **out, wp_key_kind kind, const char *pem, size_t len,
                    const char *pass, size_t passlen, wp_err *e);
int wp_key_from_der(wp_key **out, wp_der_form form, const unsigned char *der,
                    size_t len, wp_err *e);
void wp_key_free(wp_key *k); /* zeroises and frees; NULL is fine */
wp_key_kind wp_key_kind_of(const wp_key *k);
int wp_key_is_rsa(const wp_key *k);
size_t wp_key_bits(const wp_key *k);
/* Serial number of a PEM X.509 certificate as upper-case hex without leading
 * zero bytes stripped beyond what the certificate holds (e.g. "3775B6A45ACD5888").
 * pem NUL-terminated as above. */
int wp_cert_serial(const char *pem, size_t len, char *hex, size_t hexcap, wp_err *e);

/* ---- backend: RSA --------------------------------------------------------- */
/* RSASSA-PKCS1-v1_5 with SHA-256 over msg. *siglen: capacity in, length out. */
int wp_rsa_sign(wp_key *k, const unsigned char *msg, size_t len,
                unsigned char *sig, size_t *siglen, wp_err *e);
/* WP_OK, WP_MISMATCH (wrong signature of the right length), WP_ERR (bad key). */
int wp_rsa_verify(wp_key *k, const unsigned char *msg, size_t len,
                  const unsigned char *sig, size_t siglen);
/* RSAES-OAEP, SHA-1, MGF1-SHA-1, empty label. *outlen: capacity in, length out.
 * encrypt: public or private key; in longer than bytes-42 is WP_ERR.
 * decrypt: private key only. */
int wp_rsa_oaep_encrypt(wp_key *k, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen, wp_err *e);
int wp_rsa_oaep_decrypt(wp_key *k, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen, wp_err *e);

/* ---- backend: AES-256-GCM (16-byte tag appended) -------------------------- */
/* out: len + WP_GCM_TAG bytes. */
int wp_gcm_encrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
                   const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t len, unsigned char *out, wp_err *e);
/* in: ciphertext||tag, len >= WP_GCM_TAG; out: len - WP_GCM_TAG bytes.
 * WP_MISMATCH on authentication failure (out is zeroed, nothing returned). */
int wp_gcm_decrypt(const unsigned char key[32], const unsigned char *iv, size_t ivlen,
                   const unsigned char *aad, size_t aadlen,
                   const unsigned char *in, size_t len, unsigned char *out, wp_err *e);

/* ---- backend: random and digests ----------------------------------------- */
int wp_random(unsigned char *buf, size_t len, wp_err *e);
void wp_sha256(const unsigned char *in, size_t len, unsigned char out[32]);
void wp_sha1(const unsigned char *in, size_t len, unsigned char out[20]);

/* ---- backend-independent helpers (src/, no backend) -------------------------------- */
void wp_zeroize(void *p, size_t n);                              /* keyform.c  */

/* Every key form of apiv3-protocol.md §3: PEM (any form), file://path,
 * private.pkcs1:// private.pkcs8:// public.pkcs1:// public.spki:// bare base64.
 * Checks RSA and 2048 bits. Zeroises every intermediate buffer. (keyform.c) */
int wp_key_load(wp_key **out, wp_key_kind kind, const char *input, size_t len,
                const char *pass, size_t passlen, wp_err *e);

#endif /* WP_CRYPTO_H */
