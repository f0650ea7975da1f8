/* The chat's limits, label rules and key layout (see chat_store.h). */
#include "chat_store.h"
#include "alloc.h"
#include "utf8.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int chat_is_user_room(const char *room, size_t len)
{
    return len >= sizeof CHAT_USER_ROOM_PREFIX - 1 &&
           memcmp(room, CHAT_USER_ROOM_PREFIX, sizeof CHAT_USER_ROOM_PREFIX - 1) == 0;
}

int chat_check_name(const char *s, size_t len)
{
    return utf8_label_check(s, len, CHAT_NAME_MAX_CHARS, CHAT_NAME_MAX_BYTES);
}

int chat_check_user_id(const char *s, size_t len)
{
    return utf8_label_check(s, len, CHAT_USER_ID_MAX_CHARS, CHAT_USER_ID_MAX_BYTES);
}

/* Has s the form of a socket id: 20 characters of the base64url alphabet? */
static int socket_id_form(const char *s, size_t len)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    if (len != 20) return 0;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !memchr(ok, s[i], sizeof ok - 1)) return 0;
    return 1;
}

int chat_check_room(const char *s, size_t len)
{
    int rc = utf8_label_check(s, len, CHAT_ROOM_MAX_CHARS, CHAT_ROOM_MAX_BYTES);
    if (rc != 0) return rc;
    if (chat_is_user_room(s, len)) return CHAT_EUSERROOM;
    return socket_id_form(s, len) ? CHAT_ESOCKETROOM : 0;
}

const char *chat_check_strerror(int rc)
{
    if (rc == CHAT_EUSERROOM) return "is a user's own room (user:...)";
    if (rc == CHAT_ESOCKETROOM) return "has the form of a socket id (20 of A-Z a-z 0-9 _ -)";
    return utf8_label_strerror(rc);
}

int chat_check_client_id(const char *s, size_t len)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:";
    if (len == 0 || len > CHAT_CLIENT_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !memchr(ok, s[i], sizeof ok - 1)) return 0;
    return 1;
}

void chat_key_part(sbuf_t *b, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc;
        switch (s[i]) {
        case '%': esc = "%25"; break;
        case ':': esc = "%3A"; break;
        case '{': esc = "%7B"; break;
        case '}': esc = "%7D"; break;
        default: continue;
        }
        sbuf_append(b, s + run, i - run);
        sbuf_append(b, esc, 3);
        run = i + 1;
    }
    sbuf_append(b, s + run, len - run);
}

/* Appends the prefix with '%', '{' and '}' escaped: the first '{' of a key is then always
 * the hash tag this file wrote. ':' stays, so a prefix without those three is kept as it is. */
static void prefix_part(sbuf_t *b, const char *prefix)
{
    size_t run = 0, len = strlen(prefix);
    for (size_t i = 0; i < len; i++) {
        const char *esc;
        switch (prefix[i]) {
        case '%': esc = "%25"; break;
        case '{': esc = "%7B"; break;
        case '}': esc = "%7D"; break;
        default: continue;
        }
        sbuf_append(b, prefix + run, i - run);
        sbuf_append(b, esc, 3);
        run = i + 1;
    }
    sbuf_append(b, prefix + run, len - run);
}

/* Resets b to "K:chat:" and kind; returns the length of "K:chat:". */
static size_t head(sbuf_t *b, const char *prefix, const char *kind)
{
    sbuf_reset(b);
    prefix_part(b, prefix);
    sbuf_append_str(b, ":chat:");
    size_t n = b->len;
    sbuf_append_str(b, kind);
    return n;
}

void chat_key_room(sbuf_t *b, const char *prefix, const char *room, size_t len)
{
    head(b, prefix, "{room:");
    chat_key_part(b, room, len);
    sbuf_append_char(b, '}');
}

void chat_key_presence(sbuf_t *b, const char *prefix, const char *room, size_t len)
{
    head(b, prefix, "presence:");
    chat_key_part(b, room, len);
}

void chat_key_alive(sbuf_t *b, const char *prefix, const char *node_uid)
{
    head(b, prefix, "{alive}:");
    chat_key_part(b, node_uid, strlen(node_uid));
}

void chat_key_node_rooms(sbuf_t *b, const char *prefix, const char *node_uid)
{
    head(b, prefix, "rooms-of:");
    chat_key_part(b, node_uid, strlen(node_uid));
}

