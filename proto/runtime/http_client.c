/* libcurl's multi interface on a libuv loop: curl names the sockets to watch (one uv_poll
 * each) and the next timeout (one uv_timer), and both call curl_multi_socket_action back.
 * Finished transfers are collected from curl's message queue before any callback of the
 * caller runs, so a callback may cancel, start or close anything.
 *
 * Rules of libcurl this file keeps: no curl call from inside a curl callback (the caller's
 * callbacks only run outside them); the socket and timer callbacks always return 0 (-1 marks
 * the whole multi handle dead); a socket is forgotten (its poll stopped) in the callback that
 * removes it, before curl closes it, so a new socket with the same number is watched anew. */
#include "http_client.h"

#include "alloc.h"
#include "sbuf.h"
#include "strmap.h"

#include <curl/curl.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef CHATCLUSTER_VERSION
#define CHATCLUSTER_VERSION "0"
#endif

#define MAX_METHOD 32 /* bytes of a method name */

typedef struct xfer xfer_t;

/* A list of transfers; each is in at most one (the client's active or finished list). */
typedef struct {
    xfer_t *head, *tail;
} xlist_t;

typedef enum { TOO_LARGE_NO = 0, TOO_LARGE_BODY, TOO_LARGE_HEAD } too_large_t;

struct xfer {
    xfer_t *prev, *next;
    xlist_t *list; /* the list it is in, or NULL */
    http_client_t *c;
    CURL *easy;
    CURLU *url;
    struct curl_slist *headers;
    int in_multi;     /* added to the multi handle and not yet removed */
    uint64_t id;      /* also the by_id key: its 8 bytes */
    CURLcode result;  /* once finished */
    too_large_t over; /* why the transfer was aborted from a write callback */
    http_client_done_cb cb;
    void *ud;
    uint64_t started_ns;
    sbuf_t body;
    size_t head_bytes;
    size_t nwant;
    char *want[HTTP_CLIENT_MAX_WANT];
    char errbuf[CURL_ERROR_SIZE];
};

/* One socket curl asked to watch. */
typedef struct sock {
    uv_poll_t poll; /* its data is the sock */
    http_client_t *c;
    curl_socket_t fd;
    struct sock *prev, *next; /* in the client's socks */
} sock_t;

struct http_client {
    uv_loop_t *loop;
    http_client_options_t o; /* its strings are the copies below */
    char *user_agent, *ca_file, *proxy;
    CURLM *multi; /* NULL once closing */
    uv_timer_t timer;
    int handles; /* uv handles not yet closed: the timer and every sock */
    sock_t *socks;
    xlist_t active;   /* transfers curl is working on */
    xlist_t finished; /* transfers curl has finished, their callbacks not yet called */
    strmap_t by_id;   /* id (8 bytes) -> xfer_t, for both lists */
    uint64_t next_id;
    http_client_stats_t st;
    char last_error[160];
    int closing;
    http_client_closed_cb done;
    void *done_ud;
};

const char *http_client_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case HTTP_CLIENT_EINVAL: return "invalid argument";
    case HTTP_CLIENT_ECLOSED: return "HTTP client is closed";
    case HTTP_CLIENT_EFULL: return "too many HTTP requests in flight";
    case HTTP_CLIENT_ENOENT: return "no such HTTP request in flight";
    case HTTP_CLIENT_ECANCELED: return "HTTP request cancelled";
    case HTTP_CLIENT_ETIMEDOUT: return "HTTP request timed out";
    case HTTP_CLIENT_ERESOLVE: return "HTTP host name did not resolve";
    case HTTP_CLIENT_ECONNECT: return "HTTP connection failed";
    case HTTP_CLIENT_ETLS: return "TLS failed";
    case HTTP_CLIENT_ERESPONSE: return "no valid HTTP response";
    case HTTP_CLIENT_ETOOLARGE: return "HTTP response too large";
    case HTTP_CLIENT_ECURL: return "libcurl failed";
    default: return "unknown error";
    }
}

