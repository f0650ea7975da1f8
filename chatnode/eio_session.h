/* Engine.IO v4 sessions, and v3 ones with --allow-eio3: handshake, the polling and WebSocket
 * transports, the upgrade from one to the other, heartbeat, and the outgoing packet queue,
 * all owned by one Engine.IO server object. The lws glue in server.c calls the eio_on_* entry
 * points; the layer above gets each session's packets through its eio_handler_t and sends with
 * eio_send() and eio_close(). Below, this layer answers HTTP requests through conn.h. */
#ifndef CC_EIO_SESSION_H
#define CC_EIO_SESSION_H

#include "addr_limit.h"
#include "chatnode_config.h"
#include "client_addr.h"
#include "conn.h"
#include "eio_packet.h"
#include "frame.h"
#include "mem_budget.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

typedef struct eio_session eio_session_t;
typedef struct eio_server eio_server_t;

/* Callbacks from the Engine.IO layer to the layer above it (Socket.IO, or an app that works
 * on Engine.IO messages directly). */
typedef struct {
    /* A session completed its handshake; returns the upper layer's state for it. */
    void *(*open)(void *ctx, eio_session_t *s);
    /* Optional: open returned and its state is set; the upper layer may send and close now. */
    void (*opened)(void *upper);
    /* A message packet arrived (text or binary); p borrows the request's bytes. */
    void (*message)(void *upper, const eio_packet_t *p);
    /* The session is gone; the upper layer frees its state. Sending is no longer possible. */
    void (*close)(void *upper, const char *reason);
    void *ctx;
    /* Optional: bytes the upper layer holds for the session (counted in the memory budget
     * itself), so that the greediest sessions are found. */
    size_t (*held)(void *upper);
} eio_handler_t;

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

/* Why a request or an upgrade was refused, as /metrics counts them: the Engine.IO error codes
 * first (same numbers), then the node's own reasons. */
typedef enum {
    EIO_REFUSE_TRANSPORT_UNKNOWN = EIO_ERR_TRANSPORT_UNKNOWN,
    EIO_REFUSE_UNKNOWN_SID = EIO_ERR_UNKNOWN_SID,
    EIO_REFUSE_BAD_HANDSHAKE_METHOD = EIO_ERR_BAD_HANDSHAKE_METHOD,
    EIO_REFUSE_BAD_REQUEST = EIO_ERR_BAD_REQUEST,
    EIO_REFUSE_ORIGIN = EIO_ERR_FORBIDDEN,
    EIO_REFUSE_PROTOCOL_VERSION = EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION,
    EIO_REFUSE_SESSIONS_PER_IP,   /* --max-sessions-per-ip */
    EIO_REFUSE_HANDSHAKE_RATE,    /* --handshake-rate */
    EIO_REFUSE_DRAINING,          /* draining or stopping: no new sessions */
    EIO_REFUSE_PAYLOAD_TOO_LARGE, /* a polling body over --max-payload */
    EIO_REFUSE_COUNT
} eio_refuse_t;
/* Its label: "transport_unknown", "unknown_sid", ..., "payload_too_large". */
const char *eio_refuse_name(eio_refuse_t why);

typedef enum { EIO_TR_POLLING = 0, EIO_TR_WEBSOCKET = 1 } eio_transport_t;

/* Engine.IO query parameters of a request. */
typedef struct {
    int eio_ok;        /* EIO=4, or EIO=3 with --allow-eio3 */
    int has_transport; /* transport given */
    eio_transport_t transport;
    int transport_ok;
    uint8_t v3;    /* EIO=3 */
    uint8_t b64;   /* b64 given: the client takes binary as base64 text */
    uint8_t jsonp; /* j given: JSONP polling */
    char sid[64];  /* empty when absent */
} eio_query_t;

/* ---- the Engine.IO server: its sessions, their deadlines and its counters ---- */

/* Creates the server on loop, with no session and its deadline queues started. handler is
 * copied; mem (the node's memory budget, where sessions count what they hold) and limits (the
 * per-address session counts) are borrowed and must outlive it. Never fails. */
eio_server_t *eio_server_new(uv_loop_t *loop, const chatnode_config_t *cfg,
                             const eio_handler_t *handler, mem_budget_t *mem, addr_limit_t *limits);
/* The handshake request headers every new session keeps (names copied, compared without
 * case; at most EIO_KEEP_HEADERS_MAX): what eio_session_headers gives the layers above. A
 * value that is not UTF-8 or is longer than EIO_HEADER_VALUE_MAX bytes is not kept. */
#define EIO_KEEP_HEADERS_MAX 32
#define EIO_HEADER_VALUE_MAX 2048
void eio_server_keep_headers(eio_server_t *es, const char *const *names, size_t n);
/* Sets the node tag that starts every session id from now on (copied, up to 31 bytes). */
void eio_server_set_tag(eio_server_t *es, const char *tag);
/* Closes every session (reason "server shutting down") and the queues (the loop finishes
 * closing them). The object stays readable, with no session, until eio_server_free. Once is
 * enough: a second call does nothing. */
void eio_server_close(eio_server_t *es);
/* Frees the object after eio_server_close, once the loop has run. NULL is a no-op. */
void eio_server_free(eio_server_t *es);

