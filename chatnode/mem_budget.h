/* The node-wide memory budget: the count of what clients make the node hold (queued output,
 * messages and bodies being received, replies being written), and the choice it leads to: when
 * the total nears --max-memory-queued, the holders with the most are dropped first until the
 * total is back under a low-water mark. The counter only says when; its owner lists the
 * holders and drops the ones picked (mem_budget_pick, pure). */
#ifndef CC_MEM_BUDGET_H
#define CC_MEM_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

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

/* Drops holders until at least need bytes are on their way out; returns how many it dropped.
 * Runs from the loop, never in the middle of the work that counted the bytes. */
typedef size_t (*mem_budget_shed_cb)(void *ud, size_t need);

/* The counter. Its fields are mem_budget.c's: read them through the functions below. */
typedef struct {
    size_t budget; /* --max-memory-queued */
    size_t queued, peak;
    uint64_t dropped; /* holders dropped, over the node's life */
    uv_timer_t timer; /* the next loop turn's check */
    int trim;         /* the timer's next run returns freed memory to the system */
    int closed;
    mem_budget_shed_cb shed;
    void *ud;
} mem_budget_t;

/* Sets up the counter on loop for a budget of budget bytes; shed(ud, need) drops holders.
 * Returns 0 or a libuv error. */
int mem_budget_init(mem_budget_t *m, uv_loop_t *loop, size_t budget, mem_budget_shed_cb shed,
                    void *ud);
/* n more bytes held, or n fewer. Passing the high-water mark schedules the drop for the next
 * loop turn (never in the middle of the caller's work, such as a walk over a room). */
void mem_budget_add(mem_budget_t *m, size_t n);
void mem_budget_sub(mem_budget_t *m, size_t n);
size_t mem_budget_queued(const mem_budget_t *m);
size_t mem_budget_peak(const mem_budget_t *m);
uint64_t mem_budget_dropped(const mem_budget_t *m);
/* Stops dropping (the node is stopping: everything goes anyway) and closes the timer; the
 * loop finishes closing it. Counting goes on. */
void mem_budget_close(mem_budget_t *m);

#endif
