/* libFuzzer driver: sio_packet_decode; accepted packets re-encode and decode to the same
 * fields, and binary ones are reassembled with sio_binary_begin/add from attachments taken
 * from the input. The input is the packet text, then optionally a 0xff byte (never part of a
 * valid packet: it is not UTF-8) and attachments, each a length byte and that many bytes (the
 * last one cut short by the end). Without that part, each awaited attachment is a prefix of
 * the packet. The outcome must agree with sio_placeholders_check, the attachments kept must be
 * the bytes fed, and one more than announced is refused without changing anything. */
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

typedef struct {
    const uint8_t *p;
    size_t len;
} blob_t;

/* Splits the attachment part (after the 0xff) into blobs; returns how many (at most max). */
static size_t attachments(const uint8_t *p, size_t n, blob_t *out, size_t max)
{
    size_t k = 0;
    while (n && k < max) {
        size_t len = p[0] < n - 1 ? p[0] : n - 1;
        out[k].p = p + 1;
        out[k++].len = len;
        p += 1 + len;
        n -= 1 + len;
    }
    return k;
}

static void check_binary(const char *s, size_t size, const sio_packet_t *p, const uint8_t *tail,
                         size_t tail_len, int has_tail)
{
    static blob_t fed[SIO_MAX_ATTACHMENTS + 2];
    size_t nfed;
    if (has_tail) {
        nfed = attachments(tail, tail_len, fed, SIO_MAX_ATTACHMENTS + 2);
    } else {
        nfed = p->attachments;
        for (size_t i = 0; i < nfed; i++) fed[i] = (blob_t){(const uint8_t *)s, i % (size + 1)};
    }
    sio_binary_t bp;
    int placeholders = p->data ? sio_placeholders_check(p->data, p->data_len, p->attachments) : 0;
    int brc = sio_binary_begin(&bp, s, size, p);
    if (brc < 0) {
        if (brc != SIO_EPLACEHOLDER || placeholders >= 0 || p->attachments) abort();
        if (bp.text || bp.att) abort(); /* empty on error */
        return;
    }
    if (brc == 1 && p->attachments) abort();
    size_t i = 0;
    for (; brc == 0 && i < nfed; i++) {
        brc = sio_binary_add(&bp, fed[i].p, fed[i].len);
        if (brc == 0 && (bp.received != i + 1 || i + 1 >= p->attachments)) abort();
    }
    if (brc == 0) {
        /* still waiting: fewer were fed than announced */
        if (nfed >= p->attachments || bp.received != nfed) abort();
    } else {
        /* complete, every attachment announced received: valid or not by its placeholders */
        if (bp.received != p->attachments || !same(p, &bp.pkt)) abort();
        if ((brc == 1) != (placeholders >= 0)) abort();
        if (brc != 1 && brc != SIO_EPLACEHOLDER) abort();
        for (size_t k = 0; k < p->attachments; k++)
            if (bp.att[k].len != fed[k].len || memcmp(bp.att[k].data, fed[k].p, fed[k].len))
                abort();
        /* one too many is refused and changes nothing */
        blob_t extra = i < nfed ? fed[i] : (blob_t){(const uint8_t *)s, size};
        if (sio_binary_add(&bp, extra.p, extra.len) != SIO_EBINARY || bp.received != p->attachments)
            abort();
        if (brc == 1 && bp.pkt.data &&
            sio_placeholders_check(bp.pkt.data, bp.pkt.data_len, bp.received) != placeholders)
            abort();
    }
    sio_binary_free(&bp);
    if (bp.text || bp.att || bp.received) abort();
    sio_binary_free(&bp); /* freeing twice is fine */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, 0xff, size);
    size_t plen = sep ? (size_t)(sep - data) : size;
    const uint8_t *tail = sep ? sep + 1 : NULL;
    size_t tail_len = sep ? size - plen - 1 : 0;

    /* an exact-size copy of the packet text, so a read past it is seen */
    char *s = malloc(plen ? plen : 1);
    memcpy(s, data, plen);
    sio_packet_t p, q;
    int rc = sio_packet_decode(s, plen, &p);
    if (rc < 0) {
        if (rc < SIO_EBINARY) abort();
        free(s);
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
        check_binary(s, plen, &p, tail, tail_len, sep != NULL);
    } else {
        sio_binary_t bp;
        if (sio_binary_begin(&bp, s, plen, &p) != SIO_ETYPE || bp.text || bp.att) abort();
    }
    free(s);
    return 0;
}
