/* Sharded messages to and from the classic forms (see adapter_sharded_classic.h). The data
 * member is read with jansson; values that go on to clients (a broadcast's packet data, an
 * ack's or a server-side emit answer's packet) keep their attachments. */
#include "adapter_sharded_classic.h"

#include "alloc.h"
#include "jtext.h"
#include "sio_packet.h"

#include <stdlib.h>
#include <string.h>

static json_t *data_of(const adapter_sharded_msg_t *m)
{
    if (!m->data.json) return NULL;
    json_t *d = json_loadb(m->data.json, m->data.json_len, JSON_DECODE_ANY, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static amsg_str_t str_dup(const char *s, size_t n)
{
    return (amsg_str_t){xmemdup(s ? s : "", n + 1), n};
}

/* A copy of value v as JSON text, with a copy of every attachment of m (placeholders keep
 * their numbers). v NULL: json NULL. */
static void value_of(mpjson_value_t *out, const json_t *v, const adapter_sharded_msg_t *m)
{
    memset(out, 0, sizeof *out);
    if (!v) return;
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) return;
    out->json = text;
    out->json_len = strlen(text);
    if (m->data.natt) {
        out->att = xcalloc(m->data.natt, sizeof *out->att);
        out->natt = m->data.natt;
        for (unsigned i = 0; i < m->data.natt; i++) {
            out->att[i].len = m->data.att[i].len;
            out->att[i].data = xmemdup(m->data.att[i].data ? m->data.att[i].data : (uint8_t *)"",
                                       m->data.att[i].len ? m->data.att[i].len : 1);
        }
    }
}

/* ---- reading ---- */

int adapter_sharded_request_read(const adapter_sharded_msg_t *m, adapter_request_t *out)
{
    int classic;
    switch (m->type) {
    case ADAPTER_SHARDED_SOCKETS_JOIN: classic = ADAPTER_REQ_REMOTE_JOIN; break;
    case ADAPTER_SHARDED_SOCKETS_LEAVE: classic = ADAPTER_REQ_REMOTE_LEAVE; break;
    case ADAPTER_SHARDED_DISCONNECT_SOCKETS: classic = ADAPTER_REQ_REMOTE_DISCONNECT; break;
    case ADAPTER_SHARDED_FETCH_SOCKETS: classic = ADAPTER_REQ_REMOTE_FETCH; break;
    case ADAPTER_SHARDED_SERVER_SIDE_EMIT: classic = ADAPTER_REQ_SERVER_SIDE_EMIT; break;
    default:
        memset(out, 0, sizeof *out);
        out->type = -1;
        return -1;
    }
    json_t *d = data_of(m);
    if (!d) {
        memset(out, 0, sizeof *out);
        out->type = -1;
        return -1;
    }
    /* the classic document: the same members, but for the emit's packet, which is "data" */
    json_t *doc = json_object();
    json_object_set_new(doc, "type", json_integer(classic));
    if (m->uid.s) json_object_set_new(doc, "uid", json_stringn(m->uid.s, m->uid.len));
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v)
    {
        if (strcmp(k, "type") == 0 || strcmp(k, "uid") == 0) continue;
        json_object_set(
            doc, classic == ADAPTER_REQ_SERVER_SIDE_EMIT && strcmp(k, "packet") == 0 ? "data" : k,
            v);
    }
    json_decref(d);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char why[80];
    int rc = text ? adapter_request_decode(text, strlen(text), out, why, sizeof why) : -1;
    free(text);
    if (rc < 0) adapter_request_free(out);
    return rc < 0 ? -1 : 0;
}

static int names_of(const json_t *arr, amsg_str_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr)) return 0;
    size_t count = json_array_size(arr);
    if (!count) return 0;
    *out = xcalloc(count, sizeof **out);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            (*out)[(*n)++] = str_dup(json_string_value(v), json_string_length(v));
    }
    return 0;
}

int adapter_sharded_broadcast_read(const adapter_sharded_msg_t *m, amsg_broadcast_t *out)
{
    memset(out, 0, sizeof *out);
    if (m->type != ADAPTER_SHARDED_BROADCAST) return -1;
    json_t *d = data_of(m);
    json_t *packet = json_object_get(d, "packet");
    json_t *args = json_object_get(packet, "data");
    if (!json_is_array(args)) {
        json_decref(d);
        return -1;
    }
    out->type = SIO_EVENT;
    out->id = -1;
    out->flags = (amsg_flags_t){AMSG_UNSET, AMSG_UNSET, AMSG_UNSET, AMSG_UNSET};
    if (m->uid.s) out->uid = str_dup(m->uid.s, m->uid.len);
    out->nsp = m->nsp.s ? str_dup(m->nsp.s, m->nsp.len) : str_dup("/", 1);
    json_t *rid = json_object_get(d, "requestId");
    if (json_is_string(rid))
        out->request_id = str_dup(json_string_value(rid), json_string_length(rid));
    value_of(&out->data, args, m);
    json_t *opts = json_object_get(d, "opts");
    names_of(json_object_get(opts, "rooms"), &out->rooms, &out->nrooms);
    names_of(json_object_get(opts, "except"), &out->except, &out->nexcept);
    json_t *flags = json_object_get(opts, "flags");
    json_t *vol = json_object_get(flags, "volatile");
    if (vol) out->flags.is_volatile = json_is_true(vol);
    json_t *timeout = json_object_get(flags, "timeout");
    if (json_is_number(timeout) && json_number_value(timeout) >= 0)
        out->flags.timeout = (int64_t)json_number_value(timeout);
    out->logged = json_is_true(json_object_get(d, "logged"));
    json_decref(d);
    if (!out->data.json) {
        amsg_broadcast_free(out);
        return -1;
    }
    return 0;
}

