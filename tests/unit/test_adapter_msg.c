/* Unit tests for proto/adapter_msg.c: the spec's example bytes both ways, messages and values
 * as notepack.io 3.0.1 encodes them (hex produced by the real package), every msgpack type,
 * JavaScript number and date text, legacy ext forms, key order, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Decodes hex (whitespace and '"x"' ASCII runs allowed: "a4\"type\"") into a new buffer. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) + 1, n = 0;
    uint8_t *b = malloc(cap);
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
        } else if (*p == '"') {
            for (p++; *p && *p != '"'; p++) b[n++] = (uint8_t)*p;
            if (*p) p++;
        } else {
            unsigned v;
            if (sscanf(p, "%2x", &v) != 1) fail_msg("bad hex at %s", p);
            b[n++] = (uint8_t)v;
            p += 2;
        }
    }
    *len = n;
    return b;
}

static char *tohex(const void *data, size_t len)
{
    char *s = malloc(2 * len + 1);
    for (size_t k = 0; k < len; k++) sprintf(s + 2 * k, "%02x", ((const uint8_t *)data)[k]);
    s[2 * len] = 0;
    return s;
}

static void assert_hex(const sbuf_t *b, const char *want_hex)
{
    size_t n;
    uint8_t *want = unhex(want_hex, &n);
    char *got = tohex(b->data, b->len), *exp = tohex(want, n);
    assert_string_equal(got, exp);
    free(got);
    free(exp);
    free(want);
}

/* Decodes msgpack hex as a value and checks the JSON text (NULL: undefined). */
static void check_decode(const char *hex, const char *json, unsigned natt)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    mpjson_value_t v;
    int rc = mpjson_decode(b, n, &v);
    if (rc) fail_msg("%s: %s", hex, amsg_strerror(rc));
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
    if (rc != want) fail_msg("%s: got %d (%s), want %d", hex, rc, amsg_strerror(rc), want);
    free(b);
}

