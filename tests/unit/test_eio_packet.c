/* Unit tests for proto/eio_packet.c: single packets, polling payloads (the Engine.IO v4 spec
 * examples and the Socket.IO v5 sample session), and every malformed body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eio_packet.h"

#include <stdlib.h>
#include <string.h>

static void check_text(const char *s, eio_type_t type, const char *data)
{
    eio_packet_t p;
    memset(&p, 0xaa, sizeof p);
    assert_int_equal(eio_packet_decode_text(s, strlen(s), &p), 0);
    assert_int_equal(p.type, type);
    assert_int_equal(p.binary, 0);
    assert_int_equal(p.len, strlen(data));
    assert_memory_equal(p.data, data, p.len);
    assert_ptr_equal(p.data, (const uint8_t *)s + 1); /* borrowed, not copied */

    sbuf_t b = SBUF_INIT;
    eio_packet_encode(&b, &p);
    assert_int_equal(b.len, strlen(s));
    assert_memory_equal(b.data, s, b.len);
    sbuf_free(&b);
}

static void test_decode_every_type(void **state)
{
    (void)state;
    check_text("0", EIO_OPEN, "");
    check_text("1", EIO_CLOSE, "");
    check_text("2", EIO_PING, "");
    check_text("3", EIO_PONG, "");
    check_text("4", EIO_MESSAGE, "");
    check_text("5", EIO_UPGRADE, "");
    check_text("6", EIO_NOOP, "");
}

/* The examples of the spec and the sample session. */
static void test_spec_packets(void **state)
{
    (void)state;
    check_text("4hello", EIO_MESSAGE, "hello");
    check_text("2probe", EIO_PING, "probe");
    check_text("3probe", EIO_PONG, "probe");
    check_text("0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":"
               "25000,\"pingTimeout\":5000,\"maxPayload\":1000000}",
               EIO_OPEN,
               "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":"
               "25000,\"pingTimeout\":5000,\"maxPayload\":1000000}");
    check_text("40", EIO_MESSAGE, "0");
    check_text("40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", EIO_MESSAGE,
               "0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}");
    check_text("42[\"hey\",\"Jude\"]", EIO_MESSAGE, "2[\"hey\",\"Jude\"]");
    check_text("461-/admin,1[{\"_placeholder\":true,\"num\":0}]", EIO_MESSAGE,
               "61-/admin,1[{\"_placeholder\":true,\"num\":0}]");
    /* "4abc" is a valid Engine.IO message; its Socket.IO content is what fails. */
    check_text("4abc", EIO_MESSAGE, "abc");
    check_text("4\xe2\x82\xac", EIO_MESSAGE, "\xe2\x82\xac");
}

static void test_decode_errors(void **state)
{
    (void)state;
    eio_packet_t p;
    assert_int_equal(eio_packet_decode_text("", 0, &p), EIO_EEMPTY);
    static const char *const bad[] = {"abc", "7", "9", "b", "bAQIDBA==", "/", " 4", "-1", "\x1e"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (eio_packet_decode_text(bad[i], strlen(bad[i]), &p) != EIO_ETYPE)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(eio_packet_decode_text("\0"
                                            "4",
                                            2, &p),
                     EIO_ETYPE);
}

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {EIO_EEMPTY, EIO_ETYPE, EIO_EBASE64, EIO_EPAYLOAD};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(eio_strerror(codes[i]));
        assert_string_not_equal(eio_strerror(codes[i]), eio_strerror(-1000));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(eio_strerror(codes[i]), eio_strerror(codes[j]));
    }
    assert_non_null(eio_strerror(-1000));
}

static void test_encode_binary(void **state)
{
    (void)state;
    const uint8_t bytes[] = {1, 2, 3, 4};
    eio_packet_t p = {EIO_MESSAGE, 1, bytes, 4};
    sbuf_t b = SBUF_INIT;
    eio_packet_encode(&b, &p);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, bytes, 4);
    sbuf_free(&b);
}

/* Decodes a whole body (copied, since decoding is in place) into at most 8 packets; returns
 * the number decoded and the final return code in *rc. */
typedef struct {
    eio_packet_t pkt[8];
    char *copy;
    int n, rc;
} decoded_t;