void chat_key_dm(sbuf_t *b, const char *prefix, const char *a, size_t alen, const char *c,
                 size_t clen)
{
    size_t n = alen < clen ? alen : clen;
    int cmp = memcmp(a, c, n);
    if (cmp > 0 || (cmp == 0 && alen > clen)) { /* the smaller id first */
        const char *t = a;
        a = c, c = t;
        size_t tl = alen;
        alen = clen, clen = tl;
    }
    head(b, prefix, "{dm:");
    chat_key_part(b, a, alen);
    sbuf_append_char(b, ':');
    chat_key_part(b, c, clen);
    sbuf_append_char(b, '}');
}

void chat_key_dedupe(sbuf_t *b, const char *prefix, const char *stream, size_t stream_len,
                     const char *user, size_t user_len, const char *cid, size_t cid_len)
{
    /* the stream key after "K:chat:" is its hash tag, {room:<room>} or {dm:<a>:<b>}: the
     * scope, and the slot the store script needs both keys in */
    size_t skip = head(b, prefix, "dedupe:");
    if (stream_len > skip) sbuf_append(b, stream + skip, stream_len - skip);
    sbuf_append_char(b, ':');
    chat_key_part(b, user, user_len);
    sbuf_append_char(b, ':');
    chat_key_part(b, cid, cid_len);
}

int chat_store_limits_valid(const chat_store_limits_t *l)
{
    return l->history_size >= 1 && l->history_size <= CHAT_STORE_HISTORY_SIZE_MAX &&
           l->history_ttl >= 1 && l->history_ttl <= CHAT_STORE_HISTORY_TTL_MAX &&
           l->max_text >= 1 && l->max_text <= CHAT_STORE_MAX_TEXT_MAX;
}

/* ---- storing and reading messages ---- */

/* Without a dedupe key KEYS[2] is the stream key again: every key a command declares must
 * be of one slot on Redis Cluster, and "" is a key of slot 0. */
static const char store_lua[] =
    "if KEYS[2] ~= KEYS[1] then local e = redis.call('GET', KEYS[2]) "
    "if e then return {0, e, redis.call('XRANGE', KEYS[1], e, e)[1]} end end "
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', "
    "'from', ARGV[2], 'name', ARGV[3], 'text', ARGV[4], 'to', ARGV[5]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[6]) "
    "if KEYS[2] ~= KEYS[1] then redis.call('SET', KEYS[2], id, 'EX', "
    "math.min(86400, tonumber(ARGV[6]))) end "
    "return {1, id}";

void chat_store_cmd(chat_store_cmd_t *cmd, const chat_store_msg_t *m)
{
    snprintf(cmd->maxlen, sizeof cmd->maxlen, "%lld", m->maxlen);
    snprintf(cmd->ttl, sizeof cmd->ttl, "%lld", m->ttl);
    const char *argv[CHAT_STORE_ARGC] = {
        "EVAL",      store_lua, "2",     m->stream, m->dedupe ? m->dedupe : m->stream,
        cmd->maxlen, m->from,   m->name, m->text,   m->to ? m->to : "",
        cmd->ttl};
    size_t lens[CHAT_STORE_ARGC] = {4,
                                    sizeof store_lua - 1,
                                    1,
                                    m->stream_len,
                                    m->dedupe ? m->dedupe_len : m->stream_len,
                                    strlen(cmd->maxlen),
                                    m->from_len,
                                    m->name_len,
                                    m->text_len,
                                    m->to ? m->to_len : 0,
                                    strlen(cmd->ttl)};
    memcpy(cmd->argv, argv, sizeof argv);
    memcpy(cmd->lens, lens, sizeof lens);
}

int chat_store_reply(const redisReply *r, char *id, size_t cap, const redisReply **entry)
{
    if (entry) *entry = NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements > 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING ||
        !chat_check_stream_id(r->element[1]->str, r->element[1]->len) || r->element[1]->len >= cap)
        return -1;
    memcpy(id, r->element[1]->str, r->element[1]->len);
    id[r->element[1]->len] = '\0';
    if (entry && r->elements == 3 && r->element[0]->integer == 0) *entry = r->element[2];
    return r->element[0]->integer == 1;
}

