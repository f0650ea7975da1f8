/* Unit tests for proto/adapter_sharded.c: the message types and modes, the channels and the
 * rule that picks one, and messages as Node's sharded adapter (@socket.io/redis-adapter 8.3.0,
 * socket.io-adapter 2.5.8, notepack.io 3.0.1) published them, byte for byte, in both
 * directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_sharded.h"
#include "msgpack_hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) ((amsg_str_t){lit, sizeof(lit) - 1})
#define NONE   ((amsg_str_t){NULL, 0})

/* ---- types and modes ---- */

static void test_type_numbers(void **state)
{
    (void)state;
    static const struct {
        int type;
        const char *name;
    } t[] = {
        {ADAPTER_SHARDED_INITIAL_HEARTBEAT, "INITIAL_HEARTBEAT"},
        {ADAPTER_SHARDED_HEARTBEAT, "HEARTBEAT"},
        {ADAPTER_SHARDED_BROADCAST, "BROADCAST"},
        {ADAPTER_SHARDED_SOCKETS_JOIN, "SOCKETS_JOIN"},
        {ADAPTER_SHARDED_SOCKETS_LEAVE, "SOCKETS_LEAVE"},
        {ADAPTER_SHARDED_DISCONNECT_SOCKETS, "DISCONNECT_SOCKETS"},
        {ADAPTER_SHARDED_FETCH_SOCKETS, "FETCH_SOCKETS"},
        {ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE, "FETCH_SOCKETS_RESPONSE"},
        {ADAPTER_SHARDED_SERVER_SIDE_EMIT, "SERVER_SIDE_EMIT"},
        {ADAPTER_SHARDED_SERVER_SIDE_EMIT_RESPONSE, "SERVER_SIDE_EMIT_RESPONSE"},
        {ADAPTER_SHARDED_BROADCAST_CLIENT_COUNT, "BROADCAST_CLIENT_COUNT"},
        {ADAPTER_SHARDED_BROADCAST_ACK, "BROADCAST_ACK"},
        {ADAPTER_SHARDED_ADAPTER_CLOSE, "ADAPTER_CLOSE"},
    };
    for (int k = 0; k < 13; k++) {
        assert_int_equal(t[k].type, k + 1); /* Node's numbers: 1..13 in this order */
        assert_string_equal(adapter_sharded_type_name(t[k].type), t[k].name);
        int resp = t[k].type == 8 || t[k].type == 10 || t[k].type == 11 || t[k].type == 12;
        assert_int_equal(adapter_sharded_is_response(t[k].type), resp);
    }
    assert_null(adapter_sharded_type_name(0));
    assert_null(adapter_sharded_type_name(14));
    assert_null(adapter_sharded_type_name(-1));
    assert_int_equal(adapter_sharded_is_response(0), 0);
}

static void test_mode_parse(void **state)
{
    (void)state;
    adapter_sharded_mode_t m = ADAPTER_SHARDED_MODE_STATIC;
    assert_int_equal(adapter_sharded_mode_parse("dynamic", &m), 0);
    assert_int_equal(m, ADAPTER_SHARDED_MODE_DYNAMIC);
    assert_int_equal(adapter_sharded_mode_parse("dynamic-private", &m), 0);
    assert_int_equal(m, ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE);
    assert_int_equal(adapter_sharded_mode_parse("static", &m), 0);
    assert_int_equal(m, ADAPTER_SHARDED_MODE_STATIC);
    static const char *const bad[] = {"", "Dynamic", "dynamic ", "dynamic-", "private", "STATIC"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(adapter_sharded_mode_parse(bad[k], &m), -1);
        assert_int_equal(m, ADAPTER_SHARDED_MODE_STATIC); /* untouched */
    }
    assert_int_equal(adapter_sharded_mode_parse(NULL, &m), -1);
    assert_int_equal(ADAPTER_SHARDED_MODE_DEFAULT, ADAPTER_SHARDED_MODE_DYNAMIC);
    assert_string_equal(adapter_sharded_mode_name(ADAPTER_SHARDED_MODE_STATIC), "static");
    assert_string_equal(adapter_sharded_mode_name(ADAPTER_SHARDED_MODE_DYNAMIC), "dynamic");
    assert_string_equal(adapter_sharded_mode_name(ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE),
                        "dynamic-private");
    assert_null(adapter_sharded_mode_name((adapter_sharded_mode_t)3));
}

/* ---- channels ---- */

static void check_channel(amsg_str_t key, amsg_str_t nsp, amsg_str_t tail, const char *want)
{
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "old content");
    adapter_sharded_channel(&b, key, nsp, tail);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    sbuf_free(&b);
}

static void test_channel_names(void **state)
{
    (void)state;
    check_channel(S("socket.io"), S("/"), NONE, "socket.io#/#");
    check_channel(S("socket.io"), S("/chat"), NONE, "socket.io#/chat#");
    check_channel(S("socket.io"), S("/"), S("room1"), "socket.io#/#room1#");
    check_channel(S("socket.io"), S("/chat"), S("lobby"), "socket.io#/chat#lobby#");
    check_channel(S("socket.io"), S("/"), S("yAoI2aodJQKBQ2pjAAAA"),
                  "socket.io#/#yAoI2aodJQKBQ2pjAAAA#");
    check_channel(S("socket.io"), S("/"), S("3e1321993b7839be"), "socket.io#/#3e1321993b7839be#");
    /* no escaping: '#', braces and non-ASCII go in raw */
    check_channel(S("socket.io"), S("/"), S("a#{b}"), "socket.io#/#a#{b}#");
    check_channel(S("socket.io"), S("/"), S("\xc3\xa9t\xc3\xa9"), "socket.io#/#\xc3\xa9t\xc3\xa9#");
    check_channel(S("app"), S("/"), S(""), "app#/##");
}

