/* The cluster adapter: shares broadcasts and room operations with the other servers on one
 * Redis, in the wire format of @socket.io/redis-adapter 8.x (see shared/spec), so chatnodes,
 * Node.js socket.io servers and @socket.io/redis-emitter interoperate. Without --redis no
 * cluster exists and sio works alone. */
#ifndef CC_CLUSTER_H
#define CC_CLUSTER_H

#include "chatnode_config.h"
#include "sbuf.h"
#include "server.h"
#include "sio.h"

typedef struct cluster cluster_t;

/* Connects to Redis (asynchronously: a Redis that is down is retried, local service goes on)
 * and attaches to sio. Returns 0, or -1 with a message in err (bad URL or settings). */
int cluster_start(cluster_t **out, server_t *srv, sio_server_t *sio, const chatnode_config_t *cfg,
                  char *err, size_t errlen);

/* Detaches and closes the Redis connections; the memory is freed once they are closed (the
 * caller keeps running the loop). NULL is a no-op. */
void cluster_stop(cluster_t *c);

/* Appends the cluster's state to a JSON object being written (a leading comma, then
 * "bus":{...}). */
void cluster_health(const cluster_t *c, sbuf_t *json);

#endif
