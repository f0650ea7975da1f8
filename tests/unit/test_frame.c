/* Unit tests for chatnode/frame.c: text and binary frames, LWS_PRE headroom, reference
 * counting, the packet view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "frame.h"

#include <string.h>

static void test_text(void **state)
{
    (void)state;
    frame_t *f = frame_new_text(EIO_MESSAGE, "2[\"a\"]", 6);
    assert_int_equal(f->refs, 1);
    assert_int_equal(f->binary, 0);
    assert_int_equal(f->len, 7);
    assert_memory_equal(frame_body(f), "42[\"a\"]", 7);
    assert_ptr_equal(frame_body(f), f->buf + LWS_PRE); /* room for the WebSocket header */
    eio_packet_t p = frame_packet(f);
    assert_int_equal(p.type, EIO_MESSAGE);
    assert_int_equal(p.binary, 0);
    assert_int_equal(p.len, 6);
    assert_memory_equal(p.data, "2[\"a\"]", 6);
    frame_unref(f);
}

static void test_empty_text(void **state)
{
    (void)state;
    frame_t *f = frame_new_text(EIO_PING, NULL, 0);
    assert_int_equal(f->len, 1);
    assert_int_equal(frame_body(f)[0], '2');
    eio_packet_t p = frame_packet(f);
    assert_int_equal(p.type, EIO_PING);
    assert_int_equal(p.len, 0);
    frame_unref(f);
}

static void test_binary_and_refs(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0, 1, 2, 255};
    frame_t *f = frame_new_binary(bytes, sizeof bytes);
    assert_int_equal(f->binary, 1);
    assert_int_equal(f->len, 4);
    assert_memory_equal(frame_body(f), bytes, 4);
    assert_ptr_equal(frame_ref(f), f);
    assert_int_equal(f->refs, 2);
    frame_unref(f);
    assert_int_equal(f->refs, 1);
    eio_packet_t p = frame_packet(f);
    assert_int_equal(p.type, EIO_MESSAGE);
    assert_int_equal(p.binary, 1);
    assert_int_equal(p.len, 4);
    frame_unref(f); /* freed: ASan would report a leak otherwise */
    frame_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_empty_text),
        cmocka_unit_test(test_binary_and_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
