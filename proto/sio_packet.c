/* Socket.IO v5 packet codec (see sio_packet.h): header parsing as socket.io-parser's
 * decodeString does it, payload shape checks per packet type, and binary reassembly with the
 * placeholder checks of its reconstructPacket. */
#include "sio_packet.h"
#include "alloc.h"
#include "jtext.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

static const char root_nsp[] = "/";

/* Event names a peer may not emit (socket.io-parser RESERVED_EVENTS). */
static const char *const reserved_events[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

const char *sio_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case SIO_EEMPTY: return "empty packet";
    case SIO_ETYPE: return "unknown packet type";
    case SIO_EATTACHMENTS: return "illegal attachments";
    case SIO_ENAMESPACE: return "invalid namespace";
    case SIO_EACKID: return "invalid ack id";
    case SIO_EJSON: return "payload is not valid JSON";
    case SIO_EPAYLOAD: return "invalid payload for packet type";
    case SIO_EPLACEHOLDER: return "invalid attachment placeholder";
    case SIO_EBINARY: return "unexpected binary attachment";
    default: return "unknown error";
    }
}

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int is_binary_type(sio_type_t t)
{
    return t == SIO_BINARY_EVENT || t == SIO_BINARY_ACK;
}

/* A namespace is kept as a string key and echoed back to peers, so it must be valid UTF-8
 * without ASCII control characters (no real client sends either). */
static int nsp_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return utf8_valid(s, n);
}

int sio_event_reserved(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof reserved_events / sizeof *reserved_events; i++)
        if (strlen(reserved_events[i]) == n && memcmp(name, reserved_events[i], n) == 0) return 1;
    return 0;
}

static int is_reserved_event(const char *str, size_t len)
{
    char name[16];
    long n = jtext_string_decode(str, len, name, sizeof name);
    if (n < 0) return 0; /* longer than every reserved name */
    return sio_event_reserved(name, (size_t)n);
}

/* Payload rules of socket.io-parser's isPayloadValid; an absent payload is only valid for
 * CONNECT and DISCONNECT. */
static int check_payload(const sio_packet_t *p)
{
    if (!p->data) return p->type == SIO_CONNECT || p->type == SIO_DISCONNECT ? 0 : SIO_EPAYLOAD;
    jtext_kind_t kind = jtext_validate(p->data, p->data_len);
    if (kind == JTEXT_INVALID) return SIO_EJSON;
    switch (p->type) {
    case SIO_CONNECT: return kind == JTEXT_OBJECT ? 0 : SIO_EPAYLOAD;
    case SIO_DISCONNECT: return SIO_EPAYLOAD;
    case SIO_CONNECT_ERROR: return kind == JTEXT_OBJECT || kind == JTEXT_STRING ? 0 : SIO_EPAYLOAD;
    case SIO_ACK:
    case SIO_BINARY_ACK: return kind == JTEXT_ARRAY ? 0 : SIO_EPAYLOAD;
    case SIO_EVENT:
    case SIO_BINARY_EVENT: {
        if (kind != JTEXT_ARRAY) return SIO_EPAYLOAD;
        jtext_iter_t it;
        const char *e;
        size_t elen;
        jtext_kind_t ek;
        jtext_iter_init(&it, p->data, p->data_len);
        if (!jtext_array_next(&it, &e, &elen, &ek)) return SIO_EPAYLOAD;
        if (ek == JTEXT_NUMBER) return 0;
        if (ek == JTEXT_STRING && !is_reserved_event(e, elen)) return 0;
        return SIO_EPAYLOAD;
    }
    }
    return SIO_ETYPE;
}

