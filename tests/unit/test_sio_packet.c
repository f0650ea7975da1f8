/* Unit tests for proto/sio_packet.c: every encoding example of the Socket.IO v5 spec and its
 * sample session and test suite, header parsing quirks of socket.io-parser, payload shapes,
 * and binary reassembly with placeholder checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sio_packet.h"

#include <stdlib.h>
#include <string.h>

#define NO_ID (-1)

/* Decodes s, checks every field, then encodes the packet and compares with reenc (NULL: s). */
static void check_packet(const char *s, sio_type_t type, const char *nsp, int64_t id,
                         unsigned attachments, const char *data, const char *reenc)
{
    sio_packet_t p;
    memset(&p, 0xaa, sizeof p);
    int rc = sio_packet_decode(s, strlen(s), &p);
    if (rc != 0) fail_msg("decoding \"%s\" failed: %s", s, sio_strerror(rc));
    assert_int_equal(p.type, type);
    assert_int_equal(p.nsp_len, strlen(nsp));
    assert_memory_equal(p.nsp, nsp, p.nsp_len);
    assert_int_equal(p.id, id);
    assert_int_equal(p.attachments, attachments);
    if (data) {
        assert_non_null(p.data);
        assert_int_equal(p.data_len, strlen(data));
        assert_memory_equal(p.data, data, p.data_len);
        assert_true(p.data >= s && p.data < s + strlen(s)); /* borrowed */
    } else {
        assert_null(p.data);
    }

    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "4"); /* appends after what is there */
    sio_packet_encode(&b, &p);
    const char *want = reenc ? reenc : s;
    assert_string_equal(b.data + 1, want);
    assert_int_equal(b.len, 1 + strlen(want));
    sbuf_free(&b);
}

static void check_error(const char *s, size_t len, int want)
{
    sio_packet_t p;
    memset(&p, 0x5a, sizeof p);
    sio_packet_t untouched = p;
    int rc = sio_packet_decode(s, len, &p);
    if (rc != want)
        fail_msg("\"%.*s\": got %d (%s), want %d (%s)", (int)len, s, rc, sio_strerror(rc), want,
                 sio_strerror(want));
    assert_memory_equal(&p, &untouched, sizeof p); /* out is not written on error */
}

#define ERR(lit, code) check_error(lit, sizeof(lit) - 1, code)

/* "Packet encoding" > "Examples" in the v5 spec, in order. */
static void test_spec_examples(void **state)
{
    (void)state;
    check_packet("0", SIO_CONNECT, "/", NO_ID, 0, NULL, NULL);
    check_packet("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", SIO_CONNECT, "/admin", NO_ID, 0,
                 "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", NULL);
    check_packet("4{\"message\":\"Not authorized\"}", SIO_CONNECT_ERROR, "/", NO_ID, 0,
                 "{\"message\":\"Not authorized\"}", NULL);
    check_packet("2[\"foo\"]", SIO_EVENT, "/", NO_ID, 0, "[\"foo\"]", NULL);
    check_packet("2/admin,[\"bar\"]", SIO_EVENT, "/admin", NO_ID, 0, "[\"bar\"]", NULL);
    check_packet("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_EVENT, "/", NO_ID, 1,
                 "[\"baz\",{\"_placeholder\":true,\"num\":0}]", NULL);
    check_packet("52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,"
                 "\"num\":1}]",
                 SIO_BINARY_EVENT, "/admin", NO_ID, 2,
                 "[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
                 NULL);
    check_packet("212[\"foo\"]", SIO_EVENT, "/", 12, 0, "[\"foo\"]", NULL);
    check_packet("3/admin,13[\"bar\"]", SIO_ACK, "/admin", 13, 0, "[\"bar\"]", NULL);
    check_packet("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_ACK, "/", 15, 1,
                 "[\"bar\",{\"_placeholder\":true,\"num\":0}]", NULL);
    check_packet("1", SIO_DISCONNECT, "/", NO_ID, 0, NULL, NULL);
    check_packet("1/admin,", SIO_DISCONNECT, "/admin", NO_ID, 0, NULL, NULL);
}

/* The Socket.IO content of every frame of the spec's "Sample session" (the leading Engine.IO
 * '4' removed). */
