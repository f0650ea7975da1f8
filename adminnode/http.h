/* The HTTP server of adminnode: libmicrohttpd without a thread of its own, driven from the
 * libuv loop (a uv_poll_t on MHD's epoll fd, a uv_timer_t from MHD_get_timeout), and the
 * request object handlers see: routed, authenticated, its path and query parameters checked,
 * body collected and parsed as JSON, and answered now or later (the connection is suspended
 * meanwhile). Connections are bounded in number (in all and per client address) and in time
 * (head and body deadlines, http_conn.h); an answer given before the body was read is followed
 * by a lingering close (http_linger.h), so that the client can read it. */
#ifndef CC_HTTP_H
#define CC_HTTP_H

#include "auth.h"
#include "http_router.h"
#include "sbuf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server_t;

typedef struct {
    const char *host;                /* an IPv4 or IPv6 address literal */
    int port;                        /* 0: any free port (see http_port) */
    size_t max_body;                 /* larger request bodies are answered 413 */
    uint64_t requests_timeout_ms;    /* a deferred request not answered by then gets 504 */
    unsigned connection_timeout_s;   /* idle connections are closed after this */
    unsigned max_connections;        /* open connections in all (MHD's connection limit) */
    unsigned max_connections_per_ip; /* open connections from one client address */
    const char *per_ip_exempt;       /* addresses without that limit, "a,b" (NULL or "": none) */
    uint64_t header_timeout_ms;      /* a request head must be whole within this of its start */
    uint64_t body_timeout_ms;        /* a request body must be whole within this of its head */
    const api_router_t *router;      /* borrowed; outlives the server */
    const auth_t *auth;              /* borrowed */
    const char *static_dir;          /* files served for GET outside /api/ (NULL or "": none) */
    void *app;                       /* handed to handlers through api_app() */
} http_options_t;

/* Starts listening on loop. Returns 0 and *out, or -1 with a reason in err. */
int http_start(http_server_t **out, uv_loop_t *loop, const http_options_t *o, char *err,
               size_t errlen);

/* The port listened on (the one chosen when the options said 0). */
int http_port(const http_server_t *s);

/* Stops: every deferred request is answered 503 "shutting_down" (so no connection stays
 * suspended; the daemon does not stay to send it), the daemon is stopped (every
 * connection closed) and the handles closed; done (may be NULL) fires from the loop once the
 * server is freed. Requests still referenced by handlers stay valid until released. */
void http_stop(http_server_t *s, void (*done)(void *ud), void *ud);

/* Appends the Prometheus text of the request counters (by method, route and status), the
 * requests in flight and those deferred, the open connections, those cut for a missed
 * deadline and those lingering. */
void http_metrics(const http_server_t *s, sbuf_t *out);

/* ---- the request, as handlers see it ---- */

/* What a handler gets: valid during the handler call, and after it only while the handler
 * holds a reference (api_defer takes one). */
void *api_app(const api_request_t *req);
const char *api_method(const api_request_t *req);
const char *api_path(const api_request_t *req);
const api_route_t *api_route(const api_request_t *req);
/* The percent-decoded value of path parameter name ({name} in the pattern), or NULL. */
const char *api_param(const api_request_t *req, const char *name);
/* The decoded value of query argument name ('+' is a space), or NULL (owned by req). Every
 * query value was checked before the handler ran (see api_param_doc_t). */
const char *api_query(api_request_t *req, const char *name);
/* The parsed JSON body of a route with API_ROUTE_BODY (borrowed; never NULL for such a
 * route), else NULL. */
json_t *api_body(const api_request_t *req);
/* The scope of the key presented (API_SCOPE_NONE when none was needed or given). */
api_scope_t api_caller_scope(const api_request_t *req);

/* Answers with status and body (len bytes, steals a malloc'ed body; NULL for none) of
 * content_type (a static string). The first answer wins: answering a request that is already
 * answered (timed out, shutting down) or whose client is gone only frees body. */
void api_respond(api_request_t *req, int status, const char *content_type, char *body, size_t len);
/* Answers with doc serialised as JSON (steals doc). */
void api_respond_json(api_request_t *req, int status, json_t *doc);
/* Answers {"error":{"code":code,"message":...}} with status. */
void api_respond_error(api_request_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds a response header (both copied) to the answer; call before answering. */
void api_add_header(api_request_t *req, const char *name, const char *value);

/* Called when a deferred request reaches --requests-timeout unanswered; it must answer. */
typedef void (*api_timeout_fn)(api_request_t *req);

/* Makes the answer come later, from outside the handler: the connection is suspended until
 * api_respond*. Takes a reference for the handler, which it releases with api_request_unref
 * after answering (or when giving up). If nobody answers within --requests-timeout,
 * on_timeout answers (NULL: 504 {"error":{"code":"timeout"}}) and a later answer is dropped. */
void api_defer(api_request_t *req, api_timeout_fn on_timeout);
void api_request_ref(api_request_t *req);
void api_request_unref(api_request_t *req);
/* 1 once the request needs no answer any more: answered, or its connection closed. */
int api_request_done(const api_request_t *req);

#endif
