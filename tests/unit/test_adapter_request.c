/* Unit tests for proto/adapter_request.c: the adapter's channel names and their reading, the
 * type numbers, request ids, request documents, the reading of requests (type rules, the 7.x
 * form, the room bound) and of responses (JSON and msgpack acks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_request.h"

#include <string.h>

static void assert_channel(adapter_channel_t kind, const char *nsp, const char *tail,
                           const char *want)
{
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "left over");
    adapter_channel(&b, "socket.io", 9, kind, nsp, strlen(nsp), tail, tail ? strlen(tail) : 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    sbuf_free(&b);
}

static void test_channels(void **state)
{
    (void)state;
    assert_channel(ADAPTER_CH_BROADCAST, "/", NULL, "socket.io#/#");
    assert_channel(ADAPTER_CH_BROADCAST, "/", "a:b%{c}", "socket.io#/#a:b%{c}#");
    assert_channel(ADAPTER_CH_REQUEST, "/", NULL, "socket.io-request#/#");
    assert_channel(ADAPTER_CH_RESPONSE, "/custom", NULL, "socket.io-response#/custom#");
    assert_channel(ADAPTER_CH_RESPONSE, "/", "Bm_cHL", "socket.io-response#/#Bm_cHL#");
}

static void test_channel_parse(void **state)
{
    (void)state;
    adapter_channel_t kind;
    const char *nsp;
    size_t n;
    const char *ch = "socket.io-request#/custom#";
    assert_int_equal(adapter_channel_parse(ch, strlen(ch), "socket.io", 9, &kind, &nsp, &n), 0);
    assert_int_equal(kind, ADAPTER_CH_REQUEST);
    assert_int_equal(n, 7);
    assert_memory_equal(nsp, "/custom", 7);
    ch = "socket.io-response#/#";
    assert_int_equal(adapter_channel_parse(ch, strlen(ch), "socket.io", 9, &kind, &nsp, &n), 0);
    assert_int_equal(kind, ADAPTER_CH_RESPONSE);
    assert_int_equal(n, 1);
    /* broadcasts, other keys, a missing final '#' or namespace are none of them */
    const char *bad[] = {
        "socket.io#/#",       "socket.io#/#room#",     "other-request#/#", "socket.io-request#/",
        "socket.io-request#", "socket.io-requests#/#", "socket.io"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            adapter_channel_parse(bad[i], strlen(bad[i]), "socket.io", 9, &kind, &nsp, &n), -1);
}

static void test_types(void **state)
{
    (void)state;
    /* the numbers of Node's adapter (docs/protocols.md, 2.5) */
    assert_int_equal(ADAPTER_REQ_SOCKETS, 0);
    assert_int_equal(ADAPTER_REQ_ALL_ROOMS, 1);
    assert_int_equal(ADAPTER_REQ_REMOTE_JOIN, 2);
    assert_int_equal(ADAPTER_REQ_REMOTE_LEAVE, 3);
    assert_int_equal(ADAPTER_REQ_REMOTE_DISCONNECT, 4);
    assert_int_equal(ADAPTER_REQ_REMOTE_FETCH, 5);
    assert_int_equal(ADAPTER_REQ_SERVER_SIDE_EMIT, 6);
    assert_int_equal(ADAPTER_REQ_BROADCAST, 7);
    assert_int_equal(ADAPTER_RESP_BROADCAST_CLIENT_COUNT, 8);
    assert_int_equal(ADAPTER_RESP_BROADCAST_ACK, 9);
}

