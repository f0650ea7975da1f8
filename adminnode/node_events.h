/* The cluster events adminnode records from its registry (docs/protocols.md, section 6):
 * node_up, node_draining and node_down as a chatnode's state changes, each once however many
 * adminnodes see it (cluster_event_node_cmd); and, for a node found down, the presence it left
 * behind: every room in its set (K:chat:rooms-of:<uid>) is pruned of its entries, recording the
 * member_left, room_vacated and user_offline they owe (chat_store.h, presence), then the set
 * goes. Two adminnodes pruning at once record each of those once: the prune removes and
 * reports an entry in one step. */
#ifndef CC_NODE_EVENTS_H
#define CC_NODE_EVENTS_H

#include "bus.h"
#include "registry.h"

typedef struct {
    const char *control_prefix; /* P (copied) */
    const char *redis_key;      /* K, the chat's key prefix (copied) */
    const char *recorder;       /* the entries' node field: this adminnode's id (copied) */
    long long max_len;          /* P:events keeps about this many entries */
    long long state_ttl;        /* seconds a node's last recorded state is kept */
} node_events_options_t;

typedef struct node_events node_events_t;

/* bus (borrowed) must outlive every call below; NULL: nothing is recorded. */
node_events_t *node_events_new(bus_t *bus, const node_events_options_t *o);
/* Frees ne; operations in flight own what they need. NULL is a no-op. */
void node_events_free(node_events_t *ne);

/* A reg_change_cb (ud: the node_events_t). */
void node_events_changed(void *ud, const reg_node_t *n, int from, int to);

#endif
