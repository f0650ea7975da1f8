/* Unit tests for proto/hook_msg.c: the auth hook's answers (admit with defaults, rooms, data,
 * cache_s capped; refusals with and without a code; every unusable shape), its cache form read
 * back, the publish hook's answers (204, empty 200, accept, rewrite within the text limit,
 * refuse), refusal codes, and the request documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hook_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hook_verdict_t auth(long status, const char *body, hook_auth_t *a)
{
    return hook_auth_parse(status, body, strlen(body), 100, a);
}

static void test_auth_admit(void **state)
{
    (void)state;
    hook_auth_t a;
    assert_int_equal(auth(200, "{\"user\":{\"id\":\"u1\"}}", &a), HOOK_ADMIT);
    assert_string_equal(a.id, "u1");
    assert_string_equal(a.name, "u1"); /* the name defaults to the id */
    assert_int_equal(a.nrooms, 0);
    assert_null(a.data);
    assert_int_equal(a.cache_s, 0);
    hook_auth_free(&a);

    assert_int_equal(auth(200,
                          "{\"user\":{\"id\":\"u2\",\"name\":\"Ann\"},\"rooms\":[\"a\",\"b\"],"
                          "\"data\":{\"plan\":\"pro\"},\"cache_s\":100000}",
                          &a),
                     HOOK_ADMIT);
    assert_string_equal(a.name, "Ann");
    assert_int_equal(a.nrooms, 2);
    assert_string_equal(a.rooms[1], "b");
    assert_string_equal(a.data, "{\"plan\":\"pro\"}");
    assert_int_equal(a.cache_s, HOOK_CACHE_MAX_S); /* capped */
    /* the cache's form reads back as the same answer */
    sbuf_t enc = SBUF_INIT;
    assert_int_equal(hook_auth_encode(&a, &enc), 0);
    hook_auth_t b;
    assert_int_equal(hook_auth_parse(200, enc.data, enc.len, 100, &b), HOOK_ADMIT);
    assert_string_equal(b.id, "u2");
    assert_string_equal(b.name, "Ann");
    assert_int_equal(b.nrooms, 2);
    assert_string_equal(b.data, a.data);
    assert_int_equal(b.cache_s, a.cache_s);
    hook_auth_free(&b);
    sbuf_free(&enc);
    hook_auth_free(&a);
}

static void test_auth_refuse(void **state)
{
    (void)state;
    hook_auth_t a;
    assert_int_equal(auth(403, "{\"error\":{\"code\":\"banned\",\"message\":\"no\"}}", &a),
                     HOOK_REFUSE);
    assert_string_equal(a.code, "banned");
    assert_string_equal(a.message, "no");
    hook_auth_free(&a);
    /* any status, no code */
    assert_int_equal(auth(200, "{\"error\":{\"message\":\"later\"}}", &a), HOOK_REFUSE);
    assert_null(a.code);
    assert_string_equal(a.message, "later");
    hook_auth_free(&a);
    /* a long message is cut at a character boundary */
    char body[1200];
    char msg[700] = "";
    for (int i = 0; i < 170; i++) strcat(msg, "\xc3\xa9"); /* 340 bytes of é */
    snprintf(body, sizeof body, "{\"error\":{\"message\":\"%s\"}}", msg);
    assert_int_equal(auth(500, body, &a), HOOK_REFUSE);
    assert_true(strlen(a.message) <= HOOK_MESSAGE_MAX_BYTES);
    assert_int_equal(strlen(a.message) % 2, 0);
    hook_auth_free(&a);
}

