/* The cluster adapter: shares broadcasts and room operations with the other servers on one
 * Redis, in the wire format of @socket.io/redis-adapter 8.x (see docs/protocols.md), so chatnodes,
 * Node.js socket.io servers and @socket.io/redis-emitter interoperate. Without --redis no
 * cluster exists and sio works alone. */
#ifndef CC_CLUSTER_H
#define CC_CLUSTER_H

#include "chatnode_config.h"

#include <jansson.h>
#include "adapter_gather.h"
#include "bus_listen.h"
#include "sbuf.h"
#include "server.h"
#include "sio.h"

typedef struct cluster cluster_t;
struct redisReply; /* <hiredis/hiredis.h> */

/* Connects to Redis (asynchronously: a Redis that is down is retried, local service goes on)
 * and attaches to sio. Returns 0, or -1 with a message in err (bad URL or settings). */
int cluster_start(cluster_t **out, server_t *srv, sio_server_t *sio, const chatnode_config_t *cfg,
                  char *err, size_t errlen);

/* Detaches and closes the Redis connections; the memory is freed once they are closed (the
 * caller keeps running the loop). NULL is a no-op. */
void cluster_stop(cluster_t *c);

/* The adapter attached to sio, or NULL when the node runs alone. */
cluster_t *cluster_of(sio_server_t *sio);

/* ---- requests this node makes across the cluster (docs/protocols.md, 2.5 and 2.6) ----
 * Each runs its local part at once and asks the other servers on Redis; cb runs exactly once,
 * after every server answered or --requests-timeout passed (perhaps before the call returns,
 * when there is nothing to wait for: running alone, or Redis unreachable). c may be NULL.
 * servers counts the other servers (PUBSUB NUMSUB of the request channel, minus us); items
 * (borrowed during the callback) depends on the request. */
typedef adapter_gather_result_t cluster_result_t;
typedef void (*cluster_result_cb)(void *ud, const cluster_result_t *r);

/* A local socket as fetchSockets answers describe it: {id, handshake, rooms, data}. */
json_t *cluster_socket_json(const sio_socket_t *s);
/* items: [{id, handshake, rooms, data}] of the sockets in rooms (all when none) minus except. */
void cluster_fetch_sockets(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                           const str_t *except, size_t nexcept, cluster_result_cb cb, void *ud);
/* items: every room name of the namespace, socket-id rooms included, once each. */
void cluster_all_rooms(cluster_t *c, sio_nsp_t *nsp, cluster_result_cb cb, void *ud);
/* items: the other servers' answers to [event, ...args] (data: that JSON array). */
void cluster_server_side_emit(cluster_t *c, sio_nsp_t *nsp, const char *data, size_t len,
                              cluster_result_cb cb, void *ud);
/* Emits data ([event, ...args]) to the selected sockets of every server, each asked for an
 * ack; items: the first argument of every ack that came, local ones included. */
void cluster_broadcast_with_ack(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                                const str_t *except, size_t nexcept, const char *data, size_t len,
                                const sio_attachment_t *att, unsigned natt, cluster_result_cb cb,
                                void *ud);
/* The selected sockets of every server join or leave the target rooms, or are disconnected
 * (close: their whole connection). Applied here at once; no answer is awaited. */
void cluster_join(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                  const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets);
void cluster_leave(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                   const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets);
void cluster_disconnect(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                        const str_t *except, size_t nexcept, int close);

/* Control traffic of our own, on channels outside the adapter's: fn gets every message of the
 * channel (subscribed again after a reconnect). Returns 0 or a bus error. */
typedef bus_listen_cb cluster_listen_cb;
int cluster_listen(cluster_t *c, const char *channel, size_t len, cluster_listen_cb fn, void *ud);
/* Publishes on any channel (queued while Redis is down, within the bus's limits). */
int cluster_publish(cluster_t *c, const char *channel, size_t len, const char *payload,
                    size_t plen);

/* This server's uid on the bus (6 characters). */
const char *cluster_uid(const cluster_t *c);

/* A Redis command on the bus's command connection (binary-safe argv). Returns 0, or a negative
 * bus error (not connected...) and then cb never fires; cb gets status 0 and the reply, or a
 * negative status when the connection was lost. */
