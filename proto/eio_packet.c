/* Engine.IO v4 packet codec (see eio_packet.h): WebSocket frames are one packet each; polling
 * bodies are records split on 0x1e, binary records 'b' + base64 decoded in place. */
#include "eio_packet.h"
#include "base64.h"

#include <string.h>

const char *eio_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case EIO_EEMPTY: return "empty packet";
    case EIO_ETYPE: return "unknown packet type";
    case EIO_EBASE64: return "invalid base64 in binary record";
    case EIO_EPAYLOAD: return "malformed payload";
    default: return "unknown error";
    }
}

int eio_packet_decode_text(const char *s, size_t len, eio_packet_t *out)
{
    if (len == 0) return EIO_EEMPTY;
    if (s[0] < '0' || s[0] > '6') return EIO_ETYPE;
    out->type = (eio_type_t)(s[0] - '0');
    out->binary = 0;
    out->data = (const uint8_t *)s + 1;
    out->len = len - 1;
    return 0;
}

void eio_packet_encode(sbuf_t *out, const eio_packet_t *p)
{
    if (p->binary) {
        sbuf_append(out, p->data, p->len);
        return;
    }
    sbuf_reserve(out, 1 + p->len);
    sbuf_append_char(out, (char)('0' + p->type));
    sbuf_append(out, p->data, p->len);
}

void eio_payload_iter_init(eio_payload_iter_t *it, char *body, size_t len)
{
    it->p = body;
    it->end = body + len;
    it->done = 0;
}

/* it->done: 0 while records remain, 1 after the last one, or the error that stopped
 * iteration, so a caller that keeps calling sees the same error again. */
int eio_payload_next(eio_payload_iter_t *it, eio_packet_t *out)
{
    if (it->done) return it->done < 0 ? it->done : 0;

    char *rec = it->p;
    char *sep = rec < it->end ? memchr(rec, EIO_RECORD_SEPARATOR, (size_t)(it->end - rec)) : NULL;
    char *rec_end = sep ? sep : it->end;
    if (sep)
        it->p = sep + 1;
    else
        it->p = it->end, it->done = 1;

    size_t n = (size_t)(rec_end - rec);
    int rc;
    if (n == 0) {
        rc = EIO_EPAYLOAD;
    } else if (rec[0] == 'b') {
        long dn = base64_decode(rec + 1, n - 1, (uint8_t *)rec);
        if (dn < 0) {
            rc = EIO_EBASE64;
        } else {
            out->type = EIO_MESSAGE;
            out->binary = 1;
            out->data = (const uint8_t *)rec;
            out->len = (size_t)dn;
            return 1;
        }
    } else {
        rc = eio_packet_decode_text(rec, n, out);
        if (rc == 0) return 1;
    }
    it->done = rc;
    return rc;
}

size_t eio_payload_record_len(const eio_packet_t *p, size_t out_len)
{
    size_t body = p->binary ? base64_encoded_len(p->len) : p->len;
    return (out_len > 0) + 1 + body;
}

void eio_payload_append(sbuf_t *out, const eio_packet_t *p)
{
    sbuf_reserve(out, eio_payload_record_len(p, out->len));
    if (out->len > 0) sbuf_append_char(out, EIO_RECORD_SEPARATOR);
    if (!p->binary) {
        sbuf_append_char(out, (char)('0' + p->type));
        sbuf_append(out, p->data, p->len);
        return;
    }
    sbuf_append_char(out, 'b');
    size_t n = base64_encoded_len(p->len);
    base64_encode(p->data, p->len, out->data + out->len);
    out->len += n;
    out->data[out->len] = '\0';
}