static void test_sample_session(void **state)
{
    (void)state;
    check_packet("0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", SIO_CONNECT, "/", NO_ID, 0,
                 "{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", NULL);
    check_packet("2[\"hey\",\"Jude\"]", SIO_EVENT, "/", NO_ID, 0, "[\"hey\",\"Jude\"]", NULL);
    check_packet("2[\"hello\"]", SIO_EVENT, "/", NO_ID, 0, "[\"hello\"]", NULL);
    check_packet("2[\"world\"]", SIO_EVENT, "/", NO_ID, 0, "[\"world\"]", NULL);
    check_packet("0/admin,", SIO_CONNECT, "/admin", NO_ID, 0, NULL, NULL);
    check_packet("0/admin,{\"sid\":\"-G5j-67EZFp-q59rADQM\"}", SIO_CONNECT, "/admin", NO_ID, 0,
                 "{\"sid\":\"-G5j-67EZFp-q59rADQM\"}", NULL);
    check_packet("2/admin,1[\"tellme\"]", SIO_EVENT, "/admin", 1, 0, "[\"tellme\"]", NULL);
    check_packet("61-/admin,1[{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_ACK, "/admin", 1, 1,
                 "[{\"_placeholder\":true,\"num\":0}]", NULL);
}

/* Packets the v5 test suite sends or expects. */
static void test_test_suite_packets(void **state)
{
    (void)state;
    check_packet("0{\"token\":\"123\"}", SIO_CONNECT, "/", NO_ID, 0, "{\"token\":\"123\"}", NULL);
    check_packet("0/custom,", SIO_CONNECT, "/custom", NO_ID, 0, NULL, NULL);
    check_packet("0/custom,{\"token\":\"abc\"}", SIO_CONNECT, "/custom", NO_ID, 0,
                 "{\"token\":\"abc\"}", NULL);
    check_packet("2[\"auth\",{}]", SIO_EVENT, "/", NO_ID, 0, "[\"auth\",{}]", NULL);
    check_packet("2/custom,[\"auth\",{\"token\":\"abc\"}]", SIO_EVENT, "/custom", NO_ID, 0,
                 "[\"auth\",{\"token\":\"abc\"}]", NULL);
    /* Without the trailing comma, the namespace runs to the end of the packet. */
    check_packet("0/random", SIO_CONNECT, "/random", NO_ID, 0, NULL, "0/random,");
    check_packet("0/custom", SIO_CONNECT, "/custom", NO_ID, 0, NULL, "0/custom,");
    check_packet("1/custom", SIO_DISCONNECT, "/custom", NO_ID, 0, NULL, "1/custom,");
    check_packet("4/random,{\"message\":\"Invalid namespace\"}", SIO_CONNECT_ERROR, "/random",
                 NO_ID, 0, "{\"message\":\"Invalid namespace\"}", NULL);
    check_packet("2[\"message\",\"message to main namespace\"]", SIO_EVENT, "/", NO_ID, 0,
                 "[\"message\",\"message to main namespace\"]", NULL);
    check_packet("2[\"message\",1,\"2\",{\"3\":[true]}]", SIO_EVENT, "/", NO_ID, 0,
                 "[\"message\",1,\"2\",{\"3\":[true]}]", NULL);
    check_packet(
        "52-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":"
        "1}]",
        SIO_BINARY_EVENT, "/", NO_ID, 2,
        "[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", NULL);
    check_packet("2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", SIO_EVENT, "/", 456, 0,
                 "[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", NULL);
    check_packet("3456[1,\"2\",{\"3\":[false]}]", SIO_ACK, "/", 456, 0, "[1,\"2\",{\"3\":[false]}]",
                 NULL);
    check_packet("52-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":"
                 "true,\"num\":1}]",
                 SIO_BINARY_EVENT, "/", 789, 2,
                 "[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,"
                 "\"num\":1}]",
                 NULL);
    check_packet("62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
                 SIO_BINARY_ACK, "/", 789, 2,
                 "[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", NULL);
    /* The suite's three malformed packets ("4abc" is "abc" once Engine.IO took the '4'). */
    ERR("abc", SIO_ETYPE);
    ERR("2{}", SIO_EPAYLOAD);
    ERR("2abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", SIO_EJSON);
}

