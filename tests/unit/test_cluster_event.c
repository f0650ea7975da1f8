/* Unit tests for proto/cluster_event.c: type names both ways, the stream's key, the members
 * each type needs, and stream entries read back into events (and refused when they are not
 * events) and written out as webhooks carry them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_event.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

/* The first complete reply in the RESP text s[0..len). */
static redisReply *resp(const char *s, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    assert_int_equal(redisReaderFeed(rd, s, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    assert_non_null(r);
    redisReaderFree(rd);
    return r;
}

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
    redisReply *r = resp(text, strlen(text));
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
    redisReply *r = resp(notarray, sizeof notarray - 1);
    assert_int_equal(cluster_event_read(r, &ev), -1);
    freeReplyObject(r);
    assert_int_equal(cluster_event_read(NULL, &ev), -1);
    const char odd[] = "*2\r\n$3\r\n1-0\r\n*1\r\n$4\r\ntype\r\n";
    r = resp(odd, sizeof odd - 1);
    assert_int_equal(cluster_event_read(r, &ev), -1);
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
