/*
 * http.c - libcurl easy + multi machinery of the C core (see http.h). No Lua here.
 *
 * Every request runs on the session's multi handle, the blocking one too: the multi handle owns the connection
 * cache, so a connection opened by one request is kept alive for the next one, whichever way they are made.
 * Easy handles are pooled; curl_easy_reset between requests clears every option (nothing of one request leaks
 * into the next) but not the connections, which live in the multi handle.
 */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX 16
#define WP_HTTP_MAX_CONNECTS 64 /* idle + busy connections kept by a session */

typedef struct {
    size_t name_off, name_len, value_off, value_len;
} hdr_rec;

struct wp_http_request {
    wp_http_request *prev, *next;
    long long id;
    CURL *easy;
    int in_multi;
    int done;
    CURLcode result;
    int too_large;
    int oom;
    size_t max_body;
    struct curl_slist *hdrs;
    char *body;                 /* request body, owned */
    size_t body_len;
    /* response */
    long status;
    int reused;
    char *rbody;
    size_t rlen, rcap;
    char *hbuf;                 /* header names and values, back to back */
    size_t hlen, hcap;
    hdr_rec *recs;
    size_t nrecs, crecs;
    wp_http_header_out *hout;   /* built when the request finished */
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct {
    wp_http_request *head, *tail;
} req_list;

struct wp_http_session {
    CURLM *multi;
    char *ca_file, *ca_path;
    long connect_timeout_ms, timeout_ms;
    size_t max_body;
    CURL *pool[POOL_MAX];
    size_t npool;
    req_list active;            /* in flight, in start order */
    req_list finished;          /* finished, not yet released, in finishing order */
    size_t count;
    long long next_id;
};

/* ---- small helpers ------------------------------------------------------------------------------------------ */

static void list_push(req_list *l, wp_http_request *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail) l->tail->next = r; else l->head = r;
    l->tail = r;
}

static void list_unlink(req_list *l, wp_http_request *r)
{
    if (r->prev) r->prev->next = r->next; else l->head = r->next;
    if (r->next) r->next->prev = r->prev; else l->tail = r->prev;
    r->prev = r->next = NULL;
}

static char *dup_str(const char *s)
{
    size_t n;
    char *p;
    if (s == NULL) return NULL;
    n = strlen(s);
    p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_error(wp_http_error *err, int code, const char *reason, const char *msg)
{
    if (err == NULL) return;
    err->code = code;
    err->reason = reason;
    snprintf(err->message, sizeof err->message, "%s", msg);
}

static int grow(char **buf, size_t *cap, size_t need)
{
    size_t ncap;
    char *p;
    if (need <= *cap) return 0;
    ncap = *cap ? *cap : 1024;
    while (ncap < need) {
        if (ncap > ((size_t)-1) / 2) { ncap = need; break; }
        ncap *= 2;
    }
    p = realloc(*buf, ncap);
    if (p == NULL) return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

/* ---- reasons ----------------------------------------------------------------------------------------------- */

const char *wp_http_reason(int code)
{
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:          /* 28 */
        return "timeout";
    case CURLE_COULDNT_CONNECT:             /* 7 */
        return "connect";
    case CURLE_COULDNT_RESOLVE_HOST:        /* 6 */
    case CURLE_COULDNT_RESOLVE_PROXY:       /* 5 */
        return "resolve";
    case CURLE_SSL_CONNECT_ERROR:           /* 35 */
    case 51:                                /* CURLE_PEER_FAILED_VERIFICATION before 7.62 */
    case CURLE_SSL_ENGINE_NOTFOUND:         /* 53 */
    case CURLE_SSL_ENGINE_SETFAILED:        /* 54 */
    case CURLE_SSL_CERTPROBLEM:             /* 58 */
    case CURLE_SSL_CIPHER:                  /* 59 */
    case CURLE_PEER_FAILED_VERIFICATION:    /* 60 */
    case CURLE_SSL_ENGINE_INITFAILED:       /* 66 */
    case CURLE_SSL_CACERT_BADFILE:          /* 77 */
    case CURLE_SSL_CRL_BADFILE:             /* 82 */
    case CURLE_SSL_ISSUER_ERROR:            /* 83 */
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:    /* 90 */
    case CURLE_SSL_INVALIDCERTSTATUS:       /* 91 */
        return "tls";
    case CURLE_FILESIZE_EXCEEDED:           /* 63 */
        return "too_large";
    case CURLE_SEND_ERROR:                  /* 55 */
    case CURLE_RECV_ERROR:                  /* 56 */
    case CURLE_GOT_NOTHING:                 /* 52: the connection closed without an answer */
    case CURLE_PARTIAL_FILE:                /* 18: the connection closed in the middle of the body */
        return "reset";
    case CURLE_UNSUPPORTED_PROTOCOL:        /* 1 */
    case CURLE_URL_MALFORMAT:               /* 3 */
    case CURLE_WEIRD_SERVER_REPLY:          /* 8 */
    case CURLE_HTTP2:                       /* 16 */
    case CURLE_BAD_CONTENT_ENCODING:        /* 61 */
        return "protocol";
    default:
        return "other";
    }
}

/* ---- global ------------------------------------------------------------------------------------------------- */

int wp_http_global_init(void)
{
    static int done = 0;
    if (!done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
        done = 1;
    }
    return 0;
}

const char *wp_http_curl_version(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return (v && v->version) ? v->version : LIBCURL_VERSION;
}

/* ---- session ------------------------------------------------------------------------------------------------ */

wp_http_session *wp_http_session_new(const wp_http_opts *o, wp_http_error *err)
{
    wp_http_session *s = calloc(1, sizeof *s);
    if (s == NULL) goto oom;
    s->multi = curl_multi_init();
    if (s->multi == NULL) goto oom;
    /* A fixed size for the connection cache: libcurl's default (4 x the transfers in the multi handle at that
     * moment) shrinks while a burst of finished transfers is removed, and then closes idle connections. */
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)WP_HTTP_MAX_CONNECTS);
    if (o && o->ca_file) { s->ca_file = dup_str(o->ca_file); if (!s->ca_file) goto oom; }
    if (o && o->ca_path) { s->ca_path = dup_str(o->ca_path); if (!s->ca_path) goto oom; }
    s->connect_timeout_ms = (o && o->connect_timeout_ms > 0) ? o->connect_timeout_ms
                                                            : WP_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    s->timeout_ms = (o && o->timeout_ms > 0) ? o->timeout_ms : WP_HTTP_DEFAULT_TIMEOUT_MS;
    s->max_body = (o && o->max_body > 0) ? o->max_body : WP_HTTP_DEFAULT_MAX_BODY;
    s->next_id = 1;
    return s;
