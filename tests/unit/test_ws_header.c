/* Unit tests for server WebSocket frame headers (proto/ws_header.c): each length form at its
 * edges (125/126, 65535/65536), the opcodes, and a frame built with one read back by the load
 * generator's client-side parser, which rejects any non-minimal length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ws_frame.h"
#include "ws_header.h"

#include <stdlib.h>
#include <string.h>

static void test_length_forms(void **state)
{
    (void)state;
    uint8_t h[WS_HEADER_MAX];
    assert_int_equal(ws_server_header(h, WS_OPCODE_TEXT, 0), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 0);
    assert_int_equal(ws_server_header(h, WS_OPCODE_TEXT, 125), 2);
    assert_int_equal(h[1], 125);
    assert_int_equal(ws_server_header(h, WS_OPCODE_TEXT, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2], 0);
    assert_int_equal(h[3], 126);
    assert_int_equal(ws_server_header(h, WS_OPCODE_BINARY, 65535), 4);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[2], 0xff);
    assert_int_equal(h[3], 0xff);
    assert_int_equal(ws_server_header(h, WS_OPCODE_PONG, 65536), 10);
    assert_int_equal(h[0], 0x8a);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7], 1);
    assert_int_equal(h[9], 0);
    assert_int_equal(ws_server_header(h, WS_OPCODE_BINARY, (uint64_t)1 << 40), 10);
    assert_int_equal(h[4], 1);
    assert_int_equal(h[5], 0);
}

/* Frames of every form, back to back in one buffer as chatnode batches them, parse one by
 * one with their payloads intact. */
static void test_batch_parses(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 125, 126, 1000, 65535, 65536, 70000};
    const size_t n = sizeof sizes / sizeof *sizes;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += WS_HEADER_MAX + sizes[i];
    uint8_t *buf = malloc(total);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += ws_server_header(buf + len, i % 2 ? WS_OPCODE_BINARY : WS_OPCODE_TEXT, sizes[i]);
        memset(buf + len, (int)('a' + i), sizes[i]);
        len += sizes[i];
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        ws_frame_t f;
        long used = ws_frame_parse(buf + at, len - at, 1 << 20, &f);
        assert_true(used > 0);
        assert_int_equal(f.fin, 1);
        assert_int_equal(f.opcode, i % 2 ? WS_OP_BINARY : WS_OP_TEXT);
        assert_int_equal(f.len, sizes[i]);
        for (size_t k = 0; k < f.len; k++) assert_int_equal(f.payload[k], 'a' + i);
        at += (size_t)used;
    }
    assert_int_equal(at, len);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_forms),
        cmocka_unit_test(test_batch_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
