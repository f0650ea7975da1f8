/* Unit tests for proto/runtime/deadline.c. The pure list, on a fake clock: lists of equal delays
 * stay sorted by appending, entries leave from anywhere, and only due entries are popped, in
 * order. The queue, on a real libuv loop: entries expire in order, removal and re-adding, a
 * removed head does not fire, closing drops what is queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "deadline.h"

#include <string.h>

/* ---- the pure list ---- */

static size_t count(const deadline_list_t *l)
{
    size_t n = 0;
    for (const deadline_node_t *d = deadline_list_first(l); d; d = deadline_list_next(l, d)) n++;
    return n;
}

static void test_list_fifo(void **state)
{
    (void)state;
    deadline_list_t l;
    deadline_node_t n[4] = {{0}};
    deadline_list_init(&l, 100);
    assert_int_equal(deadline_list_next_due(&l), UINT64_MAX);
    assert_null(deadline_list_pop_due(&l, 1000000));
    deadline_list_add(&l, &n[0], 10);
    deadline_list_add(&l, &n[1], 20);
    deadline_list_add(&l, &n[2], 30);
    assert_int_equal(count(&l), 3);
    assert_int_equal(deadline_list_next_due(&l), 110);
    assert_null(deadline_list_pop_due(&l, 109));
    assert_ptr_equal(deadline_list_pop_due(&l, 125), &n[0]);
    assert_ptr_equal(deadline_list_pop_due(&l, 125), &n[1]);
    assert_null(deadline_list_pop_due(&l, 125));
    assert_int_equal(deadline_list_next_due(&l), 130);
    assert_ptr_equal(deadline_list_pop_due(&l, 130), &n[2]);
    assert_int_equal(count(&l), 0);
    assert_true(deadline_list_empty(&l));
    assert_null(deadline_list_first(&l));
    assert_null(deadline_list_last(&l));
    assert_false(deadline_node_queued(&n[2])); /* popped: in no list */
}

static void test_list_remove_anywhere(void **state)
{
    (void)state;
    deadline_list_t l;
    deadline_node_t n[4] = {{0}};
    deadline_list_init(&l, 50);
    for (int i = 0; i < 4; i++) deadline_list_add(&l, &n[i], (uint64_t)i);
    deadline_node_remove(&n[2]); /* middle */
    deadline_node_remove(&n[0]); /* head */
    assert_int_equal(deadline_list_next_due(&l), 51);
    deadline_node_remove(&n[3]); /* tail */
    assert_ptr_equal(deadline_list_last(&l), &n[1]);
    /* re-adding restarts the deadline */
    deadline_node_remove(&n[1]);
    deadline_list_add(&l, &n[1], 500);
    assert_int_equal(deadline_list_next_due(&l), 550);
    assert_ptr_equal(deadline_list_pop_due(&l, 600), &n[1]);
    assert_int_equal(count(&l), 0);
    /* removing a node in no list is harmless */
    deadline_node_remove(&n[1]);
    assert_true(deadline_list_empty(&l));
}

static void test_list_readd_moves_to_back(void **state)
{
    (void)state;
    deadline_list_t l, other;
    deadline_node_t a = {0}, b = {0};
    deadline_list_init(&l, 10);
    deadline_list_init(&other, 10);
    deadline_list_add(&l, &a, 0);
    deadline_list_add(&l, &b, 5);
    deadline_list_add(&l, &a, 7); /* still queued: leaves its place first */
    assert_ptr_equal(deadline_list_first(&l), &b);
    assert_ptr_equal(deadline_list_last(&l), &a);
    assert_int_equal(a.due, 17);
    deadline_list_add(&other, &b, 8); /* from one list to another */
    assert_ptr_equal(deadline_list_first(&l), &a);
    assert_int_equal(count(&l), 1);
    assert_ptr_equal(deadline_list_first(&other), &b);
}

static void test_list_clock_going_back(void **state)
{
    (void)state;
    deadline_list_t l;
    deadline_node_t a = {0}, b = {0}, z = {0};
    deadline_list_init(&l, 10);
    deadline_list_add(&l, &a, 100);
    deadline_list_add(&l, &b, 50); /* never before the tail */
    assert_int_equal(b.due, 110);
    assert_ptr_equal(deadline_list_pop_due(&l, 110), &a);
    assert_ptr_equal(deadline_list_pop_due(&l, 110), &b);
    /* a due time is never 0, which means "in no list" */
    deadline_list_init(&l, 0);
    deadline_list_add(&l, &z, 0);
    assert_true(deadline_node_queued(&z));
    assert_ptr_equal(deadline_list_pop_due(&l, 1), &z);
}

/* ---- the libuv-driven queue ---- */

typedef struct {
    deadline_node_t node;
    int id;
} item_t;

static int fired[16];
static int nfired;

static void on_expire(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    item_t *it = (item_t *)((char *)n - offsetof(item_t, node));
    assert_false(deadline_node_queued(n)); /* unlinked before the callback */
    fired[nfired++] = it->id;
}

static void test_order_and_removal(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    assert_int_equal(deadline_queue_init(&q, &loop, 20, on_expire, NULL), 0);
    item_t items[4];
    memset(items, 0, sizeof items);
    nfired = 0;
    for (int i = 0; i < 4; i++) {
        items[i].id = i;
        deadline_queue_add(&q, &items[i].node);
        assert_true(deadline_node_queued(&items[i].node));
    }
    deadline_queue_remove(&q, &items[0].node); /* the head: must not fire */
    deadline_queue_remove(&q, &items[0].node); /* twice is harmless */
    deadline_queue_add(&q, &items[2].node);    /* re-added: moves to the back */
    uv_run(&loop, UV_RUN_DEFAULT);             /* runs until the queue is empty: the timer stops */
    assert_int_equal(nfired, 3);
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 3);
    assert_int_equal(fired[2], 2);
    deadline_queue_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void readd(deadline_queue_t *q, deadline_node_t *n)
{
    item_t *it = (item_t *)((char *)n - offsetof(item_t, node));
    fired[nfired++] = it->id;
    if (nfired < 3)
        deadline_queue_add(q, n); /* an entry may queue itself again from its callback */
}

static void test_requeue_from_callback(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, 5, readd, NULL);
    item_t it = {.id = 7};
    nfired = 0;
    deadline_queue_add(&q, &it.node);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(nfired, 3);
    deadline_queue_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_close_drops_queued(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, 1000, on_expire, NULL);
    item_t it = {.id = 1};
    nfired = 0;
    deadline_queue_add(&q, &it.node);
    deadline_queue_close(&q, NULL);
    assert_false(deadline_node_queued(&it.node));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(nfired, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_fifo),
        cmocka_unit_test(test_list_remove_anywhere),
        cmocka_unit_test(test_list_readd_moves_to_back),
        cmocka_unit_test(test_list_clock_going_back),
        cmocka_unit_test(test_order_and_removal),
        cmocka_unit_test(test_requeue_from_callback),
        cmocka_unit_test(test_close_drops_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
