/*
 * key.c - RSA key handles on mbedTLS: parsing (PEM and DER), kind, size, free.
 *
 * Each handle holds the key twice: `pk` stays in PKCS#1 v1.5 mode and is used
 * for signatures; `oaep` is a copy switched to PKCS#1 v2.1 / SHA-1 and used
 * only for OAEP. A context switched to v2.1 would sign with PSS, so the two are
 * never the same context. mbedtls_pk_free/mbedtls_rsa_free zeroise the key
 * material (every MPI is wiped by mbedtls_mpi_free).
 */
#include "mbed.h"

#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include <stdlib.h>
#include <string.h>

static wp_key *key_new(wp_key_kind kind)
{
    wp_key *k = calloc(1, sizeof *k);
    if (k == NULL) return NULL;
    k->kind = kind;
    mbedtls_pk_init(&k->pk);
    mbedtls_rsa_init(&k->oaep, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA1);
    return k;
}

void wp_key_free(wp_key *k)
{
    if (k == NULL) return;
    mbedtls_pk_free(&k->pk);
    mbedtls_rsa_free(&k->oaep);
    mbedtls_platform_zeroize(k, sizeof *k);
    free(k);
}

int wp_mbed_not_rsa(wp_err *e, const mbedtls_pk_context *pk)
{
    const char *name = mbedtls_pk_get_name(pk);
    if (name == NULL || strcmp(name, "invalid PK") == 0) name = "unknown";
    if (strncmp(name, "EC", 2) == 0) name = "EC";
    return wp_fail(e, "not RSA (%s key)", name);
}

int wp_mbed_parse_fail(wp_err *e, int rc, int encrypted)
{
    char buf[96];

    switch (rc) {
    case MBEDTLS_ERR_PK_PASSWORD_REQUIRED:
        return wp_fail(e, "encrypted key needs a passphrase");
    case MBEDTLS_ERR_PK_PASSWORD_MISMATCH:
        return wp_fail(e, "wrong passphrase or corrupt key");
    case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
        return wp_fail(e, "not RSA (unsupported key algorithm)");
    default:
        break;
    }
    if (encrypted) return wp_fail(e, "wrong passphrase or corrupt key");
    wp_mbed_strerror(rc, buf, sizeof buf);
    return wp_fail(e, "malformed key (%s)", buf);
}

/* The handle is parsed into k->pk; check RSA, pin v1.5 and build the OAEP copy. */
static int finish(wp_key **out, wp_key *k, wp_err *e)
{
    int rc;

    if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_RSA) {
        wp_mbed_not_rsa(e, &k->pk);
        wp_key_free(k);
        return WP_ERR;
    }
    mbedtls_rsa_set_padding(mbedtls_pk_rsa(k->pk), MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
    rc = mbedtls_rsa_copy(&k->oaep, mbedtls_pk_rsa(k->pk));
    if (rc != 0) {
        wp_key_free(k);
        return wp_fail(e, "out of memory");
    }
    mbedtls_rsa_set_padding(&k->oaep, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA1);
    *out = k;
    return WP_OK;
}

static int has_label(const char *pem, const char *label)
{
    return strstr(pem, label) != NULL;
}

int wp_key_from_pem(wp_key **out, wp_key_kind kind, const char *pem, size_t len,
                    const char *pass, size_t passlen, wp_err *e)
{
    wp_key *k;
    int rc;

    *out = NULL;
    if (pem == NULL || pem[len] != '\0' || strlen(pem) != len)
        return wp_fail(e, "PEM text must be NUL-terminated and contain no NUL byte");
    k = key_new(kind);
    if (k == NULL) return wp_fail(e, "out of memory");

    if (kind == WP_KEY_PRIVATE) {
        int encrypted = has_label(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
                        has_label(pem, "Proc-Type: 4,ENCRYPTED");
        if (encrypted && (pass == NULL || passlen == 0)) {
            wp_key_free(k);
            return wp_fail(e, "encrypted key needs a passphrase");
        }
        /* the PEM length counts the terminating NUL */
        rc = mbedtls_pk_parse_key(&k->pk, (const unsigned char *)pem, len + 1,
                                  (const unsigned char *)pass, pass ? passlen : 0);
        if ((rc == MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE || rc == MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE) &&
            has_label(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
            /* PBES2 with AES-CBC (OpenSSL's default): not in mbedTLS 2.28's PKCS#5 */
            mbedtls_pk_free(&k->pk);
            mbedtls_pk_init(&k->pk);
            if (wp_mbed_parse_pbes2(&k->pk, pem, (const unsigned char *)pass, passlen, e) != WP_OK) {
                wp_key_free(k);
                return WP_ERR;
            }
            rc = 0;
        }
        if (rc != 0) {
            wp_key_free(k);
            return wp_mbed_parse_fail(e, rc, encrypted);
        }
    } else if (has_label(pem, "-----BEGIN CERTIFICATE-----")) {
        if (wp_mbed_pk_from_cert(&k->pk, pem, len, e) != WP_OK) {
            wp_key_free(k);
            return WP_ERR;
        }
    } else {
        rc = mbedtls_pk_parse_public_key(&k->pk, (const unsigned char *)pem, len + 1);
        if (rc != 0) {
            wp_key_free(k);
            return wp_mbed_parse_fail(e, rc, 0);
        }
    }
    return finish(out, k, e);
}

int wp_key_from_der(wp_key **out, wp_der_form form, const unsigned char *der,
                    size_t len, wp_err *e)
{
    wp_key_kind kind = (form == WP_DER_PKCS1_PRIVATE || form == WP_DER_PKCS8_PRIVATE)
                           ? WP_KEY_PRIVATE : WP_KEY_PUBLIC;
    wp_key *k;
    int rc;

    *out = NULL;
    if (der == NULL || len == 0) return wp_fail(e, "empty DER");
    k = key_new(kind);
    if (k == NULL) return wp_fail(e, "out of memory");
    /* mbedTLS tells PKCS#1 from PKCS#8 (and RSAPublicKey from SPKI) itself;
     * the form only selects private versus public parsing. */
    if (kind == WP_KEY_PRIVATE)
        rc = mbedtls_pk_parse_key(&k->pk, der, len, NULL, 0);
    else
        rc = mbedtls_pk_parse_public_key(&k->pk, der, len);
    if (rc != 0) {
        wp_key_free(k);
        return wp_mbed_parse_fail(e, rc, 0);
    }
    return finish(out, k, e);
}

wp_key_kind wp_key_kind_of(const wp_key *k)
{
    return k->kind;
}

int wp_key_is_rsa(const wp_key *k)
{
    return mbedtls_pk_get_type(&k->pk) == MBEDTLS_PK_RSA;
}

size_t wp_key_bits(const wp_key *k)
{
    return mbedtls_pk_get_bitlen(&k->pk);
}
