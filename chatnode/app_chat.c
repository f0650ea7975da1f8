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
#include "chat_store.h"
#include "cluster.h"
#include "log.h"
#include "sio.h"
#include "strmap.h"
#include "utf8.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <jwt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

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
    struct mem_stream *lru_head, *lru_tail;
    struct mem_id *ids_head, *ids_tail;
    uint64_t mem_last_ms;
    uint32_t mem_seq;
} chat_t;

typedef struct mem_stream {
    struct mem_stream *prev, *next; /* in chat_t.lru, least recently written first */
    json_t *entries;                /* [[id, from, name, text, to]...], oldest first */
    uint64_t last_ms;               /* when its last message was stored */
    size_t len;
    char key[];
} mem_stream_t;

typedef struct mem_id {
    struct mem_id *next; /* in chat_t.ids, oldest first */
    uint64_t at_ms;
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

/* Answers ack_id with the JSON object o (stolen). A NULL o, what a failed json_pack gives,
 * answers an internal error instead: never a NULL passed on. */
static void ack_json(sio_socket_t *s, int64_t ack_id, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        static const char fail[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"the answer cannot be encoded\"}}";
        log_warn("answer not encodable", NULL);
        sio_ack(s, ack_id, fail, sizeof fail - 1, NULL, 0);
        return;
    }
    sio_ack(s, ack_id, text, strlen(text), NULL, 0);
    free(text);
}

/* Answers ack_id with {ok: true, ...fields}; fields is stolen, and NULL (a failed json_pack)
 * becomes an internal error. */
static void ack_ok_with(sio_socket_t *s, int64_t ack_id, json_t *fields)
{
    if (fields && json_object_set_new(fields, "ok", json_true()) < 0) {
        json_decref(fields);
        fields = NULL;
    }
    ack_json(s, ack_id, fields);
}

/* Answers ack_id with {ok: true}. */
static void ack_ok(sio_socket_t *s, int64_t ack_id)
{
    sio_ack(s, ack_id, "{\"ok\":true}", 11, NULL, 0);
}

static void ack_err(sio_socket_t *s, int64_t ack_id, const char *code, const char *message)
{
    ack_json(s, ack_id, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

/* {id, name} of a member, or NULL (only if its strings were not UTF-8, which connect
 * refuses). */
static json_t *user_json(const member_t *m)
{
    return json_pack("{s:s,s:s}", "id", m->user_id, "name", m->user_name);
}

/* Emits event with one JSON object argument (borrowed) to rooms (minus except), cluster-wide.
 * A NULL or unencodable arg is sent to nobody. */
static void emit_to(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                    size_t nexcept, const char *event, json_t *arg, unsigned flags)
{
    char *text = arg ? json_dumps(arg, JSON_COMPACT) : NULL;
    if (!text) {
        log_warn("event not encodable", "event=%s", event);
        return;
    }
    sio_broadcast(nsp, rooms, nrooms, except, nexcept, event, strlen(event), text, strlen(text),
                  NULL, 0, flags);
    free(text);
}

static const char *field_string(json_t *o, const char *key, size_t *len)
{
    json_t *v = json_object_get(o, key);
    if (len) *len = 0;
    if (!json_is_string(v)) return NULL;
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

/* A room a client names: refused with a bad_request answer (1 returned) when it is not one. */
static int bad_room(sio_socket_t *s, int64_t ack_id, const char *room, size_t len)
{
    int rc = room ? chat_check_room(room, len) : UTF8_LABEL_EMPTY;
    if (rc == 0) return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "room %s: it must be 1-%d characters, no control characters",
             room ? chat_check_strerror(rc) : "is missing", CHAT_ROOM_MAX_CHARS);
    ack_err(s, ack_id, "bad_request", msg);
    return 1;
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
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    sbuf_append_str(error, text ? text : "{\"message\":\"unauthorized\"}");
    free(text);
    json_decref(e);
    return -1;
}

/* A NumericDate claim (RFC 7519: seconds since the epoch, integer or fraction). Returns 1 with
 * *t set, 0 when the claim is absent, -1 when it is there but not a number. */
static int numeric_date(json_t *claims, const char *name, double *t)
{
    json_t *v = json_object_get(claims, name);
    if (!v) return 0;
    if (!json_is_number(v)) return -1;
    *t = json_number_value(v);
    return 1;
}

/* Does aud (a string or an array of strings) name audience? */
static int audience_matches(json_t *aud, const char *audience)
{
    if (json_is_string(aud)) return strcmp(json_string_value(aud), audience) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), audience) == 0) return 1;
    return 0;
}

