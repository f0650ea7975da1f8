/* Redis adapter messages (see adapter_msg.h): the message structure over the msgpack reader
 * and the value conversion of msgpack_json.h. Encoding uses msgpack-c's packer, which picks
 * the smallest forms as notepack does. */
#include "adapter_msg.h"

#include "alloc.h"

#include <msgpack.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *amsg_strerror(int err)
{
    return err == AMSG_ESHAPE ? "unexpected message shape" : mpjson_strerror(err);
}

static int sbuf_write(void *data, const char *buf, size_t len)
{
    sbuf_append(data, buf, len);
    return 0;
}

static void truncate_to(sbuf_t *out, size_t len)
{
    if (out->data && out->len > len) {
        out->len = len;
        out->data[len] = 0;
    }
}

/* ---- message structure ---- */

static void str_copy(amsg_str_t *s, const char *p, size_t n)
{
    char *t = xmalloc(n + 1);
    memcpy(t, p, n);
    t[n] = 0;
    s->s = t;
    s->len = n;
}

static void str_free(amsg_str_t *s)
{
    free((char *)s->s);
    s->s = NULL;
    s->len = 0;
}

/* Reads a str value into an owned string (UTF-8 cleaned). */
static int read_str(mpjson_reader_t *r, amsg_str_t *out)
{
    mpjson_item_t it;
    int rc = mpjson_read_item(r, &it);
    if (rc) return rc;
    if (it.kind != MPJSON_STR) return AMSG_ESHAPE;
    sbuf_t tmp = SBUF_INIT;
    mpjson_string_of(&tmp, &it);
    str_copy(out, tmp.data ? tmp.data : "", tmp.len);
    sbuf_free(&tmp);
    return 0;
}

/* mpjson_map_find reports a value that is no map as MPJSON_EKIND: our AMSG_ESHAPE. */
_Static_assert((int)AMSG_ESHAPE == (int)MPJSON_EKIND, "a map_find shape error is AMSG_ESHAPE");

/* Whether the value at v (NULL: absent) is the unsigned integer want. */
static int is_uint(const uint8_t *v, const uint8_t *end, uint64_t want)
{
    if (!v) return 0;
    mpjson_reader_t r = {v, end};
    mpjson_item_t it;
    return !mpjson_read_item(&r, &it) && it.kind == MPJSON_UINT && it.u == want;
}

/* JavaScript truthiness of a validated value. */
static int truthy(const uint8_t *v, const uint8_t *end)
{
    mpjson_reader_t r = {v, end};
    mpjson_item_t it;
    return !mpjson_read_item(&r, &it) && mpjson_truthy(&it);
}

static int read_flags(const uint8_t *v, const uint8_t *end, amsg_flags_t *f)
{
    f->is_volatile = f->compress = f->expect_single_response = AMSG_UNSET;
    f->timeout = AMSG_UNSET;
    if (!v || *v == 0xc0) return 0;
    static const char *const names[] = {"volatile", "compress", "timeout", "expectSingleResponse"};
    const uint8_t *pos[4];
    mpjson_reader_t r = {v, end};
    int rc = mpjson_map_find(&r, 0, names, 4, pos);
    if (rc) return rc;
    if (pos[0]) f->is_volatile = truthy(pos[0], end);
    if (pos[1]) f->compress = truthy(pos[1], end);
    if (pos[3]) f->expect_single_response = truthy(pos[3], end);
    if (pos[2]) {
        mpjson_reader_t tr = {pos[2], end};
        mpjson_item_t it;
        if ((rc = mpjson_read_item(&tr, &it))) return rc;
        if (it.kind == MPJSON_UINT)
            f->timeout = it.u > INT64_MAX ? INT64_MAX : (int64_t)it.u;
        else if (it.kind == MPJSON_INT)
            f->timeout = 0;
        else if ((it.kind == MPJSON_F32 || it.kind == MPJSON_F64) && !isnan(it.f))
            f->timeout = it.f <= 0 ? 0 : it.f >= 9.2e18 ? INT64_MAX : (int64_t)it.f;
        else if (it.kind != MPJSON_NIL)
            return AMSG_ESHAPE;
    }
    return 0;
}

