/* Deadline lists of equal delays (see http_deadline.h). */
#include "http_deadline.h"

void hdl_init(hdl_list_t *l, uint64_t delay)
{
    l->head = l->tail = NULL;
    l->delay = delay;
    l->count = 0;
}

void hdl_add(hdl_list_t *l, hdl_node_t *n, uint64_t now)
{
    n->due = now + l->delay;
    if (l->tail && n->due < l->tail->due) n->due = l->tail->due;
    n->prev = l->tail;
    n->next = NULL;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    l->count++;
}

void hdl_remove(hdl_list_t *l, hdl_node_t *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    l->count--;
}

hdl_node_t *hdl_pop_due(hdl_list_t *l, uint64_t now)
{
    hdl_node_t *n = l->head;
    if (!n || n->due > now) return NULL;
    hdl_remove(l, n);
    return n;
}

uint64_t hdl_next_due(const hdl_list_t *l)
{
    return l->head ? l->head->due : UINT64_MAX;
}
