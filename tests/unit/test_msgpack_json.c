/* Unit tests for proto/msgpack_json.c: values as notepack.io 3.0.1 encodes them (hex produced
 * by the real package), every msgpack type, JavaScript number and date text, legacy ext forms,
 * key order, malformed input, and the reader the adapter messages are read with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "msgpack_json.h"
#include "msgpack_hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Decodes msgpack hex as a value and checks the JSON text (NULL: undefined). */
static void check_decode(const char *hex, const char *json, unsigned natt)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    mpjson_value_t v;
    int rc = mpjson_decode(b, n, &v);
    if (rc) fail_msg("%s: %s", hex, mpjson_strerror(rc));
    if (json)
        assert_string_equal(v.json, json);
    else
        assert_null(v.json);
    if (json) assert_int_equal(v.json_len, strlen(json));
    assert_int_equal(v.natt, natt);
    mpjson_value_free(&v);
    free(b);
}

static void check_decode_err(const char *hex, int want)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    mpjson_value_t v;
    memset(&v, 0x5a, sizeof v);
    int rc = mpjson_decode(b, n, &v);
    if (rc != want) fail_msg("%s: got %d (%s), want %d", hex, rc, mpjson_strerror(rc), want);
    free(b);
}

/* Encodes JSON (no attachments) and compares with hex. */
static void check_encode(const char *json, const char *hex)
{
    sbuf_t b = SBUF_INIT;
    int rc = mpjson_encode(&b, json, strlen(json), NULL, 0);
    if (rc) fail_msg("%s: %s", json, mpjson_strerror(rc));
    assert_hex(&b, hex);
    sbuf_free(&b);
}

/* float64 bit pattern -> its JSON text. */
static void check_f64(const char *bits, const char *json)
{
    char hex[32];
    snprintf(hex, sizeof hex, "cb%s", bits);
    check_decode(hex, json, 0);
}

/* ---- values ---- */

static void test_scalars(void **state)
{
    check_decode("c0", "null", 0);
    check_decode("c2", "false", 0);
    check_decode("c3", "true", 0);
    check_decode("a0", "\"\"", 0);
    check_decode("a3 e282ac", "\"\xe2\x82\xac\"", 0);
    check_decode("a2 0a22", "\"\\n\\\"\"", 0);
    check_decode("d9 01 41", "\"A\"", 0);
    check_decode("da 0001 41", "\"A\"", 0);
    check_decode("db 00000001 41", "\"A\"", 0);
    /* invalid UTF-8: one U+FFFD per maximal invalid subpart, as Buffer#toString does
     * (checked against Node: ed a0 80 41 f0 9f 41 e0 80 -> 3, A, 1, A, 2) */
    check_decode("a9 eda08041f09f41e080",
                 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                 "A\xef\xbf\xbd"
                 "A\xef\xbf\xbd\xef\xbf\xbd\"",
                 0);
    check_decode("c4 00", "{\"_placeholder\":true,\"num\":0}", 1);
    check_decode("c5 0001 aa", "{\"_placeholder\":true,\"num\":0}", 1);
    check_decode("c6 00000002 aabb", "{\"_placeholder\":true,\"num\":0}", 1);
    check_decode("92 c40101 c40102",
                 "[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", 2);
    check_decode("90", "[]", 0);
    check_decode("80", "{}", 0);
    check_decode("dc 0001 01", "[1]", 0);
    check_decode("dd 00000001 01", "[1]", 0);
    check_decode("de 0001 a1\"a\" 01", "{\"a\":1}", 0);
    check_decode("df 00000001 a1\"a\" 01", "{\"a\":1}", 0);
}

