/* Unit tests for proto/chat_store.c: the label rules of names, user ids and rooms at their
 * limits, keys that stay distinct whatever separators their parts hold, and keys that share a
 * slot where one command touches them together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resp_text.h"

#include "chat_store.h"
#include "redis_cluster.h"
#include "utf8.h"

#include <hiredis/hiredis.h>
#include <string.h>

#define S(lit) lit, sizeof(lit) - 1

static void emoji(char *buf, int n)
{
    for (int i = 0; i < n; i++) memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
}

static void test_names(void **state)
{
    (void)state;
    char buf[400];
    emoji(buf, 65);
    assert_int_equal(chat_check_name(buf, 64 * 4), 0);
    assert_int_equal(chat_check_name(buf, 65 * 4), UTF8_LABEL_LONG);
    assert_int_equal(chat_check_name(buf, 64 * 4 - 1), UTF8_LABEL_INVALID);
    /* a guest id is the prefix and a name of the longest kind */
    memcpy(buf, CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN);
    emoji(buf + CHAT_GUEST_PREFIX_LEN, 64);
    assert_int_equal(chat_check_user_id(buf, CHAT_GUEST_PREFIX_LEN + 256), 0);
    assert_int_equal(chat_check_name(S("")), UTF8_LABEL_EMPTY);
    assert_int_equal(chat_check_name("a\0", 2), UTF8_LABEL_CONTROL);
}

static void test_rooms(void **state)
{
    (void)state;
    char buf[600];
    memset(buf, 'r', 129);
    assert_int_equal(chat_check_room(buf, 128), 0);
    assert_int_equal(chat_check_room(buf, 129), UTF8_LABEL_LONG);
    emoji(buf, 129);
    assert_int_equal(chat_check_room(buf, 128 * 4), 0);
    assert_int_equal(chat_check_room(buf, 129 * 4), UTF8_LABEL_LONG);
    assert_int_equal(chat_check_room(S("user:bob")), CHAT_EUSERROOM);
    assert_int_equal(chat_check_room(S("users")), 0);
    assert_int_equal(chat_check_room(S("a:b{c}%")), 0);
    /* a socket's own room: another socket in a room of that name would get what is sent to it */
    assert_int_equal(chat_check_room(S("AbCdEfGhIj0123456_-x")), CHAT_ESOCKETROOM);
    assert_int_equal(chat_check_room(S("AbCdEfGhIj0123456_-")), 0);   /* 19 */
    assert_int_equal(chat_check_room(S("AbCdEfGhIj0123456_-xy")), 0); /* 21 */
    assert_int_equal(chat_check_room(S("AbCdEfGhIj0123456_.x")), 0);  /* not the alphabet */
    assert_string_equal(chat_check_strerror(CHAT_EUSERROOM), "is a user's own room (user:...)");
}

static void test_client_ids(void **state)
{
    (void)state;
    assert_true(chat_check_client_id(S("m-1.2_3:4")));
    assert_false(chat_check_client_id(S("")));
    assert_false(chat_check_client_id(S("a b")));
    assert_false(chat_check_client_id("a\0", 2));
    char buf[70];
    memset(buf, 'x', sizeof buf);
    assert_true(chat_check_client_id(buf, 64));
    assert_false(chat_check_client_id(buf, 65));
}

static void test_key_parts(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    chat_key_room(&b, "K", S("lobby"));
    assert_string_equal(b.data, "K:chat:{room:lobby}"); /* plain names stay readable */
    chat_key_room(&b, "K", S("a:b%c{d}"));
    assert_string_equal(b.data, "K:chat:{room:a%3Ab%25c%7Bd%7D}");
    chat_key_presence(&b, "K", S("x:y"));
    assert_string_equal(b.data, "K:chat:presence:x%3Ay");
    chat_key_alive(&b, "K", "uid1");
    assert_string_equal(b.data, "K:chat:{alive}:uid1");
    /* a prefix's braces and '%' are escaped too (its ':' are not), so the tag is ours */
    chat_key_room(&b, "a:b{c}%", S("r"));
    assert_string_equal(b.data, "a:b%7Bc%7D%25:chat:{room:r}");
    sbuf_free(&b);
}

