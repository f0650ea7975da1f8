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
/* Resets b to P:events:new, the channel a chatnode publishes on (an empty message) shortly
 * after it added events, so that readers need not poll the stream to hear of them soon. */
void cluster_event_wake_channel(sbuf_t *b, const char *prefix);

/* ---- writing an event ----
 * Both binaries add an event with the same command, built here:
 *   XADD P:events MAXLEN ~ <max_len> * type <name> ts <ms> node <recorder> data <json>
 * A node's state change is recorded once however many adminnodes see it: the same XADD inside
 * an EVAL that first compares the state with the last one recorded for that node, kept in
 * {P:events}:node:<id> (its hash tag is P:events, so both keys share a slot on Redis Cluster)
 * for state_ttl seconds, and adds nothing when it is the same. */
#define CLUSTER_EVENT_CMD_MAX 18
typedef struct {
    const char *argv[CLUSTER_EVENT_CMD_MAX];
    size_t lens[CLUSTER_EVENT_CMD_MAX];
    int argc;
    sbuf_t key;   /* P:events: the key to route the command by */
    sbuf_t state; /* the node's state key (EVAL only) */
    char max[24], ts[24], ttl[24];
    char *data;
} cluster_event_cmd_t;

/* Fills cmd with the XADD of an event of type t with data (borrowed; checked with
 * cluster_event_check) recorded by recorder at ts_ms. Returns 0, or -1 (cmd then holds nothing
 * to free) when the type is out of range, data lacks a member, or max_len is not positive. */
int cluster_event_cmd(cluster_event_cmd_t *cmd, const char *prefix, long long max_len,
                      cluster_event_type_t t, int64_t ts_ms, const char *recorder,
                      const json_t *data);
/* The same for a node event (t one of the node_* types, data {node: {id, ...}}): the EVAL
 * that adds it only when state_name differs from the node's last recorded state. The reply
 * is 1 when it was added, 0 when not. */
int cluster_event_node_cmd(cluster_event_cmd_t *cmd, const char *prefix, long long max_len,
                           long long state_ttl, cluster_event_type_t t, int64_t ts_ms,
                           const char *recorder, const json_t *data);
void cluster_event_cmd_free(cluster_event_cmd_t *cmd);

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
