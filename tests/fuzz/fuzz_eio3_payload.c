/* libFuzzer driver: eio3_payload_next over a copy of the input (the first byte's low bit picks
 * a text or a binary body); what decodes re-encodes in the same form, and a fully valid body
 * must decode again to the same packets. Also eio3_utf16_len against the decoder's view. */
#include "eio3_payload.h"

#include <stdlib.h>
#include <string.h>

static int decode_all(char *body, size_t len, int binary, eio_packet_t **pkts, size_t *n)
{
    eio3_iter_t it;
    eio3_iter_init(&it, body, len, binary);
    int rc;
    *n = 0;
    *pkts = malloc(sizeof **pkts * (len + 1)); /* never more packets than bytes + 1 */
    while ((rc = eio3_payload_next(&it, &(*pkts)[*n])) == 1) (*n)++;
    eio_packet_t extra;
    if (eio3_payload_next(&it, &extra) != rc) abort(); /* the end, or the error, is sticky */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int binary = data[0] & 1;
    data++;
    size--;
    if (eio3_utf16_len((const char *)data, size) > size) abort(); /* never more units than bytes */
    char *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    eio_packet_t *pkts;
    size_t n;
    int rc = decode_all(copy, size, binary, &pkts, &n);
    if (rc != 0 && rc != EIO_EPAYLOAD && rc != EIO_ETYPE && rc != EIO_EBASE64 && rc != EIO_EEMPTY)
        abort();
    sbuf_t out = SBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].type > EIO_NOOP) abort();
        if (binary)
            eio3_payload_append_binary(&out, &pkts[i]);
        else if (!pkts[i].binary || pkts[i].type == EIO_MESSAGE)
            eio3_payload_append(&out, &pkts[i]);
        else
            abort(); /* a text body has only binary messages */
    }
    if (rc == 0 && n > 0) {
        eio_packet_t *again;
        size_t m;
        char *body = malloc(out.len);
        memcpy(body, out.data, out.len);
        if (decode_all(body, out.len, binary, &again, &m) != 0 || m != n) abort();
        for (size_t i = 0; i < n; i++)
            if (again[i].type != pkts[i].type || again[i].binary != pkts[i].binary ||
                again[i].len != pkts[i].len ||
                (pkts[i].len && memcmp(again[i].data, pkts[i].data, pkts[i].len)))
                abort();
        free(again);
        free(body);
    }
    sbuf_free(&out);
    free(pkts);
    free(copy);
    return 0;
}
