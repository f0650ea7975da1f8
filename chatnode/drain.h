/* Draining a node: new sessions are refused and the open ones closed in batches
 * (--drain-batch every --drain-interval) with a transport close, so that socket.io-client
 * reconnects, elsewhere behind a balancer. Used by the drain command and by SIGTERM. */
#ifndef CC_DRAIN_H
#define CC_DRAIN_H

#include "server.h"

typedef struct drain drain_t;
typedef void (*drain_done_cb)(void *ud);

drain_t *drain_new(server_t *srv);
/* Starts (on) or stops draining. */
void drain_set(drain_t *d, int on);
/* Drains, and calls cb once no session is open any more, or after timeout_ms at the latest
 * (once; not at all if drain_free comes first). */
void drain_then(drain_t *d, uint64_t timeout_ms, drain_done_cb cb, void *ud);
/* Stops and frees (from the loop, once its timers are closed). NULL is a no-op. */
void drain_free(drain_t *d);

#endif
