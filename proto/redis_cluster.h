/* Redis Cluster routing, as pure code: the key slot (CRC16 and hash tags), the slot map read
 * from a CLUSTER SHARDS or CLUSTER SLOTS reply, and the redirect and retry errors a cluster
 * node answers. No I/O: replies come in as hiredis reply trees, results go out as structs.
 *
 * Wire facts relied on (Redis 7.0, RESP2):
 * - A key's slot is CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection) of the
 *   key's bytes, masked with 0x3FFF (16384 slots). When the key holds a '{' and, after the
 *   first '{', a '}' that is not immediately after it, only the bytes between that first '{'
 *   and that first following '}' are hashed ("hash tag"); otherwise the whole key. Shard
 *   channels (SSUBSCRIBE, SPUBLISH) hash the same way.
 * - CLUSTER SHARDS: an array of shards; each shard a flat key/value array holding "slots" (a
 *   flat array of start, end integer pairs) and "nodes" (an array of flat key/value arrays
 *   with id, port, ip, endpoint, hostname, role, replication-offset, health, ... in any order,
 *   some keys absent). It lists every node, failed ones included ("health" is "online",
 *   "loading", or "fail"; the documentation says "failed").
 * - CLUSTER SLOTS (deprecated since 7.0, the only form before it): an array of ranges
 *   [start, end, primary, replica...], each node [endpoint, port, id, metadata...]; a primary
 *   owning several ranges appears once per range. Replicas that are failed or not yet synced
 *   are left out.
 * - In both, an endpoint that is null or "" means "the host this reply came from", and "?"
 *   means the node's preferred endpoint is unknown: such a node cannot be reached.
 * - Errors (hiredis gives their text without the leading '-'): "MOVED <slot> <host>:<port>"
 *   (the slot lives elsewhere now), "ASK <slot> <host>:<port>" (the slot is migrating: send
 *   ASKING then the command to that node, once, and keep the map), "TRYAGAIN ...",
 *   "CLUSTERDOWN ...", "CROSSSLOT ...", and outside Cluster "READONLY ..." (a replica refused a
 *   write), "LOADING ...", "MASTERDOWN ...". Each means the command was not executed. */
#ifndef CC_REDIS_CLUSTER_H
#define CC_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

struct redisReply; /* <hiredis/hiredis.h> */

#define REDIS_CLUSTER_SLOTS    16384
#define REDIS_CLUSTER_HOST_MAX 255 /* bytes of a node's host name or address */
#define REDIS_CLUSTER_ID_MAX   40  /* bytes of a node id */

/* The parsers' error codes. */
#define REDIS_CLUSTER_EREPLY (-1) /* the reply does not have the command's shape */
#define REDIS_CLUSTER_EERROR (-2) /* the server answered an error reply */
#define REDIS_CLUSTER_EUNKNOWNCMD                                                                  \
    (-3) /* the server does not know the command (before 7.0 for                                   \
            CLUSTER SHARDS): ask with CLUSTER SLOTS instead */

/* Returns a static description of a REDIS_CLUSTER_E* code (or "unknown error"). */
const char *redis_cluster_strerror(int err);

/* CRC16/XMODEM of buf[0..len). */
uint16_t redis_cluster_crc16(const void *buf, size_t len);

/* The slot (0..16383) of a key or shard channel of len bytes (binary-safe; key may be NULL
 * when len is 0), following the hash tag rule above. */
unsigned redis_cluster_slot(const char *key, size_t len);

/* --- the slot map --- */

typedef enum {
    REDIS_CLUSTER_HEALTH_UNKNOWN = 0, /* not reported (CLUSTER SLOTS) or an unknown value */
    REDIS_CLUSTER_HEALTH_ONLINE,
    REDIS_CLUSTER_HEALTH_LOADING,
    REDIS_CLUSTER_HEALTH_FAIL,
} redis_cluster_health_t;

typedef struct {
    char *host; /* owned by the map; NUL-terminated; an IPv6 address has no brackets */
    int port;   /* 1..65535 */
    char id[REDIS_CLUSTER_ID_MAX + 1]; /* the node id, "" when the reply named none */
    redis_cluster_health_t health;
} redis_cluster_node_t;

/* One primary and the nodes that replicate it. */
typedef struct {
    redis_cluster_node_t *nodes; /* nodes[0] is the primary; then the replicas, and (from
                                    CLUSTER SHARDS) any other node of the shard still flagged
                                    primary, such as a failed former primary */
    size_t n_nodes;              /* 1 or more */
} redis_cluster_shard_t;

typedef struct redis_cluster_map redis_cluster_map_t;