void http_client_options_init(http_client_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->max_connections = 64;
    o->max_host_connections = 8;
    o->timeout_ms = 10000;
    o->connect_timeout_ms = 5000;
    o->max_body_bytes = 1u << 20;
    o->max_header_bytes = 64u << 10;
    o->max_inflight = 10000;
}

static void set_error(http_client_t *c, const char *what, const char *detail)
{
    snprintf(c->last_error, sizeof c->last_error, "%s: %s", what, detail);
}

/* ---- lists ---- */

static void xlist_push(xlist_t *l, xfer_t *x)
{
    x->list = l;
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
}

static void xlist_unlink(xfer_t *x)
{
    xlist_t *l = x->list;
    if (!l) return;
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    x->list = NULL;
}

/* ---- freeing ---- */

static void maybe_free(http_client_t *c)
{
    if (!c->closing || c->handles > 0) return;
    http_client_closed_cb done = c->done;
    void *ud = c->done_ud;
    strmap_free(&c->by_id);
    free(c->user_agent);
    free(c->ca_file);
    free(c->proxy);
    free(c);
    curl_global_cleanup(); /* every easy handle is gone: each was freed before its close */
    if (done) done(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    http_client_t *c = h->data;
    c->handles--;
    maybe_free(c);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_t *s = h->data;
    http_client_t *c = s->c;
    free(s);
    c->handles--;
    maybe_free(c);
}

/* Stops watching s and closes its poll handle (freed from its close callback). */
static void sock_close(sock_t *s)
{
    http_client_t *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void xfer_free(xfer_t *x)
{
    if (x->easy) curl_easy_cleanup(x->easy);
    if (x->url) curl_url_cleanup(x->url);
    curl_slist_free_all(x->headers);
    sbuf_free(&x->body);
    for (size_t i = 0; i < x->nwant; i++) free(x->want[i]);
    free(x);
}

/* ---- results ---- */

static int curl_error_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return 0;
    case CURLE_OPERATION_TIMEDOUT: return HTTP_CLIENT_ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return HTTP_CLIENT_ERESOLVE;
    case CURLE_COULDNT_CONNECT: return HTTP_CLIENT_ECONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED: return HTTP_CLIENT_ETLS;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL: return HTTP_CLIENT_ERESPONSE;
    case CURLE_FILESIZE_EXCEEDED: return HTTP_CLIENT_ETOOLARGE;
    case CURLE_URL_MALFORMAT: return HTTP_CLIENT_EINVAL;
    default: return HTTP_CLIENT_ECURL;
    }
}

