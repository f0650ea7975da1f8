/* Unit tests for proto/runtime/bus_listen.c on a bus whose Redis is unreachable (the wanted
 * set is kept while down, so nothing here needs a server): listeners get their channel's or
 * pattern's messages in the order added, a duplicate is not added twice, a listener removed
 * during a dispatch gets nothing more, and a message nobody listens to is left to the caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bus_listen.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uv_loop_t loop;
    bus_t *bus;
    bus_listen_t *l;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    uv_loop_init(&fx->loop);
    redis_url_t url;
    char err[100];
    assert_int_equal(redis_url_parse("redis://127.0.0.1:1", &url, err, sizeof err), 0);
    bus_options_t o;
    bus_options_init(&o);
    assert_int_equal(bus_open(&fx->bus, &fx->loop, &url, &o), 0);
    redis_url_free(&url);
    fx->l = bus_listen_new(fx->bus);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    bus_listen_free(fx->l);
    bus_close(fx->bus, NULL, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

static char seen[256];

static void note(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    strncat(seen, ud, sizeof seen - strlen(seen) - 1);
    strncat(seen, ":", sizeof seen - strlen(seen) - 1);
    strncat(seen, payload, plen < sizeof seen - strlen(seen) - 1 ? plen : 0);
    strncat(seen, " ", sizeof seen - strlen(seen) - 1);
}

static size_t deliver(fx_t *fx, const char *ch, const char *pattern, const char *payload)
{
    return bus_listen_dispatch(fx->l, ch, strlen(ch), pattern, payload, strlen(payload));
}

static void test_channels(void **state)
{
    fx_t *fx = *state;
    seen[0] = '\0';
    assert_int_equal(bus_listen_add(fx->l, "a", 1, note, "1"), 0);
    assert_int_equal(bus_listen_add(fx->l, "a", 1, note, "2"), 0);
    assert_int_equal(bus_listen_add(fx->l, "a", 1, note, "1"), 0); /* already there */
    assert_int_equal(bus_listen_add(fx->l, "b", 1, note, "3"), 0);
    assert_int_equal(deliver(fx, "a", NULL, "x"), 2);
    assert_int_equal(deliver(fx, "b", NULL, "y"), 1);
    assert_int_equal(deliver(fx, "c", NULL, "z"), 0); /* nobody: left to the caller */
    assert_string_equal(seen, "1:x 2:x 3:y ");
    assert_int_equal(bus_listen_remove(fx->l, "a", 1, note, "1"), 0);
    assert_int_equal(bus_listen_remove(fx->l, "a", 1, note, "9"), 0); /* not there: no-op */
    seen[0] = '\0';
    assert_int_equal(deliver(fx, "a", NULL, "x"), 1);
    assert_string_equal(seen, "2:x ");
    assert_int_equal(bus_listen_remove(fx->l, "a", 1, note, "2"), 0);
    assert_int_equal(deliver(fx, "a", NULL, "x"), 0);
    assert_int_equal(bus_listen_add(fx->l, "a", 1, NULL, NULL), BUS_EINVAL);
}

static void test_patterns(void **state)
{
    fx_t *fx = *state;
    seen[0] = '\0';
    assert_int_equal(bus_listen_padd(fx->l, "k#*", 3, note, "p"), 0);
    assert_int_equal(bus_listen_add(fx->l, "k#1", 3, note, "c"), 0);
    /* a channel subscribed and matching a pattern arrives twice, once each way */
    assert_int_equal(deliver(fx, "k#1", "k#*", "m"), 1);
    assert_int_equal(deliver(fx, "k#1", NULL, "m"), 1);
    assert_int_equal(deliver(fx, "k#2", "k#?", "m"), 0); /* a pattern nobody listens to */
    assert_string_equal(seen, "p:m c:m ");
    assert_int_equal(bus_listen_premove(fx->l, "k#*", 3, note, "p"), 0);
    assert_int_equal(deliver(fx, "k#1", "k#*", "m"), 0);
}

static bus_listen_t *reg;

static void remove_other(void *ud, const char *channel, size_t len, const char *payload,
                         size_t plen)
{
    note(ud, channel, len, payload, plen);
    bus_listen_remove(reg, "a", 1, note, "2");
    bus_listen_remove(reg, "a", 1, remove_other, ud); /* itself too */
    bus_listen_add(reg, "a", 1, note, "3");           /* gets the next message only */
}

static void test_changes_during_dispatch(void **state)
{
    fx_t *fx = *state;
    reg = fx->l;
    seen[0] = '\0';
    assert_int_equal(bus_listen_add(fx->l, "a", 1, remove_other, "1"), 0);
    assert_int_equal(bus_listen_add(fx->l, "a", 1, note, "2"), 0);
    assert_int_equal(deliver(fx, "a", NULL, "x"), 1);
    assert_int_equal(deliver(fx, "a", NULL, "y"), 1);
    assert_string_equal(seen, "1:x 3:y ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_during_dispatch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
