/* Socket.IO v5 server layer: namespaces, sockets, the packet dispatch to the app module,
 * acks both ways, binary packets, rooms and broadcasts. Sits on Engine.IO sessions through
 * the eio_handler_t it provides. */
#ifndef CC_SIO_H
#define CC_SIO_H

#include "app.h"
#include "prom_text.h"
#include "server.h"

typedef struct {
    const char *ptr;
    size_t len;
} str_t;

/* Creates the Socket.IO layer for app (state from app->init). Never fails. */
sio_server_t *sio_server_new(server_t *srv, const app_module_t *app, void *app_state);
/* The Engine.IO callbacks to install in the server. */
eio_handler_t sio_server_handler(sio_server_t *sio);
/* Frees what is left (sessions must be closed first). */
void sio_server_free(sio_server_t *sio);

const char *sio_socket_id(const sio_socket_t *s);
sio_nsp_t *sio_socket_nsp(const sio_socket_t *s);
const char *sio_nsp_name(const sio_nsp_t *nsp, size_t *len);
void *sio_socket_data(const sio_socket_t *s);
void sio_socket_set_data(sio_socket_t *s, void *data);

/* Emits event(args...) to one socket. args: JSON text, comma-separated values without
 * brackets (may be empty); att: attachments its placeholders refer to (copied as needed). */
void sio_emit(sio_socket_t *s, const char *event, size_t event_len, const char *args,
              size_t args_len, const sio_attachment_t *att, unsigned natt);
/* Same, asking the client for an ack; the app's ack callback later gets tag. */
void sio_emit_with_ack(sio_socket_t *s, uint64_t tag, const char *event, size_t event_len,
                       const char *args, size_t args_len, const sio_attachment_t *att,
                       unsigned natt);
/* Answers the client's event ack_id with args. */
void sio_ack(sio_socket_t *s, int64_t ack_id, const char *args, size_t args_len,
             const sio_attachment_t *att, unsigned natt);

/* Broadcast flags. */
#define SIO_VOLATILE 1u /* drop it for clients not ready to take it now */
#define SIO_NOLOG    2u /* not for the recovery log (sent as if recovery kept no log) */

/* Emits to the sockets of nsp that are in any of rooms (all sockets when nrooms is 0) and in
 * none of except; each recipient once. The packet is encoded once and shared. A room name may
 * be a socket id. Clustered, the broadcast also goes to the other nodes. Returns the number of
 * local recipients. */
size_t sio_broadcast(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                     size_t nexcept, const char *event, size_t event_len, const char *args,
                     size_t args_len, const sio_attachment_t *att, unsigned natt, unsigned flags);

/* A broadcast that carries one item of the app (a stored chat message), which its sender may
 * ask for again after a lost answer. token names the item, unique among the packets to its
 * rooms; made_ms is when the item was made. The cluster's recovery log tags the packet with the
 * token, so that a packet asked for again goes out only if the first never reached the log:
 * the node that made it may have died between storing the item and logging it. done runs
 * once the broadcast is settled, with one of: */
#define SIO_ONCE_FAILED                                                                            \
    0 /* not sent (the sender should try later): a send again that                                 \
         could not reach the log, or a packet that could not be made                               \
         or sent (the node stopping) */
#define SIO_ONCE_SENT                                                                              \
    1 /* sent now: logged, or unlogged when Redis failed (a first                                  \
         send only), or alone */
#define SIO_ONCE_SENT_BEFORE                                                                       \
    2 /* a send again not sent: it had gone out before, or the log can                             \
         no longer tell, or there is no cluster log to ask */
typedef struct {
    const char *token;
    size_t token_len;
    uint64_t made_ms;
    int again; /* it may have been sent before under token */
    void (*done)(void *ud, int result);
    void *ud;
} sio_once_t;

/* sio_broadcast for such an item (flags 0). A first send goes out: logged cluster-wide, done
 * runs once the log has it (or it went unlogged, Redis failing); without a cluster log at once.
 * A send again goes to the cluster log, which sends it unless it holds the token; without a
 * cluster log it is not sent. done runs exactly once, perhaps before this returns. */
void sio_broadcast_once(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                        size_t nexcept, const char *event, size_t event_len, const char *args,
                        size_t args_len, const sio_once_t *once);

/* The local half of a broadcast whose payload is already the JSON array data ([event, ...]):
 * what a broadcast arriving from another node becomes. Returns the number of recipients. */
size_t sio_deliver(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                   size_t nexcept, const char *data, size_t data_len, const sio_attachment_t *att,
                   unsigned natt, unsigned flags);

/* An ack for a delivery made with sio_deliver_with_ack: ack is the client's answer, or NULL
 * when none will come (the socket went away). Called once per recipient. */
typedef void (*sio_ack_cb)(void *ud, sio_socket_t *s, const sio_event_t *ack);