/* Encodes JSON (no attachments) and compares with hex. */
static void check_encode(const char *json, const char *hex)
{
    sbuf_t b = SBUF_INIT;
    int rc = mpjson_encode(&b, json, strlen(json), NULL, 0);
    if (rc) fail_msg("%s: %s", json, amsg_strerror(rc));
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

#define SPEC_HEX                                                                                   \
    "93 a6\"AbCdEf\" 83 a4\"type\" 02 a4\"data\" 92 a5\"hello\" a5\"world\" a3\"nsp\" a1\"/\" "    \
    "83 a5\"rooms\" 91 a5\"room1\" a6\"except\" 91 a6\"sidXYZ\" a5\"flags\" 81 a8\"volatile\" c3"

/* ---- broadcast messages ---- */

static void test_spec_example_decode(void **state)
{
    size_t n;
    uint8_t *b = unhex(SPEC_HEX, &n);
    amsg_broadcast_t m;
    assert_int_equal(amsg_broadcast_decode(b, n, &m), 0);
    assert_string_equal(m.uid.s, "AbCdEf");
    assert_int_equal(m.uid.len, 6);
    assert_null(m.request_id.s);
    assert_int_equal(m.type, SIO_EVENT);
    assert_string_equal(m.nsp.s, "/");
    assert_int_equal(m.id, -1);
    assert_string_equal(m.data.json, "[\"hello\",\"world\"]");
    assert_int_equal(m.data.natt, 0);
    assert_int_equal(m.nrooms, 1);
    assert_string_equal(m.rooms[0].s, "room1");
    assert_int_equal(m.nexcept, 1);
    assert_string_equal(m.except[0].s, "sidXYZ");
    assert_int_equal(m.flags.is_volatile, 1);
    assert_int_equal(m.flags.compress, AMSG_UNSET);
    assert_int_equal(m.flags.timeout, AMSG_UNSET);
    assert_int_equal(m.flags.expect_single_response, AMSG_UNSET);

    sbuf_t out = SBUF_INIT;
    assert_int_equal(amsg_broadcast_encode(&out, &m), 0);
    assert_hex(&out, SPEC_HEX);
    sbuf_free(&out);
    amsg_broadcast_free(&m);
    amsg_broadcast_free(&m); /* zeroed: no-op */
    free(b);
}

static void test_spec_example_encode(void **state)
{
    amsg_str_t room = {"room1", 5}, ex = {"sidXYZ", 6};
    amsg_broadcast_t m = {
        .uid = {"AbCdEf", 6},
        .type = SIO_EVENT,
        .nsp = {"/", 1},
        .id = -1,
        .data = {.json = "[\"hello\", \"world\"]", .json_len = 18},
        .rooms = &room,
        .nrooms = 1,
        .except = &ex,
        .nexcept = 1,
        .flags = {1, AMSG_UNSET, AMSG_UNSET, AMSG_UNSET},
    };
    sbuf_t out = SBUF_INIT;
    sbuf_append_str(&out, "x"); /* appends */
    assert_int_equal(amsg_broadcast_encode(&out, &m), 0);
    assert_int_equal(out.data[0], 'x');
    sbuf_t rest = {out.data + 1, out.len - 1, 0};
    assert_hex(&rest, SPEC_HEX);
    sbuf_free(&out);

    /* data must be a JSON array; out is left as it was */
    m.data.json = "{}";
    m.data.json_len = 2;
    assert_int_equal(amsg_broadcast_encode(&out, &m), AMSG_ESHAPE);
    m.data.json = "[1,";
    m.data.json_len = 3;
    assert_int_equal(amsg_broadcast_encode(&out, &m), AMSG_EJSON);
    assert_int_equal(out.len, 0);
    sbuf_free(&out);
}

/* @socket.io/redis-emitter writes opts as {rooms, flags, except}. */
#define EMITTER_DATA_HEX                                                                           \
    "98a46e65777382a16101a16293c3c2c0cb3ff8000000000000f9cd012cce00011170d2ffff63c0cf0000000100"   \
    "000000"
#define EMITTER_HEX                                                                                \
    "93a7656d697474657283a47479706502a464617461" EMITTER_DATA_HEX                                  \
    "a36e7370a52f6368617483a5726f6f6d7392a27231a27232a5666c61677381a8636f6d7072657373c2a66578636"  \
    "57074"                                                                                        \
    "91a178"

static void test_emitter_message(void **state)
{
    size_t n;
    uint8_t *b = unhex(EMITTER_HEX, &n);
    amsg_broadcast_t m;
    assert_int_equal(amsg_broadcast_decode(b, n, &m), 0);
    assert_string_equal(m.uid.s, "emitter");
    assert_string_equal(m.nsp.s, "/chat");
    const char *data = "[\"news\",{\"a\":1,\"b\":[true,false,null]},1.5,-7,300,70000,-40000,"
                       "4294967296]";
    assert_string_equal(m.data.json, data);
    assert_int_equal(m.nrooms, 2);
    assert_string_equal(m.rooms[1].s, "r2");
    assert_int_equal(m.nexcept, 1);
    assert_string_equal(m.except[0].s, "x");
    assert_int_equal(m.flags.compress, 0);
    assert_int_equal(m.flags.is_volatile, AMSG_UNSET);

    /* The data array encodes back to notepack's bytes. */
    sbuf_t out = SBUF_INIT;
    assert_int_equal(mpjson_encode(&out, data, strlen(data), NULL, 0), 0);
    assert_hex(&out, EMITTER_DATA_HEX);
    sbuf_free(&out);
    amsg_broadcast_free(&m);
    free(b);
}

static amsg_broadcast_t decode_ok(const char *hex)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    amsg_broadcast_t m;
    int rc = amsg_broadcast_decode(b, n, &m);
    if (rc) fail_msg("%s: %s", hex, amsg_strerror(rc));
    free(b);
    return m;
}

static void check_broadcast_err(const char *hex, int want)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    amsg_broadcast_t m;
    memset(&m, 0x5a, sizeof m);
    int rc = amsg_broadcast_decode(b, n, &m);
    if (rc != want) fail_msg("%s: got %d (%s), want %d", hex, rc, amsg_strerror(rc), want);
    assert_null(m.uid.s); /* zeroed */
    assert_null(m.rooms);
    free(b);
}