static void test_channel_parse(void **state)
{
    (void)state;
    amsg_str_t key = S("socket.io"), nsp = S("/"), uid = S("3e1321993b7839be"), name;
    static const struct {
        const char *ch;
        int kind;
        const char *name;
    } t[] = {
        {"socket.io#/#", ADAPTER_SHARDED_CH_NAMESPACE, ""},
        {"socket.io#/#room1#", ADAPTER_SHARDED_CH_ROOM, "room1"},
        {"socket.io#/#3e1321993b7839be#", ADAPTER_SHARDED_CH_PRIVATE, "3e1321993b7839be"},
        {"socket.io#/#3e1321993b7839bf#", ADAPTER_SHARDED_CH_ROOM, "3e1321993b7839bf"},
        {"socket.io#/#yAoI2aodJQKBQ2pjAAAA#", ADAPTER_SHARDED_CH_ROOM, "yAoI2aodJQKBQ2pjAAAA"},
        {"socket.io#/##", ADAPTER_SHARDED_CH_ROOM, ""},
        {"socket.io#/#a#b#", ADAPTER_SHARDED_CH_ROOM, "a#b"},
        {"socket.io#/#room1", -1, NULL},      /* no closing '#' */
        {"socket.io#/", -1, NULL},            /* too short */
        {"socket.io#/chat#", -1, NULL},       /* another namespace */
        {"socket.io#/chat#lobby#", -1, NULL}, /* another namespace's room */
        {"socket.ix#/#room1#", -1, NULL},     /* another key */
        {"socket.io-request#/#", -1, NULL},   /* the classic adapter's requests */
        {"socket.io/#/#", -1, NULL},          /* no '#' after the key */
        {"socket.io#/x", -1, NULL},           /* no '#' after the namespace */
        {"", -1, NULL},
    };
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        name = NONE;
        int rc = adapter_sharded_channel_parse(t[k].ch, strlen(t[k].ch), key, nsp, uid, &name);
        assert_int_equal(rc, t[k].kind);
        if (rc < 0) continue;
        assert_int_equal(name.len, strlen(t[k].name));
        assert_memory_equal(name.s, t[k].name, name.len);
        assert_ptr_equal(name.s, t[k].ch + 12); /* borrowed from ch */
    }
    /* without a uid, no channel is private */
    assert_int_equal(
        adapter_sharded_channel_parse("socket.io#/#3e1321993b7839be#", 29, key, nsp, NONE, &name),
        ADAPTER_SHARDED_CH_ROOM);
    /* another namespace */
    assert_int_equal(
        adapter_sharded_channel_parse("socket.io#/chat#lobby#", 22, key, S("/chat"), uid, &name),
        ADAPTER_SHARDED_CH_ROOM);
    assert_int_equal(name.len, 5);
    assert_memory_equal(name.s, "lobby", 5);
    assert_int_equal(
        adapter_sharded_channel_parse("socket.io#/chat#", 16, key, S("/chat"), uid, &name),
        ADAPTER_SHARDED_CH_NAMESPACE);
    /* what the builder writes reads back */
    sbuf_t b = SBUF_INIT;
    adapter_sharded_channel(&b, key, S("/chat"), S("r#1"));
    assert_int_equal(adapter_sharded_channel_parse(b.data, b.len, key, S("/chat"), uid, &name),
                     ADAPTER_SHARDED_CH_ROOM);
    assert_int_equal(name.len, 3);
    assert_memory_equal(name.s, "r#1", 3);
    sbuf_free(&b);
}

/* 10 x U+1F600: 20 UTF-16 code units in 40 bytes */
#define EMOJI10                                                                                    \
    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"             \
    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
/* 20 x U+00E9 */
#define EACUTE20                                                                                   \
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"             \
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"

static int id_like(const char *s)
{
    return adapter_sharded_socket_id_like(s, strlen(s));
}

static void test_socket_id_like(void **state)
{
    (void)state;
    assert_int_equal(id_like("gWQzhzDdj4Aif6QGAAAA"), 1); /* a socket id */
    assert_int_equal(id_like("abcdefghijklmnopqrst"), 1); /* any 20 characters */
    assert_int_equal(id_like("abcdefghijklmnopqrs"), 0);
    assert_int_equal(id_like("abcdefghijklmnopqrstu"), 0);
    assert_int_equal(id_like(""), 0);
    assert_int_equal(id_like("/chat#gWQzhzDdj4Aif6QGAAAA"), 0); /* EIO3 form: 26 */
    assert_int_equal(id_like(EMOJI10), 1);  /* 10 code points, 20 UTF-16 units */
    assert_int_equal(id_like(EACUTE20), 1); /* 40 bytes, 20 units */
    assert_int_equal(id_like(EMOJI10 "a"), 0);
    /* 19 bytes of ASCII + one emoji: 23 bytes, 21 units */
    assert_int_equal(id_like("abcdefghijklmnopqrs\xf0\x9f\x98\x80"), 0);
    /* 18 ASCII + one emoji: 20 units */
    assert_int_equal(id_like("abcdefghijklmnopqr\xf0\x9f\x98\x80"), 1);
    /* invalid bytes count one unit each (U+FFFD) */
    assert_int_equal(id_like("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                             "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
                     1);
    assert_int_equal(adapter_sharded_socket_id_like("abcdefghijklmnopqrst\0", 21), 0);
}

/* The channel a message goes on, in every case of Node's computeChannel. */
static void test_publish_rule(void **state)
{
    (void)state;
    const adapter_sharded_mode_t ST = ADAPTER_SHARDED_MODE_STATIC,
                                 DY = ADAPTER_SHARDED_MODE_DYNAMIC,
                                 DP = ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE;
    amsg_str_t room1[] = {S("room1")}, two[] = {S("room1"), S("room2")},
               sid[] = {S("gWQzhzDdj4Aif6QGAAAA")}, emoji[] = {S(EMOJI10)},
               eacute[] = {S(EACUTE20)}, ascii20[] = {S("abcdefghijklmnopqrst")},
               len21[] = {S("abcdefghijklmnopqrstu")}, len19[] = {S("abcdefghijklmnopqrs")},
               empty[] = {S("")};
    const int B = ADAPTER_SHARDED_BROADCAST;
    static const int others[] = {
        ADAPTER_SHARDED_SOCKETS_JOIN,       ADAPTER_SHARDED_SOCKETS_LEAVE,
        ADAPTER_SHARDED_DISCONNECT_SOCKETS, ADAPTER_SHARDED_FETCH_SOCKETS,
        ADAPTER_SHARDED_SERVER_SIDE_EMIT,   ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE,
        ADAPTER_SHARDED_BROADCAST_ACK,      ADAPTER_SHARDED_INITIAL_HEARTBEAT,
    };

    /* dynamic: one room that is not socket-id-like, no ack */
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, room1, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, len21, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, len19, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, empty, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, sid, 1), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, ascii20, 1), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, emoji, 1), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, eacute, 1), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, two, 2), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 0, NULL, 0), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DY, B, 1, room1, 1), 0); /* with acks */

    /* dynamic-private: any single room, socket ids included */
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 0, room1, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 0, sid, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 0, emoji, 1), 1);
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 0, two, 2), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 0, NULL, 0), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 1, room1, 1), 0);
    assert_int_equal(adapter_sharded_publish_to_room(DP, B, 1, sid, 1), 0);

    /* static: always the namespace channel */
    assert_int_equal(adapter_sharded_publish_to_room(ST, B, 0, room1, 1), 0);
    assert_int_equal(adapter_sharded_publish_to_room(ST, B, 0, sid, 1), 0);

    /* every other type: the namespace channel, whatever its rooms */
    for (size_t k = 0; k < sizeof others / sizeof *others; k++) {
        assert_int_equal(adapter_sharded_publish_to_room(DY, others[k], 0, room1, 1), 0);
        assert_int_equal(adapter_sharded_publish_to_room(DP, others[k], 0, sid, 1), 0);
    }
}

