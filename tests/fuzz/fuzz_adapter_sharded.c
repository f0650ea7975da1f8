/* libFuzzer driver: adapter_sharded on arbitrary bytes. A message that decodes must re-encode
 * (unless it carries binary in a type sent as JSON), decode again to the same message, and
 * re-encode to the same bytes; its data must be valid JSON with one placeholder per
 * attachment. Read into the classic forms, a request or broadcast must be written back as a
 * message of the same type. The same bytes read as a channel name must be rebuilt exactly. */
#include "adapter_sharded.h"
#include "adapter_sharded_classic.h"
#include "jtext.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

static int same_str(const amsg_str_t *a, const amsg_str_t *b)
{
    return !a->s == !b->s && a->len == b->len && (!a->s || !memcmp(a->s, b->s, a->len));
}

static int same_msg(const adapter_sharded_msg_t *a, const adapter_sharded_msg_t *b)
{
    const mpjson_value_t *x = &a->data, *y = &b->data;
    if (a->type != b->type || !same_str(&a->uid, &b->uid) || !same_str(&a->nsp, &b->nsp)) return 0;
    if (!x->json != !y->json || x->json_len != y->json_len || x->natt != y->natt) return 0;
    if (x->json && memcmp(x->json, y->json, x->json_len)) return 0;
    for (unsigned k = 0; k < x->natt; k++)
        if (x->att[k].len != y->att[k].len || memcmp(x->att[k].data, y->att[k].data, x->att[k].len))
            return 0;
    return 1;
}

static void check_str(const amsg_str_t *s)
{
    if (s->s && (s->s[s->len] != 0 || !utf8_valid(s->s, s->len))) abort();
}

/* The classic forms of a decoded message. */
static void fuzz_classic(const adapter_sharded_msg_t *m)
{
    const amsg_str_t uid = {"u", 1}, nsp = {"/", 1};
    adapter_sharded_msg_t back;
    adapter_request_t req;
    if (adapter_sharded_request_read(m, &req) == 0) {
        sbuf_t out = SBUF_INIT;
        if (adapter_sharded_request_write(&out, req.doc, uid, nsp) == 0) {
            if (adapter_sharded_decode((const uint8_t *)out.data, out.len, &back)) abort();
            if (back.type != m->type) abort();
            adapter_sharded_msg_free(&back);
        } else if (m->type != ADAPTER_SHARDED_SERVER_SIDE_EMIT) {
            abort(); /* only an emit whose packet is no array is refused */
        }
        sbuf_free(&out);
    } else if (req.doc) {
        abort();
    }
    adapter_request_free(&req);
    amsg_broadcast_t b;
    if (adapter_sharded_broadcast_read(m, &b) == 0) {
        sbuf_t out = SBUF_INIT;
        if (adapter_sharded_broadcast_write(&out, &b) == 0) {
            if (adapter_sharded_decode((const uint8_t *)out.data, out.len, &back)) abort();
            if (back.type != ADAPTER_SHARDED_BROADCAST) abort();
            adapter_sharded_msg_free(&back);
        }
        sbuf_free(&out);
        amsg_broadcast_free(&b);
    }
    adapter_response_t resp;
    if (adapter_sharded_response_read(m, &resp) == 0 && !resp.request_id) abort();
    adapter_response_free(&resp);
}

static void fuzz_message(const uint8_t *data, size_t size)
{
    adapter_sharded_msg_t m, n;
    int rc = adapter_sharded_decode(data, size, &m);
    if (rc) {
        if (rc >= 0 || m.type || m.data.json || m.uid.s || m.nsp.s) abort(); /* zeroed */
        return;
    }
    if (m.type < 0) abort();
    check_str(&m.uid);
    check_str(&m.nsp);
    if (m.data.json) {
        if (m.data.json[m.data.json_len] != 0) abort();
        if (jtext_validate(m.data.json, m.data.json_len) == JTEXT_INVALID) abort();
        if (m.data.natt &&
            sio_placeholders_check(m.data.json, m.data.json_len, m.data.natt) != (int)m.data.natt)
            abort();
    } else if (m.data.natt) {
        abort();
    }
    fuzz_classic(&m);
    sbuf_t b1 = SBUF_INIT, b2 = SBUF_INIT;
    rc = adapter_sharded_encode(&b1, &m);
    if (rc == ADAPTER_SHARDED_EBINARY && m.data.natt) {
        if (b1.len) abort();
        adapter_sharded_msg_free(&m);
        return;
    }
    if (rc) abort();
    /* JSON exactly when Node would write JSON */
    if ((b1.data[0] == '{') != (m.data.natt == 0)) abort();
    if (adapter_sharded_decode((const uint8_t *)b1.data, b1.len, &n)) abort();
    if (!same_msg(&m, &n)) abort();
    if (adapter_sharded_encode(&b2, &n)) abort();
    if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) abort();
    adapter_sharded_msg_free(&n);
    adapter_sharded_msg_free(&m);
    sbuf_free(&b1);
    sbuf_free(&b2);
}

static void fuzz_channel(const uint8_t *data, size_t size)
{
    const amsg_str_t key = {"socket.io", 9}, nsp = {"/", 1}, uid = {"3e1321993b7839be", 16};
    amsg_str_t name;
    int kind = adapter_sharded_channel_parse((const char *)data, size, key, nsp, uid, &name);
    if (kind < 0) return;
    if (name.s < (const char *)data || name.s + name.len > (const char *)data + size) abort();
    if ((kind == ADAPTER_SHARDED_CH_PRIVATE) !=
        (name.len == uid.len && kind != 0 && !memcmp(name.s, uid.s, uid.len)))
        abort();
    sbuf_t b = SBUF_INIT;
    adapter_sharded_channel(&b, key, nsp,
                            kind == ADAPTER_SHARDED_CH_NAMESPACE ? (amsg_str_t){NULL, 0} : name);
    if (b.len != size || memcmp(b.data, data, size)) abort();
    sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_message(data, size);
    fuzz_channel(data, size);
    amsg_str_t room = {(const char *)data, size};
    int like = adapter_sharded_socket_id_like(room.s, room.len);
    if (like && (size < 20 || size > 80)) abort();
    int to_room = adapter_sharded_publish_to_room(ADAPTER_SHARDED_MODE_DYNAMIC,
                                                  ADAPTER_SHARDED_BROADCAST, 0, &room, 1);
    if (to_room == like) abort();
    return 0;
}
