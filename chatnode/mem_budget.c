/* Picking the greediest holders for the memory budget (see mem_budget.h). */
#include "mem_budget.h"

#include <stdlib.h>

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