static void test_dm_keys(void **state)
{
    (void)state;
    sbuf_t a = SBUF_INIT, b = SBUF_INIT;
    chat_key_dm(&a, "K", S("bob"), S("alice"));
    chat_key_dm(&b, "K", S("alice"), S("bob"));
    assert_string_equal(a.data, "K:chat:{dm:alice:bob}");
    assert_string_equal(a.data, b.data);
    /* ("x:y", "z") and ("x", "y:z") were one key when parts were joined with ':' as they are */
    chat_key_dm(&a, "K", S("x:y"), S("z"));
    chat_key_dm(&b, "K", S("x"), S("y:z"));
    assert_string_not_equal(a.data, b.data);
    /* a prefix of the other sorts first */
    chat_key_dm(&a, "K", S("ab"), S("a"));
    assert_string_equal(a.data, "K:chat:{dm:a:ab}");
    chat_key_dm(&a, "K", S("guest:a}b"), S("guest:{c%"));
    assert_string_equal(a.data, "K:chat:{dm:guest%3Aa%7Db:guest%3A%7Bc%25}");
    sbuf_free(&a);
    sbuf_free(&b);
}

static void test_dedupe_keys(void **state)
{
    (void)state;
    sbuf_t s = SBUF_INIT, d1 = SBUF_INIT, d2 = SBUF_INIT;
    chat_key_room(&s, "K", S("r"));
    chat_key_dedupe(&d1, "K", s.data, s.len, S("guest:mallory"), S("x"));
    assert_string_equal(d1.data, "K:chat:dedupe:{room:r}:guest%3Amallory:x");
    /* the planting attack: user "a" with id "b:c" against user "a:b" with id "c" */
    chat_key_dedupe(&d1, "K", s.data, s.len, S("a"), S("b:c"));
    chat_key_dedupe(&d2, "K", s.data, s.len, S("a:b"), S("c"));
    assert_string_not_equal(d1.data, d2.data);
    /* room "r:a" with user "b" against room "r" with user "a:b" */
    chat_key_room(&s, "K", S("r:a"));
    chat_key_dedupe(&d1, "K", s.data, s.len, S("b"), S("c"));
    chat_key_room(&s, "K", S("r"));
    chat_key_dedupe(&d2, "K", s.data, s.len, S("a:b"), S("c"));
    assert_string_not_equal(d1.data, d2.data);
    /* a room stream and a conversation stream never share a dedupe key */
    chat_key_dm(&s, "K", S("a"), S("b"));
    chat_key_dedupe(&d1, "K", s.data, s.len, S("a"), S("c"));
    assert_string_equal(d1.data, "K:chat:dedupe:{dm:a:b}:a:c");
    /* with an escaped prefix the scope is still the whole tag */
    chat_key_room(&s, "p{", S("r"));
    chat_key_dedupe(&d1, "p{", s.data, s.len, S("u"), S("1"));
    assert_string_equal(d1.data, "p%7B:chat:dedupe:{room:r}:u:1");
    sbuf_free(&s);
    sbuf_free(&d1);
    sbuf_free(&d2);
}

/* The slot of the key in b. */
static unsigned slot_of(const sbuf_t *b)
{
    return redis_cluster_slot(b->data, b->len);
}

/* A stream and every dedupe key of it are of one slot (the store EVAL declares both), for
 * rooms and conversations whatever their names hold; the streams themselves spread. */