/* The last value of response header name, copied, or NULL. */
static char *header_value(CURL *e, const char *name)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h) return NULL;
    if (h->amount > 1 &&
        curl_easy_header(e, name, h->amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h && h->value ? xstrdup(h->value) : NULL;
}

/* Retry-After as seconds: delay-seconds, or an HTTP-date counted from now (0 when past); -1
 * when absent or unreadable. */
static int64_t retry_after(const char *v)
{
    if (!v || !*v) return -1;
    if (v[strspn(v, "0123456789")] == '\0') {
        if (strlen(v) > 12) return INT32_MAX; /* decades: as good as forever */
        return strtoll(v, NULL, 10);
    }
    time_t t = curl_getdate(v, NULL);
    if (t == -1) return -1;
    time_t now = time(NULL);
    return t > now ? (int64_t)(t - now) : 0;
}

/* Takes x out of every list and of the multi handle, calls back with what it came to
 * (cancel_msg not NULL: cancelled, with that text) and frees it. */
static void complete(xfer_t *x, const char *cancel_msg)
{
    http_client_t *c = x->c;
    xlist_unlink(x);
    strmap_del(&c->by_id, (const char *)&x->id, sizeof x->id);

    http_client_result_t r;
    memset(&r, 0, sizeof r);
    r.retry_after_s = -1;
    char msg[CURL_ERROR_SIZE + 64];
    char *vals[HTTP_CLIENT_MAX_WANT] = {NULL};
    char *ctype = NULL, *retry = NULL;
    long connects = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
        c->st.connects += (uint64_t)connects;
    if (cancel_msg) {
        r.err = HTTP_CLIENT_ECANCELED;
        r.error = cancel_msg;
    } else {
        /* Read before the handle leaves the multi handle: the headers stay until then. */
        long status = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
            r.status = status;
        if (r.status > 0) {
            ctype = header_value(x->easy, "Content-Type");
            retry = header_value(x->easy, "Retry-After");
            for (size_t i = 0; i < x->nwant; i++) vals[i] = header_value(x->easy, x->want[i]);
        }
        r.content_type = ctype;
        r.retry_after_s = retry_after(retry);
        if (x->over != TOO_LARGE_NO) {
            r.err = HTTP_CLIENT_ETOOLARGE;
            snprintf(msg, sizeof msg, "response %s over %zu bytes",
                     x->over == TOO_LARGE_BODY ? "body" : "head",
                     x->over == TOO_LARGE_BODY ? c->o.max_body_bytes : c->o.max_header_bytes);
            r.error = msg;
        } else if (x->result == CURLE_FILESIZE_EXCEEDED) {
            r.err = HTTP_CLIENT_ETOOLARGE;
            snprintf(msg, sizeof msg, "response body over %zu bytes (its Content-Length)",
                     c->o.max_body_bytes);
            r.error = msg;
        } else {
            r.err = curl_error_code(x->result);
            r.error = r.err == 0 ? "" : x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
        }
        r.body = x->body.data;
        r.body_len = x->body.len;
    }
    if (!r.body) r.body = ""; /* nothing came, or cancelled */
    r.headers = (const char *const *)vals;
    if (x->in_multi) {
        x->in_multi = 0;
        CURLMcode mc = curl_multi_remove_handle(c->multi, x->easy);
        if (mc != CURLM_OK) set_error(c, "curl_multi_remove_handle", curl_multi_strerror(mc));
    }
    r.elapsed_us = (uv_hrtime() - x->started_ns) / 1000;

    c->st.in_flight--;
    if (r.err == 0)
        c->st.ok++;
    else if (r.err == HTTP_CLIENT_ECANCELED)
        c->st.cancelled++;
    else {
        c->st.failed++;
        if (r.err == HTTP_CLIENT_ETIMEDOUT) c->st.timed_out++;
    }
    x->cb(x->ud, &r);

    free(ctype);
    free(retry);
    for (size_t i = 0; i < x->nwant; i++) free(vals[i]);
    xfer_free(x);
}

/* Moves every transfer curl reports finished to the finished list. */
static void collect(http_client_t *c)
{
    CURLMsg *m;
    int left = 0;
    while (c->multi && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        xfer_t *x = NULL;
        if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || !x)
            continue; /* not ours: cannot happen */
        if (x->list != &c->active) continue;
        x->result = m->data.result;
        xlist_unlink(x);
        xlist_push(&c->finished, x);
    }
}

/* Calls back for the finished transfers, until none is left or the client is closed. */
static void deliver(http_client_t *c)
{
    while (!c->closing && c->finished.head) complete(c->finished.head, NULL);
}

static void act(http_client_t *c, curl_socket_t fd, int flags)
{
    if (c->closing) return;
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(c->multi, fd, flags, &running);
    if (mc != CURLM_OK) set_error(c, "curl_multi_socket_action", curl_multi_strerror(mc));
    collect(c);
    deliver(c);
}