int adapter_sharded_response_read(const adapter_sharded_msg_t *m, adapter_response_t *out)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    if (!adapter_sharded_is_response(m->type)) return -1;
    json_t *d = data_of(m);
    json_t *rid = json_object_get(d, "requestId");
    if (!json_is_string(rid)) {
        json_decref(d);
        return -1;
    }
    if (m->type == ADAPTER_SHARDED_BROADCAST_ACK) {
        out->is_ack = 1;
        out->type = ADAPTER_RESP_BROADCAST_ACK;
        out->ack.request_id = str_dup(json_string_value(rid), json_string_length(rid));
        value_of(&out->ack.arg, json_object_get(d, "packet"), m);
        out->ack_id = xstrndup(json_string_value(rid), json_string_length(rid));
        out->request_id = out->ack_id;
        out->request_id_len = json_string_length(rid);
        json_decref(d);
        return 0;
    }
    json_t *doc = json_object();
    json_object_set(doc, "requestId", rid);
    switch (m->type) {
    case ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE:
        json_object_set(doc, "sockets", json_object_get(d, "sockets"));
        break;
    case ADAPTER_SHARDED_SERVER_SIDE_EMIT_RESPONSE: {
        json_object_set_new(doc, "type", json_integer(ADAPTER_REQ_SERVER_SIDE_EMIT));
        json_t *p = json_object_get(d, "packet");
        json_object_set(doc, "data", p ? p : json_null());
        break;
    }
    default: /* BROADCAST_CLIENT_COUNT */
        json_object_set_new(doc, "type", json_integer(ADAPTER_RESP_BROADCAST_CLIENT_COUNT));
        json_object_set(doc, "clientCount", json_object_get(d, "clientCount"));
        break;
    }
    if (m->uid.s) json_object_set_new(doc, "uid", json_stringn(m->uid.s, m->uid.len));
    json_decref(d);
    out->doc = doc;
    out->type = (int)json_integer_value(json_object_get(doc, "type"));
    if (!json_object_get(doc, "type")) out->type = -1;
    json_t *id = json_object_get(doc, "requestId");
    out->request_id = json_string_value(id);
    out->request_id_len = json_string_length(id);
    out->uid = json_string_value(json_object_get(doc, "uid"));
    return 0;
}

/* ---- writing ---- */

/* A new reference to v when it is an array, else a new empty array. */
static json_t *array_or_empty(json_t *v)
{
    return json_is_array(v) ? json_incref(v) : json_array();
}

/* {"rooms":[...],"except":[...],"flags":{}} from a classic opts object (or none). */
static json_t *opts_of(const json_t *o)
{
    return json_pack("{s:o,s:o,s:{}}", "rooms", array_or_empty(json_object_get(o, "rooms")),
                     "except", array_or_empty(json_object_get(o, "except")), "flags");
}

static int encode_doc(sbuf_t *out, int type, json_t *data, amsg_str_t uid, amsg_str_t nsp)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text) return -1;
    adapter_sharded_msg_t m = {
        .type = type, .data = {text, strlen(text), NULL, 0}, .uid = uid, .nsp = nsp};
    int rc = adapter_sharded_encode(out, &m);
    free(text);
    return rc < 0 ? -1 : 0;
}

