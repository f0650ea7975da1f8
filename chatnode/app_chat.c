/* The chat app: users (HS256 JWT in auth.token, or auth.user in anonymous mode), rooms,
 * messages stored in one Redis stream per room before anyone is told, private messages,
 * history, typing, and cluster-wide presence. Every client event is answered through its ack
 * with {ok: true, ...} or {error: {code, message}}; bad input never disconnects anyone.
 *
 * Redis keys (K = the --redis-key prefix):
 *   K:chat:room:<room>      stream of a room's messages (capped near --history-size)
 *   K:chat:dm:<a>:<b>       stream of the private messages between users a < b
 *   K:chat:dedupe:<key>:<id> the stream id a client-chosen message id was stored under
 *   K:chat:presence:<room>  hash <node uid>|<user id> -> user name: who is in the room where
 *   K:chat:alive:<node uid> a node's liveness, expiring --presence-ttl after its last refresh
 * Without --redis the node runs alone and keeps the same streams in memory, capped the same
 * way; presence is then the node's own sockets. */
#include "alloc.h"
#include "app.h"
#include "cluster.h"
#include "json_text.h"
#include "log.h"
#include "sio.h"
#include "strmap.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define CHAT_MAX_ID 128 /* longest user id or name, bytes */

typedef struct {
    server_t *srv;
    sio_server_t *sio;
    const chatnode_config_t *cfg;
    unsigned char *secret; /* HS256 key, or NULL */
    size_t secret_len;
    strmap_t local; /* "<room>\n<user>" -> count of this node's sockets of user in room */
    uv_timer_t refresh;
    char prefix[128];
    /* Running alone (no --redis): messages are kept in memory instead of Redis streams. */
    strmap_t mem_streams; /* stream key -> mem_stream_t */
    strmap_t mem_dedupe;  /* dedupe key -> mem_id_t */
    uint64_t mem_last_ms;
    uint32_t mem_seq;
} chat_t;

typedef struct {
    json_t *entries; /* [[id, from, name, text, to]...], oldest first */
    size_t len;
    char key[];
} mem_stream_t;

typedef struct {
    char id[48];
    size_t len;
    char key[];
} mem_id_t;

static chat_t *chat; /* the module's state (one chat app per process) */

/* Per socket, with its strings in the same allocation. */
typedef struct {
    char *user_id;
    char *user_name; /* user_id itself when the two are the same */
    double tokens;   /* rate limit bucket */
    uint64_t last_ms;
    uint32_t rooms; /* chat rooms joined */
} member_t;

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static cluster_t *cl(void)
{
    return cluster_of(chat->sio);
}

/* Answers ack_id with {ok: true, ...fields} (fields stolen; may be NULL). */
static void ack_ok(sio_socket_t *s, int64_t ack_id, json_t *fields)
{
    json_t *o = fields ? fields : json_object();
    json_object_set_new(o, "ok", json_true());
    char *text = json_dumps(o, JSON_COMPACT);
    sio_ack(s, ack_id, text, strlen(text), NULL, 0);
    free(text);
    json_decref(o);
}

static void ack_err(sio_socket_t *s, int64_t ack_id, const char *code, const char *message)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *text = json_dumps(o, JSON_COMPACT);
    sio_ack(s, ack_id, text, strlen(text), NULL, 0);
    free(text);
    json_decref(o);
}

static json_t *user_json(const member_t *m)
{
    return json_pack("{s:s,s:s}", "id", m->user_id, "name", m->user_name);
}

/* Emits event with one JSON object argument to rooms (minus except), cluster-wide. */
static void emit_to(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                    size_t nexcept, const char *event, json_t *arg, unsigned flags)
{
    char *text = json_dumps(arg, JSON_COMPACT);
    sio_broadcast(nsp, rooms, nrooms, except, nexcept, event, strlen(event), text, strlen(text),
                  NULL, 0, flags);
    free(text);
}

/* A name usable as a room or an id: 1..max characters (code points), no control characters. */
static int valid_name(const char *s, size_t len, size_t max_chars)
{
    size_t chars = 0;
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) return 0;
        if ((ch & 0xc0) != 0x80) chars++;
    }
    return chars <= max_chars;
}

