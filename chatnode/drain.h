/* Draining a node: new sessions are refused and the open ones closed in batches
 * (--drain-batch every --drain-interval) with a transport close, so that socket.io-client
 * reconnects, elsewhere behind a balancer. Used by the drain command and by SIGTERM. */
#ifndef CC_DRAIN_H
#define CC_DRAIN_H

#include "chatnode_config.h"
#include "eio_session.h"

#include <stdint.h>
#include <uv.h>

typedef struct drain drain_t;
typedef void (*drain_done_cb)(void *ud);

/* Drains the sessions of es (borrowed; it outlives the drain) on loop, by cfg's batches. */
drain_t *drain_new(uv_loop_t *loop, const chatnode_config_t *cfg, eio_server_t *es);
/* Starts (on) or stops draining. */
void drain_set(drain_t *d, int on);
/* Is the node draining (by drain_set or drain_then)? */
int drain_active(const drain_t *d);
/* Drains, and calls cb once no session is open any more, or after timeout_ms at the latest
 * (once; not at all if drain_free comes first). */
void drain_then(drain_t *d, uint64_t timeout_ms, drain_done_cb cb, void *ud);
/* Stops and frees (from the loop, once its timers are closed). NULL is a no-op. */
void drain_free(drain_t *d);

#endif