/* ---- curl's sockets and timer on libuv ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *s = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    act(s->c, s->fd, flags); /* s may be closed by now */
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    http_client_t *c = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) sock_close(s); /* curl forgets the socket (and its pointer) on return */
        return 0;
    }
    if (!s) {
        s = xcalloc(1, sizeof *s);
        int rc = uv_poll_init_socket(c->loop, &s->poll, fd);
        if (rc < 0) {
            /* The transfer goes unwatched and ends by its timeout. */
            set_error(c, "uv_poll_init_socket", uv_strerror(rc));
            free(s);
            return 0;
        }
        s->poll.data = s;
        s->c = c;
        s->fd = fd;
        s->next = c->socks;
        if (c->socks) c->socks->prev = s;
        c->socks = s;
        c->handles++;
        CURLMcode mc = curl_multi_assign(c->multi, fd, s);
        if (mc != CURLM_OK) {
            set_error(c, "curl_multi_assign", curl_multi_strerror(mc));
            sock_close(s);
            return 0;
        }
    }
    int events =
        ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
    int rc = events ? uv_poll_start(&s->poll, events, on_poll) : uv_poll_stop(&s->poll);
    if (rc < 0) set_error(c, "uv_poll_start", uv_strerror(rc));
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    act(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    http_client_t *c = userp;
    if (c->closing) return 0;
    if (timeout_ms < 0) {
        uv_timer_stop(&c->timer);
        return 0;
    }
    /* 0: as soon as possible, from the loop (never a socket action from in here). */
    int rc = uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    if (rc < 0) set_error(c, "uv_timer_start", uv_strerror(rc));
    return 0;
}

/* ---- a transfer's own callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;
    if (len > x->c->o.max_body_bytes - x->body.len) {
        x->over = TOO_LARGE_BODY;
        return 0; /* a count other than len aborts the transfer */
    }
    sbuf_append(&x->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    xfer_t *x = ud;
    size_t len = size * n;
    if (len > x->c->o.max_header_bytes - x->head_bytes) {
        x->over = TOO_LARGE_HEAD;
        return 0;
    }
    x->head_bytes += len;
    return len;
}

/* ---- requests ---- */

static int tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* An HTTP token (RFC 9110) of 1..max bytes. */
static int valid_token(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max) return 0;
    for (size_t i = 0; i < len; i++)
        if (!tchar((unsigned char)s[i])) return 0;
    return 1;
}

/* "Name: value": a token, a colon, then no control character but a tab. */
static int valid_header_line(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || !valid_token(line, (size_t)(colon - line), 256)) return 0;
    for (const unsigned char *v = (const unsigned char *)colon + 1; *v; v++)
        if ((*v < 0x20 && *v != '\t') || *v == 0x7f) return 0;
    return 1;
}

static int header_named(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Scheme http or https, as libcurl parses the URL. Returns 0 or HTTP_CLIENT_EINVAL. */
static int parse_url(xfer_t *x, const char *url)
{
    x->url = curl_url();
    if (!x->url) return HTTP_CLIENT_ECURL;
    if (curl_url_set(x->url, CURLUPART_URL, url, 0) != CURLUE_OK) return HTTP_CLIENT_EINVAL;
    char *scheme = NULL;
    if (curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme)
        return HTTP_CLIENT_EINVAL;
    int ok = strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
    curl_free(scheme);
    return ok ? 0 : HTTP_CLIENT_EINVAL;
}

static long clamp_long(uint64_t v)
{
    return v > (uint64_t)LONG_MAX ? LONG_MAX : (long)v;
}

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (curl_easy_setopt(x->easy, opt, val) != CURLE_OK) return HTTP_CLIENT_ECURL;             \
    } while (0)

