/* libFuzzer driver: sio_packet_decode; accepted packets re-encode and decode to the same
 * fields, and binary ones go through sio_binary_begin/add with fake attachments, where the
 * outcome must agree with sio_placeholders_check. */
#include "sio_packet.h"

#include <stdlib.h>
#include <string.h>

static int same(const sio_packet_t *a, const sio_packet_t *b)
{
    return a->type == b->type && a->nsp_len == b->nsp_len &&
           memcmp(a->nsp, b->nsp, a->nsp_len) == 0 && a->id == b->id &&
           a->attachments == b->attachments && !a->data == !b->data && a->data_len == b->data_len &&
           (!a->data || !memcmp(a->data, b->data, a->data_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    sio_packet_t p, q;
    int rc = sio_packet_decode(s, size, &p);
    if (rc < 0) {
        if (rc < SIO_EBINARY) abort();
        return 0;
    }
    int binary = p.type == SIO_BINARY_EVENT || p.type == SIO_BINARY_ACK;
    if (p.type > SIO_BINARY_ACK || (!binary && p.attachments) || p.id < -1 ||
        p.id > SIO_MAX_ACK_ID || p.attachments > SIO_MAX_ATTACHMENTS || p.nsp_len == 0 ||
        p.nsp[0] != '/' || (!p.data && p.type != SIO_CONNECT && p.type != SIO_DISCONNECT))
        abort();

    sbuf_t b = SBUF_INIT;
    sio_packet_encode(&b, &p);
    if (sio_packet_decode(b.data, b.len, &q) != 0 || !same(&p, &q)) abort();
    sbuf_free(&b);

    if (binary) {
        sio_binary_t bp;
        int placeholders = p.data ? sio_placeholders_check(p.data, p.data_len, p.attachments) : 0;
        int brc = sio_binary_begin(&bp, s, size, &p);
        if (brc == 0 && p.attachments <= 4) {
            for (unsigned i = 0; brc == 0 && i < p.attachments; i++)
                brc = sio_binary_add(&bp, (const uint8_t *)"\x01\x02\x03", i);
            if (brc == 1 && (bp.received != p.attachments || !same(&p, &bp.pkt) ||
                             sio_binary_add(&bp, data, size) != SIO_EBINARY))
                abort();
        }
        if (brc == 1 && placeholders < 0) abort();
        if (brc < 0 && (brc != SIO_EPLACEHOLDER || placeholders >= 0)) abort();
        sio_binary_free(&bp);
    }
    return 0;
}