static void test_request_id(void **state)
{
    (void)state;
    char id[ADAPTER_REQUEST_ID_MAX];
    assert_int_equal(adapter_request_id(id, "Bm_cHL", 1), 8);
    assert_string_equal(id, "Bm_cHL-1");
    assert_true(adapter_request_id(id, "admin-is1e1095", UINT64_MAX) > 0);
    assert_string_equal(id, "admin-is1e1095-18446744073709551615");
    char big[64];
    memset(big, 'u', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(adapter_request_id(id, big, 1), -1);
    assert_string_equal(id, "");
}

static void assert_json(json_t *v, const char *want)
{
    char *text = json_dumps(v, JSON_COMPACT);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
}

static void test_build(void **state)
{
    (void)state;
    json_t *req = adapter_request_new(ADAPTER_REQ_REMOTE_FETCH, "CD5jBn", "CD5jBn-2");
    assert_int_equal(
        adapter_request_set(req, "opts", adapter_request_opts(json_pack("[s]", "r1"), NULL)), 0);
    assert_json(req, "{\"uid\":\"CD5jBn\",\"requestId\":\"CD5jBn-2\",\"type\":5,"
                     "\"opts\":{\"rooms\":[\"r1\"],\"except\":[]}}");
    json_decref(req);
    req = adapter_request_new(ADAPTER_REQ_REMOTE_DISCONNECT, NULL, NULL);
    assert_json(req, "{\"type\":4}");
    /* a NULL value or a non-object is refused, and the value released */
    assert_int_equal(adapter_request_set(req, "close", NULL), -1);
    assert_int_equal(adapter_request_set(NULL, "close", json_true()), -1);
    json_decref(req);
    assert_null(adapter_request_opts(json_object(), NULL));
    assert_null(adapter_request_new(ADAPTER_REQ_ALL_ROOMS, "\xff", NULL));
}

static void test_decode(void **state)
{
    (void)state;
    adapter_request_t r;
    char err[100] = "";
    const char *p = "{\"type\":2,\"uid\":\"u\",\"opts\":{\"rooms\":[\"a\",1,\"b\"],\"except\":"
                    "[\"c\"]},\"rooms\":[\"x\"],\"close\":true,\"data\":[1]}";
    assert_int_equal(adapter_request_decode(p, strlen(p), &r, err, sizeof err), 0);
    assert_int_equal(r.type, ADAPTER_REQ_REMOTE_JOIN);
    assert_string_equal(r.uid, "u");
    assert_null(r.request_id);
    assert_int_equal(r.sel.nrooms, 2);
    assert_memory_equal(r.sel.rooms[1].s, "b", 1);
    assert_int_equal(r.sel.nexcept, 1);
    assert_true(json_is_array(r.targets));
    assert_true(r.close);
    assert_true(json_is_array(r.data));
    adapter_request_free(&r);
    adapter_request_free(&r);
    /* anything but an integer type is no request */
    const char *types[] = {"{\"type\":\"5\"}", "{\"type\":5.0}", "{\"type\":-1}", "{}"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(adapter_request_decode(types[i], strlen(types[i]), &r, err, sizeof err),
                         0);
        assert_int_equal(r.type, -1);
        adapter_request_free(&r);
    }
    /* the 7.x SOCKETS request names its rooms at the top level */
    p = "{\"type\":0,\"requestId\":\"x1\",\"rooms\":[\"old\"]}";
    assert_int_equal(adapter_request_decode(p, strlen(p), &r, err, sizeof err), 0);
    assert_int_equal(r.sel.nrooms, 1);
    assert_memory_equal(r.sel.rooms[0].s, "old", 3);
    adapter_request_free(&r);
    /* at most ADAPTER_REQ_MAX_ROOMS rooms are read */
    json_t *many = json_array();
    for (int i = 0; i < ADAPTER_REQ_MAX_ROOMS + 5; i++)
        json_array_append_new(many, json_string("r"));
    json_t *doc = json_pack("{s:i,s:{s:o}}", "type", 5, "opts", "rooms", many);
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(adapter_request_decode(text, strlen(text), &r, err, sizeof err), 0);
    assert_int_equal(r.sel.nrooms, ADAPTER_REQ_MAX_ROOMS);
    adapter_request_free(&r);
    free(text);
    json_decref(doc);
    /* not an object */
    assert_int_equal(adapter_request_decode("[1]", 3, &r, err, sizeof err), -1);
    assert_string_equal(err, "not a JSON object");
    assert_null(r.doc);
    assert_int_equal(adapter_request_decode("{", 1, &r, err, sizeof err), -1);
    adapter_request_free(&r);
}

static void test_response(void **state)
{
    (void)state;
    adapter_response_t resp;
    const char *p = "{\"type\":8,\"requestId\":\"CD5jBn-4\",\"clientCount\":1,\"uid\":\"wyeveQ\"}";
    assert_int_equal(adapter_response_parse(p, strlen(p), &resp), 0);
    assert_int_equal(resp.type, ADAPTER_RESP_BROADCAST_CLIENT_COUNT);
    assert_string_equal(resp.request_id, "CD5jBn-4");
    assert_int_equal(resp.request_id_len, 8);
    assert_string_equal(resp.uid, "wyeveQ");
    assert_false(resp.is_ack);
    adapter_response_free(&resp);
    /* no type, no id: read, answering nothing */
    assert_int_equal(adapter_response_parse("{\"rooms\":[]}", 12, &resp), 0);
    assert_int_equal(resp.type, -1);
    assert_null(resp.request_id);
    adapter_response_free(&resp);
    /* a msgpack ack */
    sbuf_t b = SBUF_INIT;
    amsg_ack_t a = {{"CD5jBn-4", 8}, {"{\"got\":42}", 10, NULL, 0}};
    assert_int_equal(amsg_ack_encode(&b, &a), 0);
    assert_int_equal(adapter_response_parse(b.data, b.len, &resp), 0);
    assert_true(resp.is_ack);
    assert_null(resp.doc);
    assert_int_equal(resp.type, ADAPTER_RESP_BROADCAST_ACK);
    assert_string_equal(resp.request_id, "CD5jBn-4");
    assert_non_null(resp.ack.arg.json);
    adapter_response_free(&resp);
    adapter_response_free(&resp);
    sbuf_free(&b);
    /* neither */
    assert_int_equal(adapter_response_parse("[1]", 3, &resp), -1);
    assert_int_equal(adapter_response_parse("{\"a\"", 4, &resp), -1);
    assert_int_equal(adapter_response_parse("", 0, &resp), -1);
    assert_null(resp.doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channels), cmocka_unit_test(test_channel_parse),
        cmocka_unit_test(test_types),    cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_build),    cmocka_unit_test(test_decode),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
