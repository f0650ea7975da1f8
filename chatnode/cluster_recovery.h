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

/* Installs the store in sio (classic format only). Never fails. */
cluster_rec_t *cluster_rec_start(cluster_t *c, sio_server_t *sio, const chatnode_config_t *cfg);
/* A namespace came into being: its marker channel is listened to. */
void cluster_rec_nsp_added(cluster_rec_t *r, sio_nsp_t *nsp);
/* A logged packet is being delivered here: kept for the restores of nsp whose marker came
 * before their reply (delivered to the restored socket after its replay, when it is for it). */
void cluster_rec_logged(cluster_rec_t *r, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                        const str_t *except, size_t nexcept, const char *data, size_t len,
                        const sio_attachment_t *att, unsigned natt, uint64_t offset);
/* A non-volatile broadcast without an offset from another server (payload: its message as
 * it came): held until its logged copy comes back (then the copy is delivered), or delivered
 * as it is after a while; logged by this node when it holds the logger lease. Returns 0, or
 * -1 when it cannot be logged (the caller delivers it now). */
int cluster_rec_foreign(cluster_rec_t *r, sio_nsp_t *nsp, const char *payload, size_t plen,
                        const str_t *rooms, size_t nrooms, const str_t *except, size_t nexcept,
                        const char *data, size_t len, const sio_attachment_t *att, unsigned natt);
/* Whether broadcasts of servers without a log are held here, waiting for their copies. */
int cluster_rec_holding(const cluster_rec_t *r);
/* cb runs once no broadcast is held any more (later; not at all after cluster_rec_stop). */
void cluster_rec_when_released(cluster_rec_t *r, void (*cb)(void *ud), void *ud);
/* Removes the store from sio; restores still waiting are answered "unavailable". NULL: no-op. */
void cluster_rec_stop(cluster_rec_t *r);

#endif
