/* Unit tests for proto/cluster_event.c: type names both ways, the stream's key, the members
 * each type needs, and stream entries read back into events (and refused when they are not
 * events) and written out as webhooks carry them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resp_text.h"

#include "cluster_event.h"
#include "redis_cluster.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

/* The RESP text of an entry [id, [k1, v1, ...]] from nfields strings. */
static void entry_text(char *out, size_t cap, const char *id, const char *const *kv, size_t n)
{
    size_t o = (size_t)snprintf(out, cap, "*2\r\n$%zu\r\n%s\r\n*%zu\r\n", strlen(id), id, n);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "$%zu\r\n%s\r\n", strlen(kv[i]), kv[i]);
}

static int read_entry(const char *const *kv, size_t n, cluster_event_t *ev)
{
    char text[4096];
    entry_text(text, sizeof text, "1733400000000-0", kv, n);
    redisReply *r = resp_n(text, strlen(text));
    int rc = cluster_event_read(r, ev);
    freeReplyObject(r);
    return rc;
}

static void test_names(void **state)
{
    (void)state;
    for (int t = 0; t < CLUSTER_EVENT_COUNT; t++) {
        const char *n = cluster_event_name((cluster_event_type_t)t);
        assert_non_null(n);
        assert_int_equal(cluster_event_parse_name(n, strlen(n)), t);
    }
    assert_null(cluster_event_name(CLUSTER_EVENT_COUNT));
    assert_null(cluster_event_name((cluster_event_type_t)-1));
    assert_int_equal(cluster_event_parse_name("message", 7), CLUSTER_EVENT_MESSAGE);
    assert_int_equal(cluster_event_parse_name("messages", 8), -1);
    assert_int_equal(cluster_event_parse_name("messag", 6), -1);
    assert_int_equal(cluster_event_parse_name("", 0), -1);
    sbuf_t k = SBUF_INIT;
    cluster_event_key(&k, "chatcluster");
    assert_string_equal(k.data, "chatcluster:events");
    sbuf_free(&k);
}

static void check(cluster_event_type_t t, const char *data, int want)
{
    json_t *d = json_loads(data, 0, NULL);
    assert_int_equal(cluster_event_check(t, d), want);
    json_decref(d);
}

static void test_members(void **state)
{
    (void)state;
    const char *user = "{\"user\":{\"id\":\"guest:a\",\"name\":\"a\"}}";
    check(CLUSTER_EVENT_USER_ONLINE, user, 0);
    check(CLUSTER_EVENT_USER_OFFLINE, "{\"user\":{\"id\":\"x\"}}", -1);
    check(CLUSTER_EVENT_MEMBER_JOINED, "{\"room\":\"r\",\"user\":{\"id\":\"x\",\"name\":\"y\"}}",
          0);
    check(CLUSTER_EVENT_MEMBER_LEFT, user, -1);
    check(CLUSTER_EVENT_ROOM_OCCUPIED, "{\"room\":\"r\"}", 0);
    check(CLUSTER_EVENT_ROOM_VACATED, "{\"room\":1}", -1);
    const char *msg = "{\"room\":\"r\",\"message\":{\"id\":\"1-0\",\"text\":\"hi\",\"ts\":1,"
                      "\"from\":{\"id\":\"x\",\"name\":\"y\"}}}";
    check(CLUSTER_EVENT_MESSAGE, msg, 0);
    check(CLUSTER_EVENT_PRIVATE_MESSAGE, msg, -1); /* "to", not "room" */
    check(CLUSTER_EVENT_PRIVATE_MESSAGE,
          "{\"to\":\"u\",\"message\":{\"id\":\"1-0\",\"text\":\"hi\",\"from\":{\"id\":\"x\","
          "\"name\":\"y\"}}}",
          0);
    check(CLUSTER_EVENT_MESSAGE, "{\"room\":\"r\",\"message\":{\"id\":\"1-0\",\"text\":\"hi\"}}",
          -1);
    check(CLUSTER_EVENT_NODE_DOWN, "{\"node\":{\"id\":\"abc\",\"tag\":\"n1\"}}", 0);
    check(CLUSTER_EVENT_NODE_UP, "{\"node\":\"abc\"}", -1);
    check(CLUSTER_EVENT_MESSAGE, "[]", -1);
    assert_int_equal(cluster_event_check(CLUSTER_EVENT_MESSAGE, NULL), -1);
    json_t *empty = json_object();
    assert_int_equal(cluster_event_check(CLUSTER_EVENT_COUNT, empty), -1);
    json_decref(empty);
}

