/* Unit tests for chatnode/addr_limit.c: sessions per address at and over the limit, the token
 * bucket's burst, refill and Retry-After, IPv6 counted by /64, limits off, and entries freed
 * once an address has no session and a full bucket (at once, or by the sweep timer). Runs a
 * real libuv loop for the sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr_limit.h"

#include <stdio.h>
#include <string.h>

static client_addr_t A(const char *s)
{
    client_addr_t a;
    assert_int_equal(client_addr_parse(s, strlen(s), &a), 0);
    return a;
}

static void finish(uv_loop_t *loop, addr_limit_t *al)
{
    addr_limit_close(al);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_sessions(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    addr_limit_t al;
    assert_int_equal(addr_limit_init(&al, &loop, 3, 0, 1), 0);
    client_addr_t a = A("192.0.2.1"), b = A("192.0.2.2");
    unsigned retry = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(addr_limit_admit(&al, &a, 0, &retry), ADDR_OK);
        addr_limit_opened(&al, &a);
    }
    assert_int_equal(addr_limit_sessions(&al, &a), 3);
    assert_int_equal(addr_limit_admit(&al, &a, 0, &retry), ADDR_TOO_MANY_SESSIONS);
    assert_true(retry >= 1);
    assert_int_equal(addr_limit_admit(&al, &b, 0, &retry), ADDR_OK); /* others go on */
    addr_limit_closed(&al, &a, 0);
    assert_int_equal(addr_limit_admit(&al, &a, 0, &retry), ADDR_OK);
    addr_limit_closed(&al, &a, 0);
    addr_limit_closed(&al, &a, 0);
    assert_int_equal(addr_limit_count(&al), 0); /* without a rate, gone with its last session */
    addr_limit_closed(&al, &a, 0);              /* an extra close is ignored */
    assert_int_equal(addr_limit_sessions(&al, &a), 0);
    finish(&loop, &al);
}

static void test_bucket(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    addr_limit_t al;
    assert_int_equal(addr_limit_init(&al, &loop, 0, 2, 5), 0); /* 2/s, burst 5 */
    client_addr_t a = A("198.51.100.7"), b = A("198.51.100.8");
    unsigned retry = 0;
    uint64_t t = 1000;
    for (int i = 0; i < 5; i++) assert_int_equal(addr_limit_admit(&al, &a, t, &retry), ADDR_OK);
    assert_int_equal(addr_limit_admit(&al, &a, t, &retry), ADDR_TOO_FAST);
    assert_int_equal(retry, 1);
    assert_int_equal(addr_limit_admit(&al, &b, t, &retry), ADDR_OK);
    assert_int_equal(addr_limit_admit(&al, &a, t + 400, &retry), ADDR_TOO_FAST); /* 0.8 token */
    assert_int_equal(addr_limit_admit(&al, &a, t + 500, &retry), ADDR_OK);       /* 1 token */
    assert_int_equal(addr_limit_admit(&al, &a, t + 500, &retry), ADDR_TOO_FAST);
    /* a long pause refills no more than the burst */
    t += 100000;
    for (int i = 0; i < 5; i++) assert_int_equal(addr_limit_admit(&al, &a, t, &retry), ADDR_OK);
    assert_int_equal(addr_limit_admit(&al, &a, t, &retry), ADDR_TOO_FAST);
    assert_int_equal(addr_limit_count(&al), 2);
    finish(&loop, &al);
}

static void test_retry_after_slow_rate(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    addr_limit_t al;
    assert_int_equal(addr_limit_init(&al, &loop, 0, 1, 1), 0);
    client_addr_t a = A("203.0.113.9");
    unsigned retry = 0;
    assert_int_equal(addr_limit_admit(&al, &a, 0, &retry), ADDR_OK);
    assert_int_equal(addr_limit_admit(&al, &a, 100, &retry), ADDR_TOO_FAST);
    assert_int_equal(retry, 1); /* 0.9 s to the next token */
    assert_int_equal(addr_limit_admit(&al, &a, 100, NULL), ADDR_TOO_FAST);
    finish(&loop, &al);
}

static void test_ipv6_by_prefix(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    addr_limit_t al;
    assert_int_equal(addr_limit_init(&al, &loop, 2, 0, 1), 0);
    client_addr_t a = A("2001:db8:0:1::1"), b = A("2001:db8:0:1:ffff::2"), c = A("2001:db8:0:2::1");
    addr_limit_opened(&al, &a);
    addr_limit_opened(&al, &b);
    assert_int_equal(addr_limit_sessions(&al, &a), 2);
    assert_int_equal(addr_limit_admit(&al, &b, 0, NULL), ADDR_TOO_MANY_SESSIONS);
    assert_int_equal(addr_limit_admit(&al, &c, 0, NULL), ADDR_OK);
    addr_limit_closed(&al, &a, 0);
    addr_limit_closed(&al, &b, 0);
    assert_int_equal(addr_limit_count(&al), 0);
    finish(&loop, &al);
}

static void test_off(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    addr_limit_t al;
    assert_int_equal(addr_limit_init(&al, &loop, 0, 0, 1), 0);
    client_addr_t a = A("192.0.2.1");
    for (int i = 0; i < 100; i++) {
        assert_int_equal(addr_limit_admit(&al, &a, 0, NULL), ADDR_OK);
        addr_limit_opened(&al, &a);
    }
    assert_int_equal(addr_limit_count(&al), 0); /* nothing kept */
    for (int i = 0; i < 100; i++) addr_limit_closed(&al, &a, 0);
    finish(&loop, &al);
}

static void test_sweep(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    addr_limit_t al;
    /* 1000/s, burst 10: a bucket refills within 10 ms, swept every 250 ms */
    assert_int_equal(addr_limit_init(&al, &loop, 0, 1000, 10), 0);
    char text[32];
    for (int i = 0; i < 50; i++) {
        snprintf(text, sizeof text, "10.0.%d.%d", i / 200, i % 200 + 1);
        client_addr_t a = A(text);
        assert_int_equal(addr_limit_admit(&al, &a, uv_now(&loop), NULL), ADDR_OK);
    }
    client_addr_t held = A("10.9.9.9");
    assert_int_equal(addr_limit_admit(&al, &held, uv_now(&loop), NULL), ADDR_OK);
    addr_limit_opened(&al, &held);
    assert_int_equal(addr_limit_count(&al), 51);
    /* the sweep frees the idle ones; the one with a session stays; the timer then stops
     * by itself, which ends the run */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(addr_limit_count(&al), 1);
    assert_int_equal(addr_limit_sessions(&al, &held), 1);
    /* its session closing with a full bucket frees it at once */
    uv_update_time(&loop);
    addr_limit_closed(&al, &held, uv_now(&loop) + 1000);
    assert_int_equal(addr_limit_count(&al), 0);
    finish(&loop, &al);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_retry_after_slow_rate),
        cmocka_unit_test(test_ipv6_by_prefix),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