static void test_broadcast_variants(void **state)
{
    /* integer rooms, no nsp, type 5, an id, binary in data, missing except and flags */
    amsg_broadcast_t m = decode_ok("93 a1\"u\" 83 a4\"type\" 05 a4\"data\" 92 a1\"e\" c40201ff "
                                   "a2\"id\" 0c 81 a5\"rooms\" 93 cd3039 ff a1\"r\"");
    assert_int_equal(m.type, SIO_BINARY_EVENT);
    assert_string_equal(m.nsp.s, "/");
    assert_int_equal(m.id, 12);
    assert_string_equal(m.data.json, "[\"e\",{\"_placeholder\":true,\"num\":0}]");
    assert_int_equal(m.data.natt, 1);
    assert_int_equal(m.data.att[0].len, 2);
    assert_memory_equal(m.data.att[0].data, "\x01\xff", 2);
    assert_int_equal(m.nrooms, 3);
    assert_string_equal(m.rooms[0].s, "12345");
    assert_string_equal(m.rooms[1].s, "-1");
    assert_string_equal(m.rooms[2].s, "r");
    assert_int_equal(m.nexcept, 0);
    assert_null(m.except);
    assert_int_equal(m.flags.is_volatile, AMSG_UNSET);

    /* encodes back as the Node adapter writes it: id after nsp, every opts key present */
    sbuf_t out = SBUF_INIT;
    assert_int_equal(amsg_broadcast_encode(&out, &m), 0);
    assert_hex(&out, "93 a1\"u\" 84 a4\"type\" 05 a4\"data\" 92 a1\"e\" c40201ff a3\"nsp\" a1\"/\" "
                     "a2\"id\" 0c 83 a5\"rooms\" 93 a5\"12345\" a2\"-1\" a1\"r\" a6\"except\" 90 "
                     "a5\"flags\" 80");
    sbuf_free(&out);
    amsg_broadcast_free(&m);

    /* every flag; extra top-level elements and unknown keys ignored; later duplicates win */
    m = decode_ok(
        "94 a1\"u\" 84 a4\"type\" 02 a4\"data\" 91 01 a3\"nsp\" a2\"/a\" a3\"nsp\" a2\"/b\" "
        "83 a6\"except\" c0 a5\"rooms\" c0 a5\"flags\" 85 a8\"volatile\" c2 "
        "a8\"compress\" c3 a7\"timeout\" cb40a3880000000000 a5\"local\" c3 "
        "b4\"expectSingleResponse\" c3 c0");
    assert_string_equal(m.nsp.s, "/b");
    assert_int_equal(m.nrooms, 0);
    assert_int_equal(m.flags.is_volatile, 0);
    assert_int_equal(m.flags.compress, 1);
    assert_int_equal(m.flags.timeout, 2500);
    assert_int_equal(m.flags.expect_single_response, 1);
    assert_int_equal(amsg_broadcast_encode(&out, &m), 0);
    assert_hex(&out,
               "93 a1\"u\" 83 a4\"type\" 02 a4\"data\" 91 01 a3\"nsp\" a2\"/b\" 83 a5\"rooms\" 90 "
               "a6\"except\" 90 a5\"flags\" 84 a8\"volatile\" c2 a8\"compress\" c3 "
               "a7\"timeout\" cd09c4 b4\"expectSingleResponse\" c3");
    sbuf_free(&out);
    amsg_broadcast_free(&m);

    /* invalid UTF-8 in a room name is read as Node reads it */
    m = decode_ok("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 81 a5\"rooms\" 91 a3 61ff62");
    assert_int_equal(m.rooms[0].len, 5);
    assert_string_equal(m.rooms[0].s, "a\xef\xbf\xbd"
                                      "b");
    amsg_broadcast_free(&m);

    /* numeric rooms are String(n) of the number Node holds */
    m = decode_ok("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 81 a5\"rooms\" 93 cf0020000000000001 "
                  "cb3ff8000000000000 cb7ff8000000000000");
    assert_int_equal(m.nrooms, 3);
    assert_string_equal(m.rooms[0].s, "9007199254740992");
    assert_string_equal(m.rooms[1].s, "1.5");
    assert_string_equal(m.rooms[2].s, "NaN");
    amsg_broadcast_free(&m);
}