static const char *field_string(json_t *o, const char *key, size_t *len)
{
    json_t *v = json_object_get(o, key);
    if (len) *len = 0;
    if (!json_is_string(v)) return NULL;
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

/* Keys under the configured prefix. */
static void key(sbuf_t *b, const char *kind, const char *a, size_t alen)
{
    sbuf_reset(b);
    sbuf_append_str(b, chat->prefix);
    sbuf_append_str(b, kind);
    sbuf_append(b, a, alen);
}

enum { AFTER_JOIN = 1 }; /* wait_t.kind: the answer to a join carries members too */

/* A client waiting for an asynchronous answer; its socket may be gone by then. */
typedef struct {
    sio_nsp_t *nsp;
    char sid[32];
    int64_t ack_id;
    char *room;  /* room or peer user id, as the request needs */
    char *extra; /* the message text, ... */
    int kind;
} wait_t;

static wait_t *wait_new(sio_socket_t *s, int64_t ack_id)
{
    wait_t *w = xcalloc(1, sizeof *w);
    w->nsp = sio_socket_nsp(s);
    snprintf(w->sid, sizeof w->sid, "%s", sio_socket_id(s));
    w->ack_id = ack_id;
    return w;
}

static sio_socket_t *wait_socket(const wait_t *w)
{
    return sio_socket_find(w->nsp, w->sid, strlen(w->sid));
}

static void wait_free(wait_t *w)
{
    free(w->room);
    free(w->extra);
    free(w);
}

/* ---- identity ---- */

static int load_secret(const chatnode_config_t *cfg, char *err, size_t errlen)
{
    const char *env = getenv("CHATNODE_JWT_SECRET");
    if (cfg->jwt_secret_file && *cfg->jwt_secret_file) {
        FILE *f = fopen(cfg->jwt_secret_file, "rb");
        if (!f) {
            snprintf(err, errlen, "cannot read %s: %s", cfg->jwt_secret_file, strerror(errno));
            return -1;
        }
        unsigned char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        if (!n) {
            snprintf(err, errlen, "%s is empty", cfg->jwt_secret_file);
            return -1;
        }
        chat->secret = xmemdup(buf, n);
        chat->secret_len = n;
    } else if (env && *env) {
        chat->secret_len = strlen(env);
        chat->secret = xmemdup(env, chat->secret_len);
    }
    return 0;
}

static int refuse(sbuf_t *error, const char *reason)
{
    json_t *e = json_pack("{s:s,s:{s:s}}", "message", "unauthorized", "data", "reason", reason);
    char *text = json_dumps(e, JSON_COMPACT);
    sbuf_append_str(error, text);
    free(text);
    json_decref(e);
    return -1;
}

static int chat_connect(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error)
{
    json_t *a = json_loadb(auth, auth_len, 0, NULL);
    const char *token = field_string(a, "token", NULL), *user = field_string(a, "user", NULL);
    char id[CHAT_MAX_ID + 1] = "", name[CHAT_MAX_ID + 1] = "";
    int rc = 0;
    if (token && chat->secret) {
        jwt_t *jwt = NULL;
        if (jwt_decode(&jwt, token, chat->secret, (int)chat->secret_len) != 0 || !jwt ||
            jwt_get_alg(jwt) != JWT_ALG_HS256) {
            rc = refuse(error, "invalid token");
        } else {
            const char *sub = jwt_get_grant(jwt, "sub"), *nm = jwt_get_grant(jwt, "name");
            long exp = jwt_get_grant_int(jwt, "exp");
            long nbf = jwt_get_grant_int(jwt, "nbf");
            long now = (long)(now_ms() / 1000);
            if (!sub || !valid_name(sub, strlen(sub), 64))
                rc = refuse(error, "token has no valid sub");
            else if (exp > 0 && exp <= now)
                rc = refuse(error, "token expired");
            else if (nbf > 0 && nbf > now)
                rc = refuse(error, "token not yet valid");
            else {
                snprintf(id, sizeof id, "%s", sub);
                snprintf(name, sizeof name, "%s", nm && valid_name(nm, strlen(nm), 64) ? nm : sub);
            }
        }
        if (jwt) jwt_free(jwt);
    } else if (token) {
        rc = refuse(error, "tokens are not accepted: no secret configured");
    } else if (user && chat->cfg->allow_anonymous) {
        if (!valid_name(user, strlen(user), 64))
            rc = refuse(error, "invalid user name");
        else {
            snprintf(id, sizeof id, "%s", user);
            snprintf(name, sizeof name, "%s", user);
        }
    } else {
        rc = refuse(error, chat->cfg->allow_anonymous ? "missing token or user" : "missing token");
    }
    json_decref(a);
    if (rc < 0) return -1;
    size_t idlen = strlen(id) + 1, namelen = strcmp(id, name) ? strlen(name) + 1 : 0;
    member_t *m = xcalloc(1, sizeof *m + idlen + namelen);
    m->user_id = memcpy((char *)(m + 1), id, idlen);
    m->user_name = namelen ? memcpy(m->user_id + idlen, name, namelen) : m->user_id;
    m->tokens = (double)chat->cfg->burst;
    m->last_ms = now_ms();
    sio_socket_set_data(s, m);
    return 0;
}

static void chat_connected(sio_socket_t *s, const char *auth, size_t auth_len)
{
    (void)auth;
    (void)auth_len;
    member_t *m = sio_socket_data(s);
    sbuf_t room = SBUF_INIT;
    sbuf_printf(&room, "user:%s", m->user_id);
    sio_join(s, room.data, room.len);
    sbuf_free(&room);
}

/* ---- presence ---- */

/* This node's count of user's sockets in a room. The key lives inside the value. */
typedef struct {
    long n;
    size_t len;
    char key[];
} local_t;

/* Applies delta to the local count of user's sockets in room; returns the new count. */
static long local_count(const char *room, size_t rlen, const char *user, long delta)
{
    sbuf_t k = SBUF_INIT;
    sbuf_append(&k, room, rlen);
    sbuf_append_char(&k, '\n');
    sbuf_append_str(&k, user);
    local_t *l = strmap_get(&chat->local, k.data, k.len);
    long v = (l ? l->n : 0) + delta;
    if (v <= 0) {
        if (l) free(strmap_del(&chat->local, k.data, k.len));
        v = 0;
    } else if (l) {
        l->n = v;
    } else {
        l = xmalloc(sizeof *l + k.len);
        l->n = v;
        l->len = k.len;
        memcpy(l->key, k.data, k.len);
        strmap_put(&chat->local, l->key, l->len, l);
    }
    sbuf_free(&k);
    return v;
}

static void ignore_reply(void *ud, int status, const redisReply *r)
{
    (void)ud;
    (void)status;
    (void)r;
}

/* Records (or removes) this node's entry for user in room's presence hash. */
static void refresh_alive(uv_timer_t *t);

static void presence_entry(const char *room, size_t rlen, const member_t *m, int present)
{
    cluster_t *c = cl();
    sbuf_t k = SBUF_INIT, field = SBUF_INIT;
    key(&k, "presence:", room, rlen);
    sbuf_printf(&field, "%s|%s", cluster_uid(c), m->user_id);
    if (present) {
        const char *argv[] = {"HSET", k.data, field.data, m->user_name};
        size_t lens[] = {4, k.len, field.len, strlen(m->user_name)};
        cluster_command(c, 4, argv, lens, ignore_reply, NULL);
    } else {
        const char *argv[] = {"HDEL", k.data, field.data};
        size_t lens[] = {4, k.len, field.len};
        cluster_command(c, 3, argv, lens, ignore_reply, NULL);
    }
    sbuf_free(&k);
    sbuf_free(&field);
}

static void presence_write(const char *room, size_t rlen, const member_t *m, int present)
{
    if (!cl()) return;                /* alone: presence is this node's own sockets */
    if (present) refresh_alive(NULL); /* an entry is never written for a node not alive */
    presence_entry(room, rlen, m, present);
}

/* Reads a room's presence: cb gets the entries of live nodes as a JSON array of
 * [node, user id, user name] (borrowed), or NULL when Redis could not be read. */
typedef void (*presence_cb)(void *ud, json_t *live);

typedef struct {
    presence_cb cb;
    void *ud;
    json_t *entries;
} presence_req_t;

static void presence_done(presence_req_t *q, json_t *live)
{
    q->cb(q->ud, live);
    json_decref(q->entries);
    free(q);
}

static void on_alive(void *ud, int status, const redisReply *r)
{
    presence_req_t *q = ud;
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY) {
        presence_done(q, NULL);
        return;
    }
    json_t *live = json_array();
    size_t i;
    json_t *e;
    const char *me = cluster_uid(cl());
    json_array_foreach(q->entries, i, e)
    {
        int mine = strcmp(json_string_value(json_array_get(e, 0)), me) == 0;
        if (mine || (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER &&
                     r->element[i]->integer != 0))
            json_array_append(live, e); /* a node gone silent does not count */
    }
    presence_done(q, live);
    json_decref(live);
}