static void test_key_slots(void **state)
{
    (void)state;
    static const char *const names[] = {"lobby", "a:b",   "{x}",  "}{",       "%7B",
                                        "r%:{}", "{{}}:", "news", "guest:u{", "z"};
    static const char *const prefixes[] = {"socket.io", "K", "a{b}", "}{:%"};
    const size_t nn = sizeof names / sizeof names[0];
    sbuf_t s = SBUF_INIT, d = SBUF_INIT;
    unsigned first = 0, spread = 0;
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        const char *k = prefixes[p];
        for (size_t i = 0; i < nn; i++) {
            chat_key_room(&s, k, names[i], strlen(names[i]));
            unsigned slot = slot_of(&s);
            if (i == 0) first = slot;
            spread |= slot != first;
            for (size_t u = 0; u < nn; u++) {
                chat_key_dedupe(&d, k, s.data, s.len, names[u], strlen(names[u]), S("c-1:2"));
                assert_int_equal(slot_of(&d), slot);
            }
            for (size_t j = 0; j < nn; j++) {
                chat_key_dm(&s, k, names[i], strlen(names[i]), names[j], strlen(names[j]));
                slot = slot_of(&s);
                chat_key_dedupe(&d, k, s.data, s.len, names[j], strlen(names[j]), S("x"));
                assert_int_equal(slot_of(&d), slot);
                chat_key_dedupe(&d, k, s.data, s.len, names[i], strlen(names[i]), S("y.z"));
                assert_int_equal(slot_of(&d), slot);
            }
        }
    }
    assert_true(spread); /* not every key under one tag */
    /* every node's liveness key is of one slot, whatever the uid and the prefix */
    chat_key_alive(&s, "socket.io", "Bm_cHL");
    unsigned alive = slot_of(&s);
    for (size_t i = 0; i < nn; i++) {
        chat_key_alive(&d, "socket.io", names[i]);
        assert_int_equal(slot_of(&d), alive);
    }
    assert_int_equal(alive, redis_cluster_slot(S("alive")));
    chat_key_alive(&d, "a{b}", "n1");
    assert_int_equal(slot_of(&d), alive);
    sbuf_free(&s);
    sbuf_free(&d);
}

static void test_store_cmd(void **state)
{
    (void)state;
    chat_store_msg_t m = {.stream = "K:chat:{room:r}",
                          .stream_len = 15,
                          .dedupe = "K:chat:dedupe:{room:r}:u:1",
                          .dedupe_len = 26,
                          .maxlen = 1000,
                          .ttl = 2592000,
                          .from = "u",
                          .from_len = 1,
                          .name = "U",
                          .name_len = 1,
                          .text = "hi",
                          .text_len = 2};
    chat_store_cmd_t c;
    chat_store_cmd(&c, &m);
    /* EVAL script 2 stream dedupe | maxlen from name text to ttl */
    assert_string_equal(c.argv[0], "EVAL");
    assert_string_equal(c.argv[2], "2");
    assert_string_equal(c.argv[3], "K:chat:{room:r}");
    assert_string_equal(c.argv[4], "K:chat:dedupe:{room:r}:u:1");
    assert_string_equal(c.argv[5], "1000");
    assert_string_equal(c.argv[9], ""); /* a room message has no recipient */
    assert_string_equal(c.argv[10], "2592000");
    for (int i = 0; i < CHAT_STORE_ARGC; i++) {
        assert_non_null(c.argv[i]);
        assert_int_equal(c.lens[i], strlen(c.argv[i]));
    }
    assert_non_null(strstr(c.argv[1], "EXPIRE"));
    m.dedupe = NULL;
    m.to = "v";
    m.to_len = 1;
    chat_store_cmd(&c, &m);
    /* no dedupe key: the stream again, so both declared keys are of its slot */
    assert_string_equal(c.argv[4], "K:chat:{room:r}");
    assert_int_equal(c.lens[4], 15);
    assert_string_equal(c.argv[9], "v");
}

static void test_stream_ids(void **state)
{
    (void)state;
    assert_true(chat_check_stream_id(S("1712345678901-0")));
    assert_true(chat_check_stream_id(S("17")));
    assert_false(chat_check_stream_id(S("")));
    assert_false(chat_check_stream_id(S("-1")));
    assert_false(chat_check_stream_id(S("1-")));
    assert_false(chat_check_stream_id(S("1-2-3")));
    assert_false(chat_check_stream_id(S("1 2")));
    assert_false(chat_check_stream_id(S("+")));
    char buf[41];
    memset(buf, '1', sizeof buf);
    assert_true(chat_check_stream_id(buf, 40));
    assert_false(chat_check_stream_id(buf, 41));
}

/* The event types out[0..n) were, as names joined by ','. */
static void types(char *buf, size_t cap, const chat_presence_event_t *ev, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(buf, cluster_event_name(ev[i].type), cap - strlen(buf) - 2);
        if (i + 1 < n) strcat(buf, ",");
    }
}

static void expect_events(const char *room, int arrived, size_t user, size_t all, const char *want)
{
    chat_presence_event_t ev[2];
    size_t n = chat_presence_events(room, strlen(room), "guest:a", "a", arrived, user, all, ev);
    char got[200];
    types(got, sizeof got, ev, n);
    assert_string_equal(got, want);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cluster_event_check(ev[i].type, ev[i].data), 0);
        json_decref(ev[i].data);
    }
}

