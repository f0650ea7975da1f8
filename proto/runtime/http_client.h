/* Outgoing HTTP requests (webhooks, auth and publish hooks) on the process's libuv loop:
 * libcurl's multi interface, its sockets watched by uv_poll handles and its timeouts by one
 * uv_timer, so no thread of ours runs it. One client keeps one connection cache, so requests
 * to the same server reuse kept-alive connections.
 *
 * Every request is bounded: a whole-transfer timeout, a cap on the response head and body, no
 * redirects followed, http:// and https:// only, TLS peers verified, no proxy from the
 * environment, no compressed bodies asked for. */
#ifndef CC_HTTP_CLIENT_H
#define CC_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Error codes: 0 is success, these are negative. */
#define HTTP_CLIENT_EINVAL    (-1) /* bad argument: URL, scheme, method, header line */
#define HTTP_CLIENT_ECLOSED   (-2) /* http_client_close was called */
#define HTTP_CLIENT_EFULL     (-3) /* max_inflight requests are already waiting for answers */
#define HTTP_CLIENT_ENOENT    (-4) /* http_client_cancel: no such request in flight */
#define HTTP_CLIENT_ECANCELED (-5) /* cancelled by http_client_cancel or http_client_close */
#define HTTP_CLIENT_ETIMEDOUT (-6) /* the whole transfer or its connect took too long */
#define HTTP_CLIENT_ERESOLVE  (-7) /* the host name did not resolve */
#define HTTP_CLIENT_ECONNECT                                                                       \
    (-8)                      /* the TCP connection could not be made (refused, unreachable)       \
                               */
#define HTTP_CLIENT_ETLS (-9) /* TLS failed: handshake, or the peer's certificate or name */
#define HTTP_CLIENT_ERESPONSE                                                                      \
    (-10) /* no valid response: the connection closed or broke, or the answer was not HTTP */
#define HTTP_CLIENT_ETOOLARGE (-11) /* the response head or body is over its cap */
#define HTTP_CLIENT_ECURL     (-12) /* any other libcurl failure (the message says which) */

/* A static description of an HTTP_CLIENT_E* code (or "unknown error"). */
const char *http_client_strerror(int err);

typedef struct http_client http_client_t;

typedef struct {
    unsigned max_connections;      /* open at once, in total (64); requests past it wait */
    unsigned max_host_connections; /* open at once to one host:port (8) */
    uint32_t timeout_ms;           /* a request's whole transfer, when it names none (10000) */
    uint32_t connect_timeout_ms;   /* TCP and TLS connect, within the request's (5000) */
    size_t max_body_bytes;         /* response body kept; past it ETOOLARGE (1 MiB) */
    size_t max_header_bytes;       /* response head (status line and headers) (64 KiB) */
    size_t max_inflight;           /* requests accepted and not yet answered (10000) */
    const char *user_agent;        /* "chatcluster/<version>"; copied */
    const char *ca_file; /* PEM bundle the servers' certificates are verified against; NULL:
                            the system's store. Copied */
    const char *proxy;   /* proxy URL for every request; NULL: none (the environment's
                            http_proxy and the like are ignored). Copied */
} http_client_options_t;

/* Fills *o with the defaults above. */
void http_client_options_init(http_client_options_t *o);

#define HTTP_CLIENT_MAX_WANT 8 /* response headers one request may ask for */

typedef struct {
    const char *method; /* an HTTP token ("GET", "POST", ...); NULL: "GET". Copied */
    const char *url;    /* http:// or https://; copied */
    /* Request headers, each "Name: value" (no CR or LF; copied). A Content-Type the caller
     * does not give is not sent (libcurl's form type is removed), nor is Expect. */
    const char *const *headers;
    size_t nheaders;
    const void *body; /* sent with Content-Length (copied); NULL with body_len 0: none */
    size_t body_len;
    uint32_t timeout_ms; /* the whole transfer, queueing for a connection included; 0: the
                            client's timeout_ms */
    /* Response headers handed back in the result's headers[], by name, case-insensitive (the
     * names are copied; at most HTTP_CLIENT_MAX_WANT). */
    const char *const *want_headers;
    size_t nwant;
} http_client_request_t;

