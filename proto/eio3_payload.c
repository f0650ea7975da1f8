/* Engine.IO v3 polling payloads (see eio3_payload.h). */
#include "eio3_payload.h"
#include "base64.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

/* Longer lengths than this many digits are not lengths (a body is at most --max-payload). */
#define LEN_DIGITS_MAX 10

size_t eio3_utf16_len(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t units = 0;
    for (size_t i = 0; i < n;) {
        size_t bad = 1, k = utf8_seq(u + i, n - i, &bad);
        if (k) {
            units += k == 4 ? 2 : 1;
            i += k;
        } else {
            units++;
            i += bad ? bad : 1;
        }
    }
    return units;
}

/* Bytes of s[0..n) that make up `units` UTF-16 code units, or (size_t)-1 when the text ends
 * first or the last unit would split a character outside the BMP. */
static size_t utf16_span(const char *s, size_t n, size_t units)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (units > 0) {
        if (i >= n) return (size_t)-1;
        size_t bad = 1, k = utf8_seq(u + i, n - i, &bad);
        size_t w = k == 4 ? 2 : 1;
        if (w > units) return (size_t)-1;
        units -= w;
        i += k ? k : (bad ? bad : 1);
    }
    return i;
}

void eio3_payload_append(sbuf_t *out, const eio_packet_t *p)
{
    if (p->binary) {
        size_t n = base64_encoded_len(p->len);
        sbuf_printf(out, "%zu:b4", n + 2);
        sbuf_reserve(out, n);
        base64_encode(p->data, p->len, out->data + out->len);
        out->len += n;
        out->data[out->len] = '\0';
        return;
    }
    sbuf_printf(out, "%zu:%c", 1 + eio3_utf16_len((const char *)p->data, p->len),
                (char)('0' + p->type));
    sbuf_append(out, p->data, p->len);
}

void eio3_payload_append_binary(sbuf_t *out, const eio_packet_t *p)
{
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%zu", 1 + p->len);
    sbuf_reserve(out, 2 + (size_t)nd + 1 + p->len);
    sbuf_append_char(out, p->binary ? 1 : 0);
    for (int i = 0; i < nd; i++) sbuf_append_char(out, (char)(digits[i] - '0'));
    sbuf_append_char(out, (char)0xff);
    sbuf_append_char(out, p->binary ? (char)p->type : (char)('0' + p->type));
    sbuf_append(out, p->data, p->len);
}

void eio3_iter_init(eio3_iter_t *it, char *body, size_t len, int binary)
{
    it->p = body;
    it->end = body + len;
    it->binary = binary;
    it->done = len ? 0 : EIO_EPAYLOAD;
}

/* One record of a text body: "b4<base64>" or a text packet. */
static int text_record(char *rec, size_t n, eio_packet_t *out)
{
    if (rec[0] != 'b') return eio_packet_decode_text(rec, n, out);
    if (n < 2 || rec[1] != '0' + EIO_MESSAGE) return EIO_ETYPE;
    long dn = base64_decode(rec + 2, n - 2, (uint8_t *)rec);
    if (dn < 0) return EIO_EBASE64;
    out->type = EIO_MESSAGE;
    out->binary = 1;
    out->data = (const uint8_t *)rec;
    out->len = (size_t)dn;
    return 0;
}

int eio3_payload_next(eio3_iter_t *it, eio_packet_t *out)
{
    for (;;) {
        if (it->done) return it->done < 0 ? it->done : 0;
        if (it->p >= it->end) {
            it->done = 1;
            return 0;
        }
        int rc = EIO_EPAYLOAD;
        size_t len = 0, nd = 0;
        int is_binary = 0;
        char *q = it->p;
        if (it->binary) {
            unsigned char mark = (unsigned char)*q++;
            if (mark > 1) goto fail;
            is_binary = mark == 1;
            while (q < it->end && (unsigned char)*q != 0xff && nd < LEN_DIGITS_MAX) {
                if ((unsigned char)*q > 9) goto fail;
                len = len * 10 + (unsigned char)*q++;
                nd++;
            }
            if (q >= it->end || (unsigned char)*q != 0xff || nd == 0) goto fail;
            q++;
            if (len > (size_t)(it->end - q)) goto fail;
        } else {
            while (q < it->end && *q >= '0' && *q <= '9' && nd < LEN_DIGITS_MAX) {
                len = len * 10 + (size_t)(*q++ - '0');
                nd++;
            }
            if (q >= it->end || *q != ':' || nd == 0) goto fail;
            q++;
            size_t span = utf16_span(q, (size_t)(it->end - q), len);
            if (span == (size_t)-1) goto fail;
            len = span;
        }
        char *rec = q;
        it->p = q + len;
        if (len == 0) continue; /* skipped */
        if (!it->binary) {
            rc = text_record(rec, len, out);
        } else if (is_binary) {
            rc = eio3_frame_decode_binary((const uint8_t *)rec, len, out);
        } else {
            rc = eio_packet_decode_text(rec, len, out);
        }
        if (rc == 0) return 1;
    fail:
        it->done = rc;
        return rc;
    }
}

int eio3_frame_decode_binary(const uint8_t *s, size_t len, eio_packet_t *out)
{
    if (len == 0) return EIO_EEMPTY;
    if (s[0] > EIO_NOOP) return EIO_ETYPE;
    out->type = (eio_type_t)s[0];
    out->binary = 1;
    out->data = s + 1;
    out->len = len - 1;
    return 0;
}
