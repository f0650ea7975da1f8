/* Unit tests for proto/adapter_msg.c: the spec's example bytes both ways, and broadcast
 * messages, BROADCAST requests and BROADCAST_ACK responses as notepack.io 3.0.1 encodes them
 * (hex produced by the real package), with their flags, rooms and malformed shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_msg.h"
#include "msgpack_hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

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
        cmocka_unit_test(test_deep_maps),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