static void on_presence_hash(void *ud, int status, const redisReply *r)
{
    presence_req_t *q = ud;
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY) {
        presence_done(q, NULL);
        return;
    }
    q->entries = json_array();
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        const char *bar = memchr(f->str, '|', f->len);
        if (!bar) continue;
        size_t nlen = (size_t)(bar - f->str);
        json_array_append_new(q->entries, json_pack("[s%,s%,s%]", f->str, nlen, bar + 1,
                                                    f->len - nlen - 1, v->str, (size_t)v->len));
    }
    size_t n = json_array_size(q->entries);
    if (n == 0) {
        presence_done(q, q->entries);
        return;
    }
    /* whether each entry's node is alive, in one round trip */
    static const char lua[] =
        "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('EXISTS', k) end return r";
    const char **args = xmalloc((3 + n) * sizeof *args);
    size_t *lens = xmalloc((3 + n) * sizeof *lens);
    sbuf_t *keys = xcalloc(n, sizeof *keys);
    char count[24];
    snprintf(count, sizeof count, "%zu", n);
    args[0] = "EVAL", lens[0] = 4;
    args[1] = lua, lens[1] = sizeof lua - 1;
    args[2] = count, lens[2] = strlen(count);
    for (size_t i = 0; i < n; i++) {
        const char *node = json_string_value(json_array_get(json_array_get(q->entries, i), 0));
        key(&keys[i], "alive:", node, strlen(node));
        args[3 + i] = keys[i].data;
        lens[3 + i] = keys[i].len;
    }
    if (cluster_command(cl(), (int)(3 + n), args, lens, on_alive, q) < 0) presence_done(q, NULL);
    for (size_t i = 0; i < n; i++) sbuf_free(&keys[i]);
    free(keys);
    free(args);
    free(lens);
}

/* Alone: the entries are this node's sockets in the room. */
static void local_presence(const char *room, size_t rlen, presence_cb cb, void *ud)
{
    json_t *live = json_array();
    sio_nsp_t *nsp = sio_nsp_find(chat->sio, "/", 1);
    sio_socket_t **sel = NULL;
    str_t r = {room, rlen};
    size_t n = nsp ? sio_select(nsp, &r, 1, NULL, 0, &sel) : 0;
    strmap_t seen = STRMAP_INIT; /* one entry per user: a big room is mostly the same users again */
    for (size_t i = 0; i < n; i++) {
        member_t *m = sio_socket_data(sel[i]);
        if (!m || strmap_get(&seen, m->user_id, strlen(m->user_id))) continue;
        strmap_put(&seen, m->user_id, strlen(m->user_id), m);
        json_array_append_new(live, json_pack("[s,s,s]", "local", m->user_id, m->user_name));
    }
    strmap_free(&seen);
    free(sel);
    cb(ud, live);
    json_decref(live);
}

static void presence_read(const char *room, size_t rlen, presence_cb cb, void *ud)
{
    if (!cl()) {
        local_presence(room, rlen, cb, ud);
        return;
    }
    presence_req_t *q = xcalloc(1, sizeof *q);
    q->cb = cb;
    q->ud = ud;
    sbuf_t k = SBUF_INIT;
    key(&k, "presence:", room, rlen);
    const char *argv[] = {"HGETALL", k.data};
    size_t lens[] = {7, k.len};
    if (cluster_command(cl(), 2, argv, lens, on_presence_hash, q) < 0) presence_done(q, NULL);
    sbuf_free(&k);
}

/* The distinct users of live presence entries, as [{id, name}]. */
static json_t *users_of(json_t *live)
{
    json_t *users = json_array(), *seen = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(live, i, e)
    {
        const char *id = json_string_value(json_array_get(e, 1));
        if (!id || json_object_get(seen, id)) continue;
        json_object_set_new(seen, id, json_true());
        json_array_append_new(users, json_pack("{s:O,s:O}", "id", json_array_get(e, 1), "name",
                                               json_array_get(e, 2)));
    }
    json_decref(seen);
    return users;
}

