/* The cluster's events (see cluster_event.h). */
#include "cluster_event.h"
#include "control_msg.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[CLUSTER_EVENT_COUNT] = {
    "user_online",   "user_offline",  "member_joined", "member_left",
    "room_occupied", "room_vacated",  "message",       "private_message",
    "node_up",       "node_draining", "node_down",
};

const char *cluster_event_name(cluster_event_type_t t)
{
    return (int)t >= 0 && t < CLUSTER_EVENT_COUNT ? names[t] : NULL;
}

int cluster_event_parse_name(const char *name, size_t len)
{
    for (int i = 0; i < CLUSTER_EVENT_COUNT; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return i;
    return -1;
}

void cluster_event_key(sbuf_t *b, const char *prefix)
{
    sbuf_reset(b);
    sbuf_append_str(b, prefix);
    sbuf_append_str(b, ":events");
}

void cluster_event_wake_channel(sbuf_t *b, const char *prefix)
{
    cluster_event_key(b, prefix);
    sbuf_append_str(b, ":new");
}

static int has_string(const json_t *o, const char *key)
{
    return json_is_string(json_object_get(o, key));
}

/* {id, name}, both strings. */
static int is_user(const json_t *u)
{
    return json_is_object(u) && has_string(u, "id") && has_string(u, "name");
}

int cluster_event_check(cluster_event_type_t t, const json_t *data)
{
    if (!json_is_object(data)) return -1;
    const json_t *msg = json_object_get(data, "message");
    switch (t) {
    case CLUSTER_EVENT_USER_ONLINE:
    case CLUSTER_EVENT_USER_OFFLINE: return is_user(json_object_get(data, "user")) ? 0 : -1;
    case CLUSTER_EVENT_MEMBER_JOINED:
    case CLUSTER_EVENT_MEMBER_LEFT:
        return has_string(data, "room") && is_user(json_object_get(data, "user")) ? 0 : -1;
    case CLUSTER_EVENT_ROOM_OCCUPIED:
    case CLUSTER_EVENT_ROOM_VACATED: return has_string(data, "room") ? 0 : -1;
    case CLUSTER_EVENT_MESSAGE:
    case CLUSTER_EVENT_PRIVATE_MESSAGE:
        return has_string(data, t == CLUSTER_EVENT_MESSAGE ? "room" : "to") &&
                       json_is_object(msg) && has_string(msg, "id") && has_string(msg, "text") &&
                       is_user(json_object_get(msg, "from"))
                   ? 0
                   : -1;
    case CLUSTER_EVENT_NODE_UP:
    case CLUSTER_EVENT_NODE_DRAINING:
    case CLUSTER_EVENT_NODE_DOWN: {
        const json_t *n = json_object_get(data, "node");
        return json_is_object(n) && has_string(n, "id") ? 0 : -1;
    }
    default: return -1;
    }
}

static int is_text(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* A decimal int64 of text[0..len): 0, or -1. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cluster_event_read(const struct redisReply *entry, cluster_event_t *out)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return -1;
    const redisReply *id = entry->element[0], *fields = entry->element[1];
    if (!is_text(id) || id->len >= sizeof out->id || !fields || fields->type != REDIS_REPLY_ARRAY ||
        fields->elements % 2)
        return -1;
    memcpy(out->id, id->str, id->len);
    const redisReply *type = NULL, *ts = NULL, *node = NULL, *data = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (!is_text(k) || !is_text(v)) return -1;
        if (k->len == 4 && memcmp(k->str, "type", 4) == 0)
            type = v;
        else if (k->len == 2 && memcmp(k->str, "ts", 2) == 0)
            ts = v;
        else if (k->len == 4 && memcmp(k->str, "node", 4) == 0)
            node = v;
        else if (k->len == 4 && memcmp(k->str, "data", 4) == 0)
            data = v;
    }
    if (!type || !ts || !node || !data || !control_msg_id_valid(node->str, node->len)) return -1;
    out->type = cluster_event_parse_name(type->str, type->len);
    if (out->type < 0 || parse_i64(ts->str, ts->len, &out->ts) < 0) return -1;
    memcpy(out->node, node->str, node->len);
    out->data = json_loadb(data->str, data->len, JSON_REJECT_DUPLICATES, NULL);
    if (cluster_event_check((cluster_event_type_t)out->type, out->data) < 0) {
        cluster_event_free(out);
        out->type = -1;
        return -1;
    }
    return 0;
}

void cluster_event_free(cluster_event_t *e)
{
    json_decref(e->data);
    e->data = NULL;
}

