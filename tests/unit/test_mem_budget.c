/* Unit tests for chatnode/mem_budget.c: the high- and low-water marks, and picking the greediest
 * holders until enough is freed (none needed, one enough, all of them not enough). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mem_budget.h"

static void test_marks(void **state)
{
    (void)state;
    assert_int_equal(mem_budget_high_water(1000), 875);
    assert_int_equal(mem_budget_high_water(268435456), 234881024);
    assert_int_equal(mem_budget_low_water(1000), 750);
    assert_int_equal(mem_budget_low_water(268435456), 201326592);
    assert_int_equal(mem_budget_low_water(0), 0);
}

static void test_pick(void **state)
{
    (void)state;
    int items[6];
    mem_holder_t h[6] = {
        {10, &items[0], 0},  {500, &items[1], 1}, {30, &items[2], 0},
        {400, &items[3], 0}, {0, &items[4], 0},   {60, &items[5], 1},
    };
    assert_int_equal(mem_budget_pick(h, 6, 0), 0);
    /* one is enough */
    assert_int_equal(mem_budget_pick(h, 6, 450), 1);
    assert_ptr_equal(h[0].item, &items[1]);
    /* the greediest first, until the need is met */
    assert_int_equal(mem_budget_pick(h, 6, 901), 3);
    assert_ptr_equal(h[0].item, &items[1]);
    assert_ptr_equal(h[1].item, &items[3]);
    assert_ptr_equal(h[2].item, &items[5]);
    assert_int_equal(h[2].kind, 1);
    /* more than all of them hold: all of them */
    assert_int_equal(mem_budget_pick(h, 6, 100000), 6);
    assert_int_equal(h[5].size, 0);
    assert_int_equal(mem_budget_pick(h, 0, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marks),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
