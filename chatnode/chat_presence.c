/* The chat's presence (see chat_presence.h): local counts, the Redis presence hashes and
 * liveness keys, and reads that skip, and remove, the entries of dead nodes. */
#include "chat_presence.h"
#include "alloc.h"
#include "chat_internal.h"
#include "chat_store.h"
#include "cluster.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void chat_presence_init(chat_presence_t *p, sio_server_t *sio, const char *key_prefix,
                        long long ttl, int shared)
{
    memset(p, 0, sizeof *p);
    p->sio = sio;
    p->key_prefix = key_prefix;
    p->ttl = ttl;
    p->shared = shared;
}

void chat_presence_free(chat_presence_t *p)
{
    void *v;
    for (size_t i = 0; strmap_next(&p->local, &i, NULL, NULL, &v);) free(v);
    strmap_free(&p->local);
    for (size_t i = 0; strmap_next(&p->rooms, &i, NULL, NULL, &v);) free(v);
    strmap_free(&p->rooms);
}

int chat_presence_shared(const chat_presence_t *p)
{
    return p->shared;
}

/* The cluster presence lives on, or NULL: running alone, or the cluster is not (or no
 * longer) attached. */
static cluster_t *cluster(const chat_presence_t *p)
{
    return p->shared ? cluster_of(p->sio) : NULL;
}

/* This node's count of user's sockets in a room. The key lives inside the value. */
typedef struct {
    long n;
    size_t len;
    char key[];
} local_t;

long chat_presence_count(chat_presence_t *p, const char *room, size_t rlen, const char *user,
                         long delta)
{
    sbuf_t k = SBUF_INIT;
    sbuf_append(&k, room, rlen);
    sbuf_append_char(&k, '\n');
    sbuf_append_str(&k, user);
    local_t *l = strmap_get(&p->local, k.data, k.len);
    long v = (l ? l->n : 0) + delta;
    if (v <= 0) {
        if (l) free(strmap_del(&p->local, k.data, k.len));
        v = 0;
    } else if (l) {
        l->n = v;
    } else {
        l = xmalloc(sizeof *l + k.len);
        l->n = v;
        l->len = k.len;
        memcpy(l->key, k.data, k.len);
        strmap_put(&p->local, l->key, l->len, l);
    }
    sbuf_free(&k);
    return v;
}

/* How long the set of a node's rooms outlives the node's last refresh: long enough for whoever
 * finds the node down to prune its rooms. */
#define NODE_ROOMS_TTL "86400"

static void ignore_reply(void *ud, int status, const redisReply *r)
{
    (void)ud;
    (void)status;
    (void)r;
}

void chat_presence_refresh(chat_presence_t *p)
{
    cluster_t *c = cluster(p);
    if (!c) return;
    sbuf_t k = SBUF_INIT;
    char ttl[24];
    chat_key_alive(&k, p->key_prefix, cluster_uid(c));
    snprintf(ttl, sizeof ttl, "%lld", p->ttl);
    const char *argv[] = {"SET", k.data, "1", "EX", ttl};
    size_t lens[] = {3, k.len, 1, 2, strlen(ttl)};
    cluster_command_key(c, k.data, k.len, 5, argv, lens, ignore_reply, NULL);
    chat_key_node_rooms(&k, p->key_prefix, cluster_uid(c));
    const char *ev[] = {"EXPIRE", k.data, NODE_ROOMS_TTL};
    size_t el[] = {6, k.len, strlen(NODE_ROOMS_TTL)};
    cluster_command_key(c, k.data, k.len, 3, ev, el, ignore_reply, NULL);
    sbuf_free(&k);
}

/* Adds room to (or removes it from) the set of rooms this node has entries in. */
static void node_room(chat_presence_t *p, cluster_t *c, const char *room, size_t rlen, int add)
{
    sbuf_t k = SBUF_INIT;
    chat_key_node_rooms(&k, p->key_prefix, cluster_uid(c));
    const char *argv[] = {add ? "SADD" : "SREM", k.data, room};
    size_t lens[] = {4, k.len, rlen};
    cluster_command_key(c, k.data, k.len, 3, argv, lens, ignore_reply, NULL);
    sbuf_free(&k);
}