static void test_header_forms(void **state)
{
    (void)state;
    check_packet("0/", SIO_CONNECT, "/", NO_ID, 0, NULL, "0");
    check_packet("0/,", SIO_CONNECT, "/", NO_ID, 0, NULL, "0");
    check_packet("0/,{}", SIO_CONNECT, "/", NO_ID, 0, "{}", "0{}");
    check_packet("2007[\"a\"]", SIO_EVENT, "/", 7, 0, "[\"a\"]", "27[\"a\"]");
    check_packet("20[\"a\"]", SIO_EVENT, "/", 0, 0, "[\"a\"]", NULL);
    check_packet("29007199254740991[\"a\"]", SIO_EVENT, "/", 9007199254740991LL, 0, "[\"a\"]",
                 NULL);
    check_packet("2/a/b,5[1]", SIO_EVENT, "/a/b", 5, 0, "[1]", NULL);
    check_packet("2/1,[\"a\"]", SIO_EVENT, "/1", NO_ID, 0, "[\"a\"]", NULL);
    check_packet("2/\xc3\xa9t\xc3\xa9,[\"a\"]", SIO_EVENT, "/\xc3\xa9t\xc3\xa9", NO_ID, 0,
                 "[\"a\"]", NULL);
    check_packet("2/a,[\"a,b\"]", SIO_EVENT, "/a", NO_ID, 0, "[\"a,b\"]", NULL);
    check_packet("0/a,1", SIO_CONNECT, "/a", 1, 0, NULL, NULL);
    check_packet("2 [\"a\"]", SIO_EVENT, "/", NO_ID, 0, " [\"a\"]", NULL);
    check_packet("50-[\"a\"]", SIO_BINARY_EVENT, "/", NO_ID, 0, "[\"a\"]", NULL);
    check_packet("5001-[\"a\",{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_EVENT, "/", NO_ID, 1,
                 "[\"a\",{\"_placeholder\":true,\"num\":0}]",
                 "51-[\"a\",{\"_placeholder\":true,\"num\":0}]");
    check_packet("51000-[\"a\"]", SIO_BINARY_EVENT, "/", NO_ID, 1000, "[\"a\"]", NULL);
    check_packet("61-/x,0[]", SIO_BINARY_ACK, "/x", 0, 1, "[]", NULL);
    check_packet("4\"nope\"", SIO_CONNECT_ERROR, "/", NO_ID, 0, "\"nope\"", NULL);
    check_packet("3[]", SIO_ACK, "/", NO_ID, 0, "[]", NULL);
    check_packet("2[1]", SIO_EVENT, "/", NO_ID, 0, "[1]", NULL);
    check_packet("2[-1.5e3,\"x\"]", SIO_EVENT, "/", NO_ID, 0, "[-1.5e3,\"x\"]", NULL);
    check_packet("2[\"Connect\"]", SIO_EVENT, "/", NO_ID, 0, "[\"Connect\"]", NULL);
    check_packet("2[\"connection\"]", SIO_EVENT, "/", NO_ID, 0, "[\"connection\"]", NULL);
    check_packet("2[\"connect\\u0000\"]", SIO_EVENT, "/", NO_ID, 0, "[\"connect\\u0000\"]", NULL);
    check_packet("2[\"\"]", SIO_EVENT, "/", NO_ID, 0, "[\"\"]", NULL);
    check_packet("2 [ \"a\" ] ", SIO_EVENT, "/", NO_ID, 0, " [ \"a\" ] ", NULL);
}

static void test_unknown_type(void **state)
{
    (void)state;
    check_error("", 0, SIO_EEMPTY);
    ERR("7", SIO_ETYPE);
    ERR("9[\"a\"]", SIO_ETYPE);
    ERR("a", SIO_ETYPE);
    ERR("-", SIO_ETYPE);
    ERR("/admin,", SIO_ETYPE);
    ERR(" 0", SIO_ETYPE);
    ERR("[\"a\"]", SIO_ETYPE);
    check_error("\0"
                "2[]",
                4, SIO_ETYPE);
}

