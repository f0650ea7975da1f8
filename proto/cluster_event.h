/* The cluster's events for the systems around it (docs/protocols.md, section 6): what
 * chatnodes and adminnode record in one Redis stream, and what webhooks then carry. Both
 * binaries spell the stream's name, the event types and the entry's fields here. Pure: no I/O
 * (a stream entry is read from hiredis reply structures, which this file only looks at).
 *
 *   P:events   stream   one entry per event; id = the entry's id
 *
 * An entry's fields: type (one of the names below), ts (ms since the epoch, decimal), node
 * (the uid of the node that recorded it) and data (a JSON object, the event's own fields):
 *
 *   user_online, user_offline        {user: {id, name}}   a user's first socket in the
 *                                                          cluster, and its last one gone
 *   member_joined, member_left       {room, user: {id, name}}
 *   room_occupied, room_vacated      {room}
 *   message                          {room, message: {id, from: {id, name}, text, ts}}
 *   private_message                  {to, message: {id, from: {id, name}, text, ts}}
 *   node_up, node_draining, node_down {node: {id, tag, address}}
 */
#ifndef CC_CLUSTER_EVENT_H
#define CC_CLUSTER_EVENT_H

#include "sbuf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct redisReply; /* <hiredis/hiredis.h> */

typedef enum {
    CLUSTER_EVENT_USER_ONLINE,
    CLUSTER_EVENT_USER_OFFLINE,
    CLUSTER_EVENT_MEMBER_JOINED,
    CLUSTER_EVENT_MEMBER_LEFT,
    CLUSTER_EVENT_ROOM_OCCUPIED,
    CLUSTER_EVENT_ROOM_VACATED,
    CLUSTER_EVENT_MESSAGE,
    CLUSTER_EVENT_PRIVATE_MESSAGE,
    CLUSTER_EVENT_NODE_UP,
    CLUSTER_EVENT_NODE_DRAINING,
    CLUSTER_EVENT_NODE_DOWN,
    CLUSTER_EVENT_COUNT
} cluster_event_type_t;

/* The type's name ("user_online"...), or NULL for a value out of range. */
const char *cluster_event_name(cluster_event_type_t t);
/* The type named name[0..len), or -1. */
int cluster_event_parse_name(const char *name, size_t len);

/* Resets b to P:events. */
void cluster_event_key(sbuf_t *b, const char *prefix);

/* The members data must have for type t (each a string, or an object for user, message and
 * node): 0 when it has them, -1 when one is missing or of the wrong kind. */
int cluster_event_check(cluster_event_type_t t, const json_t *data);

/* An event as read back from the stream. */
typedef struct {
    char id[48]; /* the stream entry's id */
    int type;    /* a cluster_event_type_t */
    int64_t ts;  /* ms since the epoch */
    char node[65];
    json_t *data; /* owned */
} cluster_event_t;

/* Reads one stream entry ([id, [field, value, ...]] as XRANGE and XREADGROUP give it).
 * Returns 0 with *out filled (free with cluster_event_free), or -1 when the entry is not an
 * event: a field missing, an unknown type, data that is not a JSON object with the type's
 * members, a ts that is not a decimal number, a node that control_msg_id_valid refuses. */
int cluster_event_read(const struct redisReply *entry, cluster_event_t *out);
void cluster_event_free(cluster_event_t *e);

/* The event as webhooks carry it: {"id","type","ts","node","data"} (a new object, or NULL
 * when it cannot be made: memory, or an id that is not UTF-8). */
json_t *cluster_event_json(const cluster_event_t *e);

#endif
