/* The node-wide memory budget: its counter and picking the greediest holders (see
 * mem_budget.h). */
#include "mem_budget.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

size_t mem_budget_high_water(size_t budget)
{
    return budget - budget / 8;
}

size_t mem_budget_low_water(size_t budget)
{
    return budget - budget / 4;
}

static int by_size_desc(const void *a, const void *b)
{
    size_t x = ((const mem_holder_t *)a)->size, y = ((const mem_holder_t *)b)->size;
    return x < y ? 1 : x > y ? -1 : 0;
}

size_t mem_budget_pick(mem_holder_t *h, size_t n, size_t need)
{
    if (n == 0 || need == 0) return 0;
    qsort(h, n, sizeof *h, by_size_desc);
    size_t sum = 0, k = 0;
    while (k < n && sum < need) sum += h[k++].size;
    return k;
}

/* On the loop turn after the total passed the high-water mark: has the greediest holders
 * dropped until the total is back under the low-water mark. A moment later (once the dropped
 * holders are gone) it hands the freed memory back to the system: the allocator keeps what was
 * freed in the middle of its heap, and the budget is about the node's RSS. */
static void check(uv_timer_t *t)
{
    mem_budget_t *m = t->data;
    if (m->trim) {
        m->trim = 0;
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
    if (m->closed || m->queued <= mem_budget_high_water(m->budget)) return;
    m->dropped += m->shed(m->ud, m->queued - mem_budget_low_water(m->budget));
    /* after the dropped holders' last loop turn (a session's end is due sooner) */
    m->trim = 1;
    uv_timer_start(&m->timer, check, 1, 0);
}

int mem_budget_init(mem_budget_t *m, uv_loop_t *loop, size_t budget, mem_budget_shed_cb shed,
                    void *ud)
{
    *m = (mem_budget_t){.budget = budget, .shed = shed, .ud = ud};
    int rc = uv_timer_init(loop, &m->timer);
    if (rc) return rc;
    m->timer.data = m;
    return 0;
}

void mem_budget_add(mem_budget_t *m, size_t n)
{
    m->queued += n;
    if (m->queued > m->peak) m->peak = m->queued;
    if (m->queued > mem_budget_high_water(m->budget) && !m->closed &&
        !uv_is_active((uv_handle_t *)&m->timer))
        uv_timer_start(&m->timer, check, 0, 0);
}

void mem_budget_sub(mem_budget_t *m, size_t n)
{
    m->queued = n <= m->queued ? m->queued - n : 0;
}

size_t mem_budget_queued(const mem_budget_t *m)
{
    return m->queued;
}

size_t mem_budget_peak(const mem_budget_t *m)
{
    return m->peak;
}

uint64_t mem_budget_dropped(const mem_budget_t *m)
{
    return m->dropped;
}

void mem_budget_close(mem_budget_t *m)
{
    if (m->closed) return;
    m->closed = 1;
    uv_close((uv_handle_t *)&m->timer, NULL);
}