static void decode_body(decoded_t *d, const char *body, size_t len)
{
    eio_payload_iter_t it;
    d->copy = malloc(len + 1);
    memcpy(d->copy, body, len);
    eio_payload_iter_init(&it, d->copy, len);
    d->n = 0;
    while ((d->rc = eio_payload_next(&it, &d->pkt[d->n])) == 1) {
        d->n++;
        if (d->n == 8) fail_msg("too many packets");
    }
    /* Once finished, it stays finished with the same result. */
    eio_packet_t extra;
    assert_int_equal(eio_payload_next(&it, &extra), d->rc);
}

static void assert_pkt(const eio_packet_t *p, eio_type_t type, int binary, const void *data,
                       size_t len)
{
    assert_int_equal(p->type, type);
    assert_int_equal(p->binary, binary);
    assert_int_equal(p->len, len);
    if (len) assert_memory_equal(p->data, data, len);
}

static void reencode(const decoded_t *d, const char *want, size_t wlen)
{
    sbuf_t b = SBUF_INIT;
    for (int i = 0; i < d->n; i++) {
        size_t before = b.len, expect = eio_payload_record_len(&d->pkt[i], b.len);
        eio_payload_append(&b, &d->pkt[i]);
        assert_int_equal(b.len - before, expect);
    }
    assert_int_equal(b.len, wlen);
    assert_memory_equal(b.data, want, wlen);
    sbuf_free(&b);
}

static void test_payload_spec_text(void **state)
{
    (void)state;
    static const char body[] = "4hello\x1e"
                               "2\x1e"
                               "4world";
    decoded_t d;
    decode_body(&d, body, sizeof body - 1);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 3);
    assert_pkt(&d.pkt[0], EIO_MESSAGE, 0, "hello", 5);
    assert_pkt(&d.pkt[1], EIO_PING, 0, "", 0);
    assert_pkt(&d.pkt[2], EIO_MESSAGE, 0, "world", 5);
    reencode(&d, body, sizeof body - 1);
    free(d.copy);
}

static void test_payload_spec_binary(void **state)
{
    (void)state;
    static const char body[] = "4hello\x1e"
                               "bAQIDBA==";
    decoded_t d;
    decode_body(&d, body, sizeof body - 1);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 2);
    assert_pkt(&d.pkt[0], EIO_MESSAGE, 0, "hello", 5);
    assert_pkt(&d.pkt[1], EIO_MESSAGE, 1, "\x01\x02\x03\x04", 4);
    /* Decoded in place: the binary bytes live in the body buffer. */
    assert_true((const char *)d.pkt[1].data >= d.copy &&
                (const char *)d.pkt[1].data < d.copy + sizeof body);
    reencode(&d, body, sizeof body - 1);
    free(d.copy);
}

static void test_payload_test_suite_bodies(void **state)
{
    (void)state;
    static const char three[] = "4test1\x1e"
                                "4test2\x1e"
                                "4test3";
    decoded_t d;
    decode_body(&d, three, sizeof three - 1);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 3);
    assert_pkt(&d.pkt[2], EIO_MESSAGE, 0, "test3", 5);
    reencode(&d, three, sizeof three - 1);
    free(d.copy);

    decode_body(&d, "4hello", 6);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 1);
    assert_pkt(&d.pkt[0], EIO_MESSAGE, 0, "hello", 5);
    free(d.copy);
}

/* Request n°5 of the Socket.IO sample session. */
static void test_payload_sample_session(void **state)
{
    (void)state;
    static const char body[] = "42[\"hello\"]\x1e"
                               "42[\"world\"]";
    decoded_t d;
    decode_body(&d, body, sizeof body - 1);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 2);
    assert_pkt(&d.pkt[0], EIO_MESSAGE, 0, "2[\"hello\"]", 10);
    assert_pkt(&d.pkt[1], EIO_MESSAGE, 0, "2[\"world\"]", 10);
    reencode(&d, body, sizeof body - 1);
    free(d.copy);
}