/* How many live nodes other than this one have user in the room. */
static size_t other_nodes_with(json_t *live, const char *user)
{
    size_t n = 0, i;
    json_t *e;
    if (!cl()) return 0;
    const char *me = cluster_uid(cl());
    json_array_foreach(live, i, e)
    {
        if (strcmp(json_string_value(json_array_get(e, 1)), user) == 0 &&
            strcmp(json_string_value(json_array_get(e, 0)), me) != 0)
            n++;
    }
    return n;
}

/* Refreshes this node's liveness key. */
static void refresh_alive(uv_timer_t *t)
{
    (void)t;
    cluster_t *c = cl();
    if (!c) return;
    sbuf_t k = SBUF_INIT;
    char ttl[24];
    key(&k, "alive:", cluster_uid(c), strlen(cluster_uid(c)));
    snprintf(ttl, sizeof ttl, "%lld", chat->cfg->presence_ttl);
    const char *argv[] = {"SET", k.data, "1", "EX", ttl};
    size_t lens[] = {3, k.len, 1, 2, strlen(ttl)};
    cluster_command(c, 5, argv, lens, ignore_reply, NULL);
    sbuf_free(&k);
}

/* ---- history ---- */

/* A stream entry [id, [field, value, ...]] as a message object for room (or a private one). */
static json_t *entry_json(const redisReply *e, const char *room)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    const redisReply *f = e->element[1];
    json_t *m = json_object(), *from = json_object();
    json_object_set_new(m, "id", json_stringn(e->element[0]->str, e->element[0]->len));
    if (room) json_object_set_new(m, "room", json_string(room));
    json_object_set_new(m, "ts", json_integer(strtoll(e->element[0]->str, NULL, 10)));
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
    json_object_set_new(m, "from", from);
    return m;
}

/* XREVRANGE reply -> messages, newest last. */
static json_t *messages_of(const redisReply *r, const char *room)
{
    json_t *msgs = json_array();
    if (!r || r->type != REDIS_REPLY_ARRAY) return msgs;
    for (size_t i = r->elements; i-- > 0;) {
        json_t *m = entry_json(r->element[i], room);
        if (m) json_array_append_new(msgs, m);
    }
    return msgs;
}

typedef void (*history_cb)(wait_t *w, const redisReply *r);

/* Answers a history (or join) request with messages (stolen; NULL: unavailable). */
static void history_answer(wait_t *w, json_t *messages)
{
    sio_socket_t *s = wait_socket(w);
    if (s && !messages) {
        ack_err(s, w->ack_id, "internal", "history is unavailable");
    } else if (s) {
        json_t *res = json_pack("{s:O}", w->kind == AFTER_JOIN ? "history" : "messages", messages);
        if (w->kind == AFTER_JOIN) {
            json_object_set_new(res, "room", json_string(w->room));
            json_object_set_new(res, "members", json_loads(w->extra, 0, NULL));
        }
        ack_ok(s, w->ack_id, res);
    }
    json_decref(messages);
    wait_free(w);
}

static void on_history_reply(void *ud, int status, const redisReply *r)
{
    wait_t *w = ud;
    history_answer(w, status == 0 && r && r->type == REDIS_REPLY_ARRAY ? messages_of(r, w->room)
                                                                       : NULL);
}

/* Stream ids compare as (ms, seq). */
static int id_before(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0,
                       bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    return am < bm || (am == bm && as < bs);
}

static json_t *mem_message(json_t *e, const char *room)
{
    const char *id = json_string_value(json_array_get(e, 0));
    json_t *m = json_pack("{s:s,s:I,s:{s:O,s:O},s:O}", "id", id, "ts",
                          (json_int_t)strtoll(id, NULL, 10), "from", "id", json_array_get(e, 1),
                          "name", json_array_get(e, 2), "text", json_array_get(e, 3));
    if (room) json_object_set_new(m, "room", json_string(room));
    if (json_string_length(json_array_get(e, 4))) json_object_set(m, "to", json_array_get(e, 4));
    return m;
}

/* History from the in-memory stream of a room. */
static json_t *mem_history(const char *room, const char *before, long limit)
{
    sbuf_t k = SBUF_INIT;
    sbuf_printf(&k, "room:%s", room);
    mem_stream_t *st = strmap_get(&chat->mem_streams, k.data, k.len);
    sbuf_free(&k);
    json_t *out = json_array();
    if (!st) return out;
    size_t n = json_array_size(st->entries), end = n;
    if (before)
        while (end > 0 && !id_before(json_string_value(
                                         json_array_get(json_array_get(st->entries, end - 1), 0)),
                                     before))
            end--;
    size_t start = end > (size_t)limit ? end - (size_t)limit : 0;
    for (size_t i = start; i < end; i++)
        json_array_append_new(out, mem_message(json_array_get(st->entries, i), room));
    return out;
}

/* XREVRANGE of a room's stream: before (exclusive; NULL: newest), limit. */
static void history_read(wait_t *w, const char *before, long limit)
{
    if (!cl()) {
        history_answer(w, mem_history(w->room, before, limit));
        return;
    }
    sbuf_t k = SBUF_INIT, end = SBUF_INIT;
    char count[24];
    key(&k, "room:", w->room, strlen(w->room));
    if (before)
        sbuf_printf(&end, "(%s", before);
    else
        sbuf_append_str(&end, "+");
    snprintf(count, sizeof count, "%ld", limit);
    const char *argv[] = {"XREVRANGE", k.data, end.data, "-", "COUNT", count};
    size_t lens[] = {9, k.len, end.len, 1, 5, strlen(count)};
    if (cluster_command(cl(), 6, argv, lens, on_history_reply, w) < 0) {
        sio_socket_t *s = wait_socket(w);
        if (s) ack_err(s, w->ack_id, "internal", "history is unavailable");
        wait_free(w);
    }
    sbuf_free(&k);
    sbuf_free(&end);
}

/* ---- join and leave ---- */

/* A user's presence in a room changed on this node: record it, and tell the room when the
 * user arrived in it (or left it) cluster-wide. A join answers its client afterwards. */
