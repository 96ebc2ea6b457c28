/*
 * ossl.h - internals shared by the OpenSSL backend files (src/openssl/), the
 * OpenSSL 3.0 EVP implementation of crypto.h. Nothing outside src/openssl/
 * includes this header.
 *
 * Error queue discipline: OpenSSL's per-thread error queue is shared with
 * libcurl (and nginx) in the same process. Every backend function that calls
 * into libcrypto brackets the work with WP_OSSL_ENTER() / WP_OSSL_LEAVE()
 * (ERR_set_mark on entry, ERR_pop_to_mark on every exit, exactly once), so
 * whatever libcrypto queued during the call is removed, on success and on
 * failure, and entries queued earlier by somebody else are left untouched.
 *
 * No process-wide libcrypto objects: digests and ciphers are the built-in
 * descriptors (EVP_sha256() ...), per-key contexts are freed with the key.
 * Explicitly fetched EVP_MD/EVP_CIPHER objects held in static storage would
 * save about 0.2 us per digest/GCM call, but could be freed neither safely at
 * dlclose (after OPENSSL_cleanup at exit they would be a use-after-free) nor
 * left (valgrind: definitely lost once the module is unloaded).
 */
#ifndef WP_OSSL_H
#define WP_OSSL_H

/* Only the OpenSSL 3.0 API: no deprecated (RSA_*, SHA256_Init, ...) calls. */
#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 30000
#endif
#ifndef OPENSSL_NO_DEPRECATED
#define OPENSSL_NO_DEPRECATED 1
#endif

#include <openssl/opensslv.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto.h"

#if OPENSSL_VERSION_MAJOR < 3
#error "CRYPTO=openssl needs OpenSSL 3.0 or later (EVP provider API)"
#endif

/*
 * A key handle. The EVP_PKEY is parsed once; the per-operation contexts are
 * prepared once at load (padding and digests set) and reused for every call:
 *  sign      RSASSA-PKCS1-v1_5 / SHA-256 (private keys only)
 *  verify    RSASSA-PKCS1-v1_5 / SHA-256
 *  oaep_enc  RSAES-OAEP SHA-1 / MGF1-SHA-1, empty label
 *  oaep_dec  the same, decryption (private keys only)
 * Signing and OAEP never share a context. Only RSA (rsaEncryption) keys are
 * accepted: others are refused at load, naming the algorithm. A handle is not safe for concurrent use from two OS
 * threads (crypto.h: a lock or a per-thread copy).
 */
struct wp_key {
    EVP_PKEY *pkey;
    wp_key_kind kind;
    int is_rsa;
    size_t bits;
    size_t bytes; /* modulus size in bytes: signature and ciphertext length */
    EVP_PKEY_CTX *sign;
    EVP_PKEY_CTX *verify;
    EVP_PKEY_CTX *oaep_enc;
    EVP_PKEY_CTX *oaep_dec;
};

#define WP_OSSL_ENTER() ((void)ERR_set_mark())
#define WP_OSSL_LEAVE() ((void)ERR_pop_to_mark())

/* Fills *e with "<what>" or "<what> (<reason>)", the reason being the library
 * reason string of the most recent queued error (static text, never key bytes
 * or data), then pops the queue back to the caller's mark: use it in place of
 * WP_OSSL_LEAVE() on a failure path. Returns WP_ERR. (init.c) */
int wp_ossl_fail(wp_err *e, const char *what);

/* Forces a reseed of OpenSSL's DRBGs from the OS when this process was forked
 * since the last call (see random.c); cheap when it was not. */
void wp_ossl_fork_check(void);

/* The public key of a NUL-terminated PEM CERTIFICATE block, or NULL; queues
 * OpenSSL errors, call between ENTER and LEAVE. (cert.c) */
EVP_PKEY *wp_ossl_pkey_from_cert(const char *pem, size_t len);

#endif /* WP_OSSL_H */
