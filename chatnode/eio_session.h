/* Engine.IO v4 sessions: handshake, the polling and WebSocket transports, the upgrade from
 * one to the other, heartbeat, and the outgoing packet queue. The lws glue in server.c calls
 * the eio_on_* entry points; the layer above sends with eio_send() and eio_close(). */
#ifndef CC_EIO_SESSION_H
#define CC_EIO_SESSION_H

#include "frame.h"
#include "server.h"

#include <libwebsockets.h>

/* Node's Engine.IO error codes, sent as {"code":N,"message":"..."} with HTTP 400. */
enum {
    EIO_ERR_TRANSPORT_UNKNOWN = 0,
    EIO_ERR_UNKNOWN_SID = 1,
    EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    EIO_ERR_BAD_REQUEST = 3,
    EIO_ERR_FORBIDDEN = 4,
    EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5,
};
const char *eio_error_message(int code);

typedef enum { EIO_TR_POLLING = 0, EIO_TR_WEBSOCKET = 1 } eio_transport_t;

/* Engine.IO query parameters of a request. */
typedef struct {
    int eio_ok;        /* EIO=4 */
    int has_transport; /* transport given */
    eio_transport_t transport;
    int transport_ok;
    char sid[64]; /* empty when absent */
} eio_query_t;

/* Sets up the server's deadline queues and shared frames; returns 0 or a libuv error. */
int eio_init(server_t *srv);
/* Closes every session (reason "server shutting down") and the queues. */
void eio_shutdown(server_t *srv);

/* Polling GET/POST on the Engine.IO path (query already parsed and EIO/transport checked). A
 * GET without sid is a handshake, already admitted by the per-address limits: addr is its
 * client's address (NULL for a GET with a sid). */
void eio_on_poll_get(server_t *srv, struct lws *wsi, conn_t *c, const eio_query_t *q,
                     const client_addr_t *addr);
void eio_on_poll_post(server_t *srv, struct lws *wsi, conn_t *c, const eio_query_t *q,
                      long long content_length);
/* A chunk of a POST body, and its end. Return -1 when lws should close the connection. */
int eio_on_post_body(struct lws *wsi, conn_t *c, const void *in, size_t len);
int eio_on_post_done(struct lws *wsi, conn_t *c);
/* An HTTP connection of ours went away (cancelled GET, aborted POST). */
void eio_on_http_closed(struct lws *wsi, conn_t *c);

/* WebSocket: should this upgrade be accepted? Returns 0 yes, or -1 with an EIO_ERR_* code in
 * *err (bad query, unknown sid). An upgrade for a session that already has a WebSocket is
 * accepted here and closed once established, as the reference server does. */
int eio_ws_filter(server_t *srv, const eio_query_t *q, int *err);
/* WebSocket established, data received (a frame or a piece of one: messages are reassembled
 * up to --max-payload), writable, closed. Return -1 to have lws close wsi. A WebSocket's
 * lws opaque user data is its session (NULL once detached). */
int eio_on_ws_open(server_t *srv, struct lws *wsi, const eio_query_t *q, const client_addr_t *addr);
int eio_on_ws_receive(struct lws *wsi, const void *in, size_t len);
int eio_on_ws_writable(struct lws *wsi);
void eio_on_ws_closed(struct lws *wsi);

/* Queues a packet for the session (adds a reference to f). Ignored once the session is
 * closing. */
void eio_send(eio_session_t *s, frame_t *f);
/* Can the session take a packet right now without queueing it (a WebSocket with nothing
 * queued, or a waiting long-poll GET)? Volatile packets go only to ready sessions. */
int eio_ready(const eio_session_t *s);
/* Closes the session from the server side: queued packets are delivered first, then a
 * polling client gets a close packet and a WebSocket is closed. The upper layer's close
 * callback runs before this returns. */
void eio_close(eio_session_t *s, const char *reason);

const char *eio_session_id(const eio_session_t *s);
/* When the session's handshake was made, in ms since the epoch (to the second). */
uint64_t eio_session_issued_ms(const eio_session_t *s);
/* The client's address (from its handshake, X-Forwarded-For of a trusted proxy included) as
 * text in buf; returns buf. */
const char *eio_session_address(const eio_session_t *s, char *buf, size_t len);
/* Bytes the node holds for the session (its queue at frame_cost, a message or POST body
 * being received, what the layer above holds); 0 once it is closed or dropped. */
size_t eio_session_held(const eio_session_t *s);
/* Drops the session for the memory budget: what it holds goes at once, the session itself on
 * the next loop turn (the layer above is told then), with its WebSocket closed at once. Safe
 * anywhere, a walk over a room included. */
void eio_drop(eio_session_t *s, const char *reason);
eio_transport_t eio_session_transport(const eio_session_t *s);
/* Closes up to max open sessions from the server side (a transport close: clients reconnect,
 * elsewhere when this node refuses new sessions). Returns how many. */
size_t eio_close_some(server_t *srv, size_t max, const char *reason);
/* Number of sessions still open (not closing). */
size_t eio_count_open(const server_t *srv);
/* Number of open sessions by transport. */
void eio_count(const server_t *srv, size_t *polling, size_t *websocket);

#endif