static void test_integers(void **state)
{
    /* notepack.encode([0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -1, -32,
     * -33, -128, -129, -32768, -32769, -2147483648, -2147483649, 2**53, -(2**53), 0.1]) */
    const char *json = "[0,1,127,128,255,256,65535,65536,4294967295,4294967296,-1,-32,-33,-128,"
                       "-129,-32768,-32769,-2147483648,-2147483649,9007199254740992,"
                       "-9007199254740992,0.1]";
    const char *hex = "dc0016 00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000ffe0"
                      "d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffcf0020000000000000"
                      "d3ffe0000000000000cb3fb999999999999a";
    check_encode(json, hex);
    check_decode(hex, json, 0);
    /* 64-bit extremes decode to their exact decimal text */
    check_decode("cf ffffffffffffffff", "18446744073709551615", 0);
    check_decode("d3 8000000000000000", "-9223372036854775808", 0);
    check_decode("d0 05", "5", 0); /* non-minimal forms are fine */
    check_decode("d1 ff80", "-128", 0);
    check_decode("ca 3dcccccd", "0.10000000149011612", 0); /* float32 as a double */
}

static void test_js_numbers(void **state)
{
    check_f64("3fb999999999999a", "0.1");
    check_f64("444b1ae4d6e2ef50", "1e+21");
    check_f64("3e7ad7f29abcaf48", "1e-7");
    check_f64("3e8421f5f40d8376", "1.5e-7");
    check_f64("3eb0c6f7a0b5ed8d", "0.000001");
    check_f64("441ac53a7e04bcda", "123456789012345680000");
    check_f64("4415af1d78b58c40", "100000000000000000000");
    check_f64("0000000000000001", "5e-324");
    check_f64("0000000000000003", "1.5e-323");
    check_f64("8000000000000000", "0");
    check_f64("4340000000000000", "9007199254740992");
    check_f64("43f0000000000000", "18446744073709552000");
    check_f64("7fefffffffffffff", "1.7976931348623157e+308");
    check_f64("405edd2f1a9fbe77", "123.456");
    check_f64("bddb7cdfd9d7bdbb", "-1e-10");
    check_f64("4011666666666666", "4.35");
    check_f64("3fd3333333333333", "0.3");
    check_f64("3ff8000000000000", "1.5");
    check_f64("bff8000000000000", "-1.5");
    check_f64("7ff8000000000000", "null");
    check_f64("7ff0000000000000", "null");
    check_f64("fff0000000000000", "null");
}

static void test_encode_numbers(void **state)
{
    check_encode("1.0", "01");     /* integral: an int, as notepack */
    check_encode("1e3", "cd03e8"); /* likewise */
    check_encode("-0", "00");      /* notepack writes -0 as 0 */
    check_encode("-0.0", "00");
    check_encode("-1E-400", "00"); /* underflows to -0 */
    check_encode("1.5", "cb3ff8000000000000");
    check_encode("-2.5e-3", "cbbf647ae147ae147b");
    check_encode("1e-7", "cb3e7ad7f29abcaf48");
    check_encode("18446744073709551615", "cfffffffffffffffff");
    check_encode("9223372036854775808", "cf8000000000000000");
    check_encode("-9223372036854775808", "d38000000000000000");
    check_encode("9007199254740993", "cf0020000000000001"); /* integer literals stay exact */
    check_encode("1.8446744073709550e19", "cffffffffffffff800");
    /* beyond 64 bits notepack wraps modulo 2^64 (1e21 -> cf35c9adc5dea00000); we keep the
     * value as float64 */
    check_encode("1e21", "cb444b1ae4d6e2ef50");
    check_encode("18446744073709551616", "cb43f0000000000000");
    check_encode("-9223372036854775809", "d38000000000000000"); /* the double is -2^63 */
    check_encode("-9223372036854777856", "cbc3e0000000000001");
    check_encode("123456789012345680000", "cb441ac53a7e04bcda");
    check_encode("1e400", "cb7ff0000000000000"); /* Infinity, as JSON.parse reads it */
    check_encode("-1e400", "cbfff0000000000000");
}

