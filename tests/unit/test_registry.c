/* Unit tests for adminnode/registry.c: the state machine of the node registry (up, draining,
 * down after 3 missed heartbeats, forgotten later) driven by heartbeats and a fake clock, the
 * entries loaded with an age, the API view of a node, and the running registry without Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IV     1000 /* heartbeat interval, ms */
#define FORGET 5000

/* A heartbeat as chatnode sends it. */
static const reg_node_t *beat(reg_t *r, const char *id, int draining, uint64_t now, uint64_t age)
{
    char hb[640];
    snprintf(hb, sizeof hb,
             "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"%s\",\"tag\":\"n1\",\"address\":"
             "\"127.0.0.1:3000\",\"pid\":42,\"version\":\"0.1.0\",\"started\":1700000000000,"
             "\"connections\":{\"polling\":1,\"websocket\":2},\"sockets\":{\"/\":3},\"rooms\":4,"
             "\"events_in_per_s\":1.5,\"events_out_per_s\":2.5,\"bytes_in\":10,\"bytes_out\":20,"
             "\"ws_frames_out\":7,\"ws_writes\":5,\"rss\":1048576,\"draining\":%s,\"bus\":{"
             "\"command\":\"connected\"}}",
             id, draining ? "true" : "false");
    return reg_heartbeat(r, hb, strlen(hb), now, age);
}

static reg_state_t state_of(const reg_t *r, const char *id)
{
    const reg_node_t *n = reg_get(r, id);
    assert_non_null(n);
    return n->state;
}

static void test_up_down_forgotten(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    uint64_t t = 100000;
    const reg_node_t *n = beat(&r, "abc123", 0, t, 0);
    assert_non_null(n);
    assert_string_equal(n->id, "abc123");
    assert_int_equal(n->state, REG_UP);
    assert_int_equal(reg_count(&r, REG_UP), 1);
    assert_int_equal(reg_node_deadline(&r, n), t + 3 * IV);

    /* two missed heartbeats are nothing; the third makes it down */
    assert_int_equal(reg_tick(&r, t + 3 * IV - 1), t + 3 * IV);
    assert_int_equal(state_of(&r, "abc123"), REG_UP);
    assert_int_equal(reg_tick(&r, t + 3 * IV), t + 3 * IV + FORGET);
    assert_int_equal(state_of(&r, "abc123"), REG_DOWN);
    assert_int_equal(reg_count(&r, REG_UP), 0);
    assert_int_equal(reg_count(&r, REG_DOWN), 1);

    /* listed as down for FORGET, then gone */
    assert_int_equal(reg_tick(&r, t + 3 * IV + FORGET - 1), t + 3 * IV + FORGET);
    assert_int_equal(reg_size(&r), 1);
    assert_int_equal(reg_tick(&r, t + 3 * IV + FORGET), UINT64_MAX);
    assert_null(reg_get(&r, "abc123"));
    assert_int_equal(reg_size(&r), 0);
    assert_int_equal(reg_count(&r, REG_DOWN), 0);
    reg_free(&r);
}

static void test_heartbeats_keep_it_up(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    uint64_t t = 0;
    for (int i = 0; i < 20; i++, t += IV) {
        beat(&r, "n1", 0, t, 0);
        reg_tick(&r, t + IV / 2);
        assert_int_equal(state_of(&r, "n1"), REG_UP);
    }
    /* a heartbeat just under 3 intervals late still keeps it up */
    uint64_t last = t - IV;
    reg_tick(&r, last + 3 * IV - 1);
    assert_int_equal(state_of(&r, "n1"), REG_UP);
    beat(&r, "n1", 0, last + 3 * IV - 1, 0);
    reg_tick(&r, last + 6 * IV - 2);
    assert_int_equal(state_of(&r, "n1"), REG_UP);
    reg_free(&r);
}