static void test_bad_attachments(void **state)
{
    (void)state;
    ERR("5", SIO_EATTACHMENTS);
    ERR("6", SIO_EATTACHMENTS);
    ERR("5-[\"a\"]", SIO_EATTACHMENTS); /* no digits */
    ERR("51", SIO_EATTACHMENTS);        /* no '-' */
    ERR("51[\"a\"]", SIO_EATTACHMENTS);
    ERR("5[\"a-b\"]", SIO_EATTACHMENTS); /* the '-' is in the payload */
    ERR("5a-[\"a\"]", SIO_EATTACHMENTS);
    ERR("5 1-[\"a\"]", SIO_EATTACHMENTS);
    ERR("5+1-[\"a\"]", SIO_EATTACHMENTS);
    ERR("51e1-[\"a\"]", SIO_EATTACHMENTS);
    ERR("5/admin,1-[\"a\"]", SIO_EATTACHMENTS); /* count after the namespace */
    ERR("51001-[\"a\"]", SIO_EATTACHMENTS);     /* over SIO_MAX_ATTACHMENTS */
    ERR("599999999999999999999999-[\"a\"]", SIO_EATTACHMENTS);
    ERR("61-", SIO_EPAYLOAD); /* header fine, no payload */
    /* A count on a non-binary type. */
    ERR("21-[\"a\"]", SIO_EATTACHMENTS);
    ERR("31-[]", SIO_EATTACHMENTS);
    ERR("01-{}", SIO_EATTACHMENTS);
    ERR("2-[\"a\"]", SIO_EJSON);
}

static void test_bad_namespace(void **state)
{
    (void)state;
    ERR("0/adm\x01in,", SIO_ENAMESPACE);
    ERR("0/a\tb,", SIO_ENAMESPACE);
    ERR("0/a\nb", SIO_ENAMESPACE);
    ERR("0/a\x7f,", SIO_ENAMESPACE);
    ERR("0/\xff,", SIO_ENAMESPACE);
    ERR("0/\xc3,", SIO_ENAMESPACE);         /* truncated UTF-8 */
    ERR("0/\xc0\xaf,", SIO_ENAMESPACE);     /* overlong */
    ERR("0/\xed\xa0\x80,", SIO_ENAMESPACE); /* surrogate */
    ERR("0/\xf4\x90\x80\x80,", SIO_ENAMESPACE);
    check_error("0/a\0b,", 6, SIO_ENAMESPACE);
    /* No '/': what follows is an ack id or the payload. */
    ERR("2admin,[\"a\"]", SIO_EJSON);
}

static void test_bad_ack_id(void **state)
{
    (void)state;
    ERR("29007199254740992[\"a\"]", SIO_EACKID);
    ERR("299999999999999999999999999999[\"a\"]", SIO_EACKID);
    ERR("2/admin,18446744073709551616[\"a\"]", SIO_EACKID);
    ERR("3/admin,9223372036854775808[]", SIO_EACKID);
    ERR("2abc[\"a\"]", SIO_EJSON);
    ERR("21a[\"a\"]", SIO_EJSON);
    ERR("2-1[\"a\"]", SIO_EJSON);
    ERR("21.5[\"a\"]", SIO_EJSON);
}

static void test_invalid_json(void **state)
{
    (void)state;
    ERR("0{", SIO_EJSON);
    ERR("0{\"a\":}", SIO_EJSON);
    ERR("0{'a':1}", SIO_EJSON);
    ERR("0 ", SIO_EJSON);
    ERR("2[\"a\",]", SIO_EJSON);
    ERR("2[\"a\"", SIO_EJSON);
    ERR("2[\"a\"]x", SIO_EJSON);
    ERR("2[\"a\"][]", SIO_EJSON);
    ERR("2[\"\xff\"]", SIO_EJSON);
    ERR("2[NaN]", SIO_EJSON);
    ERR("2[01]", SIO_EJSON);
    ERR("3[undefined]", SIO_EJSON);
    ERR("4nope", SIO_EJSON);
    ERR("1x", SIO_EJSON);
    ERR("2/admin,[\"a\"", SIO_EJSON);
}

