/* POST /api/v1/emit: an event to a namespace, or to some of its rooms, on every node. The body
 * is checked here; publishing through Redis comes with the cluster code. */
#include "api.h"

#include <stdio.h>
#include <string.h>

static const char *check_rooms(const json_t *v, const char *field, char *buf, size_t len)
{
    if (!json_is_array(v)) {
        snprintf(buf, len, "%s must be an array of room names", field);
        return buf;
    }
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r)
    {
        if (!json_is_string(r) || json_string_length(r) == 0) {
            snprintf(buf, len, "%s[%zu] must be a non-empty string", field, i);
            return buf;
        }
    }
    return NULL;
}

const char *api_emit_check(const json_t *body, char *buf, size_t len)
{
    if (!json_is_object(body)) return "the body must be a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "namespace") == 0) {
            if (!json_is_string(v) || json_string_value(v)[0] != '/')
                return "namespace must be a string starting with /";
        } else if (strcmp(key, "event") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return "event must be a non-empty string";
        } else if (strcmp(key, "args") == 0) {
            if (!json_is_array(v)) return "args must be an array";
        } else if (strcmp(key, "rooms") == 0 || strcmp(key, "except") == 0) {
            const char *why = check_rooms(v, key, buf, len);
            if (why) return why;
        } else if (strcmp(key, "volatile") == 0) {
            if (!json_is_boolean(v)) return "volatile must be true or false";
        } else {
            snprintf(buf, len, "unknown field %.64s", key);
            return buf;
        }
    }
    if (!json_object_get(body, "event")) return "event is required";
    if (!json_object_get(body, "args")) return "args is required";
    return NULL;
}

void api_emit(api_request_t *req)
{
    char buf[160];
    const char *why = api_emit_check(api_body(req), buf, sizeof buf);
    if (why) {
        api_respond_error(req, 400, "bad_request", "%s", why);
        return;
    }
    if (!api_need_bus(req)) return;
    api_respond_error(req, 501, "not_implemented",
                      "publishing to the cluster is not implemented yet");
}