static void test_encode_values(void **state)
{
    /* notepack.encode(["", "a"x31, "a"x32, "é€😀"]) */
    char json[200], hex[400];
    snprintf(json, sizeof json,
             "[\"\",\"%.31s\",\"%.32s\",\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(hex, sizeof hex, "94a0bf%s d920%s a9c3a9e282acf09f9880",
             "61616161616161616161616161616161616161616161616161616161616161",
             "6161616161616161616161616161616161616161616161616161616161616161");
    check_encode(json, hex);
    check_decode(hex, json, 0);
    /* escapes decoded, keys in text order, whitespace ignored, nested containers */
    check_encode(" { \"b\\u00e9\" : [ true , false , null ] , \"a\" : { } } ",
                 "82 a3 62c3a9 93c3c2c0 a1\"a\" 80");
    check_encode("\"\\ud83d\\ude00\"", "a4 f09f9880");
    check_encode("\"\\ud800\"", "a3 efbfbd"); /* a lone surrogate as U+FFFD */
    check_encode("[[],{}]", "929080");

    /* placeholders become bin; "_placeholder" other than true keeps the object */
    sio_attachment_t att[2] = {{(uint8_t *)"\x01\x02", 2}, {(uint8_t *)"", 0}};
    sbuf_t b = SBUF_INIT;
    const char *j = "[{\"_placeholder\":true,\"num\":1},{\"num\":0,\"_placeholder\":true},"
                    "{\"_placeholder\":false,\"num\":0}]";
    assert_int_equal(mpjson_encode(&b, j, strlen(j), att, 2), 0);
    assert_hex(&b, "93 c400 c4020102 82 ac\"_placeholder\" c2 a3\"num\" 00");
    sbuf_free(&b);
}

static void check_encode_err(const char *json, unsigned natt, int want)
{
    sio_attachment_t att[2] = {{(uint8_t *)"a", 1}, {(uint8_t *)"b", 1}};
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "keep");
    int rc = mpjson_encode(&b, json, strlen(json), att, natt);
    if (rc != want) fail_msg("%s: got %d (%s), want %d", json, rc, mpjson_strerror(rc), want);
    assert_string_equal(b.data, "keep");
    assert_int_equal(b.len, 4);
    sbuf_free(&b);
}

static void test_encode_errors(void **state)
{
    check_encode_err("[{\"_placeholder\":true,\"num\":1}]", 1, MPJSON_EPLACEHOLDER);
    check_encode_err("[{\"_placeholder\":true,\"num\":2}]", 2, MPJSON_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true,\"num\":-1}", 2, MPJSON_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true,\"num\":\"0\"}", 2, MPJSON_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true,\"num\":0.5}", 2, MPJSON_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true}", 2, MPJSON_EPLACEHOLDER);
    check_encode_err("[1,2", 0, MPJSON_EJSON);
    check_encode_err("", 0, MPJSON_EJSON);
    check_encode_err("[01]", 0, MPJSON_EJSON);
    check_encode_err("\"\xff\"", 0, MPJSON_EJSON);
    /* 64 nested arrays are fine, 65 are not */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    check_encode_err(deep, 0, MPJSON_EJSON);
    sbuf_t b = SBUF_INIT;
    assert_int_equal(mpjson_encode(&b, deep + 1, 128, NULL, 0), 0);
    sbuf_free(&b);
}

