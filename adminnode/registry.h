/* The node registry of adminnode: which chatnodes the cluster has and whether each is up,
 * draining or down, from their heartbeats on P:heartbeat and their P:node:<id> keys, and the
 * chat limits the live ones announce; and the commands sent to one node (P:command:<id>) whose
 * answers come back on P:reply. Names and documents are proto/control_msg.h's.
 * reg_* is the state machine alone: time comes in as arguments, so tests drive it with a fake
 * clock. registry_* ties it to the loop (one timer), Redis and the requests waiting on it. */
#ifndef CC_REGISTRY_H
#define CC_REGISTRY_H

#include "bus.h"
#include "chat_store.h"
#include "control_msg.h"
#include "strmap.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* A node is down after this many heartbeat intervals without one. */
#define REG_MISSED_HEARTBEATS 3
/* Nodes kept at most; heartbeats of further ids are ignored (and logged once). */
#define REG_MAX_NODES 10000
typedef enum { REG_UP = 0, REG_DRAINING = 1, REG_DOWN = 2 } reg_state_t;
#define REG_NSTATES 3

/* "up", "draining" or "down". */
const char *reg_state_name(reg_state_t s);

typedef struct {
    char *id;           /* owned; the key of the map */
    json_t *hb;         /* the last heartbeat (owned) */
    uint64_t last_seen; /* clock time (ms) the last heartbeat was sent */
    reg_state_t state;
    int has_chat;             /* the last heartbeat announced chat limits: */
    chat_store_limits_t chat; /* these */
} reg_node_t;

/* What changed: from is -1 for a new node, to is -1 for a forgotten one (freed after the
 * call). */
typedef void (*reg_change_cb)(void *ud, const reg_node_t *n, int from, int to);

typedef struct {
    uint64_t interval_ms;     /* the heartbeat interval of the chatnodes */
    uint64_t forget_after_ms; /* how long a down node stays listed */
    strmap_t nodes;           /* id -> reg_node_t */
    size_t counts[REG_NSTATES];
    int full_logged;
    reg_change_cb on_change; /* may be NULL */
    void *ud;
} reg_t;

void reg_init(reg_t *r, uint64_t interval_ms, uint64_t forget_after_ms);
/* Frees every node. */
void reg_free(reg_t *r);

/* Takes a heartbeat (JSON text, borrowed) sent age ms before now. A node that was down or
 * unknown comes back up (or draining, as the heartbeat says); a heartbeat older than the one
 * kept changes nothing. Returns the node (borrowed, valid until the next call that changes r),
 * or NULL when the text is not a v1 heartbeat with a usable id, or the registry is full. */
const reg_node_t *reg_heartbeat(reg_t *r, const char *json, size_t len, uint64_t now, uint64_t age);

/* Clock time (ms) of the next state change of n: down, then forgotten. */
uint64_t reg_node_deadline(const reg_t *r, const reg_node_t *n);

/* Applies the changes due at now: a node is down once REG_MISSED_HEARTBEATS intervals went
 * without a heartbeat, and forgotten forget_after_ms later. Returns the clock time of the next
 * change, or UINT64_MAX when there is none. */
uint64_t reg_tick(reg_t *r, uint64_t now);

/* The node of that id, or NULL (borrowed). */
const reg_node_t *reg_get(const reg_t *r, const char *id);
/* Nodes in state s; reg_size: all of them. */
size_t reg_count(const reg_t *r, reg_state_t s);
size_t reg_size(const reg_t *r);
/* The nodes sorted by id: a malloc'ed array (the caller frees it, NULL when n is 0) of
 * borrowed pointers, valid until the next call that changes r. */
const reg_node_t **reg_sorted(const reg_t *r, size_t *n);

/* The chat limits of the cluster: of the nodes up or draining whose last heartbeat announced
 * chat limits, the smallest history size, the longest history ttl and the smallest max text
 * (a stored message is then one every such node would have taken, trimmed as the strictest
 * trims it, and never made to expire sooner than a node would keep it). Returns how many nodes
 * announced limits; with 0, *out is unchanged. */