/* Counts a user's entry in room coming (delta 1) or going (-1) on this node, and keeps the
 * node's set of rooms as the count leaves or reaches 0. */
static void room_users(chat_presence_t *p, cluster_t *c, const char *room, size_t rlen, int delta)
{
    if (chat_is_user_room(room, rlen)) { /* one user: its count is the room's */
        node_room(p, c, room, rlen, delta > 0);
        return;
    }
    local_t *l = strmap_get(&p->rooms, room, rlen);
    long v = (l ? l->n : 0) + delta;
    if (v <= 0) {
        if (l) free(strmap_del(&p->rooms, room, rlen));
        if (l) node_room(p, c, room, rlen, 0);
        return;
    }
    if (l) {
        l->n = v;
        return;
    }
    l = xmalloc(sizeof *l + rlen);
    l->n = v;
    l->len = rlen;
    memcpy(l->key, room, rlen);
    strmap_put(&p->rooms, l->key, l->len, l);
    node_room(p, c, room, rlen, 1);
}

void chat_presence_rewrite(chat_presence_t *p, const char *room, size_t rlen, const char *user_id,
                           const char *user_name)
{
    cluster_t *c = cluster(p);
    if (!c) return;
    node_room(p, c, room, rlen, 1);
    sbuf_t k = SBUF_INIT, field = SBUF_INIT;
    chat_key_presence(&k, p->key_prefix, room, rlen);
    sbuf_printf(&field, "%s|%s", cluster_uid(c), user_id);
    const char *argv[] = {"HSET", k.data, field.data, user_name};
    size_t lens[] = {4, k.len, field.len, strlen(user_name)};
    cluster_command_key(c, k.data, k.len, 4, argv, lens, ignore_reply, NULL);
    sbuf_free(&k);
    sbuf_free(&field);
}

/* ---- reading a room's presence from Redis ---- */

#define PRESENCE_SCAN_COUNT  500 /* fields asked of each HSCAN */
#define PRESENCE_SCAN_ROUNDS 20  /* HSCANs one bounded read makes at most */

typedef struct {
    chat_presence_t *p;
    chat_presence_cb cb;
    void *ud;
    json_t *entries;
    json_t *nodes; /* distinct node uids of entries, in the order their EXISTS are asked */
    sbuf_t key;
    char *room;
    size_t rlen;
    char cursor[32];
    size_t limit, rounds;
} presence_req_t;

static void presence_done(presence_req_t *q, json_t *live)
{
    q->cb(q->ud, live, live ? q->entries : NULL);
    json_decref(q->entries);
    json_decref(q->nodes);
    sbuf_free(&q->key);
    free(q->room);
    free(q);
}

typedef struct {
    chat_presence_t *p;
    char *room;
    size_t rlen;
} prune_t;

static void on_pruned(void *ud, int status, const redisReply *r)
{
    prune_t *pr = ud;
    size_t n = 0;
    chat_presence_event_t *ev =
        status == 0 ? chat_presence_pruned(pr->room, pr->rlen, r, &n) : NULL;
    for (size_t i = 0; i < n; i++)
        if (pr->p->record) pr->p->record(pr->p->record_ud, ev[i].type, ev[i].data);
    chat_presence_events_free(ev, n);
    free(pr->room);
    free(pr);
}

/* Removes the entries of dead nodes from the hash (they would be skipped on every read), and
 * records what their going means (chat_store.h, presence). */