/* Sets every option of x's easy handle. Returns 0 or HTTP_CLIENT_ECURL. */
static int setup_easy(http_client_t *c, xfer_t *x, const http_client_request_t *req,
                      const char *method)
{
    x->easy = curl_easy_init();
    if (!x->easy) return HTTP_CLIENT_ECURL;
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_CURLU, x->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file) SET(CURLOPT_CAINFO, c->ca_file);
    SET(CURLOPT_PROXY, c->proxy ? c->proxy : "");
    SET(CURLOPT_USERAGENT, c->user_agent);
    uint32_t timeout = req->timeout_ms ? req->timeout_ms : c->o.timeout_ms;
    SET(CURLOPT_TIMEOUT_MS, clamp_long(timeout));
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        clamp_long(c->o.connect_timeout_ms < timeout ? c->o.connect_timeout_ms : timeout));
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);

    int head = strcmp(method, "HEAD") == 0;
    int get = strcmp(method, "GET") == 0;
    int post = strcmp(method, "POST") == 0;
    if (!head) {
        curl_off_t cap = c->o.max_body_bytes > (size_t)INT64_MAX ? (curl_off_t)INT64_MAX
                                                                 : (curl_off_t)c->o.max_body_bytes;
        SET(CURLOPT_MAXFILESIZE_LARGE, cap);
    }
    if (head) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (req->body_len > 0 ||
               (!get && strcmp(method, "DELETE") != 0 && strcmp(method, "OPTIONS") != 0)) {
        /* A body (of 0 bytes for POST, PUT, PATCH and the like: Content-Length: 0). */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_COPYPOSTFIELDS, req->body_len ? (const char *)req->body : "");
        if (!post) SET(CURLOPT_CUSTOMREQUEST, method);
    } else if (!get) {
        SET(CURLOPT_CUSTOMREQUEST, method);
    }

    int has_type = 0, has_expect = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        has_type |= header_named(req->headers[i], "Content-Type");
        has_expect |= header_named(req->headers[i], "Expect");
        struct curl_slist *l = curl_slist_append(x->headers, req->headers[i]);
        if (!l) return HTTP_CLIENT_ECURL;
        x->headers = l;
    }
    /* "Name:" removes what libcurl would add: its form Content-Type on a POST, and
     * Expect: 100-continue on a large body (a round trip many receivers mishandle). */
    const char *extra[2] = {has_type ? NULL : "Content-Type:", has_expect ? NULL : "Expect:"};
    for (int i = 0; i < 2; i++) {
        if (!extra[i]) continue;
        struct curl_slist *l = curl_slist_append(x->headers, extra[i]);
        if (!l) return HTTP_CLIENT_ECURL;
        x->headers = l;
    }
    SET(CURLOPT_HTTPHEADER, x->headers);
    return 0;
}

#undef SET

int http_client_request(http_client_t *c, const http_client_request_t *req, http_client_done_cb cb,
                        void *ud, uint64_t *id)
{
    if (!c || !req || !req->url || !cb) return HTTP_CLIENT_EINVAL;
    if (c->closing) return HTTP_CLIENT_ECLOSED;
    const char *method = req->method ? req->method : "GET";
    if (!valid_token(method, strlen(method), MAX_METHOD) || (req->nheaders && !req->headers) ||
        (req->body_len && !req->body) || req->nwant > HTTP_CLIENT_MAX_WANT ||
        (req->nwant && !req->want_headers))
        return HTTP_CLIENT_EINVAL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (!req->headers[i] || !valid_header_line(req->headers[i])) return HTTP_CLIENT_EINVAL;
    for (size_t i = 0; i < req->nwant; i++) {
        const char *w = req->want_headers[i];
        if (!w || !valid_token(w, strlen(w), 256)) return HTTP_CLIENT_EINVAL;
    }
    if (c->st.in_flight >= c->o.max_inflight) {
        c->st.refused++;
        return HTTP_CLIENT_EFULL;
    }

    xfer_t *x = xcalloc(1, sizeof *x);
    x->c = c;
    x->cb = cb;
    x->ud = ud;
    x->body = (sbuf_t)SBUF_INIT;
    int rc = parse_url(x, req->url);
    if (rc == 0) rc = setup_easy(c, x, req, method);
    if (rc == 0) {
        CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
        if (mc != CURLM_OK) {
            set_error(c, "curl_multi_add_handle", curl_multi_strerror(mc));
            rc = HTTP_CLIENT_ECURL;
        }
    }
    if (rc != 0) {
        xfer_free(x);
        return rc;
    }
    x->in_multi = 1;
    for (size_t i = 0; i < req->nwant; i++) x->want[i] = xstrdup(req->want_headers[i]);
    x->nwant = req->nwant;
    x->id = ++c->next_id;
    x->started_ns = uv_hrtime();
    xlist_push(&c->active, x);
    strmap_put(&c->by_id, (const char *)&x->id, sizeof x->id, x);
    c->st.started++;
    c->st.in_flight++;
    if (id) *id = x->id;
    return 0;
}

