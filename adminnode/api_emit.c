/* POST /api/v1/emit: an event to a namespace, or to some of its rooms, on every node, published
 * as @socket.io/redis-emitter does (msgpack [uid "emitter", packet, opts] on K#N# or
 * K#N#<room>#), so chatnodes and Node.js socket.io servers on the same Redis all deliver it. */
#include "adapter_msg.h"
#include "alloc.h"
#include "adapter_sharded_classic.h"
#include "api.h"
#include "api_params.h"
#include "sbuf.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
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
        char why[96];
        if (!json_is_string(r) ||
            api_check_room(json_string_value(r), json_string_length(r), why, sizeof why) < 0) {
            snprintf(buf, len, "%s[%zu] must be a room name: 1-128 characters, no controls", field,
                     i);
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
        char rule[96];
        if (strcmp(key, "namespace") == 0) {
            if (!json_is_string(v) ||
                api_check_namespace(json_string_value(v), json_string_length(v), rule,
                                    sizeof rule) < 0)
                return "namespace must be a string starting with /, at most 200 bytes, without #";
        } else if (strcmp(key, "event") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) != strlen(json_string_value(v)))
                return "event must be a non-empty string without NUL";
        } else if (strcmp(key, "args") == 0) {
            if (!json_is_array(v)) return "args must be an array";
        } else if (strcmp(key, "rooms") == 0 || strcmp(key, "except") == 0) {
            const char *why = check_rooms(v, key, buf, len);
            if (why) return why;
        } else if (strcmp(key, "volatile") == 0) {
            if (!json_is_boolean(v)) return "volatile must be true or false";
        } else {
            /* quoted up to 64 bytes, cut at a character boundary */
            snprintf(buf, len, "unknown field %.*s", (int)utf8_prefix(key, strlen(key), 64), key);
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
    json_t *rooms = json_object_get(body, "rooms"), *none = json_array();
    /* without rooms (or with none) the event goes to every socket, as the emitter's does */
    int flags = API_EMIT_EVERYONE |
                (json_is_true(json_object_get(body, "volatile")) ? API_EMIT_VOLATILE : 0);
    int rc = api_publish_emit(an, nsp, rooms ? rooms : none, json_object_get(body, "except"),
                              json_string_value(json_object_get(body, "event")),
                              json_object_get(body, "args"), flags);
    json_decref(none);
    if (rc == API_ENOBUS)
        api_respond_error(req, 503, "unavailable", "Redis did not take the message");
    else if (rc < 0)
        api_respond_error(req, 400, "bad_request", "the event cannot be encoded: %s",
                          api_strerror(rc));
    else
        api_respond_json(req, 202, json_pack("{s:b}", "ok", 1));
}

/* 1 when arr is NULL (allow_null) or an array of non-empty strings. */
static int names_ok(const json_t *arr, int allow_null)
{
    if (!arr) return allow_null;
    if (!json_is_array(arr)) return 0;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        if (!json_is_string(r) || json_string_length(r) == 0) return 0;
    }
    return 1;
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

/* The event and its arguments as JSON text ["event", ...args] (malloc'ed), or NULL. */
static char *event_text(const char *event, json_t *args)
{
    json_t *data = json_array(), *ev = json_string(event);
    char *text = NULL;
    if (data && ev && json_array_append(data, ev) == 0 && json_array_extend(data, args) == 0)
        text = json_dumps(data, JSON_COMPACT);
    json_decref(ev);
    json_decref(data);
    return text;
}

int api_publish_emit(adminnode_t *an, const char *nsp, json_t *rooms, json_t *except,
                     const char *event, json_t *args, int flags)
{
    if (!an || !nsp || nsp[0] != '/' || !event || !event[0] || !json_is_array(args) ||
        !names_ok(rooms, 0) || !names_ok(except, 1))
        return API_EINVAL;
    if (json_array_size(rooms) == 0 && !(flags & API_EMIT_EVERYONE)) return API_EINVAL;
    char *text = event_text(event, args);
    if (!text) return API_EENCODE;
    amsg_broadcast_t b = {
        .uid = {"emitter", 7},
        .type = 2,
        .nsp = {nsp, strlen(nsp)},
        .id = -1,
        .data = {text, strlen(text), NULL, 0},
        .flags = {(flags & API_EMIT_VOLATILE) ? 1 : AMSG_UNSET, AMSG_UNSET, AMSG_UNSET, AMSG_UNSET},
    };
    b.rooms = strs(rooms, &b.nrooms);
    b.except = strs(except, &b.nexcept);
    sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
    if (an->sharded) { /* as a sharded adapter's broadcast (docs/protocols.md, section 2.8) */
        int rc = adapter_sharded_broadcast_write(&msg, &b) == 0 ? 0 : API_EENCODE;
        if (rc == 0 && !an->bus) rc = API_ENOBUS;
        if (rc == 0) {
            const char *key = an->cfg->redis_key;
            int to_room =
                !(flags & API_EMIT_NSP_CHANNEL) &&
                adapter_sharded_publish_to_room((adapter_sharded_mode_t)an->mode,
                                                ADAPTER_SHARDED_BROADCAST, 0, b.rooms, b.nrooms);
            adapter_sharded_channel(&ch, (amsg_str_t){key, strlen(key)}, b.nsp,
                                    to_room ? b.rooms[0] : (amsg_str_t){NULL, 0});
            if (bus_spublish(an->bus, ch.data, ch.len, msg.data, msg.len) < 0) rc = API_ENOBUS;
        }
        free(b.rooms);
        free(b.except);
        free(text);
        sbuf_free(&msg);
        sbuf_free(&ch);
        return rc;
    }
    int rc = amsg_broadcast_encode(&msg, &b) == 0 ? 0 : API_EENCODE;
    if (rc == 0 && !an->bus) rc = API_ENOBUS;
    if (rc == 0) {
        sbuf_printf(&ch, "%s#%s#", an->cfg->redis_key, nsp);
        if (b.nrooms == 1) {
            sbuf_append(&ch, b.rooms[0].s, b.rooms[0].len);
            sbuf_append_char(&ch, '#');
        }
        if (bus_publish(an->bus, ch.data, ch.len, msg.data, msg.len) < 0) rc = API_ENOBUS;
    }
    free(b.rooms);
    free(b.except);
    free(text);
    sbuf_free(&msg);
    sbuf_free(&ch);
    return rc;
}
