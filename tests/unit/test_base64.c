/* Unit tests for proto/base64.c: RFC 4648 vectors, padding rules, in-place decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base64.h"

#include <string.h>

/* RFC 4648 section 10 test vectors. */
static const struct {
    const char *plain, *enc;
} rfc[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_encoded_len(void **state)
{
    (void)state;
    assert_int_equal(base64_encoded_len(0), 0);
    assert_int_equal(base64_encoded_len(1), 4);
    assert_int_equal(base64_encoded_len(2), 4);
    assert_int_equal(base64_encoded_len(3), 4);
    assert_int_equal(base64_encoded_len(4), 8);
    assert_int_equal(base64_encoded_len(1000000), 1333336);
}

static void test_rfc_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc / sizeof *rfc; i++) {
        char out[16];
        size_t n = strlen(rfc[i].plain);
        memset(out, '#', sizeof out);
        base64_encode((const uint8_t *)rfc[i].plain, n, out);
        assert_int_equal(base64_encoded_len(n), strlen(rfc[i].enc));
        assert_memory_equal(out, rfc[i].enc, strlen(rfc[i].enc));
        assert_int_equal(out[strlen(rfc[i].enc)], '#'); /* no terminator written */
    }
}

static void test_rfc_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc / sizeof *rfc; i++) {
        uint8_t out[16];
        long n = base64_decode(rfc[i].enc, strlen(rfc[i].enc), out);
        assert_int_equal(n, strlen(rfc[i].plain));
        assert_memory_equal(out, rfc[i].plain, (size_t)n);
    }
}

/* The Engine.IO spec example: <01 02 03 04> is "AQIDBA==". */
static void test_engineio_example(void **state)
{
    (void)state;
    const uint8_t bytes[] = {1, 2, 3, 4};
    char enc[8];
    base64_encode(bytes, 4, enc);
    assert_memory_equal(enc, "AQIDBA==", 8);
    uint8_t out[8];
    assert_int_equal(base64_decode("AQIDBA==", 8, out), 4);
    assert_memory_equal(out, bytes, 4);
}

static void test_unpadded_accepted(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(base64_decode("AQIDBA", 6, out), 4);
    assert_memory_equal(out, "\x01\x02\x03\x04", 4);
    assert_int_equal(base64_decode("Zm8", 3, out), 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(base64_decode("Zg", 2, out), 1);
    assert_memory_equal(out, "f", 1);
}

static void test_all_bytes_round_trip(void **state)
{
    (void)state;
    uint8_t in[256], out[256];
    char enc[344];
    for (int i = 0; i < 256; i++) in[i] = (uint8_t)i;
    for (size_t n = 0; n <= 256; n++) {
        base64_encode(in, n, enc);
        long d = base64_decode(enc, base64_encoded_len(n), out);
        assert_int_equal(d, n);
        assert_memory_equal(out, in, n);
    }
    /* Both extra characters of the alphabet appear. */
    const uint8_t hi[] = {0xfb, 0xff, 0xbf};
    base64_encode(hi, 3, enc);
    assert_memory_equal(enc, "+/+/", 4);
}

static void test_in_place(void **state)
{
    (void)state;
    char buf[] = "Zm9vYmFyYmF6cXV4";
    long n = base64_decode(buf, strlen(buf), (uint8_t *)buf);
    assert_int_equal(n, 12);
    assert_memory_equal(buf, "foobarbazqux", 12);
    char buf2[] = "AQIDBA==";
    assert_int_equal(base64_decode(buf2, 8, (uint8_t *)buf2), 4);
    assert_memory_equal(buf2, "\x01\x02\x03\x04", 4);
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "A",                             /* 4k+1 characters */
        "AAAAA",                         /* idem */
        "=",                             /* padding alone */
        "==",         "====", "A===",    /* three pad characters */
        "AA=A",                          /* padding in the middle */
        "AA==AA==",                      /* padding then more data */
        "AA=",                           /* padded but not a multiple of 4 */
        "AAA==",                         /* idem */
        "AQID BA==",                     /* whitespace */
        "AQID\nBA==", "AQ-D",            /* base64url alphabet is not accepted */
        "AQ_D",       "AQ.D", "AQI\x80", /* non-ASCII */
        "AR==",                          /* non-zero unused bits */
        "AQN=",                          /* idem */
        "Zh",                            /* idem, unpadded */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t out[16];
        long n = base64_decode(bad[i], strlen(bad[i]), out);
        if (n != -1) fail_msg("accepted \"%s\" (%ld)", bad[i], n);
    }
    uint8_t out[4];
    assert_int_equal(base64_decode("AQ\0D", 4, out), -1); /* NUL byte */
}

static void test_empty(void **state)
{
    (void)state;
    uint8_t out[1];
    assert_int_equal(base64_decode("", 0, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoded_len),
        cmocka_unit_test(test_rfc_vectors_encode),
        cmocka_unit_test(test_rfc_vectors_decode),
        cmocka_unit_test(test_engineio_example),
        cmocka_unit_test(test_unpadded_accepted),
        cmocka_unit_test(test_all_bytes_round_trip),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
