/*
 * pbes2.c - encrypted PKCS#8 (PBES2: PBKDF2 + AES-128/192/256-CBC).
 *
 * `openssl pkcs8 -topk8 -v2 aes-256-cbc` (and OpenSSL 3's default) encrypts
 * with PBES2 / AES-256-CBC / hmacWithSHA256. mbedTLS 2.28's PKCS#5 module only
 * knows DES and 3DES in PBES2 and returns FEATURE_UNAVAILABLE for AES, so key.c
 * falls back to this file, which uses mbedTLS's own PBKDF2 and AES-CBC:
 *
 *   EncryptedPrivateKeyInfo ::= SEQUENCE {
 *     encryptionAlgorithm  AlgorithmIdentifier { id-PBES2, PBES2-params },
 *     encryptedData        OCTET STRING }
 *   PBES2-params ::= SEQUENCE {
 *     keyDerivationFunc AlgorithmIdentifier { id-PBKDF2, PBKDF2-params },
 *     encryptionScheme  AlgorithmIdentifier { aesNNN-CBC, IV OCTET STRING(16) } }
 *   PBKDF2-params ::= SEQUENCE {
 *     salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL,
 *     prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }
 *
 * Every intermediate (derived key, decrypted DER, PEM body) is zeroised.
 */
#include "mbed.h"

#include <mbedtls/asn1.h>
#include <mbedtls/cipher.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include <stdlib.h>
#include <string.h>

#define OID_AES128_CBC MBEDTLS_OID_AES "\x02"
#define OID_AES192_CBC MBEDTLS_OID_AES "\x16"
#define OID_AES256_CBC MBEDTLS_OID_AES "\x2a"
#define MAX_ITERATIONS 10000000

#define ASN1_SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

typedef struct {
    const unsigned char *salt;
    size_t saltlen;
    int iterations;
    mbedtls_md_type_t prf;
    mbedtls_cipher_type_t cipher;
    size_t keylen;
    const unsigned char *iv;
    const unsigned char *data;
    size_t datalen;
} pbes2_params;

static int corrupt(wp_err *e)
{
    return wp_fail(e, "wrong passphrase or corrupt key (malformed encryption parameters)");
}

static int parse(unsigned char *der, size_t len, pbes2_params *pp, wp_err *e)
{
    unsigned char *p = der, *end = der + len, *q, *qend, *r, *rend;
    mbedtls_asn1_buf alg, params, kdf, kdf_params, enc, enc_params;
    size_t n;

    memset(pp, 0, sizeof *pp);
    if (mbedtls_asn1_get_tag(&p, end, &n, ASN1_SEQ) != 0) return corrupt(e);
    end = p + n;
    if (mbedtls_asn1_get_alg(&p, end, &alg, &params) != 0) return corrupt(e);
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS5_PBES2, &alg) != 0)
        return wp_fail(e, "unsupported key encryption scheme (not PBES2)");
    if (params.tag != ASN1_SEQ) return corrupt(e);
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OCTET_STRING) != 0 || n == 0) return corrupt(e);
    pp->data = p;
    pp->datalen = n;

    /* PBES2-params */
    q = params.p;
    qend = q + params.len;
    if (mbedtls_asn1_get_alg(&q, qend, &kdf, &kdf_params) != 0) return corrupt(e);
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS5_PBKDF2, &kdf) != 0)
        return wp_fail(e, "unsupported key derivation (not PBKDF2)");
    if (mbedtls_asn1_get_alg(&q, qend, &enc, &enc_params) != 0 || q != qend) return corrupt(e);
    if (MBEDTLS_OID_CMP(OID_AES256_CBC, &enc) == 0) {
        pp->cipher = MBEDTLS_CIPHER_AES_256_CBC;
        pp->keylen = 32;
    } else if (MBEDTLS_OID_CMP(OID_AES192_CBC, &enc) == 0) {
        pp->cipher = MBEDTLS_CIPHER_AES_192_CBC;
        pp->keylen = 24;
    } else if (MBEDTLS_OID_CMP(OID_AES128_CBC, &enc) == 0) {
        pp->cipher = MBEDTLS_CIPHER_AES_128_CBC;
        pp->keylen = 16;
    } else {
        return wp_fail(e, "unsupported key encryption cipher");
    }
    if (enc_params.tag != MBEDTLS_ASN1_OCTET_STRING || enc_params.len != 16) return corrupt(e);
    pp->iv = enc_params.p;

    /* PBKDF2-params */
    if (kdf_params.tag != ASN1_SEQ) return corrupt(e);
    r = kdf_params.p;
    rend = r + kdf_params.len;
    if (mbedtls_asn1_get_tag(&r, rend, &n, MBEDTLS_ASN1_OCTET_STRING) != 0) return corrupt(e);
    pp->salt = r;
    pp->saltlen = n;
    r += n;
    if (mbedtls_asn1_get_int(&r, rend, &pp->iterations) != 0) return corrupt(e);
    if (pp->iterations < 1 || pp->iterations > MAX_ITERATIONS)
        return wp_fail(e, "unsupported PBKDF2 iteration count %d", pp->iterations);
    pp->prf = MBEDTLS_MD_SHA1;
    if (r < rend && *r == MBEDTLS_ASN1_INTEGER) {
        int keylen;
        if (mbedtls_asn1_get_int(&r, rend, &keylen) != 0) return corrupt(e);
        if (keylen < 0 || (size_t)keylen != pp->keylen) return corrupt(e);
    }
    if (r < rend) {
        mbedtls_asn1_buf prf, prf_params;
        if (mbedtls_asn1_get_alg(&r, rend, &prf, &prf_params) != 0) return corrupt(e);
        if (mbedtls_oid_get_md_hmac(&prf, &pp->prf) != 0)
            return wp_fail(e, "unsupported PBKDF2 pseudo-random function");
    }
    if (r != rend) return corrupt(e);
    return WP_OK;
}