static void test_subscribes_room(void **state)
{
    (void)state;
    assert_int_equal(adapter_sharded_subscribes_room(ADAPTER_SHARDED_MODE_STATIC, 0), 0);
    assert_int_equal(adapter_sharded_subscribes_room(ADAPTER_SHARDED_MODE_STATIC, 1), 0);
    assert_int_equal(adapter_sharded_subscribes_room(ADAPTER_SHARDED_MODE_DYNAMIC, 0), 1);
    assert_int_equal(adapter_sharded_subscribes_room(ADAPTER_SHARDED_MODE_DYNAMIC, 1), 0);
    assert_int_equal(adapter_sharded_subscribes_room(ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE, 0), 1);
    assert_int_equal(adapter_sharded_subscribes_room(ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE, 1), 1);
}

/* ---- JSON messages, as Node published them ---- */

#define UID_A "f4e2fd0b85d992fe"
#define UID_B "b23635459092defb"

static const struct {
    const char *bytes;
    int type;
    const char *uid, *nsp, *data;
} captured_json[] = {
    {"{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"hi\",\"x\"]},\"opts\":{\"rooms\":["
     "\"lobby\"],\"except\":[],\"flags\":{}}},\"uid\":\"4769efc8466013dd\",\"nsp\":\"/chat\"}",
     3, "4769efc8466013dd", "/chat",
     "{\"packet\":{\"type\":2,\"data\":[\"hi\",\"x\"]},\"opts\":{\"rooms\":[\"lobby\"],\"except\":"
     "[],\"flags\":{}}}"},
    {"{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"e\"]},\"opts\":{\"rooms\":["
     "\"" EMOJI10 "\"],\"except\":[],\"flags\":{}}},\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     3, UID_A, "/",
     "{\"packet\":{\"type\":2,\"data\":[\"e\"]},\"opts\":{\"rooms\":[\"" EMOJI10
     "\"],\"except\":[],\"flags\":{}}}"},
    /* volatile + compress(false) + except; U+2028 raw and U+0001 escaped, as JSON.stringify */
    {"{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"vx\",null,[true,"
     "\"\xe2\x80\xa8\\u0001"
     "\"]]},\"opts\":{\"rooms\":[\"room1\"],\"except\":[\"room2\"],\"flags\":{\"compress\":false,"
     "\"volatile\":true}}},\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     3, UID_A, "/",
     "{\"packet\":{\"type\":2,\"data\":[\"vx\",null,[true,\"\xe2\x80\xa8\\u0001\"]]},\"opts\":{"
     "\"rooms\":[\"room1\"],\"except\":[\"room2\"],\"flags\":{\"compress\":false,\"volatile\":true}"
     "}}"},
    /* a broadcast with acks */
    {"{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"ask\",1]},\"requestId\":"
     "\"9f42cbc4dcfd95d2\",\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{\"timeout\":500}}},"
     "\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     3, UID_A, "/",
     "{\"packet\":{\"type\":2,\"data\":[\"ask\",1]},\"requestId\":\"9f42cbc4dcfd95d2\",\"opts\":{"
     "\"rooms\":[],\"except\":[],\"flags\":{\"timeout\":500}}}"},
    {"{\"type\":4,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"rooms\":[\"r3\"]},"
     "\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     4, UID_A, "/", "{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"rooms\":[\"r3\"]}"},
    {"{\"type\":5,\"data\":{\"opts\":{\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}},\"rooms\":["
     "\"r3\"]},\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     5, UID_A, "/",
     "{\"opts\":{\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}},\"rooms\":[\"r3\"]}"},
    {"{\"type\":6,\"data\":{\"opts\":{\"rooms\":[\"zz\"],\"except\":[],\"flags\":{}},\"close\":"
     "true},"
     "\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     6, UID_A, "/", "{\"opts\":{\"rooms\":[\"zz\"],\"except\":[],\"flags\":{}},\"close\":true}"},
    {"{\"type\":7,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"requestId\":"
     "\"dcc5e0dda469c145\"},\"uid\":\"4769efc8466013dd\",\"nsp\":\"/chat\"}",
     7, "4769efc8466013dd", "/chat",
     "{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"requestId\":\"dcc5e0dda469c145\"}"},
    {"{\"type\":8,\"data\":{\"requestId\":\"dcf059ca60eea370\",\"sockets\":[{\"id\":"
     "\"fEF3x4C7p2YviM15AAAA\",\"handshake\":{\"headers\":{\"sec-websocket-version\":\"13\","
     "\"sec-websocket-key\":\"tI+FOkTKCNd/EtpTuss39A==\",\"connection\":\"Upgrade\",\"upgrade\":"
     "\"websocket\",\"sec-websocket-extensions\":\"permessage-deflate; client_max_window_bits\","
     "\"host\":\"localhost:36727\"},\"time\":\"Sat Dec 05 2026 07:08:06 GMT+0000 (Coordinated "
     "Universal Time)\",\"address\":\"::ffff:127.0.0.1\",\"xdomain\":false,\"secure\":false,"
     "\"issued\":1796454486657,\"url\":\"/socket.io/?EIO=4&transport=websocket\",\"query\":{"
     "\"EIO\":\"4\",\"transport\":\"websocket\"},\"auth\":{}},\"rooms\":[\"fEF3x4C7p2YviM15AAAA\","
     "\"room1\",\"" EMOJI10 "\",\"" EACUTE20 "\"],\"data\":{}}]},\"uid\":\"" UID_B
     "\",\"nsp\":\"/\"}",
     8, UID_B, "/", NULL},
    {"{\"type\":9,\"data\":{\"requestId\":\"80f17f70ed44e8d5\",\"packet\":[\"ssej\",\"ping\"]},"
     "\"uid\":\"" UID_A "\",\"nsp\":\"/\"}",
     9, UID_A, "/", "{\"requestId\":\"80f17f70ed44e8d5\",\"packet\":[\"ssej\",\"ping\"]}"},
    {"{\"type\":10,\"data\":{\"requestId\":\"80f17f70ed44e8d5\",\"packet\":\"pong\"},\"uid\":"
     "\"" UID_B "\",\"nsp\":\"/\"}",
     10, UID_B, "/", "{\"requestId\":\"80f17f70ed44e8d5\",\"packet\":\"pong\"}"},
    {"{\"type\":11,\"data\":{\"requestId\":\"9f42cbc4dcfd95d2\",\"clientCount\":1},\"uid\":\"" UID_B
     "\",\"nsp\":\"/\"}",
     11, UID_B, "/", "{\"requestId\":\"9f42cbc4dcfd95d2\",\"clientCount\":1}"},
};

static void test_json_captured(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof captured_json / sizeof *captured_json; k++) {
        const char *in = captured_json[k].bytes;
        adapter_sharded_msg_t m;
        assert_int_equal(adapter_sharded_decode((const uint8_t *)in, strlen(in), &m), 0);
        assert_int_equal(m.type, captured_json[k].type);
        assert_string_equal(m.uid.s, captured_json[k].uid);
        assert_int_equal(m.uid.len, strlen(captured_json[k].uid));
        assert_string_equal(m.nsp.s, captured_json[k].nsp);
        assert_int_equal(m.data.natt, 0);
        if (captured_json[k].data) {
            assert_string_equal(m.data.json, captured_json[k].data);
            assert_int_equal(m.data.json_len, strlen(captured_json[k].data));
        }
        sbuf_t out = SBUF_INIT;
        assert_int_equal(adapter_sharded_encode(&out, &m), 0);
        assert_string_equal(out.data, in); /* the same bytes Node sent */
        assert_int_equal(out.len, strlen(in));
        sbuf_free(&out);
        adapter_sharded_msg_free(&m);
        adapter_sharded_msg_free(&m); /* zeroed: no-op */
    }
}

/* Built from fields, a message is what Node writes: type, data, uid, nsp in this order. */
static void test_json_encode_fields(void **state)
{
    (void)state;
    const char *data = "{\"requestId\":\"9f42cbc4dcfd95d2\",\"clientCount\":1}";
    adapter_sharded_msg_t m = {.type = ADAPTER_SHARDED_BROADCAST_CLIENT_COUNT,
                               .data = {.json = data, .json_len = strlen(data)},
                               .uid = S(UID_B),
                               .nsp = S("/")};
    sbuf_t out = SBUF_INIT;
    sbuf_append_str(&out, "prefix:");
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    assert_string_equal(out.data,
                        "prefix:{\"type\":11,\"data\":{\"requestId\":\"9f42cbc4dcfd95d2\","
                        "\"clientCount\":1},\"uid\":\"" UID_B "\",\"nsp\":\"/\"}");
    sbuf_free(&out);

    /* strings escaped as JSON.stringify escapes them */
    m = (adapter_sharded_msg_t){.type = 3,
                                .data = {.json = "1", .json_len = 1},
                                .uid = S("a\"b\\c\x01"),
                                .nsp = S("/\xc3\xa9")};
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    assert_string_equal(
        out.data, "{\"type\":3,\"data\":1,\"uid\":\"a\\\"b\\\\c\\u0001\",\"nsp\":\"/\xc3\xa9\"}");
    sbuf_free(&out);

    /* absent members are left out (types 1, 2 and 13 have no data) */
    m = (adapter_sharded_msg_t){
        .type = ADAPTER_SHARDED_ADAPTER_CLOSE, .uid = S("u"), .nsp = S("/")};
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    assert_string_equal(out.data, "{\"type\":13,\"uid\":\"u\",\"nsp\":\"/\"}");
    sbuf_free(&out);
    m = (adapter_sharded_msg_t){.type = 2};
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    assert_string_equal(out.data, "{\"type\":2}");
    sbuf_free(&out);

    /* a placeholder-shaped object without attachments is plain JSON */
    data = "{\"packet\":{\"_placeholder\":true,\"num\":0}}";
    m = (adapter_sharded_msg_t){.type = ADAPTER_SHARDED_BROADCAST_ACK,
                                .data = {.json = data, .json_len = strlen(data)}};
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    assert_string_equal(out.data,
                        "{\"type\":12,\"data\":{\"packet\":{\"_placeholder\":true,\"num\":0}}}");
    sbuf_free(&out);
}

/* ---- msgpack messages, as Node published them ---- */

static const struct {
    const char *hex;
    int type;
    const char *uid, *data;
    const char *att; /* the one attachment's bytes */
    size_t att_len;
} captured_msgpack[] = {
    /* io.to("room1").emit("bin", Buffer [1, 2, 3]) */
    {"84 a4\"type\" 03 a4\"data\" 82 a6\"packet\" 82 a4\"type\" 02 a4\"data\" 92 a3\"bin\" c4 03 "
     "01 02 03 a4\"opts\" 83 a5\"rooms\" 91 a5\"room1\" a6\"except\" 90 a5\"flags\" 80 a3\"uid\" "
     "b0\"" UID_A "\" a3\"nsp\" a1\"/\"",
     3, UID_A,
     "{\"packet\":{\"type\":2,\"data\":[\"bin\",{\"_placeholder\":true,\"num\":0}]},\"opts\":{"
     "\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}}}",
     "\x01\x02\x03", 3},
    /* a client's binary ack */
    {"84 a4\"type\" 0c a4\"data\" 82 a9\"requestId\" b0\"9f42cbc4dcfd95d2\" a6\"packet\" c4 01 07 "
     "a3\"uid\" b0\"" UID_B "\" a3\"nsp\" a1\"/\"",
     12, UID_B, "{\"requestId\":\"9f42cbc4dcfd95d2\",\"packet\":{\"_placeholder\":true,\"num\":0}}",
     "\x07", 1},
    /* serverSideEmit("sse", 1, Buffer [5]) */
    {"84 a4\"type\" 09 a4\"data\" 81 a6\"packet\" 93 a3\"sse\" 01 c4 01 05 a3\"uid\" b0\"" UID_A
     "\" a3\"nsp\" a1\"/\"",
     9, UID_A, "{\"packet\":[\"sse\",1,{\"_placeholder\":true,\"num\":0}]}", "\x05", 1},
    /* serverSideEmit("sseack", Buffer [4], callback) */
    {"84 a4\"type\" 09 a4\"data\" 82 a9\"requestId\" b0\"10964c395a64480a\" a6\"packet\" 92 "
     "a6\"sseack\" c4 01 04 a3\"uid\" b0\"" UID_A "\" a3\"nsp\" a1\"/\"",
     9, UID_A,
     "{\"requestId\":\"10964c395a64480a\",\"packet\":[\"sseack\",{\"_placeholder\":true,\"num\":0}]"
     "}",
     "\x04", 1},
    /* ... and its answer, Buffer [9, 8] */
    {"84 a4\"type\" 0a a4\"data\" 82 a9\"requestId\" b0\"10964c395a64480a\" a6\"packet\" c4 02 09 "
     "08 a3\"uid\" b0\"" UID_B "\" a3\"nsp\" a1\"/\"",
     10, UID_B, "{\"requestId\":\"10964c395a64480a\",\"packet\":{\"_placeholder\":true,\"num\":0}}",
     "\x09\x08", 2},
};

static void test_msgpack_captured(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof captured_msgpack / sizeof *captured_msgpack; k++) {
        size_t n;
        uint8_t *in = unhex(captured_msgpack[k].hex, &n);
        adapter_sharded_msg_t m;
        assert_int_equal(adapter_sharded_decode(in, n, &m), 0);
        assert_int_equal(m.type, captured_msgpack[k].type);
        assert_string_equal(m.uid.s, captured_msgpack[k].uid);
        assert_string_equal(m.nsp.s, "/");
        assert_string_equal(m.data.json, captured_msgpack[k].data);
        assert_int_equal(m.data.natt, 1);
        assert_int_equal(m.data.att[0].len, captured_msgpack[k].att_len);
        assert_memory_equal(m.data.att[0].data, captured_msgpack[k].att, m.data.att[0].len);

        sbuf_t out = SBUF_INIT;
        assert_int_equal(adapter_sharded_encode(&out, &m), 0);
        assert_hex(&out, captured_msgpack[k].hex);
        sbuf_free(&out);
        adapter_sharded_msg_free(&m);

        /* the same message built from its fields */
        sio_attachment_t att = {(uint8_t *)captured_msgpack[k].att, captured_msgpack[k].att_len};
        adapter_sharded_msg_t f = {
            .type = captured_msgpack[k].type,
            .data = {.json = captured_msgpack[k].data,
                     .json_len = strlen(captured_msgpack[k].data),
                     .att = &att,
                     .natt = 1},
            .uid = {captured_msgpack[k].uid, strlen(captured_msgpack[k].uid)},
            .nsp = S("/"),
        };
        assert_int_equal(adapter_sharded_encode(&out, &f), 0);
        assert_hex(&out, captured_msgpack[k].hex);
        sbuf_free(&out);
        free(in);
    }
}