static void test_payload_binary_forms(void **state)
{
    (void)state;
    decoded_t d;
    /* Unpadded base64 is accepted too; re-encoding pads it. */
    decode_body(&d, "bAQIDBA", 7);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 1);
    assert_pkt(&d.pkt[0], EIO_MESSAGE, 1, "\x01\x02\x03\x04", 4);
    reencode(&d, "bAQIDBA==", 9);
    free(d.copy);
    /* "b" alone is an empty binary message. */
    decode_body(&d,
                "b\x1e"
                "2",
                3);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.n, 2);
    assert_pkt(&d.pkt[0], EIO_MESSAGE, 1, "", 0);
    assert_pkt(&d.pkt[1], EIO_PING, 0, "", 0);
    reencode(&d,
             "b\x1e"
             "2",
             3);
    free(d.copy);
}

static void check_payload_error(const char *body, size_t len, int want_rc, int want_n)
{
    decoded_t d;
    decode_body(&d, body, len);
    assert_int_equal(d.rc, want_rc);
    assert_int_equal(d.n, want_n);
    free(d.copy);
}

#define CHECK_ERR(lit, rc, n) check_payload_error(lit, sizeof(lit) - 1, rc, n)

static void test_payload_errors(void **state)
{
    (void)state;
    CHECK_ERR("", EIO_EPAYLOAD, 0);     /* empty body */
    CHECK_ERR("\x1e", EIO_EPAYLOAD, 0); /* two empty records */
    CHECK_ERR("\x1e"
              "4a",
              EIO_EPAYLOAD, 0);           /* leading separator */
    CHECK_ERR("4a\x1e", EIO_EPAYLOAD, 1); /* trailing separator */
    CHECK_ERR("4a\x1e\x1e"
              "4b",
              EIO_EPAYLOAD, 1);     /* empty record in the middle */
    CHECK_ERR("abc", EIO_ETYPE, 0); /* the test suite's invalid body */
    CHECK_ERR("4hello\x1e"
              "abc\x1e"
              "4world",
              EIO_ETYPE, 1);
    CHECK_ERR("7", EIO_ETYPE, 0);
    CHECK_ERR("4a\x1e"
              "9",
              EIO_ETYPE, 1);
    CHECK_ERR("bA", EIO_EBASE64, 0);
    CHECK_ERR("b!!!!", EIO_EBASE64, 0);
    CHECK_ERR("bAQID BA==", EIO_EBASE64, 0);
    CHECK_ERR("bAQ=DBA==", EIO_EBASE64, 0);
    CHECK_ERR("bAR==", EIO_EBASE64, 0);
    CHECK_ERR("4x\x1e"
              "bAQIDBA===",
              EIO_EBASE64, 1);
}

static void test_payload_append(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    const uint8_t bytes[] = {1, 2, 3, 4};
    eio_packet_t hello = {EIO_MESSAGE, 0, (const uint8_t *)"hello", 5};
    eio_packet_t bin = {EIO_MESSAGE, 1, bytes, 4};
    eio_packet_t ping = {EIO_PING, 0, NULL, 0};
    eio_packet_t noop = {EIO_NOOP, 0, NULL, 0};

    assert_int_equal(eio_payload_record_len(&hello, 0), 6);
    assert_int_equal(eio_payload_record_len(&hello, 1), 7);
    assert_int_equal(eio_payload_record_len(&bin, 0), 9);
    assert_int_equal(eio_payload_record_len(&bin, 10), 10);

    eio_payload_append(&b, &hello);
    eio_payload_append(&b, &bin);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data,
                        "4hello\x1e"
                        "bAQIDBA==",
                        16);
    sbuf_reset(&b);
    eio_payload_append(&b, &ping);
    assert_string_equal(b.data, "2");
    sbuf_reset(&b);
    eio_payload_append(&b, &noop);
    assert_string_equal(b.data, "6");
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_every_type),
        cmocka_unit_test(test_spec_packets),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_encode_binary),
        cmocka_unit_test(test_payload_spec_text),
        cmocka_unit_test(test_payload_spec_binary),
        cmocka_unit_test(test_payload_test_suite_bodies),
        cmocka_unit_test(test_payload_sample_session),
        cmocka_unit_test(test_payload_binary_forms),
        cmocka_unit_test(test_payload_errors),
        cmocka_unit_test(test_payload_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
