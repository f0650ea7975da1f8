/* Deadline queues: every entry of one queue waits the same delay, so entries expire in the
 * order they were added and a queue is a FIFO list driven by a single libuv timer. This keeps
 * per-session timers (heartbeat, connect timeout, upgrade timeout) at 24 bytes each instead
 * of a uv_timer_t per session. */
#ifndef CC_DEADLINE_H
#define CC_DEADLINE_H

#include <stdint.h>
#include <uv.h>

typedef struct dl_node {
    struct dl_node *prev, *next;
    uint64_t due; /* loop time in ms; 0 when not queued */
} dl_node_t;

typedef struct dl_queue dl_queue_t;
typedef void (*dl_expire_cb)(dl_queue_t *q, dl_node_t *node);

struct dl_queue {
    uv_timer_t timer;
    dl_node_t head; /* sentinel */
    uint64_t delay_ms;
    dl_expire_cb expire;
    void *data;
};

/* Initialises q on loop; expire is called for each node whose delay has passed (the node is
 * already unlinked). Returns 0 or a libuv error. */
int dl_init(dl_queue_t *q, uv_loop_t *loop, uint64_t delay_ms, dl_expire_cb expire, void *data);
/* (Re)queues node to expire delay_ms from now. */
void dl_add(dl_queue_t *q, dl_node_t *node);
/* Unlinks node if queued (safe on a node that is not). */
void dl_remove(dl_queue_t *q, dl_node_t *node);
static inline int dl_queued(const dl_node_t *node)
{
    return node->due != 0;
}
/* Closes the timer; cb (may be NULL) runs from the close callback. Queued nodes are dropped. */
void dl_close(dl_queue_t *q, uv_close_cb cb);

#endif