oom:
    set_error(err, CURLE_OUT_OF_MEMORY, "other", "out of memory creating the HTTP session");
    wp_http_session_free(s);
    return NULL;
}

static void request_free(wp_http_session *s, wp_http_request *r)
{
    if (r->easy) {
        if (r->in_multi) {
            curl_multi_remove_handle(s->multi, r->easy);
            r->in_multi = 0;
        }
        if (s->npool < POOL_MAX) {
            curl_easy_reset(r->easy); /* drops every option, and the pointers into r */
            s->pool[s->npool++] = r->easy;
        } else {
            curl_easy_cleanup(r->easy);
        }
        r->easy = NULL;
    }
    curl_slist_free_all(r->hdrs);
    free(r->body);
    free(r->rbody);
    free(r->hbuf);
    free(r->recs);
    free(r->hout);
    free(r);
}

void wp_http_session_free(wp_http_session *s)
{
    wp_http_request *r;
    size_t i;
    if (s == NULL) return;
    while ((r = s->active.head) != NULL) {
        list_unlink(&s->active, r);
        request_free(s, r);
    }
    while ((r = s->finished.head) != NULL) {
        list_unlink(&s->finished, r);
        request_free(s, r);
    }
    for (i = 0; i < s->npool; i++) curl_easy_cleanup(s->pool[i]);
    s->npool = 0;
    if (s->multi) curl_multi_cleanup(s->multi);
    free(s->ca_file);
    free(s->ca_path);
    free(s);
}

size_t wp_http_pending(const wp_http_session *s)
{
    return s ? s->count : 0;
}

/* ---- callbacks ---------------------------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    wp_http_request *r = ud;
    size_t n = size * nmemb;
    if (n > r->max_body - r->rlen) {
        r->too_large = 1;
        return 0; /* != n: libcurl aborts with CURLE_WRITE_ERROR */
    }
    if (n == 0) return 0;
    if (grow(&r->rbody, &r->rcap, r->rlen + n) != 0) {
        r->oom = 1;
        return 0;
    }
    memcpy(r->rbody + r->rlen, ptr, n);
    r->rlen += n;
    return n;
}