/* Checks a verified token's claims; fills id and name (borrowed from claims). Returns NULL
 * or why the token is refused. */
static const char *check_claims(json_t *claims, const char **id, size_t *idlen, const char **name,
                                size_t *namelen)
{
    const chatnode_config_t *cfg = chat->cfg;
    json_t *sub = json_object_get(claims, "sub"), *nm = json_object_get(claims, "name");
    double now = (double)now_ms() / 1000.0, leeway = (double)cfg->jwt_leeway, exp = 0, nbf = 0;
    int has_exp = numeric_date(claims, "exp", &exp), has_nbf = numeric_date(claims, "nbf", &nbf);
    if (has_exp < 0 || has_nbf < 0) return "exp and nbf must be numbers (NumericDate)";
    if (!has_exp && !cfg->jwt_allow_no_exp) return "token has no exp";
    if (has_exp && now >= exp + leeway) return "token expired";
    if (has_nbf && now + leeway < nbf) return "token not yet valid";
    if (cfg->jwt_issuer[0]) {
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), cfg->jwt_issuer) != 0)
            return "token has the wrong iss";
    }
    if (cfg->jwt_audience[0] &&
        !audience_matches(json_object_get(claims, "aud"), cfg->jwt_audience))
        return "token is not for this audience";
    if (!json_is_string(sub) ||
        chat_check_name(json_string_value(sub), json_string_length(sub)) != 0)
        return "token sub must be 1-64 characters, no control characters";
    if (json_string_length(sub) >= CHAT_GUEST_PREFIX_LEN &&
        memcmp(json_string_value(sub), CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN) == 0)
        return "token sub may not start with " CHAT_GUEST_PREFIX;
    if (nm && (!json_is_string(nm) ||
               chat_check_name(json_string_value(nm), json_string_length(nm)) != 0))
        return "token name must be 1-64 characters, no control characters";
    *id = json_string_value(sub);
    *idlen = json_string_length(sub);
    *name = nm ? json_string_value(nm) : *id;
    *namelen = nm ? json_string_length(nm) : *idlen;
    return NULL;
}

/* The claims of a token signed with our HS256 secret, as a JSON object (owned), or NULL. */
static json_t *verified_claims(const char *token)
{
    jwt_t *jwt = NULL;
    json_t *claims = NULL;
    if (jwt_decode(&jwt, token, chat->secret, (int)chat->secret_len) == 0 && jwt &&
        jwt_get_alg(jwt) == JWT_ALG_HS256) {
        char *text = jwt_get_grants_json(jwt, NULL);
        if (text) claims = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        free(text);
        if (!json_is_object(claims)) {
            json_decref(claims);
            claims = NULL;
        }
    }
    if (jwt) jwt_free(jwt);
    return claims;
}

/* Who is connecting: a token user (id = sub), or a guest (id = "guest:" + name) when
 * anonymous sign-in is on. The two id spaces never meet: a sub may not carry the prefix. */