/* sio_deliver, asking every recipient for an ack (each gets its own ack id). Returns the
 * number of recipients; cb runs once for each of them, later. */
size_t sio_deliver_with_ack(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                            size_t nexcept, const char *data, size_t data_len,
                            const sio_attachment_t *att, unsigned natt, sio_ack_cb cb, void *ud);

/* What the cluster adapter wants to hear from the Socket.IO layer. Every member may be NULL. */
typedef struct {
    /* A namespace came into being (see sio_foreach_nsp for those that already exist). */
    void (*nsp_added)(void *ctx, sio_nsp_t *nsp);
    /* A room of nsp got its first local member, or lost its last; socket ids count as rooms. */
    void (*room_added)(void *ctx, sio_nsp_t *nsp, const char *room, size_t len);
    void (*room_removed)(void *ctx, sio_nsp_t *nsp, const char *room, size_t len);
    /* A broadcast made on this node (already delivered locally): data is [event, ...args]. */
    void (*publish)(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                    const str_t *except, size_t nexcept, const char *data, size_t data_len,
                    const sio_attachment_t *att, unsigned natt, unsigned flags);
    void *ctx;
} sio_cluster_t;

void sio_server_set_cluster(sio_server_t *sio, const sio_cluster_t *cluster);

/* Before the server runs: the namespace name is served by mod (its serves is not asked; its
 * callbacks get state through sio_nsp_module_state) instead of the app. Its packets carry no
 * recovery offsets and its sessions are not kept. */
void sio_server_mount(sio_server_t *sio, const char *name, const app_module_t *mod, void *state);
/* The module serving nsp: the app, or the one mounted there. */
const app_module_t *sio_nsp_module(const sio_nsp_t *nsp);
/* The mounted module's state (NULL for the app's namespaces). */
void *sio_nsp_module_state(const sio_nsp_t *nsp);
/* Whether nsp's packets are logged for connection-state recovery: recovery is on and the app
 * serves nsp (a mounted module's namespace has none). */
int sio_nsp_recovers(const sio_nsp_t *nsp);

/* Watches every namespace's sockets (all optional): connected, gone (a connection kept for
 * recovery counts as gone), rooms joined and left, events received, and the events emitted to
 * one socket (data: [event, ...args]). */
typedef struct {
    void (*connected)(void *ctx, sio_socket_t *s);
    void (*disconnected)(void *ctx, sio_socket_t *s, const char *reason);
    void (*joined)(void *ctx, sio_socket_t *s, const char *room, size_t len);
    void (*left)(void *ctx, sio_socket_t *s, const char *room, size_t len);
    void (*event_in)(void *ctx, sio_socket_t *s, const sio_event_t *ev);
    void (*event_out)(void *ctx, sio_socket_t *s, const char *data, size_t len);
    void *ctx;
} sio_observer_t;
void sio_server_set_observer(sio_server_t *sio, const sio_observer_t *o);
sio_server_t *sio_nsp_server(const sio_nsp_t *nsp);
const app_module_t *sio_server_app(const sio_server_t *sio);
/* Hands the app's state (from its init) to the layer, for serves(). */
void sio_server_set_app_state(sio_server_t *sio, void *state);
void *sio_server_app_state(const sio_server_t *sio);
/* The cluster adapter's context (a cluster_t *), or NULL when running alone. */
void *sio_server_cluster(const sio_server_t *sio);
/* What is known of a socket's handshake (for fetch-sockets answers). */
typedef struct {
    uint64_t issued_ms;    /* ms since the epoch */
    char address[64];      /* "" when unknown */
    const char *transport; /* "polling" or "websocket" (static) */
    const char *path;      /* the Engine.IO path (borrowed from the configuration) */
    const char *sid;       /* the Engine.IO session's id (borrowed while it lives) */
    int protocol;          /* Engine.IO's: 4, or 3 */
} sio_handshake_t;

/* Fills hs; returns 0, or -1 when the connection is already gone. Works for a socket whose
 * CONNECT is pending too. */
int sio_socket_handshake(const sio_socket_t *s, sio_handshake_t *hs);
/* The handshake request's headers the server keeps (server_keep_headers) as a JSON object's
 * text, borrowed while the socket lives; NULL when none are kept or the connection is gone. */
const char *sio_socket_headers(const sio_socket_t *s);

/* Answers a CONNECT the app left pending (app.h, APP_CONNECT_PENDING): error NULL admits s
 * (the CONNECT answer goes out, then the app's connected); else error[0..error_len) is a
 * JSON object sent as CONNECT_ERROR data, and s is freed before this returns. */
void sio_connect_done(sio_socket_t *s, const char *error, size_t error_len);
/* The handshake auth of s's pending CONNECT (JSON text, borrowed until sio_connect_done),
 * with its length in *len; NULL when s is not pending. */
