/* The sharded redis-adapter's wire format (see adapter_sharded.h). Channel names are the
 * classic adapter's broadcast channels (adapter_request.h); a message is built as JSON text
 * and, when it carries binary, converted to msgpack by msgpack_json.h, which writes the same
 * bytes notepack.io writes for the object JSON.parse would give. */
#include "adapter_sharded.h"

#include "adapter_request.h"
#include "alloc.h"
#include "jtext.h"
#include "utf8.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- message types ---- */

static const char *const type_names[] = {
    NULL,
    "INITIAL_HEARTBEAT",
    "HEARTBEAT",
    "BROADCAST",
    "SOCKETS_JOIN",
    "SOCKETS_LEAVE",
    "DISCONNECT_SOCKETS",
    "FETCH_SOCKETS",
    "FETCH_SOCKETS_RESPONSE",
    "SERVER_SIDE_EMIT",
    "SERVER_SIDE_EMIT_RESPONSE",
    "BROADCAST_CLIENT_COUNT",
    "BROADCAST_ACK",
    "ADAPTER_CLOSE",
};

const char *adapter_sharded_type_name(int type)
{
    if (type < 1 || type > ADAPTER_SHARDED_ADAPTER_CLOSE) return NULL;
    return type_names[type];
}

int adapter_sharded_is_response(int type)
{
    return type == ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE ||
           type == ADAPTER_SHARDED_SERVER_SIDE_EMIT_RESPONSE ||
           type == ADAPTER_SHARDED_BROADCAST_CLIENT_COUNT || type == ADAPTER_SHARDED_BROADCAST_ACK;
}

/* The types whose data Node scans for binary before choosing msgpack over JSON. */
static int may_carry_binary(int type)
{
    return type == ADAPTER_SHARDED_BROADCAST || type == ADAPTER_SHARDED_BROADCAST_ACK ||
           type == ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE ||
           type == ADAPTER_SHARDED_SERVER_SIDE_EMIT ||
           type == ADAPTER_SHARDED_SERVER_SIDE_EMIT_RESPONSE;
}

/* ---- subscription modes ---- */

static const char *const mode_names[] = {"static", "dynamic", "dynamic-private"};

int adapter_sharded_mode_parse(const char *s, adapter_sharded_mode_t *mode)
{
    for (int k = 0; k < 3; k++)
        if (s && strcmp(s, mode_names[k]) == 0) {
            *mode = (adapter_sharded_mode_t)k;
            return 0;
        }
    return -1;
}

const char *adapter_sharded_mode_name(adapter_sharded_mode_t mode)
{
    return (unsigned)mode < 3 ? mode_names[mode] : NULL;
}

/* ---- channels ---- */

void adapter_sharded_channel(sbuf_t *b, amsg_str_t key, amsg_str_t nsp, amsg_str_t tail)
{
    adapter_channel(b, key.s, key.len, ADAPTER_CH_BROADCAST, nsp.s, nsp.len, tail.s, tail.len);
}

int adapter_sharded_channel_parse(const char *ch, size_t len, amsg_str_t key, amsg_str_t nsp,
                                  amsg_str_t uid, amsg_str_t *name)
{
    size_t pre = key.len + 1 + nsp.len + 1; /* K#N# */
    if (len < pre || memcmp(ch, key.s, key.len) != 0 || ch[key.len] != '#' ||
        memcmp(ch + key.len + 1, nsp.s, nsp.len) != 0 || ch[pre - 1] != '#')
        return -1;
    if (len == pre) {
        *name = (amsg_str_t){ch + pre, 0};
        return ADAPTER_SHARDED_CH_NAMESPACE;
    }
    if (ch[len - 1] != '#') return -1;
    *name = (amsg_str_t){ch + pre, len - pre - 1};
    if (uid.s && name->len == uid.len && memcmp(name->s, uid.s, uid.len) == 0)
        return ADAPTER_SHARDED_CH_PRIVATE;
    return ADAPTER_SHARDED_CH_ROOM;
}

int adapter_sharded_socket_id_like(const char *room, size_t len)
{
    const uint8_t *s = (const uint8_t *)room;
    size_t units = 0, k = 0, bad;
    while (k < len && units <= 20) {
        size_t m = utf8_seq(s + k, len - k, &bad);
        units += m == 4 ? 2 : 1; /* beyond U+FFFF: a surrogate pair */
        k += m ? m : bad;
    }
    return units == 20 && k == len;
}

