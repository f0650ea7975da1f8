/* What sio.c and sio_recovery.c share of the Socket.IO layer: its structures, the encoding of
 * packets into shareable frames, and the recovery entry points sio.c calls. Nothing outside
 * these two files includes it. */
#ifndef CC_SIO_INTERNAL_H
#define CC_SIO_INTERNAL_H

#include "deadline.h"
#include "frame.h"
#include "rec_offset.h"
#include "room.h"
#include "sid.h"
#include "sio.h"
#include "strmap.h"

typedef struct sio_conn sio_conn_t;
typedef struct rec_log rec_log_t;

struct sio_nsp {
    char *name;
    size_t len;
    sio_server_t *sio;
    const app_module_t *mod; /* the module serving it (sio_server_mount), or NULL: the app */
    void *mod_state;
    strmap_t sockets; /* id -> sio_socket_t (connected ones) */
    room_index_t rooms;
    uint32_t gen; /* broadcast generation, for de-duplicating recipients */
    /* recovery (sio_recovery.c) */
    strmap_t pids;     /* pid -> sio_socket_t, connected and kept */
    rec_offset_t last; /* the last logged packet handled here */
    rec_log_t *log;    /* the log kept in memory (running alone), or NULL */
    size_t touch_at;   /* where in pids the next slice of refreshes starts (a resize of pids
                        * may skip a session for a round: its TTL lasts four) */
};

/* Emits that wait for the client's ack (rare, so kept out of line). A client that never acks
 * cannot make the list grow past SIO_MAX_PENDING_ACKS: the oldest is then forgotten. */
#define SIO_MAX_PENDING_ACKS 1024

typedef struct {
    uint32_t id;
    uint64_t tag;  /* for the app's ack callback */
    sio_ack_cb cb; /* or, when set, this callback (cluster broadcasts with acks) */
    void *ud;
} pending_ack_t;

typedef struct {
    uint32_t n, cap;
    pending_ack_t item[];
} pending_acks_t;

/* A socket is connected, or kept (its connection went, its session may come back: it stays in
 * its rooms but is in no namespace table and gets nothing). */
enum { SOCK_CONNECTED = 0, SOCK_KEPT = 1, SOCK_PENDING = 2 };

/* A CONNECT the app answers later (APP_CONNECT_PENDING), on its connection's list. */
typedef struct sio_pending_connect {
    struct sio_pending_connect *next;
    sio_socket_t *s; /* not attached: in no table or room */
    char *auth, *owner;
    size_t auth_len, owner_len;
    int owned;
} sio_pending_connect_t;

/* What a kept socket carries while it waits for its session to come back (recovery): out of
 * line, as a connected socket has none. */
typedef struct sio_kept {
    deadline_node_t node; /* first: an entry of keep_q is its sio_kept_t */
    sio_socket_t *s;
    const char *reason; /* why the connection went (static) */
} sio_kept_t;

struct sio_socket {
    char id[SID_RANDOM_LEN + 1];
    uint8_t state;
    /* recovery: pid[0] is 0 when it is off (here to share the ids' padding) */
    char pid[SID_RANDOM_LEN + 1];
    sio_nsp_t *nsp;
    sio_conn_t *conn;     /* NULL while kept */
    sio_socket_t *next;   /* in conn->sockets */
    room_member_t rm;     /* each membership's stamp: nsp->last when it was joined */
    pending_acks_t *acks; /* owned, or NULL */
    void *data;
    uint32_t mark;     /* broadcast generation that last reached this socket */
    uint32_t next_ack; /* id of the next server-to-client ack */
    /* recovery */
    rec_offset_t start;  /* nsp->last when the session began */
    rec_offset_t cursor; /* the last logged packet sent to the client */
    char *owner;         /* whose session it is (the app's word), or NULL */
    sio_kept_t *kept;    /* owned while kept (in keep_q), else NULL */
};

struct sio_conn {
    sio_server_t *sio;
    eio_session_t *eio; /* NULL once the session is gone */
    sio_socket_t *sockets;
    sio_binary_t *bin;              /* a binary packet waiting for its attachments, or NULL */
    sio_pending_connect_t *pending; /* CONNECTs the app has not answered yet */
    uint8_t busy;
    uint8_t closed : 1;
    uint8_t final : 1;     /* closed by the server for good: its sessions are not kept */
    uint8_t restoring : 1; /* a CONNECT waits for its session from the store */
    uint8_t legacy : 1;    /* Socket.IO protocol v4 (an Engine.IO v3 client) */
    uint32_t bin_held;     /* bytes bin holds, counted in the server's memory budget */
    deadline_node_t connect_node;
};

/* Counters of recovery, for /healthz and the heartbeat. */
typedef struct {
    uint64_t kept, restored, expired, ended, moved;
    uint64_t failed[SIO_REC_FAIL_COUNT];
} sio_rec_counters_t;

