/* Deadlines of equal delay. Every entry of one list waits the same delay, so an entry added now
 * expires after every entry already there: appending keeps a list sorted, its head is always
 * the next to expire, and one timer serves a whole list whatever its length. An entry is 24
 * bytes embedded in what it times (a session, a connection, a request) instead of a uv_timer_t
 * each.
 *
 * Two layers: deadline_list_* is the pure list (the caller passes the time in, so it runs on a
 * fake clock), and deadline_queue_* is a list driven by one libuv timer of its own that calls
 * back for each expired entry. */
#ifndef CC_DEADLINE_H
#define CC_DEADLINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* An entry, embedded in what it times. Zeroed, it is in no list. */
typedef struct deadline_node {
    struct deadline_node *prev, *next;
    uint64_t due; /* in the caller's clock (ms); 0 when in no list */
} deadline_node_t;

/* ---- the pure list ---- */

typedef struct {
    deadline_node_t head; /* sentinel: head.next is the first entry, head.prev the last */
    uint64_t delay;       /* what every entry waits, in the clock's unit */
} deadline_list_t;

/* Initialises l empty. l holds pointers to itself: it must not move while it has entries. */
void deadline_list_init(deadline_list_t *l, uint64_t delay);

/* Appends n (zeroed, or in a list or removed from one) to expire delay after now; first
 * unlinks n from whatever list it is in. Its due
 * time is never before the current last entry's (so the list stays sorted even if now went
 * backwards) and never 0. */
void deadline_list_add(deadline_list_t *l, deadline_node_t *n, uint64_t now);

/* Unlinks and returns the first entry when it is due at now (due <= now), else NULL. */
deadline_node_t *deadline_list_pop_due(deadline_list_t *l, uint64_t now);

/* When the first entry is due, or UINT64_MAX for an empty list. */
uint64_t deadline_list_next_due(const deadline_list_t *l);

/* The first (next to expire) or last entry, or NULL for an empty list (borrowed). */
deadline_node_t *deadline_list_first(const deadline_list_t *l);
deadline_node_t *deadline_list_last(const deadline_list_t *l);

/* The entry after n in l, or NULL when n is the last. n must be in l. */
deadline_node_t *deadline_list_next(const deadline_list_t *l, const deadline_node_t *n);

static inline int deadline_list_empty(const deadline_list_t *l)
{
    return l->head.next == &l->head;
}

/* Unlinks n from whatever list it is in; a no-op on a node in none. An entry leaves its list
 * through this without naming the list. */
void deadline_node_remove(deadline_node_t *n);

/* Is n in a list? */
static inline int deadline_node_queued(const deadline_node_t *n)
{
    return n->due != 0;
}

/* ---- the libuv-driven queue ---- */

typedef struct deadline_queue deadline_queue_t;
/* Called for each entry whose delay has passed, in order, the entry already unlinked; it may
 * add the entry again (to this queue or another). */
typedef void (*deadline_expire_cb)(deadline_queue_t *q, deadline_node_t *node);

struct deadline_queue {
    uv_timer_t timer; /* its data is the queue */
    deadline_list_t list;
    deadline_expire_cb expire;
    void *data; /* the caller's */
};

/* Initialises q on loop, every entry waiting delay_ms of loop time. Returns 0 or a libuv error
 * (then q needs no close). */
int deadline_queue_init(deadline_queue_t *q, uv_loop_t *loop, uint64_t delay_ms,
                        deadline_expire_cb expire, void *data);

/* (Re)queues node to expire delay_ms from now (uv_now), unlinking it first from whatever list
 * it is in. After deadline_queue_close the node is linked but never fires. */
void deadline_queue_add(deadline_queue_t *q, deadline_node_t *node);

/* Unlinks node if it is queued, whichever list it is in (as deadline_node_remove: q is not
 * used, and may be NULL). When it was the first, the timer fires early once and re-arms. */
void deadline_queue_remove(deadline_queue_t *q, deadline_node_t *node);

/* What every entry of q waits, in ms. */
uint64_t deadline_queue_delay_ms(const deadline_queue_t *q);

/* Closes the timer; cb (may be NULL) runs from its close callback with &q->timer, whose data
 * is q. The queued entries are unlinked, without their callback. */
void deadline_queue_close(deadline_queue_t *q, uv_close_cb cb);

#endif
