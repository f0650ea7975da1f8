/* The redis-adapter's request/response contract (see adapter_request.h and
 * docs/protocols.md, sections 2.1, 2.5 and 2.6). */
#include "adapter_request.h"
#include "alloc.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What follows K in each kind of channel, up to the namespace. */
static const char *const channel_kind[] = {"#", "-request#", "-response#"};

void adapter_channel(sbuf_t *b, const char *key, size_t key_len, adapter_channel_t kind,
                     const char *nsp, size_t nsp_len, const char *tail, size_t tail_len)
{
    sbuf_reset(b);
    sbuf_append(b, key, key_len);
    sbuf_append_str(b, channel_kind[kind]);
    sbuf_append(b, nsp, nsp_len);
    sbuf_append_char(b, '#');
    if (tail) {
        sbuf_append(b, tail, tail_len);
        sbuf_append_char(b, '#');
    }
}

int adapter_channel_parse(const char *ch, size_t len, const char *key, size_t key_len,
                          adapter_channel_t *kind, const char **nsp, size_t *nsp_len)
{
    if (len <= key_len || memcmp(ch, key, key_len) != 0 || ch[len - 1] != '#') return -1;
    for (int k = ADAPTER_CH_REQUEST; k <= ADAPTER_CH_RESPONSE; k++) {
        size_t klen = strlen(channel_kind[k]), pre = key_len + klen;
        if (len > pre && memcmp(ch + key_len, channel_kind[k], klen) == 0) {
            *kind = (adapter_channel_t)k;
            *nsp = ch + pre;
            *nsp_len = len - pre - 1;
            return 0;
        }
    }
    return -1;
}

int adapter_request_id(char *buf, const char *uid, uint64_t n)
{
    int w = snprintf(buf, ADAPTER_REQUEST_ID_MAX, "%s-%" PRIu64, uid, n);
    if (w < 0 || w >= ADAPTER_REQUEST_ID_MAX) {
        buf[0] = '\0';
        return -1;
    }
    return w;
}

json_t *adapter_request_new(adapter_request_type_t type, const char *uid, const char *request_id)
{
    json_t *req = json_object();
    if (!req) return NULL;
    if ((uid && adapter_request_set(req, "uid", json_string(uid)) < 0) ||
        (request_id && adapter_request_set(req, "requestId", json_string(request_id)) < 0) ||
        adapter_request_set(req, "type", json_integer(type)) < 0) {
        json_decref(req);
        return NULL;
    }
    return req;
}

json_t *adapter_request_opts(json_t *rooms, json_t *except)
{
    if (!rooms) rooms = json_array();
    if (!except) except = json_array();
    if (!json_is_array(rooms) || !json_is_array(except)) {
        json_decref(rooms);
        json_decref(except);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "rooms", rooms, "except", except);
}

int adapter_request_set(json_t *req, const char *name, json_t *value)
{
    if (!json_is_object(req) || !value) {
        json_decref(value);
        return -1;
    }
    return json_object_set_new(req, name, value) == 0 ? 0 : -1;
}

/* The first max strings of arr, borrowed. */
static size_t string_list(json_t *arr, amsg_str_t *out, size_t max)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (n < max && json_is_string(v))
            out[n++] = (amsg_str_t){json_string_value(v), json_string_length(v)};
    }
    return n;
}

/* A member that is an integer in 0..INT_MAX, else -1. */
static int int_member(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT_MAX)
        return (int)json_integer_value(v);
    return -1;
}

int adapter_request_decode(const char *payload, size_t len, adapter_request_t *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    json_error_t jerr;
    json_t *req = json_loadb(payload, len, 0, &jerr);
    if (!json_is_object(req)) {
        snprintf(err, errlen, "%s", req ? "not a JSON object" : jerr.text);
        json_decref(req);
        return -1;
    }
    out->doc = req;
    out->type = int_member(req, "type");
    out->uid = json_string_value(json_object_get(req, "uid"));
    out->request_id = json_object_get(req, "requestId");
    json_t *opts = json_object_get(req, "opts");
    out->sel.nrooms =
        string_list(json_object_get(opts, "rooms"), out->sel.rooms, ADAPTER_REQ_MAX_ROOMS);
    out->sel.nexcept =
        string_list(json_object_get(opts, "except"), out->sel.except, ADAPTER_REQ_MAX_ROOMS);
    if (out->type == ADAPTER_REQ_SOCKETS) /* the 7.x form names its rooms at the top level */
        out->sel.nrooms =
            string_list(json_object_get(req, "rooms"), out->sel.rooms, ADAPTER_REQ_MAX_ROOMS);
    out->targets = json_object_get(req, "rooms");
    out->close = json_is_true(json_object_get(req, "close"));
    out->data = json_object_get(req, "data");
    return 0;
}

void adapter_request_free(adapter_request_t *out)
{
    json_decref(out->doc);
    memset(out, 0, sizeof *out);
    out->type = -1;
}

int adapter_response_parse(const char *payload, size_t len, adapter_response_t *out)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    if (len && payload[0] == '{') {
        json_t *doc = json_loadb(payload, len, 0, NULL);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return -1;
        }
        out->doc = doc;
        out->type = int_member(doc, "type");
        json_t *id = json_object_get(doc, "requestId");
        out->request_id = json_string_value(id);
        out->request_id_len = out->request_id ? json_string_length(id) : 0;
        out->uid = json_string_value(json_object_get(doc, "uid"));
        return 0;
    }
    if (amsg_peek_type((const uint8_t *)payload, len) != ADAPTER_RESP_BROADCAST_ACK ||
        amsg_ack_decode((const uint8_t *)payload, len, &out->ack) < 0)
        return -1;
    if (!out->ack.request_id.s) {
        adapter_response_free(out);
        return -1;
    }
    out->is_ack = 1;
    out->type = ADAPTER_RESP_BROADCAST_ACK;
    out->ack_id = xstrndup(out->ack.request_id.s, out->ack.request_id.len);
    out->request_id = out->ack_id;
    out->request_id_len = out->ack.request_id.len;
    return 0;
}

void adapter_response_free(adapter_response_t *out)
{
    json_decref(out->doc);
    amsg_ack_free(&out->ack);
    free(out->ack_id);
    memset(out, 0, sizeof *out);
    out->type = -1;
}
