/* Unit tests for proto/runtime/adapter_gather.c without a Redis server: an ask with no
 * gatherer is complete at once, or when the answers it expects (a broadcast's local acks) have
 * come; an ask on a bus that is down ends at once with "Redis is not available"; a request that
 * cannot be written, or an ask made after the gatherer was closed, ends with its own error;
 * every result comes exactly once and the gatherer closes cleanly. The answers of real servers
 * are covered by the cluster integration tests (22, 32). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_gather.h"

#include <string.h>

static int calls;
static adapter_gather_result_t last;
static size_t last_items;

static void on_done(void *ud, const adapter_gather_result_t *r)
{
    (void)ud;
    calls++;
    last = *r;
    last_items = json_array_size(r->items);
    last.items = NULL;
}

static void test_alone(void **state)
{
    (void)state;
    calls = 0;
    adapter_ask_t *a = adapter_ask_new(NULL, "/", 1, NULL, on_done, NULL);
    assert_string_equal(adapter_ask_id(a), "");
    json_array_append_new(adapter_ask_items(a), json_string("local"));
    adapter_ask_send(a, "ignored", 7);
    assert_int_equal(calls, 1);
    assert_true(last.complete);
    assert_int_equal(last.servers, 0);
    assert_int_equal(last.status, 0);
    assert_null(last.error);
    assert_int_equal(last_items, 1);

    /* two local acks expected: complete when both came (or were cancelled) */
    calls = 0;
    a = adapter_ask_new(NULL, "/", 1, NULL, on_done, NULL);
    adapter_ask_expect(a, 2);
    adapter_ask_send(a, NULL, 0);
    assert_int_equal(calls, 0);
    adapter_ask_expect(a, -1);
    assert_int_equal(calls, 0);
    adapter_ask_expect(a, -1);
    assert_int_equal(calls, 1);
    assert_true(last.complete);
}

static void test_bus_down(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    redis_url_t url;
    char err[100];
    assert_int_equal(redis_url_parse("redis://127.0.0.1:1", &url, err, sizeof err), 0);
    bus_options_t bo;
    bus_options_init(&bo);
    bus_t *bus;
    assert_int_equal(bus_open(&bus, &loop, &url, &bo), 0);
    redis_url_free(&url);
    bus_listen_t *l = bus_listen_new(bus);
    adapter_gather_options_t o = {&loop, bus, l, "socket.io", "admin-test", 1000, 0, 0, 0};
    adapter_gather_t *g;
    assert_int_equal(adapter_gather_new(&g, &o), 0);
    assert_int_equal(adapter_gather_timeout(g), 1000);

    calls = 0;
    adapter_ask_t *a = adapter_ask_new(g, "/", 1, NULL, on_done, NULL);
    assert_string_equal(adapter_ask_id(a), "admin-test-1");
    adapter_ask_send_json(a, json_pack("{s:i}", "type", 5));
    assert_int_equal(calls, 1); /* NUMSUB cannot be sent */
    assert_false(last.complete);
    assert_int_equal(last.status, ADAPTER_GATHER_ENOBUS);
    assert_string_equal(last.error, "Redis is not available");

    a = adapter_ask_new(g, "/", 1, NULL, on_done, NULL);
    assert_string_equal(adapter_ask_id(a), "admin-test-2");
    adapter_ask_send_json(a, NULL);
    assert_int_equal(calls, 2);
    assert_int_equal(last.status, ADAPTER_GATHER_EENCODE);
    assert_string_equal(last.error, "the request cannot be encoded");

    adapter_gather_close(g);
    a = adapter_ask_new(g, "/", 1, NULL, on_done, NULL);
    adapter_ask_send(a, "{}", 2);
    assert_int_equal(calls, 3);
    assert_int_equal(last.status, ADAPTER_GATHER_ECLOSED);
    assert_string_equal(last.error, "shutting down");

    bus_listen_free(l);
    bus_close(bus, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(calls, 3);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(adapter_gather_strerror(ADAPTER_GATHER_ETIMEDOUT),
                        "timed out waiting for some servers");
    assert_string_equal(adapter_gather_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone),
        cmocka_unit_test(test_bus_down),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
