/* The chatnode server's transport: one libwebsockets context on the process's libuv loop
 * serving the Engine.IO endpoint (polling and WebSocket), /healthz, /metrics, the --static
 * directory, and 404 for anything else. It owns the connections, their deadlines, the memory budget
 * and the per-address limits, and hands Engine.IO requests to the Engine.IO server it creates
 * (eio_session.h). */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include "addr_limit.h"
#include "chatnode_config.h"
#include "client_addr.h"
#include "conn.h"
#include "deadline.h"
#include "eio_session.h"
#include "mem_budget.h"
#include "sbuf.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

/* The server. Its fields are server.c's to write; loop, cfg, port and tag may be read. */
typedef struct server {
    /* What the connections share: the lws context's user data (so it comes first). */
    conn_shared_t conns;
    uv_loop_t *loop;
    const chatnode_config_t *cfg;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    int port;
    char tag[32];
    eio_server_t *eio; /* owned, once started */
    /* Keep-alive connections between requests. libwebsockets would time them out through its
     * sorted timeout list, whose insertion walks every entry: answering N polling clients at
     * once (a broadcast, a heartbeat round) then costs O(N^2). Equal delays make a FIFO. */
    deadline_queue_t idle_q;
    /* Connections reading a request body (a deadline for the whole body, --body-timeout),
     * lingering after an early answer, and holding a reply the client does not take. */
    deadline_queue_t body_q, linger_q, flush_q;
    client_cidrs_t trusted; /* --trusted-proxies */
    addr_limit_t limits;    /* --max-sessions-per-ip, --handshake-rate, --handshake-burst */
    /* Bytes clients make the node hold (queued output, messages and bodies being received,
     * replies being written): near --max-memory-queued the greediest are dropped on the next
     * loop turn (see mem_budget.h). */
    mem_budget_t mem;
    /* Optional: appends ,"name":value members to the /healthz JSON object. */
    void (*health)(void *ctx, sbuf_t *json);
    void *health_ctx;
    /* Optional: writes the /metrics page (404 without it). */
    void (*metrics)(void *ctx, sbuf_t *text);
    void *metrics_ctx;
    char **keep_headers; /* handshake headers sessions keep (server_keep_headers) */
    size_t nkeep_headers;
    uint64_t started_ms;       /* loop time at start */
    uint64_t started_epoch_ms; /* wall clock at start */
    int stopping;
} server_t;

/* Prepares srv for loop and cfg (nothing to close yet), so that the layers above can be set
 * up before it starts. */
void server_init(server_t *srv, uv_loop_t *loop, const chatnode_config_t *cfg);
/* Creates the Engine.IO server with handler and the lws context, and starts listening.
 * Returns 0, or -1 (logged; what was set up is closed, and server_finish frees the rest). */
int server_start(server_t *srv, const eio_handler_t *handler);
/* Closes every session and starts closing the lws context. The caller then runs the loop
 * until it is empty, and calls server_finish(). */
void server_stop(server_t *srv);
/* Completes the lws context's destruction and frees the Engine.IO server once the loop has
 * stopped (after server_stop, or a server_start that failed). */
void server_finish(server_t *srv);

/* The Engine.IO server (its sessions and counters), once started; NULL before. */
eio_server_t *server_eio(const server_t *srv);
/* Sets the /healthz extension: health(ctx, json) appends ,"name":value members. */
void server_set_health(server_t *srv, void (*health)(void *ctx, sbuf_t *json), void *ctx);

/* Sets the GET /metrics page: metrics(ctx, text) writes it (Prometheus' text format). */
void server_set_metrics(server_t *srv, void (*metrics)(void *ctx, sbuf_t *text), void *ctx);

/* Before server_start: every new session keeps these headers of its handshake request
 * (names copied; see eio_server_keep_headers), for the app (sio_socket_headers). */
void server_keep_headers(server_t *srv, const char *const *names, size_t n);

/* The node-wide count of bytes held for clients: n more, or n fewer. Nearing
 * --max-memory-queued drops the greediest holders on the next loop turn (never in the middle
 * of the caller's work, such as a walk over a room). */
void server_mem_add(server_t *srv, size_t n);
void server_mem_sub(server_t *srv, size_t n);

#endif
