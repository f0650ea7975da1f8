/* Unit tests for proto/runtime/deadline.c: entries expire in order, removal and re-adding, a
 * removed head does not fire, closing drops what is queued. Runs a real libuv loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "deadline.h"

#include <string.h>

typedef struct {
    dl_node_t node;
    int id;
} item_t;

static int fired[16];
static int nfired;

static void on_expire(dl_queue_t *q, dl_node_t *n)
{
    (void)q;
    item_t *it = (item_t *)((char *)n - offsetof(item_t, node));
    assert_false(dl_queued(n)); /* unlinked before the callback */
    fired[nfired++] = it->id;
}

static void test_order_and_removal(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    dl_queue_t q;
    assert_int_equal(dl_init(&q, &loop, 20, on_expire, NULL), 0);
    item_t items[4];
    memset(items, 0, sizeof items);
    nfired = 0;
    for (int i = 0; i < 4; i++) {
        items[i].id = i;
        dl_add(&q, &items[i].node);
        assert_true(dl_queued(&items[i].node));
    }
    dl_remove(&q, &items[0].node); /* the head: must not fire */
    dl_remove(&q, &items[0].node); /* twice is harmless */
    dl_add(&q, &items[2].node);    /* re-added: moves to the back */
    uv_run(&loop, UV_RUN_DEFAULT); /* runs until the queue is empty: the timer stops */
    assert_int_equal(nfired, 3);
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 3);
    assert_int_equal(fired[2], 2);
    dl_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void readd(dl_queue_t *q, dl_node_t *n)
{
    item_t *it = (item_t *)((char *)n - offsetof(item_t, node));
    fired[nfired++] = it->id;
    if (nfired < 3) dl_add(q, n); /* an entry may queue itself again from its callback */
}

static void test_requeue_from_callback(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    dl_queue_t q;
    dl_init(&q, &loop, 5, readd, NULL);
    item_t it = {.id = 7};
    nfired = 0;
    dl_add(&q, &it.node);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(nfired, 3);
    dl_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_close_drops_queued(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    dl_queue_t q;
    dl_init(&q, &loop, 1000, on_expire, NULL);
    item_t it = {.id = 1};
    nfired = 0;
    dl_add(&q, &it.node);
    dl_close(&q, NULL);
    assert_false(dl_queued(&it.node));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(nfired, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_removal),
        cmocka_unit_test(test_requeue_from_callback),
        cmocka_unit_test(test_close_drops_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