json_t *chat_store_message(const redisReply *e, const char *room)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        !chat_check_stream_id(e->element[0]->str, e->element[0]->len))
        return NULL;
    const redisReply *f = e->element[1];
    json_t *from = json_object();
    json_t *m = json_pack("{s:s%,s:I,s:o}", "id", e->element[0]->str, (size_t)e->element[0]->len,
                          "ts", (json_int_t)strtoll(e->element[0]->str, NULL, 10), "from", from);
    if (!m) return NULL;
    if (room && json_object_set_new(m, "room", json_string(room)) < 0) {
        json_decref(m);
        return NULL;
    }
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        json_t *val = json_stringn(v->str, v->len);
        if (!val) continue; /* not UTF-8: not one of ours */
        if (k->len == 4 && memcmp(k->str, "from", 4) == 0)
            json_object_set_new(from, "id", val);
        else if (k->len == 4 && memcmp(k->str, "name", 4) == 0)
            json_object_set_new(from, "name", val);
        else if (k->len == 4 && memcmp(k->str, "text", 4) == 0)
            json_object_set_new(m, "text", val);
        else if (k->len == 2 && memcmp(k->str, "to", 2) == 0 && v->len)
            json_object_set_new(m, "to", val);
        else
            json_decref(val);
    }
    return m;
}

json_t *chat_store_messages(const redisReply *r, const char *room)
{
    json_t *msgs = json_array();
    if (!r || r->type != REDIS_REPLY_ARRAY) return msgs;
    for (size_t i = r->elements; i-- > 0;) {
        json_t *m = chat_store_message(r->element[i], room);
        if (m) json_array_append_new(msgs, m);
    }
    return msgs;
}

int chat_check_stream_id(const char *s, size_t len)
{
    if (len == 0 || len > 40 || s[0] < '0' || s[0] > '9') return 0;
    int dash = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-' && !dash && i + 1 < len) {
            dash = 1;
        } else if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* ---- presence ---- */

size_t chat_presence_events(const char *room, size_t rlen, const char *user_id,
                            const char *user_name, int arrived, size_t user_entries, size_t entries,
                            chat_presence_event_t out[2])
{
    size_t n = 0;
    json_t *user = json_pack("{s:s,s:s}", "id", user_id, "name", user_name);
    if (!user) return 0;
    if (chat_is_user_room(room, rlen)) {
        if (arrived ? entries == 1 : entries == 0)
            out[n++] = (chat_presence_event_t){arrived ? CLUSTER_EVENT_USER_ONLINE
                                                       : CLUSTER_EVENT_USER_OFFLINE,
                                               json_pack("{s:O}", "user", user)};
        json_decref(user);
        return n;
    }
    json_t *r = json_stringn(room, rlen);
    if (!r) {
        json_decref(user);
        return 0;
    }
    if (arrived && entries == 1)
        out[n++] =
            (chat_presence_event_t){CLUSTER_EVENT_ROOM_OCCUPIED, json_pack("{s:O}", "room", r)};
    if (arrived ? user_entries == 1 : user_entries == 0)
        out[n++] = (chat_presence_event_t){arrived ? CLUSTER_EVENT_MEMBER_JOINED
                                                   : CLUSTER_EVENT_MEMBER_LEFT,
                                           json_pack("{s:O,s:O}", "room", r, "user", user)};
    if (!arrived && entries == 0)
        out[n++] =
            (chat_presence_event_t){CLUSTER_EVENT_ROOM_VACATED, json_pack("{s:O}", "room", r)};
    json_decref(r);
    json_decref(user);
    return n;
}

static int reply_text(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING;
}

chat_presence_event_t *chat_presence_pruned(const char *room, size_t rlen,
                                            const struct redisReply *r, size_t *n)
{
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < 0)
        return NULL;
    size_t users = (r->elements - 1) / 3, left = (size_t)r->element[0]->integer;
    chat_presence_event_t *ev = NULL;
    for (size_t i = 0; i < users; i++) {
        const redisReply *id = r->element[1 + 3 * i], *name = r->element[2 + 3 * i],
                         *kept = r->element[3 + 3 * i];
        if (!reply_text(id) || !reply_text(name) || kept->type != REDIS_REPLY_INTEGER ||
            memchr(id->str, '\0', id->len) || memchr(name->str, '\0', name->len) ||
            !utf8_valid(id->str, id->len) || !utf8_valid(name->str, name->len))
            continue;
        /* the room is empty only after the last of these departures */
        size_t entries = i + 1 == users ? left : left + 1;
        chat_presence_event_t out[2];
        size_t k = chat_presence_events(room, rlen, id->str, name->str, 0, kept->integer ? 1 : 0,
                                        entries, out);
        if (!k) continue;
        ev = xrealloc(ev, (*n + k) * sizeof *ev);
        for (size_t j = 0; j < k; j++) ev[(*n)++] = out[j];
    }
    return ev;
}

void chat_presence_events_free(chat_presence_event_t *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) json_decref(ev[i].data);
    free(ev);
}