typedef struct {
    sio_nsp_t *nsp;
    char *room, *user_id, *user_name;
    int arrived; /* 1: first local socket; 0: last local socket gone; -1: no change here */
    wait_t *w;   /* the joining client, or NULL */
} change_t;

static void on_change_presence(void *ud, json_t *live)
{
    change_t *ch = ud;
    str_t room = {ch->room, strlen(ch->room)};
    if (live && ch->arrived >= 0 && other_nodes_with(live, ch->user_id) == 0) {
        json_t *ev = json_pack("{s:s,s:{s:s,s:s}}", "room", ch->room, "user", "id", ch->user_id,
                               "name", ch->user_name);
        emit_to(ch->nsp, &room, 1, NULL, 0, ch->arrived ? "joined" : "left", ev, 0);
        json_decref(ev);
    }
    if (ch->w) {
        json_t *users = live ? users_of(live) : json_array();
        ch->w->extra = json_dumps(users, JSON_COMPACT);
        json_decref(users);
        history_read(ch->w, NULL, (long)chat->cfg->history_page);
    }
    free(ch->room);
    free(ch->user_id);
    free(ch->user_name);
    free(ch);
}

/* Updates the local count for m in room by delta and follows up as on_change_presence. */
static void presence_change(sio_nsp_t *nsp, const char *room, size_t rlen, const member_t *m,
                            int delta, wait_t *w)
{
    long n = local_count(room, rlen, m->user_id, delta);
    int arrived = -1;
    if (delta > 0 && n == 1) arrived = 1;
    if (delta < 0 && n == 0) arrived = 0;
    if (arrived >= 0) presence_write(room, rlen, m, arrived);
    if (arrived < 0 && !w) return;
    change_t *ch = xcalloc(1, sizeof *ch);
    ch->nsp = nsp;
    ch->room = xstrndup(room, rlen);
    ch->user_id = xstrdup(m->user_id);
    ch->user_name = xstrdup(m->user_name);
    ch->arrived = arrived;
    ch->w = w;
    presence_read(room, rlen, on_change_presence, ch);
}

static int in_room(sio_socket_t *s, const char *room, size_t len);

static void do_join(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || !valid_name(room, rlen, 128) || (rlen >= 5 && memcmp(room, "user:", 5) == 0)) {
        ack_err(s, ack_id, "bad_request", "room must be 1-128 characters, no control characters");
        return;
    }
    wait_t *w = wait_new(s, ack_id);
    w->room = xstrndup(room, rlen);
    w->kind = AFTER_JOIN;
    if (in_room(s, room, rlen)) { /* joined already: the same answer again */
        presence_change(sio_socket_nsp(s), room, rlen, m, 0, w);
        return;
    }
    if (m->rooms >= (uint32_t)chat->cfg->max_rooms) {
        ack_err(s, ack_id, "bad_request", "too many rooms");
        wait_free(w);
        return;
    }
    sio_join(s, room, rlen);
    m->rooms++;
    presence_change(sio_socket_nsp(s), room, rlen, m, +1, w);
}

static void do_leave(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || !valid_name(room, rlen, 128) || (rlen >= 5 && memcmp(room, "user:", 5) == 0)) {
        ack_err(s, ack_id, "bad_request", "room must be 1-128 characters, no control characters");
        return;
    }
    /* the socket's own room is not one it joined */
    const char *sid = sio_socket_id(s);
    if ((strlen(sid) == rlen && memcmp(sid, room, rlen) == 0) || !in_room(s, room, rlen)) {
        ack_err(s, ack_id, "not_found", "not in that room");
        return;
    }
    sio_leave(s, room, rlen);
    m->rooms--;
    presence_change(sio_socket_nsp(s), room, rlen, m, -1, NULL);
    ack_ok(s, ack_id, NULL);
}

typedef struct {
    const char *room;
    size_t len;
    int found;
} find_room_t;

static void match_room(const char *room, size_t len, void *arg)
{
    find_room_t *f = arg;
    if (len == f->len && memcmp(room, f->room, len) == 0) f->found = 1;
}

static int in_room(sio_socket_t *s, const char *room, size_t len)
{
    find_room_t f = {room, len, 0};
    sio_socket_rooms(s, match_room, &f);
    return f.found;
}

/* ---- messages ---- */

/* Stores a message once: a client-chosen id maps to the stream id it was first stored under,
 * so a retry returns that id instead of storing again. Returns {new (1|0), stream id}. */
static const char store_lua[] =
    "if KEYS[2] ~= '' then local e = redis.call('GET', KEYS[2]) "
    "if e then return {0, e} end end "
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', "
    "'from', ARGV[2], 'name', ARGV[3], 'text', ARGV[4], 'to', ARGV[5]) "
    "if KEYS[2] ~= '' then redis.call('SET', KEYS[2], id, 'EX', 86400) end "
    "return {1, id}";

enum { MSG_ROOM = 1, MSG_PRIVATE };

typedef struct {
    wait_t *w;
    int kind;
    char *target; /* room, or the recipient's user id */
    char *text;
    char *from_id, *from_name;
} store_t;

static void store_free(store_t *st)
{
    free(st->target);
    free(st->text);
    free(st->from_id);
    free(st->from_name);
    free(st);
}

/* The message is stored under id (fresh: just now; else a retry of one stored before):
 * deliver it if fresh, then answer the sender. */