static void test_wrong_payload_shape(void **state)
{
    (void)state;
    /* CONNECT: absent or object. */
    ERR("0[]", SIO_EPAYLOAD);
    ERR("0\"x\"", SIO_EPAYLOAD);
    ERR("0null", SIO_EPAYLOAD);
    ERR("0/admin,[]", SIO_EPAYLOAD);
    /* DISCONNECT: nothing. */
    ERR("1{}", SIO_EPAYLOAD);
    ERR("1/admin,{}", SIO_EPAYLOAD);
    ERR("1null", SIO_EPAYLOAD);
    ERR("1[]", SIO_EPAYLOAD);
    /* EVENT: non-empty array starting with a string or a number. */
    ERR("2", SIO_EPAYLOAD);
    ERR("2/admin,", SIO_EPAYLOAD);
    ERR("212", SIO_EPAYLOAD);
    ERR("2[]", SIO_EPAYLOAD);
    ERR("2[ ]", SIO_EPAYLOAD);
    ERR("2[null]", SIO_EPAYLOAD);
    ERR("2[true]", SIO_EPAYLOAD);
    ERR("2[{}]", SIO_EPAYLOAD);
    ERR("2[[\"a\"]]", SIO_EPAYLOAD);
    ERR("2\"foo\"", SIO_EPAYLOAD);
    ERR("2{\"0\":\"foo\"}", SIO_EPAYLOAD);
    ERR("5{}", SIO_EATTACHMENTS);
    ERR("51-{}", SIO_EPAYLOAD);
    ERR("51-[]", SIO_EPAYLOAD);
    ERR("51-[{\"_placeholder\":true,\"num\":0}]", SIO_EPAYLOAD);
    ERR("50-", SIO_EPAYLOAD);
    /* ACK: array. */
    ERR("3", SIO_EPAYLOAD);
    ERR("312", SIO_EPAYLOAD);
    ERR("3{}", SIO_EPAYLOAD);
    ERR("3\"x\"", SIO_EPAYLOAD);
    ERR("61-{}", SIO_EPAYLOAD);
    /* CONNECT_ERROR: object or string. */
    ERR("4", SIO_EPAYLOAD);
    ERR("4[]", SIO_EPAYLOAD);
    ERR("4null", SIO_EPAYLOAD);
    ERR("4true", SIO_EPAYLOAD);
    ERR("4/admin,", SIO_EPAYLOAD);
}

static void test_reserved_events(void **state)
{
    (void)state;
    ERR("2[\"connect\"]", SIO_EPAYLOAD);
    ERR("2[\"connect_error\"]", SIO_EPAYLOAD);
    ERR("2[\"disconnect\"]", SIO_EPAYLOAD);
    ERR("2[\"disconnecting\"]", SIO_EPAYLOAD);
    ERR("2[\"newListener\"]", SIO_EPAYLOAD);
    ERR("2[\"removeListener\"]", SIO_EPAYLOAD);
    ERR("2/admin,3[\"disconnect\",1]", SIO_EPAYLOAD);
    ERR("51-[\"connect\",{\"_placeholder\":true,\"num\":0}]", SIO_EPAYLOAD);
    /* Escapes decode before the comparison. */
    ERR("2[\"connec\\u0074\"]", SIO_EPAYLOAD);
    ERR("2[\"\\u0064isconnect\"]", SIO_EPAYLOAD);
    ERR("2[ \"connect\" , 1]", SIO_EPAYLOAD);
    /* Acks may carry any value. */
    check_packet("3[\"connect\"]", SIO_ACK, "/", NO_ID, 0, "[\"connect\"]", NULL);
}

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {SIO_EEMPTY, SIO_ETYPE,    SIO_EATTACHMENTS, SIO_ENAMESPACE, SIO_EACKID,
                         SIO_EJSON,  SIO_EPAYLOAD, SIO_EPLACEHOLDER, SIO_EBINARY};
    const size_t n = sizeof codes / sizeof *codes;
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(sio_strerror(codes[i]), sio_strerror(-1000));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(sio_strerror(codes[i]), sio_strerror(codes[j]));
    }
    assert_non_null(sio_strerror(-1000));
}

static void test_encode(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    sio_packet_t p = {SIO_EVENT, "/", 1, -1, 0, "[\"foo\"]", 7};
    sio_packet_encode(&b, &p);
    assert_string_equal(b.data, "2[\"foo\"]");

    sbuf_reset(&b);
    sio_packet_t q = {SIO_CONNECT, NULL, 0, -1, 0, NULL, 0};
    sio_packet_encode(&b, &q);
    assert_string_equal(b.data, "0");

    sbuf_reset(&b);
    sio_packet_t r = {SIO_BINARY_ACK, "/chat", 5, 0, 12, "[]", 2};
    sio_packet_encode(&b, &r);
    assert_string_equal(b.data, "612-/chat,0[]");

    sbuf_reset(&b);
    sio_packet_t big = {SIO_ACK, "/", 1, SIO_MAX_ACK_ID, 0, "[]", 2};
    sio_packet_encode(&b, &big);
    assert_string_equal(b.data, "39007199254740991[]");

    /* Data is written verbatim: a header in front of caller-made JSON. */
    sbuf_reset(&b);
    sio_packet_t nsp = {SIO_EVENT, "/admin,x", 6, 3, 0, "[\"a\"]", 5};
    sio_packet_encode(&b, &nsp);
    assert_string_equal(b.data, "2/admin,3[\"a\"]");
    sbuf_free(&b);
}