static int chat_connect(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error)
{
    json_t *a = json_loadb(auth, auth_len, 0, NULL), *claims = NULL;
    json_t *token = json_object_get(a, "token"), *user = json_object_get(a, "user");
    const char *id = NULL, *name = NULL, *why = NULL;
    size_t idlen = 0, namelen = 0;
    sbuf_t guest = SBUF_INIT;
    if (token && !json_is_string(token)) {
        why = "token must be a string";
    } else if (token && !chat->secret) {
        why = "tokens are not accepted: no secret configured";
    } else if (token) {
        claims = verified_claims(json_string_value(token));
        why = claims ? check_claims(claims, &id, &idlen, &name, &namelen) : "invalid token";
    } else if (user && chat->cfg->allow_anonymous) {
        if (!json_is_string(user) ||
            chat_check_name(json_string_value(user), json_string_length(user)) != 0) {
            why = "user must be a name of 1-64 characters, no control characters";
        } else {
            name = json_string_value(user);
            namelen = json_string_length(user);
            sbuf_append(&guest, CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN);
            sbuf_append(&guest, name, namelen);
            id = guest.data;
            idlen = guest.len;
        }
    } else {
        why = chat->cfg->allow_anonymous ? "missing token or user" : "missing token";
    }
    if (!why) {
        /* the name is stored once when the id ends with it (a guest, or a token without name) */
        size_t tail = idlen >= namelen && memcmp(id + idlen - namelen, name, namelen) == 0
                          ? idlen - namelen
                          : SIZE_MAX;
        member_t *m = xcalloc(1, sizeof *m + idlen + 1 + (tail != SIZE_MAX ? 0 : namelen + 1));
        m->user_id = (char *)(m + 1);
        memcpy(m->user_id, id, idlen);
        m->user_name = tail != SIZE_MAX ? m->user_id + tail : m->user_id + idlen + 1;
        if (tail == SIZE_MAX) memcpy(m->user_name, name, namelen);
        m->tokens = (double)chat->cfg->burst;
        m->last_ms = now_ms();
        sio_socket_set_data(s, m);
    }
    sbuf_free(&guest);
    json_decref(claims);
    json_decref(a);
    return why ? refuse(error, why) : 0;
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
static void mem_prune(uint64_t now);

static void presence_entry(const char *room, size_t rlen, const member_t *m, int present)
{
    cluster_t *c = cl();
    sbuf_t k = SBUF_INIT, field = SBUF_INIT;
    chat_key_presence(&k, chat->cfg->redis_key, room, rlen);
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
 * [node, user id, user name, hash field] (borrowed), or NULL when Redis could not be read. A
 * read with a limit looks at a bounded part of the hash (HSCAN, about limit entries); without
 * one (limit 0) it reads it whole. Entries of nodes found dead are removed on the way. */
typedef void (*presence_cb)(void *ud, json_t *live);

#define PRESENCE_SCAN_COUNT  500 /* fields asked of each HSCAN */
#define PRESENCE_SCAN_ROUNDS 20  /* HSCANs one bounded read makes at most */

typedef struct {
    presence_cb cb;
    void *ud;
    json_t *entries;
    json_t *nodes; /* distinct node uids of entries, in the order their EXISTS are asked */
    sbuf_t key;
    char cursor[32];
    size_t limit, rounds;
} presence_req_t;

static void presence_done(presence_req_t *q, json_t *live)
{
    q->cb(q->ud, live);
    json_decref(q->entries);
    json_decref(q->nodes);
    sbuf_free(&q->key);
    free(q);
}

/* Removes the entries of dead nodes from the hash (they would be skipped on every read). */
static void presence_prune(presence_req_t *q, json_t *dead)
{
    size_t n = json_array_size(dead);
    if (!n) return;
    const char **argv = xmalloc((2 + n) * sizeof *argv);
    size_t *lens = xmalloc((2 + n) * sizeof *lens);
    argv[0] = "HDEL", lens[0] = 4;
    argv[1] = q->key.data, lens[1] = q->key.len;
    for (size_t i = 0; i < n; i++) {
        argv[2 + i] = json_string_value(json_array_get(dead, i));
        lens[2 + i] = json_string_length(json_array_get(dead, i));
    }
    cluster_command(cl(), (int)(2 + n), argv, lens, ignore_reply, NULL);
    free(argv);
    free(lens);
}

static void on_alive(void *ud, int status, const redisReply *r)
{
    presence_req_t *q = ud;
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY) {
        presence_done(q, NULL);
        return;
    }
    json_t *alive = json_object(), *live = json_array(), *dead = json_array(), *e;
    const char *me = cluster_uid(cl());
    size_t i;
    json_array_foreach(q->nodes, i, e)
    {
        const char *node = json_string_value(e);
        int up = strcmp(node, me) == 0 ||
                 (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER &&
                  r->element[i]->integer != 0);
        json_object_set_new(alive, node, json_boolean(up));
    }
    json_array_foreach(q->entries, i, e)
    {
        if (json_is_true(json_object_get(alive, json_string_value(json_array_get(e, 0)))))
            json_array_append(live, e);
        else /* a node gone silent does not count */
            json_array_append(dead, json_array_get(e, 3));
    }
    presence_prune(q, dead);
    presence_done(q, live);
    json_decref(live);
    json_decref(dead);
    json_decref(alive);
}

/* Whether each distinct node of the entries is alive, in one round trip. */
static void presence_check_nodes(presence_req_t *q)
{
    size_t n = json_array_size(q->nodes);
    if (n == 0) {
        presence_done(q, q->entries);
        return;
    }
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
        chat_key_alive(&keys[i], chat->cfg->redis_key,
                       json_string_value(json_array_get(q->nodes, i)));
        args[3 + i] = keys[i].data;
        lens[3 + i] = keys[i].len;
    }
    if (cluster_command(cl(), (int)(3 + n), args, lens, on_alive, q) < 0) presence_done(q, NULL);
    for (size_t i = 0; i < n; i++) sbuf_free(&keys[i]);
    free(keys);
    free(args);
    free(lens);
}