static void stored(store_t *st, const char *id, int fresh)
{
    wait_t *w = st->w;
    sio_socket_t *s = wait_socket(w);
    {
        long long ts = strtoll(id, NULL, 10);
        if (fresh) {
            json_t *msg =
                json_pack("{s:s,s:{s:s,s:s},s:s,s:I}", "id", id, "from", "id", st->from_id, "name",
                          st->from_name, "text", st->text, "ts", (json_int_t)ts);
            if (st->kind == MSG_ROOM) {
                json_object_set_new(msg, "room", json_string(st->target));
                str_t room = {st->target, strlen(st->target)};
                emit_to(w->nsp, &room, 1, NULL, 0, "message", msg, 0);
            } else {
                json_object_set_new(msg, "to", json_string(st->target));
                sbuf_t to = SBUF_INIT, me = SBUF_INIT;
                sbuf_printf(&to, "user:%s", st->target);
                sbuf_printf(&me, "user:%s", st->from_id);
                str_t rooms[2] = {{to.data, to.len}, {me.data, me.len}};
                str_t except = {w->sid, strlen(w->sid)};
                emit_to(w->nsp, rooms, 2, &except, 1, "private", msg, 0);
                sbuf_free(&to);
                sbuf_free(&me);
            }
            json_decref(msg);
        }
        if (s) ack_ok(s, w->ack_id, json_pack("{s:s,s:I}", "id", id, "ts", (json_int_t)ts));
    }
    wait_free(w);
    store_free(st);
}

static void on_stored(void *ud, int status, const redisReply *r)
{
    store_t *st = ud;
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING) {
        sio_socket_t *s = wait_socket(st->w);
        if (s)
            ack_err(s, st->w->ack_id, "internal", "the message could not be stored; send it again");
        wait_free(st->w);
        store_free(st);
        return;
    }
    char id[64];
    snprintf(id, sizeof id, "%.*s", (int)r->element[1]->len, r->element[1]->str);
    stored(st, id, r->element[0]->integer == 1);
}

/* Alone: the same store in memory (stream key scope, dedupe key or NULL). */
static void mem_store(store_t *st, const char *scope, size_t scope_len, const char *dedupe,
                      size_t dedupe_len)
{
    mem_id_t *seen = dedupe ? strmap_get(&chat->mem_dedupe, dedupe, dedupe_len) : NULL;
    if (seen) {
        stored(st, seen->id, 0);
        return;
    }
    uint64_t ms = now_ms();
    if (ms <= chat->mem_last_ms)
        ms = chat->mem_last_ms, chat->mem_seq++;
    else
        chat->mem_last_ms = ms, chat->mem_seq = 0;
    char id[48];
    snprintf(id, sizeof id, "%llu-%u", (unsigned long long)ms, chat->mem_seq);
    mem_stream_t *str = strmap_get(&chat->mem_streams, scope, scope_len);
    if (!str) {
        str = xmalloc(sizeof *str + scope_len);
        str->entries = json_array();
        str->len = scope_len;
        memcpy(str->key, scope, scope_len);
        strmap_put(&chat->mem_streams, str->key, str->len, str);
    }
    json_array_append_new(str->entries,
                          json_pack("[s,s,s,s,s]", id, st->from_id, st->from_name, st->text,
                                    st->kind == MSG_PRIVATE ? st->target : ""));
    while (json_array_size(str->entries) > (size_t)chat->cfg->history_size)
        json_array_remove(str->entries, 0);
    if (dedupe) {
        mem_id_t *d = xmalloc(sizeof *d + dedupe_len);
        snprintf(d->id, sizeof d->id, "%s", id);
        d->len = dedupe_len;
        memcpy(d->key, dedupe, dedupe_len);
        strmap_put(&chat->mem_dedupe, d->key, d->len, d);
    }
    stored(st, id, 1);
}

/* A client-chosen message id: up to 64 of [A-Za-z0-9_-.:]. */
static int valid_client_id(const char *id, size_t len)
{
    if (len == 0 || len > 64) return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:", id[i]) ||
            !id[i])
            return 0;
    return 1;
}

static void do_message(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id, int kind)
{
    size_t tlen, textlen, idlen = 0;
    const char *target = field_string(arg, kind == MSG_ROOM ? "room" : "to", &tlen);
    const char *text = field_string(arg, "text", &textlen);
    json_t *jid = json_object_get(arg, "id");
    const char *cid = json_is_string(jid) ? json_string_value(jid) : NULL;
    if (cid) idlen = json_string_length(jid);
    if (!target || !valid_name(target, tlen, kind == MSG_ROOM ? 128 : 64)) {
        ack_err(s, ack_id, "bad_request",
                kind == MSG_ROOM ? "room must be 1-128 characters" : "to must be a user id");
        return;
    }
    if (!text || textlen == 0 || textlen > (size_t)chat->cfg->max_text) {
        char msg[96];
        snprintf(msg, sizeof msg, "text must be a string of 1 to %lld bytes", chat->cfg->max_text);
        ack_err(s, ack_id, "bad_request", msg);
        return;
    }
    if ((jid && !json_is_null(jid) && !cid) || (cid && !valid_client_id(cid, idlen))) {
        ack_err(s, ack_id, "bad_request", "id must be up to 64 of A-Z a-z 0-9 _ - . :");
        return;
    }
    if (kind == MSG_ROOM && !in_room(s, target, tlen)) {
        ack_err(s, ack_id, "not_found", "join the room first");
        return;
    }
    sbuf_t stream = SBUF_INIT, dedupe = SBUF_INIT, scope = SBUF_INIT;
    if (kind == MSG_ROOM) {
        key(&stream, "room:", target, tlen);
        sbuf_printf(&scope, "room:%.*s", (int)tlen, target);
    } else {
        /* one stream per pair of users, the smaller id first */
        int mine_first = strcmp(m->user_id, target) < 0;
        sbuf_printf(&scope, "dm:%s:%.*s", mine_first ? m->user_id : target,
                    mine_first ? (int)strlen(target) : (int)strlen(m->user_id),
                    mine_first ? target : m->user_id);
        key(&stream, "", scope.data, scope.len);
        if (!mine_first) { /* key() took scope as is: already ordered */
        }
    }
    if (cid) {
        key(&dedupe, "dedupe:", scope.data, scope.len);
        sbuf_printf(&dedupe, ":%s:%s", m->user_id, cid);
    }
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%lld", chat->cfg->history_size);
    const char *to = kind == MSG_PRIVATE ? target : "";
    const char *argv[] = {"EVAL", store_lua,  "2",          stream.data, cid ? dedupe.data : "",
                          maxlen, m->user_id, m->user_name, text,        to};
    size_t lens[] = {4,
                     sizeof store_lua - 1,
                     1,
                     stream.len,
                     cid ? dedupe.len : 0,
                     strlen(maxlen),
                     strlen(m->user_id),
                     strlen(m->user_name),
                     textlen,
                     kind == MSG_PRIVATE ? tlen : 0};
    store_t *st = xcalloc(1, sizeof *st);
    st->w = wait_new(s, ack_id);
    st->kind = kind;
    st->target = xstrndup(target, tlen);
    st->text = xstrndup(text, textlen);
    st->from_id = xstrdup(m->user_id);
    st->from_name = xstrdup(m->user_name);
    if (!cl()) {
        mem_store(st, scope.data, scope.len, cid ? dedupe.data : NULL, dedupe.len);
    } else if (cluster_command(cl(), 10, argv, lens, on_stored, st) < 0) {
        ack_err(s, ack_id, "internal", "storage is unavailable; send it again");
        wait_free(st->w);
        store_free(st);
    }
    sbuf_free(&stream);
    sbuf_free(&dedupe);
    sbuf_free(&scope);
}

