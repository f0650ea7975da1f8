/* The HTTP server of adminnode: libmicrohttpd without a thread of its own, driven from the
 * libuv loop (a uv_poll_t on MHD's epoll fd, a uv_timer_t from MHD_get_timeout). It routes,
 * authenticates and checks each request, reads its body and hands it to its handler as an
 * api_request_t (api_request.h), whose answer may come later (the connection is suspended
 * meanwhile). Connections are bounded in number (in all and per client address) and in time
 * (head and body deadlines, http_conn.h); an answer given before the body was read is followed
 * by a lingering close (http_linger.h), so that the client can read it. */
#ifndef CC_HTTP_H
#define CC_HTTP_H

#include "auth.h"
#include "http_router.h"
#include "sbuf.h"

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

#endif