static void test_auth_unavailable(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "<html>",
        "[]",
        "{\"user\":{\"id\":5}}",
        "{\"user\":\"u\"}",
        "{\"user\":{\"id\":\"\"}}",
        "{\"user\":{\"id\":\"guest:bob\"}}",
        "{\"user\":{\"id\":\"u\",\"name\":7}}",
        "{\"user\":{\"id\":\"u\"},\"rooms\":\"a\"}",
        "{\"user\":{\"id\":\"u\"},\"rooms\":[1]}",
        "{\"user\":{\"id\":\"u\"},\"rooms\":[\"user:x\"]}",
        "{\"user\":{\"id\":\"u\"},\"data\":[1]}",
        "{\"user\":{\"id\":\"u\"},\"cache_s\":-1}",
        "{\"user\":{\"id\":\"u\"},\"cache_s\":1.5}",
        "{\"user\":{\"id\":\"u\"},\"user\":{\"id\":\"v\"}}",
        "{\"error\":\"no\"}",
        "{\"error\":{\"code\":\"has space\",\"message\":\"x\"}}",
        "{\"error\":{\"message\":5}}",
        "{\"user\":{\"id\":\"a\xff\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hook_auth_t a;
        if (auth(200, bad[i], &a) != HOOK_UNAVAILABLE) fail_msg("admitted: %s", bad[i]);
        assert_non_null(a.reason);
        hook_auth_free(&a);
    }
    hook_auth_t a;
    /* a good body with a status other than 200 */
    assert_int_equal(auth(500, "{\"user\":{\"id\":\"u\"}}", &a), HOOK_UNAVAILABLE);
    hook_auth_free(&a);
    /* names: 64 characters of 4 bytes pass, 65 do not; ids likewise */
    char body[600], name[300] = "";
    for (int i = 0; i < 64; i++) strcat(name, "\xf0\x9f\x98\x80");
    snprintf(body, sizeof body, "{\"user\":{\"id\":\"e\",\"name\":\"%s\"}}", name);
    assert_int_equal(auth(200, body, &a), HOOK_ADMIT);
    hook_auth_free(&a);
    strcat(name, "\xf0\x9f\x98\x80");
    snprintf(body, sizeof body, "{\"user\":{\"id\":\"e\",\"name\":\"%s\"}}", name);
    assert_int_equal(auth(200, body, &a), HOOK_UNAVAILABLE);
    hook_auth_free(&a);
    /* more rooms than allowed */
    assert_int_equal(
        hook_auth_parse(200, "{\"user\":{\"id\":\"u\"},\"rooms\":[\"a\",\"b\"]}", 39, 1, &a),
        HOOK_UNAVAILABLE);
    hook_auth_free(&a);
}

static hook_verdict_t pub(long status, const char *body, hook_publish_t *p)
{
    return hook_publish_parse(status, body, strlen(body), 10, p);
}

static void test_publish(void **state)
{
    (void)state;
    hook_publish_t p;
    assert_int_equal(pub(204, "", &p), HOOK_ACCEPT);
    hook_publish_free(&p);
    assert_int_equal(pub(200, " \n", &p), HOOK_ACCEPT);
    hook_publish_free(&p);
    assert_int_equal(pub(200, "{\"action\":\"accept\"}", &p), HOOK_ACCEPT);
    hook_publish_free(&p);
    assert_int_equal(pub(200, "{\"action\":\"rewrite\",\"text\":\"0123456789\"}", &p),
                     HOOK_REWRITE);
    assert_string_equal(p.text, "0123456789");
    assert_int_equal(p.text_len, 10);
    hook_publish_free(&p);
    assert_int_equal(pub(200, "{\"action\":\"refuse\",\"code\":\"spam\"}", &p), HOOK_REFUSE);
    assert_string_equal(p.code, "spam");
    assert_non_null(p.message);
    hook_publish_free(&p);
    static const char *const bad[] = {
        "{\"action\":\"rewrite\",\"text\":\"01234567890\"}", /* over max_text */
        "{\"action\":\"rewrite\",\"text\":\"\"}",
        "{\"action\":\"rewrite\"}",
        "{\"action\":\"refuse\"}",
        "{\"action\":\"refuse\",\"code\":\"a b\"}",
        "{\"action\":\"maybe\"}",
        "{}",
        "nope",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pub(200, bad[i], &p) != HOOK_UNAVAILABLE) fail_msg("taken: %s", bad[i]);
        hook_publish_free(&p);
    }
    assert_int_equal(pub(500, "{\"action\":\"accept\"}", &p), HOOK_UNAVAILABLE);
    hook_publish_free(&p);
    assert_int_equal(pub(201, "", &p), HOOK_UNAVAILABLE);
    hook_publish_free(&p);
}