/* ---- the rest of the events ---- */

static void do_typing(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || !valid_name(room, rlen, 128) || !in_room(s, room, rlen)) {
        ack_err(s, ack_id, "bad_request", "typing needs a room you are in");
        return;
    }
    json_t *ev = json_pack("{s:s%,s:o}", "room", room, rlen, "user", user_json(m));
    str_t r = {room, rlen}, me = {sio_socket_id(s), strlen(sio_socket_id(s))};
    emit_to(sio_socket_nsp(s), &r, 1, &me, 1, "typing", ev, SIO_VOLATILE);
    json_decref(ev);
    ack_ok(s, ack_id, NULL);
}

static void do_history(sio_socket_t *s, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    json_t *jb = json_object_get(arg, "before"), *jl = json_object_get(arg, "limit");
    long limit = json_is_integer(jl) ? (long)json_integer_value(jl) : (long)chat->cfg->history_page;
    const char *before = json_is_string(jb) ? json_string_value(jb) : NULL;
    if (!room || !valid_name(room, rlen, 128) || limit < 1 || limit > 100 ||
        (jl && !json_is_integer(jl)) || (jb && !json_is_null(jb) && !before) ||
        (before && (strlen(before) > 40 || strspn(before, "0123456789-") != strlen(before)))) {
        ack_err(s, ack_id, "bad_request",
                "history needs {room, before?: message id, limit: 1-100}");
        return;
    }
    if (!in_room(s, room, rlen)) {
        ack_err(s, ack_id, "not_found", "join the room first");
        return;
    }
    wait_t *w = wait_new(s, ack_id);
    w->room = xstrndup(room, rlen);
    history_read(w, before, limit);
}

static void on_members(void *ud, json_t *live)
{
    wait_t *w = ud;
    sio_socket_t *s = wait_socket(w);
    if (s) {
        if (!live)
            ack_err(s, w->ack_id, "internal", "presence is unavailable");
        else
            ack_ok(s, w->ack_id, json_pack("{s:o}", "users", users_of(live)));
    }
    wait_free(w);
}

static void do_members(sio_socket_t *s, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || !valid_name(room, rlen, 128)) {
        ack_err(s, ack_id, "bad_request", "members needs {room}");
        return;
    }
    presence_read(room, rlen, on_members, wait_new(s, ack_id));
}

/* A token bucket per socket: --rate events per second, bursts of --burst. */
static int allowed(member_t *m)
{
    uint64_t now = now_ms();
    m->tokens += (double)(now - m->last_ms) * (double)chat->cfg->rate / 1000.0;
    if (m->tokens > (double)chat->cfg->burst) m->tokens = (double)chat->cfg->burst;
    m->last_ms = now;
    if (m->tokens < 1.0) return 0;
    m->tokens -= 1.0;
    return 1;
}

#define IS(ev, lit)                                                                                \
    ((ev)->name_len == sizeof(lit) - 1 && memcmp((ev)->name, lit, sizeof(lit) - 1) == 0)

static void chat_event(sio_socket_t *s, const sio_event_t *ev)
{
    member_t *m = sio_socket_data(s);
    if (!ev->name || !m) return;
    if (!allowed(m)) {
        ack_err(s, ev->ack_id, "rate_limited", "too many events; slow down");
        return;
    }
    /* every event takes one object argument */
    sbuf_t arr = SBUF_INIT;
    sbuf_append_char(&arr, '[');
    sbuf_append(&arr, ev->args, ev->args_len);
    sbuf_append_char(&arr, ']');
    json_t *args = json_loadb(arr.data, arr.len, 0, NULL);
    sbuf_free(&arr);
    json_t *arg = json_array_get(args, 0);
    if (!json_is_object(arg)) {
        ack_err(s, ev->ack_id, "bad_request", "the argument must be an object");
    } else if (IS(ev, "join")) {
        do_join(s, m, arg, ev->ack_id);
    } else if (IS(ev, "leave")) {
        do_leave(s, m, arg, ev->ack_id);
    } else if (IS(ev, "message")) {
        do_message(s, m, arg, ev->ack_id, MSG_ROOM);
    } else if (IS(ev, "private")) {
        do_message(s, m, arg, ev->ack_id, MSG_PRIVATE);
    } else if (IS(ev, "typing")) {
        do_typing(s, m, arg, ev->ack_id);
    } else if (IS(ev, "history")) {
        do_history(s, arg, ev->ack_id);
    } else if (IS(ev, "members")) {
        do_members(s, arg, ev->ack_id);
    } else {
        ack_err(s, ev->ack_id, "bad_request", "unknown event");
    }
    json_decref(args);
}