int sio_packet_decode(const char *s, size_t len, sio_packet_t *out)
{
    if (len == 0) return SIO_EEMPTY;
    if (s[0] < '0' || s[0] > '6') return SIO_ETYPE;
    sio_packet_t p = {(sio_type_t)(s[0] - '0'), root_nsp, 1, -1, 0, NULL, 0};
    size_t i = 1;

    if (is_binary_type(p.type)) {
        size_t start = i;
        unsigned n = 0;
        for (; i < len && is_digit(s[i]); i++)
            if (n <= SIO_MAX_ATTACHMENTS) n = n * 10 + (unsigned)(s[i] - '0');
        if (i == start || i >= len || s[i] != '-' || n > SIO_MAX_ATTACHMENTS)
            return SIO_EATTACHMENTS;
        p.attachments = n;
        i++;
    }

    /* The namespace runs to the first ',' or to the end of the packet. */
    if (i < len && s[i] == '/') {
        const char *comma = memchr(s + i, ',', len - i);
        size_t nend = comma ? (size_t)(comma - s) : len;
        if (!nsp_valid(s + i, nend - i)) return SIO_ENAMESPACE;
        p.nsp = s + i;
        p.nsp_len = nend - i;
        i = comma ? nend + 1 : len;
    }

    if (i < len && is_digit(s[i])) {
        int64_t id = 0;
        for (; i < len && is_digit(s[i]); i++) {
            int d = s[i] - '0';
            if (id > (SIO_MAX_ACK_ID - d) / 10) return SIO_EACKID;
            id = id * 10 + d;
        }
        p.id = id;
    }

    if (i < len) {
        p.data = s + i;
        p.data_len = len - i;
        /* "21-[...]": an attachment count on a non-binary type reads as ack id 1 and a
         * payload starting with '-', which no packet type accepts; name the real mistake. */
        if (!is_binary_type(p.type) && p.id >= 0 && s[i] == '-') return SIO_EATTACHMENTS;
    }
    int rc = check_payload(&p);
    if (rc < 0) return rc;
    *out = p;
    return 0;
}

/* Writes v in decimal at the end of out. */
static void append_u64(sbuf_t *out, uint64_t v)
{
    char buf[24];
    size_t n = sizeof buf;
    do {
        buf[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sbuf_append(out, buf + n, sizeof buf - n);
}

void sio_packet_encode(sbuf_t *out, const sio_packet_t *p)
{
    int named = p->nsp && p->nsp_len > 0 && !(p->nsp_len == 1 && p->nsp[0] == '/');
    sbuf_reserve(out, 48 + (named ? p->nsp_len : 0) + (p->data ? p->data_len : 0));
    sbuf_append_char(out, (char)('0' + p->type));
    if (is_binary_type(p->type)) {
        append_u64(out, p->attachments);
        sbuf_append_char(out, '-');
    }
    if (named) {
        sbuf_append(out, p->nsp, p->nsp_len);
        sbuf_append_char(out, ',');
    }
    if (p->id >= 0) append_u64(out, (uint64_t)p->id);
    if (p->data) sbuf_append(out, p->data, p->data_len);
}

int sio_placeholder_num(const char *num, size_t len, unsigned nattach)
{
    if (!num || len == 0 || len > 10) return SIO_EPLACEHOLDER;
    unsigned long long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(num[i])) return SIO_EPLACEHOLDER;
        x = x * 10 + (unsigned)(num[i] - '0');
    }
    return x < nattach ? (int)x : SIO_EPLACEHOLDER;
}

/* Placeholder walk over validated JSON, following reconstructPacket: an object whose
 * "_placeholder" is true is replaced whole (its other members are not visited); any other
 * array or object is searched. Recursion is bounded by JTEXT_MAX_DEPTH, which the text was
 * validated against. Duplicate keys: the last "_placeholder" and "num" win, as in JSON.parse;
 * members shadowed by a later duplicate key are still searched (JSON.parse would drop them,
 * JSON.stringify never writes them). */
typedef struct {
    const char *p, *end;
    unsigned nattach;
} walk_t;

/* Returns the number of placeholders in the value at w->p, or SIO_EPLACEHOLDER; always
 * leaves w->p after the value. */
