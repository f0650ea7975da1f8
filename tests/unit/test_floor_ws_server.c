/* Unit tests for the floor program's server-side WebSocket codec (tests/bench/floor): the
 * RFC 6455 section 5.7 masked example, every "need more" split point on exact-size copies,
 * the protocol errors and the size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ws_server.h"

#include <stdlib.h>
#include <string.h>

/* RFC 6455 5.7: a masked text frame "Hello" from a client. */
static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};

static void test_parse_masked_hello(void **state)
{
    (void)state;
    uint8_t buf[sizeof hello];
    memcpy(buf, hello, sizeof hello);
    wss_frame_t f;
    assert_int_equal(wss_frame_parse(buf, sizeof buf, 100, &f), (long)sizeof hello);
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.opcode, 1);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "Hello", 5);
}

static void test_parse_needs_more(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof hello; n++) {
        uint8_t *b = malloc(n ? n : 1);
        memcpy(b, hello, n);
        wss_frame_t f;
        assert_int_equal(wss_frame_parse(b, n, 100, &f), 0);
        free(b);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    wss_frame_t f;
    uint8_t unmasked[] = {0x81, 0x01, 'x'};
    assert_int_equal(wss_frame_parse(unmasked, sizeof unmasked, 100, &f), WSS_EPROTO);
    uint8_t rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    assert_int_equal(wss_frame_parse(rsv, sizeof rsv, 100, &f), WSS_EPROTO);
    uint8_t long_ping[] = {0x89, 0xfe, 0x00, 0x7e};
    assert_int_equal(wss_frame_parse(long_ping, sizeof long_ping, 1000, &f), WSS_EPROTO);
    uint8_t big[] = {0x81, 0xfe, 0x01, 0x00};
    assert_int_equal(wss_frame_parse(big, sizeof big, 255, &f), WSS_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_masked_hello),
        cmocka_unit_test(test_parse_needs_more),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