static void test_draining(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    beat(&r, "n1", 0, 1000, 0);
    beat(&r, "n1", 1, 1500, 0);
    assert_int_equal(state_of(&r, "n1"), REG_DRAINING);
    assert_int_equal(reg_count(&r, REG_DRAINING), 1);
    assert_int_equal(reg_count(&r, REG_UP), 0);
    /* a draining node that stops is down like any other */
    reg_tick(&r, 1500 + 3 * IV);
    assert_int_equal(state_of(&r, "n1"), REG_DOWN);
    /* it comes back still draining, then undrained */
    beat(&r, "n1", 1, 6000, 0);
    assert_int_equal(state_of(&r, "n1"), REG_DRAINING);
    beat(&r, "n1", 0, 6200, 0);
    assert_int_equal(state_of(&r, "n1"), REG_UP);
    assert_int_equal(reg_count(&r, REG_UP), 1);
    assert_int_equal(reg_count(&r, REG_DRAINING), 0);
    assert_int_equal(reg_count(&r, REG_DOWN), 0);
    reg_free(&r);
}

static void test_down_comes_back(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    beat(&r, "n1", 0, 0, 0);
    reg_tick(&r, 4000);
    assert_int_equal(state_of(&r, "n1"), REG_DOWN);
    beat(&r, "n1", 0, 4500, 0);
    assert_int_equal(state_of(&r, "n1"), REG_UP);
    /* its clocks start again from the new heartbeat */
    assert_int_equal(reg_tick(&r, 4600), 4500 + 3 * IV);
    assert_int_equal(state_of(&r, "n1"), REG_UP);
    reg_free(&r);
}

static void test_aged_entries(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    uint64_t now = 50000;
    /* entries loaded from Redis carry their age */
    const reg_node_t *n = beat(&r, "fresh", 0, now, 500);
    assert_int_equal(n->last_seen, now - 500);
    assert_int_equal(n->state, REG_UP);
    n = beat(&r, "stale", 0, now, 3 * IV + 1);
    assert_non_null(n);
    assert_int_equal(n->state, REG_DOWN);
    assert_null(beat(&r, "ancient", 0, now, 3 * IV + FORGET));
    assert_null(reg_get(&r, "ancient"));
    assert_int_equal(reg_size(&r), 2);
    /* a document older than the one kept changes nothing */
    beat(&r, "fresh", 1, now, 900);
    assert_int_equal(state_of(&r, "fresh"), REG_UP);
    assert_int_equal(reg_get(&r, "fresh")->last_seen, now - 500);
    /* an age beyond the clock does not wrap around */
    n = beat(&r, "early", 0, 10, 1000);
    assert_int_equal(n->last_seen, 0);
    reg_free(&r);
}

static void test_rejects(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"v\":1,\"type\":\"heartbeat\"}",
        "{\"v\":2,\"type\":\"heartbeat\",\"id\":\"x\"}",
        "{\"v\":\"1\",\"type\":\"heartbeat\",\"id\":\"x\"}",
        "{\"v\":1,\"type\":\"reply\",\"id\":\"x\"}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"\"}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"a b\"}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"a\\nb\"}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":7}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":"
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxx\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(reg_heartbeat(&r, bad[i], strlen(bad[i]), 1000, 0));
    assert_int_equal(reg_size(&r), 0);
    const char *minimal = "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"m\"}";
    assert_non_null(reg_heartbeat(&r, minimal, strlen(minimal), 1000, 0));
    reg_free(&r);
}

static void test_sorted_and_json(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    const char *ids[] = {"zz", "Ab", "m1", "aa", "b"};
    for (size_t i = 0; i < 5; i++) beat(&r, ids[i], i == 2, 1000, 0);
    size_t n;
    const reg_node_t **all = reg_sorted(&r, &n);
    assert_int_equal(n, 5);
    const char *want[] = {"Ab", "aa", "b", "m1", "zz"};
    for (size_t i = 0; i < 5; i++) assert_string_equal(all[i]->id, want[i]);
    free(all);

    json_t *j = reg_node_json(reg_get(&r, "m1"), 1700000000000LL);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "m1");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "draining");
    assert_true(json_is_true(json_object_get(j, "draining")));
    assert_int_equal(json_integer_value(json_object_get(j, "last_seen")), 1700000001000LL);
    assert_string_equal(json_string_value(json_object_get(j, "address")), "127.0.0.1:3000");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "connections"), "websocket")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "sockets"), "/")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "rss")), 1048576);
    assert_int_equal(json_integer_value(json_object_get(j, "ws_frames_out")), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "ws_writes")), 5);
    assert_true(json_real_value(json_object_get(j, "events_out_per_s")) == 2.5);
    assert_null(json_object_get(j, "bus"));
    assert_null(json_object_get(j, "v"));
    json_decref(j);

    reg_tick(&r, 1000 + 3 * IV);
    j = reg_node_json(reg_get(&r, "aa"), 0);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "down");
    json_decref(j);

    assert_null(reg_sorted(&(reg_t){0}, &n));
    assert_int_equal(n, 0);
    reg_free(&r);
}

