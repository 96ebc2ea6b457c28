/*
 * encoding.c - strict base64 and hex. See encoding.h.
 */
#include "encoding.h"

#include <stdint.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t wp_b64_encoded_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > (SIZE_MAX - 1) / 4) return 0;
    return groups * 4;
}

size_t wp_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t wp_b64_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

/* value of one base64 character, or -1 */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int wp_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, wp_err *e)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i, o = 0, pad = 0;

    *outlen = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n')
            return wp_fail(e, "invalid base64: line break at offset %zu", i);
        if (s[i] != '=' && b64_value(s[i]) < 0)
            return wp_fail(e, "invalid base64: bad character at offset %zu", i);
    }
    if (n % 4 != 0)
        return wp_fail(e, "invalid base64: length %zu is not a multiple of 4", n);
    if (n > 0 && s[n - 1] == '=') pad = (n > 1 && s[n - 2] == '=') ? 2 : 1;
    for (i = 0; i < n - pad; i++)
        if (s[i] == '=') return wp_fail(e, "invalid base64: misplaced padding at offset %zu", i);

    for (i = 0; i < n; i += 4) {
        unsigned long v;
        int a = b64_value(s[i]), b = b64_value(s[i + 1]);
        int c = (s[i + 2] == '=') ? 0 : b64_value(s[i + 2]);
        int d = (s[i + 3] == '=') ? 0 : b64_value(s[i + 3]);
        v = ((unsigned long)a << 18) | ((unsigned long)b << 12) | ((unsigned long)c << 6) | (unsigned long)d;
        out[o++] = (unsigned char)(v >> 16);
        if (i + 4 < n || pad == 0) {
            out[o++] = (unsigned char)(v >> 8);
            out[o++] = (unsigned char)v;
        } else if (pad == 1) {
            if (v & 0xff) return wp_fail(e, "invalid base64: non-zero padding bits at offset %zu", i + 2);
            out[o++] = (unsigned char)(v >> 8);
        } else if (v & 0xffff) {
            return wp_fail(e, "invalid base64: non-zero padding bits at offset %zu", i + 1);
        }
    }
    *outlen = o;
    return WP_OK;
}

static void hex_with(const char *digits, const unsigned char *in, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void wp_hex_lower(const unsigned char *in, size_t n, char *out)
{
    hex_with("0123456789abcdef", in, n, out);
}

void wp_hex_upper(const unsigned char *in, size_t n, char *out)
{
    hex_with("0123456789ABCDEF", in, n, out);
}
