/* Unit tests for proto/jtext.c: RFC 8259 validation, value skipping, array and object walks,
 * string decoding, and string encoding compared with what JSON.stringify writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jtext.h"

#include <stdio.h>
#include <string.h>

#define KIND(lit) jtext_validate(lit, sizeof(lit) - 1)

static void test_valid_kinds(void **state)
{
    (void)state;
    assert_int_equal(KIND("{}"), JTEXT_OBJECT);
    assert_int_equal(KIND("[]"), JTEXT_ARRAY);
    assert_int_equal(KIND("\"\""), JTEXT_STRING);
    assert_int_equal(KIND("0"), JTEXT_NUMBER);
    assert_int_equal(KIND("true"), JTEXT_TRUE);
    assert_int_equal(KIND("false"), JTEXT_FALSE);
    assert_int_equal(KIND("null"), JTEXT_NULL);
    assert_int_equal(KIND(" \t\r\n{ } \n"), JTEXT_OBJECT);
    assert_int_equal(KIND("[ ]"), JTEXT_ARRAY);
    assert_int_equal(KIND("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"), JTEXT_OBJECT);
    assert_int_equal(KIND("[\"message\",1,\"2\",{\"3\":[true]}]"), JTEXT_ARRAY);
    assert_int_equal(KIND("{ \"a\" : [ 1 , 2 ] , \"b\" : { } }"), JTEXT_OBJECT);
    assert_int_equal(KIND("[[],[[]],{}]"), JTEXT_ARRAY);
}

static void test_valid_numbers(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "0",       "-0",
        "1",       "-1",
        "123",     "0.5",
        "-0.5",    "1e5",
        "1E5",     "1e+5",
        "1e-5",    "1.25e10",
        "-0.0e-0", "9007199254740993",
        "1e400",   "123456789012345678901234567890",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (jtext_validate(ok[i], strlen(ok[i])) != JTEXT_NUMBER) fail_msg("rejected %s", ok[i]);
}

static void test_invalid_numbers(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "01",       "-01",       "00",    "+1",  "-",    ".5",  "5.",
        "1.e5",     "1e",        "1e+",   "1E-", "0x10", "NaN", "-NaN",
        "Infinity", "-Infinity", "1_000", "1,5", "- 1",  "1 2", "\xef\xbc\x91",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (jtext_validate(bad[i], strlen(bad[i])) != JTEXT_INVALID)
            fail_msg("accepted %s", bad[i]);
}

static void test_invalid_structure(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "[",
        "]",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "[1,,2]",
        "[1 2]",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "{1:1}",
        "{\"a\":1 \"b\":2}",
        "['a']",
        "[1]]",
        "[1]x",
        "{}{}",
        "[]]",
        "[}",
        "{]",
        "tru",
        "truee",
        "True",
        "nul",
        "NULL",
        "fals",
        "undefined",
        "\xef\xbb\xbf{}", /* BOM */
        "\v[]",           /* not JSON whitespace */
        "\f[]",
        "/* c */ []",
        "abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (jtext_validate(bad[i], strlen(bad[i])) != JTEXT_INVALID)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(jtext_validate("[]\0", 3), JTEXT_INVALID);
}

static void test_strings(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "\"\"",
        "\"abc\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u0000\\u001f\\uABCD\\uabcd\"",
        "\"\\uD83D\\uDE00\"",   /* surrogate pair */
        "\"\\uD800\"",          /* lone high surrogate: JSON.parse accepts it */
        "\"\\uDC00x\"",         /* lone low surrogate */
        "\"\xc3\xa9\"",         /* U+00E9 */
        "\"\xe2\x82\xac\"",     /* U+20AC */
        "\"\xf0\x9f\x98\x80\"", /* U+1F600 */
        "\"\xf4\x8f\xbf\xbf\"", /* U+10FFFF */
        "\"\xef\xbf\xbf\"",     /* U+FFFF */
        "\"\xe2\x80\xa8\"",     /* U+2028 */
        "\"\x7f\"",             /* DEL is not a control character for JSON */
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (jtext_validate(ok[i], strlen(ok[i])) != JTEXT_STRING) fail_msg("rejected %s", ok[i]);
}