static int hbuf_append(wp_http_request *r, const char *p, size_t n)
{
    if (grow(&r->hbuf, &r->hcap, r->hlen + n + 1) != 0) return -1;
    memcpy(r->hbuf + r->hlen, p, n);
    r->hlen += n;
    return 0;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* libcurl hands over one complete header line per call (status line, fields, the empty line, trailers). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    wp_http_request *r = ud;
    size_t n = size * nmemb, len = n, i;
    const char *line = ptr;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) len--;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a new response (1xx, or a proxy's CONNECT answer, came before): keep the last one's headers only */
        r->hlen = 0;
        r->nrecs = 0;
        return n;
    }
    if (len == 0) return n;
    if (is_ws(line[0])) {
        /* obsolete line folding: the value continues, joined with one space */
        hdr_rec *last;
        if (r->nrecs == 0) return n;
        last = &r->recs[r->nrecs - 1];
        while (len > 0 && is_ws(*line)) { line++; len--; }
        while (len > 0 && is_ws(line[len - 1])) len--;
        if (len == 0) return n;
        if (hbuf_append(r, " ", 1) != 0 || hbuf_append(r, line, len) != 0) goto oom;
        last->value_len += 1 + len;
        return n;
    }
    for (i = 0; i < len && line[i] != ':'; i++) {}
    if (i == len || i == 0) return n; /* not a field */
    {
        size_t name_len = i, voff = i + 1, vlen;
        hdr_rec rec;
        while (name_len > 0 && is_ws(line[name_len - 1])) name_len--;
        while (voff < len && is_ws(line[voff])) voff++;
        vlen = len - voff;
        while (vlen > 0 && is_ws(line[voff + vlen - 1])) vlen--;
        if (r->nrecs == r->crecs) {
            size_t nc = r->crecs ? r->crecs * 2 : 16;
            hdr_rec *p = realloc(r->recs, nc * sizeof *p);
            if (p == NULL) goto oom;
            r->recs = p;
            r->crecs = nc;
        }
        rec.name_off = r->hlen;
        rec.name_len = name_len;
        if (hbuf_append(r, line, name_len) != 0) goto oom;
        rec.value_off = r->hlen;
        rec.value_len = vlen;
        if (hbuf_append(r, line + voff, vlen) != 0) goto oom;
        r->recs[r->nrecs++] = rec;
    }
    return n;
oom:
    r->oom = 1;
    return 0;
}

/* ---- starting a request ------------------------------------------------------------------------------------- */

static int has_header(const wp_http_req_spec *spec, const char *name)
{
    size_t i, nl = strlen(name);
    for (i = 0; i < spec->nheaders; i++) {
        const wp_http_header_in *h = &spec->headers[i];
        size_t len = h->name_len;
        if (h->value == NULL) {
            /* a complete line: the name ends at ':' or ';' */
            size_t j;
            for (j = 0; j < len && h->name[j] != ':' && h->name[j] != ';'; j++) {}
            len = j;
            while (len > 0 && is_ws(h->name[len - 1])) len--;
        }
        if (len == nl && strncasecmp(h->name, name, nl) == 0) return 1;
    }
    return 0;
}

static int bad_bytes(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') return 1;
    return 0;
}

/* Builds the header list: the caller's headers in order, then the suppressions of libcurl's own defaults. */
static int build_headers(wp_http_request *r, const wp_http_req_spec *spec, int with_body, wp_http_error *err)
{
    size_t i;
    char *line = NULL;
    size_t cap = 0;
    struct curl_slist *l;

    for (i = 0; i < spec->nheaders; i++) {
        const wp_http_header_in *h = &spec->headers[i];
        size_t need, n = 0;
        if (h->name_len == 0 || bad_bytes(h->name, h->name_len) ||
            (h->value && bad_bytes(h->value, h->value_len))) {
            free(line);
            set_error(err, CURLE_BAD_FUNCTION_ARGUMENT, "other",
                      "a request header is empty or contains CR, LF or NUL");
            return -1;
        }
        need = h->name_len + (h->value ? h->value_len + 2 : 0) + 1;
        if (grow(&line, &cap, need) != 0) goto oom;
        memcpy(line, h->name, h->name_len);
        n = h->name_len;
        if (h->value) {
            if (h->value_len == 0) {
                line[n++] = ';'; /* libcurl's way to send an empty header */
            } else {
                line[n++] = ':';
                line[n++] = ' ';
                memcpy(line + n, h->value, h->value_len);
                n += h->value_len;
            }
        }
        line[n] = '\0';
        l = curl_slist_append(r->hdrs, line);
        if (l == NULL) goto oom;
        r->hdrs = l;
    }
    free(line);
    /* libcurl adds an `Accept` for any type, `Expect: 100-continue` (large bodies) and a form Content-Type on its
     * own; an empty `Name:` removes them. The transport sends only what the caller gave (plus Host, Content-Length). */
    if (!has_header(spec, "Accept")) {
        if ((l = curl_slist_append(r->hdrs, "Accept:")) == NULL) return -1;
        r->hdrs = l;
    }
    if (!has_header(spec, "Expect")) {
        if ((l = curl_slist_append(r->hdrs, "Expect:")) == NULL) return -1;
        r->hdrs = l;
    }
    if (with_body && !has_header(spec, "Content-Type")) {
        if ((l = curl_slist_append(r->hdrs, "Content-Type:")) == NULL) return -1;
        r->hdrs = l;
    }
    return 0;
oom:
    free(line);
    set_error(err, CURLE_OUT_OF_MEMORY, "other", "out of memory building the request headers");
    return -1;
}

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)

