/*
 * cert.c - X.509 certificates on mbedTLS: the public key of a certificate
 * (certs-map values) and its serial number (merchants' serial_no).
 */
#include "mbed.h"

#include <mbedtls/x509_crt.h>

#include <string.h>

static int cert_parse(mbedtls_x509_crt *crt, const char *pem, size_t len, wp_err *e)
{
    char buf[96];
    int rc;

    if (pem == NULL || pem[len] != '\0' || strlen(pem) != len)
        return wp_fail(e, "PEM text must be NUL-terminated and contain no NUL byte");
    /* PEM: the length counts the terminating NUL. A positive return value
     * means some certificates of a chain failed while others parsed. */
    rc = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, len + 1);
    if (rc < 0 || crt->raw.p == NULL) {
        wp_mbed_strerror(rc, buf, sizeof buf);
        return wp_fail(e, "malformed certificate (%s)", buf);
    }
    return WP_OK;
}

int wp_mbed_pk_from_cert(mbedtls_pk_context *pk, const char *pem, size_t len, wp_err *e)
{
    mbedtls_x509_crt crt;
    int rc = WP_OK;

    mbedtls_x509_crt_init(&crt);
    if (cert_parse(&crt, pem, len, e) != WP_OK) {
        rc = WP_ERR;
    } else if (mbedtls_pk_get_type(&crt.pk) != MBEDTLS_PK_RSA) {
        rc = wp_mbed_not_rsa(e, &crt.pk);
    } else if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0 ||
               mbedtls_rsa_copy(mbedtls_pk_rsa(*pk), mbedtls_pk_rsa(crt.pk)) != 0) {
        rc = wp_fail(e, "out of memory");
    }
    mbedtls_x509_crt_free(&crt);
    return rc;
}

int wp_cert_serial(const char *pem, size_t len, char *hex, size_t hexcap, wp_err *e)
{
    static const char digits[] = "0123456789ABCDEF";
    mbedtls_x509_crt crt;
    const unsigned char *p;
    size_t n, i;
    int rc = WP_OK;

    if (hexcap > 0) hex[0] = '\0';
    mbedtls_x509_crt_init(&crt);
    if (cert_parse(&crt, pem, len, e) != WP_OK) {
        mbedtls_x509_crt_free(&crt);
        return WP_ERR;
    }
    p = crt.serial.p;
    n = crt.serial.len;
    /* drop the DER sign byte (00 before a byte >= 0x80): the serial as issued
     * and as `openssl x509 -serial` prints it */
    while (n > 1 && p[0] == 0x00) {
        p++;
        n--;
    }
    if (n == 0) {
        rc = wp_fail(e, "certificate has an empty serial number");
    } else if (2 * n + 1 > hexcap) {
        rc = wp_fail(e, "serial number too long (%zu bytes)", n);
    } else {
        for (i = 0; i < n; i++) {
            hex[2 * i] = digits[p[i] >> 4];
            hex[2 * i + 1] = digits[p[i] & 15];
        }
        hex[2 * n] = '\0';
    }
    mbedtls_x509_crt_free(&crt);
    return rc;
}