static int contains(const sbuf_t *b, const char *needle, size_t n)
{
    for (size_t k = 0; k + n <= b->len; k++)
        if (memcmp(b->data + k, needle, n) == 0) return 1;
    return 0;
}

/* A FETCH_SOCKETS_RESPONSE for /chat whose socket data holds a Buffer and a Date: notepack
 * writes the Date as a Timestamp, which reads as the ISO string clients would get. */
static void test_msgpack_fetch_response(void **state)
{
    (void)state;
    size_t n;
    uint8_t *in =
        unhex("84 a4\"type\" 08 a4\"data\" 82 a9\"requestId\" b0\"dcc5e0dda469c145\" a7\"sockets\" "
              "91 84 a2\"id\" b4\"JlrUGT6fIgLgCGELAAAB\" a9\"handshake\" 89 a7\"headers\" 86 "
              "b5\"sec-websocket-version\" a2\"13\" b1\"sec-websocket-key\" "
              "b8\"tI+FOkTKCNd/EtpTuss39A==\" aa\"connection\" a7\"Upgrade\" a7\"upgrade\" "
              "a9\"websocket\" b8\"sec-websocket-extensions\" d9 2a\"permessage-deflate; "
              "client_max_window_bits\" a4\"host\" af\"localhost:36727\" a4\"time\" d9 3e\"Sat Dec "
              "05 2026 07:08:06 GMT+0000 (Coordinated Universal Time)\" a7\"address\" "
              "b0\"::ffff:127.0.0.1\" a7\"xdomain\" c2 a6\"secure\" c2 a6\"issued\" cf 00 00 01 a2 "
              "45 08 12 82 a3\"url\" d9 25\"/socket.io/?EIO=4&transport=websocket\" a5\"query\" 82 "
              "a3\"EIO\" a1\"4\" a9\"transport\" a9\"websocket\" a4\"auth\" 80 a5\"rooms\" 92 "
              "b4\"JlrUGT6fIgLgCGELAAAB\" a5\"lobby\" a4\"data\" 82 a6\"avatar\" c4 01 ff a2\"at\" "
              "d6 ff 00 01 51 80 a3\"uid\" b0\"02a38d3b83617a57\" a3\"nsp\" a5\"/chat\"",
              &n);
    adapter_sharded_msg_t m;
    assert_int_equal(adapter_sharded_decode(in, n, &m), 0);
    assert_int_equal(m.type, ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE);
    assert_string_equal(m.uid.s, "02a38d3b83617a57");
    assert_string_equal(m.nsp.s, "/chat");
    assert_string_equal(
        m.data.json,
        "{\"requestId\":\"dcc5e0dda469c145\",\"sockets\":[{\"id\":\"JlrUGT6fIgLgCGELAAAB\","
        "\"handshake\":{\"headers\":{\"sec-websocket-version\":\"13\",\"sec-websocket-key\":"
        "\"tI+FOkTKCNd/EtpTuss39A==\",\"connection\":\"Upgrade\",\"upgrade\":\"websocket\","
        "\"sec-websocket-extensions\":\"permessage-deflate; client_max_window_bits\",\"host\":"
        "\"localhost:36727\"},\"time\":\"Sat Dec 05 2026 "
        "07:08:06 GMT+0000 (Coordinated Universal Time)\",\"address\":\"::ffff:127.0.0.1\","
        "\"xdomain\":false,\"secure\":false,\"issued\":1796454486658,\"url\":\"/socket.io/"
        "?EIO=4&transport=websocket\",\"query\":{\"EIO\":\"4\",\"transport\":\"websocket\"},"
        "\"auth\":{}},\"rooms\":[\"JlrUGT6fIgLgCGELAAAB\",\"lobby\"],\"data\":{\"avatar\":{"
        "\"_placeholder\":true,\"num\":0},\"at\":\"1970-01-02T00:00:00.000Z\"}}]}");
    assert_int_equal(m.data.natt, 1);
    assert_int_equal(m.data.att[0].len, 1);
    assert_int_equal(m.data.att[0].data[0], 0xff);
    /* written back, the date stays a string */
    sbuf_t out = SBUF_INIT;
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    adapter_sharded_msg_t back;
    assert_int_equal(adapter_sharded_decode((const uint8_t *)out.data, out.len, &back), 0);
    assert_string_equal(back.data.json, m.data.json);
    assert_int_equal((uint8_t)out.data[0], 0x84); /* still msgpack: it carries a Buffer */
    assert_true(contains(&out,
                         "\xb8"
                         "1970-01-02T00:00:00.000Z",
                         25));
    adapter_sharded_msg_free(&back);
    sbuf_free(&out);
    adapter_sharded_msg_free(&m);
    free(in);
}