/* What a request came to. Every pointer is borrowed for the duration of the callback. With an
 * error, what came before it is there (a status, headers, the body up to its cap); a
 * cancelled request reports only err, error and elapsed_us. */
typedef struct {
    int err;           /* 0: a response came (whatever its status); else HTTP_CLIENT_E* */
    const char *error; /* "" when err is 0; else one line saying what failed */
    /* The HTTP status code; 0 when no response head came (it may be set with an error: a body
     * over the cap, a connection broken mid-body). */
    long status;
    const char *content_type; /* the Content-Type header, or NULL */
    int64_t retry_after_s;    /* Retry-After in seconds (a date counted from now), or -1 */
    /* The values of the request's want_headers, in order; NULL for each one absent (the last
     * one when it is repeated). */
    const char *const *headers;
    const char *body; /* NUL-terminated (the NUL not counted); "" when none */
    size_t body_len;
    uint64_t elapsed_us; /* from http_client_request to this callback */
} http_client_result_t;

/* A request's result: exactly once per request that http_client_request accepted. */
typedef void (*http_client_done_cb)(void *ud, const http_client_result_t *r);
/* http_client_close finished: every handle is closed and the client is freed. */
typedef void (*http_client_closed_cb)(void *ud);

/* Creates a client on loop; o may be NULL for the defaults. Returns NULL only on bad options
 * (a limit of 0) or when libcurl cannot start. The caller frees it through
 * http_client_close. */
http_client_t *http_client_new(uv_loop_t *loop, const http_client_options_t *o);

/* Starts a request (everything in req is copied). Returns 0, and cb fires exactly once later
 * from the loop (or from http_client_cancel or http_client_close), never from inside this
 * call; *id (id may be NULL) is the request's id for http_client_cancel, never 0. Or
 * returns HTTP_CLIENT_EINVAL, HTTP_CLIENT_ECLOSED, HTTP_CLIENT_EFULL or HTTP_CLIENT_ECURL, and
 * cb never fires. cb may start, cancel or close anything, this client included. */
int http_client_request(http_client_t *c, const http_client_request_t *req, http_client_done_cb cb,
                        void *ud, uint64_t *id);

/* Stops request id: its callback fires with HTTP_CLIENT_ECANCELED before this returns (its
 * connection is closed when a transfer was under way on it). Returns 0, HTTP_CLIENT_ENOENT
 * (no such request, or its callback already fired) or HTTP_CLIENT_ECLOSED. */
int http_client_cancel(http_client_t *c, uint64_t id);

typedef struct {
    uint64_t started;   /* requests accepted */
    uint64_t ok;        /* answered with a response, whatever its status */
    uint64_t failed;    /* ended with an error other than a cancellation */
    uint64_t timed_out; /* of those, HTTP_CLIENT_ETIMEDOUT */
    uint64_t cancelled; /* ended by http_client_cancel or http_client_close */
    uint64_t refused;   /* http_client_request returned HTTP_CLIENT_EFULL */
    uint64_t in_flight; /* accepted, not yet called back: started - ok - failed - cancelled */
    uint64_t connects;  /* connections opened (a reused connection is not counted) */
} http_client_stats_t;

/* A copy of the counters. */
void http_client_stats(const http_client_t *c, http_client_stats_t *out);

/* The last failure of libcurl or libuv outside any one request (a socket it could not
 * watch, for one), "" if none. Such a request still ends, at the latest by its timeout. */
const char *http_client_last_error(const http_client_t *c);

/* Cancels every request in flight (each callback fires once with HTTP_CLIENT_ECANCELED before
 * this returns), closes every connection, then frees the client from the loop once its
 * handles are closed and calls done (may be NULL). Safe from inside any of its callbacks.
 * Returns 0, or HTTP_CLIENT_EINVAL (c is NULL) or HTTP_CLIENT_ECLOSED (already closing), and
 * done never fires. */
int http_client_close(http_client_t *c, http_client_closed_cb done, void *ud);

#endif