/* Decodes s as a binary packet and starts reassembly from a heap copy that is freed right
 * after, proving that bp owns what it points to. */
static int begin_from_copy(sio_binary_t *bp, const char *s)
{
    size_t len = strlen(s);
    char *copy = malloc(len);
    memcpy(copy, s, len);
    sio_packet_t p;
    int rc = sio_packet_decode(copy, len, &p);
    assert_int_equal(rc, 0);
    rc = sio_binary_begin(bp, copy, len, &p);
    memset(copy, '#', len);
    free(copy);
    return rc;
}

static void test_binary_spec_example(void **state)
{
    (void)state;
    sio_binary_t bp;
    const uint8_t buf[] = {1, 2, 3, 4};
    assert_int_equal(begin_from_copy(&bp, "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]"), 0);
    assert_int_equal(bp.pkt.type, SIO_BINARY_EVENT);
    assert_int_equal(bp.pkt.attachments, 1);
    assert_int_equal(bp.received, 0);
    assert_int_equal(sio_binary_add(&bp, buf, 4), 1);
    assert_int_equal(bp.received, 1);
    assert_int_equal(bp.att[0].len, 4);
    assert_memory_equal(bp.att[0].data, buf, 4);
    static const char json[] = "[\"baz\",{\"_placeholder\":true,\"num\":0}]";
    assert_int_equal(bp.pkt.data_len, sizeof json - 1);
    assert_memory_equal(bp.pkt.data, json, sizeof json - 1);
    assert_int_equal(bp.pkt.nsp_len, 1);
    assert_memory_equal(bp.pkt.nsp, "/", 1);
    /* A further attachment is one too many. */
    assert_int_equal(sio_binary_add(&bp, buf, 4), SIO_EBINARY);
    assert_int_equal(bp.received, 1);
    sio_binary_free(&bp);
    assert_null(bp.text);
    assert_null(bp.att);
    sio_binary_free(&bp); /* no-op on an empty bp */
}

static void test_binary_two_attachments_nsp(void **state)
{
    (void)state;
    sio_binary_t bp;
    const uint8_t a[] = {1, 2}, b[] = {3, 4};
    assert_int_equal(begin_from_copy(&bp, "52-/admin,7[\"baz\",{\"_placeholder\":true,\"num\":0},"
                                          "{\"_placeholder\":true,\"num\":1}]"),
                     0);
    assert_int_equal(bp.pkt.nsp_len, 6);
    assert_memory_equal(bp.pkt.nsp, "/admin", 6);
    assert_true(bp.pkt.nsp >= bp.text && bp.pkt.nsp < bp.text + 80);
    assert_int_equal(bp.pkt.id, 7);
    assert_int_equal(sio_binary_add(&bp, a, 2), 0);
    assert_int_equal(sio_binary_add(&bp, b, 2), 1);
    assert_memory_equal(bp.att[1].data, b, 2);
    /* Re-encoding the reassembled header gives the packet back. */
    sbuf_t out = SBUF_INIT;
    sio_packet_encode(&out, &bp.pkt);
    assert_string_equal(out.data, "52-/admin,7[\"baz\",{\"_placeholder\":true,\"num\":0},"
                                  "{\"_placeholder\":true,\"num\":1}]");
    sbuf_free(&out);
    sio_binary_free(&bp);
}

static void test_binary_zero_attachments(void **state)
{
    (void)state;
    sio_binary_t bp;
    assert_int_equal(begin_from_copy(&bp, "50-[\"a\",1]"), 1);
    assert_int_equal(bp.pkt.attachments, 0);
    assert_memory_equal(bp.pkt.data, "[\"a\",1]", 7);
    assert_int_equal(sio_binary_add(&bp, (const uint8_t *)"x", 1), SIO_EBINARY);
    sio_binary_free(&bp);
    /* Zero attachments but a placeholder: it can refer to nothing. */
    memset(&bp, 0x11, sizeof bp);
    assert_int_equal(begin_from_copy(&bp, "50-[\"a\",{\"_placeholder\":true,\"num\":0}]"),
                     SIO_EPLACEHOLDER);
    assert_null(bp.text);
    assert_null(bp.att);
    sio_binary_free(&bp);
}

