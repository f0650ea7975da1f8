/* libFuzzer driver: the JSON requests other servers publish on K-request#N#, as chatnode
 * decodes them (cluster_request_decode) before answering: the type only when it is an integer,
 * the selection within its bounds, every string borrowed from the document and equal to the
 * rooms it lists, in order. */
#include "cluster.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first max strings of arr (skipping other elements) must be exactly v[0..n). */
static void check_list(json_t *arr, const str_t *v, size_t n)
{
    size_t k = 0, i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(e) || k == CLUSTER_REQ_MAX_ROOMS) continue;
        if (k >= n || v[k].ptr != json_string_value(e) || v[k].len != json_string_length(e))
            abort();
        k++;
    }
    if (k != n || n > CLUSTER_REQ_MAX_ROOMS) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cluster_request_t r;
    char err[200] = "";
    int rc = cluster_request_decode((const char *)data, size, &r, err, sizeof err);
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (rc < 0) {
        if (rc != -1 || json_is_object(doc) || r.doc || r.uid || r.request_id || r.targets ||
            r.data || r.sel.nrooms || r.sel.nexcept || r.type != -1 || !err[0])
            abort();
        cluster_request_free(&r);
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

    cluster_request_free(&r);
    if (r.doc || r.sel.nrooms) abort();
    cluster_request_free(&r); /* a second free is a no-op */
    json_decref(doc);
    return 0;
}