static void test_broadcast_errors(void **state)
{
    /* trailing bytes after the single value */
    check_broadcast_err(SPEC_HEX " c0", AMSG_ETRAILING);
    /* truncated */
    check_broadcast_err("93 a6\"AbCdEf\" 83 a4\"type\" 02", AMSG_EMSGPACK);
    check_broadcast_err("", AMSG_EMSGPACK);
    /* not an array / too short / uid not a string */
    check_broadcast_err("80", AMSG_ESHAPE);
    check_broadcast_err("92 a1\"u\" 80", AMSG_ESHAPE);
    check_broadcast_err("93 01 82 a4\"type\" 02 a4\"data\" 90 80", AMSG_ESHAPE);
    /* packet type other than 2 and 5, data missing or not an array, nsp nil */
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 03 a4\"data\" 90 80", AMSG_ESHAPE);
    check_broadcast_err("93 a1\"u\" 81 a4\"type\" 02 80", AMSG_ESHAPE);
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 80 80", AMSG_ESHAPE);
    check_broadcast_err("93 a1\"u\" 83 a4\"type\" 02 a4\"data\" 90 a3\"nsp\" c0 80", AMSG_ESHAPE);
    /* opts not a map, a room that is neither string nor number, timeout of the wrong type */
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 c0", AMSG_ESHAPE);
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 81 a5\"rooms\" 91 c0",
                        AMSG_ESHAPE);
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 81 a6\"except\" 91 90",
                        AMSG_ESHAPE);
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 81 a5\"flags\" 81 a7\"timeout\" "
                        "a1\"x\"",
                        AMSG_ESHAPE);
    /* a map key of a type JSON cannot hold */
    check_broadcast_err("93 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 81 c3 01", AMSG_EKEY);
    /* malformed bytes anywhere, even in an ignored element */
    check_broadcast_err("94 a1\"u\" 82 a4\"type\" 02 a4\"data\" 90 80 c1", AMSG_EMSGPACK);
}

/* ---- requests and responses ---- */

#define REQ_HEX                                                                                    \
    "85a3756964a6587931325a77a9726571756573744964a6416233644536a47479706507a67061636b657483a4747"  \
    "9706502a46461746192a470696e67c403010203a36e7370a12fa46f70747383a5726f6f6d7390a665786365707"   \
    "491a27331a5666c61677381a774696d656f7574cd1388"

static void test_bcast_request(void **state)
{
    size_t n;
    uint8_t *b = unhex(REQ_HEX, &n);
    assert_int_equal(amsg_peek_type(b, n), 7);
    amsg_broadcast_t m;
    assert_int_equal(amsg_bcast_request_decode(b, n, &m), 0);
    assert_string_equal(m.uid.s, "Xy12Zw");
    assert_string_equal(m.request_id.s, "Ab3dE6");
    assert_string_equal(m.data.json, "[\"ping\",{\"_placeholder\":true,\"num\":0}]");
    assert_int_equal(m.data.natt, 1);
    assert_memory_equal(m.data.att[0].data, "\x01\x02\x03", 3);
    assert_int_equal(m.nrooms, 0);
    assert_string_equal(m.except[0].s, "s1");
    assert_int_equal(m.flags.timeout, 5000);
    sbuf_t out = SBUF_INIT;
    assert_int_equal(amsg_bcast_request_encode(&out, &m), 0);
    assert_hex(&out, REQ_HEX);
    sbuf_free(&out);
    amsg_broadcast_free(&m);

    /* a broadcast message is no request, and a request needs type 7 and a requestId */
    assert_int_equal(amsg_bcast_request_decode(b, n - 1, &m), AMSG_EMSGPACK);
    free(b);
    b = unhex(SPEC_HEX, &n);
    assert_int_equal(amsg_bcast_request_decode(b, n, &m), AMSG_ESHAPE);
    assert_int_equal(amsg_peek_type(b, n), AMSG_ESHAPE);
    free(b);
    b = unhex("84 a3\"uid\" a1\"u\" a4\"type\" 07 a6\"packet\" 82 a4\"type\" 02 a4\"data\" 90 "
              "a4\"opts\" 80",
              &n);
    assert_int_equal(amsg_bcast_request_decode(b, n, &m), AMSG_ESHAPE);
    free(b);
    amsg_broadcast_t none = {.uid = {"u", 1}, .data = {.json = "[]", .json_len = 2}};
    assert_int_equal(amsg_bcast_request_encode(&out, &none), AMSG_ESHAPE);
    sbuf_free(&out);
}