/* msgpack only for the five types Node scans for binary, and only when there is binary. */
static void test_binary_choice(void **state)
{
    (void)state;
    sio_attachment_t att = {(uint8_t *)"\x01", 1};
    const char *data = "[{\"_placeholder\":true,\"num\":0}]";
    for (int type = 0; type <= 14; type++) {
        adapter_sharded_msg_t m = {
            .type = type, .data = {.json = data, .json_len = strlen(data), .att = &att, .natt = 1}};
        int binary = type == 3 || type == 8 || type == 9 || type == 10 || type == 12;
        sbuf_t out = SBUF_INIT;
        sbuf_append_str(&out, "x");
        int rc = adapter_sharded_encode(&out, &m);
        if (binary) {
            assert_int_equal(rc, 0);
            char want[64];
            snprintf(want, sizeof want, "78 82 a4\"type\" %02x a4\"data\" 91 c4 01 01", type);
            assert_hex(&out, want);
        } else {
            assert_int_equal(rc, ADAPTER_SHARDED_EBINARY);
            assert_string_equal(out.data, "x"); /* unchanged */
        }
        /* without attachments: JSON for every type */
        sbuf_reset(&out);
        m.data.natt = 0;
        m.data.att = NULL;
        m.data.json = "[1]";
        m.data.json_len = 3;
        assert_int_equal(adapter_sharded_encode(&out, &m), 0);
        char want[64];
        snprintf(want, sizeof want, "{\"type\":%d,\"data\":[1]}", type);
        assert_string_equal(out.data, want);
        sbuf_free(&out);
    }
}