static void test_timestamps(void **state)
{
    /* notepack.encode(new Date(...)) and what Node's Date#toJSON gives back */
    check_decode("d6ff 65937d25", "\"2024-01-02T03:04:05.000Z\"", 0);          /* 32-bit */
    check_decode("d7ff a1a5d600 65937d25", "\"2024-01-02T03:04:05.678Z\"", 0); /* 64-bit */
    check_decode("c70cff 3b8b87c0 ffffffff ffffffff", "\"1969-12-31T23:59:59.999Z\"", 0); /* 96 */
    check_decode("d6ff 00000000", "\"1970-01-01T00:00:00.000Z\"", 0);
    check_decode("d6ff ffffffff", "\"2106-02-07T06:28:15.000Z\"", 0);
    check_decode("c70cff 00000000 0000003a fff44180", "\"+010000-01-01T00:00:00.000Z\"", 0);
    check_decode("c70cff 00000000 fffffff1 84aa5080", "\"-000001-01-01T00:00:00.000Z\"", 0);
    check_decode("c70cff 00000000 000fffff ffffffff", "null", 0); /* past Date's range */
    check_decode("d7ff fffffffc 00000000", "\"1970-01-01T00:00:01.073Z\"", 0); /* ns 2^30-1 */
    /* legacy notepack 2.x Date: fixext 8 type 0, int64 milliseconds */
    check_decode("d700 0000018c c8a2ee2e", "\"2024-01-02T05:26:10.222Z\"", 0);
    check_decode("d700 ffffffff ffffffff", "\"1969-12-31T23:59:59.999Z\"", 0);
    check_decode("91 d6ff 65937d25", "[\"2024-01-02T03:04:05.000Z\"]", 0);
    /* a Timestamp ext 8 must hold 12 bytes */
    check_decode_err("c704ff 00000000", MPJSON_EMSGPACK);
    check_decode_err("c708ff 0000000000000000", MPJSON_EMSGPACK);
}

static void test_legacy_ext(void **state)
{
    check_decode("d40000", NULL, 0); /* undefined at the top */
    check_decode("93 01 d40000 02", "[1,null,2]", 0);
    check_decode("83 a1\"a\" 01 a1\"b\" d400ff a1\"c\" 03", "{\"a\":1,\"c\":3}", 0);
    /* ext 8/16/32 type 0: notepack 2.x ArrayBuffer -> binary */
    check_decode("c70300 616263", "{\"_placeholder\":true,\"num\":0}", 1);
    check_decode("c70100 61", "{\"_placeholder\":true,\"num\":0}", 1); /* not undefined */
    check_decode("c70800 0000000000000000", "{\"_placeholder\":true,\"num\":0}", 1); /* no Date */
    check_decode("c8000200 6162", "{\"_placeholder\":true,\"num\":0}", 1);
    check_decode("c900000000 00", "{\"_placeholder\":true,\"num\":0}", 1);
    /* other exts decode to [type, Buffer] in notepack */
    check_decode("d50001 02", "[0,{\"_placeholder\":true,\"num\":0}]", 1);
    check_decode("d40500", "[5,{\"_placeholder\":true,\"num\":0}]", 1);
    check_decode("d8ff 00000000000000000000000000000000", "[-1,{\"_placeholder\":true,\"num\":0}]",
                 1);
    check_decode("c70281 0102", "[-127,{\"_placeholder\":true,\"num\":0}]", 1);

    size_t n;
    uint8_t *b = unhex("93 c40161 d40500 c40162", &n);
    mpjson_value_t v;
    assert_int_equal(mpjson_decode(b, n, &v), 0);
    assert_int_equal(v.natt, 3); /* numbered in order */
    assert_memory_equal(v.att[1].data, "\x00", 1);
    assert_memory_equal(v.att[2].data, "b", 1);
    mpjson_value_free(&v);
    free(b);
}