static void test_binary_not_binary_type(void **state)
{
    (void)state;
    sio_binary_t bp;
    sio_packet_t p;
    assert_int_equal(sio_packet_decode("2[\"a\"]", 6, &p), 0);
    assert_int_equal(sio_binary_begin(&bp, "2[\"a\"]", 6, &p), SIO_ETYPE);
    assert_null(bp.text);
    sio_binary_free(&bp);
    sio_binary_t zero = {0};
    assert_int_equal(sio_binary_add(&zero, (const uint8_t *)"x", 1), SIO_EBINARY);
    sio_binary_free(&zero);
}

/* Runs a whole reassembly: returns begin's result if it was not 0, else the last add's. */
static int reassemble(const char *s, unsigned nadd)
{
    sio_binary_t bp;
    int rc = begin_from_copy(&bp, s);
    for (unsigned i = 0; rc == 0 && i < nadd; i++)
        rc = sio_binary_add(&bp, (const uint8_t *)"z", 1);
    sio_binary_free(&bp);
    return rc;
}

static void test_binary_bad_placeholders(void **state)
{
    (void)state;
    /* num out of range, missing, or not a plain non-negative integer. */
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":1}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("52-[\"a\",{\"_placeholder\":true,\"num\":2}]", 2),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true}]", 1), SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":-1}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]", 1),
                     SIO_EPLACEHOLDER);
    /* num is written as plain digits: -0 and 1e0 are refused although JavaScript would
     * take them, as no encoder writes them. */
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":-0}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":1e0}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":null}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":[0]}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(
        reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":99999999999999999999}]", 1),
        SIO_EPLACEHOLDER);
    /* Nested anywhere, in arrays and objects. */
    assert_int_equal(reassemble("51-[\"a\",{\"x\":[1,{\"_placeholder\":true,\"num\":3}]}]", 1),
                     SIO_EPLACEHOLDER);
    /* One good placeholder does not excuse a bad one. */
    assert_int_equal(reassemble("61-[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,"
                                "\"num\":1}]",
                                1),
                     SIO_EPLACEHOLDER);
    /* Duplicate keys: the last one counts, as in JSON.parse. */
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":0,\"num\":5}]", 1),
                     SIO_EPLACEHOLDER);
    assert_int_equal(
        reassemble("51-[\"a\",{\"_placeholder\":false,\"num\":9,\"_placeholder\":true}]", 1),
        SIO_EPLACEHOLDER);
    /* Escaped key names are the same keys. */
    assert_int_equal(reassemble("51-[\"a\",{\"\\u005fplaceholder\":true,\"n\\u0075m\":4}]", 1),
                     SIO_EPLACEHOLDER);
}

static void test_binary_good_placeholders(void **state)
{
    (void)state;
    assert_int_equal(reassemble("51-[\"a\",{\"num\":0,\"_placeholder\":true}]", 1), 1);
    assert_int_equal(reassemble("51-[\"a\",{ \"_placeholder\" : true , \"num\" : 0 }]", 1), 1);
    assert_int_equal(reassemble("52-[\"a\",{\"b\":[{\"_placeholder\":true,\"num\":1}]},"
                                "{\"_placeholder\":true,\"num\":0}]",
                                2),
                     1);
    /* Not placeholders: _placeholder must be exactly true. */
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":false,\"num\":7}]", 1), 1);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":\"true\",\"num\":7}]", 1), 1);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":1,\"num\":7}]", 1), 1);
    assert_int_equal(reassemble("51-[\"a\",{\"_Placeholder\":true,\"num\":7}]", 1), 1);
    assert_int_equal(
        reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":9,\"_placeholder\":false}]", 1), 1);
    assert_int_equal(reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":9,\"num\":0}]", 1), 1);
    /* A placeholder replaces its whole object: its other members are not searched. */
    assert_int_equal(
        reassemble("51-[\"a\",{\"_placeholder\":true,\"num\":0,\"x\":{\"_placeholder\":"
                   "true,\"num\":99}}]",
                   1),
        1);
    /* Strings that look like placeholders are only strings. */
    assert_int_equal(reassemble("51-[\"{\\\"_placeholder\\\":true,\\\"num\\\":9}\"]", 1), 1);
    /* Placeholders may be unused: attachments do not have to be referenced. */
    assert_int_equal(reassemble("62-5[]", 2), 1);
}