static void test_presence_events(void **state)
{
    (void)state;
    expect_events("lobby", 1, 1, 1, "room_occupied,member_joined");
    expect_events("lobby", 1, 1, 3, "member_joined");
    expect_events("lobby", 1, 2, 2, "");
    expect_events("lobby", 0, 0, 0, "member_left,room_vacated");
    expect_events("lobby", 0, 0, 2, "member_left");
    expect_events("lobby", 0, 1, 1, "");
    expect_events("user:guest:a", 1, 1, 1, "user_online");
    expect_events("user:guest:a", 1, 2, 2, "");
    expect_events("user:guest:a", 0, 0, 0, "user_offline");
    expect_events("user:guest:a", 0, 1, 1, "");
    /* the data each carries */
    chat_presence_event_t ev[2];
    assert_int_equal(chat_presence_events(S("r\xc3\xa9"), "u1", "\xf0\x9f\x98\x80", 0, 0, 0, ev),
                     2);
    char *t0 = json_dumps(ev[0].data, JSON_COMPACT | JSON_SORT_KEYS);
    char *t1 = json_dumps(ev[1].data, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        t0, "{\"room\":\"r\xc3\xa9\",\"user\":{\"id\":\"u1\",\"name\":\"\xf0\x9f\x98\x80\"}}");
    assert_string_equal(t1, "{\"room\":\"r\xc3\xa9\"}");
    free(t0);
    free(t1);
    json_decref(ev[0].data);
    json_decref(ev[1].data);
    /* a room that is not UTF-8 makes no event */
    assert_int_equal(chat_presence_events(S("\xff"), "u1", "n", 1, 1, 1, ev), 0);
}

static void expect_pruned(const char *room, const char *reply, const char *want)
{
    redisReply *r = resp(reply);
    size_t n;
    chat_presence_event_t *ev = chat_presence_pruned(room, strlen(room), r, &n);
    char got[300];
    types(got, sizeof got, ev, n);
    assert_string_equal(got, want);
    chat_presence_events_free(ev, n);
    freeReplyObject(r);
}

static void test_presence_pruned(void **state)
{
    (void)state;
    /* nothing went */
    expect_pruned("lobby", "*1\r\n:3\r\n", "");
    /* two users went, the room is empty after the last */
    expect_pruned("lobby", "*7\r\n:0\r\n$1\r\na\r\n$1\r\nA\r\n:0\r\n$1\r\nb\r\n$1\r\nB\r\n:0\r\n",
                  "member_left,member_left,room_vacated");
    /* one went, one kept an entry elsewhere, the room is still occupied */
    expect_pruned("lobby", "*7\r\n:2\r\n$1\r\na\r\n$1\r\nA\r\n:1\r\n$1\r\nb\r\n$1\r\nB\r\n:0\r\n",
                  "member_left");
    /* a user's own room emptied */
    expect_pruned("user:a", "*4\r\n:0\r\n$1\r\na\r\n$1\r\nA\r\n:0\r\n", "user_offline");
    /* entries that are not UTF-8 are skipped; the others stand */
    expect_pruned("lobby",
                  "*7\r\n:0\r\n$1\r\n\xff\r\n$1\r\nA\r\n:0\r\n$1\r\nb\r\n$1\r\nB\r\n:0\r\n",
                  "member_left,room_vacated");
    /* not the script's reply */
    expect_pruned("lobby", "$2\r\nok\r\n", "");
    expect_pruned("lobby", "*0\r\n", "");
    expect_pruned("lobby", "*2\r\n:0\r\n$1\r\na\r\n", "");
    expect_pruned("lobby", "*1\r\n:-1\r\n", "");
    expect_pruned("lobby", "*4\r\n:0\r\n:1\r\n$1\r\nA\r\n:0\r\n", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),           cmocka_unit_test(test_rooms),
        cmocka_unit_test(test_client_ids),      cmocka_unit_test(test_key_parts),
        cmocka_unit_test(test_dm_keys),         cmocka_unit_test(test_dedupe_keys),
        cmocka_unit_test(test_key_slots),       cmocka_unit_test(test_store_cmd),
        cmocka_unit_test(test_stream_ids),      cmocka_unit_test(test_presence_events),
        cmocka_unit_test(test_presence_pruned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
