/* The cluster's events as a chatnode records them (docs/protocols.md, section 6; the contract
 * is proto/cluster_event.h): one XADD to P:events per event, trimmed by length at each add
 * (--events-max-len, approximately) and by age (--events-ttl) every so often. Nothing is
 * recorded while the node runs alone, or with --events-max-len 0. */
#ifndef CC_EVENTS_H
#define CC_EVENTS_H

#include "chatnode_config.h"
#include "cluster_event.h"
#include "sio.h"

#include <jansson.h>

/* Records an event of type with data (borrowed; it must have the type's members) for the
 * node of sio. A write that fails is logged and dropped: events are best effort once the
 * node could not reach Redis. */
void events_record(sio_server_t *sio, const chatnode_config_t *cfg, cluster_event_type_t type,
                   json_t *data);

#endif