static void test_invalid_strings(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"abc",     /* unterminated */
        "\"abc\\\"", /* escaped quote, then nothing */
        "'abc'",     /* single quotes */
        "\"\\x41\"", /* unknown escape */
        "\"\\a\"",
        "\"\\'\"",
        "\"\\u12\"", /* short \u */
        "\"\\u12G4\"",
        "\"\\U0041\"",
        "\"\\",
        "\"a\tb\"", /* raw control characters */
        "\"a\nb\"",
        "\"\x1f\"",
        "\"\x80\"", /* lone continuation byte */
        "\"\xbf\"",
        "\"\xc0\x80\"",                 /* overlong NUL */
        "\"\xc1\xbf\"",                 /* overlong */
        "\"\xe0\x80\xaf\"",             /* overlong '/' */
        "\"\xe0\x9f\xbf\"",             /* overlong U+07FF */
        "\"\xf0\x80\x80\xaf\"",         /* overlong */
        "\"\xf0\x8f\xbf\xbf\"",         /* overlong U+FFFF */
        "\"\xed\xa0\x80\"",             /* UTF-8 encoded surrogate U+D800 */
        "\"\xed\xbf\xbf\"",             /* U+DFFF */
        "\"\xed\xa0\xbd\xed\xb8\x80\"", /* CESU-8 surrogate pair */
        "\"\xf4\x90\x80\x80\"",         /* U+110000 */
        "\"\xf5\x80\x80\x80\"",
        "\"\xf8\x88\x80\x80\x80\"",
        "\"\xff\"",
        "\"\xfe\"",
        "\"\xc3\"", /* truncated sequences */
        "\"\xe2\x82\"",
        "\"\xf0\x9f\x98\"",
        "\"\xc3\x28\"", /* bad continuation */
        "\"\xe2\x28\xa1\"",
        "\"\xf0\x9f\x28\x80\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (jtext_validate(bad[i], strlen(bad[i])) != JTEXT_INVALID)
            fail_msg("accepted bad string #%zu", i);
    assert_int_equal(jtext_validate("\"a\0b\"", 5), JTEXT_INVALID);
    /* Truncation inside a multi-byte sequence right at the end of the buffer. */
    assert_int_equal(jtext_validate("\"\xe2\x82\xac\"", 3), JTEXT_INVALID);
}

static void nest(char *buf, int depth, char open, char close)
{
    for (int i = 0; i < depth; i++) buf[i] = open;
    for (int i = 0; i < depth; i++) buf[depth + i] = close;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char buf[8 * JTEXT_MAX_DEPTH + 8];
    nest(buf, JTEXT_MAX_DEPTH, '[', ']');
    assert_int_equal(jtext_validate(buf, 2 * JTEXT_MAX_DEPTH), JTEXT_ARRAY);
    nest(buf, JTEXT_MAX_DEPTH + 1, '[', ']');
    assert_int_equal(jtext_validate(buf, 2 * JTEXT_MAX_DEPTH + 2), JTEXT_INVALID);

    /* Mixed objects and arrays: {"a":{"a":...[]...}} */
    size_t n = 0;
    for (int i = 0; i < JTEXT_MAX_DEPTH - 1; i++) n += (size_t)sprintf(buf + n, "{\"a\":");
    buf[n++] = '[';
    buf[n++] = ']';
    for (int i = 0; i < JTEXT_MAX_DEPTH - 1; i++) buf[n++] = '}';
    assert_int_equal(jtext_validate(buf, n), JTEXT_OBJECT);

    /* Very deep input is rejected, not recursed into. */
    static char deep[200000];
    memset(deep, '[', sizeof deep);
    assert_int_equal(jtext_validate(deep, sizeof deep), JTEXT_INVALID);
}

typedef struct {
    const char *text;
    jtext_kind_t kind;
} span_t;

static void check_iter(const char *arr, const span_t *want, size_t n)
{
    jtext_iter_t it;
    const char *e;
    size_t elen;
    jtext_kind_t k;
    assert_int_equal(jtext_validate(arr, strlen(arr)), JTEXT_ARRAY);
    jtext_iter_init(&it, arr, strlen(arr));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 1);
        assert_int_equal(elen, strlen(want[i].text));
        assert_memory_equal(e, want[i].text, elen);
        assert_int_equal(k, want[i].kind);
    }
    assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 0);
    assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 0);
}

