/* Unit tests for adminnode/http_deadline.c: lists of equal delays stay sorted by appending,
 * entries leave from anywhere, and only due entries are popped, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_deadline.h"

static void test_fifo(void **state)
{
    (void)state;
    hdl_list_t l;
    hdl_node_t n[4];
    hdl_init(&l, 100);
    assert_int_equal(hdl_next_due(&l), UINT64_MAX);
    assert_null(hdl_pop_due(&l, 1000000));
    hdl_add(&l, &n[0], 10);
    hdl_add(&l, &n[1], 20);
    hdl_add(&l, &n[2], 30);
    assert_int_equal(l.count, 3);
    assert_int_equal(hdl_next_due(&l), 110);
    assert_null(hdl_pop_due(&l, 109));
    assert_ptr_equal(hdl_pop_due(&l, 125), &n[0]);
    assert_ptr_equal(hdl_pop_due(&l, 125), &n[1]);
    assert_null(hdl_pop_due(&l, 125));
    assert_int_equal(hdl_next_due(&l), 130);
    assert_ptr_equal(hdl_pop_due(&l, 130), &n[2]);
    assert_int_equal(l.count, 0);
    assert_null(l.head);
    assert_null(l.tail);
}

static void test_remove_anywhere(void **state)
{
    (void)state;
    hdl_list_t l;
    hdl_node_t n[4];
    hdl_init(&l, 50);
    for (int i = 0; i < 4; i++) hdl_add(&l, &n[i], (uint64_t)i);
    hdl_remove(&l, &n[2]); /* middle */
    hdl_remove(&l, &n[0]); /* head */
    assert_int_equal(hdl_next_due(&l), 51);
    hdl_remove(&l, &n[3]); /* tail */
    assert_ptr_equal(l.tail, &n[1]);
    /* re-adding restarts the deadline */
    hdl_remove(&l, &n[1]);
    hdl_add(&l, &n[1], 500);
    assert_int_equal(hdl_next_due(&l), 550);
    assert_ptr_equal(hdl_pop_due(&l, 600), &n[1]);
    assert_int_equal(l.count, 0);
}

static void test_clock_going_back(void **state)
{
    (void)state;
    hdl_list_t l;
    hdl_node_t a, b;
    hdl_init(&l, 10);
    hdl_add(&l, &a, 100);
    hdl_add(&l, &b, 50); /* never before the tail */
    assert_int_equal(b.due, 110);
    assert_ptr_equal(hdl_pop_due(&l, 110), &a);
    assert_ptr_equal(hdl_pop_due(&l, 110), &b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_remove_anywhere),
        cmocka_unit_test(test_clock_going_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
