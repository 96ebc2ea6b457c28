/*
 * key.c - RSA key handles on OpenSSL: parsing (PEM and DER, every form of
 * apiv3-protocol.md 3), the per-key contexts, kind, size, free.
 *
 * Parsing uses OSSL_DECODER with an explicit selection, so a private-key load
 * never yields a public-only key and the reverse. Encrypted PEM (PKCS#8 and
 * legacy PKCS#1 with Proc-Type) gets the passphrase through a callback, and
 * without one the callback refuses: OpenSSL never prompts on a terminal.
 * As in the mbedTLS backend, a DER form selects private versus public
 * parsing; PKCS#1 and PKCS#8 (RSAPublicKey and SPKI) are told apart from the
 * DER itself. Trailing bytes after the DER structure are refused.
 *
 * Performance (issue 7): the contexts of ossl.h are prepared once here, and
 * the first private operation runs at load, so the first request does not pay
 * the one-time costs (RSA blinding set-up, Montgomery contexts for n, p, q,
 * provider look-ups): measured, the first signature with a new key costs
 * 0.8-0.95 ms of CPU against 0.33 ms for the next ones (1.5 ms for the first
 * RSA operation of a process).
 */
#include "ossl.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/rsa.h>

typedef struct {
    const char *pass;
    size_t passlen;
    int asked; /* the decoder asked for a passphrase */
} passdata;

/* OSSL_PASSPHRASE_CALLBACK: hands over the caller's passphrase, or refuses so
 * the decoder fails instead of prompting. */
static int pass_cb(char *buf, size_t cap, size_t *outlen, const OSSL_PARAM params[], void *arg)
{
    passdata *pd = arg;

    (void)params;
    pd->asked = 1;
    if (pd->pass == NULL || pd->passlen > cap) return 0;
    if (pd->passlen > 0) memcpy(buf, pd->pass, pd->passlen);
    *outlen = pd->passlen;
    return 1;
}

/* The label of the PEM block ("PRIVATE KEY", ...), printable ASCII, or "". */
static void pem_label(const char *pem, char *label, size_t cap)
{
    static const char begin[] = "-----BEGIN ";
    const char *p = strstr(pem, begin);
    size_t n = 0;

    label[0] = '\0';
    if (p == NULL) return;
    p += sizeof begin - 1;
    while (*p != '\0' && *p != '-' && n + 1 < cap) {
        if (*p < 0x20 || *p > 0x7e) return;
        label[n++] = *p++;
    }
    if (strncmp(p, "-----", 5) != 0) return;
    label[n] = '\0';
}

static int one_of(const char *label, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(label, *set) == 0) return 1;
    return 0;
}

/* Runs a decoder over data; the key or NULL (errors queued). DER input must
 * be consumed completely. */
