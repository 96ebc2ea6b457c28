/*
 * keyform.c - every key form of apiv3-protocol.md section 3, detected here and
 * handed to the backend as one PEM block or as DER:
 *
 *   PEM (RSA PRIVATE KEY, PRIVATE KEY, ENCRYPTED PRIVATE KEY + passphrase,
 *        PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE), anywhere in the text
 *   file:///absolute/path            a file holding any PEM form above
 *   private.pkcs1:// private.pkcs8:// public.pkcs1:// public.spki://
 *                                    + bare base64 DER (one line, strict)
 *
 * RSA only, 2048 bits only. Every intermediate copy (file contents, the PEM
 * block, decoded DER) is zeroised before it is freed. Messages name the form,
 * the size, the path or an offset, never key bytes or the passphrase.
 */
#include "crypto.h"
#include "encoding.h"
#include "keyform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUIRED_BITS 2048

int wp_fail(wp_err *e, const char *fmt, ...)
{
    va_list ap;
    if (e == NULL) return WP_ERR;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return WP_ERR;
}

/* memset through a volatile pointer: the compiler cannot drop it */
static void *(*const volatile wp_memset)(void *, int, size_t) = memset;

void wp_zeroize(void *p, size_t n)
{
    if (p != NULL && n > 0) wp_memset(p, 0, n);
}

static void secure_free(void *p, size_t n)
{
    if (p == NULL) return;
    wp_zeroize(p, n);
    free(p);
}

static int starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* ---- files -------------------------------------------------------------- */