json_t *cluster_event_json(const cluster_event_t *e)
{
    const char *name = cluster_event_name((cluster_event_type_t)e->type);
    if (!name || !e->data) return NULL;
    return json_pack("{s:s,s:s,s:I,s:s,s:O}", "id", e->id, "type", name, "ts", (json_int_t)e->ts,
                     "node", e->node, "data", e->data);
}

/* KEYS: P:events, the node's state key; ARGV: state, ttl, max_len, type, ts, recorder, data. */
static const char node_lua[] =
    "if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2]) "
    "redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'type', ARGV[4], 'ts', ARGV[5], "
    "'node', ARGV[6], 'data', ARGV[7]) return 1";

static void arg(cluster_event_cmd_t *cmd, const char *s, size_t len)
{
    cmd->argv[cmd->argc] = s;
    cmd->lens[cmd->argc++] = len;
}

static void arg_str(cluster_event_cmd_t *cmd, const char *s)
{
    arg(cmd, s, strlen(s));
}

/* The parts both commands share; -1 when the event cannot be written. */
static int cmd_start(cluster_event_cmd_t *cmd, const char *prefix, long long max_len,
                     cluster_event_type_t t, int64_t ts_ms, const json_t *data)
{
    memset(cmd, 0, sizeof *cmd);
    if (max_len <= 0 || !cluster_event_name(t) || cluster_event_check(t, data) < 0) return -1;
    cmd->data = json_dumps(data, JSON_COMPACT);
    if (!cmd->data) return -1;
    cluster_event_key(&cmd->key, prefix);
    snprintf(cmd->max, sizeof cmd->max, "%lld", max_len);
    snprintf(cmd->ts, sizeof cmd->ts, "%lld", (long long)ts_ms);
    return 0;
}

int cluster_event_cmd(cluster_event_cmd_t *cmd, const char *prefix, long long max_len,
                      cluster_event_type_t t, int64_t ts_ms, const char *recorder,
                      const json_t *data)
{
    if (cmd_start(cmd, prefix, max_len, t, ts_ms, data) < 0) return -1;
    arg_str(cmd, "XADD");
    arg(cmd, cmd->key.data, cmd->key.len);
    arg_str(cmd, "MAXLEN");
    arg_str(cmd, "~");
    arg_str(cmd, cmd->max);
    arg_str(cmd, "*");
    arg_str(cmd, "type");
    arg_str(cmd, cluster_event_name(t));
    arg_str(cmd, "ts");
    arg_str(cmd, cmd->ts);
    arg_str(cmd, "node");
    arg_str(cmd, recorder);
    arg_str(cmd, "data");
    arg_str(cmd, cmd->data);
    return 0;
}

int cluster_event_node_cmd(cluster_event_cmd_t *cmd, const char *prefix, long long max_len,
                           long long state_ttl, cluster_event_type_t t, int64_t ts_ms,
                           const char *recorder, const json_t *data)
{
    const char *state = t == CLUSTER_EVENT_NODE_UP         ? "up"
                        : t == CLUSTER_EVENT_NODE_DRAINING ? "draining"
                        : t == CLUSTER_EVENT_NODE_DOWN     ? "down"
                                                           : NULL;
    if (!state || state_ttl <= 0 || cmd_start(cmd, prefix, max_len, t, ts_ms, data) < 0) {
        memset(cmd, 0, sizeof *cmd);
        return -1;
    }
    const char *id = json_string_value(json_object_get(json_object_get(data, "node"), "id"));
    sbuf_append_char(&cmd->state, '{');
    sbuf_append(&cmd->state, cmd->key.data, cmd->key.len);
    sbuf_append_str(&cmd->state, "}:node:");
    sbuf_append_str(&cmd->state, id);
    snprintf(cmd->ttl, sizeof cmd->ttl, "%lld", state_ttl);
    arg_str(cmd, "EVAL");
    arg(cmd, node_lua, sizeof node_lua - 1);
    arg_str(cmd, "2");
    arg(cmd, cmd->key.data, cmd->key.len);
    arg(cmd, cmd->state.data, cmd->state.len);
    arg_str(cmd, state);
    arg_str(cmd, cmd->ttl);
    arg_str(cmd, cmd->max);
    arg_str(cmd, cluster_event_name(t));
    arg_str(cmd, cmd->ts);
    arg_str(cmd, recorder);
    arg_str(cmd, cmd->data);
    return 0;
}

void cluster_event_cmd_free(cluster_event_cmd_t *cmd)
{
    sbuf_free(&cmd->key);
    sbuf_free(&cmd->state);
    free(cmd->data);
    cmd->data = NULL;
}