int cluster_command(cluster_t *c, int argc, const char *const *argv, const size_t *lens,
                    void (*cb)(void *ud, int status, const struct redisReply *reply), void *ud);

/* The same for a command about key (on Redis Cluster it goes to the primary owning the key's
 * slot; a command with several keys names one, and they share a slot). */
int cluster_command_key(cluster_t *c, const char *key, size_t keylen, int argc,
                        const char *const *argv, const size_t *lens,
                        void (*cb)(void *ud, int status, const struct redisReply *reply), void *ud);
/* cluster_command_key, then WAIT replicas timeout_ms behind it (bus_command_replicated): a
 * write that fewer replicas acknowledged in time comes back with status BUS_EREPLICAS. */
int cluster_command_replicated(cluster_t *c, const char *key, size_t keylen, unsigned replicas,
                               uint32_t timeout_ms, int argc, const char *const *argv,
                               const size_t *lens,
                               void (*cb)(void *ud, int status, const struct redisReply *reply),
                               void *ud);

/* The broadcast message of a packet the recovery log keeps ([uid, packet, opts] counted as 4
 * elements: the log's script appends the offset) into msg, and, in the classic format, the
 * namespace channel every logged packet goes on (so that every server gets them in the log's
 * order) into chan; in the sharded format chan is left empty (the log's own shard channel).
 * Returns 0, or -1 when data cannot be encoded. */
int cluster_logged_message(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                           const str_t *except, size_t nexcept, const char *data, size_t len,
                           const sio_attachment_t *att, unsigned natt, sbuf_t *msg, sbuf_t *chan);
/* In the sharded format: publishes, for servers that keep no log, the broadcast of a packet
 * the log keeps, flagged "logged" (chatnodes get it from the log's channel instead). A no-op
 * in the classic format, where the logged message itself is the adapter's. */
void cluster_publish_logged_copy(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                                 const str_t *except, size_t nexcept, const char *data, size_t len,
                                 const sio_attachment_t *att, unsigned natt);
/* What connection-state recovery's store (cluster_recovery.c) hears from the adapter. */
typedef struct {
    /* A namespace came into being. */
    void (*nsp_added)(void *ctx, sio_nsp_t *nsp);
    /* A logged packet (offset) is about to be delivered here. */
    void (*logged)(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                   const str_t *except, size_t nexcept, const char *data, size_t len,
                   const sio_attachment_t *att, unsigned natt, uint64_t offset);
    /* A non-volatile broadcast without an offset from another server (payload: its message as
     * it came, classic format): returns 0 when the store takes it (it is delivered later, in
     * the log's order), -1 when the adapter delivers it now. */
    int (*foreign)(void *ctx, sio_nsp_t *nsp, const char *payload, size_t plen, const str_t *rooms,
                   size_t nrooms, const str_t *except, size_t nexcept, const char *data, size_t len,
                   const sio_attachment_t *att, unsigned natt);
    /* Whether broadcasts taken by foreign are waiting: requests from the bus wait with them,
     * and run once the callback given to when_released is called. */
    int (*holding)(void *ctx);
    void (*when_released)(void *ctx, void (*cb)(void *ud), void *ud);
    void *ctx;
} cluster_rec_hooks_t;

/* Installs the store's hooks (nsp_added runs at once for every namespace there is), or, with
 * NULL, removes them. */
void cluster_set_recovery(cluster_t *c, const cluster_rec_hooks_t *hooks);

/* Whether the bus speaks the sharded format. */
int cluster_sharded(const cluster_t *c);
/* cluster_listen for a shard channel (SSUBSCRIBE). */
int cluster_listen_shard(cluster_t *c, const char *channel, size_t len, cluster_listen_cb fn,
                         void *ud);
/* The --redis-key prefix. */
const char *cluster_key(const cluster_t *c);

/* The bus's counters and the adapter's: broadcasts published and heard, requests answered. */
typedef struct {
    bus_stats_t bus;
    uint64_t broadcasts_out, broadcasts_in, requests_in;
} cluster_stats_t;
void cluster_stats(const cluster_t *c, cluster_stats_t *out);

/* Appends the cluster's state to a JSON object being written (a leading comma, then
 * "bus":{...}). */
void cluster_health(const cluster_t *c, sbuf_t *json);

#endif
