/* libFuzzer driver: eio_payload_next over a copy of the input (decoding is in place); what
 * decodes re-encodes with eio_payload_append, and a fully valid body must decode again to
 * the same packets. */
#include "eio_packet.h"

#include <stdlib.h>
#include <string.h>

/* Decodes body (modified) into *pkts; returns the final code of eio_payload_next. */
static int decode_all(char *body, size_t len, eio_packet_t **pkts, size_t *n)
{
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, body, len);
    int rc;
    *n = 0;
    *pkts = malloc(sizeof **pkts * (len + 1)); /* never more packets than bytes + 1 */
    while ((rc = eio_payload_next(&it, &(*pkts)[*n])) == 1) (*n)++;
    eio_packet_t extra;
    if (eio_payload_next(&it, &extra) != rc) abort(); /* the end, or the error, is sticky */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    eio_packet_t *pkts;
    size_t n;
    int rc = decode_all(copy, size, &pkts, &n);
    if (rc != 0 && rc != EIO_EPAYLOAD && rc != EIO_ETYPE && rc != EIO_EBASE64) abort();

    sbuf_t out = SBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].type > EIO_NOOP || (pkts[i].binary && pkts[i].type != EIO_MESSAGE)) abort();
        size_t before = out.len, want = eio_payload_record_len(&pkts[i], out.len);
        eio_payload_append(&out, &pkts[i]);
        if (out.len - before != want) abort();
    }
    if (rc == 0) {
        /* Round trip: the same packets again (the bytes may differ only in base64 padding). */
        eio_packet_t *again;
        size_t m;
        if (decode_all(out.data, out.len, &again, &m) != 0 || m != n) abort();
        for (size_t i = 0; i < n; i++)
            if (again[i].type != pkts[i].type || again[i].binary != pkts[i].binary ||
                again[i].len != pkts[i].len ||
                (pkts[i].len && memcmp(again[i].data, pkts[i].data, pkts[i].len)))
                abort();
        free(again);
    }
    sbuf_free(&out);
    free(pkts);
    free(copy);
    return 0;
}
