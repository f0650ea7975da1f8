/* libFuzzer driver: the body of POST /api/v1/emit (api_emit_check) and the encoding behind it
 * (api_publish_emit, with no Redis so nothing leaves). A body the check accepts is one the
 * publisher takes: the only refusals left are those of the message encoding (placeholders,
 * nesting past the codec's depth), never a malformed argument. */
#include "adapter_msg.h"
#include "api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Depth of a JSON value: 1 for a scalar or an empty container. */
static size_t depth(const json_t *v)
{
    size_t d = 0, i;
    const char *k;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, e)
        {
            size_t x = depth(e);
            if (x > d) d = x;
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, e)
        {
            size_t x = depth(e);
            if (x > d) d = x;
        }
    } else {
        return 1;
    }
    return d + 1;
}

/* Does the value hold a "_placeholder" member anywhere? */
static int has_placeholder(const json_t *v)
{
    size_t i;
    const char *k;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, e) if (has_placeholder(e)) return 1;
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, e)
        {
            if (strcmp(k, "_placeholder") == 0 || has_placeholder(e)) return 1;
        }
    }
    return 0;
}

static void check_body(const json_t *body)
{
    char buf[160];
    memset(buf, 0x7e, sizeof buf);
    const char *why = api_emit_check(body, buf, sizeof buf);
    adminnode_t an;
    memset(&an, 0, sizeof an); /* no bus: the message is encoded, then API_ENOBUS */
    if (why) {
        if (!why[0] || strlen(why) >= sizeof buf) abort();
        if (why == buf && !memchr(buf, '\0', sizeof buf)) abort();
        return;
    }
    /* accepted: what api_emit hands to the publisher */
    json_t *ns = json_object_get(body, "namespace"), *rooms = json_object_get(body, "rooms");
    json_t *none = json_array();
    const char *nsp = ns ? json_string_value(ns) : "/";
    json_t *ev = json_object_get(body, "event"), *args = json_object_get(body, "args");
    if (!json_is_string(ev) || !json_is_array(args) || !nsp || nsp[0] != '/') abort();
    int flags = API_EMIT_EVERYONE | (json_is_true(json_object_get(body, "volatile")) ? 1 : 0);
    int rc = api_publish_emit(&an, nsp, rooms ? rooms : none, json_object_get(body, "except"),
                              json_string_value(ev), args, flags);
    if (rc == API_EENCODE) {
        if (depth(args) < AMSG_MAX_DEPTH - 1 && !has_placeholder(args)) abort();
    } else if (rc != API_ENOBUS) {
        abort();
    }
    /* without the everyone flag an empty room list is refused, whatever else */
    if (json_array_size(rooms) == 0 &&
        api_publish_emit(&an, nsp, none, NULL, json_string_value(ev), args, 0) != API_EINVAL)
        abort();
    json_decref(none);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as adminnode reads a body, then with NUL allowed and any top-level value */
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (body) check_body(body);
    json_decref(body);
    body = json_loadb((const char *)data, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
    if (body) check_body(body);

    /* the publisher alone, fed the body's members whatever they are */
    if (json_is_object(body)) {
        adminnode_t an;
        memset(&an, 0, sizeof an);
        json_t *ns = json_object_get(body, "namespace"), *ev = json_object_get(body, "event");
        int rc = api_publish_emit(&an, json_string_value(ns), json_object_get(body, "rooms"),
                                  json_object_get(body, "except"), json_string_value(ev),
                                  json_object_get(body, "args"),
                                  (int)json_integer_value(json_object_get(body, "flags")) & 3);
        if (rc != API_EINVAL && rc != API_EENCODE && rc != API_ENOBUS) abort();
        if (rc != API_EINVAL && (!json_is_array(json_object_get(body, "args")) || !ns)) abort();
    }
    json_decref(body);
    return 0;
}