const char *sio_socket_pending_auth(const sio_socket_t *s, size_t *len);

/* The socket of nsp with this id, or NULL: how to hold on to a socket across a wait. */
sio_socket_t *sio_socket_find(sio_nsp_t *nsp, const char *id, size_t len);

/* Splits a JSON array text [first, rest...] into an event (name decoded into name, which has
 * cap bytes; ev->name stays NULL when the first element is not a string that fits) and the
 * argument text. Returns 0, or -1 when arr is not a JSON array. ev borrows from arr. */
int sio_event_from_array(const char *arr, size_t len, char *name, size_t cap, sio_event_t *ev);

/* The sockets of nsp in any of rooms (all when nrooms is 0) and in none of except, each once,
 * into *out (an array the caller frees; NULL when none). Returns how many. The array is a
 * snapshot: acting on one socket (disconnecting it) does not disturb the others. */
size_t sio_select(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                  size_t nexcept, sio_socket_t ***out);
/* Calls fn for each room of s, its own id first. */
void sio_socket_rooms(const sio_socket_t *s, void (*fn)(const char *room, size_t len, void *arg),
                      void *arg);
/* Calls fn for each room of nsp with its local member count, socket-id rooms included. */
void sio_nsp_rooms(sio_nsp_t *nsp,
                   void (*fn)(const char *room, size_t len, size_t members, void *arg), void *arg);
/* The namespaces the server has (those the app declares, and any a client joined). */
void sio_foreach_nsp(sio_server_t *sio, void (*fn)(sio_nsp_t *nsp, void *arg), void *arg);
sio_nsp_t *sio_nsp_find(sio_server_t *sio, const char *name, size_t len);

/* Room membership of a socket. Return 1 when it changed, 0 when not. */
int sio_join(sio_socket_t *s, const char *room, size_t len);
int sio_leave(sio_socket_t *s, const char *room, size_t len);

/* Disconnects the socket from its namespace (the client gets DISCONNECT: reason "io server
 * disconnect", and does not reconnect by itself). s is freed: do not use it afterwards. */
void sio_disconnect(sio_socket_t *s);
/* Closes the socket's whole Engine.IO connection without a DISCONNECT: the client sees
 * "transport close" and reconnects. Every socket of the connection is freed. */
void sio_close_connection(sio_socket_t *s);

/* ---- connection-state recovery (docs/recovery.md) ---- */

/* Why a CONNECT asking for a session back got a new one. */
typedef enum {
    SIO_REC_UNKNOWN,     /* no such session (never, expired, or ended) */
    SIO_REC_OWNER,       /* the session is someone else's */
    SIO_REC_OFFSET,      /* the offset is not one, or is ahead of the log */
    SIO_REC_TRIMMED,     /* the log no longer reaches back to the offset */
    SIO_REC_TOO_MANY,    /* more packets were missed than one restore sends */
    SIO_REC_UNAVAILABLE, /* the store could not answer (Redis unreachable) */
    SIO_REC_FAIL_COUNT
} sio_rec_fail_t;

const char *sio_rec_fail_name(sio_rec_fail_t why);

/* A broadcast that the log keeps, arriving with its offset: delivered to the sockets of nsp
 * in rooms minus except that have not had it (what a replay sent them already is skipped).
 * Returns the number of recipients. */
size_t sio_deliver_logged(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                          size_t nexcept, const char *data, size_t data_len,
                          const sio_attachment_t *att, unsigned natt, uint64_t offset);

/* A restore's answer from a store. */
typedef struct {
    const char *data; /* the JSON argument array, without its offset */
    size_t len;
    uint64_t offset;
    const sio_attachment_t *att;
    unsigned natt;
    /* for a packet delivered here after the log was read: whom it was for (else all NULL,
     * and the packet is for the session) */
    const str_t *rooms, *except;
    size_t nrooms, nexcept;
    int addressed;
} sio_rec_packet_t;

typedef struct {
    int ok;             /* 1: the session is back, as below; 0: why says why not */
    sio_rec_fail_t why; /* SIO_REC_UNAVAILABLE when the store could not be asked */
    const char *sid;    /* the session's socket id */
    const char *data;   /* the app's socket data (JSON object text, "" when none) */
    size_t data_len;
    uint64_t start, head; /* the session's start; the log's head when it was read */
    const char *const *rooms;
    const size_t *room_lens;
    const uint64_t *stamps; /* each room's join stamp */
    size_t nrooms;
    const sio_rec_packet_t *packets; /* missed, in order */
    size_t npackets;
} sio_restore_t;

typedef void (*sio_restore_cb)(void *ud, const sio_restore_t *r);

/* Where recovery keeps sessions and the log in a cluster (cluster_recovery.c, on Redis);
 * without one they are this node's memory. Every member is set. */
