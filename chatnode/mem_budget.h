/* The node-wide memory budget's choice: when what clients make the node hold (queued output,
 * messages and bodies being received, replies being written) nears --max-memory-queued, the
 * holders with the most are dropped first until the total is back under a low-water mark.
 * Pure: the caller lists the holders and drops the ones picked. */
#ifndef CC_MEM_BUDGET_H
#define CC_MEM_BUDGET_H

#include <stddef.h>

typedef struct {
    size_t size; /* bytes the holder makes the node keep */
    void *item;  /* borrowed: what to drop */
    int kind;    /* the caller's tag for item */
} mem_holder_t;

/* The total past which holders are dropped: seven eighths of the budget. The last eighth is
 * for what arrives before the drop can happen (it waits for the next loop turn, and one turn
 * can bring many clients' messages at once) and for the sessions' own bookkeeping, so that the
 * node stays within its budget. */
size_t mem_budget_high_water(size_t budget);
/* The total to come back down to: three quarters of the budget, so that a node at its budget
 * drops holders in batches rather than one at every new byte. */
size_t mem_budget_low_water(size_t budget);

/* Sorts h[0..n) greediest first and returns how many of its first entries together hold at
 * least need bytes (n when all of them together hold less). Holders of equal size keep no
 * particular order. */
size_t mem_budget_pick(mem_holder_t *h, size_t n, size_t need);

#endif