int adapter_sharded_publish_to_room(adapter_sharded_mode_t mode, int type, int with_ack,
                                    const amsg_str_t *rooms, size_t nrooms)
{
    if (type != ADAPTER_SHARDED_BROADCAST || with_ack || nrooms != 1) return 0;
    if (mode == ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE) return 1;
    return mode == ADAPTER_SHARDED_MODE_DYNAMIC &&
           !adapter_sharded_socket_id_like(rooms[0].s, rooms[0].len);
}

int adapter_sharded_subscribes_room(adapter_sharded_mode_t mode, int is_local_socket_id)
{
    return mode == ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE ||
           (mode == ADAPTER_SHARDED_MODE_DYNAMIC && !is_local_socket_id);
}

/* ---- messages ---- */

const char *adapter_sharded_strerror(int err)
{
    switch (err) {
    case ADAPTER_SHARDED_ESHAPE: return "message is not an object";
    case ADAPTER_SHARDED_ETYPE: return "message type missing or not an integer";
    case ADAPTER_SHARDED_EBINARY: return "binary data in a message type sent as JSON";
    case ADAPTER_SHARDED_ESTRING: return "uid or namespace is not UTF-8";
    default: return mpjson_strerror(err);
    }
}

int adapter_sharded_encode(sbuf_t *out, const adapter_sharded_msg_t *m)
{
    const mpjson_value_t *d = &m->data;
    if (m->type < 0) return ADAPTER_SHARDED_ETYPE;
    if ((m->uid.s && !utf8_valid(m->uid.s, m->uid.len)) ||
        (m->nsp.s && !utf8_valid(m->nsp.s, m->nsp.len)))
        return ADAPTER_SHARDED_ESTRING;
    /* One whole value, so that nothing in it can close the message and add members. */
    if (d->json && jtext_validate(d->json, d->json_len) == JTEXT_INVALID)
        return ADAPTER_SHARDED_EJSON;
    int binary = d->json && d->natt > 0;
    if (binary && !may_carry_binary(m->type)) return ADAPTER_SHARDED_EBINARY;

    sbuf_t t = SBUF_INIT;
    sbuf_printf(&t, "{\"type\":%d", m->type);
    if (d->json) {
        sbuf_append_str(&t, ",\"data\":");
        sbuf_append(&t, d->json, d->json_len);
    }
    if (m->uid.s) {
        sbuf_append_str(&t, ",\"uid\":");
        jtext_append_string(&t, m->uid.s, m->uid.len);
    }
    if (m->nsp.s) {
        sbuf_append_str(&t, ",\"nsp\":");
        jtext_append_string(&t, m->nsp.s, m->nsp.len);
    }
    sbuf_append_char(&t, '}');
    int rc = 0;
    /* data was valid alone: only its nesting, one level deeper here, can fail. */
    if (jtext_validate(t.data, t.len) == JTEXT_INVALID)
        rc = ADAPTER_SHARDED_EDEPTH;
    else if (binary)
        rc = mpjson_encode(out, t.data, t.len, d->att, d->natt);
    else
        sbuf_append(out, t.data, t.len);
    sbuf_free(&t);
    return rc;
}

/* An owned, NUL-terminated copy of p[0..n). */
static amsg_str_t str_copy(const char *p, size_t n)
{
    char *c = xmalloc(n + 1);
    memcpy(c, p, n);
    c[n] = 0;
    return (amsg_str_t){c, n};
}

/* The type from a number: integral and in 0..INT_MAX, as JavaScript's === would match one of
 * the cases (3.0 is 3). */
static int type_of_double(double v)
{
    if (!(v >= 0 && v <= INT_MAX) || floor(v) != v) return ADAPTER_SHARDED_ETYPE;
    return (int)v;
}

/* An owned copy of the decoded JSON string literal s[0..n) (which never decodes longer). */
static amsg_str_t literal_copy(const char *s, size_t n)
{
    char *c = xmalloc(n + 1);
    long len = jtext_string_decode(s, n, c, n + 1);
    if (len < 0) len = 0, c[0] = 0; /* not reached: validated text */
    return (amsg_str_t){c, (size_t)len};
}

