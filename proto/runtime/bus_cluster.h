/* The bus on connections of its own (rconn), for Redis Cluster and for sharded pub/sub: what
 * bus.c hands every call to when the URL is redis+cluster://, or when sharded pub/sub is
 * wanted on a single server (bus_options_t.sharded). bus.h is the contract; this header only
 * names the entry points bus.c calls.
 *
 * On a cluster the slot map is read from any reachable node (CLUSTER SHARDS, or CLUSTER SLOTS
 * before Redis 7), at start, after a MOVED, an unasked SUNSUBSCRIBE (a slot moved), a
 * CLUSTERDOWN or a lost connection, and every 30 seconds. Each primary gets a command
 * connection; each primary owning wanted shard channels gets a subscriber connection for
 * them; one more subscriber connection, on any primary, carries SUBSCRIBE and PSUBSCRIBE
 * (classic messages reach every node of a cluster). Classic PUBLISHes all go to the primary
 * of slot 0, so they keep their order; SPUBLISH goes to the channel's shard. On one server
 * every slot is that server's. */
#ifndef CC_BUS_CLUSTER_H
#define CC_BUS_CLUSTER_H

#include "bus.h"

typedef struct busc busc_t;

typedef enum { BUSC_CHANNEL = 0, BUSC_PATTERN, BUSC_SHARD } busc_kind_t;

int busc_open(busc_t **out, uv_loop_t *loop, const redis_url_t *url, const bus_options_t *o);
int busc_subscribe(busc_t *b, busc_kind_t kind, const char *name, size_t len);
int busc_unsubscribe(busc_t *b, busc_kind_t kind, const char *name, size_t len);
/* sharded: SPUBLISH, else PUBLISH */
int busc_publish(busc_t *b, int sharded, const char *channel, size_t clen, const char *payload,
                 size_t plen);
/* Routed by key's slot when key is not NULL, else to primary shard (shard < 0: any). */
int busc_command(busc_t *b, const char *key, size_t keylen, long shard, unsigned replicas,
                 uint32_t timeout_ms, int argc, const char *const *argv, const size_t *lens,
                 bus_reply_cb cb, void *ud);
size_t busc_shards(const busc_t *b);
const char *busc_shard_addr(const busc_t *b, size_t shard);
void busc_stats(const busc_t *b, bus_stats_t *st);
bus_state_t busc_state(const busc_t *b, bus_conn_t conn);
int busc_close(busc_t *b, bus_closed_cb done, void *done_ud);

#endif