static void test_codes_and_requests(void **state)
{
    (void)state;
    assert_true(hook_check_code("rate_limited.v2:x-y", 19));
    assert_false(hook_check_code("", 0));
    assert_false(hook_check_code("a b", 3));
    char long_code[HOOK_CODE_MAX + 2];
    memset(long_code, 'a', sizeof long_code);
    assert_true(hook_check_code(long_code, HOOK_CODE_MAX));
    assert_false(hook_check_code(long_code, HOOK_CODE_MAX + 1));

    sbuf_t b = SBUF_INIT;
    assert_int_equal(hook_auth_request(&b, "{\"token\":\"t\"}", 13, "10.0.0.1", "{\"x-a\":\"1\"}",
                                       "/", 1, "node1"),
                     0);
    assert_string_equal(b.data, "{\"auth\":{\"token\":\"t\"},\"address\":\"10.0.0.1\",\"headers\":"
                                "{\"x-a\":\"1\"},\"namespace\":\"/\",\"node\":\"node1\"}");
    sbuf_reset(&b);
    /* a client asking for its session back: its pid and offset are not the application's */
    assert_int_equal(hook_auth_request(&b, "{\"pid\":\"p\",\"offset\":\"1-0\",\"t\":1}", 32, "a",
                                       NULL, "/", 1, "n"),
                     0);
    assert_string_equal(b.data, "{\"auth\":{\"t\":1},\"address\":\"a\",\"headers\":{},"
                                "\"namespace\":\"/\",\"node\":\"n\"}");
    sbuf_reset(&b);
    /* an auth that is not an object is sent as {} */
    assert_int_equal(hook_auth_request(&b, "[1]", 3, "a", NULL, "/", 1, "n"), 0);
    assert_string_equal(b.data, "{\"auth\":{},\"address\":\"a\",\"headers\":{},\"namespace\":\"/\","
                                "\"node\":\"n\"}");
    sbuf_reset(&b);
    assert_int_equal(hook_publish_request(&b, 1, "bob", "al", "Al", "hi", 2, "n"), 0);
    assert_string_equal(b.data, "{\"type\":\"private_message\",\"to\":\"bob\",\"from\":{\"id\":"
                                "\"al\",\"name\":\"Al\"},\"text\":\"hi\",\"node\":\"n\"}");
    sbuf_reset(&b);
    assert_int_equal(hook_publish_request(&b, 0, "r", "al", "Al", "bad\xff", 4, "n"), -1);
    sbuf_free(&b);
}

/* A resumed CONNECT (pid, offset) owns the session of the first; another auth owns another. */
static void test_owner(void **state)
{
    (void)state;
    sbuf_t a = SBUF_INIT, b = SBUF_INIT;
    static const char first[] = "{\"k\":\"v\",\"n\":1}";
    static const char again[] = "{\"pid\":\"p\",\"offset\":\"1-0\",\"n\":1,\"k\":\"v\"}";
    assert_int_equal(hook_auth_owner(first, sizeof first - 1, &a), 0);
    assert_int_equal(hook_auth_owner(again, sizeof again - 1, &b), 0);
    assert_int_equal(a.len, HOOK_OWNER_PREFIX_LEN + 64);
    assert_memory_equal(a.data, HOOK_OWNER_PREFIX, HOOK_OWNER_PREFIX_LEN);
    assert_string_equal(a.data, b.data);
    /* sha256 of {"k":"v","n":1} */
    assert_string_equal(a.data + HOOK_OWNER_PREFIX_LEN,
                        "e18b0bd83a6696db623e23b627cb0ec836690d3317856e2c131750c1b2391993");
    sbuf_reset(&b);
    assert_int_equal(hook_auth_owner("{\"k\":\"w\",\"n\":1}", 15, &b), 0);
    assert_string_not_equal(a.data, b.data);
    sbuf_reset(&a);
    sbuf_reset(&b);
    /* an empty auth, and one that holds nothing but a pid, are the same */
    assert_int_equal(hook_auth_owner("{}", 2, &a), 0);
    assert_int_equal(hook_auth_owner("{\"pid\":\"x\"}", 11, &b), 0);
    assert_string_equal(a.data, b.data);
    sbuf_reset(&a);
    sbuf_reset(&b);
    /* not an object, duplicate keys, not UTF-8: no owner, nothing written */
    assert_int_equal(hook_auth_owner("[1]", 3, &a), -1);
    assert_int_equal(hook_auth_owner("{\"a\":1,\"a\":2}", 13, &a), -1);
    assert_int_equal(hook_auth_owner("{\"a\":\"\xff\"}", 9, &a), -1);
    assert_int_equal(a.len, 0);
    sbuf_free(&a);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_admit),         cmocka_unit_test(test_auth_refuse),
        cmocka_unit_test(test_auth_unavailable),   cmocka_unit_test(test_publish),
        cmocka_unit_test(test_codes_and_requests), cmocka_unit_test(test_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
