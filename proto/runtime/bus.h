/* The Redis bus: two hiredis async connections on the process's libuv loop, one for commands
 * and PUBLISH, one for SUBSCRIBE/PSUBSCRIBE. Each reconnects on its own with capped, jittered
 * exponential backoff, runs AUTH/SELECT first on every connection, and the subscriber restores
 * the wanted channel and pattern set; publishes made while down wait in a bounded queue.
 *
 * With a redis+sentinel:// URL every attempt of either connection first asks a sentinel (the
 * URL's, in turn) for the primary's address (SENTINEL get-master-addr-by-name), connects there,
 * and checks with ROLE that the server is the primary before using it. A third connection
 * stays subscribed to +switch-master on a sentinel: when the primary changes, both
 * connections move to the new one at once (docs/protocols.md, "Redis topologies"). Sentinels
 * are reached without AUTH; the URL's user and password are the data servers'. */
#ifndef CC_BUS_H
#define CC_BUS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "redis_url.h"

struct redisReply; /* <hiredis/hiredis.h> */

/* Error codes: 0 is success, these are negative. */
#define BUS_ENOTCONN   (-1)  /* the command connection is not up (bus_command) */
#define BUS_ECLOSED    (-2)  /* bus_close was called; also the status of callbacks it cancels */
#define BUS_EQUEUEFULL (-3)  /* publish dropped: the queue or in-flight limit was reached */
#define BUS_ECONNLOST  (-4)  /* the connection went away before the reply came */
#define BUS_EINVAL     (-5)  /* bad argument */
#define BUS_EAUTH      (-6)  /* AUTH was refused (wrong password, unknown user) */
#define BUS_ESELECT    (-7)  /* SELECT was refused (no such database) */
#define BUS_ECONNECT   (-8)  /* TCP connect failed or the connection broke */
#define BUS_ETIMEDOUT  (-9)  /* connect + AUTH/SELECT took longer than connect_timeout_ms */
#define BUS_ERESOLVE   (-10) /* the host name did not resolve */
#define BUS_ESENTINEL  (-11) /* no sentinel gave the primary's address (down, or name unknown) */
#define BUS_EROLE      (-12) /* the server a sentinel named is not the primary (ROLE) */
#define BUS_EFAILOVER  (-13) /* a sentinel announced a new primary: reconnecting there */
#define BUS_ENOTSUP    (-14) /* a topology or command this bus does not speak with these options */
#define BUS_EREPLICAS  (-15) /* WAIT: fewer replicas than asked acknowledged the write in time */
#define BUS_ECLUSTER                                                                               \
    (-16) /* Redis Cluster: no slot map yet, the slot has no owner, or the                         \
             cluster kept redirecting or answering CLUSTERDOWN/TRYAGAIN */

/* Returns a static description of a BUS_E* code (or "unknown error"). */
const char *bus_strerror(int err);

typedef struct bus bus_t;

typedef enum { BUS_CONN_CMD = 0, BUS_CONN_SUB = 1 } bus_conn_t;

/* CONNECTING covers resolving, TCP connect, AUTH/SELECT and, for the subscriber, restoring the
 * subscriptions: CONNECTED means every wanted channel and pattern is subscribed on Redis. */
typedef enum { BUS_DISCONNECTED = 0, BUS_CONNECTING, BUS_CONNECTED } bus_state_t;

const char *bus_state_name(bus_state_t s);

/* A message on a subscribed channel, or on a channel matching a subscribed pattern (then
 * pattern is that pattern, NUL-terminated, else NULL). A channel that is subscribed and also
 * matches a pattern is delivered twice, once each way, as Redis sends it. Every pointer is
 * borrowed for the duration of the call. */
typedef void (*bus_message_cb)(void *ud, const char *channel, size_t channel_len,
                               const char *pattern, const char *payload, size_t payload_len);

/* A connection changed state. err is 0, or the BUS_E* reason when it left CONNECTING or
 * CONNECTED (details in bus_stats().last_error). */
typedef void (*bus_state_cb)(void *ud, bus_conn_t conn, bus_state_t state, int err);

/* The reply to bus_command. status 0: reply is Redis's answer (may be REDIS_REPLY_ERROR),
 * borrowed for the call. status BUS_ECONNLOST or BUS_ECLOSED: reply is NULL. */
typedef void (*bus_reply_cb)(void *ud, int status, const struct redisReply *reply);

/* bus_close finished: every handle is closed and the bus is freed. */
typedef void (*bus_closed_cb)(void *ud);

