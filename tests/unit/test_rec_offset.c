/* Unit tests for proto/rec_offset.c: the text form parses and prints back, malformed and
 * out-of-range texts are refused, offsets only grow, and the offset is appended as the last
 * element of an argument array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rec_offset.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *s, rec_offset_t *o)
{
    return rec_offset_parse(s, strlen(s), o);
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *ok[] = {"0-0", "1-0", "1733400000000-0", "1733400000000-17",
                        "4398046511103-4194303"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        rec_offset_t o;
        char text[REC_OFFSET_MAX + 1];
        assert_int_equal(parse(ok[i], &o), 0);
        assert_int_equal(rec_offset_format(o, text), strlen(ok[i]));
        assert_string_equal(text, ok[i]);
    }
    rec_offset_t o;
    assert_int_equal(parse("1733400000000-17", &o), 0);
    assert_int_equal(rec_offset_ms(o), 1733400000000ULL);
    assert_int_equal(rec_offset_seq(o), 17);
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "-",
                         "1",
                         "1-",
                         "-1",
                         "01-1",
                         "1-01",
                         "+1-1",
                         "1-+1",
                         "1--1",
                         "1-1-",
                         " 1-1",
                         "1-1 ",
                         "a-1",
                         "1-a",
                         "1.5-1",
                         "4398046511104-0",
                         "1-4194304",
                         "18446744073709551616-0",
                         "99999999999999999999-0",
                         "1\0-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rec_offset_t o = 7;
        assert_int_equal(parse(bad[i], &o), -1);
        assert_int_equal(o, 7);
    }
    rec_offset_t o;
    assert_int_equal(rec_offset_parse("1-1", 4, &o), -1); /* the NUL counts */
    assert_int_equal(rec_offset_parse(NULL, 0, &o), -1);
}

static void test_order(void **state)
{
    (void)state;
    rec_offset_t a, b, c;
    assert_int_equal(parse("9-4194303", &a), 0);
    assert_int_equal(parse("10-0", &b), 0);
    assert_int_equal(parse("10-1", &c), 0);
    assert_true(a < b && b < c);
}

static void test_next(void **state)
{
    (void)state;
    rec_offset_t o = rec_offset_next(0, 100);
    assert_int_equal(o, rec_offset_make(100, 0));
    o = rec_offset_next(o, 100);
    assert_int_equal(o, rec_offset_make(100, 1));
    o = rec_offset_next(o, 50); /* the clock went back: still after */
    assert_int_equal(o, rec_offset_make(100, 2));
    o = rec_offset_next(rec_offset_make(100, REC_SEQ_MAX), 100); /* a full seq carries */
    assert_int_equal(o, rec_offset_make(101, 0));
    o = rec_offset_next(o, 200);
    assert_int_equal(o, rec_offset_make(200, 0));
}

static void check_append(const char *arr, const char *want)
{
    sbuf_t b = SBUF_INIT;
    assert_int_equal(rec_offset_append_to_array(&b, arr, strlen(arr), rec_offset_make(5, 2)), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    sbuf_free(&b);
}

static void test_append(void **state)
{
    (void)state;
    check_append("[\"ev\",1]", "[\"ev\",1,\"5-2\"]");
    check_append("[\"ev\"]", "[\"ev\",\"5-2\"]");
    check_append("[]", "[\"5-2\"]");
    check_append("[ ]", "[\"5-2\"]");
    check_append("[\"ev\",\"last\"] \n", "[\"ev\",\"last\",\"5-2\"]");
    check_append("[\"]\"]", "[\"]\",\"5-2\"]");
    sbuf_t b = SBUF_INIT;
    assert_int_equal(rec_offset_append_to_array(&b, "[1", 2, 1), -1);
    assert_int_equal(rec_offset_append_to_array(&b, "", 0, 1), -1);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_refused),
        cmocka_unit_test(test_order),      cmocka_unit_test(test_next),
        cmocka_unit_test(test_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
