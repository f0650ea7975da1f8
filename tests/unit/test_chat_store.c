/* Unit tests for proto/chat_store.c: the label rules of names, user ids and rooms at their
 * limits, and keys that stay distinct whatever separators their parts hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chat_store.h"
#include "utf8.h"

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
    assert_string_equal(b.data, "K:chat:room:lobby"); /* plain names keep their keys */
    chat_key_room(&b, "K", S("a:b%c{d}"));
    assert_string_equal(b.data, "K:chat:room:a%3Ab%25c%7Bd%7D");
    chat_key_presence(&b, "K", S("x:y"));
    assert_string_equal(b.data, "K:chat:presence:x%3Ay");
    chat_key_alive(&b, "K", "uid1");
    assert_string_equal(b.data, "K:chat:alive:uid1");
    sbuf_free(&b);
}

static void test_dm_keys(void **state)
{
    (void)state;
    sbuf_t a = SBUF_INIT, b = SBUF_INIT;
    chat_key_dm(&a, "K", S("bob"), S("alice"));
    chat_key_dm(&b, "K", S("alice"), S("bob"));
    assert_string_equal(a.data, "K:chat:dm:alice:bob");
    assert_string_equal(a.data, b.data);
    /* ("x:y", "z") and ("x", "y:z") were one key when parts were joined with ':' as they are */
    chat_key_dm(&a, "K", S("x:y"), S("z"));
    chat_key_dm(&b, "K", S("x"), S("y:z"));
    assert_string_not_equal(a.data, b.data);
    /* a prefix of the other sorts first */
    chat_key_dm(&a, "K", S("ab"), S("a"));
    assert_string_equal(a.data, "K:chat:dm:a:ab");
    sbuf_free(&a);
    sbuf_free(&b);
}

static void test_dedupe_keys(void **state)
{
    (void)state;
    sbuf_t s = SBUF_INIT, d1 = SBUF_INIT, d2 = SBUF_INIT;
    chat_key_room(&s, "K", S("r"));
    chat_key_dedupe(&d1, "K", s.data, s.len, S("guest:mallory"), S("x"));
    assert_string_equal(d1.data, "K:chat:dedupe:room:r:guest%3Amallory:x");
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
    assert_string_equal(d1.data, "K:chat:dedupe:dm:a:b:a:c");
    sbuf_free(&s);
    sbuf_free(&d1);
    sbuf_free(&d2);
}

static void test_store_cmd(void **state)
{
    (void)state;
    chat_store_msg_t m = {.stream = "K:chat:room:r",
                          .stream_len = 13,
                          .dedupe = "K:chat:dedupe:room:r:u:1",
                          .dedupe_len = 24,
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
    assert_string_equal(c.argv[3], "K:chat:room:r");
    assert_string_equal(c.argv[4], "K:chat:dedupe:room:r:u:1");
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
    assert_int_equal(c.lens[4], 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),      cmocka_unit_test(test_rooms),
        cmocka_unit_test(test_client_ids), cmocka_unit_test(test_key_parts),
        cmocka_unit_test(test_dm_keys),    cmocka_unit_test(test_dedupe_keys),
        cmocka_unit_test(test_store_cmd),  cmocka_unit_test(test_stream_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
