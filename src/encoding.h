/*
 * encoding.h - strict standard base64 (RFC 4648 section 4) and lower-case hex.
 * Backend-independent (src/encoding.c).
 */
#ifndef WP_ENCODING_H
#define WP_ENCODING_H

#include <stddef.h>
#include "crypto.h"

/* Length of the base64 text for n input bytes (no NUL), or 0 if it would overflow. */
size_t wp_b64_encoded_len(size_t n);
/* Writes wp_b64_encoded_len(n) characters and a terminating NUL into out;
 * returns the number of characters written (without the NUL). */
size_t wp_b64_encode(const unsigned char *in, size_t n, char *out);

/* Upper bound of the decoded size for n base64 characters. */
size_t wp_b64_decoded_max(size_t n);
/* Strict decoder: length a multiple of 4, alphabet A-Z a-z 0-9 + / only, '='
 * only as one or two final padding characters, unused bits zero (canonical),
 * no whitespace or line breaks. out must hold wp_b64_decoded_max(n) bytes.
 * The empty string decodes to zero bytes. On failure out may hold partial
 * output (the caller zeroises it if it matters) and e says why, naming only
 * offsets, never input bytes. */
int wp_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, wp_err *e);

/* Writes 2n lower-case hex digits and a NUL into out (capacity 2n + 1). */
void wp_hex_lower(const unsigned char *in, size_t n, char *out);
/* Same, upper-case. */
void wp_hex_upper(const unsigned char *in, size_t n, char *out);

#endif /* WP_ENCODING_H */