static void presence_prune(presence_req_t *q, cluster_t *c, json_t *dead)
{
    size_t n = json_array_size(dead);
    if (!n || !c) return;
    static const char lua[] = CHAT_PRESENCE_PRUNE_LUA;
    const char **argv = xmalloc((4 + n) * sizeof *argv);
    size_t *lens = xmalloc((4 + n) * sizeof *lens);
    argv[0] = "EVAL", lens[0] = 4;
    argv[1] = lua, lens[1] = sizeof lua - 1;
    argv[2] = "1", lens[2] = 1;
    argv[3] = q->key.data, lens[3] = q->key.len;
    for (size_t i = 0; i < n; i++) {
        argv[4 + i] = json_string_value(json_array_get(dead, i));
        lens[4 + i] = json_string_length(json_array_get(dead, i));
    }
    prune_t *pr = xcalloc(1, sizeof *pr);
    pr->p = q->p;
    pr->room = xstrndup(q->room, q->rlen);
    pr->rlen = q->rlen;
    if (cluster_command_key(c, q->key.data, q->key.len, (int)(4 + n), argv, lens, on_pruned, pr) <
        0) {
        free(pr->room);
        free(pr);
    }
    free(argv);
    free(lens);
}

static void on_alive(void *ud, int status, const redisReply *r)
{
    presence_req_t *q = ud;
    cluster_t *c = cluster(q->p);
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY || !c) {
        presence_done(q, NULL);
        return;
    }
    json_t *alive = json_object(), *live = json_array(), *dead = json_array(), *e;
    const char *me = cluster_uid(c);
    json_object_set_new(alive, me, json_true()); /* not asked: presence_check_nodes */
    size_t i;
    json_array_foreach(q->nodes, i, e)
    {
        const char *node = json_string_value(e);
        int up = strcmp(node, me) == 0 ||
                 (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER &&
                  r->element[i]->integer != 0);
        json_object_set_new(alive, node, json_boolean(up));
        if (!up) json_array_append(dead, e);
    }
    json_array_foreach(q->entries, i, e)
    {
        /* a node gone silent does not count */
        if (json_is_true(json_object_get(alive, json_string_value(json_array_get(e, 0)))))
            json_array_append(live, e);
    }
    presence_prune(q, c, dead);
    presence_done(q, live);
    json_decref(live);
    json_decref(dead);
    json_decref(alive);
}

/* Whether each distinct node of the entries is alive, in one round trip. */
static void presence_check_nodes(presence_req_t *q)
{
    cluster_t *c = cluster(q->p);
    if (!c) {
        presence_done(q, NULL);
        return;
    }
    /* this node is alive: only the others are asked about (often there are none) */
    for (size_t k = 0; k < json_array_size(q->nodes); k++) {
        if (strcmp(json_string_value(json_array_get(q->nodes, k)), cluster_uid(c)) == 0) {
            json_array_remove(q->nodes, k);
            break;
        }
    }
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
        chat_key_alive(&keys[i], q->p->key_prefix, json_string_value(json_array_get(q->nodes, i)));
        args[3 + i] = keys[i].data;
        lens[3 + i] = keys[i].len;
    }
    /* every liveness key is of one slot (chat_key_alive's hash tag): one EVAL asks them all */
    if (cluster_command_key(c, keys[0].data, keys[0].len, (int)(3 + n), args, lens, on_alive, q) <
        0)
        presence_done(q, NULL);
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
    cluster_t *c = cluster(q->p);
    char count[16];
    snprintf(count, sizeof count, "%d", PRESENCE_SCAN_COUNT);
    const char *argv[] = {"HSCAN", q->key.data, q->cursor, "COUNT", count};
    size_t lens[] = {5, q->key.len, strlen(q->cursor), 5, strlen(count)};
    if (!c ||
        cluster_command_key(c, q->key.data, q->key.len, 5, argv, lens, on_presence_reply, q) < 0)
        presence_done(q, NULL);
}