/* Adds the field/value pairs of a hash reply to the entries. */
static void presence_add(presence_req_t *q, const redisReply *r)
{
    json_t *seen = json_object(), *n;
    size_t k;
    json_array_foreach(q->nodes, k, n) json_object_set_new(seen, json_string_value(n), json_true());
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        const char *bar = memchr(f->str, '|', f->len);
        if (!bar) continue;
        size_t nlen = (size_t)(bar - f->str);
        /* NULL when Redis holds something that is not UTF-8: not one of ours, skipped */
        json_t *e = json_pack("[s%,s%,s%,s%]", f->str, nlen, bar + 1, f->len - nlen - 1, v->str,
                              (size_t)v->len, f->str, (size_t)f->len);
        if (!e) continue;
        const char *node = json_string_value(json_array_get(e, 0));
        if (!json_object_get(seen, node)) {
            json_object_set_new(seen, node, json_true());
            json_array_append(q->nodes, json_array_get(e, 0));
        }
        json_array_append_new(q->entries, e);
    }
    json_decref(seen);
}

static void presence_scan(presence_req_t *q);

static void on_presence_reply(void *ud, int status, const redisReply *r)
{
    presence_req_t *q = ud;
    const redisReply *pairs = status == 0 ? r : NULL;
    if (pairs && q->limit) { /* HSCAN: [cursor, [field, value, ...]] */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < sizeof q->cursor) {
            memcpy(q->cursor, r->element[0]->str, r->element[0]->len);
            q->cursor[r->element[0]->len] = '\0';
            pairs = r->element[1];
        } else {
            pairs = NULL;
        }
    }
    if (!pairs || pairs->type != REDIS_REPLY_ARRAY) {
        presence_done(q, NULL);
        return;
    }
    presence_add(q, pairs);
    if (q->limit && strcmp(q->cursor, "0") != 0 && json_array_size(q->entries) < q->limit &&
        ++q->rounds < PRESENCE_SCAN_ROUNDS) {
        presence_scan(q);
        return;
    }
    presence_check_nodes(q);
}

static void presence_scan(presence_req_t *q)
{
    char count[16];
    snprintf(count, sizeof count, "%d", PRESENCE_SCAN_COUNT);
    const char *argv[] = {"HSCAN", q->key.data, q->cursor, "COUNT", count};
    size_t lens[] = {5, q->key.len, strlen(q->cursor), 5, strlen(count)};
    if (cluster_command(cl(), 5, argv, lens, on_presence_reply, q) < 0) presence_done(q, NULL);
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
        json_t *e = json_pack("[s,s,s]", "local", m->user_id, m->user_name);
        if (e) json_array_append_new(live, e);
    }
    strmap_free(&seen);
    free(sel);
    cb(ud, live);
    json_decref(live);
}