int wp_mbed_parse_pbes2(mbedtls_pk_context *pk, const char *pem,
                        const unsigned char *pass, size_t passlen, wp_err *e)
{
    mbedtls_pem_context pem_ctx;
    mbedtls_md_context_t md;
    mbedtls_cipher_context_t cipher;
    pbes2_params pp;
    unsigned char key[32];
    unsigned char *plain = NULL;
    size_t der_len, use_len = 0, plain_len = 0;
    int rc = WP_ERR, r;

    mbedtls_pem_init(&pem_ctx);
    mbedtls_md_init(&md);
    mbedtls_cipher_init(&cipher);
    memset(key, 0, sizeof key);
    memset(&pp, 0, sizeof pp);

    if (pass == NULL || passlen == 0) {
        wp_fail(e, "encrypted key needs a passphrase");
        goto done;
    }
    r = mbedtls_pem_read_buffer(&pem_ctx, "-----BEGIN ENCRYPTED PRIVATE KEY-----",
                                "-----END ENCRYPTED PRIVATE KEY-----",
                                (const unsigned char *)pem, NULL, 0, &use_len);
    if (r != 0) {
        wp_fail(e, "malformed PEM (bad armour or base64)");
        goto done;
    }
    der_len = pem_ctx.buflen;
    if (parse(pem_ctx.buf, der_len, &pp, e) != WP_OK) goto done;
    if (pp.datalen % 16 != 0) {
        corrupt(e);
        goto done;
    }

    if (mbedtls_md_setup(&md, mbedtls_md_info_from_type(pp.prf), 1) != 0 ||
        mbedtls_pkcs5_pbkdf2_hmac(&md, pass, passlen, pp.salt, pp.saltlen,
                                  (unsigned int)pp.iterations, (uint32_t)pp.keylen, key) != 0) {
        wp_fail(e, "PBKDF2 failed");
        goto done;
    }
    plain = malloc(pp.datalen + 16);
    if (plain == NULL) {
        wp_fail(e, "out of memory");
        goto done;
    }
    if (mbedtls_cipher_setup(&cipher, mbedtls_cipher_info_from_type(pp.cipher)) != 0 ||
        mbedtls_cipher_setkey(&cipher, key, (int)(pp.keylen * 8), MBEDTLS_DECRYPT) != 0 ||
        mbedtls_cipher_set_padding_mode(&cipher, MBEDTLS_PADDING_PKCS7) != 0) {
        wp_fail(e, "AES-CBC setup failed");
        goto done;
    }
    if (mbedtls_cipher_crypt(&cipher, pp.iv, 16, pp.data, pp.datalen, plain, &plain_len) != 0) {
        /* bad padding: almost always a wrong passphrase */
        wp_fail(e, "wrong passphrase or corrupt key");
        goto done;
    }
    if (mbedtls_pk_parse_key(pk, plain, plain_len, NULL, 0) != 0) {
        wp_fail(e, "wrong passphrase or corrupt key");
        goto done;
    }
    rc = WP_OK;

done:
    mbedtls_platform_zeroize(key, sizeof key);
    if (plain != NULL) {
        mbedtls_platform_zeroize(plain, pp.datalen + 16);
        free(plain);
    }
    mbedtls_cipher_free(&cipher);
    mbedtls_md_free(&md);
    mbedtls_pem_free(&pem_ctx); /* zeroises the decoded DER */
    return rc;
}