static void test_placeholders_check(void **state)
{
    (void)state;
#define PH(lit, n) sio_placeholders_check(lit, sizeof(lit) - 1, n)
    assert_int_equal(PH("[]", 0), 0);
    assert_int_equal(PH("[\"baz\",{\"_placeholder\":true,\"num\":0}]", 1), 1);
    assert_int_equal(PH("[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":"
                        "1}]",
                        2),
                     2);
    assert_int_equal(PH("[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]", 1),
                     2);
    assert_int_equal(PH("{\"a\":{\"b\":{\"_placeholder\":true,\"num\":999}}}", 1000), 1);
    assert_int_equal(PH("{\"_placeholder\":true,\"num\":0}", 1), 1);
    assert_int_equal(PH("{\"_placeholder\":true,\"num\":1}", 1), SIO_EPLACEHOLDER);
    assert_int_equal(PH("\"x\"", 0), 0);
    assert_int_equal(PH("[1,2,{\"x\":null}]", 0), 0);
    assert_int_equal(PH("[\"a\",{\"_placeholder\":true,\"num\":0}]", 0), SIO_EPLACEHOLDER);
    assert_int_equal(PH("[", 1), SIO_EJSON);
    assert_int_equal(PH("", 1), SIO_EJSON);
    /* Errors inside a placeholder's other members do not count (they are not visited). */
    assert_int_equal(PH("[{\"x\":{\"_placeholder\":true},\"_placeholder\":true,\"num\":0}]", 1), 1);
    /* ... but they do inside an ordinary object. */
    assert_int_equal(PH("[{\"x\":{\"_placeholder\":true},\"_placeholder\":false,\"num\":0}]", 1),
                     SIO_EPLACEHOLDER);
#undef PH
}

static void test_too_many_attachments(void **state)
{
    (void)state;
    sio_binary_t bp;
    char pkt[64];
    strcpy(pkt, "61000-[]");
    assert_int_equal(begin_from_copy(&bp, pkt), 0);
    for (unsigned i = 0; i < 999; i++)
        assert_int_equal(sio_binary_add(&bp, (const uint8_t *)"", 0), 0);
    assert_int_equal(sio_binary_add(&bp, (const uint8_t *)"", 0), 1);
    assert_int_equal(sio_binary_add(&bp, (const uint8_t *)"", 0), SIO_EBINARY);
    sio_binary_free(&bp);
    ERR("61001-[]", SIO_EATTACHMENTS);
}

static void test_placeholder_num(void **state)
{
    (void)state;
    assert_int_equal(sio_placeholder_num("0", 1, 1), 0);
    assert_int_equal(sio_placeholder_num("12", 2, 13), 12);
    assert_int_equal(sio_placeholder_num("12", 2, 12), SIO_EPLACEHOLDER);
    assert_int_equal(sio_placeholder_num(NULL, 0, 5), SIO_EPLACEHOLDER);
    assert_int_equal(sio_placeholder_num("", 0, 5), SIO_EPLACEHOLDER);
    assert_int_equal(sio_placeholder_num("-1", 2, 5), SIO_EPLACEHOLDER);
    assert_int_equal(sio_placeholder_num("1.0", 3, 5), SIO_EPLACEHOLDER);
    assert_int_equal(sio_placeholder_num("\"1\"", 3, 5), SIO_EPLACEHOLDER);
    assert_int_equal(sio_placeholder_num("01", 2, 5), 1);
    assert_int_equal(sio_placeholder_num("00000000001", 11, 5), SIO_EPLACEHOLDER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_sample_session),
        cmocka_unit_test(test_test_suite_packets),
        cmocka_unit_test(test_header_forms),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_bad_attachments),
        cmocka_unit_test(test_bad_namespace),
        cmocka_unit_test(test_bad_ack_id),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_wrong_payload_shape),
        cmocka_unit_test(test_reserved_events),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_binary_spec_example),
        cmocka_unit_test(test_binary_two_attachments_nsp),
        cmocka_unit_test(test_binary_zero_attachments),
        cmocka_unit_test(test_binary_not_binary_type),
        cmocka_unit_test(test_binary_bad_placeholders),
        cmocka_unit_test(test_binary_good_placeholders),
        cmocka_unit_test(test_placeholders_check),
        cmocka_unit_test(test_too_many_attachments),
        cmocka_unit_test(test_placeholder_num),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