static int walk_value(walk_t *w)
{
    w->p = jtext_skip_ws(w->p, w->end);
    if (w->p >= w->end) return 0;
    char c = *w->p;
    if (c != '[' && c != '{') {
        w->p = jtext_skip(w->p, w->end);
        return 0;
    }
    char close = c == '[' ? ']' : '}';
    int total = 0, err = 0, placeholder = 0;
    const char *num = NULL;
    size_t num_len = 0;
    w->p++;
    for (;;) {
        w->p = jtext_skip_ws(w->p, w->end);
        if (w->p >= w->end) break;
        if (*w->p == close) {
            w->p++;
            break;
        }
        if (*w->p == ',') {
            w->p++;
            continue;
        }
        int key = 0; /* 1: "_placeholder", 2: "num" */
        if (c == '{') {
            const char *k = w->p;
            w->p = jtext_skip(w->p, w->end);
            size_t klen = (size_t)(w->p - k);
            if (jtext_string_is(k, klen, "_placeholder"))
                key = 1;
            else if (jtext_string_is(k, klen, "num"))
                key = 2;
            w->p = jtext_skip_ws(w->p, w->end);
            if (w->p < w->end && *w->p == ':') w->p++;
            w->p = jtext_skip_ws(w->p, w->end);
        }
        const char *v = w->p;
        int r = walk_value(w);
        size_t vlen = (size_t)(w->p - v);
        if (key == 1)
            placeholder = vlen == 4 && memcmp(v, "true", 4) == 0;
        else if (key == 2)
            num = v, num_len = vlen;
        if (r < 0)
            err = 1;
        else
            total += r;
    }
    if (placeholder)
        return sio_placeholder_num(num, num_len, w->nattach) >= 0 ? 1 : SIO_EPLACEHOLDER;
    return err ? SIO_EPLACEHOLDER : total;
}

int sio_placeholders_check(const char *json, size_t len, unsigned nattach)
{
    if (jtext_validate(json, len) == JTEXT_INVALID) return SIO_EJSON;
    walk_t w = {json, json + len, nattach};
    return walk_value(&w);
}

void sio_binary_free(sio_binary_t *bp)
{
    if (bp->att)
        for (unsigned i = 0; i < bp->received; i++) free(bp->att[i].data);
    free(bp->att);
    free(bp->text);
    memset(bp, 0, sizeof *bp);
}

/* Checks the placeholders once every attachment is in: 1 when valid, else SIO_EPLACEHOLDER. */
static int binary_complete(const sio_binary_t *bp)
{
    if (!bp->pkt.data) return 1;
    int rc = sio_placeholders_check(bp->pkt.data, bp->pkt.data_len, bp->pkt.attachments);
    return rc < 0 ? SIO_EPLACEHOLDER : 1;
}

int sio_binary_begin(sio_binary_t *bp, const char *s, size_t len, const sio_packet_t *decoded)
{
    memset(bp, 0, sizeof *bp);
    if (!is_binary_type(decoded->type)) return SIO_ETYPE;
    if (decoded->attachments > SIO_MAX_ATTACHMENTS) return SIO_EATTACHMENTS;
    bp->pkt = *decoded;
    bp->text = xstrndup(s, len);
    /* Re-point the borrowed fields into the owned copy (the root "/" is static). */
    uintptr_t base = (uintptr_t)s, top = base + len;
    if ((uintptr_t)decoded->nsp >= base && (uintptr_t)decoded->nsp < top)
        bp->pkt.nsp = bp->text + ((uintptr_t)decoded->nsp - base);
    if (decoded->data) {
        if ((uintptr_t)decoded->data < base || (uintptr_t)decoded->data + decoded->data_len > top) {
            sio_binary_free(bp);
            return SIO_EPAYLOAD;
        }
        bp->pkt.data = bp->text + ((uintptr_t)decoded->data - base);
    }
    if (decoded->attachments == 0) {
        int rc = binary_complete(bp);
        if (rc < 0) sio_binary_free(bp);
        return rc;
    }
    bp->att = xcalloc(decoded->attachments, sizeof *bp->att);
    return 0;
}

int sio_binary_add(sio_binary_t *bp, const uint8_t *data, size_t len)
{
    if (!bp->att || bp->received >= bp->pkt.attachments) return SIO_EBINARY;
    bp->att[bp->received].data = xmemdup(data, len);
    bp->att[bp->received].len = len;
    bp->received++;
    return bp->received == bp->pkt.attachments ? binary_complete(bp) : 0;
}