static EVP_PKEY *decode_as(const char *keytype, const char *input_type, int selection,
                           const unsigned char *data, size_t len, passdata *pd)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx;
    const unsigned char *p = data;
    size_t left = len;

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, input_type, NULL, keytype, selection, NULL, NULL);
    if (dctx == NULL) return NULL;
    if (OSSL_DECODER_CTX_get_num_decoders(dctx) == 0 ||
        OSSL_DECODER_CTX_set_passphrase_cb(dctx, pass_cb, pd) != 1 ||
        OSSL_DECODER_from_data(dctx, &p, &left) != 1 ||
        (strcmp(input_type, "DER") == 0 && left != 0)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

/* RSA first (a decoder context for one key type is built in about a third of
 * the time of one for every type: 0.1 against 0.37 ms); on failure again for
 * any type, so that a non-RSA key is refused as "not RSA (EC key)" rather
 * than as "malformed". */
static EVP_PKEY *decode(const char *input_type, int selection, const unsigned char *data,
                        size_t len, passdata *pd)
{
    EVP_PKEY *pkey = decode_as("RSA", input_type, selection, data, len, pd);

    if (pkey == NULL) pkey = decode_as(NULL, input_type, selection, data, len, pd);
    return pkey;
}

static EVP_PKEY_CTX *new_ctx(EVP_PKEY *pkey)
{
    return EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
}

/* The RSA contexts, padding and digests set once; 1 on success. */
static int prepare(wp_key *k)
{
    if ((k->verify = new_ctx(k->pkey)) == NULL || EVP_PKEY_verify_init(k->verify) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(k->verify, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(k->verify, EVP_sha256()) <= 0)
        return 0;
    if ((k->oaep_enc = new_ctx(k->pkey)) == NULL || EVP_PKEY_encrypt_init(k->oaep_enc) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(k->oaep_enc, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(k->oaep_enc, EVP_sha1()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(k->oaep_enc, EVP_sha1()) <= 0)
        return 0;
    if (k->kind != WP_KEY_PRIVATE) return 1;
    if ((k->sign = new_ctx(k->pkey)) == NULL || EVP_PKEY_sign_init(k->sign) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(k->sign, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(k->sign, EVP_sha256()) <= 0)
        return 0;
    if ((k->oaep_dec = new_ctx(k->pkey)) == NULL || EVP_PKEY_decrypt_init(k->oaep_dec) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(k->oaep_dec, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(k->oaep_dec, EVP_sha1()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(k->oaep_dec, EVP_sha1()) <= 0)
        return 0;
    return 1;
}

/* Runs the operations the key will serve once, so their one-time costs are
 * paid at load. A private key signs and verifies a fixed message (a key
 * whose signature does not verify is refused here); a public key runs a
 * verification of an all-zero signature, which fails but sets up the
 * Montgomery context of n. 1 on success. */
static int warm(wp_key *k)
{
    static const unsigned char msg[] = "wechatpay: warm-up";
    unsigned char sig[WP_RSA_MAX_BYTES];
    size_t siglen = sizeof sig;
    wp_err ignored;

    if (k->bytes == 0 || k->bytes > WP_RSA_MAX_BYTES) return 1; /* the caller refuses the size */
    if (k->kind == WP_KEY_PRIVATE) {
        if (wp_rsa_sign(k, msg, sizeof msg - 1, sig, &siglen, &ignored) != WP_OK) return 0;
        return wp_rsa_verify(k, msg, sizeof msg - 1, sig, siglen) == WP_OK;
    }
    memset(sig, 0, k->bytes);
    return wp_rsa_verify(k, msg, sizeof msg - 1, sig, k->bytes) != WP_ERR;
}

/* The private exponent is there (the KEYPAIR selection should guarantee it). */
static int has_private(EVP_PKEY *pkey)
{
    BIGNUM *d = NULL;
    int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1 && d != NULL &&
             !BN_is_zero(d);

    BN_clear_free(d);
    return ok;
}

/* Wraps pkey (owned from here on, freed on failure) in a handle. Call between
 * WP_OSSL_ENTER and WP_OSSL_LEAVE. */
static int make_key(wp_key **out, EVP_PKEY *pkey, wp_key_kind kind, wp_err *e)
{
    wp_key *k = calloc(1, sizeof *k);
    const char *bad = NULL;
    int bits, bytes;

    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return wp_fail(e, "out of memory");
    }
    bits = EVP_PKEY_get_bits(pkey);
    bytes = EVP_PKEY_get_size(pkey);
    k->pkey = pkey;
    k->kind = kind;
    k->is_rsa = EVP_PKEY_is_a(pkey, "RSA"); /* rsaEncryption; RSA-PSS keys are not */
    k->bits = bits > 0 ? (size_t)bits : 0;
    k->bytes = bytes > 0 ? (size_t)bytes : 0;
    if (!k->is_rsa) {
        /* refused here, as the mbedTLS backend does, to name the algorithm
         * (the name belongs to the key: format before freeing it) */
        const char *name = EVP_PKEY_get0_type_name(pkey);
        wp_fail(e, "not RSA (%s key)", name != NULL ? name : "unknown");
        wp_key_free(k);
        return WP_ERR;
    }
    if (kind == WP_KEY_PRIVATE && !has_private(pkey))
        bad = "malformed key (no private exponent)";
    else if (!prepare(k))
        bad = "cannot set up the RSA operations for this key";
    else if (!warm(k))
        bad = kind == WP_KEY_PRIVATE ? "inconsistent RSA key (a test signature does not verify)"
                                     : "unusable RSA public key";
    if (bad != NULL) {
        wp_key_free(k);
        return wp_fail(e, "%s", bad);
    }
    *out = k;
    return WP_OK;
}

static const char *const private_labels[] = {"RSA PRIVATE KEY", "PRIVATE KEY",
                                             "ENCRYPTED PRIVATE KEY", NULL};
static const char *const public_labels[] = {"PUBLIC KEY", "RSA PUBLIC KEY", NULL};
static const char *const cert_labels[] = {"CERTIFICATE", "X509 CERTIFICATE", NULL};

static int private_from_pem(wp_key **out, const char *pem, size_t len, const char *label,
                            const char *pass, size_t passlen, wp_err *e)
{
    passdata pd;
    EVP_PKEY *pkey;
    int encrypted;

    if (!one_of(label, private_labels))
        return wp_fail(e, "expected a private key PEM block, got %s%s%s", label[0] ? "\"" : "",
                       label[0] ? label : "none", label[0] ? "\"" : "");
    encrypted = strcmp(label, "ENCRYPTED PRIVATE KEY") == 0 ||
                strstr(pem, "Proc-Type: 4,ENCRYPTED") != NULL;
    if (encrypted && (pass == NULL || passlen == 0))
        return wp_fail(e, "encrypted key needs a passphrase");
    pd.pass = pass;
    pd.passlen = pass != NULL ? passlen : 0;
    pd.asked = 0;
    WP_OSSL_ENTER();
    pkey = decode("PEM", EVP_PKEY_KEYPAIR, (const unsigned char *)pem, len, &pd);
    if (pkey == NULL) {
        if (encrypted || pd.asked) return wp_ossl_fail(e, "wrong passphrase or corrupt key");
        return wp_ossl_fail(e, "malformed key");
    }
    if (make_key(out, pkey, WP_KEY_PRIVATE, e) != WP_OK) {
        WP_OSSL_LEAVE();
        return WP_ERR;
    }
    WP_OSSL_LEAVE();
    return WP_OK;
}

static int public_from_pem(wp_key **out, const char *pem, size_t len, const char *label,
                           wp_err *e)
{
    passdata pd = {NULL, 0, 0};
    EVP_PKEY *pkey;
    int cert = one_of(label, cert_labels);

    if (!cert && !one_of(label, public_labels))
        return wp_fail(e, "expected a public key or certificate PEM block, got %s%s%s",
                       label[0] ? "\"" : "", label[0] ? label : "none", label[0] ? "\"" : "");
    WP_OSSL_ENTER();
    if (cert) {
        pkey = wp_ossl_pkey_from_cert(pem, len);
        if (pkey == NULL) return wp_ossl_fail(e, "malformed certificate");
    } else {
        pkey = decode("PEM", EVP_PKEY_PUBLIC_KEY, (const unsigned char *)pem, len, &pd);
        if (pkey == NULL) return wp_ossl_fail(e, "malformed key");
    }
    if (make_key(out, pkey, WP_KEY_PUBLIC, e) != WP_OK) {
        WP_OSSL_LEAVE();
        return WP_ERR;
    }
    WP_OSSL_LEAVE();
    return WP_OK;
}

int wp_key_from_pem(wp_key **out, wp_key_kind kind, const char *pem, size_t len,
                    const char *pass, size_t passlen, wp_err *e)
{
    char label[48];

    *out = NULL;
    if (pem == NULL || pem[len] != '\0' || strlen(pem) != len)
        return wp_fail(e, "PEM text must be NUL-terminated and contain no NUL byte");
    pem_label(pem, label, sizeof label);
    if (kind == WP_KEY_PRIVATE) return private_from_pem(out, pem, len, label, pass, passlen, e);
    return public_from_pem(out, pem, len, label, e);
}

int wp_key_from_der(wp_key **out, wp_der_form form, const unsigned char *der, size_t len,
                    wp_err *e)
{
    wp_key_kind kind = (form == WP_DER_PKCS1_PRIVATE || form == WP_DER_PKCS8_PRIVATE)
                           ? WP_KEY_PRIVATE : WP_KEY_PUBLIC;
    passdata pd = {NULL, 0, 0};
    EVP_PKEY *pkey;

    *out = NULL;
    if (der == NULL || len == 0) return wp_fail(e, "empty DER");
    WP_OSSL_ENTER();
    pkey = decode("DER", kind == WP_KEY_PRIVATE ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, der,
                  len, &pd);
    if (pkey == NULL) return wp_ossl_fail(e, "malformed key");
    if (make_key(out, pkey, kind, e) != WP_OK) {
        WP_OSSL_LEAVE();
        return WP_ERR;
    }
    WP_OSSL_LEAVE();
    return WP_OK;
}

void wp_key_free(wp_key *k)
{
    if (k == NULL) return;
    EVP_PKEY_CTX_free(k->sign);
    EVP_PKEY_CTX_free(k->verify);
    EVP_PKEY_CTX_free(k->oaep_enc);
    EVP_PKEY_CTX_free(k->oaep_dec);
    EVP_PKEY_free(k->pkey); /* the RSA private components are cleared on free */
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

wp_key_kind wp_key_kind_of(const wp_key *k)
{
    return k->kind;
}

int wp_key_is_rsa(const wp_key *k)
{
    return k->is_rsa;
}

size_t wp_key_bits(const wp_key *k)
{
    return k->bits;
}
