/* The cluster's events as a chatnode records them (docs/protocols.md, section 6; the contract
 * is proto/cluster_event.h): one XADD to P:events per event, trimmed by length at each add
 * (--events-max-len, approximately) and by age (--events-ttl) every so often, and a wake-up
 * on P:events:new a moment after the last add, so that readers (adminnode's webhooks) hear of
 * new events without polling. Nothing is recorded while the node runs alone, or with
 * --events-max-len 0. */
#ifndef CC_EVENTS_H
#define CC_EVENTS_H

#include "chatnode_config.h"
#include "cluster_event.h"
#include "sio.h"

#include <jansson.h>
#include <uv.h>

typedef struct events events_t;

/* The recorder of sio's node on loop (cfg borrowed, outliving it). Never fails. */
events_t *events_new(uv_loop_t *loop, sio_server_t *sio, const chatnode_config_t *cfg);
/* Closes its timer and frees it from the loop. NULL is a no-op. */
void events_free(events_t *ev);

/* Records an event of type with data (borrowed; it must have the type's members). A write
 * that fails is logged and dropped: events are best effort once the node could not reach
 * Redis. */
void events_record(events_t *ev, cluster_event_type_t type, json_t *data);

#endif