static void test_map_keys(void **state)
{
    check_decode("82 01 a1\"a\" d0fb c3", "{\"1\":\"a\",\"-5\":true}", 0);
    /* keys are String() of the double Node decodes an integer to */
    check_decode("81 cf ffffffffffffffff 00", "{\"18446744073709552000\":0}", 0);
    check_decode("81 cf 0020000000000000 00", "{\"9007199254740992\":0}", 0);
    check_decode("81 cf 0020000000000001 00", "{\"9007199254740992\":0}", 0);
    check_decode("81 d3 8000000000000000 00", "{\"-9223372036854776000\":0}", 0);
    check_decode_err("81 c3 01", MPJSON_EKEY);
    check_decode_err("81 c0 01", MPJSON_EKEY);
    check_decode_err("81 90 01", MPJSON_EKEY);
    check_decode_err("81 cb3ff8000000000000 01", MPJSON_EKEY);
    check_decode_err("81 c40161 01", MPJSON_EKEY);
    check_decode_err("91 81 81 01 02", MPJSON_EKEY);
    /* JavaScript key order: array indices ascending first (checked against Node) */
    check_decode("84 a1\"b\" 01 a1\"2\" c3 a1\"a\" 02 a1\"1\" 04",
                 "{\"1\":4,\"2\":true,\"b\":1,\"a\":2}", 0);
    check_decode("84 ce fffffffe 01 ce ffffffff 02 a2\"01\" 03 a1\"0\" 04",
                 "{\"0\":4,\"4294967294\":1,\"4294967295\":2,\"01\":3}", 0);
    /* a repeated key keeps its first place and its last value */
    check_decode("83 a1\"a\" 01 a2\"ab\" 02 a1\"a\" 03", "{\"a\":3,\"ab\":2}", 0);
    check_decode("82 a1\"a\" 01 a1\"a\" d40000", "{}", 0);
    check_decode("82 a1\"a\" d40000 a1\"a\" 01", "{\"a\":1}", 0);
    /* __proto__ sets the prototype in Node: no own member */
    check_decode("82 a9\"__proto__\" 81 a1\"x\" 01 a1\"y\" 02", "{\"y\":2}", 0);
    /* attachments are numbered in output order */
    check_decode("82 a1\"b\" c40101 a1\"0\" c40102",
                 "{\"0\":{\"_placeholder\":true,\"num\":0},\"b\":{\"_placeholder\":true,"
                 "\"num\":1}}",
                 2);
}

/* n arrays of one element around the value tail_hex. */
static void check_nested(int n, const char *tail_hex, int want)
{
    size_t tn;
    uint8_t *tail = unhex(tail_hex, &tn);
    uint8_t *b = malloc((size_t)n + tn);
    memset(b, 0x91, (size_t)n);
    memcpy(b + n, tail, tn);
    mpjson_value_t v;
    assert_int_equal(mpjson_decode(b, (size_t)n + tn, &v), want);
    if (!want) mpjson_value_free(&v);
    free(b);
    free(tail);
}

static void test_malformed(void **state)
{
    check_decode_err("", MPJSON_EMSGPACK);
    check_decode_err("c1", MPJSON_EMSGPACK);
    check_decode_err("c0 c0", MPJSON_ETRAILING);
    check_decode_err("01 00", MPJSON_ETRAILING);
    check_decode_err("a2 61", MPJSON_EMSGPACK);
    check_decode_err("cb 000000", MPJSON_EMSGPACK);
    check_decode_err("cd 01", MPJSON_EMSGPACK);
    check_decode_err("d9", MPJSON_EMSGPACK);
    check_decode_err("c4 05 0102", MPJSON_EMSGPACK);
    check_decode_err("d6ff 0000", MPJSON_EMSGPACK);
    check_decode_err("dd ffffffff", MPJSON_EMSGPACK); /* count larger than the input can hold */
    check_decode_err("df ffffffff 01 01", MPJSON_EMSGPACK);
    check_decode_err("92 01", MPJSON_EMSGPACK);
    check_decode_err("81 a1\"a\"", MPJSON_EMSGPACK);

    /* 64 nested containers are fine, 65 are too deep; a binary counts as one (its
     * placeholder object), another ext as two ([type, placeholder]) */
    check_nested(64, "c0", 0);
    check_nested(65, "c0", MPJSON_EDEPTH);
    check_nested(63, "c400", 0);
    check_nested(64, "c400", MPJSON_EDEPTH);
    check_nested(62, "d40500", 0);
    check_nested(63, "d40500", MPJSON_EDEPTH);
    check_nested(64, "d6ff00000000", 0); /* a date opens none */
}

/* ---- the reader the adapter messages use ---- */

