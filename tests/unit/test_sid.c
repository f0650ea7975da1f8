/* Unit tests for chatnode/sid.c: ids carry the node tag, use the URL-safe alphabet, differ;
 * node tag validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sid.h"

#include <string.h>

static int url_safe(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(s);
}

static void test_with_tag(void **state)
{
    (void)state;
    char a[SID_MAX], b[SID_MAX];
    sid_generate(a, sizeof a, "n3000");
    sid_generate(b, sizeof b, "n3000");
    assert_int_equal(strlen(a), 5 + 1 + SID_RANDOM_LEN);
    assert_memory_equal(a, "n3000.", 6);
    assert_true(url_safe(a + 6));
    assert_string_not_equal(a, b);
}

static void test_without_tag(void **state)
{
    (void)state;
    char a[SID_MAX];
    sid_generate(a, sizeof a, NULL);
    assert_int_equal(strlen(a), SID_RANDOM_LEN);
    assert_true(url_safe(a));
    sid_generate(a, sizeof a, "");
    assert_int_equal(strlen(a), SID_RANDOM_LEN);
}

static void test_small_buffer(void **state)
{
    (void)state;
    char a[8];
    sid_generate(a, sizeof a, NULL);
    assert_int_equal(strlen(a), 7); /* truncated, still terminated */
}

static void test_many_distinct(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char ids[N][SID_MAX];
    for (int i = 0; i < N; i++) sid_generate(ids[i], SID_MAX, "t");
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) assert_string_not_equal(ids[i], ids[j]);
}

static void test_valid_tag(void **state)
{
    (void)state;
    assert_int_equal(sid_valid_tag("n1"), 0);
    assert_int_equal(sid_valid_tag("Node-A7"), 0);
    assert_int_equal(sid_valid_tag("12345678901234567890123456789012"), 0);
    assert_int_equal(sid_valid_tag(""), -1);
    assert_int_equal(sid_valid_tag("123456789012345678901234567890123"), -1);
    assert_int_equal(sid_valid_tag("a.b"), -1); /* '.' separates tag and id */
    assert_int_equal(sid_valid_tag("a b"), -1);
    assert_int_equal(sid_valid_tag("a_b"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_with_tag),     cmocka_unit_test(test_without_tag),
        cmocka_unit_test(test_small_buffer), cmocka_unit_test(test_many_distinct),
        cmocka_unit_test(test_valid_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