static void check_ack(const char *hex, const char *rid, const char *json, unsigned natt)
{
    size_t n;
    uint8_t *b = unhex(hex, &n);
    assert_int_equal(amsg_peek_type(b, n), 9);
    amsg_ack_t a;
    assert_int_equal(amsg_ack_decode(b, n, &a), 0);
    assert_string_equal(a.request_id.s, rid);
    if (json)
        assert_string_equal(a.arg.json, json);
    else
        assert_null(a.arg.json);
    assert_int_equal(a.arg.natt, natt);
    sbuf_t out = SBUF_INIT;
    assert_int_equal(amsg_ack_encode(&out, &a), 0);
    assert_hex(&out, hex);
    sbuf_free(&out);
    amsg_ack_free(&a);
    free(b);
}

static void test_ack(void **state)
{
    check_ack("83a47479706509a9726571756573744964a6416233644536a67061636b657482a26f6bc3a16e9201cb4"
              "002000000000000",
              "Ab3dE6", "{\"ok\":true,\"n\":[1,2.25]}", 0);
    check_ack("83a47479706509a9726571756573744964a171a67061636b6574c4026869", "q",
              "{\"_placeholder\":true,\"num\":0}", 1);
    /* no argument: notepack drops the undefined member */
    check_ack("82 a4\"type\" 09 a9\"requestId\" a1\"q\"", "q", NULL, 0);

    size_t n;
    uint8_t *b = unhex("83 a4\"type\" 09 a9\"requestId\" a1\"q\" a6\"packet\" d40000", &n);
    amsg_ack_t a;
    assert_int_equal(amsg_ack_decode(b, n, &a), 0);
    assert_null(a.arg.json);
    amsg_ack_free(&a);
    free(b);
    b = unhex("82 a4\"type\" 08 a9\"requestId\" a1\"q\"", &n);
    assert_int_equal(amsg_ack_decode(b, n, &a), AMSG_ESHAPE);
    free(b);
    b = unhex("82 a4\"type\" 09 a9\"requestId\" a1\"q\" 00", &n);
    assert_int_equal(amsg_ack_decode(b, n, &a), AMSG_ETRAILING);
    free(b);
    b = unhex("83 a4\"type\" 09 a9\"requestId\" a1\"q\" a6\"packet\" c1", &n);
    assert_int_equal(amsg_ack_decode(b, n, &a), AMSG_EMSGPACK);
    free(b);

    amsg_ack_t bad = {.request_id = {"q", 1},
                      .arg = {.json = "[{\"_placeholder\":true}]", .json_len = 23}};
    sbuf_t out = SBUF_INIT;
    assert_int_equal(amsg_ack_encode(&out, &bad), AMSG_EPLACEHOLDER);
    assert_int_equal(out.len, 0);
    sbuf_free(&out);
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
    if (rc != want) fail_msg("%s: got %d (%s), want %d", json, rc, amsg_strerror(rc), want);
    assert_string_equal(b.data, "keep");
    assert_int_equal(b.len, 4);
    sbuf_free(&b);
}