typedef struct {
    bus_message_cb on_message;   /* may be NULL */
    bus_state_cb on_state;       /* may be NULL */
    void *ud;                    /* passed to on_message and on_state */
    uint32_t backoff_initial_ms; /* first reconnect delay (100) */
    uint32_t backoff_max_ms;     /* cap of the doubling delay (5000) */
    uint32_t jitter_pct;         /* each delay is randomised by +-this percent (25), 0..100 */
    uint32_t connect_timeout_ms; /* resolve + connect + AUTH/SELECT must finish within (3000) */
    size_t queue_max_msgs;       /* publishes kept while the command connection is down (10000) */
    size_t queue_max_bytes;      /* their channel+payload bytes (16 MiB) */
    size_t inflight_max_bytes;   /* sent publishes awaiting Redis's reply (64 MiB; 0 = no cap) */
    int sharded; /* 1: sharded pub/sub is wanted (bus_ssubscribe, bus_spublish); always on with
                    a redis+cluster:// URL; with redis:// the server must be Redis 7 or later;
                    refused (BUS_ENOTSUP) with redis+sentinel:// */
} bus_options_t;

/* The bus format a node's --bus-format asks for on url: "classic" or "sharded", or "" for the
 * default (sharded on redis+cluster://, classic otherwise). Returns 0 with *sharded set, or -1
 * with a one-line reason in err: an unknown format, or sharded on redis+sentinel:// (sharded
 * pub/sub is spoken on connections of the bus's own, which do not follow sentinels). */
int bus_format_parse(const char *format, const redis_url_t *url, int *sharded, char *err,
                     size_t errlen);

/* Fills *o with the defaults above and no callbacks. */
void bus_options_init(bus_options_t *o);

typedef struct {
    bus_state_t state;
    uint64_t attempts; /* connection attempts started */
    uint64_t connects; /* times it reached CONNECTED */
} bus_conn_stats_t;

typedef struct {
    bus_conn_stats_t cmd, sub;
    uint64_t reconnects;   /* CONNECTED reached again after a loss, both connections */
    uint64_t published;    /* PUBLISH commands written to Redis */
    uint64_t received;     /* messages handed to on_message */
    uint64_t queued;       /* publishes waiting now for the command connection */
    uint64_t queued_bytes; /* their bytes */
    uint64_t dropped;      /* publishes refused by the queue or in-flight limit */
    uint64_t lost;         /* publishes written whose connection broke before the reply */
    char last_error[160];  /* most recent connection error, "" if none */
    /* redis+sentinel:// only */
    uint64_t failovers;      /* +switch-master announcements for the primary's name; on a
                                cluster, primaries of a map gone from the next one */
    uint64_t failover_moves; /* connections sent to the new primary at once on one */
    uint64_t role_refusals;  /* connections dropped because the server was not the primary */
    bus_state_t watch;       /* the connection subscribed to +switch-master on a sentinel */
    char primary[280];       /* the primary's host:port as last learnt from a sentinel, or "" */
    /* redis+cluster:// (and sharded pub/sub on one server) */
    unsigned shards;        /* primaries in the slot map (1 on one server) */
    uint64_t map_refreshes; /* slot maps read */
    uint64_t moved, asked;  /* MOVED and ASK redirects followed */
    uint64_t retried;       /* commands sent again after TRYAGAIN, CLUSTERDOWN and the like */
} bus_stats_t;

/* Creates a bus on loop and starts connecting both connections; url is copied. Returns 0 and
 * *out (freed through bus_close), or BUS_EINVAL. Never blocks: host names are resolved with
 * uv_getaddrinfo. */
int bus_open(bus_t **out, uv_loop_t *loop, const redis_url_t *url, const bus_options_t *opts);

/* Adds channel (binary-safe, len bytes, copied) to the wanted set and subscribes at once when
 * the subscriber is up, else when it comes up. Subscribing a wanted channel is a no-op.
 * Returns 0, BUS_EINVAL or BUS_ECLOSED. */
int bus_subscribe(bus_t *bus, const char *channel, size_t len);
/* Removes channel from the wanted set: no message for it is delivered after this returns.
 * Unsubscribing a channel that is not wanted is a no-op. Returns 0 or BUS_ECLOSED. */
int bus_unsubscribe(bus_t *bus, const char *channel, size_t len);
/* The same for glob-style patterns (PSUBSCRIBE/PUNSUBSCRIBE). */
int bus_psubscribe(bus_t *bus, const char *pattern, size_t len);
int bus_punsubscribe(bus_t *bus, const char *pattern, size_t len);