static void test_read_items(void **state)
{
    (void)state;
    size_t n;
    uint8_t *b = unhex("93 a2\"hi\" d0fb cb3ff8000000000000", &n);
    mpjson_reader_t r = {b, b + n};
    mpjson_item_t it;
    assert_int_equal(mpjson_read_item(&r, &it), 0);
    assert_int_equal(it.kind, MPJSON_ARR);
    assert_int_equal(it.u, 3);
    assert_int_equal(mpjson_read_item(&r, &it), 0);
    assert_int_equal(it.kind, MPJSON_STR);
    assert_int_equal(it.len, 2);
    assert_memory_equal(it.b, "hi", 2);
    assert_int_equal(mpjson_read_item(&r, &it), 0);
    assert_int_equal(it.kind, MPJSON_INT);
    assert_int_equal(it.i, -5);
    assert_int_equal(mpjson_read_item(&r, &it), 0);
    assert_int_equal(it.kind, MPJSON_F64);
    assert_true(it.f == 1.5);
    assert_ptr_equal(r.p, r.end);
    assert_int_equal(mpjson_read_item(&r, &it), MPJSON_EMSGPACK);
    free(b);

    /* a count the remaining bytes cannot hold */
    b = unhex("dc ffff 01", &n);
    r = (mpjson_reader_t){b, b + n};
    assert_int_equal(mpjson_read_item(&r, &it), MPJSON_EMSGPACK);
    free(b);
}

static void test_skip(void **state)
{
    (void)state;
    size_t n;
    uint8_t *b = unhex("82 a1\"a\" 92 01 02 01 c0 c3", &n);
    mpjson_reader_t r = {b, b + n};
    assert_int_equal(mpjson_skip(&r, 0), 0);
    assert_ptr_equal(r.p, b + n - 1);
    free(b);
    b = unhex("81 c3 01", &n);
    r = (mpjson_reader_t){b, b + n};
    assert_int_equal(mpjson_skip(&r, 0), MPJSON_EKEY);
    free(b);
    b = unhex("91 91 c0", &n);
    r = (mpjson_reader_t){b, b + n};
    assert_int_equal(mpjson_skip(&r, MPJSON_MAX_DEPTH - 2), 0);
    r = (mpjson_reader_t){b, b + n};
    assert_int_equal(mpjson_skip(&r, MPJSON_MAX_DEPTH - 1), MPJSON_EDEPTH);
    free(b);
    b = unhex("d40000 01", &n);
    assert_true(mpjson_is_undefined(b, b + n));
    assert_false(mpjson_is_undefined(b + 3, b + n));
    assert_false(mpjson_is_undefined(b, b + 2));
    free(b);
}

/* JavaScript truthiness of the single item in hex. */
static int truthy_hex(const char *hex)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    mpjson_reader_t r = {b, b + n};
    mpjson_item_t it;
    assert_int_equal(mpjson_read_item(&r, &it), 0);
    int t = mpjson_truthy(&it);
    free(b);
    return t;
}

static void test_truthy(void **state)
{
    (void)state;
    assert_false(truthy_hex("c0"));
    assert_false(truthy_hex("c2"));
    assert_true(truthy_hex("c3"));
    assert_false(truthy_hex("00"));
    assert_true(truthy_hex("01"));
    assert_true(truthy_hex("ff"));
    assert_false(truthy_hex("cb0000000000000000"));
    assert_false(truthy_hex("cb7ff8000000000000")); /* NaN */
    assert_true(truthy_hex("cb3ff0000000000000"));
    assert_false(truthy_hex("a0"));
    assert_true(truthy_hex("a1\"x\""));
    assert_true(truthy_hex("90"));
    assert_true(truthy_hex("80"));
    assert_true(truthy_hex("c400"));
    assert_false(truthy_hex("d40000")); /* undefined */
    assert_true(truthy_hex("d6ff00000000"));
}