static int decode_json(const char *s, size_t len, adapter_sharded_msg_t *out)
{
    if (jtext_validate(s, len) != JTEXT_OBJECT) return ADAPTER_SHARDED_EJSON;
    /* Each member's last value, as JSON.parse keeps it. */
    const char *v[4] = {NULL, NULL, NULL, NULL};
    size_t vlen[4] = {0, 0, 0, 0};
    jtext_kind_t vkind[4] = {JTEXT_INVALID, JTEXT_INVALID, JTEXT_INVALID, JTEXT_INVALID};
    static const char *const names[4] = {"type", "data", "uid", "nsp"};
    jtext_iter_t it;
    const char *k, *val;
    size_t klen, vl;
    jtext_kind_t kind;
    jtext_iter_init(&it, s, len);
    while (jtext_object_next(&it, &k, &klen, &val, &vl, &kind))
        for (int n = 0; n < 4; n++)
            if (jtext_string_is(k, klen, names[n])) {
                v[n] = val, vlen[n] = vl, vkind[n] = kind;
                break;
            }
    if (vkind[0] != JTEXT_NUMBER) return ADAPTER_SHARDED_ETYPE;
    char *num = xstrndup(v[0], vlen[0]);
    int type = type_of_double(strtod(num, NULL));
    free(num);
    if (type < 0) return type;
    out->type = type;
    if (v[1]) {
        amsg_str_t d = str_copy(v[1], vlen[1]);
        out->data.json = d.s;
        out->data.json_len = d.len;
    }
    if (vkind[2] == JTEXT_STRING) out->uid = literal_copy(v[2], vlen[2]);
    if (vkind[3] == JTEXT_STRING) out->nsp = literal_copy(v[3], vlen[3]);
    return 0;
}

/* An owned copy of the msgpack str at v (invalid UTF-8 replaced, as Node reads it); {NULL, 0}
 * for any other value. */
static amsg_str_t msgpack_string(const uint8_t *v, const uint8_t *end)
{
    mpjson_reader_t r = {v, end};
    mpjson_item_t it;
    if (!v || mpjson_read_item(&r, &it) || it.kind != MPJSON_STR) return (amsg_str_t){NULL, 0};
    sbuf_t b = SBUF_INIT;
    mpjson_string_of(&b, &it);
    amsg_str_t s = str_copy(b.data ? b.data : "", b.len);
    sbuf_free(&b);
    return s;
}

static int decode_msgpack(const uint8_t *buf, size_t len, adapter_sharded_msg_t *out)
{
    static const char *const names[4] = {"type", "data", "uid", "nsp"};
    const uint8_t *pos[4], *end = buf + len;
    mpjson_reader_t r = {buf, end};
    /* Values nest from 1: inside the message, as in its JSON form. */
    int rc = mpjson_map_find(&r, 1, names, 4, pos);
    if (rc) return rc;
    if (r.p != end) return ADAPTER_SHARDED_ETRAILING;
    if (!pos[0]) return ADAPTER_SHARDED_ETYPE;
    mpjson_reader_t tr = {pos[0], end};
    mpjson_item_t it;
    if ((rc = mpjson_read_item(&tr, &it))) return rc;
    if (it.kind == MPJSON_UINT)
        rc = it.u <= INT_MAX ? (int)it.u : ADAPTER_SHARDED_ETYPE;
    else if (it.kind == MPJSON_F32 || it.kind == MPJSON_F64)
        rc = type_of_double(it.f);
    else
        rc = ADAPTER_SHARDED_ETYPE;
    if (rc < 0) return rc;
    out->type = rc;
    if (pos[1]) {
        mpjson_reader_t dr = {pos[1], end};
        if ((rc = mpjson_read_value(&dr, &out->data))) return rc;
    }
    out->uid = msgpack_string(pos[2], end);
    out->nsp = msgpack_string(pos[3], end);
    return 0;
}

int adapter_sharded_decode(const uint8_t *buf, size_t len, adapter_sharded_msg_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = len && buf[0] == '{' ? decode_json((const char *)buf, len, out)
                                  : decode_msgpack(buf, len, out);
    if (rc) adapter_sharded_msg_free(out);
    return rc;
}

void adapter_sharded_msg_free(adapter_sharded_msg_t *m)
{
    if (!m) return;
    mpjson_value_free(&m->data);
    free((char *)m->uid.s);
    free((char *)m->nsp.s);
    memset(m, 0, sizeof *m);
}