int wp_read_file_url(const char *url, size_t len, char **buf, size_t *n, wp_err *e)
{
    char *path = NULL, *data = NULL;
    struct stat st;
    size_t have = 0, want;
    int fd = -1, rc = WP_ERR;

    *buf = NULL;
    *n = 0;
    if (!starts_with(url, len, "file://")) return wp_fail(e, "not a file:// URL");
    if (memchr(url, '\0', len) != NULL) return wp_fail(e, "file:// path contains a NUL byte");
    if (len == 7) return wp_fail(e, "file:// URL without a path");
    path = malloc(len - 7 + 1);
    if (path == NULL) return wp_fail(e, "out of memory");
    memcpy(path, url + 7, len - 7);
    path[len - 7] = '\0';
    if (path[0] != '/') {
        wp_fail(e, "file://%s: path must be absolute (file:///...)", path);
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wp_fail(e, "file://%s: cannot open (%s)", path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        wp_fail(e, "file://%s: cannot stat (%s)", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        wp_fail(e, "file://%s: not a regular file", path);
        goto done;
    }
    if (st.st_size > WP_FILE_MAX) {
        wp_fail(e, "file://%s: too large (%lld bytes, at most %d)", path, (long long)st.st_size, WP_FILE_MAX);
        goto done;
    }
    want = (size_t)st.st_size;
    data = malloc(want + 1);
    if (data == NULL) {
        wp_fail(e, "out of memory");
        goto done;
    }
    while (have < want) {
        ssize_t r = read(fd, data + have, want - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            wp_fail(e, "file://%s: cannot read (%s)", path, strerror(errno));
            goto done;
        }
        if (r == 0) break; /* shrank while reading */
        have += (size_t)r;
    }
    data[have] = '\0';
    *buf = data;
    *n = have;
    data = NULL;
    rc = WP_OK;
done:
    if (fd >= 0) close(fd);
    if (data != NULL) secure_free(data, want + 1);
    free(path);
    return rc;
}

/* ---- PEM blocks --------------------------------------------------------- */

typedef struct {
    const char *begin; /* "-----BEGIN " */
    size_t len;        /* up to and including the END line's final "-----" */
    char label[48];
} pem_block;

/* Finds the next "-----BEGIN <label>-----" at or after text+from. Returns 1 and
 * fills b (len 0 when the END line is missing), or 0 when there is none. */
static int next_block(const char *text, size_t len, size_t from, pem_block *b)
{
    static const char begin[] = "-----BEGIN ";
    const char *end_of_text = text + len;
    const char *p = text + from;

    for (;;) {
        const char *lab, *dash, *endline;
        size_t ll;
        char endmark[80];

        p = (p < end_of_text) ? strstr(p, begin) : NULL;
        if (p == NULL || p >= end_of_text) return 0;
        lab = p + sizeof begin - 1;
        dash = strstr(lab, "-----");
        if (dash == NULL || dash >= end_of_text) return 0;
        ll = (size_t)(dash - lab);
        /* labels are upper-case words: anything else is not a label (and never echoed) */
        if (ll == 0 || ll >= sizeof b->label || strspn(lab, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") < ll) {
            p = lab;
            continue;
        }
        memcpy(b->label, lab, ll);
        b->label[ll] = '\0';
        b->begin = p;
        snprintf(endmark, sizeof endmark, "-----END %s-----", b->label);
        endline = strstr(dash + 5, endmark);
        b->len = (endline == NULL || endline >= end_of_text)
                     ? 0 : (size_t)(endline + strlen(endmark) - p);
        return 1;
    }
}

static int is_private_label(const char *l)
{
    return strcmp(l, "RSA PRIVATE KEY") == 0 || strcmp(l, "PRIVATE KEY") == 0 ||
           strcmp(l, "ENCRYPTED PRIVATE KEY") == 0;
}

static int is_public_label(const char *l)
{
    return strcmp(l, "PUBLIC KEY") == 0 || strcmp(l, "RSA PUBLIC KEY") == 0 ||
           strcmp(l, "CERTIFICATE") == 0;
}

/* What to say about a PEM block recognisable from its label alone, or NULL. */
static const char *known_unsupported(const char *l)
{
    if (strcmp(l, "EC PRIVATE KEY") == 0 || strcmp(l, "EC PARAMETERS") == 0) return "not RSA (EC key)";
    if (strcmp(l, "DSA PRIVATE KEY") == 0 || strcmp(l, "DSA PARAMETERS") == 0) return "not RSA (DSA key)";
    if (strcmp(l, "OPENSSH PRIVATE KEY") == 0)
        return "OpenSSH key format is not supported (convert: ssh-keygen -p -m PKCS8 -f FILE)";
    return NULL;
}

/* Copies one block into a new NUL-terminated buffer (caller secure_frees len+1). */
static char *copy_block(const pem_block *b)
{
    char *s = malloc(b->len + 1);
    if (s == NULL) return NULL;
    memcpy(s, b->begin, b->len);
    s[b->len] = '\0';
    return s;
}

/* ---- keys --------------------------------------------------------------- */

static const char *kind_label(wp_key_kind kind)
{
    return kind == WP_KEY_PRIVATE ? "private key" : "public key";
}

/* Prefixes a backend message with "private key: " / "public key: ". */
static int prefixed(wp_err *e, wp_key_kind kind)
{
    char tmp[WP_ERRMAX];
    const char *label = kind_label(kind);

    if (e == NULL) return WP_ERR;
    if (strncmp(e->msg, label, strlen(label)) == 0) return WP_ERR;
    memcpy(tmp, e->msg, sizeof tmp);
    tmp[sizeof tmp - 1] = '\0';
    return wp_fail(e, "%s: %s", label, tmp);
}

/* RSA, the requested kind, 2048 bits; frees the key otherwise. */
static int check_key(wp_key **out, wp_key *k, wp_key_kind kind, wp_err *e)
{
    const char *label = kind_label(kind);
    size_t bits;

    if (!wp_key_is_rsa(k)) {
        wp_key_free(k);
        return wp_fail(e, "%s: not RSA", label);
    }
    if (wp_key_kind_of(k) != kind) {
        wp_key_free(k);
        return wp_fail(e, "%s: got a %s", label, kind_label(wp_key_kind_of(k)));
    }
    bits = wp_key_bits(k);
    if (bits != REQUIRED_BITS) {
        wp_key_free(k);
        return wp_fail(e, "%s: %zu-bit RSA, %d required", label, bits, REQUIRED_BITS);
    }
    *out = k;
    return WP_OK;
}

/* Text (NUL-terminated at text[len]) holding PEM. */
static int load_pem_text(wp_key **out, wp_key_kind kind, const char *text, size_t len,
                         const char *pass, size_t passlen, wp_err *e)
{
    const char *label = kind_label(kind);
    pem_block b, first, other;
    int have_first = 0, have_other = 0, found = 0;
    size_t from = 0;
    wp_key *k = NULL;
    char *block;
    int rc;

    memset(&first, 0, sizeof first);
    memset(&other, 0, sizeof other);
    while (next_block(text, len, from, &b)) {
        if (!have_first) {
            first = b;
            have_first = 1;
        }
        if (kind == WP_KEY_PRIVATE ? is_private_label(b.label) : is_public_label(b.label)) {
            found = 1;
            break;
        }
        if (!have_other && (is_private_label(b.label) || is_public_label(b.label))) {
            other = b;
            have_other = 1;
        }
        from = (size_t)(b.begin - text) + 11;
    }
    if (!found) {
        const char *what;
        if (!have_first) {
            const char *schemes = kind == WP_KEY_PRIVATE ? "private.pkcs1:// or private.pkcs8://"
                                                         : "public.pkcs1:// or public.spki://";
            if (text[0] == '/')
                return wp_fail(e, "%s: unrecognised form (a path? write file:///absolute/path)", label);
            if (len >= 64 && strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == len)
                return wp_fail(e, "%s: unrecognised form (bare base64 needs a %s prefix)", label, schemes);
            return wp_fail(e, "%s: unrecognised form (expected PEM, file://, %s)", label, schemes);
        }
        if (have_other)
            return wp_fail(e, "%s: got a %s PEM block, not a %s", label, other.label, label);
        what = known_unsupported(first.label);
        if (what != NULL) return wp_fail(e, "%s: %s", label, what);
        return wp_fail(e, "%s: unsupported PEM block \"%s\"", label, first.label);
    }
    if (b.len == 0) return wp_fail(e, "%s: truncated PEM (no END line for %s)", label, b.label);
    if (memchr(b.begin, '\0', b.len) != NULL) return wp_fail(e, "%s: PEM contains a NUL byte", label);

    block = copy_block(&b);
    if (block == NULL) return wp_fail(e, "out of memory");
    rc = wp_key_from_pem(&k, kind, block, b.len, pass, pass ? passlen : 0, e);
    secure_free(block, b.len + 1);
    if (rc != WP_OK) return prefixed(e, kind);
    return check_key(out, k, kind, e);
}

static const struct {
    const char *prefix;
    wp_key_kind kind;
    wp_der_form form;
} bare_forms[] = {
    { "private.pkcs1://", WP_KEY_PRIVATE, WP_DER_PKCS1_PRIVATE },
    { "private.pkcs8://", WP_KEY_PRIVATE, WP_DER_PKCS8_PRIVATE },
    { "public.pkcs1://", WP_KEY_PUBLIC, WP_DER_PKCS1_PUBLIC },
    { "public.spki://", WP_KEY_PUBLIC, WP_DER_SPKI },
};

static int load_bare(wp_key **out, wp_key_kind kind, size_t which, const char *input, size_t len,
                     wp_err *e)
{
    const char *label = kind_label(kind);
    const char *prefix = bare_forms[which].prefix;
    const char *b64 = input + strlen(prefix);
    size_t n = len - strlen(prefix), cap, derlen = 0;
    unsigned char *der;
    wp_key *k = NULL;
    int rc;

    if (bare_forms[which].kind != kind)
        return wp_fail(e, "%s: %s holds a %s", label, prefix, kind_label(bare_forms[which].kind));
    if (n == 0) return wp_fail(e, "%s: %s without base64", label, prefix);
    cap = wp_b64_decoded_max(n);
    der = malloc(cap);
    if (der == NULL) return wp_fail(e, "out of memory");
    if (wp_b64_decode(b64, n, der, &derlen, e) != WP_OK) {
        char tmp[WP_ERRMAX];
        secure_free(der, cap);
        memcpy(tmp, e->msg, sizeof tmp);
        tmp[sizeof tmp - 1] = '\0';
        return wp_fail(e, "%s: %s %s", label, prefix, tmp);
    }
    rc = wp_key_from_der(&k, bare_forms[which].form, der, derlen, e);
    secure_free(der, cap);
    if (rc != WP_OK) return prefixed(e, kind);
    return check_key(out, k, kind, e);
}

int wp_key_load(wp_key **out, wp_key_kind kind, const char *input, size_t len,
                const char *pass, size_t passlen, wp_err *e)
{
    const char *label = kind_label(kind);
    size_t i;
    char *text;
    int rc;

    *out = NULL;
    if (input == NULL || len == 0) return wp_fail(e, "%s: empty input", label);

    if (starts_with(input, len, "file://")) {
        size_t n;
        if (wp_read_file_url(input, len, &text, &n, e) != WP_OK) return prefixed(e, kind);
        rc = load_pem_text(out, kind, text, n, pass, passlen, e);
        secure_free(text, n + 1);
        return rc;
    }
    for (i = 0; i < sizeof bare_forms / sizeof bare_forms[0]; i++)
        if (starts_with(input, len, bare_forms[i].prefix)) return load_bare(out, kind, i, input, len, e);

    /* PEM text: work on a NUL-terminated copy (the input need not be) */
    text = malloc(len + 1);
    if (text == NULL) return wp_fail(e, "out of memory");
    memcpy(text, input, len);
    text[len] = '\0';
    rc = load_pem_text(out, kind, text, len, pass, passlen, e);
    secure_free(text, len + 1);
    return rc;
}

/* ---- certificates ------------------------------------------------------- */

static int serial_from_text(const char *text, size_t len, char *hex, size_t hexcap, wp_err *e)
{
    pem_block b;
    size_t from = 0;
    int found = 0;
    char *block;
    int rc;

    while (next_block(text, len, from, &b)) {
        if (strcmp(b.label, "CERTIFICATE") == 0) {
            found = 1;
            break;
        }
        from = (size_t)(b.begin - text) + 11;
    }
    if (!found)
        return wp_fail(e, "certificate: expected a PEM certificate (-----BEGIN CERTIFICATE-----) or a file:// path");
    if (b.len == 0) return wp_fail(e, "certificate: truncated PEM (no END line)");
    block = copy_block(&b);
    if (block == NULL) return wp_fail(e, "out of memory");
    rc = wp_cert_serial(block, b.len, hex, hexcap, e);
    secure_free(block, b.len + 1);
    if (rc != WP_OK) {
        char tmp[WP_ERRMAX];
        memcpy(tmp, e->msg, sizeof tmp);
        tmp[sizeof tmp - 1] = '\0';
        return wp_fail(e, "certificate: %s", tmp);
    }
    return WP_OK;
}

int wp_cert_serial_load(const char *input, size_t len, char *hex, size_t hexcap, wp_err *e)
{
    char *text;
    size_t n;
    int rc;

    if (hexcap > 0) hex[0] = '\0';
    if (input == NULL || len == 0) return wp_fail(e, "certificate: empty input");
    if (starts_with(input, len, "file://")) {
        if (wp_read_file_url(input, len, &text, &n, e) != WP_OK) {
            char tmp[WP_ERRMAX];
            memcpy(tmp, e->msg, sizeof tmp);
            tmp[sizeof tmp - 1] = '\0';
            return wp_fail(e, "certificate: %s", tmp);
        }
    } else {
        n = len;
        text = malloc(n + 1);
        if (text == NULL) return wp_fail(e, "out of memory");
        memcpy(text, input, n);
        text[n] = '\0';
    }
    rc = serial_from_text(text, n, hex, hexcap, e);
    secure_free(text, n + 1);
    return rc;
}
