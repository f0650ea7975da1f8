/* Deadline lists: every entry of one list waits the same delay, so an entry added now expires
 * after every entry already there. Appending keeps a list sorted, the head is always the
 * next to expire, and one timer serves a whole list whatever its length. Pure: the caller
 * passes the time in. */
#ifndef CC_HTTP_DEADLINE_H
#define CC_HTTP_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

/* An entry, embedded in what it times. */
typedef struct hdl_node {
    struct hdl_node *prev, *next;
    uint64_t due;
} hdl_node_t;

typedef struct {
    hdl_node_t *head, *tail;
    uint64_t delay; /* ms every entry waits */
    size_t count;
} hdl_list_t;

void hdl_init(hdl_list_t *l, uint64_t delay);
/* Appends n (not in any list) to expire delay ms after now; never before the current tail,
 * so the list stays sorted even if now went backwards. */
void hdl_add(hdl_list_t *l, hdl_node_t *n, uint64_t now);
/* Unlinks n, which must be in l. */
void hdl_remove(hdl_list_t *l, hdl_node_t *n);
/* Unlinks and returns the head when it is due at now, else NULL. */
hdl_node_t *hdl_pop_due(hdl_list_t *l, uint64_t now);
/* When the head is due, or UINT64_MAX for an empty list. */
uint64_t hdl_next_due(const hdl_list_t *l);

#endif
