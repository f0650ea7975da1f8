/* Unit tests for proto/utf8.c: validation (RFC 3629 and the Unicode 15 table 3-7 ranges),
 * cuts at character boundaries, and the label rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "utf8.h"

#include <string.h>

#define S(lit) lit, sizeof(lit) - 1

static void test_valid(void **state)
{
    (void)state;
    assert_true(utf8_valid(S("")));
    assert_true(utf8_valid(S("plain ascii")));
    assert_true(utf8_valid(S("caf\xc3\xa9")));       /* U+00E9 */
    assert_true(utf8_valid(S("\xe2\x82\xac")));      /* U+20AC */
    assert_true(utf8_valid(S("\xf0\x9f\x98\x80")));  /* U+1F600 */
    assert_true(utf8_valid(S("\xf4\x8f\xbf\xbf")));  /* U+10FFFF */
    assert_true(utf8_valid(S("\xed\x9f\xbf")));      /* U+D7FF */
    assert_true(utf8_valid(S("\xee\x80\x80")));      /* U+E000 */
    assert_true(utf8_valid("a\0b", 3));              /* NUL is UTF-8 */
    assert_false(utf8_valid(S("\xff")));             /* never in UTF-8 */
    assert_false(utf8_valid(S("\x80")));             /* lone continuation */
    assert_false(utf8_valid(S("\xc0\xaf")));         /* overlong '/' */
    assert_false(utf8_valid(S("\xc1\xbf")));         /* overlong */
    assert_false(utf8_valid(S("\xe0\x80\xaf")));     /* overlong */
    assert_false(utf8_valid(S("\xf0\x80\x80\xaf"))); /* overlong */
    assert_false(utf8_valid(S("\xed\xa0\x80")));     /* U+D800, a surrogate */
    assert_false(utf8_valid(S("\xed\xbf\xbf")));     /* U+DFFF */
    assert_false(utf8_valid(S("\xf4\x90\x80\x80"))); /* U+110000 */
    assert_false(utf8_valid(S("\xf5\x80\x80\x80"))); /* past the range */
    assert_false(utf8_valid(S("\xf0\x9f\x98")));     /* cut short */
    assert_false(utf8_valid(S("\xe2\x82")));         /* cut short */
    assert_false(utf8_valid(S("ok\xc3")));           /* cut at the end */
    assert_false(utf8_valid(S("\xc3\x28")));         /* bad continuation */
}

static void test_seq_bad_lengths(void **state)
{
    (void)state;
    size_t bad;
    assert_int_equal(utf8_seq((const uint8_t *)"\xf0\x9f\x98\x80", 4, &bad), 4);
    assert_int_equal(utf8_seq((const uint8_t *)"\xf0\x9f\x98", 3, &bad), 0);
    assert_int_equal(bad, 3); /* the maximal subpart: one U+FFFD for all three */
    assert_int_equal(utf8_seq((const uint8_t *)"\xe0\x80", 2, &bad), 0);
    assert_int_equal(bad, 1); /* 0x80 cannot follow 0xE0 */
    assert_int_equal(utf8_seq((const uint8_t *)"\xff", 1, &bad), 0);
    assert_int_equal(bad, 1);
}

static void test_prefix(void **state)
{
    (void)state;
    /* four 4-byte emoji: 16 bytes */
    const char e[] = "\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82\xf0\x9f\x98\x83";
    for (size_t max = 0; max <= 20; max++) {
        size_t k = utf8_prefix(e, 16, max);
        assert_true(k <= max);
        assert_int_equal(k % 4, 0); /* never inside a character */
        assert_int_equal(k, max >= 16 ? 16 : max / 4 * 4);
        assert_true(utf8_valid(e, k));
    }
    assert_int_equal(utf8_prefix(S("abc"), 2), 2);
    assert_int_equal(utf8_prefix(S("a\xc3\xa9"), 2), 1);
    assert_int_equal(utf8_prefix(S("a\xc3\xa9"), 3), 3);
}

static void test_chars(void **state)
{
    (void)state;
    assert_int_equal(utf8_chars(S("")), 0);
    assert_int_equal(utf8_chars(S("abc")), 3);
    assert_int_equal(utf8_chars(S("e\xcc\x81")), 2); /* e + combining acute: two code points */
    assert_int_equal(utf8_chars(S("\xf0\x9f\x98\x80\xe2\x82\xac")), 2);
}

static void test_label(void **state)
{
    (void)state;
    assert_int_equal(utf8_label_check(S("alice"), 64, 256), UTF8_LABEL_OK);
    assert_int_equal(utf8_label_check(S(""), 64, 256), UTF8_LABEL_EMPTY);
    assert_int_equal(utf8_label_check(S("a\xff"), 64, 256), UTF8_LABEL_INVALID);
    /* text that is not UTF-8 says so, whatever comes before the bad byte */
    assert_int_equal(utf8_label_check(S("\x01\xf0\x80\xbf"), 64, 256), UTF8_LABEL_INVALID);
    assert_int_equal(utf8_label_check(S("aaaa\xff"), 2, 256), UTF8_LABEL_INVALID);
    assert_int_equal(utf8_label_check("a\0b", 3, 64, 256), UTF8_LABEL_CONTROL);
    assert_int_equal(utf8_label_check(S("a\nb"), 64, 256), UTF8_LABEL_CONTROL);
    assert_int_equal(utf8_label_check(S("a\x7f"), 64, 256), UTF8_LABEL_CONTROL);
    assert_int_equal(utf8_label_check(S("a\xc2\x85"), 64, 256), UTF8_LABEL_CONTROL);     /* NEL */
    assert_int_equal(utf8_label_check(S("a\xe2\x80\xae"), 64, 256), UTF8_LABEL_CONTROL); /* RLO */
    assert_int_equal(utf8_label_check(S("a\xe2\x81\xa7"), 64, 256), UTF8_LABEL_CONTROL); /* FSI */
    assert_int_equal(utf8_label_check(S("a\xe2\x80\xa8"), 64, 256), UTF8_LABEL_CONTROL); /* LS */
    /* right-to-left letters and combining marks are names like any other */
    assert_int_equal(utf8_label_check(S("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"), 64, 256), 0);
    assert_int_equal(utf8_label_check(S("\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85"), 64, 256), 0);
    assert_int_equal(utf8_label_check(S("e\xcc\x81"), 64, 256), 0);
    /* bounds: characters and bytes */
    char buf[300];
    memset(buf, 'x', 65);
    assert_int_equal(utf8_label_check(buf, 64, 64, 256), 0);
    assert_int_equal(utf8_label_check(buf, 65, 64, 256), UTF8_LABEL_LONG);
    for (int i = 0; i < 64; i++) memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(utf8_label_check(buf, 256, 64, 256), 0);                  /* 64 emoji */
    assert_int_equal(utf8_label_check(buf, 256, 63, 256), UTF8_LABEL_LONG);    /* one over */
    assert_int_equal(utf8_label_check(buf, 256, 64, 255), UTF8_LABEL_LONG);    /* a byte over */
    assert_int_equal(utf8_label_check(buf, 255, 64, 256), UTF8_LABEL_INVALID); /* cut inside */
    assert_string_equal(utf8_label_strerror(UTF8_LABEL_LONG), "is too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),  cmocka_unit_test(test_seq_bad_lengths),
        cmocka_unit_test(test_prefix), cmocka_unit_test(test_chars),
        cmocka_unit_test(test_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
