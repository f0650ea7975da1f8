/* Unit tests for proto/eio3_payload.c: the v3 polling payloads, text (lengths in UTF-16 code
 * units, binary as "b4" + base64) and binary (XHR2 framing), with the protocol's examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eio3_payload.h"

#include <stdlib.h>
#include <string.h>

static eio_packet_t text(eio_type_t type, const char *data)
{
    return (eio_packet_t){.type = type, .data = (const uint8_t *)data, .len = strlen(data)};
}

static eio_packet_t bin(const void *data, size_t len)
{
    return (eio_packet_t){.type = EIO_MESSAGE, .binary = 1, .data = data, .len = len};
}

static void test_utf16_len(void **state)
{
    (void)state;
    assert_int_equal(eio3_utf16_len("", 0), 0);
    assert_int_equal(eio3_utf16_len("hello", 5), 5);
    assert_int_equal(eio3_utf16_len("\xe2\x82\xac", 3), 1);     /* U+20AC */
    assert_int_equal(eio3_utf16_len("\xf0\x9f\x98\x80", 4), 2); /* U+1F600: a surrogate pair */
    assert_int_equal(eio3_utf16_len("a\xff"
                                    "b",
                                    3),
                     3);                                    /* a stray byte: one U+FFFD */
    assert_int_equal(eio3_utf16_len("\xf0\x9f\x98", 3), 1); /* a cut sequence: one U+FFFD */
}

static void test_encode_text(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    eio_packet_t p = text(EIO_MESSAGE, "\xe2\x82\xac");
    eio3_payload_append(&b, &p);
    p = text(EIO_MESSAGE, "\xf0\x9f\x98\x80");
    eio3_payload_append(&b, &p);
    static const uint8_t raw[] = {1, 2, 3};
    p = bin(raw, 3);
    eio3_payload_append(&b, &p);
    p = text(EIO_OPEN, "{\"sid\":\"x\"}");
    eio3_payload_append(&b, &p);
    assert_string_equal(b.data, "2:4\xe2\x82\xac"
                                "3:4\xf0\x9f\x98\x80"
                                "6:b4AQID"
                                "12:0{\"sid\":\"x\"}");
    sbuf_free(&b);
}

static void test_encode_binary(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    eio_packet_t p = text(EIO_MESSAGE, "hello");
    eio3_payload_append_binary(&b, &p);
    static const uint8_t raw[] = {1, 2, 3, 4};
    p = bin(raw, 4);
    eio3_payload_append_binary(&b, &p);
    static const uint8_t want[] = {0x00, 0x06, 0xff, '4',  'h', 'e', 'l', 'l', 'o',
                                   0x01, 0x05, 0xff, 0x04, 1,   2,   3,   4};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    sbuf_reset(&b);
    /* a length of two digits: one byte per digit */
    char big[40];
    memset(big, 'x', sizeof big - 1);
    big[39] = 0;
    p = text(EIO_MESSAGE, big);
    eio3_payload_append_binary(&b, &p);
    assert_int_equal((unsigned char)b.data[1], 4);
    assert_int_equal((unsigned char)b.data[2], 0);
    assert_int_equal((unsigned char)b.data[3], 0xff);
    sbuf_free(&b);
}

/* Decodes body (text or binary) and checks the packets against want; returns the last rc. */
static int decode_all(const void *body, size_t len, int binary, eio_packet_t *got, int max, int *n)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    eio3_iter_t it;
    eio3_iter_init(&it, copy, len, binary);
    int rc;
    *n = 0;
    static uint8_t keep[8][64];
    while ((rc = eio3_payload_next(&it, &got[*n])) == 1) {
        assert_true(*n < max);
        assert_true(got[*n].len <= sizeof keep[0]);
        memcpy(keep[*n], got[*n].data, got[*n].len);
        got[*n].data = keep[*n];
        (*n)++;
    }
    assert_int_equal(eio3_payload_next(&it, &got[0]), rc); /* the same again */
    free(copy);
    return rc;
}

