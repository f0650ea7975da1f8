/* Unit tests for proto/sbuf.c: growth, NUL termination, formatting, reset, steal, free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sbuf.h"

#include <stdlib.h>
#include <string.h>

static void test_empty(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    sbuf_append(&b, "", 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    sbuf_free(&b);
    assert_null(b.data);
    sbuf_free(&b); /* twice is fine */
}

static void test_append(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_append(&b, "ab", 2);
    sbuf_append_str(&b, "cd");
    sbuf_append_char(&b, 'e');
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "abcde");
    assert_true(b.cap > b.len);
    /* Embedded NULs are kept; the terminator follows them. */
    sbuf_append(&b, "x\0y", 3);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "abcdex\0y", 9);
    sbuf_free(&b);
}

static void test_growth(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    char expect[10000];
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        sbuf_append_char(&b, c);
        expect[i] = c;
        assert_true(b.cap >= b.len + 1);
    }
    assert_int_equal(b.len, 10000);
    assert_memory_equal(b.data, expect, 10000);
    assert_int_equal(b.data[10000], '\0');
    sbuf_free(&b);
}

static void test_reserve(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_reserve(&b, 1000);
    assert_true(b.cap >= 1001);
    assert_int_equal(b.len, 0);
    char *before = b.data;
    size_t cap = b.cap;
    for (int i = 0; i < 1000; i++) sbuf_append_char(&b, 'x');
    assert_ptr_equal(b.data, before); /* no reallocation within the reserve */
    assert_int_equal(b.cap, cap);
    sbuf_free(&b);
}

static void test_printf(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_printf(&b, "%d-%s", 42, "x");
    sbuf_printf(&b, "|%05.1f|", 3.14159);
    assert_string_equal(b.data, "42-x|003.1|");
    sbuf_printf(&b, "%s", ""); /* nothing to add */
    assert_int_equal(b.len, 11);
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sbuf_printf(&b, "%s!", big);
    assert_int_equal(b.len, 11 + 2999 + 1);
    assert_int_equal(b.data[b.len - 1], '!');
    assert_int_equal(b.data[b.len], '\0');
    sbuf_free(&b);
}

static void test_reset(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_reset(&b); /* on an empty buffer */
    sbuf_append_str(&b, "hello");
    size_t cap = b.cap;
    sbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(b.cap, cap);
    sbuf_append_str(&b, "x");
    assert_string_equal(b.data, "x");
    sbuf_free(&b);
}

static void test_steal(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "owned");
    size_t len = 0;
    char *p = sbuf_steal(&b, &len);
    assert_string_equal(p, "owned");
    assert_int_equal(len, 5);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(p);
    /* Stealing an empty buffer still gives a NUL-terminated string. */
    p = sbuf_steal(&b, NULL);
    assert_string_equal(p, "");
    free(p);
    assert_null(b.data);
    sbuf_append_str(&b, "again");
    assert_string_equal(b.data, "again");
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),  cmocka_unit_test(test_append),
        cmocka_unit_test(test_growth), cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_printf), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_steal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