/* Refusing new sessions (on) or not: the transport asks before a handshake. See drain.h. */
void eio_server_set_draining(eio_server_t *es, int on);
int eio_server_draining(const eio_server_t *es);
/* Sessions in the map, closing ones included. */
size_t eio_server_session_count(const eio_server_t *es);
/* Sessions opened since the start. */
uint64_t eio_server_sessions_opened(const eio_server_t *es);
/* Engine.IO payload bytes received from and sent to clients, all transports. */
uint64_t eio_server_bytes_in(const eio_server_t *es);
uint64_t eio_server_bytes_out(const eio_server_t *es);
/* WebSocket frames sent since start, and the writes that sent them (a write carries all the
 * frames one loop turn queued for one client). */
void eio_server_ws_out(const eio_server_t *es, uint64_t *frames, uint64_t *writes);
/* Walks the sessions: *iter starts at 0; returns 1 with *out set, or 0 at the end. The walk
 * must not close sessions (eio_drop is fine). */
int eio_server_next(const eio_server_t *es, size_t *iter, eio_session_t **out);

/* An Engine.IO error reply on c: 400 (403 for EIO_ERR_FORBIDDEN) with Node's JSON body
 * {"code":..,"message":..}, counted as a refusal of es. */
void eio_reply_error(eio_server_t *es, struct lws *wsi, conn_t *c, int code);
/* Counts a refusal the caller answers itself; and the count so far for why. */
void eio_server_refused(eio_server_t *es, eio_refuse_t why);
uint64_t eio_server_refusals(const eio_server_t *es, eio_refuse_t why);

/* Polling GET/POST on the Engine.IO path (query already parsed and EIO/transport checked). A
 * GET without sid is a handshake, already admitted by the per-address limits: addr is its
 * client's address (NULL for a GET with a sid). */
void eio_on_poll_get(eio_server_t *es, struct lws *wsi, conn_t *c, const eio_query_t *q,
                     const client_addr_t *addr);
void eio_on_poll_post(eio_server_t *es, struct lws *wsi, conn_t *c, const eio_query_t *q,
                      long long content_length);
/* A chunk of a POST body, and its end. Return -1 when lws should close the connection. */
int eio_on_post_body(struct lws *wsi, conn_t *c, const void *in, size_t len);
int eio_on_post_done(struct lws *wsi, conn_t *c);
/* An HTTP connection of ours went away (cancelled GET, aborted POST). */
void eio_on_http_closed(struct lws *wsi, conn_t *c);

/* WebSocket: should this upgrade be accepted? Returns 0 yes, or -1 with an EIO_ERR_* code in
 * *err (bad query, unknown sid). An upgrade for a session that already has a WebSocket is
 * accepted here and closed once established, as the reference server does. */
int eio_ws_filter(const eio_server_t *es, const eio_query_t *q, int *err);
/* WebSocket established, data received (a frame or a piece of one: messages are reassembled
 * up to --max-payload), writable, closed. Return -1 to have lws close wsi. A WebSocket's
 * lws opaque user data is its session (NULL once detached). */
int eio_on_ws_open(eio_server_t *es, struct lws *wsi, const eio_query_t *q,
                   const client_addr_t *addr);
int eio_on_ws_receive(struct lws *wsi, const void *in, size_t len);
int eio_on_ws_writable(struct lws *wsi);
void eio_on_ws_closed(struct lws *wsi);

/* Queues a packet for the session (adds a reference to f). Ignored once the session is
 * closing. */
void eio_send(eio_session_t *s, frame_t *f);
/* One packet was just sent to n clients (a broadcast): a turn's writes wait a little for the
 * rest of its sender's burst when n is large. */
void eio_server_fanout(eio_server_t *es, size_t n);
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
/* The kept handshake headers as a JSON object's text ({"name": "value"}, names lowercased),
 * borrowed while the session lives; NULL when none are kept. */
const char *eio_session_headers(const eio_session_t *s);
/* Bytes the node holds for the session (its queue at frame_cost, a message or POST body
 * being received, what the layer above holds); 0 once it is closed or dropped. */
size_t eio_session_held(const eio_session_t *s);
/* Drops the session for the memory budget: what it holds goes at once, the session itself on
 * the next loop turn (the layer above is told then), with its WebSocket closed at once. Safe
 * anywhere, a walk over a room included. */
void eio_drop(eio_session_t *s, const char *reason);
eio_transport_t eio_session_transport(const eio_session_t *s);
/* The session's Engine.IO protocol: 4, or 3 (a client of Socket.IO protocol v4). */
int eio_session_protocol(const eio_session_t *s);
/* A v3 session's handshake query (without the Engine.IO parameters) as a JSON object of
 * strings, borrowed while the session lives; NULL for a v4 session. */
const char *eio_session_query(const eio_session_t *s);
/* Closes up to max open sessions from the server side (a transport close: clients reconnect,
 * elsewhere when this node refuses new sessions). Returns how many. */
size_t eio_close_some(eio_server_t *es, size_t max, const char *reason);
/* Number of sessions still open (not closing). */
size_t eio_count_open(const eio_server_t *es);
/* Number of open sessions by transport. */
void eio_count(const eio_server_t *es, size_t *polling, size_t *websocket);

#endif