static void test_array_iter(void **state)
{
    (void)state;
    check_iter("[]", NULL, 0);
    check_iter(" [ ] ", NULL, 0);
    const span_t a[] = {{"\"foo\"", JTEXT_STRING}};
    check_iter("[\"foo\"]", a, 1);
    const span_t b[] = {
        {"\"message\"", JTEXT_STRING},   {"1", JTEXT_NUMBER},
        {"\"2\"", JTEXT_STRING},         {"{\"3\":[true]}", JTEXT_OBJECT},
        {"-1.5e3", JTEXT_NUMBER},        {"true", JTEXT_TRUE},
        {"false", JTEXT_FALSE},          {"null", JTEXT_NULL},
        {"[1,[2,\"]\"]]", JTEXT_ARRAY},  {"\"a\\\"],b\"", JTEXT_STRING},
        {"{\"}\":\"{\"}", JTEXT_OBJECT},
    };
    check_iter(" [ \"message\" , 1,\"2\",{\"3\":[true]},\n-1.5e3,true,false,null,"
               "[1,[2,\"]\"]],\"a\\\"],b\",{\"}\":\"{\"} ]\t",
               b, sizeof b / sizeof *b);
    const span_t c[] = {{"\"baz\"", JTEXT_STRING},
                        {"{\"_placeholder\":true,\"num\":0}", JTEXT_OBJECT}};
    check_iter("[\"baz\",{\"_placeholder\":true,\"num\":0}]", c, 2);
}

static void test_array_iter_not_array(void **state)
{
    (void)state;
    jtext_iter_t it;
    const char *e;
    size_t elen;
    jtext_kind_t k;
    jtext_iter_init(&it, "{}", 2);
    assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 0);
    jtext_iter_init(&it, "", 0);
    assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 0);
    /* Unvalidated, truncated text stays in bounds. */
    jtext_iter_init(&it, "[\"abc", 5);
    assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 1);
    assert_int_equal(elen, 4);
    assert_int_equal(jtext_array_next(&it, &e, &elen, &k), 0);
}

static void check_skip(const char *text, size_t want)
{
    const char *end = text + strlen(text);
    assert_int_equal((size_t)(jtext_skip(text, end) - text), want);
}

static void test_skip(void **state)
{
    (void)state;
    check_skip("\"a\\\"b\" rest", 6);
    check_skip("[1,[2,\"]\"],{\"}\":3}] x", 19);
    check_skip("{\"a\":{\"b\":[]}},2", 14);
    check_skip("-1.5e3 ,", 6);
    check_skip("true]", 4);
    check_skip("null}", 4);
    check_skip("", 0);
    /* unvalidated, truncated text stays in bounds */
    check_skip("[\"abc", 5);
    check_skip("\"ab\\", 4);
    const char *ws = " \t\r\nx";
    assert_ptr_equal(jtext_skip_ws(ws, ws + 5), ws + 4);
    assert_ptr_equal(jtext_skip_ws(ws, ws + 2), ws + 2);
}

static void test_object_iter(void **state)
{
    (void)state;
    static const char obj[] = " { \"a\" : 1 ,\"b\\u0063\":{\"x\":[1,2]},\"\":\"}\" } ";
    jtext_iter_t it;
    const char *k, *v;
    size_t klen, vlen;
    jtext_kind_t kind;
    assert_int_equal(jtext_validate(obj, sizeof obj - 1), JTEXT_OBJECT);
    jtext_iter_init(&it, obj, sizeof obj - 1);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 1);
    assert_int_equal(klen, 3);
    assert_memory_equal(k, "\"a\"", 3);
    assert_int_equal(vlen, 1);
    assert_memory_equal(v, "1", 1);
    assert_int_equal(kind, JTEXT_NUMBER);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 1);
    assert_true(jtext_string_is(k, klen, "bc"));
    assert_int_equal(vlen, 11);
    assert_memory_equal(v, "{\"x\":[1,2]}", 11);
    assert_int_equal(kind, JTEXT_OBJECT);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 1);
    assert_int_equal(klen, 2);
    assert_int_equal(vlen, 3);
    assert_int_equal(kind, JTEXT_STRING);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 0);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 0);
    jtext_iter_init(&it, "{ }", 3);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 0);
    jtext_iter_init(&it, "\"{}\"", 4);
    assert_int_equal(jtext_object_next(&it, &k, &klen, &v, &vlen, &kind), 0);
}

