/* POST /api/v1/emit: an event to a namespace, or to some of its rooms, on every node, published
 * as @socket.io/redis-emitter does (msgpack [uid "emitter", packet, opts] on K#N# or
 * K#N#<room>#), so chatnodes and Node.js socket.io servers on the same Redis all deliver it. */
#include "adapter_msg.h"
#include "alloc.h"
#include "api.h"
#include "sbuf.h"

#include <stdlib.h>

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
    bus_t *bus = api_need_bus(req);
    if (!bus) return;
    adminnode_t *an = api_app(req);
    json_t *body = api_body(req);
    json_t *ns = json_object_get(body, "namespace");
    const char *nsp = ns ? json_string_value(ns) : "/";
    int rc = api_publish_emit(
        an, nsp, json_object_get(body, "rooms"), json_object_get(body, "except"),
        json_string_value(json_object_get(body, "event")), json_object_get(body, "args"),
        json_is_true(json_object_get(body, "volatile")));
    if (rc < 0) {
        api_respond_error(req, 400, "bad_request", "the event cannot be encoded");
        return;
    }
    api_respond_json(req, 202, json_pack("{s:b}", "ok", 1));
}

static amsg_str_t *strs(json_t *arr, size_t *n)
{
    *n = json_array_size(arr);
    amsg_str_t *v = *n ? xmalloc(*n * sizeof *v) : NULL;
    for (size_t i = 0; i < *n; i++) {
        json_t *r = json_array_get(arr, i);
        v[i] = (amsg_str_t){json_string_value(r), json_string_length(r)};
    }
    return v;
}

int api_publish_emit(adminnode_t *an, const char *nsp, json_t *rooms, json_t *except,
                     const char *event, json_t *args, int is_volatile)
{
    json_t *data = json_array();
    json_array_append_new(data, json_string(event));
    json_array_extend(data, args);
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    amsg_broadcast_t b = {
        .uid = {"emitter", 7},
        .type = 2,
        .nsp = {nsp, strlen(nsp)},
        .id = -1,
        .data = {text, strlen(text), NULL, 0},
        .flags = {is_volatile ? 1 : AMSG_UNSET, AMSG_UNSET, AMSG_UNSET, AMSG_UNSET},
    };
    b.rooms = strs(rooms, &b.nrooms);
    b.except = strs(except, &b.nexcept);
    sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
    int rc = amsg_broadcast_encode(&msg, &b);
    if (rc == 0) {
        sbuf_printf(&ch, "%s#%s#", an->cfg->redis_key, nsp);
        if (b.nrooms == 1) {
            sbuf_append(&ch, b.rooms[0].s, b.rooms[0].len);
            sbuf_append_char(&ch, '#');
        }
        bus_publish(an->bus, ch.data, ch.len, msg.data, msg.len);
    }
    free(b.rooms);
    free(b.except);
    free(text);
    sbuf_free(&msg);
    sbuf_free(&ch);
    return rc;
}
