/* Unit tests for proto/strmap.c: put/get/del, replacement, growth, tombstones, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "strmap.h"

#include <stdio.h>
#include <string.h>

static void test_basic(void **state)
{
    (void)state;
    strmap_t m = STRMAP_INIT;
    int a = 1, b = 2;
    assert_null(strmap_get(&m, "x", 1));
    assert_null(strmap_del(&m, "x", 1));
    assert_null(strmap_put(&m, "alpha", 5, &a));
    assert_ptr_equal(strmap_get(&m, "alpha", 5), &a);
    assert_null(strmap_get(&m, "alph", 4));               /* length is part of the key */
    assert_ptr_equal(strmap_put(&m, "alpha", 5, &b), &a); /* replaced */
    assert_ptr_equal(strmap_get(&m, "alpha", 5), &b);
    assert_int_equal(m.count, 1);
    assert_ptr_equal(strmap_del(&m, "alpha", 5), &b);
    assert_int_equal(m.count, 0);
    assert_null(strmap_get(&m, "alpha", 5));
    strmap_free(&m);
    strmap_free(&m);
}

static void test_keys_with_nul(void **state)
{
    (void)state;
    strmap_t m = STRMAP_INIT;
    int a = 1, b = 2;
    strmap_put(&m, "a\0b", 3, &a);
    strmap_put(&m, "a\0c", 3, &b);
    assert_ptr_equal(strmap_get(&m, "a\0b", 3), &a);
    assert_ptr_equal(strmap_get(&m, "a\0c", 3), &b);
    assert_null(strmap_get(&m, "a", 1));
    strmap_free(&m);
}

static void test_many(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char keys[N][16];
    strmap_t m = STRMAP_INIT;
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        assert_null(strmap_put(&m, keys[i], strlen(keys[i]), keys[i]));
    }
    assert_int_equal(m.count, N);
    assert_true(m.cap >= N);
    /* Remove the even ones, leaving tombstones among the odd ones. */
    for (int i = 0; i < N; i += 2)
        assert_ptr_equal(strmap_del(&m, keys[i], strlen(keys[i])), keys[i]);
    for (int i = 0; i < N; i++) {
        void *v = strmap_get(&m, keys[i], strlen(keys[i]));
        if (i % 2)
            assert_ptr_equal(v, keys[i]);
        else
            assert_null(v);
    }
    /* Re-insert over tombstones. */
    for (int i = 0; i < N; i += 2) assert_null(strmap_put(&m, keys[i], strlen(keys[i]), keys[i]));
    assert_int_equal(m.count, N);
    strmap_free(&m);
}

static void test_iteration_with_removal(void **state)
{
    (void)state;
    static char keys[100][8];
    strmap_t m = STRMAP_INIT;
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof keys[i], "%d", i);
        strmap_put(&m, keys[i], strlen(keys[i]), keys[i]);
    }
    int seen = 0;
    const char *k;
    size_t kl;
    void *v;
    for (size_t pos = 0; strmap_next(&m, &pos, &k, &kl, &v);) {
        assert_ptr_equal(k, v);
        assert_int_equal(kl, strlen(k));
        strmap_del(&m, k, kl); /* removing the current entry is allowed */
        seen++;
    }
    assert_int_equal(seen, 100);
    assert_int_equal(m.count, 0);
    size_t pos = 0;
    assert_false(strmap_next(&m, &pos, NULL, NULL, NULL));
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_keys_with_nul),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_iteration_with_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