static void test_encode_errors(void **state)
{
    check_encode_err("[{\"_placeholder\":true,\"num\":1}]", 1, AMSG_EPLACEHOLDER);
    check_encode_err("[{\"_placeholder\":true,\"num\":2}]", 2, AMSG_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true,\"num\":-1}", 2, AMSG_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true,\"num\":\"0\"}", 2, AMSG_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true,\"num\":0.5}", 2, AMSG_EPLACEHOLDER);
    check_encode_err("{\"_placeholder\":true}", 2, AMSG_EPLACEHOLDER);
    check_encode_err("[1,2", 0, AMSG_EJSON);
    check_encode_err("", 0, AMSG_EJSON);
    check_encode_err("[01]", 0, AMSG_EJSON);
    check_encode_err("\"\xff\"", 0, AMSG_EJSON);
    /* 64 nested arrays are fine, 65 are not */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    check_encode_err(deep, 0, AMSG_EJSON);
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
    check_decode_err("c704ff 00000000", AMSG_EMSGPACK);
    check_decode_err("c708ff 0000000000000000", AMSG_EMSGPACK);
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
    check_decode_err("81 c3 01", AMSG_EKEY);
    check_decode_err("81 c0 01", AMSG_EKEY);
    check_decode_err("81 90 01", AMSG_EKEY);
    check_decode_err("81 cb3ff8000000000000 01", AMSG_EKEY);
    check_decode_err("81 c40161 01", AMSG_EKEY);
    check_decode_err("91 81 81 01 02", AMSG_EKEY);
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
    check_decode_err("", AMSG_EMSGPACK);
    check_decode_err("c1", AMSG_EMSGPACK);
    check_decode_err("c0 c0", AMSG_ETRAILING);
    check_decode_err("01 00", AMSG_ETRAILING);
    check_decode_err("a2 61", AMSG_EMSGPACK);
    check_decode_err("cb 000000", AMSG_EMSGPACK);
    check_decode_err("cd 01", AMSG_EMSGPACK);
    check_decode_err("d9", AMSG_EMSGPACK);
    check_decode_err("c4 05 0102", AMSG_EMSGPACK);
    check_decode_err("d6ff 0000", AMSG_EMSGPACK);
    check_decode_err("dd ffffffff", AMSG_EMSGPACK); /* count larger than the input can hold */
    check_decode_err("df ffffffff 01 01", AMSG_EMSGPACK);
    check_decode_err("92 01", AMSG_EMSGPACK);
    check_decode_err("81 a1\"a\"", AMSG_EMSGPACK);

    /* 64 nested containers are fine, 65 are too deep; a binary counts as one (its
     * placeholder object), another ext as two ([type, placeholder]) */
    check_nested(64, "c0", 0);
    check_nested(65, "c0", AMSG_EDEPTH);
    check_nested(63, "c400", 0);
    check_nested(64, "c400", AMSG_EDEPTH);
    check_nested(62, "d40500", 0);
    check_nested(63, "d40500", AMSG_EDEPTH);
    check_nested(64, "d6ff00000000", 0); /* a date opens none */
}

static void test_deep_maps(void **state)
{
    uint8_t buf[200];
    mpjson_value_t v;
    for (int k = 0; k < 65; k++) memcpy(buf + 2 * k, "\x81\x00", 2);
    buf[128] = 0xc0;
    assert_int_equal(mpjson_decode(buf, 129, &v), 0); /* 64 maps */
    mpjson_value_free(&v);
    memcpy(buf + 128, "\x81\x00\xc0", 3);
    assert_int_equal(mpjson_decode(buf, 131, &v), AMSG_EDEPTH); /* 65 */
    /* a broadcast's data array nests from 0 like any value */
    sbuf_t b = SBUF_INIT;
    char json[140];
    memset(json, '[', 64);
    memset(json + 64, ']', 64);
    amsg_broadcast_t m = {
        .uid = {"u", 1}, .type = 2, .id = -1, .data = {.json = json, .json_len = 128}};
    m.flags.is_volatile = m.flags.compress = m.flags.expect_single_response = AMSG_UNSET;
    m.flags.timeout = AMSG_UNSET;
    assert_int_equal(amsg_broadcast_encode(&b, &m), 0);
    amsg_broadcast_t d;
    assert_int_equal(amsg_broadcast_decode((const uint8_t *)b.data, b.len, &d), 0);
    assert_int_equal(d.data.json_len, 128);
    amsg_broadcast_free(&d);
    sbuf_reset(&b);
    m.request_id = (amsg_str_t){"r", 1};
    assert_int_equal(amsg_bcast_request_encode(&b, &m), 0);
    assert_int_equal(amsg_bcast_request_decode((const uint8_t *)b.data, b.len, &d), 0);
    amsg_broadcast_free(&d);
    sbuf_free(&b);
}

static void test_strerror(void **state)
{
    for (int e = 0; e >= AMSG_ESHAPE; e--)
        assert_string_not_equal(amsg_strerror(e), "unknown error");
    assert_string_equal(amsg_strerror(-100), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example_decode),
        cmocka_unit_test(test_spec_example_encode),
        cmocka_unit_test(test_emitter_message),
        cmocka_unit_test(test_broadcast_variants),
        cmocka_unit_test(test_broadcast_errors),
        cmocka_unit_test(test_bcast_request),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_js_numbers),
        cmocka_unit_test(test_encode_numbers),
        cmocka_unit_test(test_encode_values),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_legacy_ext),
        cmocka_unit_test(test_map_keys),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_deep_maps),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
