/* libFuzzer driver for the adapter's request/response contract (proto/adapter_request.h):
 * the JSON requests other servers publish on K-request#N#, as a chatnode decodes them before
 * answering (the type only when it is an integer, the selection within its bounds, every
 * string borrowed from the document and equal to the rooms it lists, in order); the same bytes
 * read as a response (JSON, or a msgpack ack) and as a channel name. */
#include "adapter_request.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first max strings of arr (skipping other elements) must be exactly v[0..n). */
static void check_list(json_t *arr, const amsg_str_t *v, size_t n)
{
    size_t k = 0, i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(e) || k == ADAPTER_REQ_MAX_ROOMS) continue;
        if (k >= n || v[k].s != json_string_value(e) || v[k].len != json_string_length(e)) abort();
        k++;
    }
    if (k != n || n > ADAPTER_REQ_MAX_ROOMS) abort();
}

/* A response: JSON when it starts with '{', and then the members it reports are the
 * document's; otherwise only an ack with a request id is read. */
static void check_response(const uint8_t *data, size_t size)
{
    adapter_response_t resp;
    if (adapter_response_parse((const char *)data, size, &resp) < 0) {
        if (resp.doc || resp.request_id || resp.is_ack || resp.type != -1) abort();
        adapter_response_free(&resp);
        return;
    }
    if (size && data[0] == '{') {
        if (!json_is_object(resp.doc) || resp.is_ack) abort();
        if (resp.request_id != json_string_value(json_object_get(resp.doc, "requestId"))) abort();
        if (resp.uid != json_string_value(json_object_get(resp.doc, "uid"))) abort();
    } else if (!resp.is_ack || resp.doc || resp.type != ADAPTER_RESP_BROADCAST_ACK ||
               !resp.request_id) {
        abort();
    }
    adapter_response_free(&resp);
    adapter_response_free(&resp); /* a second free is a no-op */
}

/* A channel name under the key "k": what parses is a request or response channel whose
 * namespace rebuilds it. */
static void check_channel(const uint8_t *data, size_t size)
{
    adapter_channel_t kind;
    const char *nsp;
    size_t nlen;
    if (adapter_channel_parse((const char *)data, size, "k", 1, &kind, &nsp, &nlen) < 0) return;
    if (kind != ADAPTER_CH_REQUEST && kind != ADAPTER_CH_RESPONSE) abort();
    sbuf_t b = SBUF_INIT;
    adapter_channel(&b, "k", 1, kind, nsp, nlen, NULL, 0);
    if (b.len != size || memcmp(b.data, data, size) != 0) abort();
    sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_response(data, size);
    check_channel(data, size);

    adapter_request_t r;
    char err[200] = "";
    int rc = adapter_request_decode((const char *)data, size, &r, err, sizeof err);
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (rc < 0) {
        if (rc != -1 || json_is_object(doc) || r.doc || r.uid || r.request_id || r.targets ||
            r.data || r.sel.nrooms || r.sel.nexcept || r.type != -1 || !err[0])
            abort();
        adapter_request_free(&r);
        json_decref(doc);
        return 0;
    }
    if (!json_is_object(doc) || !json_equal(doc, r.doc)) abort();

    json_t *type = json_object_get(r.doc, "type");
    int want = json_is_integer(type) && json_integer_value(type) >= 0 &&
                       json_integer_value(type) <= INT_MAX
                   ? (int)json_integer_value(type)
                   : -1;
    if (r.type != want) abort();
    if (r.uid != json_string_value(json_object_get(r.doc, "uid"))) abort();
    if (r.request_id != json_object_get(r.doc, "requestId")) abort();
    if (r.targets != json_object_get(r.doc, "rooms")) abort();
    if (r.data != json_object_get(r.doc, "data")) abort();
    if (r.close != json_is_true(json_object_get(r.doc, "close"))) abort();
    json_t *opts = json_object_get(r.doc, "opts");
    /* the 7.x SOCKETS request names its rooms at the top level */
    check_list(r.type == 0 ? r.targets : json_object_get(opts, "rooms"), r.sel.rooms, r.sel.nrooms);
    check_list(json_object_get(opts, "except"), r.sel.except, r.sel.nexcept);

    adapter_request_free(&r);
    if (r.doc || r.sel.nrooms) abort();
    adapter_request_free(&r); /* a second free is a no-op */
    json_decref(doc);
    return 0;
}