int http_client_cancel(http_client_t *c, uint64_t id)
{
    if (!c) return HTTP_CLIENT_EINVAL;
    if (c->closing) return HTTP_CLIENT_ECLOSED;
    xfer_t *x = strmap_get(&c->by_id, (const char *)&id, sizeof id);
    if (!x) return HTTP_CLIENT_ENOENT;
    complete(x, "cancelled");
    return 0;
}

void http_client_stats(const http_client_t *c, http_client_stats_t *out)
{
    *out = c->st;
}

const char *http_client_last_error(const http_client_t *c)
{
    return c->last_error;
}

/* ---- life cycle ---- */

#define MSET(opt, val) (curl_multi_setopt(c->multi, opt, val) == CURLM_OK)

http_client_t *http_client_new(uv_loop_t *loop, const http_client_options_t *o)
{
    http_client_options_t def;
    if (!o) {
        http_client_options_init(&def);
        o = &def;
    }
    if (!loop || !o->max_connections || !o->max_host_connections || !o->timeout_ms ||
        !o->connect_timeout_ms || !o->max_body_bytes || !o->max_header_bytes || !o->max_inflight)
        return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    http_client_t *c = xcalloc(1, sizeof *c);
    c->multi = curl_multi_init();
    if (!c->multi || !MSET(CURLMOPT_SOCKETFUNCTION, on_curl_socket) ||
        !MSET(CURLMOPT_SOCKETDATA, c) || !MSET(CURLMOPT_TIMERFUNCTION, on_curl_timer) ||
        !MSET(CURLMOPT_TIMERDATA, c) ||
        !MSET(CURLMOPT_MAX_TOTAL_CONNECTIONS, clamp_long(o->max_connections)) ||
        !MSET(CURLMOPT_MAX_HOST_CONNECTIONS, clamp_long(o->max_host_connections)) ||
        !MSET(CURLMOPT_MAXCONNECTS, clamp_long(o->max_connections))) {
        if (c->multi) curl_multi_cleanup(c->multi);
        free(c);
        curl_global_cleanup();
        return NULL;
    }
    if (uv_timer_init(loop, &c->timer) < 0) {
        curl_multi_cleanup(c->multi);
        free(c);
        curl_global_cleanup();
        return NULL;
    }
    c->timer.data = c;
    c->handles = 1;
    c->loop = loop;
    c->o = *o;
    c->user_agent = xstrdup(o->user_agent ? o->user_agent : "chatcluster/" CHATCLUSTER_VERSION);
    c->ca_file = o->ca_file ? xstrdup(o->ca_file) : NULL;
    c->proxy = o->proxy ? xstrdup(o->proxy) : NULL;
    c->o.user_agent = c->user_agent;
    c->o.ca_file = c->ca_file;
    c->o.proxy = c->proxy;
    c->by_id = (strmap_t)STRMAP_INIT;
    return c;
}

#undef MSET

int http_client_close(http_client_t *c, http_client_closed_cb done, void *ud)
{
    if (!c) return HTTP_CLIENT_EINVAL;
    if (c->closing) return HTTP_CLIENT_ECLOSED;
    c->closing = 1;
    c->done = done;
    c->done_ud = ud;
    /* Finished ones too: their callbacks have not run, and now they never will with a result. */
    xfer_t *x;
    while ((x = c->finished.head) != NULL || (x = c->active.head) != NULL)
        complete(x, "client closed");
    /* Closes the cached connections; curl removes their sockets through on_curl_socket. */
    CURLMcode mc = curl_multi_cleanup(c->multi);
    if (mc != CURLM_OK) set_error(c, "curl_multi_cleanup", curl_multi_strerror(mc));
    c->multi = NULL;
    while (c->socks) sock_close(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    return 0;
}