static void check_rest(const char *arr, int steps, const char *want)
{
    jtext_iter_t it;
    const char *e, *rest;
    size_t elen, rlen;
    jtext_kind_t kind;
    jtext_iter_init(&it, arr, strlen(arr));
    for (int i = 0; i < steps; i++) jtext_array_next(&it, &e, &elen, &kind);
    jtext_iter_rest(&it, &rest, &rlen);
    assert_int_equal(rlen, strlen(want));
    assert_memory_equal(rest, want, rlen);
    assert_true(rest >= arr && rest + rlen <= arr + strlen(arr));
}

static void test_iter_rest(void **state)
{
    (void)state;
    check_rest("[1, 2, 3 ]", 0, "1, 2, 3");
    check_rest("[1, 2, 3 ]", 1, "2, 3");
    check_rest(" [ \"ev\" ,{\"a\":[1]}\n,\"x\"\t] ", 1, "{\"a\":[1]}\n,\"x\"");
    check_rest("[1, 2, 3 ]", 3, "");
    check_rest("[1, 2, 3 ]", 4, "");
    check_rest("[\"only\"]", 1, "");
    check_rest("[]", 0, "");
    check_rest(" [ ] ", 0, "");
    check_rest(" [ ] ", 1, "");
}

static void test_string_is(void **state)
{
    (void)state;
    assert_true(jtext_string_is("\"num\"", 5, "num"));
    assert_true(jtext_string_is("\"\\u006eum\"", 10, "num"));
    assert_true(jtext_string_is("\"\"", 2, ""));
    assert_false(jtext_string_is("\"nu\"", 4, "num"));
    assert_false(jtext_string_is("\"numb\"", 6, "num"));
    assert_false(jtext_string_is("\"\\n\"", 4, "\\n"));
    assert_true(jtext_string_is("\"\\n\"", 4, "\n"));
    /* every character escaped: longer than the 64 bytes of any plain name literal */
    static const char esc[] = "\"\\u005f\\u0070\\u006c\\u0061\\u0063\\u0065\\u0068\\u006f"
                              "\\u006c\\u0064\\u0065\\u0072\"";
    assert_true(sizeof esc - 1 > 64);
    assert_true(jtext_string_is(esc, sizeof esc - 1, "_placeholder"));
}

static void check_decode(const char *lit, const char *want, size_t wlen)
{
    char out[64];
    assert_int_equal(jtext_validate(lit, strlen(lit)), JTEXT_STRING);
    long n = jtext_string_decode(lit, strlen(lit), out, sizeof out);
    assert_int_equal(n, (long)wlen);
    assert_memory_equal(out, want, wlen);
    assert_int_equal(out[n], '\0');
}