/* Builds a slot map from a CLUSTER SHARDS reply r that came from a node reached as
 * origin_host (borrowed; stands in for a null or "" endpoint; NULL makes such nodes
 * unreachable). Node fields are read by name, unknown ones ignored. A node is reached at its
 * endpoint, else (when the reply has no endpoint field) its ip; one whose endpoint is "?" or
 * that has neither, or no port, is left out. The primary is the node with role "master",
 * preferring one whose health is online, then loading, then unreported, then fail. A shard
 * with no reachable primary or no slot is left out, and its slots stay unassigned; slots no
 * shard claims stay unassigned too (the cluster may not cover every slot). Entries naming the
 * same primary (same id, or same host and port when there is no id) become one shard.
 * Returns 0 with *out set (free with redis_cluster_map_free), or REDIS_CLUSTER_EREPLY (a
 * wrong shape, a slot out of range or claimed by two shards, a host that is too long or holds
 * bytes no host has, a node id over 40 bytes), REDIS_CLUSTER_EERROR or
 * REDIS_CLUSTER_EUNKNOWNCMD, with *out NULL and a one-line reason in err (errlen bytes, may be
 * 0). r may be NULL (EREPLY). Never crashes on any reply tree hiredis can build. */
int redis_cluster_map_from_shards(redis_cluster_map_t **out, const struct redisReply *r,
                                  const char *origin_host, char *err, size_t errlen);

/* The same from a CLUSTER SLOTS reply: each range's first node is its primary, the others its
 * replicas (health unreported); a node is [endpoint, port, id?, ...] and needs at least the
 * first two; an id longer than 40 bytes is refused, a missing or non-string one is "". */
int redis_cluster_map_from_slots(redis_cluster_map_t **out, const struct redisReply *r,
                                 const char *origin_host, char *err, size_t errlen);

/* The map of one server that is not a cluster: every slot belongs to host:port (copied). NULL
 * when port is out of range or host is NULL. */
redis_cluster_map_t *redis_cluster_map_single(const char *host, int port);

/* Frees m and every string it holds; NULL is a no-op. */
void redis_cluster_map_free(redis_cluster_map_t *m);

/* The number of shards (distinct primaries owning at least one slot). Asking "every shard"
 * means asking shard(i)->nodes[0] for each i below it. */
size_t redis_cluster_map_shard_count(const redis_cluster_map_t *m);

/* Shard i (borrowed from m), or NULL when i is out of range. */
const redis_cluster_shard_t *redis_cluster_map_shard(const redis_cluster_map_t *m, size_t i);

/* The index of the shard owning slot, or -1 when no shard does or slot >= 16384. */
int redis_cluster_map_slot_shard(const redis_cluster_map_t *m, unsigned slot);

/* The primary owning slot (borrowed from m), or NULL as above. */
const redis_cluster_node_t *redis_cluster_map_primary(const redis_cluster_map_t *m, unsigned slot);

/* How many of the 16384 slots have an owner. */
unsigned redis_cluster_map_assigned(const redis_cluster_map_t *m);

/* --- errors --- */

typedef enum {
    REDIS_CLUSTER_ERR_NONE = 0,    /* not one of the kinds below: the command's own error */
    REDIS_CLUSTER_ERR_MOVED,       /* resend to the named node; the slot map is stale */
    REDIS_CLUSTER_ERR_ASK,         /* send ASKING then the command to the named node; map kept */
    REDIS_CLUSTER_ERR_TRYAGAIN,    /* multi-key command during a slot migration: retry later */
    REDIS_CLUSTER_ERR_CLUSTERDOWN, /* the cluster is down or the slot unserved: retry later */
    REDIS_CLUSTER_ERR_CROSSSLOT,   /* keys of several slots in one command: a caller's bug */
    REDIS_CLUSTER_ERR_READONLY,    /* a write reached a replica: find the primary again, retry */
    REDIS_CLUSTER_ERR_LOADING,     /* the server is loading its data set: retry later */
    REDIS_CLUSTER_ERR_MASTERDOWN,  /* a replica lost its primary and serves nothing: retry */
} redis_cluster_err_t;

/* The kind of the error text s[0..len) (as hiredis gives it, without '-'): its first word,
 * upper case, followed by a space or the end. */
redis_cluster_err_t redis_cluster_error_kind(const char *s, size_t len);

/* 1 when a command that failed with kind was not executed and sending it again (after the
 * redirect, a short delay or finding the primary again) can succeed: every kind but NONE and
 * CROSSSLOT; 0 otherwise. */
int redis_cluster_error_retryable(redis_cluster_err_t kind);

typedef struct {
    redis_cluster_err_t kind;              /* REDIS_CLUSTER_ERR_MOVED or REDIS_CLUSTER_ERR_ASK */
    unsigned slot;                         /* 0..16383 */
    char host[REDIS_CLUSTER_HOST_MAX + 1]; /* "" = the host of the connection that got it */
    int port;                              /* 1..65535 */
} redis_cluster_redirect_t;

/* Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" in s[0..len). The host is
 * everything before the last ':' (an IPv6 address comes without brackets; brackets, if any,
 * are removed). Returns 0 with *out filled, or -1 (*out zeroed) when s is not such a redirect
 * or is malformed: a slot or port out of range, a host too long or with bytes no host has. */
int redis_cluster_redirect_parse(const char *s, size_t len, redis_cluster_redirect_t *out);

#endif
