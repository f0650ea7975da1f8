/* Unit tests for proto/adapter_sharded_classic.c: Node's sharded messages (as
 * @socket.io/redis-adapter 8.3.0 published them) read into the classic forms, and the
 * classic forms written as the bytes Node publishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_sharded_classic.h"
#include "msgpack_hex.h"
#include "sio_packet.h"

#include <stdlib.h>
#include <string.h>

#define S(lit) ((amsg_str_t){lit, sizeof(lit) - 1})
#define UID    "2d765c020aa66ea6"

static adapter_sharded_msg_t decode(const char *text)
{
    adapter_sharded_msg_t m;
    assert_int_equal(adapter_sharded_decode((const uint8_t *)text, strlen(text), &m), 0);
    return m;
}

static void assert_json(const json_t *v, const char *want)
{
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    char *exp = json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    assert_non_null(got);
    assert_string_equal(got, exp);
    free(got);
    free(exp);
    json_decref(w);
}

/* ---- requests from Node ---- */

static void test_fetch_sockets_read(void **state)
{
    (void)state;
    adapter_sharded_msg_t m = decode(
        "{\"type\":7,\"data\":{\"opts\":{\"rooms\":[\"room1\"],\"except\":[\"x\"],\"flags\":{}},"
        "\"requestId\":\"e118b1fa90a4dfc8\"},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    adapter_request_t r;
    assert_int_equal(adapter_sharded_request_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_REQ_REMOTE_FETCH);
    assert_string_equal(r.uid, UID);
    assert_string_equal(json_string_value(r.request_id), "e118b1fa90a4dfc8");
    assert_int_equal(r.sel.nrooms, 1);
    assert_memory_equal(r.sel.rooms[0].s, "room1", 5);
    assert_int_equal(r.sel.nexcept, 1);
    adapter_request_free(&r);
    adapter_sharded_msg_free(&m);
}

static void test_join_leave_disconnect_read(void **state)
{
    (void)state;
    adapter_sharded_msg_t m = decode(
        "{\"type\":4,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"rooms\":["
        "\"r3\"]},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    adapter_request_t r;
    assert_int_equal(adapter_sharded_request_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_REQ_REMOTE_JOIN);
    assert_json(r.targets, "[\"r3\"]");
    assert_int_equal(r.sel.nrooms, 0);
    adapter_request_free(&r);
    adapter_sharded_msg_free(&m);

    m = decode("{\"type\":5,\"data\":{\"opts\":{\"rooms\":[\"a\"],\"except\":[],\"flags\":{}},"
               "\"rooms\":[\"b\"]},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_request_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_REQ_REMOTE_LEAVE);
    adapter_request_free(&r);
    adapter_sharded_msg_free(&m);

    m = decode("{\"type\":6,\"data\":{\"opts\":{\"rooms\":[\"zz\"],\"except\":[],\"flags\":{}},"
               "\"close\":true},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_request_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_REQ_REMOTE_DISCONNECT);
    assert_int_equal(r.close, 1);
    assert_int_equal(r.sel.nrooms, 1);
    adapter_request_free(&r);
    adapter_sharded_msg_free(&m);
}

static void test_server_side_emit_read(void **state)
{
    (void)state;
    adapter_sharded_msg_t m =
        decode("{\"type\":9,\"data\":{\"requestId\":\"42c939da3ad83c50\",\"packet\":[\"sseack\","
               "\"z\"]},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    adapter_request_t r;
    assert_int_equal(adapter_sharded_request_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_REQ_SERVER_SIDE_EMIT);
    assert_json(r.data, "[\"sseack\",\"z\"]");
    assert_string_equal(json_string_value(r.request_id), "42c939da3ad83c50");
    adapter_request_free(&r);
    adapter_sharded_msg_free(&m);
    /* without an ack: no request id */
    m = decode("{\"type\":9,\"data\":{\"packet\":[\"hi\"]},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_request_read(&m, &r), 0);
    assert_null(r.request_id);
    adapter_request_free(&r);
    adapter_sharded_msg_free(&m);
}

static void test_not_requests(void **state)
{
    (void)state;
    const char *texts[] = {
        "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"a\"]}},\"nsp\":\"/\"}",
        "{\"type\":8,\"data\":{\"requestId\":\"x\",\"sockets\":[]},\"nsp\":\"/\"}",
        "{\"type\":2,\"uid\":\"" UID "\",\"nsp\":\"/\"}",
        "{\"type\":7,\"data\":[1,2],\"nsp\":\"/\"}",
        "{\"type\":7,\"data\":\"x\",\"nsp\":\"/\"}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        adapter_sharded_msg_t m = decode(texts[i]);
        adapter_request_t r;
        assert_int_equal(adapter_sharded_request_read(&m, &r), -1);
        assert_null(r.doc);
        adapter_sharded_msg_free(&m);
    }
}

/* ---- broadcasts from Node ---- */

static void test_broadcast_read(void **state)
{
    (void)state;
    adapter_sharded_msg_t m = decode(
        "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"r1\",{\"x\":1.5}]},\"opts\":{"
        "\"rooms\":[\"room1\"],\"except\":[\"sid1\"],\"flags\":{\"volatile\":true}}},\"uid\":"
        "\"" UID "\",\"nsp\":\"/chat\"}");
    amsg_broadcast_t b;
    assert_int_equal(adapter_sharded_broadcast_read(&m, &b), 0);
    assert_string_equal(b.data.json, "[\"r1\",{\"x\":1.5}]");
    assert_int_equal(b.nrooms, 1);
    assert_string_equal(b.rooms[0].s, "room1");
    assert_int_equal(b.nexcept, 1);
    assert_string_equal(b.except[0].s, "sid1");
    assert_string_equal(b.uid.s, UID);
    assert_string_equal(b.nsp.s, "/chat");
    assert_null(b.request_id.s);
    assert_int_equal(b.flags.is_volatile, 1);
    amsg_broadcast_free(&b);
    adapter_sharded_msg_free(&m);

    m = decode("{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"q\",9]},\"requestId\":"
               "\"ff1910910cd27d0a\",\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{\"timeout\":"
               "2000}}},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_broadcast_read(&m, &b), 0);
    assert_string_equal(b.request_id.s, "ff1910910cd27d0a");
    assert_int_equal(b.flags.timeout, 2000);
    assert_int_equal(b.nrooms, 0);
    amsg_broadcast_free(&b);
    adapter_sharded_msg_free(&m);

    /* a packet without a data array is no broadcast */
    m = decode("{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":\"x\"}},\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_broadcast_read(&m, &b), -1);
    adapter_sharded_msg_free(&m);
}

#define BIN_HEX                                                                                    \
    "84 a4\"type\" 03 a4\"data\" 82 a6\"packet\" 82 a4\"type\" 02 a4\"data\" 92 a3\"bin\" c4 03 "  \
    "01 02 03 a4\"opts\" 83 a5\"rooms\" 91 a5\"room1\" a6\"except\" 90 a5\"flags\" 80 a3\"uid\" "  \
    "b0\"" UID "\" a3\"nsp\" a1\"/\""

static void test_binary_broadcast_both_ways(void **state)
{
    (void)state;
    size_t n;
    uint8_t *bytes = unhex(BIN_HEX, &n);
    adapter_sharded_msg_t m;
    assert_int_equal(adapter_sharded_decode(bytes, n, &m), 0);
    amsg_broadcast_t b;
    assert_int_equal(adapter_sharded_broadcast_read(&m, &b), 0);
    assert_string_equal(b.data.json, "[\"bin\",{\"_placeholder\":true,\"num\":0}]");
    assert_int_equal(b.data.natt, 1);
    assert_int_equal(b.data.att[0].len, 3);
    assert_memory_equal(b.data.att[0].data, "\x01\x02\x03", 3);
    /* and written back: Node's bytes */
    sbuf_t out = SBUF_INIT;
    assert_int_equal(adapter_sharded_broadcast_write(&out, &b), 0);
    assert_hex(&out, BIN_HEX);
    sbuf_free(&out);
    amsg_broadcast_free(&b);
    adapter_sharded_msg_free(&m);
    free(bytes);
}

/* ---- responses from Node ---- */

static void test_responses_read(void **state)
{
    (void)state;
    adapter_response_t r;
    adapter_sharded_msg_t m = decode("{\"type\":11,\"data\":{\"requestId\":\"rq1\",\"clientCount\""
                                     ":1},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_response_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_RESP_BROADCAST_CLIENT_COUNT);
    assert_string_equal(r.request_id, "rq1");
    assert_int_equal(json_integer_value(json_object_get(r.doc, "clientCount")), 1);
    assert_string_equal(r.uid, UID);
    adapter_response_free(&r);
    adapter_sharded_msg_free(&m);

    m = decode("{\"type\":12,\"data\":{\"requestId\":\"rq1\",\"packet\":\"ans-7\"},\"uid\":\"" UID
               "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_response_read(&m, &r), 0);
    assert_int_equal(r.is_ack, 1);
    assert_string_equal(r.request_id, "rq1");
    assert_string_equal(r.ack.arg.json, "\"ans-7\"");
    adapter_response_free(&r);
    adapter_sharded_msg_free(&m);

    m = decode("{\"type\":10,\"data\":{\"requestId\":\"q2\",\"packet\":\"pong-C\"},\"uid\":\"" UID
               "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_response_read(&m, &r), 0);
    assert_int_equal(r.type, ADAPTER_REQ_SERVER_SIDE_EMIT);
    assert_json(json_object_get(r.doc, "data"), "\"pong-C\"");
    adapter_response_free(&r);
    adapter_sharded_msg_free(&m);

    m = decode("{\"type\":8,\"data\":{\"requestId\":\"q3\",\"sockets\":[{\"id\":\"s1\",\"rooms\":["
               "\"s1\",\"a\"]}]},\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_response_read(&m, &r), 0);
    assert_json(json_object_get(r.doc, "sockets"), "[{\"id\":\"s1\",\"rooms\":[\"s1\",\"a\"]}]");
    assert_string_equal(r.request_id, "q3");
    adapter_response_free(&r);
    adapter_sharded_msg_free(&m);

    /* no request id: answers nothing */
    m = decode("{\"type\":11,\"data\":{\"clientCount\":1},\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_response_read(&m, &r), -1);
    adapter_sharded_msg_free(&m);
    m = decode("{\"type\":7,\"data\":{\"requestId\":\"x\"},\"nsp\":\"/\"}");
    assert_int_equal(adapter_sharded_response_read(&m, &r), -1);
    adapter_sharded_msg_free(&m);
}

/* ---- what we publish: Node's bytes ---- */

static void assert_written(const char *classic, const char *want)
{
    json_t *req = json_loads(classic, 0, NULL);
    assert_non_null(req);
    sbuf_t out = SBUF_INIT;
    assert_int_equal(adapter_sharded_request_write(&out, req, S("u1"), S("/")), 0);
    sbuf_append_char(&out, '\0');
    assert_string_equal(out.data, want);
    sbuf_free(&out);
    json_decref(req);
}

static void test_requests_written(void **state)
{
    (void)state;
    assert_written("{\"type\":5,\"uid\":\"u1\",\"requestId\":\"u1-1\",\"opts\":{\"rooms\":[\"a\"],"
                   "\"except\":[]}}",
                   "{\"type\":7,\"data\":{\"opts\":{\"rooms\":[\"a\"],\"except\":[],\"flags\":{}},"
                   "\"requestId\":\"u1-1\"},\"uid\":\"u1\",\"nsp\":\"/\"}");
    /* every room: the sharded adapter has no ALL_ROOMS, the sockets tell the rooms */
    assert_written("{\"type\":1,\"uid\":\"u1\",\"requestId\":\"u1-2\"}",
                   "{\"type\":7,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},"
                   "\"requestId\":\"u1-2\"},\"uid\":\"u1\",\"nsp\":\"/\"}");
    assert_written("{\"type\":2,\"opts\":{\"rooms\":[],\"except\":[]},\"rooms\":[\"r3\"],\"uid\":"
                   "\"u1\"}",
                   "{\"type\":4,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},"
                   "\"rooms\":[\"r3\"]},\"uid\":\"u1\",\"nsp\":\"/\"}");
    assert_written("{\"type\":3,\"opts\":{\"rooms\":[\"x\"],\"except\":[]},\"rooms\":[\"r3\"]}",
                   "{\"type\":5,\"data\":{\"opts\":{\"rooms\":[\"x\"],\"except\":[],\"flags\":{}},"
                   "\"rooms\":[\"r3\"]},\"uid\":\"u1\",\"nsp\":\"/\"}");
    assert_written("{\"type\":4,\"opts\":{\"rooms\":[\"zz\"],\"except\":[]},\"close\":true}",
                   "{\"type\":6,\"data\":{\"opts\":{\"rooms\":[\"zz\"],\"except\":[],\"flags\":{}},"
                   "\"close\":true},\"uid\":\"u1\",\"nsp\":\"/\"}");
    assert_written("{\"type\":6,\"uid\":\"u1\",\"requestId\":\"u1-3\",\"data\":[\"sseack\",\"z\"]}",
                   "{\"type\":9,\"data\":{\"requestId\":\"u1-3\",\"packet\":[\"sseack\",\"z\"]},"
                   "\"uid\":\"u1\",\"nsp\":\"/\"}");
    assert_written("{\"type\":6,\"data\":[\"hi\"]}",
                   "{\"type\":9,\"data\":{\"packet\":[\"hi\"]},\"uid\":\"u1\",\"nsp\":\"/\"}");
    /* not carried: a broadcast (it has its own writer), a type unknown, no type */
    const char *bad[] = {"{\"type\":7}", "{\"type\":42}", "{}", "{\"type\":6,\"data\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *req = json_loads(bad[i], 0, NULL);
        sbuf_t out = SBUF_INIT;
        assert_int_equal(adapter_sharded_request_write(&out, req, S("u1"), S("/")), -1);
        assert_int_equal(out.len, 0);
        json_decref(req);
    }
}

static void test_broadcast_written(void **state)
{
    (void)state;
    amsg_str_t rooms[] = {S("room1")};
    amsg_broadcast_t b = {
        .uid = S(UID),
        .nsp = S("/"),
        .id = -1,
        .data = {"[\"r1\",{\"x\":1.5}]", 16, NULL, 0},
        .rooms = rooms,
        .nrooms = 1,
        .flags = {AMSG_UNSET, AMSG_UNSET, AMSG_UNSET, AMSG_UNSET},
    };
    sbuf_t out = SBUF_INIT;
    assert_int_equal(adapter_sharded_broadcast_write(&out, &b), 0);
    sbuf_append_char(&out, '\0');
    assert_string_equal(
        out.data, "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"r1\",{\"x\":1.5}]},"
                  "\"opts\":{\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}}},\"uid\":"
                  "\"" UID "\",\"nsp\":\"/\"}");
    sbuf_free(&out);
    /* with acks */
    b.nrooms = 0;
    b.data = (mpjson_value_t){"[\"q\",9]", 7, NULL, 0};
    b.request_id = S("ff1910910cd27d0a");
    b.flags.timeout = 2000;
    assert_int_equal(adapter_sharded_broadcast_write(&out, &b), 0);
    sbuf_append_char(&out, '\0');
    assert_string_equal(out.data,
                        "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"q\",9]},"
                        "\"requestId\":\"ff1910910cd27d0a\",\"opts\":{\"rooms\":[],"
                        "\"except\":[],\"flags\":{\"timeout\":2000}}},\"uid\":\"" UID
                        "\",\"nsp\":\"/\"}");
    sbuf_free(&out);
}

static void test_responses_written(void **state)
{
    (void)state;
    sbuf_t out = SBUF_INIT;
    mpjson_value_t one = {"1", 1, NULL, 0};
    assert_int_equal(adapter_sharded_response_write(&out, ADAPTER_SHARDED_BROADCAST_CLIENT_COUNT,
                                                    "rq1", "clientCount", &one, S(UID), S("/")),
                     0);
    sbuf_append_char(&out, '\0');
    assert_string_equal(out.data, "{\"type\":11,\"data\":{\"requestId\":\"rq1\",\"clientCount\":1},"
                                  "\"uid\":\"" UID "\",\"nsp\":\"/\"}");
    sbuf_free(&out);
    /* a binary ack: msgpack, as Node sends it */
    sio_attachment_t att = {(uint8_t *)"\x07", 1};
    mpjson_value_t bin = {"{\"_placeholder\":true,\"num\":0}", 29, &att, 1};
    assert_int_equal(adapter_sharded_response_write(&out, ADAPTER_SHARDED_BROADCAST_ACK,
                                                    "9f42cbc4dcfd95d2", "packet", &bin, S(UID),
                                                    S("/")),
                     0);
    assert_hex(&out, "84 a4\"type\" 0c a4\"data\" 82 a9\"requestId\" b0\"9f42cbc4dcfd95d2\" "
                     "a6\"packet\" c4 01 07 a3\"uid\" b0\"" UID "\" a3\"nsp\" a1\"/\"");
    sbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_sockets_read),
        cmocka_unit_test(test_join_leave_disconnect_read),
        cmocka_unit_test(test_server_side_emit_read),
        cmocka_unit_test(test_not_requests),
        cmocka_unit_test(test_broadcast_read),
        cmocka_unit_test(test_binary_broadcast_both_ways),
        cmocka_unit_test(test_responses_read),
        cmocka_unit_test(test_requests_written),
        cmocka_unit_test(test_broadcast_written),
        cmocka_unit_test(test_responses_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