static void test_string_decode(void **state)
{
    (void)state;
    check_decode("\"\"", "", 0);
    check_decode("\"hello\"", "hello", 5);
    check_decode("\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7);
    check_decode("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5);
    check_decode("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
    check_decode("\"x\\u0000y\"", "x\0y", 3);
    check_decode("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4);
    check_decode("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);
    check_decode("\"\xf0\x9f\x98\x80\"", "\xf0\x9f\x98\x80", 4);
    /* Lone surrogates become U+FFFD. */
    check_decode("\"\\uD800\"", "\xef\xbf\xbd", 3);
    check_decode("\"\\uDC00\"", "\xef\xbf\xbd", 3);
    check_decode("\"\\uD800x\"",
                 "\xef\xbf\xbd"
                 "x",
                 4);
    check_decode("\"\\uD800\\u0041\"",
                 "\xef\xbf\xbd"
                 "A",
                 4);
    check_decode("\"\\uD800\\uD800\"", "\xef\xbf\xbd\xef\xbf\xbd", 6);
}

static void test_string_decode_capacity(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(jtext_string_decode("\"abcdefg\"", 9, out, 8), 7);
    assert_int_equal(jtext_string_decode("\"abcdefgh\"", 10, out, 8), -1);
    assert_int_equal(jtext_string_decode("\"abcdef\\n\"", 10, out, 8), 7);
    assert_int_equal(jtext_string_decode("\"abcdefg\\n\"", 11, out, 8), -1);
    assert_int_equal(jtext_string_decode("\"abcd\\u20ac\"", 12, out, 8), 7);
    assert_int_equal(jtext_string_decode("\"abcde\\u20ac\"", 13, out, 8), -1);
    assert_int_equal(jtext_string_decode("\"\"", 2, out, 1), 0);
    assert_int_equal(jtext_string_decode("\"\"", 2, out, 0), -1);
    assert_int_equal(jtext_string_decode("\"a\"", 3, out, 1), -1);
    /* Not a string literal. */
    assert_int_equal(jtext_string_decode("abc", 3, out, 8), -1);
    assert_int_equal(jtext_string_decode("\"", 1, out, 8), -1);
    assert_int_equal(jtext_string_decode("\"\\\"", 3, out, 8), -1);
}

static void check_encode(const char *in, size_t len, const char *want)
{
    sbuf_t b = SBUF_INIT;
    jtext_append_string(&b, in, len);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    /* What we write is valid JSON and decodes back to the input. */
    assert_int_equal(jtext_validate(b.data, b.len), JTEXT_STRING);
    char out[128];
    assert_int_equal(jtext_string_decode(b.data, b.len, out, sizeof out), (long)len);
    assert_memory_equal(out, in, len);
    sbuf_free(&b);
}

/* Expected outputs are what JSON.stringify(s) produces in Node. */
static void test_truthy(void **state)
{
    (void)state;
    static const char *const yes[] = {"true",  "1",  "-0.5", "1e-300", "\"0\"",
                                      "\" \"", "{}", "[]",   "0.01"};
    static const char *const no[] = {"false", "null", "0",          "-0",
                                     "0.0",   "0e5",  "-0.000E+10", "\"\""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(
            jtext_truthy(yes[i], strlen(yes[i]), jtext_validate(yes[i], strlen(yes[i]))), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(jtext_truthy(no[i], strlen(no[i]), jtext_validate(no[i], strlen(no[i]))),
                         0);
    assert_int_equal(jtext_truthy("", 0, JTEXT_INVALID), 0);
}

static void test_append_string(void **state)
{
    (void)state;
    check_encode("", 0, "\"\"");
    check_encode("hello", 5, "\"hello\"");
    check_encode("a\"b", 3, "\"a\\\"b\"");
    check_encode("a\\b", 3, "\"a\\\\b\"");
    check_encode("/", 1, "\"/\"");
    check_encode("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    check_encode("\x00", 1, "\"\\u0000\"");
    check_encode("\x01\x07\x0b\x0e\x1b\x1f", 6, "\"\\u0001\\u0007\\u000b\\u000e\\u001b\\u001f\"");
    check_encode("\x7f", 1, "\"\x7f\"");
    check_encode(" ~", 2, "\" ~\"");
    check_encode("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    check_encode("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\xe2\x80\xa8\xe2\x80\xa9\"");
    check_encode("<script>&'", 10, "\"<script>&'\"");
    check_encode("x\x1ey", 3, "\"x\\u001ey\"");
}

static void test_append_string_all_controls(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char in = (char)c, want[16];
        switch (c) {
        case '\b': strcpy(want, "\"\\b\""); break;
        case '\f': strcpy(want, "\"\\f\""); break;
        case '\n': strcpy(want, "\"\\n\""); break;
        case '\r': strcpy(want, "\"\\r\""); break;
        case '\t': strcpy(want, "\"\\t\""); break;
        default: snprintf(want, sizeof want, "\"\\u%04x\"", c);
        }
        check_encode(&in, 1, want);
    }
}

static void test_append_string_appends(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "[");
    jtext_append_string(&b, "a", 1);
    sbuf_append_char(&b, ',');
    jtext_append_string(&b, "b\n", 2);
    sbuf_append_char(&b, ']');
    assert_string_equal(b.data, "[\"a\",\"b\\n\"]");
    /* Invalid UTF-8 is copied as is, like every other non-ASCII byte. */
    sbuf_reset(&b);
    jtext_append_string(&b, "\xff\xc0", 2);
    assert_string_equal(b.data, "\"\xff\xc0\"");
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_kinds),
        cmocka_unit_test(test_valid_numbers),
        cmocka_unit_test(test_invalid_numbers),
        cmocka_unit_test(test_invalid_structure),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_invalid_strings),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_array_iter),
        cmocka_unit_test(test_array_iter_not_array),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_object_iter),
        cmocka_unit_test(test_iter_rest),
        cmocka_unit_test(test_string_is),
        cmocka_unit_test(test_string_decode),
        cmocka_unit_test(test_string_decode_capacity),
        cmocka_unit_test(test_append_string),
        cmocka_unit_test(test_append_string_all_controls),
        cmocka_unit_test(test_append_string_appends),
        cmocka_unit_test(test_truthy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