static void test_decode_text(void **state)
{
    (void)state;
    eio_packet_t got[8];
    int n;
    static const char body[] = "6:4hello"
                               "2:4\xe2\x82\xac"
                               "3:4\xf0\x9f\x98\x80"
                               "0:"
                               "10:b4AQIDBA=="
                               "1:2";
    assert_int_equal(decode_all(body, sizeof body - 1, 0, got, 8, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(got[0].type, EIO_MESSAGE);
    assert_memory_equal(got[0].data, "hello", 5);
    assert_int_equal(got[1].len, 3);
    assert_int_equal(got[2].len, 4);
    assert_true(got[3].binary);
    assert_int_equal(got[3].len, 4);
    assert_memory_equal(got[3].data, "\x01\x02\x03\x04", 4);
    assert_int_equal(got[4].type, EIO_PING);
    assert_int_equal(got[4].len, 0);
}

static void test_decode_text_errors(void **state)
{
    (void)state;
    eio_packet_t got[8];
    int n;
    static const char *const bad[] = {
        "",                    /* empty */
        "abc",                 /* no length */
        "6:4hell",             /* shorter than announced */
        "2:4\xf0\x9f\x98\x80", /* ends inside a surrogate pair */
        "1:9",                 /* unknown type */
        "5",                   /* digits without ':' */
        "4:b4A!",              /* bad base64 */
        "3:b3A",               /* a binary packet that is not a message */
        "12345678901:4",       /* too many digits */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_true(decode_all(bad[i], strlen(bad[i]), 0, got, 8, &n) < 0);
    /* what came before the error was decoded */
    assert_true(decode_all("6:4hello1:9", 11, 0, got, 8, &n) < 0);
    assert_int_equal(n, 1);
}

static void test_decode_binary(void **state)
{
    (void)state;
    eio_packet_t got[8];
    int n;
    static const uint8_t body[] = {0x00, 0x04, 0xff, '4', 0xe2, 0x82, 0xac, 0x01,
                                   0x05, 0xff, 0x04, 1,   2,    3,    4};
    assert_int_equal(decode_all(body, sizeof body, 1, got, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_false(got[0].binary);
    assert_int_equal(got[0].type, EIO_MESSAGE);
    assert_memory_equal(got[0].data, "\xe2\x82\xac", 3);
    assert_true(got[1].binary);
    assert_int_equal(got[1].type, EIO_MESSAGE);
    assert_int_equal(got[1].len, 4);
    static const uint8_t bad1[] = {0x02, 0x01, 0xff, '4'};      /* marker */
    static const uint8_t bad2[] = {0x00, 0x0a, 0xff, '4'};      /* digit byte over 9 */
    static const uint8_t bad3[] = {0x00, 0x05, 0xff, '4', 'a'}; /* past the end */
    static const uint8_t bad4[] = {0x00, 0x01};                 /* no 0xff */
    assert_true(decode_all(bad1, sizeof bad1, 1, got, 8, &n) < 0);
    assert_true(decode_all(bad2, sizeof bad2, 1, got, 8, &n) < 0);
    assert_true(decode_all(bad3, sizeof bad3, 1, got, 8, &n) < 0);
    assert_true(decode_all(bad4, sizeof bad4, 1, got, 8, &n) < 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const uint8_t raw[] = {0, 0xff, 0x1e, ':'};
    eio_packet_t in[] = {text(EIO_MESSAGE, "42[\"a\xf0\x9f\x98\x80\",\"b:c\"]"), bin(raw, 4),
                         text(EIO_PONG, ""), text(EIO_NOOP, "")};
    for (int binary = 0; binary <= 1; binary++) {
        sbuf_t b = SBUF_INIT;
        for (size_t i = 0; i < 4; i++)
            binary ? eio3_payload_append_binary(&b, &in[i]) : eio3_payload_append(&b, &in[i]);
        eio_packet_t got[8];
        int n;
        assert_int_equal(decode_all(b.data, b.len, binary, got, 8, &n), 0);
        assert_int_equal(n, 4);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(got[i].type, in[i].type);
            assert_int_equal(got[i].binary, in[i].binary);
            assert_int_equal(got[i].len, in[i].len);
            assert_memory_equal(got[i].data, in[i].data, in[i].len);
        }
        sbuf_free(&b);
    }
}

static void test_frame_binary(void **state)
{
    (void)state;
    eio_packet_t p;
    static const uint8_t f[] = {4, 1, 2, 3};
    assert_int_equal(eio3_frame_decode_binary(f, 4, &p), 0);
    assert_int_equal(p.type, EIO_MESSAGE);
    assert_int_equal(p.len, 3);
    assert_int_equal(eio3_frame_decode_binary(f, 0, &p), EIO_EEMPTY);
    static const uint8_t g[] = {7, 1};
    assert_int_equal(eio3_frame_decode_binary(g, 2, &p), EIO_ETYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf16_len),          cmocka_unit_test(test_encode_text),
        cmocka_unit_test(test_encode_binary),      cmocka_unit_test(test_decode_text),
        cmocka_unit_test(test_decode_text_errors), cmocka_unit_test(test_decode_binary),
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_frame_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