typedef struct {
    char log[512];
} changes_t;

static void record(void *ud, const reg_node_t *n, int from, int to)
{
    changes_t *c = ud;
    size_t len = strlen(c->log);
    snprintf(c->log + len, sizeof c->log - len, "%s:%s>%s ", n->id,
             from < 0 ? "new" : reg_state_name((reg_state_t)from),
             to < 0 ? "gone" : reg_state_name((reg_state_t)to));
}

static void test_changes_reported(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    changes_t c = {{0}};
    r.on_change = record;
    r.ud = &c;
    beat(&r, "a", 0, 0, 0);
    beat(&r, "a", 0, 500, 0); /* no change, nothing reported */
    beat(&r, "a", 1, 900, 0);
    reg_tick(&r, 900 + 3 * IV);
    beat(&r, "a", 0, 5000, 0);
    reg_tick(&r, 5000 + 3 * IV);
    reg_tick(&r, 5000 + 3 * IV + FORGET);
    assert_string_equal(c.log, "a:new>up a:up>draining a:draining>down a:down>up a:up>down "
                               "a:down>gone ");
    reg_free(&r);
}

static void test_many_nodes(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, 0); /* forgotten as soon as down */
    char id[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "n%04d", i);
        beat(&r, id, i % 10 == 0, (uint64_t)i, 0);
    }
    assert_int_equal(reg_size(&r), 1000);
    assert_int_equal(reg_count(&r, REG_DRAINING), 100);
    assert_int_equal(reg_count(&r, REG_UP), 900);
    /* the first half stops */
    for (int i = 500; i < 1000; i++) {
        snprintf(id, sizeof id, "n%04d", i);
        beat(&r, id, 0, 2000, 0);
    }
    assert_int_equal(reg_tick(&r, 3 * IV + 499), 2000 + 3 * IV);
    assert_int_equal(reg_size(&r), 500);
    assert_null(reg_get(&r, "n0000"));
    assert_non_null(reg_get(&r, "n0500"));
    assert_int_equal(reg_count(&r, REG_UP), 500);
    assert_int_equal(reg_count(&r, REG_DRAINING), 0);
    reg_free(&r);
}

/* A heartbeat with a "chat" member (text, inserted as it is). */
static const reg_node_t *beat_chat(reg_t *r, const char *id, const char *chat, uint64_t now)
{
    char hb[512];
    snprintf(hb, sizeof hb, "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"%s\",\"draining\":false%s%s}",
             id, chat ? ",\"chat\":" : "", chat ? chat : "");
    return reg_heartbeat(r, hb, strlen(hb), now, 0);
}

