/* The chatnode server: one libwebsockets context on the process's libuv loop serving the
 * Engine.IO endpoint (polling and WebSocket), /healthz, the --static directory, and 404 for
 * anything else. */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include "addr_limit.h"
#include "chatnode_config.h"
#include "client_addr.h"
#include "deadline.h"
#include "eio_packet.h"
#include "hangup.h"
#include "sbuf.h"
#include "strmap.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

typedef struct eio_session eio_session_t;
typedef struct app_module app_module_t;
typedef struct sio_server sio_server_t;

/* Callbacks from the Engine.IO layer to the layer above it (Socket.IO, or an app that works
 * on Engine.IO messages directly). */
typedef struct {
    /* A session completed its handshake; returns the upper layer's state for it. */
    void *(*open)(void *ctx, eio_session_t *s);
    /* A message packet arrived (text or binary); p borrows the request's bytes. */
    void (*message)(void *upper, const eio_packet_t *p);
    /* The session is gone; the upper layer frees its state. Sending is no longer possible. */
    void (*close)(void *upper, const char *reason);
    void *ctx;
    /* Optional: bytes the upper layer holds for the session (counted in the memory budget
     * through server_mem_add), so that the greediest sessions are found. */
    size_t (*held)(void *upper);
} eio_handler_t;

/* What one HTTP connection (wsi) is to us, kept as its lws opaque user data. (A WebSocket's
 * opaque user data is its Engine.IO session instead.) */
typedef enum {
    CONN_NONE = 0,
    CONN_POLL_GET,  /* long-poll GET waiting for packets */
    CONN_POLL_POST, /* POST whose body is being read */
    CONN_REPLY,     /* a plain HTTP reply is waiting to be written */
    CONN_FLUSHING,  /* the reply is written but lws still holds part of it for the client */
    CONN_LINGER,    /* answered before its body was read: discarding the rest, then closing */
} conn_kind_t;

typedef struct conn {
    struct lws *wsi;
    /* In at most one of the server's connection queues: idle_q between requests, body_q while
     * the request's body is read, flush_q while lws writes the reply, linger_q while the
     * connection lingers. */
    deadline_node_t idle;
    eio_session_t *session; /* NULL when detached */
    char *reply;            /* owned; LWS_PRE bytes of headroom before the body */
    const char *content_type;
    sbuf_t *body; /* owned, or NULL: a POST body being read */
    char *origin; /* owned: the Origin header kept when the headers were released, or NULL */
    union {
        uint32_t reply_len;  /* CONN_REPLY, CONN_FLUSHING: replies are far smaller than 4 GiB */
        uint32_t drain_left; /* CONN_LINGER: body bytes still to discard before closing */
    };
    uint16_t status;          /* reply status */
    uint8_t kind;             /* conn_kind_t */
    uint8_t close_after : 1;  /* close the connection after the reply */
    uint8_t body_done : 1;    /* the request's body has ended (lws may report the end again) */
    uint8_t head_only : 1;    /* a HEAD reply: reply_len is announced, no body is sent */
    uint8_t revalidate : 1;   /* cache-control: no-cache (a static file) instead of no-store */
    uint8_t headers_gone : 1; /* the request headers were released (server_release_headers) */
    uint8_t has_body : 1;     /* the request announced a body */
    uint8_t killed : 1;       /* being closed at once (conn_kill): nothing more is read */
    uint8_t held : 1;         /* a GET waiting for packets: not read, watched (server_hold) */
    uint8_t retry_after;      /* seconds for a Retry-After header, or 0 */
} conn_t;

/* Appends to the connection's body buffer (created on first use); its growth counts in the
 * memory budget until the buffer is taken or dropped. */
void conn_body_append(conn_t *c, const void *data, size_t len);
/* Bytes in the body buffer. */
size_t conn_body_len(const conn_t *c);
/* Hands the body buffer over (the caller frees it with sbuf_free and free), or NULL. */
sbuf_t *conn_take_body(conn_t *c);
/* Frees the body buffer, if any. */
void conn_drop_body(conn_t *c);