/* See presence_cb; limit 0 reads every entry. */
static void presence_read(const char *room, size_t rlen, size_t limit, presence_cb cb, void *ud)
{
    if (!cl()) {
        local_presence(room, rlen, cb, ud);
        return;
    }
    presence_req_t *q = xcalloc(1, sizeof *q);
    q->cb = cb;
    q->ud = ud;
    q->limit = limit;
    q->entries = json_array();
    q->nodes = json_array();
    strcpy(q->cursor, "0");
    chat_key_presence(&q->key, chat->cfg->redis_key, room, rlen);
    if (limit) {
        presence_scan(q);
        return;
    }
    const char *argv[] = {"HGETALL", q->key.data};
    size_t lens[] = {7, q->key.len};
    if (cluster_command(cl(), 2, argv, lens, on_presence_reply, q) < 0) presence_done(q, NULL);
}

/* The distinct users of live presence entries, as [{id, name}], at most --max-members. */
static json_t *users_of(json_t *live)
{
    json_t *users = json_array(), *seen = json_object();
    size_t i, max = (size_t)chat->cfg->max_members;
    json_t *e;
    json_array_foreach(live, i, e)
    {
        const char *id = json_string_value(json_array_get(e, 1));
        if (!id || json_object_get(seen, id)) continue;
        if (json_array_size(users) >= max) break;
        json_object_set_new(seen, id, json_true());
        json_t *u =
            json_pack("{s:O,s:O}", "id", json_array_get(e, 1), "name", json_array_get(e, 2));
        if (u) json_array_append_new(users, u);
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
    if (!c) { /* alone: the timer sweeps the in-memory streams instead */
        mem_prune(now_ms());
        return;
    }
    sbuf_t k = SBUF_INIT;
    char ttl[24];
    chat_key_alive(&k, chat->cfg->redis_key, cluster_uid(c));
    snprintf(ttl, sizeof ttl, "%lld", chat->cfg->presence_ttl);
    const char *argv[] = {"SET", k.data, "1", "EX", ttl};
    size_t lens[] = {3, k.len, 1, 2, strlen(ttl)};
    cluster_command(c, 5, argv, lens, ignore_reply, NULL);
    sbuf_free(&k);
}

/* ---- history ---- */

typedef void (*history_cb)(wait_t *w, const redisReply *r);

/* Answers a history (or join) request with messages (stolen; NULL: unavailable). */
static void history_answer(wait_t *w, json_t *messages)
{
    sio_socket_t *s = wait_socket(w);
    if (s && !messages) {
        ack_err(s, w->ack_id, "internal", "history is unavailable");
    } else if (s && w->kind == AFTER_JOIN) {
        ack_ok_with(s, w->ack_id,
                    json_pack("{s:O,s:s,s:o}", "history", messages, "room", w->room, "members",
                              json_loads(w->extra ? w->extra : "", 0, NULL)));
    } else if (s) {
        ack_ok_with(s, w->ack_id, json_pack("{s:O}", "messages", messages));
    }
    json_decref(messages);
    wait_free(w);
}

static void on_history_reply(void *ud, int status, const redisReply *r)
{
    wait_t *w = ud;
    history_answer(w, status == 0 && r && r->type == REDIS_REPLY_ARRAY
                          ? chat_store_messages(r, w->room)
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
    if (m && room) json_object_set_new(m, "room", json_string(room));
    if (m && json_string_length(json_array_get(e, 4)))
        json_object_set(m, "to", json_array_get(e, 4));
    return m;
}

static mem_stream_t *mem_stream_find(const char *key, size_t len);

/* History from the in-memory stream of a room. */
static json_t *mem_history(const char *room, const char *before, long limit)
{
    sbuf_t k = SBUF_INIT;
    chat_key_room(&k, chat->cfg->redis_key, room, strlen(room));
    mem_stream_t *st = mem_stream_find(k.data, k.len);
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
    for (size_t i = start; i < end; i++) {
        json_t *m = mem_message(json_array_get(st->entries, i), room);
        if (m) json_array_append_new(out, m);
    }
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
    chat_key_room(&k, chat->cfg->redis_key, w->room, strlen(w->room));
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
    presence_read(room, rlen, 0, on_change_presence, ch);
}

static int in_room(sio_socket_t *s, const char *room, size_t len);

static void do_join(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (bad_room(s, ack_id, room, rlen)) return;
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
    if (bad_room(s, ack_id, room, rlen)) return;
    /* (the socket's own room, which in_room counts, has a socket id's form: refused above) */
    if (!in_room(s, room, rlen)) {
        ack_err(s, ack_id, "not_found", "not in that room");
        return;
    }
    sio_leave(s, room, rlen);
    m->rooms--;
    presence_change(sio_socket_nsp(s), room, rlen, m, -1, NULL);
    ack_ok(s, ack_id);
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
    json_int_t ts = (json_int_t)strtoll(id, NULL, 10);
    if (fresh) {
        json_t *msg = json_pack("{s:s,s:{s:s,s:s},s:s,s:I,s:s}", "id", id, "from", "id",
                                st->from_id, "name", st->from_name, "text", st->text, "ts", ts,
                                st->kind == MSG_ROOM ? "room" : "to", st->target);
        if (st->kind == MSG_ROOM) {
            str_t room = {st->target, strlen(st->target)};
            emit_to(w->nsp, &room, 1, NULL, 0, "message", msg, 0);
        } else {
            sbuf_t to = SBUF_INIT, me = SBUF_INIT;
            sbuf_printf(&to, CHAT_USER_ROOM_PREFIX "%s", st->target);
            sbuf_printf(&me, CHAT_USER_ROOM_PREFIX "%s", st->from_id);
            str_t rooms[2] = {{to.data, to.len}, {me.data, me.len}};
            str_t except = {w->sid, strlen(w->sid)};
            emit_to(w->nsp, rooms, 2, &except, 1, "private", msg, 0);
            sbuf_free(&to);
            sbuf_free(&me);
        }
        json_decref(msg);
    }
    if (s) ack_ok_with(s, w->ack_id, json_pack("{s:s,s:I}", "id", id, "ts", ts));
    wait_free(w);
    store_free(st);
}

static void on_stored(void *ud, int status, const redisReply *r)
{
    store_t *st = ud;
    char id[64];
    int fresh = status == 0 ? chat_store_reply(r, id, sizeof id) : -1;
    if (fresh < 0) {
        sio_socket_t *s = wait_socket(st->w);
        if (s)
            ack_err(s, st->w->ack_id, "internal", "the message could not be stored; send it again");
        wait_free(st->w);
        store_free(st);
        return;
    }
    stored(st, id, fresh);
}

/* ---- running alone: the streams in memory ----
 * The same contract as Redis: streams capped at --history-size, dropped --history-ttl after
 * their last message, dedupe entries kept a day (or the ttl when shorter). Both tables are
 * also bounded in size: past MEM_MAX_STREAMS the least recently written stream goes, past
 * MEM_MAX_IDS the oldest dedupe entry. */
#define MEM_MAX_STREAMS 10000
#define MEM_MAX_IDS     100000

static uint64_t mem_id_ttl_ms(void)
{
    uint64_t ttl = (uint64_t)chat->cfg->history_ttl;
    return (ttl < 86400 ? ttl : 86400) * 1000;
}

static void mem_stream_unlink(mem_stream_t *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        chat->lru_head = st->next;
    if (st->next)
        st->next->prev = st->prev;
    else
        chat->lru_tail = st->prev;
    st->prev = st->next = NULL;
}

static void mem_stream_append(mem_stream_t *st)
{
    st->prev = chat->lru_tail;
    st->next = NULL;
    if (chat->lru_tail)
        chat->lru_tail->next = st;
    else
        chat->lru_head = st;
    chat->lru_tail = st;
}

static void mem_stream_drop(mem_stream_t *st)
{
    mem_stream_unlink(st);
    strmap_del(&chat->mem_streams, st->key, st->len);
    json_decref(st->entries);
    free(st);
}

static void mem_id_drop_oldest(void)
{
    mem_id_t *d = chat->ids_head;
    chat->ids_head = d->next;
    if (!chat->ids_head) chat->ids_tail = NULL;
    strmap_del(&chat->mem_dedupe, d->key, d->len);
    free(d);
}

/* Drops what is past its age or over the bounds. */
static void mem_prune(uint64_t now)
{
    uint64_t ttl = (uint64_t)chat->cfg->history_ttl * 1000, id_ttl = mem_id_ttl_ms();
    while (chat->lru_head &&
           (chat->mem_streams.count > MEM_MAX_STREAMS || now - chat->lru_head->last_ms >= ttl))
        mem_stream_drop(chat->lru_head);
    while (chat->ids_head &&
           (chat->mem_dedupe.count > MEM_MAX_IDS || now - chat->ids_head->at_ms >= id_ttl))
        mem_id_drop_oldest();
}

static mem_stream_t *mem_stream_find(const char *key, size_t len)
{
    mem_stream_t *st = strmap_get(&chat->mem_streams, key, len);
    if (st && now_ms() - st->last_ms >= (uint64_t)chat->cfg->history_ttl * 1000) {
        mem_stream_drop(st); /* expired: the sweep has not come by yet */
        st = NULL;
    }
    return st;
}

/* Alone: the same store in memory (stream key, dedupe key or NULL). */
static void mem_store(store_t *st, const char *stream, size_t stream_len, const char *dedupe,
                      size_t dedupe_len)
{
    uint64_t ms = now_ms();
    mem_prune(ms);
    mem_id_t *seen = dedupe ? strmap_get(&chat->mem_dedupe, dedupe, dedupe_len) : NULL;
    if (seen) {
        stored(st, seen->id, 0);
        return;
    }
    if (ms <= chat->mem_last_ms)
        ms = chat->mem_last_ms, chat->mem_seq++;
    else
        chat->mem_last_ms = ms, chat->mem_seq = 0;
    char id[48];
    snprintf(id, sizeof id, "%llu-%u", (unsigned long long)ms, chat->mem_seq);
    json_t *entry = json_pack("[s,s,s,s,s]", id, st->from_id, st->from_name, st->text,
                              st->kind == MSG_PRIVATE ? st->target : "");
    if (!entry) { /* cannot happen with checked input; never store half a message */
        sio_socket_t *s = wait_socket(st->w);
        if (s) ack_err(s, st->w->ack_id, "internal", "the message cannot be encoded");
        wait_free(st->w);
        store_free(st);
        return;
    }
    mem_stream_t *str = mem_stream_find(stream, stream_len);
    if (!str) {
        str = xcalloc(1, sizeof *str + stream_len);
        str->entries = json_array();
        str->len = stream_len;
        memcpy(str->key, stream, stream_len);
        strmap_put(&chat->mem_streams, str->key, str->len, str);
    } else {
        mem_stream_unlink(str);
    }
    str->last_ms = now_ms();
    mem_stream_append(str);
    json_array_append_new(str->entries, entry);
    while (json_array_size(str->entries) > (size_t)chat->cfg->history_size)
        json_array_remove(str->entries, 0);
    if (dedupe) {
        mem_id_t *d = xcalloc(1, sizeof *d + dedupe_len);
        snprintf(d->id, sizeof d->id, "%s", id);
        d->at_ms = str->last_ms;
        d->len = dedupe_len;
        memcpy(d->key, dedupe, dedupe_len);
        strmap_put(&chat->mem_dedupe, d->key, d->len, d);
        if (chat->ids_tail)
            chat->ids_tail->next = d;
        else
            chat->ids_head = d;
        chat->ids_tail = d;
    }
    mem_prune(str->last_ms);
    stored(st, id, 1);
}

static void do_message(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id, int kind)
{
    size_t tlen, textlen, idlen = 0;
    const char *target = field_string(arg, kind == MSG_ROOM ? "room" : "to", &tlen);
    const char *text = field_string(arg, "text", &textlen);
    json_t *jid = json_object_get(arg, "id");
    const char *cid = json_is_string(jid) ? json_string_value(jid) : NULL;
    if (cid) idlen = json_string_length(jid);
    if (kind == MSG_ROOM && bad_room(s, ack_id, target, tlen)) return;
    if (kind == MSG_PRIVATE && (!target || chat_check_user_id(target, tlen) != 0)) {
        ack_err(s, ack_id, "bad_request", "to must be a user id");
        return;
    }
    if (!text || textlen == 0 || textlen > (size_t)chat->cfg->max_text) {
        char msg[96];
        snprintf(msg, sizeof msg, "text must be a string of 1 to %lld bytes", chat->cfg->max_text);
        ack_err(s, ack_id, "bad_request", msg);
        return;
    }
    if ((jid && !json_is_null(jid) && !cid) || (cid && !chat_check_client_id(cid, idlen))) {
        ack_err(s, ack_id, "bad_request", "id must be up to 64 of A-Z a-z 0-9 _ - . :");
        return;
    }
    if (kind == MSG_ROOM && !in_room(s, target, tlen)) {
        ack_err(s, ack_id, "not_found", "join the room first");
        return;
    }
    const char *prefix = chat->cfg->redis_key;
    sbuf_t stream = SBUF_INIT, dedupe = SBUF_INIT;
    if (kind == MSG_ROOM)
        chat_key_room(&stream, prefix, target, tlen);
    else
        chat_key_dm(&stream, prefix, m->user_id, strlen(m->user_id), target, tlen);
    if (cid)
        chat_key_dedupe(&dedupe, prefix, stream.data, stream.len, m->user_id, strlen(m->user_id),
                        cid, idlen);
    store_t *st = xcalloc(1, sizeof *st);
    st->w = wait_new(s, ack_id);
    st->kind = kind;
    st->target = xstrndup(target, tlen);
    st->text = xstrndup(text, textlen);
    st->from_id = xstrdup(m->user_id);
    st->from_name = xstrdup(m->user_name);
    if (!cl()) {
        mem_store(st, stream.data, stream.len, cid ? dedupe.data : NULL, dedupe.len);
    } else {
        chat_store_msg_t msg = {
            .stream = stream.data,
            .stream_len = stream.len,
            .dedupe = cid ? dedupe.data : NULL,
            .dedupe_len = dedupe.len,
            .maxlen = chat->cfg->history_size,
            .ttl = chat->cfg->history_ttl,
            .from = st->from_id,
            .from_len = strlen(st->from_id),
            .name = st->from_name,
            .name_len = strlen(st->from_name),
            .text = st->text,
            .text_len = textlen,
            .to = kind == MSG_PRIVATE ? st->target : NULL,
            .to_len = tlen,
        };
        chat_store_cmd_t cmd;
        chat_store_cmd(&cmd, &msg);
        if (cluster_command(cl(), CHAT_STORE_ARGC, cmd.argv, cmd.lens, on_stored, st) < 0) {
            ack_err(s, ack_id, "internal", "storage is unavailable; send it again");
            wait_free(st->w);
            store_free(st);
        }
    }
    sbuf_free(&stream);
    sbuf_free(&dedupe);
}

/* ---- the rest of the events ---- */

static void do_typing(sio_socket_t *s, member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || chat_check_room(room, rlen) != 0 || !in_room(s, room, rlen)) {
        ack_err(s, ack_id, "bad_request", "typing needs a room you are in");
        return;
    }
    json_t *ev = json_pack("{s:s%,s:o}", "room", room, rlen, "user", user_json(m));
    str_t r = {room, rlen}, me = {sio_socket_id(s), strlen(sio_socket_id(s))};
    emit_to(sio_socket_nsp(s), &r, 1, &me, 1, "typing", ev, SIO_VOLATILE);
    json_decref(ev);
    ack_ok(s, ack_id);
}

static void do_history(sio_socket_t *s, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    json_t *jb = json_object_get(arg, "before"), *jl = json_object_get(arg, "limit");
    long limit = json_is_integer(jl) ? (long)json_integer_value(jl) : (long)chat->cfg->history_page;
    const char *before = json_is_string(jb) ? json_string_value(jb) : NULL;
    if (!room || chat_check_room(room, rlen) != 0 || limit < 1 || limit > 100 ||
        (jl && !json_is_integer(jl)) || (jb && !json_is_null(jb) && !before) ||
        (before && !chat_check_stream_id(before, json_string_length(jb)))) {
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
            ack_ok_with(s, w->ack_id, json_pack("{s:o}", "users", users_of(live)));
    }
    wait_free(w);
}

static void do_members(sio_socket_t *s, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || chat_check_room(room, rlen) != 0) {
        ack_err(s, ack_id, "bad_request", "members needs {room}");
        return;
    }
    if (!in_room(s, room, rlen)) {
        ack_err(s, ack_id, "not_found", "join the room first");
        return;
    }
    presence_read(room, rlen, (size_t)chat->cfg->max_members, on_members, wait_new(s, ack_id));
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
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    if (text) sbuf_append_str(json, text); /* else {}: nothing of the user */
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