/* PUBLISH channel payload (both binary-safe, copied). Sent at once when the command
 * connection is up; otherwise queued and sent, in order, when it is up again. Returns 0, or
 * BUS_EQUEUEFULL (dropped and counted), BUS_EINVAL or BUS_ECLOSED. Delivery is at most once: a
 * publish written just before the connection breaks is counted as lost, not repeated. */
int bus_publish(bus_t *bus, const char *channel, size_t channel_len, const char *payload,
                size_t payload_len);

/* Sends one command (argv-style, binary-safe, copied) on the command connection. Returns 0
 * and cb fires exactly once later (possibly with BUS_ECONNLOST, or BUS_ECLOSED during
 * bus_close), or fails with BUS_ENOTCONN, BUS_EINVAL or BUS_ECLOSED and cb never fires.
 * Do not send SUBSCRIBE-family or MONITOR commands here. */
int bus_command(bus_t *bus, int argc, const char *const *argv, const size_t *argvlen,
                bus_reply_cb cb, void *cb_ud);

/* The same for a command about key (binary-safe, keylen bytes): on Redis Cluster it goes to the
 * primary owning the key's slot, following MOVED and ASK redirects and retrying for a while
 * on TRYAGAIN and CLUSTERDOWN (the command was not run); status BUS_ECLUSTER when that did not
 * succeed. Elsewhere it is bus_command. A command with several keys names any one of them;
 * they must share a slot (hash tags). */
int bus_command_key(bus_t *bus, const char *key, size_t keylen, int argc, const char *const *argv,
                    const size_t *argvlen, bus_reply_cb cb, void *cb_ud);

/* bus_command_key, then WAIT replicas timeout_ms on the same connection right behind it, so
 * that the write is known to be on that many replicas. cb fires once: status 0 with the
 * command's reply when it was an error reply, or when at least replicas acknowledged;
 * BUS_EREPLICAS with the command's reply (it ran) when fewer did within timeout_ms; or a
 * negative status and NULL as bus_command says. replicas 0 is bus_command_key. */
int bus_command_replicated(bus_t *bus, const char *key, size_t keylen, unsigned replicas,
                           uint32_t timeout_ms, int argc, const char *const *argv,
                           const size_t *argvlen, bus_reply_cb cb, void *cb_ud);

/* Commands that are about one server, not a key (SCAN, PUBSUB NUMSUB, INFO): on Redis Cluster
 * the primaries are numbered 0..bus_shards()-1 in the current slot map (0 while no map is
 * known); elsewhere there is one. bus_command_shard sends to primary shard; BUS_EINVAL when
 * shard is out of range. A caller that walks every shard (a SCAN) starts again when the
 * count changes. */
size_t bus_shards(const bus_t *bus);
/* "host:port" of primary shard (borrowed until the bus changes: copy it), or NULL. */
const char *bus_shard_addr(const bus_t *bus, size_t shard);
int bus_command_shard(bus_t *bus, size_t shard, int argc, const char *const *argv,
                      const size_t *argvlen, bus_reply_cb cb, void *cb_ud);

/* Sharded pub/sub (Redis 7): SSUBSCRIBE / SUNSUBSCRIBE / SPUBLISH, each channel on the primary
 * owning its slot. The wanted set is kept and restored as for bus_subscribe, also when a slot
 * moves to another shard; messages come to on_message with pattern NULL. BUS_ENOTSUP unless
 * the bus was opened with sharded set. */
int bus_ssubscribe(bus_t *bus, const char *channel, size_t len);
int bus_sunsubscribe(bus_t *bus, const char *channel, size_t len);
int bus_spublish(bus_t *bus, const char *channel, size_t channel_len, const char *payload,
                 size_t payload_len);

/* The URL the bus was opened with (its own copy). */
const redis_url_t *bus_url(const bus_t *bus);

/* Current state, counters and last error; copied into *st. */
void bus_stats(const bus_t *bus, bus_stats_t *st);
bus_state_t bus_state(const bus_t *bus, bus_conn_t conn);

/* Closes both connections and every handle; done (may be NULL) fires from the loop once all is
 * freed, never inside this call. Pending bus_command callbacks fire with BUS_ECLOSED, during
 * this call or just after it; on_message and on_state no longer fire. Queued publishes are
 * discarded. Returns 0, or BUS_ECLOSED (already closing; done never fires). Safe from inside
 * any bus callback; bus must not be used afterwards. */
int bus_close(bus_t *bus, bus_closed_cb done, void *done_ud);

#endif
