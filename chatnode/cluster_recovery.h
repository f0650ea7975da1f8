/* The recovery store on Redis (docs/recovery.md, proto/rec_store.h): what makes connection-
 * state recovery cluster-wide and crash-safe. Logged packets get their offset from the
 * namespace's sequence and are published by the log's script; sessions are written as they
 * change; a restore reads only the streams of the session's rooms from its offset on, and is
 * answered once this node has delivered every logged packet up to what it read (the script
 * publishes a marker that comes back on the subscription in order). The same marker tells
 * the other nodes that the session moved. */
#ifndef CC_CLUSTER_RECOVERY_H
#define CC_CLUSTER_RECOVERY_H

#include "chatnode_config.h"
#include "sio.h"

typedef struct cluster cluster_t;
typedef struct cluster_rec cluster_rec_t;

/* Installs the store in sio and its hooks in the adapter c. Never fails. */
cluster_rec_t *cluster_rec_start(cluster_t *c, sio_server_t *sio, const chatnode_config_t *cfg);
/* Removes the store from sio and the adapter (before cluster_stop); restores still waiting are
 * answered "unavailable". NULL: no-op. */
void cluster_rec_stop(cluster_rec_t *r);

#endif
