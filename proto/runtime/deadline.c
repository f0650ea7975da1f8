/* FIFO deadline queues driven by one libuv timer each (see deadline.h). */
#include "deadline.h"

static void fire(uv_timer_t *t);

static void arm(dl_queue_t *q)
{
    dl_node_t *first = q->head.next;
    if (first == &q->head) {
        uv_timer_stop(&q->timer);
        return;
    }
    uint64_t now = uv_now(q->timer.loop);
    uv_timer_start(&q->timer, fire, first->due > now ? first->due - now : 0, 0);
}

static void unlink_node(dl_node_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->due = 0;
}

static void fire(uv_timer_t *t)
{
    dl_queue_t *q = t->data;
    uint64_t now = uv_now(t->loop);
    while (q->head.next != &q->head && q->head.next->due <= now) {
        dl_node_t *n = q->head.next;
        unlink_node(n);
        q->expire(q, n);
    }
    arm(q);
}

int dl_init(dl_queue_t *q, uv_loop_t *loop, uint64_t delay_ms, dl_expire_cb expire, void *data)
{
    q->head.prev = q->head.next = &q->head;
    q->head.due = 0;
    q->delay_ms = delay_ms;
    q->expire = expire;
    q->data = data;
    int rc = uv_timer_init(loop, &q->timer);
    if (rc) return rc;
    q->timer.data = q;
    return 0;
}

void dl_add(dl_queue_t *q, dl_node_t *node)
{
    if (dl_queued(node)) unlink_node(node);
    int was_empty = q->head.next == &q->head;
    node->due = uv_now(q->timer.loop) + q->delay_ms;
    if (node->due == 0) node->due = 1;
    node->prev = q->head.prev;
    node->next = &q->head;
    q->head.prev->next = node;
    q->head.prev = node;
    if (was_empty) arm(q);
}

void dl_remove(dl_queue_t *q, dl_node_t *node)
{
    (void)q;
    if (dl_queued(node)) unlink_node(node);
    /* The timer may fire early for a removed head; fire() then just re-arms. */
}

void dl_close(dl_queue_t *q, uv_close_cb cb)
{
    while (q->head.next != &q->head) unlink_node(q->head.next);
    uv_close((uv_handle_t *)&q->timer, cb);
}