/* ---- what the decoder accepts and refuses ---- */

static int decode_str(const char *s, size_t len, adapter_sharded_msg_t *m)
{
    return adapter_sharded_decode((const uint8_t *)s, len, m);
}

static void test_decode_lenient(void **state)
{
    (void)state;
    adapter_sharded_msg_t m;
    /* 3.0 is 3 to JavaScript; whitespace; members in any order; unknown members ignored */
    const char *s = " {\"nsp\" : \"/\", \"x\": [1], \"type\": 3.0, \"data\" : { \"a\" : 1 } } ";
    assert_int_equal(decode_str(s + 1, strlen(s + 1), &m), 0);
    assert_int_equal(m.type, 3);
    assert_string_equal(m.data.json, "{ \"a\" : 1 }");
    assert_null(m.uid.s);
    assert_string_equal(m.nsp.s, "/");
    adapter_sharded_msg_free(&m);
    /* the last of a repeated member wins; an escaped name is the name */
    s = "{\"type\":1,\"\\u0074ype\":12,\"uid\":\"a\",\"uid\":\"b\\u00e9\\ud83d\\ude00\"}";
    assert_int_equal(decode_str(s, strlen(s), &m), 0);
    assert_int_equal(m.type, 12);
    assert_string_equal(m.uid.s, "b\xc3\xa9\xf0\x9f\x98\x80");
    assert_null(m.data.json);
    adapter_sharded_msg_free(&m);
    /* uid and nsp that are not strings read as absent; unknown types decode */
    s = "{\"type\":99,\"uid\":7,\"nsp\":null,\"data\":null}";
    assert_int_equal(decode_str(s, strlen(s), &m), 0);
    assert_int_equal(m.type, 99);
    assert_null(m.uid.s);
    assert_null(m.nsp.s);
    assert_string_equal(m.data.json, "null");
    adapter_sharded_msg_free(&m);
    /* a \u0000 in a uid stays, counted */
    s = "{\"type\":3,\"uid\":\"a\\u0000b\"}";
    assert_int_equal(decode_str(s, strlen(s), &m), 0);
    assert_int_equal(m.uid.len, 3);
    assert_memory_equal(m.uid.s, "a\0b", 3);
    adapter_sharded_msg_free(&m);

    size_t n;
    uint8_t *b;
    /* msgpack: float type, integer keys skipped, invalid UTF-8 replaced, extra members */
    b = unhex("85 01 c0 a4\"type\" cb 40 08 00 00 00 00 00 00 a3\"uid\" a2 ff 41 a3\"nsp\" 05 "
              "a1\"z\" 90",
              &n);
    assert_int_equal(adapter_sharded_decode(b, n, &m), 0);
    assert_int_equal(m.type, 3);
    assert_string_equal(m.uid.s, "\xef\xbf\xbd"
                                 "A");
    assert_null(m.nsp.s);
    assert_null(m.data.json);
    adapter_sharded_msg_free(&m);
    free(b);
    /* an undefined data (notepack's d4 00 00) is no data; a repeated type keeps the last */
    b = unhex("83 a4\"type\" 01 a4\"data\" d4 00 00 a4\"type\" 0d", &n);
    assert_int_equal(adapter_sharded_decode(b, n, &m), 0);
    assert_int_equal(m.type, 13);
    assert_null(m.data.json);
    adapter_sharded_msg_free(&m);
    free(b);
    /* msgpack without binary decodes too, and is written back as JSON */
    b = unhex("84 a4\"type\" 0b a4\"data\" 81 ab\"clientCount\" 02 a3\"uid\" a1\"u\" a3\"nsp\" "
              "a1\"/\"",
              &n);
    assert_int_equal(adapter_sharded_decode(b, n, &m), 0);
    sbuf_t out = SBUF_INIT;
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    assert_string_equal(out.data,
                        "{\"type\":11,\"data\":{\"clientCount\":2},\"uid\":\"u\",\"nsp\":\"/\"}");
    sbuf_free(&out);
    adapter_sharded_msg_free(&m);
    free(b);
}

