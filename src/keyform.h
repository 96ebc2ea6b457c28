/*
 * keyform.h - key-form helpers of keyform.c beyond the wp_key_load/wp_fail/
 * wp_zeroize declared in crypto.h. Backend-independent.
 */
#ifndef WP_KEYFORM_H
#define WP_KEYFORM_H

#include "crypto.h"

#define WP_FILE_MAX (1024 * 1024) /* largest key/certificate file read */

/* Reads the file named by a "file:///absolute/path" URL (len bytes, no NUL
 * needed) into a new NUL-terminated buffer. The caller zeroises and frees it
 * (wp_zeroize(*buf, *n + 1); free(*buf)). Unbuffered I/O: no copy of the
 * contents is left in stdio buffers. Messages name the URL, never contents. */
int wp_read_file_url(const char *url, size_t len, char **buf, size_t *n, wp_err *e);

/* Serial number (upper-case hex) of an X.509 certificate given as PEM text or
 * as a file:// URL to a PEM file. */
int wp_cert_serial_load(const char *input, size_t len, char *hex, size_t hexcap, wp_err *e);

#endif /* WP_KEYFORM_H */
