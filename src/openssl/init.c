/*
 * init.c - library state of the OpenSSL backend: initialisation, name and
 * version, and the error-queue helper of the other files.
 */
#include "ossl.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

int wp_ossl_fail(wp_err *e, const char *what)
{
    unsigned long code = ERR_peek_last_error();
    /* "unsupported" is what a decoder says when no decoder took the input:
     * it reads as a feature gap, so leave it out */
    const char *reason = code != 0 && ERR_GET_REASON(code) != ERR_R_UNSUPPORTED
                             ? ERR_reason_error_string(code) : NULL;

    WP_OSSL_LEAVE();
    if (reason != NULL && reason[0] != '\0') return wp_fail(e, "%s (%s)", what, reason);
    return wp_fail(e, "%s", what);
}

/* The algorithms the backend uses are provided (a restrictive provider
 * configuration in openssl.cnf could remove them). */
static int algorithms_available(void)
{
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL), *sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    int ok = sha256 != NULL && sha1 != NULL && gcm != NULL;

    EVP_MD_free(sha256);
    EVP_MD_free(sha1);
    EVP_CIPHER_free(gcm);
    return ok;
}

int wp_crypto_init(wp_err *e)
{
    unsigned char probe[1];
    int ok;

    /* Built against 3.x headers but loaded with an older libcrypto.so.3 is
     * impossible (soname); this guards against a mislinked build. */
    if (OpenSSL_version_num() < 0x30000000UL)
        return wp_fail(e, "libcrypto %s is older than 3.0", OpenSSL_version(OPENSSL_VERSION));
    /* Instantiates the DRBGs now, so a missing entropy source fails at load
     * rather than on the first request, and registers the fork handler. */
    ok = wp_random(probe, sizeof probe, e);
    OPENSSL_cleanse(probe, sizeof probe);
    if (ok != WP_OK) return WP_ERR;
    WP_OSSL_ENTER();
    if (!algorithms_available())
        return wp_ossl_fail(e, "SHA-256, SHA-1 or AES-256-GCM is not available from libcrypto");
    WP_OSSL_LEAVE();
    return WP_OK;
}

const char *wp_crypto_backend(void)
{
    return "openssl";
}

const char *wp_crypto_version(void)
{
    /* The library actually loaded (e.g. "OpenSSL 3.0.19 27 Jan 2026"), which
     * can be newer than the headers the module was built with. */
    return OpenSSL_version(OPENSSL_VERSION);
}
