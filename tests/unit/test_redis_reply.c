/* Unit tests for proto/redis_reply.c: a copy is deep (every string and element its own, the
 * bytes and lengths the same, binary strings included) and is freed whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redis_reply.h"

#include <hiredis/hiredis.h>
#include <string.h>

static redisReply str_reply(int type, const char *s, size_t len)
{
    redisReply r = {.type = type, .str = (char *)s, .len = len};
    return r;
}

static void assert_same(const redisReply *a, const redisReply *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->integer, b->integer);
    assert_int_equal(a->len, b->len);
    if (a->str) {
        assert_non_null(b->str);
        assert_ptr_not_equal(a->str, b->str);
        assert_memory_equal(a->str, b->str, a->len);
        assert_int_equal(b->str[b->len], '\0');
    } else {
        assert_null(b->str);
    }
    assert_int_equal(a->elements, b->elements);
    if (a->elements) assert_ptr_not_equal(a->element, b->element);
    for (size_t i = 0; i < a->elements; i++) {
        assert_ptr_not_equal(a->element[i], b->element[i]);
        assert_same(a->element[i], b->element[i]);
    }
}

static void test_null(void **state)
{
    (void)state;
    assert_null(redis_reply_dup(NULL));
    redis_reply_free(NULL);
}

static void test_scalars(void **state)
{
    (void)state;
    redisReply in[] = {
        {.type = REDIS_REPLY_INTEGER, .integer = -42},
        {.type = REDIS_REPLY_NIL},
        str_reply(REDIS_REPLY_STATUS, "OK", 2),
        str_reply(REDIS_REPLY_ERROR, "MOVED 3999 127.0.0.1:6381", 25),
        str_reply(REDIS_REPLY_STRING, "a\0b\xff", 4), /* binary, NUL inside */
        str_reply(REDIS_REPLY_STRING, "", 0),
    };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        redisReply *c = redis_reply_dup(&in[i]);
        assert_same(&in[i], c);
        redis_reply_free(c);
    }
}

static void test_nested(void **state)
{
    (void)state;
    /* [["slots", [0, 5460]], "x", []] */
    redisReply zero = {.type = REDIS_REPLY_INTEGER, .integer = 0};
    redisReply end = {.type = REDIS_REPLY_INTEGER, .integer = 5460};
    redisReply *range_el[] = {&zero, &end};
    redisReply range = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = range_el};
    redisReply slots = str_reply(REDIS_REPLY_STRING, "slots", 5);
    redisReply *shard_el[] = {&slots, &range};
    redisReply shard = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = shard_el};
    redisReply x = str_reply(REDIS_REPLY_STRING, "x", 1);
    redisReply empty = {.type = REDIS_REPLY_ARRAY};
    redisReply *top_el[] = {&shard, &x, &empty};
    redisReply top = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = top_el};
    redisReply *c = redis_reply_dup(&top);
    assert_same(&top, c);
    /* the copy does not share: changing the original leaves it as it was */
    x.str = (char *)"y";
    assert_memory_equal(c->element[1]->str, "x", 1);
    assert_int_equal(c->element[0]->element[1]->element[1]->integer, 5460);
    redis_reply_free(c); /* ASan: every part freed once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_nested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
