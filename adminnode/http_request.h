/* Between the HTTP server (http.c) and the request object (api_request.c), and private to
 * those two: the request's fields, how the server makes one, and what answering or deferring
 * it asks of the server (MHD's suspended connections, the queue of deferred requests). */
#ifndef CC_HTTP_REQUEST_H
#define CC_HTTP_REQUEST_H

#include "api_request.h"
#include "deadline.h"
#include "http.h"
#include "http_conn.h"
#include "sbuf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct route_stats; /* http.c's counters of a route */

#define API_REQUEST_MAX_HEADERS 4 /* response headers kept; more are dropped */

typedef enum {
    API_REQ_BODY = 0, /* collecting the body */
    API_REQ_HANDLER,  /* handler running or deferred */
    API_REQ_ANSWERED, /* answer stored, not yet queued */
    API_REQ_QUEUED    /* handed to MHD */
} api_request_state_t;

/* What a request asks of the server that made it, so that the request object calls the
 * server only through this table (the server calls the request object, not the reverse). */
typedef struct {
    void *app; /* handed to handlers through api_app() */
    /* Puts r in the server's queue of deferred requests with on_timeout (NULL: the 504
     * answer), unless it is there already. */
    void (*defer)(api_request_t *r, api_timeout_fn on_timeout);
    /* r's answer is stored: out of the deferred queue, and its connection resumed when it
     * was suspended, so that MHD calls the access handler again, which queues the answer. */
    void (*answered)(api_request_t *r);
} api_request_host_t;

struct api_request {
    const api_request_host_t *host;
    http_server_t *srv;          /* http.c's */
    struct MHD_Connection *conn; /* NULL once MHD completed the request */
    int refs;
    api_request_state_t state;
    const char *method; /* MHD's, valid while conn */
    char *path;         /* owned */
    route_match_t match;
    struct route_stats *stats;
    api_scope_t scope;
    sbuf_t body;
    size_t body_seen; /* bytes received, kept or not */
    int too_large;
    json_t *json;
    char **args;     /* owned: the decoded query, name and value in turn */
    size_t nargs;    /* pairs */
    http_conn_t *cx; /* its connection, until MHD completes the request */
    /* the answer (api_request.c stores it, http.c queues it) */
    int status;
    const char *ctype;
    char *resp;
    size_t resp_len;
    char *hname[API_REQUEST_MAX_HEADERS], *hvalue[API_REQUEST_MAX_HEADERS];
    size_t nheaders;
    /* deferral (http.c) */
    int suspended;
    int in_list;
    api_timeout_fn on_timeout;
    deadline_node_t deadline; /* in the server's queue of deferred requests */
    uint64_t started;
};

/* ---- api_request.c, for http.c ---- */

/* A request made by the server behind host (borrowed; it outlives the request) on conn, for
 * the access handler's first call; method is borrowed (MHD's), url copied. Holds one
 * reference, MHD's, released on completion. */
api_request_t *api_request_new(const api_request_host_t *host, struct MHD_Connection *conn,
                               const char *method, const char *url);

#endif