static void test_read(void **state)
{
    (void)state;
    const char *kv[] = {
        "type",  "member_joined",
        "ts",    "1733400000123",
        "node",  "Bm_cHL",
        "data",  "{\"room\":\"lobby\",\"user\":{\"id\":\"guest:\xc3\xa9\",\"name\":\"\xc3\xa9\"}}",
        "extra", "ignored"};
    cluster_event_t ev;
    assert_int_equal(read_entry(kv, 10, &ev), 0);
    assert_string_equal(ev.id, "1733400000000-0");
    assert_int_equal(ev.type, CLUSTER_EVENT_MEMBER_JOINED);
    assert_int_equal(ev.ts, 1733400000123);
    assert_string_equal(ev.node, "Bm_cHL");
    json_t *j = cluster_event_json(&ev);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"data\":{\"room\":\"lobby\",\"user\":{\"id\":\"guest:\xc3\xa9\","
                              "\"name\":\"\xc3\xa9\"}},\"id\":\"1733400000000-0\",\"node\":"
                              "\"Bm_cHL\",\"ts\":1733400000123,\"type\":\"member_joined\"}");
    free(text);
    json_decref(j);
    cluster_event_free(&ev);
}

static void test_refused(void **state)
{
    (void)state;
    const char *data = "{\"room\":\"r\"}";
    const char *const bad[][8] = {
        {"type", "room_occupied", "ts", "1", "node", "n", "data", "[1]"},
        {"type", "room_occupy", "ts", "1", "node", "n", "data", "{\"room\":\"r\"}"},
        {"type", "room_occupied", "ts", "-1", "node", "n", "data", "{\"room\":\"r\"}"},
        {"type", "room_occupied", "ts", "1x", "node", "n", "data", "{\"room\":\"r\"}"},
        {"type", "room_occupied", "ts", "1", "node", "a b", "data", "{\"room\":\"r\"}"},
        {"type", "room_occupied", "ts", "1", "node", "", "data", "{\"room\":\"r\"}"},
        {"type", "room_occupied", "ts", "1", "node", "n", "data", "{\"room\":\"r\",\"room\":1}"},
        {"type", "room_occupied", "ts", "1", "node", "n", "data", "{\"room\":\"r\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cluster_event_t ev;
        assert_int_equal(read_entry(bad[i], 8, &ev), -1);
        assert_null(ev.data);
    }
    /* a field missing */
    const char *missing[] = {"type", "room_occupied", "ts", "1", "data", data};
    cluster_event_t ev;
    assert_int_equal(read_entry(missing, 6, &ev), -1);
    /* not an entry at all */
    const char notarray[] = "$3\r\nabc\r\n";
    redisReply *r = resp_n(notarray, sizeof notarray - 1);
    assert_int_equal(cluster_event_read(r, &ev), -1);
    freeReplyObject(r);
    assert_int_equal(cluster_event_read(NULL, &ev), -1);
    const char odd[] = "*2\r\n$3\r\n1-0\r\n*1\r\n$4\r\ntype\r\n";
    r = resp_n(odd, sizeof odd - 1);
    assert_int_equal(cluster_event_read(r, &ev), -1);
    freeReplyObject(r);
}

static void test_cmd(void **state)
{
    (void)state;
    cluster_event_cmd_t cmd;
    json_t *d = json_loads("{\"room\":\"r\u00e9\"}", 0, NULL);
    assert_int_equal(
        cluster_event_cmd(&cmd, "cc", 500, CLUSTER_EVENT_ROOM_OCCUPIED, 1733400000123, "n1", d), 0);
    const char *want[] = {"XADD",   "cc:events",
                          "MAXLEN", "~",
                          "500",    "*",
                          "type",   "room_occupied",
                          "ts",     "1733400000123",
                          "node",   "n1",
                          "data",   "{\"room\":\"r\u00e9\"}"};
    assert_int_equal(cmd.argc, 14);
    for (int i = 0; i < cmd.argc; i++) {
        assert_int_equal(cmd.lens[i], strlen(want[i]));
        assert_memory_equal(cmd.argv[i], want[i], cmd.lens[i]);
    }
    assert_string_equal(cmd.key.data, "cc:events");
    cluster_event_cmd_free(&cmd);
    /* refused: no length, a type out of range, data without the type's members */
    assert_int_equal(cluster_event_cmd(&cmd, "cc", 0, CLUSTER_EVENT_ROOM_OCCUPIED, 1, "n1", d), -1);
    assert_int_equal(cluster_event_cmd(&cmd, "cc", 5, CLUSTER_EVENT_COUNT, 1, "n1", d), -1);
    assert_int_equal(cluster_event_cmd(&cmd, "cc", 5, CLUSTER_EVENT_MESSAGE, 1, "n1", d), -1);
    assert_int_equal(
        cluster_event_node_cmd(&cmd, "cc", 5, 60, CLUSTER_EVENT_ROOM_OCCUPIED, 1, "a", d), -1);
    json_decref(d);
}

static void test_node_cmd(void **state)
{
    (void)state;
    cluster_event_cmd_t cmd;
    json_t *d = json_loads("{\"node\":{\"id\":\"n7\",\"tag\":\"t\"}}", 0, NULL);
    static const struct {
        cluster_event_type_t t;
        const char *state;
    } cases[] = {{CLUSTER_EVENT_NODE_UP, "up"},
                 {CLUSTER_EVENT_NODE_DRAINING, "draining"},
                 {CLUSTER_EVENT_NODE_DOWN, "down"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(cluster_event_node_cmd(&cmd, "chatcluster", 100, 3600, cases[c].t, 42,
                                                "adminnode-1", d),
                         0);
        assert_int_equal(cmd.argc, 12);
        assert_string_equal(cmd.argv[0], "EVAL");
        assert_string_equal(cmd.argv[2], "2");
        assert_string_equal(cmd.argv[3], "chatcluster:events");
        assert_string_equal(cmd.argv[4], "{chatcluster:events}:node:n7");
        /* both keys of the script in one slot */
        assert_int_equal(redis_cluster_slot(cmd.argv[3], cmd.lens[3]),
                         redis_cluster_slot(cmd.argv[4], cmd.lens[4]));
        const char *args[] = {cases[c].state,
                              "3600",
                              "100",
                              cluster_event_name(cases[c].t),
                              "42",
                              "adminnode-1",
                              "{\"node\":{\"id\":\"n7\",\"tag\":\"t\"}}"};
        for (int a = 0; a < 7; a++) {
            assert_int_equal(cmd.lens[5 + a], strlen(args[a]));
            assert_memory_equal(cmd.argv[5 + a], args[a], cmd.lens[5 + a]);
        }
        cluster_event_cmd_free(&cmd);
    }
    assert_int_equal(cluster_event_node_cmd(&cmd, "c", 100, 0, CLUSTER_EVENT_NODE_UP, 1, "a", d),
                     -1);
    json_decref(d);
    d = json_loads("{\"node\":{\"tag\":\"t\"}}", 0, NULL);
    assert_int_equal(cluster_event_node_cmd(&cmd, "c", 100, 9, CLUSTER_EVENT_NODE_UP, 1, "a", d),
                     -1);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names), cmocka_unit_test(test_members),
        cmocka_unit_test(test_read),  cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cmd),   cmocka_unit_test(test_node_cmd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