static int setup(wp_http_session *s, wp_http_request *r, const wp_http_req_spec *spec, wp_http_error *err)
{
    CURL *e = r->easy;
    CURLcode rc = CURLE_OK;
    const char *m = spec->method ? spec->method : "GET";
    int with_body;
    long timeout = spec->timeout_ms > 0 ? spec->timeout_ms : s->timeout_ms;

    with_body = spec->body != NULL || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
    if (strcmp(m, "HEAD") == 0) with_body = 0;
    if (with_body && spec->body_len > 0) {
        r->body = malloc(spec->body_len);
        if (r->body == NULL) {
            set_error(err, CURLE_OUT_OF_MEMORY, "other", "out of memory copying the request body");
            return -1;
        }
        memcpy(r->body, spec->body, spec->body_len);
        r->body_len = spec->body_len;
    }
    if (build_headers(r, spec, with_body, err) != 0) {
        if (err && err->reason == NULL) set_error(err, CURLE_OUT_OF_MEMORY, "other", "out of memory");
        return -1;
    }

    SET(CURLOPT_PRIVATE, (void *)r);
    SET(CURLOPT_URL, spec->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "https,http");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file || s->ca_path) {
        /* the given trust store replaces libcurl's default one */
        SET(CURLOPT_CAINFO, s->ca_file);
        SET(CURLOPT_CAPATH, s->ca_path);
    }
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_NOPROGRESS, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_body);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)r);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)r);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_HTTPHEADER, r->hdrs);

    if (strcmp(m, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") == 0 && !with_body) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        if (with_body) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
            SET(CURLOPT_POSTFIELDS, r->body ? r->body : "");
        }
        if (strcmp(m, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, m);
    }

    if (rc != CURLE_OK) {
        char msg[WP_HTTP_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "setting up the request: %s", curl_easy_strerror(rc));
        set_error(err, (int)rc, wp_http_reason((int)rc), msg);
        return -1;
    }
    return 0;
}

static void fail_active(wp_http_session *s, CURLcode code);
static void drive(wp_http_session *s);

int wp_http_start(wp_http_session *s, const wp_http_req_spec *spec, long long *id, wp_http_error *err)
{
    wp_http_request *r;
    CURLMcode mc;

    if (err) err->reason = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        set_error(err, CURLE_OUT_OF_MEMORY, "other", "out of memory starting a request");
        return -1;
    }
    r->max_body = s->max_body;
    if (s->npool > 0) {
        r->easy = s->pool[--s->npool];
    } else {
        r->easy = curl_easy_init();
        if (r->easy == NULL) {
            free(r);
            set_error(err, CURLE_FAILED_INIT, "other", "curl_easy_init failed");
            return -1;
        }
    }
    if (setup(s, r, spec, err) != 0) {
        request_free(s, r);
        return -1;
    }
    mc = curl_multi_add_handle(s->multi, r->easy);
    if (mc != CURLM_OK) {
        char msg[WP_HTTP_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        request_free(s, r);
        set_error(err, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT, "other", msg);
        return -1;
    }
    r->in_multi = 1;
    r->id = s->next_id++;
    list_push(&s->active, r);
    s->count++;
    *id = r->id;
    /* in flight at once: resolving and connecting start now, or on a kept-alive connection the request is sent.
     * (This costs a pass over every transfer of the multi handle; see bench/client_transport.lua.) */
    drive(s);
    return 0;
}