/* Rooms: nil or an array of strings or numbers (numbers become String(n)). */
static int read_rooms(const uint8_t *v, const uint8_t *end, amsg_str_t **list, size_t *n)
{
    *list = NULL;
    *n = 0;
    if (!v) return 0;
    mpjson_reader_t r = {v, end};
    mpjson_item_t it;
    int rc = mpjson_read_item(&r, &it);
    if (rc) return rc;
    if (it.kind == MPJSON_NIL) return 0;
    if (it.kind != MPJSON_ARR) return AMSG_ESHAPE;
    if (!it.u) return 0;
    amsg_str_t *l = xcalloc((size_t)it.u, sizeof *l);
    *list = l;
    sbuf_t tmp = SBUF_INIT;
    for (uint64_t k = 0; k < it.u; k++) {
        mpjson_item_t e;
        if ((rc = mpjson_read_item(&r, &e))) break;
        sbuf_reset(&tmp);
        if (mpjson_string_of(&tmp, &e)) {
            rc = AMSG_ESHAPE;
            break;
        }
        if (!tmp.data) sbuf_append(&tmp, "", 0);
        str_copy(&l[k], tmp.data, tmp.len);
        (*n)++;
    }
    sbuf_free(&tmp);
    return rc;
}

static int read_opts(const uint8_t *v, const uint8_t *end, amsg_broadcast_t *b)
{
    static const char *const names[] = {"rooms", "except", "flags"};
    const uint8_t *pos[3];
    if (!v) return AMSG_ESHAPE;
    mpjson_reader_t r = {v, end};
    int rc = mpjson_map_find(&r, 0, names, 3, pos);
    if (rc) return rc;
    if ((rc = read_rooms(pos[0], end, &b->rooms, &b->nrooms))) return rc;
    if ((rc = read_rooms(pos[1], end, &b->except, &b->nexcept))) return rc;
    return read_flags(pos[2], end, &b->flags);
}

static int read_packet(const uint8_t *v, const uint8_t *end, amsg_broadcast_t *b)
{
    static const char *const names[] = {"type", "data", "nsp", "id"};
    const uint8_t *pos[4];
    if (!v) return AMSG_ESHAPE;
    mpjson_reader_t r = {v, end};
    int rc = mpjson_map_find(&r, 0, names, 4, pos);
    if (rc) return rc;
    mpjson_item_t it;
    if (!pos[0] || !pos[1]) return AMSG_ESHAPE;
    mpjson_reader_t tr = {pos[0], end};
    if ((rc = mpjson_read_item(&tr, &it))) return rc;
    if (it.kind != MPJSON_UINT || (it.u != SIO_EVENT && it.u != SIO_BINARY_EVENT))
        return AMSG_ESHAPE;
    b->type = (int)it.u;
    if (*pos[1] != 0xdc && *pos[1] != 0xdd && (*pos[1] & 0xf0) != 0x90) return AMSG_ESHAPE;
    mpjson_reader_t dr = {pos[1], end};
    if ((rc = mpjson_read_value(&dr, &b->data))) return rc;
    if (pos[2]) {
        mpjson_reader_t nr = {pos[2], end};
        if ((rc = read_str(&nr, &b->nsp))) return rc;
    } else {
        str_copy(&b->nsp, "/", 1);
    }
    b->id = -1;
    if (pos[3] && *pos[3] != 0xc0) {
        mpjson_reader_t ir = {pos[3], end};
        if ((rc = mpjson_read_item(&ir, &it))) return rc;
        if (it.kind != MPJSON_UINT || it.u > (uint64_t)SIO_MAX_ACK_ID) return AMSG_ESHAPE;
        b->id = (int64_t)it.u;
    }
    return 0;
}

void amsg_broadcast_free(amsg_broadcast_t *b)
{
    if (!b) return;
    str_free(&b->uid);
    str_free(&b->request_id);
    str_free(&b->nsp);
    mpjson_value_free(&b->data);
    for (size_t k = 0; k < b->nrooms; k++) str_free(&b->rooms[k]);
    for (size_t k = 0; k < b->nexcept; k++) str_free(&b->except[k]);
    free(b->rooms);
    free(b->except);
    str_free(&b->offset);
    str_free(&b->tag);
    memset(b, 0, sizeof *b);
}