typedef struct server {
    uv_loop_t *loop;
    const chatnode_config_t *cfg;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    int port;
    char tag[32];
    strmap_t sessions; /* sid -> eio_session_t */
    deadline_queue_t ping_q, pong_q, upgrade_q, close_q, kill_q;
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
     * loop turn (mem_timer; see mem_budget.h). */
    size_t mem_queued, mem_peak;
    uv_timer_t mem_timer;
    int mem_trim;                /* mem_timer's next run returns freed memory to the system */
    uint64_t mem_dropped;        /* sessions and connections dropped for the budget */
    hangup_t hangup;             /* held GETs whose client may close them (server_hold) */
    uint64_t handshakes_refused; /* by the per-address limits */
    int kill_wake;               /* lws was asked to run its timers (server_kill) */
    eio_handler_t handler;
    /* Optional: appends ,"name":value members to the /healthz JSON object. */
    void (*health)(void *ctx, sbuf_t *json);
    void *health_ctx;
    uint64_t started_ms;       /* loop time at start */
    uint64_t started_epoch_ms; /* wall clock at start */
    int stopping;
    uint64_t sessions_opened;
    uint64_t bytes_in, bytes_out;   /* Engine.IO payload bytes, all transports */
    uint64_t events_in, events_out; /* Socket.IO packets received from and sent to clients */
    int draining;                   /* refusing new sessions (see control.c) */
} server_t;

/* idle_q's expiry: closes the connection. */
void server_idle_expired(deadline_queue_t *q, deadline_node_t *node);

/* The node-wide count of bytes held for clients: n more, or n fewer. Nearing
 * --max-memory-queued drops the greediest holders on the next loop turn (never in the middle
 * of the caller's work, such as a walk over a room). */
void server_mem_add(server_t *srv, size_t n);
void server_mem_sub(server_t *srv, size_t n);

/* The GET on wsi waits for packets to send: its connection is not read until the answer
 * (server_reply) and a client closing it is noticed at once, which ends the connection and so
 * its session. See hangup.h. */
void server_hold(struct lws *wsi, conn_t *c);

/* Closes wsi on the next loop turn, dropping what lws still holds to write on it. (lws runs
 * the timeout that does it only when woken, which this does too.) */
void server_kill(struct lws *wsi);

/* Creates the lws context on loop and starts listening. Returns 0, or -1 (logged). */
int server_start(server_t *srv, uv_loop_t *loop, const chatnode_config_t *cfg,
                 const eio_handler_t *handler);
/* Closes every session and starts closing the lws context. The caller then runs the loop
 * until it is empty, and calls server_finish(). */
void server_stop(server_t *srv);
/* Completes the lws context's destruction once the loop has stopped. */
void server_finish(server_t *srv);

/* Prepares an HTTP reply on wsi (written when lws says it is writable). body is copied;
 * content_type NULL means text/plain; charset=UTF-8. */
void server_reply(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                  const char *body, size_t len);
/* The same reply to a HEAD request: headers only, with len as its Content-Length. */
void server_reply_head(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                       size_t len);
/* Releases the request's header storage (lws keeps ~5 KB per request until it is answered)
 * for a reply that may wait long, such as a held long-poll GET; what the reply needs of the
 * headers (Origin) is kept in c. */
void server_release_headers(struct lws *wsi, conn_t *c);
/* An Engine.IO error reply: 400 with Node's JSON body {"code":..,"message":..}. */
void server_reply_eio_error(struct lws *wsi, conn_t *c, int code);
/* The client address of the request on wsi: the TCP peer, or, when the peer is one of
 * --trusted-proxies, the client its X-Forwarded-For names (see client_addr.h). Needs the
 * request headers. */
void server_client_addr(server_t *srv, struct lws *wsi, client_addr_t *out);

#endif