/* ---- driving the multi handle ------------------------------------------------------------------------------- */

static void finish(wp_http_session *s, wp_http_request *r, CURLcode code)
{
    long connects = 0, status = 0;
    size_t i;

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
    r->status = status;
    r->reused = connects == 0 && status != 0;
    r->result = code;
    r->done = 1;
    if (r->in_multi) {
        curl_multi_remove_handle(s->multi, r->easy); /* the connection goes back to the multi's cache */
        r->in_multi = 0;
    }
    if (code == CURLE_OK && r->nrecs > 0) {
        r->hout = malloc(r->nrecs * sizeof *r->hout);
        if (r->hout == NULL) {
            r->oom = 1;
        } else {
            for (i = 0; i < r->nrecs; i++) {
                r->hout[i].name = r->hbuf + r->recs[i].name_off;
                r->hout[i].name_len = r->recs[i].name_len;
                r->hout[i].value = r->hbuf + r->recs[i].value_off;
                r->hout[i].value_len = r->recs[i].value_len;
            }
        }
    }
    list_unlink(&s->active, r);
    list_push(&s->finished, r);
}

static void collect(wp_http_session *s)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            char *priv = NULL;
            wp_http_request *r;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            r = (wp_http_request *)(void *)priv;
            if (r != NULL && !r->done) finish(s, r, msg->data.result);
        }
    }
}

static void fail_active(wp_http_session *s, CURLcode code)
{
    wp_http_request *r;
    while ((r = s->active.head) != NULL) finish(s, r, code);
}

static void drive(wp_http_session *s)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(s->multi, &running);
    collect(s);
    if (mc != CURLM_OK && mc != CURLM_CALL_MULTI_PERFORM)
        fail_active(s, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT);
}

static int poll_once(wp_http_session *s, long wait_ms)
{
    CURLMcode mc;
    if (wait_ms < 0) wait_ms = 0;
    if (wait_ms > 1000) wait_ms = 1000;
    mc = curl_multi_poll(s->multi, NULL, 0, (int)wait_ms, NULL);
    if (mc != CURLM_OK) {
        fail_active(s, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT);
        return -1;
    }
    return 0;
}

wp_http_request *wp_http_wait_any(wp_http_session *s, long timeout_ms)
{
    long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        if (s->finished.head) return s->finished.head;
        if (s->active.head == NULL) return NULL;
        drive(s);
        if (s->finished.head) return s->finished.head;
        if (timeout_ms >= 0) {
            long long rem = deadline - now_ms();
            if (rem <= 0) return NULL;
            poll_once(s, (long)rem);
        } else {
            poll_once(s, 1000);
        }
    }
}

wp_http_request *wp_http_wait_id(wp_http_session *s, long long id)
{
    wp_http_request *r;
    for (r = s->finished.head; r; r = r->next)
        if (r->id == id) return r;
    for (r = s->active.head; r; r = r->next)
        if (r->id == id) break;
    if (r == NULL) return NULL;
    for (;;) {
        drive(s);
        if (r->done) return r;
        poll_once(s, 1000);
        if (r->done) return r;
    }
}

/* ---- results ------------------------------------------------------------------------------------------------ */

long long wp_http_request_id(const wp_http_request *r)
{
    return r->id;
}

int wp_http_result(const wp_http_request *r, wp_http_response *res, wp_http_error *err)
{
    if (r->too_large || r->result == CURLE_FILESIZE_EXCEEDED) {
        char msg[WP_HTTP_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "response body exceeds the limit of %lu bytes (max_body)",
                 (unsigned long)r->max_body);
        set_error(err, (int)r->result, "too_large", msg);
        return -1;
    }
    if (r->oom) {
        set_error(err, CURLE_OUT_OF_MEMORY, "other", "out of memory receiving the response");
        return -1;
    }
    if (r->result != CURLE_OK) {
        set_error(err, (int)r->result, wp_http_reason((int)r->result),
                  r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
        return -1;
    }
    res->status = r->status;
    res->headers = r->hout;
    res->nheaders = r->hout ? r->nrecs : 0;
    res->body = r->rbody ? r->rbody : "";
    res->body_len = r->rlen;
    res->reused = r->reused;
    return 0;
}

void wp_http_release(wp_http_session *s, wp_http_request *r)
{
    if (r->done) list_unlink(&s->finished, r); else list_unlink(&s->active, r);
    s->count--;
    request_free(s, r);
}