int amsg_broadcast_decode(const uint8_t *buf, size_t len, amsg_broadcast_t *out)
{
    mpjson_reader_t r = {buf, buf + len};
    memset(out, 0, sizeof *out);
    mpjson_item_t it;
    int rc = mpjson_read_item(&r, &it);
    if (rc) return rc;
    if (it.kind != MPJSON_ARR || it.u < 3) return AMSG_ESHAPE;
    const uint8_t *elem[5] = {NULL, NULL, NULL, NULL, NULL};
    for (uint64_t k = 0; k < it.u; k++) {
        if (k < 5) elem[k] = r.p;
        if ((rc = mpjson_skip(&r, -1))) return rc; /* data arrays nest from 0 */
    }
    if (r.p != r.end) return AMSG_ETRAILING;
    mpjson_reader_t ur = {elem[0], r.end};
    if ((rc = read_str(&ur, &out->uid)) || (rc = read_packet(elem[1], r.end, out)) ||
        (rc = read_opts(mpjson_is_undefined(elem[2], r.end) ? NULL : elem[2], r.end, out))) {
        amsg_broadcast_free(out);
        return rc;
    }
    if (elem[3]) { /* an offset when it is a string; anything else is ignored */
        mpjson_reader_t orr = {elem[3], r.end};
        if (read_str(&orr, &out->offset) != 0) out->offset = (amsg_str_t){NULL, 0};
    }
    if (elem[4]) {
        mpjson_reader_t tr = {elem[4], r.end};
        if (read_str(&tr, &out->tag) != 0) out->tag = (amsg_str_t){NULL, 0};
    }
    return 0;
}

int amsg_bcast_request_decode(const uint8_t *buf, size_t len, amsg_broadcast_t *out)
{
    static const char *const names[] = {"uid", "requestId", "type", "packet", "opts"};
    const uint8_t *pos[5];
    mpjson_reader_t r = {buf, buf + len};
    memset(out, 0, sizeof *out);
    int rc = mpjson_map_find(&r, -1, names, 5, pos); /* packet.data nests from 0 */
    if (rc) return rc;
    if (r.p != r.end) return AMSG_ETRAILING;
    if (!pos[0] || !pos[1] || !is_uint(pos[2], r.end, 7)) return AMSG_ESHAPE;
    mpjson_reader_t ur = {pos[0], r.end}, qr = {pos[1], r.end};
    if ((rc = read_str(&ur, &out->uid)) || (rc = read_str(&qr, &out->request_id)) ||
        (rc = read_packet(pos[3], r.end, out)) || (rc = read_opts(pos[4], r.end, out))) {
        amsg_broadcast_free(out);
        return rc;
    }
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

#define PACK_LIT(pk, lit) pack_str(pk, lit, sizeof(lit) - 1)

static void pack_rooms(msgpack_packer *pk, const amsg_str_t *l, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t k = 0; k < n; k++) pack_str(pk, l[k].s, l[k].len);
}

static int pack_packet(msgpack_packer *pk, sbuf_t *out, const amsg_broadcast_t *b)
{
    msgpack_pack_map(pk, b->id >= 0 ? 4 : 3);
    PACK_LIT(pk, "type");
    msgpack_pack_int(pk, b->type);
    PACK_LIT(pk, "data");
    int rc = mpjson_encode_kind(out, b->data.json, b->data.json_len, b->data.att, b->data.natt,
                                JTEXT_ARRAY);
    if (rc) return rc == MPJSON_EKIND ? AMSG_ESHAPE : rc;
    PACK_LIT(pk, "nsp");
    if (b->nsp.s)
        pack_str(pk, b->nsp.s, b->nsp.len);
    else
        PACK_LIT(pk, "/");
    if (b->id >= 0) {
        PACK_LIT(pk, "id");
        msgpack_pack_int64(pk, b->id);
    }
    return 0;
}