static void check_refused(const char *hex_or_json, int is_hex, int want)
{
    size_t n;
    uint8_t *b = is_hex ? unhex(hex_or_json, &n) : (uint8_t *)strdup(hex_or_json);
    if (!is_hex) n = strlen(hex_or_json);
    adapter_sharded_msg_t m;
    memset(&m, 0x5a, sizeof m);
    int rc = adapter_sharded_decode(b, n, &m);
    if (rc != want) fail_msg("%s: got %d, want %d", hex_or_json, rc, want);
    assert_int_equal(m.type, 0); /* zeroed */
    assert_null(m.data.json);
    assert_null(m.uid.s);
    assert_null(m.nsp.s);
    assert_non_null(adapter_sharded_strerror(rc));
    free(b);
}

static void test_decode_refused(void **state)
{
    (void)state;
    check_refused("", 0, ADAPTER_SHARDED_EMSGPACK);
    check_refused("{", 0, ADAPTER_SHARDED_EJSON);
    check_refused("{\"type\":3,}", 0, ADAPTER_SHARDED_EJSON);
    check_refused("{\"type\":3} x", 0, ADAPTER_SHARDED_EJSON);
    check_refused("{\"type\":3,\"uid\":\"\xff\"}", 0, ADAPTER_SHARDED_EJSON); /* not UTF-8 */
    check_refused("{\"type\":\"3\"}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused("{\"type\":3.5}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused("{\"type\":-1}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused("{\"type\":2147483648}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused("{\"type\":1e400}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused("{\"data\":{}}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused("{\"type\":null}", 0, ADAPTER_SHARDED_ETYPE);
    check_refused(" {\"type\":3}", 0, ADAPTER_SHARDED_ESHAPE); /* not '{': msgpack fixint 32 */
    check_refused("[3]", 0, ADAPTER_SHARDED_ESHAPE);           /* msgpack fixint 91 */
    check_refused("93 03 c0 c0", 1, ADAPTER_SHARDED_ESHAPE);   /* an array */
    check_refused("81 a4\"type\" 03 c0", 1, ADAPTER_SHARDED_ETRAILING);
    check_refused("82 a4\"type\" 03 a4\"data\"", 1, ADAPTER_SHARDED_EMSGPACK); /* truncated */
    check_refused("81 a4\"type\" a1\"3\"", 1, ADAPTER_SHARDED_ETYPE);
    check_refused("81 a4\"type\" ff", 1, ADAPTER_SHARDED_ETYPE);                         /* -1 */
    check_refused("81 a4\"type\" cb 40 0c 00 00 00 00 00 00", 1, ADAPTER_SHARDED_ETYPE); /* 3.5 */
    check_refused("81 a4\"type\" ce 80 00 00 00", 1, ADAPTER_SHARDED_ETYPE);
    check_refused("80", 1, ADAPTER_SHARDED_ETYPE);
    check_refused("81 c3 03", 1, ADAPTER_SHARDED_EKEY);
    check_refused("82 a4\"type\" 03 a4\"data\" c1", 1, ADAPTER_SHARDED_EMSGPACK);

    /* nesting: 64 levels in all is the most, counting the message itself */
    char deep[200];
    adapter_sharded_msg_t m;
    for (int levels = 63; levels <= 64; levels++) {
        int k = snprintf(deep, sizeof deep, "{\"type\":3,\"data\":");
        for (int d = 0; d < levels; d++) deep[k++] = '[';
        for (int d = 0; d < levels; d++) deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = 0;
        if (levels == 64) {
            check_refused(deep, 0, ADAPTER_SHARDED_EJSON);
        } else {
            assert_int_equal(decode_str(deep, strlen(deep), &m), 0);
            assert_int_equal(m.data.json_len, 2 * 63);
            adapter_sharded_msg_free(&m);
        }
    }

    /* msgpack: the data's own nesting may be 63 levels, as in JSON */
    uint8_t mp[100];
    size_t n = 0;
    static const char head[] = "\x82\xa4type\x03\xa4"
                               "data";
    memcpy(mp, head, sizeof head - 1);
    n = sizeof head - 1;
    for (int d = 0; d < 63; d++) mp[n++] = 0x91;
    mp[n++] = 0x01;
    assert_int_equal(adapter_sharded_decode(mp, n, &m), 0);
    adapter_sharded_msg_free(&m);
    n = sizeof head - 1;
    for (int d = 0; d < 64; d++) mp[n++] = 0x91;
    mp[n++] = 0x01;
    assert_int_equal(adapter_sharded_decode(mp, n, &m), ADAPTER_SHARDED_EDEPTH);
}

static void test_encode_refused(void **state)
{
    (void)state;
    sio_attachment_t att = {(uint8_t *)"\x01", 1};
    struct {
        adapter_sharded_msg_t m;
        int want;
    } t[] = {
        {{.type = -1}, ADAPTER_SHARDED_ETYPE},
        {{.type = 3, .data = {.json = "1,2", .json_len = 3}}, ADAPTER_SHARDED_EJSON},
        /* data that would add members to the message */
        {{.type = 3, .data = {.json = "1,\"uid\":\"x\"", .json_len = 11}}, ADAPTER_SHARDED_EJSON},
        {{.type = 3, .data = {.json = "", .json_len = 0}}, ADAPTER_SHARDED_EJSON},
        {{.type = 3, .uid = S("\xff")}, ADAPTER_SHARDED_ESTRING},
        {{.type = 3, .nsp = S("/\xc0\x80")}, ADAPTER_SHARDED_ESTRING},
        {{.type = 3,
          .data = {.json = "{\"_placeholder\":true,\"num\":1}",
                   .json_len = 29,
                   .att = &att,
                   .natt = 1}},
         ADAPTER_SHARDED_EPLACEHOLDER},
        {{.type = 11, .data = {.json = "[]", .json_len = 2, .att = &att, .natt = 1}},
         ADAPTER_SHARDED_EBINARY},
    };
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        sbuf_t out = SBUF_INIT;
        sbuf_append_str(&out, "kept");
        assert_int_equal(adapter_sharded_encode(&out, &t[k].m), t[k].want);
        assert_string_equal(out.data, "kept");
        assert_int_equal(out.len, 4);
        sbuf_free(&out);
    }
    /* data nested 64 levels alone is valid JSON, but 65 inside the message */
    char deep[140];
    for (int d = 0; d < 64; d++) deep[d] = '[', deep[64 + d] = ']';
    adapter_sharded_msg_t m = {.type = 3, .data = {.json = deep, .json_len = 128}};
    sbuf_t out = SBUF_INIT;
    assert_int_equal(adapter_sharded_encode(&out, &m), ADAPTER_SHARDED_EDEPTH);
    assert_int_equal(out.len, 0);
    m.data.json = deep + 1;
    m.data.json_len = 126;
    assert_int_equal(adapter_sharded_encode(&out, &m), 0);
    sbuf_free(&out);
}

static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {ADAPTER_SHARDED_EMSGPACK, ADAPTER_SHARDED_ETRAILING,
                                ADAPTER_SHARDED_EDEPTH,   ADAPTER_SHARDED_EKEY,
                                ADAPTER_SHARDED_EJSON,    ADAPTER_SHARDED_EPLACEHOLDER,
                                ADAPTER_SHARDED_ESHAPE,   ADAPTER_SHARDED_ETYPE,
                                ADAPTER_SHARDED_EBINARY,  ADAPTER_SHARDED_ESTRING};
    const size_t n = sizeof codes / sizeof *codes;
    for (size_t k = 0; k < n; k++) {
        const char *s = adapter_sharded_strerror(codes[k]);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < k; j++) {
            assert_int_not_equal(codes[j], codes[k]);
            assert_string_not_equal(adapter_sharded_strerror(codes[j]), s);
        }
    }
    assert_string_equal(adapter_sharded_strerror(-100), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_numbers),           cmocka_unit_test(test_mode_parse),
        cmocka_unit_test(test_channel_names),          cmocka_unit_test(test_channel_parse),
        cmocka_unit_test(test_socket_id_like),         cmocka_unit_test(test_publish_rule),
        cmocka_unit_test(test_subscribes_room),        cmocka_unit_test(test_json_captured),
        cmocka_unit_test(test_json_encode_fields),     cmocka_unit_test(test_msgpack_captured),
        cmocka_unit_test(test_msgpack_fetch_response), cmocka_unit_test(test_binary_choice),
        cmocka_unit_test(test_decode_lenient),         cmocka_unit_test(test_decode_refused),
        cmocka_unit_test(test_encode_refused),         cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
