/* The chatnode server: one libwebsockets context on the process's libuv loop serving the
 * Engine.IO endpoint (polling and WebSocket), /healthz, the --static directory, and 404 for
 * anything else. */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include "chatnode_config.h"
#include "deadline.h"
#include "eio_packet.h"
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
} eio_handler_t;

/* What one HTTP connection (wsi) is to us, kept as its lws opaque user data. (A WebSocket's
 * opaque user data is its Engine.IO session instead.) */
typedef enum {
    CONN_NONE = 0,
    CONN_POLL_GET,  /* long-poll GET waiting for packets */
    CONN_POLL_POST, /* POST whose body is being read */
    CONN_REPLY,     /* a plain HTTP reply is waiting to be written */
} conn_kind_t;

typedef struct conn {
    struct lws *wsi;
    dl_node_t idle;         /* in the server's idle_q between keep-alive requests */
    eio_session_t *session; /* NULL when detached */
    char *reply;            /* owned; LWS_PRE bytes of headroom before the body */
    const char *content_type;
    sbuf_t *body;         /* owned, or NULL: a POST body being read */
    uint32_t reply_len;   /* replies are far smaller than 4 GiB */
    uint16_t status;      /* reply status */
    uint8_t kind;         /* conn_kind_t */
    uint8_t close_after;  /* close the connection after the reply */
    uint8_t body_done;    /* the request's body has ended (lws may report the end again) */
    uint8_t head_only;    /* a HEAD reply: reply_len is announced, no body is sent */
    uint8_t revalidate;   /* cache-control: no-cache (a static file) instead of no-store */
    uint8_t headers_gone; /* the request headers were released (server_release_headers) */
    char *origin;         /* owned: the Origin header kept when they were, or NULL */
} conn_t;

/* The connection's body buffer, created on first use. */
sbuf_t *conn_body(conn_t *c);
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
    dl_queue_t ping_q, pong_q, upgrade_q, close_q, kill_q;
    /* Keep-alive connections between requests. libwebsockets would time them out through its
     * sorted timeout list, whose insertion walks every entry: answering N polling clients at
     * once (a broadcast, a heartbeat round) then costs O(N^2). Equal delays make a FIFO. */
    dl_queue_t idle_q;
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
void server_idle_expired(dl_queue_t *q, dl_node_t *node);

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

#endif