static void pack_opts(msgpack_packer *pk, const amsg_broadcast_t *b)
{
    const amsg_flags_t *f = &b->flags;
    msgpack_pack_map(pk, 3);
    PACK_LIT(pk, "rooms");
    pack_rooms(pk, b->rooms, b->nrooms);
    PACK_LIT(pk, "except");
    pack_rooms(pk, b->except, b->nexcept);
    PACK_LIT(pk, "flags");
    msgpack_pack_map(pk, (f->is_volatile != AMSG_UNSET) + (f->compress != AMSG_UNSET) +
                             (f->timeout >= 0) + (f->expect_single_response != AMSG_UNSET));
    if (f->is_volatile != AMSG_UNSET) {
        PACK_LIT(pk, "volatile");
        f->is_volatile ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    if (f->compress != AMSG_UNSET) {
        PACK_LIT(pk, "compress");
        f->compress ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    if (f->timeout >= 0) {
        PACK_LIT(pk, "timeout");
        msgpack_pack_int64(pk, f->timeout);
    }
    if (f->expect_single_response != AMSG_UNSET) {
        PACK_LIT(pk, "expectSingleResponse");
        f->expect_single_response ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
}

int amsg_broadcast_encode(sbuf_t *out, const amsg_broadcast_t *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    msgpack_pack_array(&pk, b->offset_slot ? 4 : 3);
    pack_str(&pk, b->uid.s ? b->uid.s : "", b->uid.len);
    int rc = pack_packet(&pk, out, b);
    if (rc) {
        truncate_to(out, start);
        return rc;
    }
    pack_opts(&pk, b);
    return 0;
}

int amsg_bcast_request_encode(sbuf_t *out, const amsg_broadcast_t *b)
{
    if (!b->request_id.s) return AMSG_ESHAPE;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    msgpack_pack_map(&pk, 5);
    PACK_LIT(&pk, "uid");
    pack_str(&pk, b->uid.s ? b->uid.s : "", b->uid.len);
    PACK_LIT(&pk, "requestId");
    pack_str(&pk, b->request_id.s, b->request_id.len);
    PACK_LIT(&pk, "type");
    msgpack_pack_int(&pk, 7);
    PACK_LIT(&pk, "packet");
    int rc = pack_packet(&pk, out, b);
    if (rc) {
        truncate_to(out, start);
        return rc;
    }
    PACK_LIT(&pk, "opts");
    pack_opts(&pk, b);
    return 0;
}

void amsg_ack_free(amsg_ack_t *a)
{
    if (!a) return;
    str_free(&a->request_id);
    mpjson_value_free(&a->arg);
}

int amsg_ack_decode(const uint8_t *buf, size_t len, amsg_ack_t *out)
{
    static const char *const names[] = {"type", "requestId", "packet"};
    const uint8_t *pos[3];
    mpjson_reader_t r = {buf, buf + len};
    memset(out, 0, sizeof *out);
    int rc = mpjson_map_find(&r, 0, names, 3, pos);
    if (rc) return rc;
    if (r.p != r.end) return AMSG_ETRAILING;
    if (!is_uint(pos[0], r.end, 9) || !pos[1]) return AMSG_ESHAPE;
    mpjson_reader_t qr = {pos[1], r.end};
    if ((rc = read_str(&qr, &out->request_id))) return rc;
    if (pos[2]) {
        mpjson_reader_t vr = {pos[2], r.end};
        if ((rc = mpjson_read_value(&vr, &out->arg))) {
            amsg_ack_free(out);
            return rc;
        }
    }
    return 0;
}

int amsg_ack_encode(sbuf_t *out, const amsg_ack_t *a)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    msgpack_pack_map(&pk, a->arg.json ? 3 : 2);
    PACK_LIT(&pk, "type");
    msgpack_pack_int(&pk, 9);
    PACK_LIT(&pk, "requestId");
    pack_str(&pk, a->request_id.s ? a->request_id.s : "", a->request_id.len);
    if (a->arg.json) {
        PACK_LIT(&pk, "packet");
        int rc = mpjson_encode(out, a->arg.json, a->arg.json_len, a->arg.att, a->arg.natt);
        if (rc) {
            truncate_to(out, start);
            return rc;
        }
    }
    return 0;
}

int amsg_peek_type(const uint8_t *buf, size_t len)
{
    static const char *const names[] = {"type"};
    const uint8_t *pos[1];
    mpjson_reader_t r = {buf, buf + len};
    int rc = mpjson_map_find(&r, 0, names, 1, pos);
    if (rc) return rc;
    if (r.p != r.end) return AMSG_ETRAILING;
    if (!pos[0]) return AMSG_ESHAPE;
    mpjson_reader_t tr = {pos[0], r.end};
    mpjson_item_t it;
    if ((rc = mpjson_read_item(&tr, &it))) return rc;
    if (it.kind != MPJSON_UINT || it.u > 0x7fffffff) return AMSG_ESHAPE;
    return (int)it.u;
}