typedef struct {
    /* Logs a packet made here and publishes it; it comes back (here too) through
     * sio_deliver_logged, in the log's order. once (NULL: none) tags it, and for a send again
     * has the log skip it when the token is there (see sio_once_t). Returns 0 (then once's done
     * runs later, exactly once), or -1 when it cannot be logged now (done not run; the caller
     * sends it unlogged, unless it is a send again). */
    int (*publish)(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                   const str_t *except, size_t nexcept, const char *data, size_t data_len,
                   const sio_attachment_t *att, unsigned natt, const sio_once_t *once);
    /* The session of s as it changes: made (data: the app's socket data), a room joined
     * (stamp) or left, kept after its connection went, over. */
    void (*session_new)(void *ctx, sio_socket_t *s, const char *data, size_t data_len);
    void (*session_room)(void *ctx, sio_socket_t *s, const char *room, size_t len, int joined,
                         uint64_t stamp);
    void (*session_keep)(void *ctx, sio_socket_t *s);
    /* Refreshes n connected sessions of one namespace at once (one round trip for all). */
    void (*sessions_touch)(void *ctx, sio_socket_t *const *s, size_t n);
    void (*session_end)(void *ctx, sio_socket_t *s);
    /* Asks for session pid of nsp back for a CONNECT of owner with offset ("": none). cb
     * runs exactly once, later, once every logged packet up to the answer's head has been
     * delivered here; the packets delivered here after the head meanwhile come last in the
     * answer, addressed. */
    void (*restore)(void *ctx, sio_nsp_t *nsp, const char *pid, size_t pid_len, const char *owner,
                    size_t owner_len, const char *offset, sio_restore_cb cb, void *ud);
    /* Appends ,"name":value members of the store's own state to /healthz's recovery. */
    void (*health)(void *ctx, sbuf_t *json);
    void *ctx;
} sio_rec_store_t;

/* Turns connection-state recovery on for sio as --recovery-window says (nothing when 0):
 * pids, offsets, sessions kept and restored, the log in memory until a store is set. */
void sio_recovery_install(sio_server_t *sio);

/* Sets (or, with NULL, removes) the store. */
void sio_server_set_rec_store(sio_server_t *sio, const sio_rec_store_t *store);

/* The session pid of nsp was restored on another node: a copy kept or still connected here
 * goes, the app told with SIO_REASON_MOVED, nothing written to the store. */
void sio_rec_moved(sio_nsp_t *nsp, const char *pid, size_t pid_len);
#define SIO_REASON_MOVED "session resumed elsewhere"
/* The session pid of nsp cannot come back (a restore of it failed): a copy kept here ends, the
 * app told with the reason its connection went. */
void sio_rec_end(sio_nsp_t *nsp, const char *pid, size_t pid_len);

/* The socket's pid ("" when recovery is off), and whose session it is (NULL: anyone's). */
const char *sio_socket_pid(const sio_socket_t *s);
const char *sio_socket_owner(const sio_socket_t *s);
/* The offset of the last logged packet of nsp delivered here (0 when none). */
uint64_t sio_nsp_last(const sio_nsp_t *nsp);
uv_loop_t *sio_server_loop(const sio_server_t *sio);

/* Appends ,"recovery":{...} (settings and counters) to a JSON object being written. */
void sio_recovery_health(const sio_server_t *sio, sbuf_t *json);

/* Number of connected sockets, all namespaces. */
size_t sio_socket_count(const sio_server_t *sio);
/* Since the start: events received from clients, and Socket.IO packets sent to them. */
uint64_t sio_server_events_in(const sio_server_t *sio);
uint64_t sio_server_events_out(const sio_server_t *sio);
/* nsp's connected sockets, and its rooms (the sockets' own id rooms not counted). */
void sio_nsp_counts(const sio_nsp_t *nsp, size_t *sockets, size_t *rooms);

/* CONNECTs since the start: admitted, refused for an unknown namespace, refused by the app. */
typedef struct {
    uint64_t admitted, bad_namespace, refused;
} sio_connect_stats_t;
void sio_server_connects(const sio_server_t *sio, sio_connect_stats_t *out);
/* Seconds the app's event handler took for each event received (its synchronous part). */
const prom_hist_t *sio_server_event_handling(const sio_server_t *sio);

/* Recovery's settings and counters (all 0 when it is off). */
typedef struct {
    int on;
    int redis; /* sessions and the log are kept in Redis, not in memory */
    size_t kept, log_packets;
    uint64_t kept_total, restored, expired, ended, moved;
    uint64_t failed[SIO_REC_FAIL_COUNT];
} sio_rec_stats_t;
void sio_recovery_stats(const sio_server_t *sio, sio_rec_stats_t *out);

#endif
