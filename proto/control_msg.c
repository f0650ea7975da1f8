/* The control traffic's names and documents (see control_msg.h). */
#include "control_msg.h"

#include <stdlib.h>
#include <string.h>

int control_msg_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > CONTROL_MSG_MAX_ID) return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f) return 0;
    return 1;
}

/* ---- names ---- */

static void name(sbuf_t *b, const char *prefix, const char *what, const char *rest)
{
    sbuf_reset(b);
    sbuf_append_str(b, prefix);
    sbuf_append_char(b, ':');
    sbuf_append_str(b, what);
    if (rest) sbuf_append_str(b, rest);
}

void control_msg_heartbeat_channel(sbuf_t *b, const char *prefix)
{
    name(b, prefix, "heartbeat", NULL);
}

void control_msg_node_key(sbuf_t *b, const char *prefix, const char *uid)
{
    name(b, prefix, "node:", uid);
}

void control_msg_node_pattern(sbuf_t *b, const char *prefix)
{
    name(b, prefix, "node:", "*");
}

void control_msg_command_channel(sbuf_t *b, const char *prefix, const char *uid)
{
    name(b, prefix, "command:", uid ? uid : "all");
}

void control_msg_reply_channel(sbuf_t *b, const char *prefix)
{
    name(b, prefix, "reply", NULL);
}

long long control_msg_node_ttl(long long interval_ms)
{
    long long secs = interval_ms * 10 / 1000;
    return secs < 5 ? 5 : secs;
}

/* ---- documents ---- */

/* Appends doc (stolen) as compact JSON text. Returns 0, or -1 when doc is NULL. */
static int dump(json_t *doc, sbuf_t *out)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return -1;
    sbuf_append_str(out, text);
    free(text);
    return 0;
}

int control_msg_heartbeat_text(const control_msg_heartbeat_t *hb, sbuf_t *out)
{
    json_t *doc = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:{s:I,s:I},s:O?,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:b}",
        "v", CONTROL_MSG_VERSION, "type", "heartbeat", "id", hb->id, "tag", hb->tag, "address",
        hb->address, "pid", (json_int_t)hb->pid, "version", hb->version, "started",
        (json_int_t)hb->started, "connections", "polling", (json_int_t)hb->polling, "websocket",
        (json_int_t)hb->websocket, "sockets", hb->sockets, "rooms", (json_int_t)hb->rooms,
        "events_in_per_s", hb->events_in_per_s, "events_out_per_s", hb->events_out_per_s,
        "bytes_in", (json_int_t)hb->bytes_in, "bytes_out", (json_int_t)hb->bytes_out,
        "ws_frames_out", (json_int_t)hb->ws_frames_out, "ws_writes", (json_int_t)hb->ws_writes,
        "rss", (json_int_t)hb->rss, "draining", hb->draining);
    if (doc && json_is_null(json_object_get(doc, "sockets")))
        json_object_set_new(doc, "sockets", json_object());
    if (doc && hb->bus) json_object_set(doc, "bus", hb->bus);
    if (doc && hb->recovery) json_object_set(doc, "recovery", hb->recovery);
    if (doc && hb->chat &&
        json_object_set_new(doc, "chat",
                            json_pack("{s:I,s:I,s:I}", "history_size",
                                      (json_int_t)hb->chat->history_size, "history_ttl",
                                      (json_int_t)hb->chat->history_ttl, "max_text",
                                      (json_int_t)hb->chat->max_text)) < 0) {
        json_decref(doc);
        doc = NULL;
    }
    return dump(doc, out);
}

json_t *control_msg_heartbeat_parse(const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, 0, NULL);
    json_t *v = json_object_get(doc, "v"), *type = json_object_get(doc, "type");
    json_t *id = json_object_get(doc, "id");
    if (!json_is_integer(v) || json_integer_value(v) != CONTROL_MSG_VERSION ||
        !json_is_string(type) || strcmp(json_string_value(type), "heartbeat") != 0 ||
        !json_is_string(id) ||
        !control_msg_id_valid(json_string_value(id), json_string_length(id))) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

const char *control_msg_heartbeat_id(const json_t *doc, size_t *len)
{
    json_t *id = json_object_get(doc, "id");
    *len = json_string_length(id);
    return json_string_value(id);
}

int control_msg_heartbeat_draining(const json_t *doc)
{
    return json_is_true(json_object_get(doc, "draining"));
}

int control_msg_heartbeat_chat(const json_t *doc, chat_store_limits_t *out)
{
    json_t *chat = json_object_get(doc, "chat");
    json_t *size = json_object_get(chat, "history_size"),
           *ttl = json_object_get(chat, "history_ttl");
    json_t *text = json_object_get(chat, "max_text");
    if (!json_is_integer(size) || !json_is_integer(ttl) || !json_is_integer(text)) return -1;
    chat_store_limits_t l = {
        .history_size = json_integer_value(size),
        .history_ttl = json_integer_value(ttl),
        .max_text = json_integer_value(text),
    };
    if (!chat_store_limits_valid(&l)) return -1;
    *out = l;
    return 0;
}

const char *control_msg_cmd_name(control_msg_cmd_t cmd)
{
    switch (cmd) {
    case CONTROL_MSG_CMD_DRAIN: return "drain";
    case CONTROL_MSG_CMD_UNDRAIN: return "undrain";
    case CONTROL_MSG_CMD_UNKNOWN: break;
    }
    return NULL;
}

int control_msg_command_text(control_msg_cmd_t cmd, const char *id, sbuf_t *out)
{
    const char *type = control_msg_cmd_name(cmd);
    if (!type) return -1;
    return dump(json_pack("{s:i,s:s,s:s}", "v", CONTROL_MSG_VERSION, "type", type, "id", id), out);
}

control_msg_cmd_t control_msg_command_parse(const char *payload, size_t len, json_t **id)
{
    json_t *cmd = json_loadb(payload, len, 0, NULL);
    const char *type = json_string_value(json_object_get(cmd, "type"));
    control_msg_cmd_t what = CONTROL_MSG_CMD_UNKNOWN;
    if (type && strcmp(type, "drain") == 0)
        what = CONTROL_MSG_CMD_DRAIN;
    else if (type && strcmp(type, "undrain") == 0)
        what = CONTROL_MSG_CMD_UNDRAIN;
    *id = json_incref(json_object_get(cmd, "id"));
    json_decref(cmd);
    return what;
}

int control_msg_reply_text(const json_t *id, const char *node, int ok, int draining, sbuf_t *out)
{
    return dump(json_pack("{s:i,s:s,s:O?,s:s,s:b,s:b}", "v", CONTROL_MSG_VERSION, "type", "reply",
                          "id", (json_t *)id, "node", node, "ok", ok, "draining", draining),
                out);
}

json_t *control_msg_reply_parse(const char *payload, size_t len, control_msg_reply_t *out)
{
    json_t *reply = json_loadb(payload, len, 0, NULL);
    const char *type = json_string_value(json_object_get(reply, "type"));
    const char *id = json_string_value(json_object_get(reply, "id"));
    if (!type || !id || strcmp(type, "reply") != 0) {
        json_decref(reply);
        return NULL;
    }
    out->id = id;
    out->node = json_string_value(json_object_get(reply, "node"));
    out->ok = json_is_true(json_object_get(reply, "ok"));
    out->draining = json_is_true(json_object_get(reply, "draining"));
    return reply;
}