int adapter_sharded_request_write(sbuf_t *out, const json_t *req, amsg_str_t uid, amsg_str_t nsp)
{
    json_t *t = json_object_get(req, "type");
    if (!json_is_integer(t)) return -1;
    json_t *rid = json_object_get(req, "requestId");
    json_t *opts = json_object_get(req, "opts");
    json_t *data = NULL;
    int type;
    switch (json_integer_value(t)) {
    case ADAPTER_REQ_SOCKETS: { /* its rooms are top-level */
        json_t *o = json_pack("{s:o}", "rooms", array_or_empty(json_object_get(req, "rooms")));
        data = json_pack("{s:o}", "opts", opts_of(o));
        json_decref(o);
        type = ADAPTER_SHARDED_FETCH_SOCKETS;
        break;
    }
    case ADAPTER_REQ_ALL_ROOMS:
    case ADAPTER_REQ_REMOTE_FETCH:
        data = json_pack("{s:o}", "opts",
                         opts_of(json_integer_value(t) == ADAPTER_REQ_ALL_ROOMS ? NULL : opts));
        type = ADAPTER_SHARDED_FETCH_SOCKETS;
        break;
    case ADAPTER_REQ_REMOTE_JOIN:
    case ADAPTER_REQ_REMOTE_LEAVE: {
        data = json_pack("{s:o,s:o}", "opts", opts_of(opts), "rooms",
                         array_or_empty(json_object_get(req, "rooms")));
        type = json_integer_value(t) == ADAPTER_REQ_REMOTE_JOIN ? ADAPTER_SHARDED_SOCKETS_JOIN
                                                                : ADAPTER_SHARDED_SOCKETS_LEAVE;
        break;
    }
    case ADAPTER_REQ_REMOTE_DISCONNECT:
        data = json_pack("{s:o,s:b}", "opts", opts_of(opts), "close",
                         json_is_true(json_object_get(req, "close")));
        type = ADAPTER_SHARDED_DISCONNECT_SOCKETS;
        break;
    case ADAPTER_REQ_SERVER_SIDE_EMIT: {
        json_t *packet = json_object_get(req, "data");
        if (!json_is_array(packet)) return -1;
        data = json_object();
        if (rid) json_object_set(data, "requestId", rid);
        json_object_set(data, "packet", packet);
        return encode_doc(out, ADAPTER_SHARDED_SERVER_SIDE_EMIT, data, uid, nsp);
    }
    default: return -1;
    }
    if (!data) return -1;
    if (rid && type == ADAPTER_SHARDED_FETCH_SOCKETS) json_object_set(data, "requestId", rid);
    return encode_doc(out, type, data, uid, nsp);
}

static void names_json(sbuf_t *b, const amsg_str_t *v, size_t n)
{
    sbuf_append_char(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) sbuf_append_char(b, ',');
        jtext_append_string(b, v[i].s, v[i].len);
    }
    sbuf_append_char(b, ']');
}

int adapter_sharded_broadcast_write(sbuf_t *out, const amsg_broadcast_t *b)
{
    sbuf_t d = SBUF_INIT;
    sbuf_append_str(&d, "{\"packet\":{\"type\":2,\"data\":");
    sbuf_append(&d, b->data.json ? b->data.json : "[]", b->data.json ? b->data.json_len : 2);
    sbuf_append_str(&d, "}");
    if (b->request_id.s) {
        sbuf_append_str(&d, ",\"requestId\":");
        jtext_append_string(&d, b->request_id.s, b->request_id.len);
    }
    sbuf_append_str(&d, ",\"opts\":{\"rooms\":");
    names_json(&d, b->rooms, b->nrooms);
    sbuf_append_str(&d, ",\"except\":");
    names_json(&d, b->except, b->nexcept);
    sbuf_append_str(&d, ",\"flags\":{");
    int comma = 0;
    if (b->flags.is_volatile == 1) {
        sbuf_append_str(&d, "\"volatile\":true");
        comma = 1;
    }
    if (b->flags.timeout != AMSG_UNSET && b->flags.timeout >= 0)
        sbuf_printf(&d, "%s\"timeout\":%lld", comma ? "," : "", (long long)b->flags.timeout);
    sbuf_append_str(&d, "}}");
    if (b->logged) sbuf_append_str(&d, ",\"logged\":true");
    sbuf_append_char(&d, '}');
    adapter_sharded_msg_t m = {.type = ADAPTER_SHARDED_BROADCAST,
                               .data = {d.data, d.len, b->data.att, b->data.natt},
                               .uid = b->uid,
                               .nsp = b->nsp};
    int rc = adapter_sharded_encode(out, &m);
    sbuf_free(&d);
    return rc;
}

int adapter_sharded_response_write(sbuf_t *out, int type, const char *request_id,
                                   const char *member, const mpjson_value_t *value, amsg_str_t uid,
                                   amsg_str_t nsp)
{
    sbuf_t d = SBUF_INIT;
    sbuf_append_str(&d, "{\"requestId\":");
    jtext_append_string(&d, request_id, strlen(request_id));
    if (value && value->json) {
        sbuf_append_char(&d, ',');
        jtext_append_string(&d, member, strlen(member));
        sbuf_append_char(&d, ':');
        sbuf_append(&d, value->json, value->json_len);
    }
    sbuf_append_char(&d, '}');
    adapter_sharded_msg_t m = {
        .type = type,
        .data = {d.data, d.len, value ? value->att : NULL, value ? value->natt : 0},
        .uid = uid,
        .nsp = nsp};
    int rc = adapter_sharded_encode(out, &m);
    sbuf_free(&d);
    return rc;
}