static void test_chat_limits(void **st)
{
    (void)st;
    reg_t r;
    reg_init(&r, IV, FORGET);
    chat_store_limits_t l = {7, 8, 9};
    /* no node: nothing announced, l unchanged */
    assert_int_equal(reg_chat_limits(&r, &l), 0);
    assert_int_equal(l.history_size, 7);
    assert_int_equal(l.history_ttl, 8);
    assert_int_equal(l.max_text, 9);

    /* a node without chat limits (another app), and ones with limits out of bounds, count for
     * nothing */
    const reg_node_t *n = beat_chat(&r, "echo", NULL, 0);
    assert_non_null(n);
    assert_false(n->has_chat);
    beat_chat(&r, "bad1", "{\"history_size\":0,\"history_ttl\":10,\"max_text\":10}", 0);
    beat_chat(&r, "bad2", "{\"history_size\":10,\"history_ttl\":10,\"max_text\":2000000}", 0);
    beat_chat(&r, "bad3", "{\"history_size\":10,\"history_ttl\":\"10\",\"max_text\":10}", 0);
    beat_chat(&r, "bad4", "{\"history_size\":10,\"history_ttl\":10}", 0);
    beat_chat(&r, "bad5", "[10,10,10]", 0);
    assert_int_equal(reg_size(&r), 6);
    assert_int_equal(reg_chat_limits(&r, &l), 0);
    assert_int_equal(l.max_text, 9);

    /* one node: its limits */
    n = beat_chat(&r, "a", "{\"history_size\":100,\"history_ttl\":60,\"max_text\":4096}", 0);
    assert_true(n->has_chat);
    assert_int_equal(n->chat.history_size, 100);
    assert_int_equal(reg_chat_limits(&r, &l), 1);
    assert_int_equal(l.history_size, 100);
    assert_int_equal(l.history_ttl, 60);
    assert_int_equal(l.max_text, 4096);

    /* two: the smallest size and text, the longest ttl, whichever node each comes from */
    beat_chat(&r, "b", "{\"history_size\":1000,\"history_ttl\":30,\"max_text\":16}", 10);
    assert_int_equal(reg_chat_limits(&r, &l), 2);
    assert_int_equal(l.history_size, 100);
    assert_int_equal(l.history_ttl, 60);
    assert_int_equal(l.max_text, 16);

    /* a draining node still counts */
    const char *drain = "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"b\",\"draining\":true,"
                        "\"chat\":{\"history_size\":1000,\"history_ttl\":30,\"max_text\":16}}";
    assert_non_null(reg_heartbeat(&r, drain, strlen(drain), 20, 0));
    assert_int_equal(reg_count(&r, REG_DRAINING), 1);
    assert_int_equal(reg_chat_limits(&r, &l), 2);
    assert_int_equal(l.max_text, 16);

    /* a down node does not: a keeps beating, b stops */
    for (uint64_t t = IV; t <= 4 * IV; t += IV)
        beat_chat(&r, "a", "{\"history_size\":100,\"history_ttl\":60,\"max_text\":4096}", t);
    reg_tick(&r, 4 * IV);
    assert_int_equal(state_of(&r, "b"), REG_DOWN);
    assert_int_equal(reg_chat_limits(&r, &l), 1);
    assert_int_equal(l.max_text, 4096);

    /* a heartbeat without limits takes them back */
    beat_chat(&r, "a", NULL, 4 * IV + 1);
    assert_false(reg_get(&r, "a")->has_chat);
    l.max_text = 9;
    assert_int_equal(reg_chat_limits(&r, &l), 0);
    assert_int_equal(l.max_text, 9);
    reg_free(&r);
}

static int ready_status = 99;
static void on_ready(void *ud, int status)
{
    (void)ud;
    ready_status = status;
}

static void test_running_without_redis(void **st)
{
    (void)st;
    uv_loop_t loop;
    uv_loop_init(&loop);
    registry_options_t o = {.prefix = "cc", .interval_ms = 200, .forget_after_ms = 1000};
    registry_t *reg = registry_new(&loop, NULL, &o);
    assert_true(registry_loaded(reg));
    registry_when_loaded(reg, on_ready, NULL);
    assert_int_equal(ready_status, 0);
    /* heartbeats still arrive through the listener (as they would with Redis) */
    const char *hb = "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"x1\",\"draining\":false}";
    registry_on_heartbeat(reg, "cc:heartbeat", 12, hb, strlen(hb));
    assert_int_equal(reg_count(registry_nodes(reg), REG_UP), 1);
    assert_int_equal(registry_command(reg, "x1", CONTROL_MSG_CMD_DRAIN, NULL, NULL), REG_ENOBUS);
    int64_t off = registry_epoch_offset(reg);
    assert_true(off > 1600000000000LL);
    /* the timer marks it down after 3 intervals of the loop's clock */
    uv_run(&loop, UV_RUN_ONCE);
    uint64_t t0 = uv_now(&loop);
    while (reg_count(registry_nodes(reg), REG_DOWN) == 0 && uv_now(&loop) - t0 < 5000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(reg_count(registry_nodes(reg), REG_DOWN), 1);
    registry_stop(reg);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_down_forgotten), cmocka_unit_test(test_heartbeats_keep_it_up),
        cmocka_unit_test(test_draining),          cmocka_unit_test(test_down_comes_back),
        cmocka_unit_test(test_aged_entries),      cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_sorted_and_json),   cmocka_unit_test(test_changes_reported),
        cmocka_unit_test(test_many_nodes),        cmocka_unit_test(test_running_without_redis),
        cmocka_unit_test(test_chat_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