typedef struct {
    char **rooms;
    size_t n;
    const char *own_id;
} room_list_t;

static void collect_chat_room(const char *room, size_t len, void *arg)
{
    room_list_t *l = arg;
    if ((len == strlen(l->own_id) && memcmp(room, l->own_id, len) == 0) ||
        (len >= 5 && memcmp(room, "user:", 5) == 0))
        return;
    l->rooms = xrealloc(l->rooms, (l->n + 1) * sizeof *l->rooms);
    l->rooms[l->n++] = xstrndup(room, len);
}

static void chat_disconnect(sio_socket_t *s, const char *reason)
{
    (void)reason;
    member_t *m = sio_socket_data(s);
    if (!m) return;
    if (cl()) {
        room_list_t l = {NULL, 0, sio_socket_id(s)};
        sio_socket_rooms(s, collect_chat_room, &l);
        for (size_t i = 0; i < l.n; i++) {
            presence_change(sio_socket_nsp(s), l.rooms[i], strlen(l.rooms[i]), m, -1, NULL);
            free(l.rooms[i]);
        }
        free(l.rooms);
    }
    free(m);
    sio_socket_set_data(s, NULL);
}

/* Redis is (back) up: this node's liveness key and its sockets' presence entries again, for
 * a Redis restarted without its data. Entries that survived are written with the same value. */
static void chat_cluster_connected(void *state)
{
    (void)state;
    if (!chat || !cl()) return;
    sio_nsp_t *nsp = sio_nsp_find(chat->sio, "/", 1);
    if (!nsp) return;
    refresh_alive(NULL);
    sio_socket_t **all = NULL;
    size_t n = sio_select(nsp, NULL, 0, NULL, 0, &all), entries = 0;
    for (size_t i = 0; i < n; i++) {
        member_t *m = sio_socket_data(all[i]);
        if (!m) continue;
        room_list_t l = {NULL, 0, sio_socket_id(all[i])};
        sio_socket_rooms(all[i], collect_chat_room, &l);
        for (size_t r = 0; r < l.n; r++) {
            presence_entry(l.rooms[r], strlen(l.rooms[r]), m, 1);
            free(l.rooms[r]);
            entries++;
        }
        free(l.rooms);
    }
    free(all);
    if (entries) log_info("presence written again", "sockets=%zu entries=%zu", n, entries);
}

/* What fetch-sockets answers carry of a chat socket: {user: {id, name}}. */
static void chat_socket_data(const sio_socket_t *s, sbuf_t *json)
{
    const member_t *m = sio_socket_data(s);
    if (!m) return;
    json_t *d = json_pack("{s:o}", "user", user_json(m));
    char *text = json_dumps(d, JSON_COMPACT);
    sbuf_append_str(json, text);
    free(text);
    json_decref(d);
}

/* ---- the module ---- */

static int chat_init(server_t *srv, sio_server_t *sio, void **state)
{
    (void)state;
    char err[256];
    chat = xcalloc(1, sizeof *chat);
    chat->srv = srv;
    chat->sio = sio;
    chat->cfg = srv->cfg;
    snprintf(chat->prefix, sizeof chat->prefix, "%s:chat:", srv->cfg->redis_key);
    if (!srv->cfg->redis || !*srv->cfg->redis)
        log_warn("running alone: chat messages are kept in memory, lost on restart (give --redis)",
                 NULL);
    if (load_secret(srv->cfg, err, sizeof err) < 0) {
        log_error("cannot load the token secret", "error=\"%s\"", err);
        free(chat);
        chat = NULL;
        return -1;
    }
    if (!chat->secret && !srv->cfg->allow_anonymous)
        log_warn("no token secret and no --allow-anonymous: every connection will be refused",
                 NULL);
    uv_timer_init(srv->loop, &chat->refresh);
    uint64_t every = (uint64_t)srv->cfg->presence_ttl * 1000 / 3;
    uv_timer_start(&chat->refresh, refresh_alive, 50, every ? every : 1000);
    return 0;
}

static void free_chat(uv_handle_t *h)
{
    (void)h;
    void *v;
    for (size_t i = 0; strmap_next(&chat->local, &i, NULL, NULL, &v);) free(v);
    strmap_free(&chat->local);
    for (size_t i = 0; strmap_next(&chat->mem_streams, &i, NULL, NULL, &v);) {
        json_decref(((mem_stream_t *)v)->entries);
        free(v);
    }
    strmap_free(&chat->mem_streams);
    for (size_t i = 0; strmap_next(&chat->mem_dedupe, &i, NULL, NULL, &v);) free(v);
    strmap_free(&chat->mem_dedupe);
    free(chat->secret);
    free(chat);
    chat = NULL;
}

static void chat_destroy(void *state)
{
    (void)state;
    if (chat) uv_close((uv_handle_t *)&chat->refresh, free_chat);
}

static int chat_serves(void *state, const char *nsp, size_t len)
{
    (void)state;
    return len == 1 && nsp[0] == '/';
}

static const char *const chat_namespaces[] = {"/", NULL};

const app_module_t app_chat = {
    .name = "chat",
    .description = "the chat: users, rooms, messages kept in Redis, private messages, presence",
    .init = chat_init,
    .destroy = chat_destroy,
    .namespaces = chat_namespaces,
    .serves = chat_serves,
    .connect = chat_connect,
    .connected = chat_connected,
    .event = chat_event,
    .disconnect = chat_disconnect,
    .socket_data = chat_socket_data,
    .cluster_connected = chat_cluster_connected,
};