struct sio_server {
    server_t *srv;
    const app_module_t *app;
    void *app_state;
    strmap_t nsps; /* name -> sio_nsp_t */
    deadline_queue_t connect_q;
    size_t nsockets;
    uint64_t events_in, events_out; /* Socket.IO packets received from and sent to clients */
    sio_connect_stats_t connects;
    sio_observer_t observer; /* all NULL unless set */
    prom_hist_t handling;    /* seconds in the app's event handler */
    sio_cluster_t cluster;   /* all NULL when running alone */
    /* recovery */
    const struct sio_rec_ops *rec_ops; /* NULL while it is off */
    uint64_t rec_window;               /* ms a session is kept; 0: recovery is off */
    uint64_t rec_max;                  /* most packets one restore sends */
    deadline_queue_t keep_q;
    size_t nkept;
    sio_rec_counters_t rec;
    int closing; /* queues whose timers are still closing when freed */
    sio_rec_store_t store;
    int has_store;
    uv_timer_t touch;      /* refreshes connected sessions in the store, a slice per tick */
    uint32_t touch_slices; /* ticks per half window */
};

/* ---- encoding (sio.c) ---- */

/* The frames of one packet: the text packet, then one binary frame per attachment. */
typedef struct {
    frame_t *text;
    frame_t **att;
    unsigned natt;
} packet_frames_t;

/* Encodes one packet whose payload is the JSON array data, once, into shareable frames. */
void sio_frames_from_data(packet_frames_t *pf, const sio_nsp_t *nsp, sio_type_t type, int64_t id,
                          const char *data, size_t data_len, const sio_attachment_t *att,
                          unsigned natt);
void sio_frames_free(packet_frames_t *pf);
void sio_frames_send(sio_conn_t *c, const packet_frames_t *pf);
/* Sends a packet whose data is a JSON value (or none) rather than an argument list. */
void sio_send_raw(sio_conn_t *c, sio_type_t type, const char *nsp, size_t nsp_len, const char *data,
                  size_t data_len);
/* Does s belong in a delivery to rooms minus except, by its memberships stamped before at
 * (every one when at is UINT64_MAX)? */
int sio_socket_selected(const sio_socket_t *s, const str_t *rooms, size_t nrooms,
                        const str_t *except, size_t nexcept, rec_offset_t at);
/* How many connected sockets of nsp are in rooms (all when nrooms is 0) minus except: what
 * sio_select would collect, counted without collecting. */
size_t sio_count(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                 size_t nexcept);
/* Links s (its id, nsp, data set) into its namespace and connection as connected. */
void sio_socket_attach(sio_socket_t *s, sio_conn_t *c);
/* Unlinks s from its connection and namespace table (it keeps its rooms). */
void sio_socket_detach(sio_socket_t *s);
/* Tells the app, leaves every room and frees s. */
void sio_socket_free(sio_socket_t *s, const char *reason);

/* A new session for a CONNECT (the app's connect asked; CONNECT answer sent). owned: owner
 * is the app's word for it (else the session is not kept for recovery). */
void sio_connect_new(sio_conn_t *c, sio_nsp_t *nsp, const char *auth, size_t auth_len,
                     const char *owner, size_t owner_len, int owned);
void sio_conn_hold(sio_conn_t *c);
void sio_conn_release(sio_conn_t *c);

/* ---- recovery (sio_recovery.c), as the layer calls it ---- */

/* Installed by sio_recovery_install; NULL while recovery is off. */
struct sio_rec_ops {
    /* A packet made on this node that the log keeps: logged, then delivered with its offset.
     * once: as sio_broadcast_once takes it (NULL: none; its done always runs). Returns the
     * number of local recipients. */
    size_t (*publish)(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                      size_t nexcept, const char *data, size_t data_len,
                      const sio_attachment_t *att, unsigned natt, const sio_once_t *once);
    /* s joined (stamp) or left room: written to the store. */
    void (*room)(sio_socket_t *s, const char *room, size_t len, int joined, rec_offset_t stamp);
    /* A new socket's session: its pid, start and owner (owner NULL or "": anyone's). */
    void (*session_new)(sio_socket_t *s, const char *owner, size_t owner_len);
    /* Frees s's recovery state and forgets its pid. */
    void (*session_free)(sio_socket_t *s);
    /* The connection of s went for reason: keeps s (returns 1) when its session may come
     * back. */
    int (*keep)(sio_socket_t *s, const char *reason);
    /* A CONNECT asking to recover a session (auth holds a pid): restores it on c and answers,
     * returning 1; 0 when it is not recovered (then a new session is made as usual). */
    int (*connect)(sio_conn_t *c, sio_nsp_t *nsp, const char *auth, size_t auth_len,
                   const char *owner, size_t owner_len);
    void (*nsp_free)(sio_nsp_t *nsp);
    /* The server is going: the kept sockets go (the app told). */
    void (*server_close)(sio_server_t *sio);
    /* Closes recovery's handles with cb (their data is the server); returns how many. */
    int (*close_handles)(sio_server_t *sio, uv_close_cb cb);
};

#endif