/* String() of the single item in hex (NULL: refused). */
static void check_string_of(const char *hex, const char *want)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    mpjson_reader_t r = {b, b + n};
    mpjson_item_t it;
    sbuf_t out = SBUF_INIT;
    sbuf_append_str(&out, "<");
    assert_int_equal(mpjson_read_item(&r, &it), 0);
    int rc = mpjson_string_of(&out, &it);
    if (want) {
        assert_int_equal(rc, 0);
        sbuf_append_char(&out, '>');
        assert_int_equal(out.len, strlen(want) + 2);
        assert_memory_equal(out.data + 1, want, strlen(want));
    } else {
        assert_int_equal(rc, MPJSON_EKIND);
        assert_int_equal(out.len, 1);
    }
    sbuf_free(&out);
    free(b);
}

static void test_string_of(void **state)
{
    (void)state;
    check_string_of("a3\"abc\"", "abc");
    check_string_of("a0", "");
    check_string_of("a2 61ff", "a\xef\xbf\xbd");
    check_string_of("2a", "42");
    check_string_of("d0fb", "-5");
    check_string_of("cf ffffffffffffffff", "18446744073709552000");
    check_string_of("cb3ff8000000000000", "1.5");
    check_string_of("cb7ff8000000000000", "NaN");
    check_string_of("cb7ff0000000000000", "Infinity");
    check_string_of("cbfff0000000000000", "-Infinity");
    check_string_of("c0", NULL);
    check_string_of("c3", NULL);
    check_string_of("90", NULL);
    check_string_of("c400", NULL);
}

static void test_encode_kind(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sbuf_append(&b, "\x01", 1);
    assert_int_equal(mpjson_encode_kind(&b, "[1]", 3, NULL, 0, JTEXT_ARRAY), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "\x01\x91\x01", 3);
    assert_int_equal(mpjson_encode_kind(&b, "{}", 2, NULL, 0, JTEXT_ARRAY), MPJSON_EKIND);
    assert_int_equal(mpjson_encode_kind(&b, "[", 1, NULL, 0, JTEXT_ARRAY), MPJSON_EJSON);
    assert_int_equal(
        mpjson_encode_kind(&b, "[{\"_placeholder\":true,\"num\":0}]", 31, NULL, 0, JTEXT_ARRAY),
        MPJSON_EPLACEHOLDER);
    assert_int_equal(mpjson_encode_kind(&b, NULL, 0, NULL, 0, JTEXT_INVALID), MPJSON_EJSON);
    assert_int_equal(b.len, 3);
    sbuf_free(&b);
}

/* A placeholder whose every key character is escaped is still a placeholder, as JSON.parse
 * reads it. */
static void test_encode_escaped_placeholder(void **state)
{
    (void)state;
    static const sio_attachment_t att[1] = {{(uint8_t *)"\x07", 1}};
    static const char json[] =
        "{\"\\u005f\\u0070\\u006c\\u0061\\u0063\\u0065\\u0068\\u006f\\u006c\\u0064\\u0065"
        "\\u0072\":true,\"\\u006e\\u0075\\u006d\":0}";
    sbuf_t b = SBUF_INIT;
    assert_int_equal(mpjson_encode(&b, json, sizeof json - 1, att, 1), 0);
    assert_hex(&b, "c40107");
    sbuf_free(&b);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e >= MPJSON_EKIND; e--)
        assert_string_not_equal(mpjson_strerror(e), "unknown error");
    assert_string_equal(mpjson_strerror(-100), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),       cmocka_unit_test(test_integers),
        cmocka_unit_test(test_js_numbers),    cmocka_unit_test(test_encode_numbers),
        cmocka_unit_test(test_encode_values), cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_timestamps),    cmocka_unit_test(test_legacy_ext),
        cmocka_unit_test(test_map_keys),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_read_items),    cmocka_unit_test(test_skip),
        cmocka_unit_test(test_truthy),        cmocka_unit_test(test_string_of),
        cmocka_unit_test(test_encode_kind),   cmocka_unit_test(test_encode_escaped_placeholder),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