/* Alone: the entries are this node's sockets in the room. */
static void local_presence(chat_presence_t *p, const char *room, size_t rlen, chat_presence_cb cb,
                           void *ud)
{
    json_t *live = json_array();
    sio_nsp_t *nsp = sio_nsp_find(p->sio, "/", 1);
    sio_socket_t **sel = NULL;
    str_t r = {room, rlen};
    size_t n = nsp ? sio_select(nsp, &r, 1, NULL, 0, &sel) : 0;
    strmap_t seen = STRMAP_INIT; /* one entry per user: a big room is mostly the same users again */
    for (size_t i = 0; i < n; i++) {
        chat_member_t *m = sio_socket_data(sel[i]);
        if (!m || strmap_get(&seen, m->user_id, strlen(m->user_id))) continue;
        strmap_put(&seen, m->user_id, strlen(m->user_id), m);
        json_t *e = json_pack("[s,s,s]", "local", m->user_id, m->user_name);
        if (e) json_array_append_new(live, e);
    }
    strmap_free(&seen);
    free(sel);
    cb(ud, live, live);
    json_decref(live);
}

static presence_req_t *presence_req(chat_presence_t *p, const char *room, size_t rlen, size_t limit,
                                    chat_presence_cb cb, void *ud)
{
    presence_req_t *q = xcalloc(1, sizeof *q);
    q->p = p;
    q->cb = cb;
    q->ud = ud;
    q->limit = limit;
    q->entries = json_array();
    q->nodes = json_array();
    q->room = xstrndup(room, rlen);
    q->rlen = rlen;
    strcpy(q->cursor, "0");
    chat_key_presence(&q->key, p->key_prefix, room, rlen);
    return q;
}

void chat_presence_read(chat_presence_t *p, const char *room, size_t rlen, size_t limit,
                        chat_presence_cb cb, void *ud)
{
    if (!p->shared) {
        local_presence(p, room, rlen, cb, ud);
        return;
    }
    presence_req_t *q = presence_req(p, room, rlen, limit, cb, ud);
    if (limit) {
        presence_scan(q);
        return;
    }
    cluster_t *c = cluster(p);
    const char *argv[] = {"HGETALL", q->key.data};
    size_t lens[] = {7, q->key.len};
    if (!c ||
        cluster_command_key(c, q->key.data, q->key.len, 2, argv, lens, on_presence_reply, q) < 0)
        presence_done(q, NULL);
}

void chat_presence_change(chat_presence_t *p, const char *room, size_t rlen, const char *user_id,
                          const char *user_name, int present, chat_presence_cb cb, void *ud)
{
    cluster_t *c = cluster(p);
    if (!c) { /* alone: presence is this node's own sockets */
        chat_presence_read(p, room, rlen, 0, cb, ud);
        return;
    }
    if (present) chat_presence_refresh(p); /* an entry is never written for a node not alive */
    room_users(p, c, room, rlen, present ? 1 : -1);
    presence_req_t *q = presence_req(p, room, rlen, 0, cb, ud);
    static const char lua[] = CHAT_PRESENCE_CHANGE_LUA;
    sbuf_t field = SBUF_INIT;
    sbuf_printf(&field, "%s|%s", cluster_uid(c), user_id);
    const char *argv[] = {"EVAL",     lua,      "1", q->key.data, present ? "1" : "0",
                          field.data, user_name};
    size_t lens[] = {4, sizeof lua - 1, 1, q->key.len, 1, field.len, strlen(user_name)};
    if (cluster_command_key(c, q->key.data, q->key.len, 7, argv, lens, on_presence_reply, q) < 0)
        presence_done(q, NULL);
    sbuf_free(&field);
}

json_t *chat_presence_users(json_t *live, size_t max)
{
    json_t *users = json_array(), *seen = json_object();
    size_t i;
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

size_t chat_presence_other_nodes(const chat_presence_t *p, json_t *live, const char *user)
{
    size_t n = 0, i;
    json_t *e;
    cluster_t *c = cluster(p);
    if (!c) return 0;
    const char *me = cluster_uid(c);
    json_array_foreach(live, i, e)
    {
        if (strcmp(json_string_value(json_array_get(e, 1)), user) == 0 &&
            strcmp(json_string_value(json_array_get(e, 0)), me) != 0)
            n++;
    }
    return n;
}
