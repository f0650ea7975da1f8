/* The node's control traffic on Redis, outside the adapter's channels: a heartbeat every
 * --heartbeat-interval on P:heartbeat, the node's registry entry P:node:<id> (expiring, so a
 * restarted admin sees the cluster at once), and commands on P:command:<id> and P:command:all
 * (drain, undrain) answered on P:reply. P is --control-prefix; the names and documents are
 * proto/control_msg.h's. A node running the chat app announces its chat limits in its
 * heartbeats. */
#ifndef CC_CONTROL_H
#define CC_CONTROL_H

#include "cluster.h"
#include "drain.h"
#include "sbuf.h"
#include "server.h"
#include "sio.h"

#include <jansson.h>

typedef struct control control_t;

/* Starts heartbeats and listens for commands. Returns 0, or -1 (logged). */
int control_start(control_t **out, server_t *srv, sio_server_t *sio, cluster_t *c, drain_t *drain);
/* Stops the timers; memory is freed once they are closed. NULL is a no-op. */
void control_stop(control_t *ctl);
/* Appends the heartbeat document (what is published) to json; nothing when it cannot be
 * encoded (logged). */
void control_heartbeat_json(control_t *ctl, sbuf_t *json);

#endif
