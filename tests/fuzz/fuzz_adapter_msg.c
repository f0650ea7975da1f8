/* libFuzzer driver: adapter_msg decoders on arbitrary bytes. Whatever decodes must re-encode,
 * decode again to the same thing, and re-encode to the same bytes; a decoded value's JSON
 * must be valid with exactly one placeholder per attachment. */
#include "adapter_msg.h"
#include "jtext.h"

#include <stdlib.h>
#include <string.h>

static int same_value(const mpjson_value_t *a, const mpjson_value_t *b)
{
    if (!a->json != !b->json || a->json_len != b->json_len || a->natt != b->natt) return 0;
    if (a->json && memcmp(a->json, b->json, a->json_len)) return 0;
    for (unsigned k = 0; k < a->natt; k++)
        if (a->att[k].len != b->att[k].len || memcmp(a->att[k].data, b->att[k].data, a->att[k].len))
            return 0;
    return 1;
}

static int same_str(const amsg_str_t *a, const amsg_str_t *b)
{
    return !a->s == !b->s && a->len == b->len && (!a->s || !memcmp(a->s, b->s, a->len));
}

static int same_list(const amsg_str_t *a, size_t na, const amsg_str_t *b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t k = 0; k < na; k++)
        if (!same_str(&a[k], &b[k])) return 0;
    return 1;
}

static int same_broadcast(const amsg_broadcast_t *a, const amsg_broadcast_t *b)
{
    return same_str(&a->uid, &b->uid) && same_str(&a->request_id, &b->request_id) &&
           a->type == b->type && same_str(&a->nsp, &b->nsp) && a->id == b->id &&
           same_value(&a->data, &b->data) && same_list(a->rooms, a->nrooms, b->rooms, b->nrooms) &&
           same_list(a->except, a->nexcept, b->except, b->nexcept) &&
           !memcmp(&a->flags, &b->flags, sizeof a->flags);
}

static void check_json(const mpjson_value_t *v)
{
    if (!v->json) {
        if (v->natt) abort();
        return;
    }
    if (v->json[v->json_len] != 0) abort();
    if (jtext_validate(v->json, v->json_len) == JTEXT_INVALID) abort();
    if (sio_placeholders_check(v->json, v->json_len, v->natt) != (int)v->natt) abort();
}

static void fuzz_value(const uint8_t *data, size_t size)
{
    mpjson_value_t v, w;
    if (mpjson_decode(data, size, &v)) return;
    check_json(&v);
    if (v.json) {
        sbuf_t b1 = SBUF_INIT, b2 = SBUF_INIT;
        if (mpjson_encode(&b1, v.json, v.json_len, v.att, v.natt)) abort();
        if (mpjson_decode((const uint8_t *)b1.data, b1.len, &w)) abort();
        if (!same_value(&v, &w)) abort();
        if (mpjson_encode(&b2, w.json, w.json_len, w.att, w.natt)) abort();
        if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) abort();
        mpjson_value_free(&w);
        sbuf_free(&b1);
        sbuf_free(&b2);
    }
    mpjson_value_free(&v);
}

typedef int (*bdec_t)(const uint8_t *, size_t, amsg_broadcast_t *);
typedef int (*benc_t)(sbuf_t *, const amsg_broadcast_t *);

static void fuzz_broadcast(const uint8_t *data, size_t size, bdec_t dec, benc_t enc)
{
    amsg_broadcast_t m, n;
    int rc = dec(data, size, &m);
    if (rc) {
        if (m.uid.s || m.rooms || m.data.json) abort(); /* zeroed on error */
        return;
    }
    check_json(&m.data);
    if (!m.data.json || m.data.json[0] != '[' || !m.nsp.s) abort();
    sbuf_t b1 = SBUF_INIT, b2 = SBUF_INIT;
    if (enc(&b1, &m)) abort();
    if (dec((const uint8_t *)b1.data, b1.len, &n)) abort();
    if (!same_broadcast(&m, &n)) abort();
    if (enc(&b2, &n)) abort();
    if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) abort();
    amsg_broadcast_free(&n);
    amsg_broadcast_free(&m);
    sbuf_free(&b1);
    sbuf_free(&b2);
}

static void fuzz_ack(const uint8_t *data, size_t size)
{
    amsg_ack_t a, c;
    if (amsg_ack_decode(data, size, &a)) return;
    check_json(&a.arg);
    sbuf_t b1 = SBUF_INIT, b2 = SBUF_INIT;
    if (amsg_ack_encode(&b1, &a)) abort();
    if (amsg_ack_decode((const uint8_t *)b1.data, b1.len, &c)) abort();
    if (!same_str(&a.request_id, &c.request_id) || !same_value(&a.arg, &c.arg)) abort();
    if (amsg_ack_encode(&b2, &c)) abort();
    if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) abort();
    amsg_ack_free(&a);
    amsg_ack_free(&c);
    sbuf_free(&b1);
    sbuf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_value(data, size);
    fuzz_broadcast(data, size, amsg_broadcast_decode, amsg_broadcast_encode);
    fuzz_broadcast(data, size, amsg_bcast_request_decode, amsg_bcast_request_encode);
    fuzz_ack(data, size);
    int t = amsg_peek_type(data, size);
    if (t < AMSG_ESHAPE) abort();

    /* The same bytes as JSON text, encoded with two attachments. */
    static const sio_attachment_t att[2] = {{(uint8_t *)"\x00\x01", 2}, {(uint8_t *)"", 0}};
    sbuf_t b = SBUF_INIT;
    if (mpjson_encode(&b, (const char *)data, size, att, 2) == 0) {
        mpjson_value_t v;
        if (mpjson_decode((const uint8_t *)b.data, b.len, &v)) abort();
        check_json(&v);
        mpjson_value_free(&v);
    } else if (b.len) {
        abort();
    }
    sbuf_free(&b);
    return 0;
}
