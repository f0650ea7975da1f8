/* Deadline lists of equal delays, and queues driving one on a libuv timer (see deadline.h). */
#include "deadline.h"

/* ---- the pure list ---- */

void deadline_list_init(deadline_list_t *l, uint64_t delay)
{
    l->head.prev = l->head.next = &l->head;
    l->head.due = 0;
    l->delay = delay;
}

void deadline_node_remove(deadline_node_t *n)
{
    if (!deadline_node_queued(n)) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->due = 0;
}

void deadline_list_add(deadline_list_t *l, deadline_node_t *n, uint64_t now)
{
    deadline_node_remove(n);
    n->due = now + l->delay;
    deadline_node_t *last = deadline_list_last(l);
    if (last && n->due < last->due) n->due = last->due;
    if (n->due == 0) n->due = 1;
    n->prev = l->head.prev;
    n->next = &l->head;
    l->head.prev->next = n;
    l->head.prev = n;
}

deadline_node_t *deadline_list_pop_due(deadline_list_t *l, uint64_t now)
{
    deadline_node_t *n = deadline_list_first(l);
    if (!n || n->due > now) return NULL;
    deadline_node_remove(n);
    return n;
}

uint64_t deadline_list_next_due(const deadline_list_t *l)
{
    return deadline_list_empty(l) ? UINT64_MAX : l->head.next->due;
}

deadline_node_t *deadline_list_first(const deadline_list_t *l)
{
    return deadline_list_empty(l) ? NULL : l->head.next;
}

deadline_node_t *deadline_list_last(const deadline_list_t *l)
{
    return deadline_list_empty(l) ? NULL : l->head.prev;
}

deadline_node_t *deadline_list_next(const deadline_list_t *l, const deadline_node_t *n)
{
    return n->next == &l->head ? NULL : n->next;
}

/* ---- the libuv-driven queue ---- */

static void fire(uv_timer_t *t);

/* Sets the timer to the first entry's due time, or stops it for an empty queue. */
static void arm(deadline_queue_t *q)
{
    if (uv_is_closing((uv_handle_t *)&q->timer)) return;
    uint64_t due = deadline_list_next_due(&q->list);
    if (due == UINT64_MAX) {
        uv_timer_stop(&q->timer);
        return;
    }
    uint64_t now = uv_now(q->timer.loop);
    uv_timer_start(&q->timer, fire, due > now ? due - now : 0, 0);
}

static void fire(uv_timer_t *t)
{
    deadline_queue_t *q = t->data;
    uint64_t now = uv_now(t->loop);
    deadline_node_t *n;
    while ((n = deadline_list_pop_due(&q->list, now)) != NULL) q->expire(q, n);
    arm(q);
}

int deadline_queue_init(deadline_queue_t *q, uv_loop_t *loop, uint64_t delay_ms,
                        deadline_expire_cb expire, void *data)
{
    deadline_list_init(&q->list, delay_ms);
    q->expire = expire;
    q->data = data;
    int rc = uv_timer_init(loop, &q->timer);
    if (rc) return rc;
    q->timer.data = q;
    return 0;
}

void deadline_queue_add(deadline_queue_t *q, deadline_node_t *node)
{
    deadline_node_remove(node);
    int was_empty = deadline_list_empty(&q->list);
    deadline_list_add(&q->list, node, uv_now(q->timer.loop));
    if (was_empty) arm(q);
}

void deadline_queue_remove(deadline_queue_t *q, deadline_node_t *node)
{
    (void)q;
    deadline_node_remove(node);
}

uint64_t deadline_queue_delay_ms(const deadline_queue_t *q)
{
    return q->list.delay;
}

void deadline_queue_close(deadline_queue_t *q, uv_close_cb cb)
{
    deadline_node_t *n;
    while ((n = deadline_list_first(&q->list)) != NULL) deadline_node_remove(n);
    uv_close((uv_handle_t *)&q->timer, cb);
}