size_t reg_chat_limits(const reg_t *r, chat_store_limits_t *out);

/* The node as the API shows it: {id, tag, address, state, last_seen, pid, version, started,
 * connections, sockets, rooms, events_in_per_s, events_out_per_s, bytes_in, bytes_out, rss,
 * draining}. epoch_offset turns clock times into ms since the epoch. Returns a new object. */
json_t *reg_node_json(const reg_node_t *n, int64_t epoch_offset);

/* ---- the registry of a running adminnode ---- */

typedef struct registry registry_t;

#define REG_ECLOSED  (-1) /* the registry stopped before the answer came */
#define REG_ENOBUS   (-2) /* no Redis, or its connection is down */
#define REG_EUNKNOWN (-3) /* no such node */
#define REG_EINVAL   (-4) /* the command cannot be encoded */

/* A command's answer: status 0 and the reply (borrowed for the call), or REG_ECLOSED with
 * NULL. */
typedef void (*reg_reply_cb)(void *ud, int status, const control_msg_reply_t *reply);
/* The first load from Redis is done (status 0), or the registry stopped (REG_ECLOSED). */
typedef void (*reg_ready_cb)(void *ud, int status);

typedef struct {
    const char *prefix;       /* the control prefix, P (copied) */
    uint64_t interval_ms;     /* --heartbeat-interval */
    uint64_t forget_after_ms; /* --forget-after */
    reg_change_cb on_change;  /* told of every state change after it is logged (may be NULL) */
    void *ud;
} registry_options_t;

/* Creates the registry on loop; bus (borrowed, may be NULL) is the cluster's Redis. The
 * caller subscribes registry_on_heartbeat to P:heartbeat and registry_on_reply to P:reply,
 * and calls registry_redis_state on every change of the bus's connections. Never fails. */
registry_t *registry_new(uv_loop_t *loop, bus_t *bus, const registry_options_t *o);
/* Stops: every waiting callback fires with REG_ECLOSED (during this call), the bus is no
 * longer used, and the registry is freed from the loop once its timer is closed. Call it after
 * bus_close, whose cancelled commands still reach the registry. NULL is a no-op. */
void registry_stop(registry_t *reg);

/* Listener callbacks (listen_cb), ud is the registry. */
void registry_on_heartbeat(void *ud, const char *channel, size_t len, const char *payload,
                           size_t plen);
void registry_on_reply(void *ud, const char *channel, size_t len, const char *payload, size_t plen);
/* A connection of the bus changed state: when the command connection comes up (at start and
 * after every reconnect) the registry loads the P:node:* keys (SCAN of every shard, one
 * after the other and again from the first when their number changes meanwhile, then GET and
 * PTTL of each key). */
void registry_redis_state(registry_t *reg, bus_conn_t conn, bus_state_t state);

/* The nodes (borrowed). Ask it who is up with reg_count(.., REG_UP), reg_get, reg_sorted. */
const reg_t *registry_nodes(const registry_t *reg);
/* Add to a clock time of the registry to get ms since the epoch. */
int64_t registry_epoch_offset(const registry_t *reg);
/* 1 once the P:node:* keys were loaded once (with Redis), or always without Redis. */
int registry_loaded(const registry_t *reg);

/* Calls cb(ud, 0) once the first load is done (at once, inside this call, if it is). */
void registry_when_loaded(registry_t *reg, reg_ready_cb cb, void *ud);

/* Sends the command cmd (control_msg_command_text, with a fresh command id) to the node and
 * calls cb once its reply comes. Returns 0, REG_EUNKNOWN for a node not in the registry,
 * REG_EINVAL for a command that cannot be encoded (CONTROL_MSG_CMD_UNKNOWN), or REG_ENOBUS
 * without a connected Redis (cb then never fires). */
int registry_command(registry_t *reg, const char *node, control_msg_cmd_t cmd, reg_reply_cb cb,
                     void *ud);

/* Forgets every waiting command and load waiter of ud: their callbacks never fire. Returns
 * how many there were. */
size_t registry_cancel(registry_t *reg, void *ud);

#endif
