/* libFuzzer driver: eio_packet_decode_text, and re-encoding what it accepts. */
#include "eio_packet.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    eio_packet_t p;
    int rc = eio_packet_decode_text(s, size, &p);
    if (rc != 0) {
        if (rc != (size == 0 ? EIO_EEMPTY : EIO_ETYPE)) abort();
        return 0;
    }
    if (p.type > EIO_NOOP || p.binary || p.data != data + 1 || p.len != size - 1) abort();

    /* A text packet encodes back to exactly its frame. */
    sbuf_t b = SBUF_INIT;
    eio_packet_encode(&b, &p);
    if (b.len != size || memcmp(b.data, data, size) != 0) abort();
    /* As a polling record it is the same bytes, after a separator when not first. */
    sbuf_reset(&b);
    sbuf_append_char(&b, 'x');
    size_t want = eio_payload_record_len(&p, b.len);
    eio_payload_append(&b, &p);
    if (b.len != 1 + want || b.data[1] != EIO_RECORD_SEPARATOR || memcmp(b.data + 2, data, size))
        abort();
    sbuf_free(&b);
    return 0;
}
