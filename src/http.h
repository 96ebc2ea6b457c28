/*
 * http.h - the libcurl machinery of the C core (no Lua here; lhttp.c is the binding).
 *
 * One session = one curl multi handle (it owns the connection cache, so connections are kept alive across the
 * requests of a session) + a small pool of easy handles reused from request to request. Every request, blocking
 * or not, runs on the multi handle:
 *
 *   wp_http_start()        copies the request into C memory, queues it on the multi handle, returns its id;
 *   wp_http_wait_any()     drives the multi handle (curl_multi_poll, no busy waiting) until a request finished;
 *   wp_http_wait_id()      the same for one given request (the blocking request of the binding);
 *   wp_http_result()       reads a finished request's response or error;
 *   wp_http_release()      frees a finished request (its easy handle goes back to the pool).
 *
 * A finished request stays in the session (and is freed by wp_http_session_free) until it is released, so a
 * binding that raises while converting a result leaks nothing.
 */
#ifndef WP_HTTP_H
#define WP_HTTP_H

#include <stddef.h>

#define WP_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define WP_HTTP_DEFAULT_TIMEOUT_MS         30000L
#define WP_HTTP_DEFAULT_MAX_BODY           ((size_t)16 * 1024 * 1024)
#define WP_HTTP_MESSAGE_SIZE               320

typedef struct wp_http_session wp_http_session;
typedef struct wp_http_request wp_http_request;

typedef struct {
    const char *ca_file;        /* NULL: libcurl's default trust store */
    const char *ca_path;        /* NULL: libcurl's default (only when ca_file is NULL too) */
    long connect_timeout_ms;    /* <= 0: default */
    long timeout_ms;            /* <= 0: default */
    size_t max_body;            /* 0: default */
} wp_http_opts;

/* One request header: either a complete line `Name: value` (libcurl semantics, value NULL), or a name and a
 * value (an empty value is sent as an empty header). */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;          /* NULL: `name` is a complete header line */
    size_t value_len;
} wp_http_header_in;

typedef struct {
    const char *method;         /* upper-case method, e.g. "GET" */
    const char *url;
    const wp_http_header_in *headers;
    size_t nheaders;
    const char *body;           /* NULL: no body (POST/PUT/PATCH still send Content-Length: 0) */
    size_t body_len;
    long timeout_ms;            /* <= 0: the session's */
} wp_http_req_spec;

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} wp_http_header_out;

typedef struct {
    long status;
    const wp_http_header_out *headers; /* the last response's headers, in received order */
    size_t nheaders;
    const char *body;
    size_t body_len;
    int reused;                 /* 1: the request went over a kept-alive connection */
} wp_http_response;

typedef struct {
    int code;                   /* CURLcode, or -1 for a failure outside libcurl (out of memory) */
    const char *reason;         /* timeout connect resolve tls too_large reset protocol other */
    char message[WP_HTTP_MESSAGE_SIZE];
} wp_http_error;

/* curl_global_init, once; not thread-safe (call it when the module is opened). 0 on success. */
int wp_http_global_init(void);
const char *wp_http_curl_version(void);

wp_http_session *wp_http_session_new(const wp_http_opts *opts, wp_http_error *err);
/* Frees the session and every request still in it (in flight or finished and not yet released). */
void wp_http_session_free(wp_http_session *s);

/* Queues a request; *id receives its id (> 0). 0 on success, -1 with *err filled. */
int wp_http_start(wp_http_session *s, const wp_http_req_spec *spec, long long *id, wp_http_error *err);

/* Waits up to timeout_ms (< 0: until one finishes) for any request to finish; returns a finished, not yet
 * released request (the oldest one), or NULL when none finished in time or none is pending. */
wp_http_request *wp_http_wait_any(wp_http_session *s, long timeout_ms);
/* Waits until the request `id` finished; NULL when there is no such request. */
wp_http_request *wp_http_wait_id(wp_http_session *s, long long id);

long long wp_http_request_id(const wp_http_request *r);
/* 0 and *res filled (pointers valid until wp_http_release), or -1 and *err filled. */
int wp_http_result(const wp_http_request *r, wp_http_response *res, wp_http_error *err);
void wp_http_release(wp_http_session *s, wp_http_request *r);

/* Requests started and not yet released (in flight or finished). */
size_t wp_http_pending(const wp_http_session *s);

/* The reason of a CURLcode (see http.c). */
const char *wp_http_reason(int curl_code);

#endif
