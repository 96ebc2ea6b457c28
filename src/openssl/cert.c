/*
 * cert.c - X.509 certificates on OpenSSL: the public key of a certificate
 * (certs-map values) and its serial number (merchants' serial_no).
 */
#include "ossl.h"

#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

/* Certificates are never encrypted: refusing keeps OpenSSL from ever
 * prompting for a passphrase on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* The first CERTIFICATE block of pem; NULL with errors queued. */
static X509 *cert_parse(const char *pem, size_t len)
{
    BIO *bio;
    X509 *x = NULL;

    if (len > 0x7fffffff) return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio != NULL) x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    return x;
}

EVP_PKEY *wp_ossl_pkey_from_cert(const char *pem, size_t len)
{
    X509 *x = cert_parse(pem, len);
    EVP_PKEY *pkey = x != NULL ? X509_get_pubkey(x) : NULL; /* its own reference */

    X509_free(x);
    return pkey;
}

/* As `openssl x509 -serial` prints it (i2a_ASN1_INTEGER): two upper-case hex
 * digits per byte of the INTEGER's magnitude, without the DER sign byte;
 * "00" for zero, "-" first for a (non-conforming) negative serial. */
int wp_cert_serial(const char *pem, size_t len, char *hex, size_t hexcap, wp_err *e)
{
    static const char digits[] = "0123456789ABCDEF";
    const ASN1_INTEGER *serial;
    const unsigned char *p;
    size_t n, need, i, o = 0;
    X509 *x;
    int neg;

    if (hexcap > 0) hex[0] = '\0';
    if (pem == NULL || pem[len] != '\0' || strlen(pem) != len)
        return wp_fail(e, "PEM text must be NUL-terminated and contain no NUL byte");
    WP_OSSL_ENTER();
    x = cert_parse(pem, len);
    if (x == NULL) return wp_ossl_fail(e, "malformed certificate");
    serial = X509_get0_serialNumber(x);
    p = ASN1_STRING_get0_data(serial);
    n = (size_t)ASN1_STRING_length(serial);
    neg = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
    need = (neg ? 1 : 0) + (n > 0 ? 2 * n : 2) + 1;
    if (need > hexcap) {
        X509_free(x);
        WP_OSSL_LEAVE();
        return wp_fail(e, "serial number too long (%zu bytes)", n);
    }
    if (neg) hex[o++] = '-';
    if (n == 0) {
        hex[o++] = '0';
        hex[o++] = '0';
    }
    for (i = 0; i < n; i++) {
        hex[o++] = digits[p[i] >> 4];
        hex[o++] = digits[p[i] & 0x0f];
    }
    hex[o] = '\0';
    X509_free(x);
    WP_OSSL_LEAVE();
    return WP_OK;
}
