/* The REST endpoints that act on the cluster's sockets, rooms, users and history, through the
 * redis-adapter's requests (requester.c), the emitter format (api_publish_emit) and the chat's
 * Redis streams. Their routes are in api_cluster_routes (merged into the router at start). */
#include "alloc.h"
#include "api.h"
#include "api_cluster.h"
#include "requester.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static requester_t *rq;

static requester_t *requester(api_request_t *req)
{
    if (!rq) rq = requester_new(api_app(req));
    return rq;
}

void api_cluster_shutdown(void)
{
    requester_free(rq);
    rq = NULL;
}

/* ?namespace=, "/" by default; NULL (answered 400) when malformed. */
static const char *namespace_of(api_request_t *req)
{
    const char *nsp = api_query(req, "namespace");
    if (!nsp || !*nsp) return "/";
    if (nsp[0] != '/' || strlen(nsp) > 200) {
        api_respond_error(req, 400, "bad_request",
                          "namespace must start with / (at most 200 bytes)");
        return NULL;
    }
    return nsp;
}

/* What a pending request needs to answer its client. */
typedef struct {
    api_request_t *req;
    int kind;
    char room[256];
    char user[160];
    char reason[256];
    char nsp[208];
    long offset, limit;
} ask_t;

enum { K_SOCKETS, K_ROOMS, K_MEMBERS, K_USERS, K_KICK, K_DELETE };

static ask_t *ask_new(api_request_t *req, int kind, const char *nsp)
{
    ask_t *a = xcalloc(1, sizeof *a);
    a->req = req;
    a->kind = kind;
    snprintf(a->nsp, sizeof a->nsp, "%s", nsp);
    api_defer(req, NULL);
    return a;
}

static json_t *fetch_request(const char *room)
{
    json_t *rooms = json_array();
    if (room) json_array_append_new(rooms, json_string(room));
    return json_pack("{s:i,s:{s:o,s:[]}}", "type", 5, "opts", "rooms", rooms, "except");
}

/* A socket of a fetch answer as the API shows it (never its auth or headers). */
static json_t *socket_view(json_t *s, json_t *answer)
{
    const char *id = json_string_value(json_object_get(s, "id"));
    json_t *rooms = json_array(), *r;
    size_t i;
    json_array_foreach(json_object_get(s, "rooms"), i, r)
    {
        if (json_is_string(r) && (!id || strcmp(json_string_value(r), id) != 0))
            json_array_append(rooms, r);
    }
    json_t *hs = json_object_get(s, "handshake");
    json_t *user = json_object_get(json_object_get(s, "data"), "user");
    json_t *node = json_object_get(answer, "uid");
    return json_pack("{s:O?,s:O?,s:o,s:O?,s:O?,s:O?}", "id", json_object_get(s, "id"), "node", node,
                     "rooms", rooms, "address", json_object_get(hs, "address"), "connected_at",
                     json_object_get(hs, "issued"), "user", user);
}

/* Every socket of every answer, as socket_view shows it. */
static json_t *all_sockets(const req_result_t *r)
{
    json_t *out = json_array(), *ans, *s;
    size_t i, j;
    json_array_foreach(r->answers, i, ans)
    {
        json_array_foreach(json_object_get(ans, "sockets"), j, s)
        {
            if (json_is_object(s)) json_array_append_new(out, socket_view(s, ans));
        }
    }
    return out;
}

/* The chatnodes the registry lists as up (or draining) that did not answer. */
static json_t *missing_nodes(adminnode_t *an, const req_result_t *r)
{
    json_t *missing = json_array();
    if (!an->registry) return missing;
    size_t n;
    const reg_node_t **nodes = reg_sorted(registry_nodes(an->registry), &n);
    for (size_t i = 0; i < n; i++) {
        if (nodes[i]->state == REG_DOWN) continue;
        int answered = 0;
        size_t j;
        json_t *ans;
        json_array_foreach(r->answers, j, ans)
        {
            const char *uid = json_string_value(json_object_get(ans, "uid"));
            if (uid && strcmp(uid, nodes[i]->id) == 0) answered = 1;
        }
        if (!answered) json_array_append_new(missing, json_string(nodes[i]->id));
    }
    free(nodes);
    return missing;
}

/* Adds complete/servers/answered/missing/error to a response. */
static json_t *with_status_of(adminnode_t *an, json_t *doc, const req_result_t *r)
{
    json_object_set_new(doc, "complete", json_boolean(r->complete));
    json_object_set_new(doc, "missing", missing_nodes(an, r));
    json_object_set_new(doc, "servers", json_integer(r->servers));
    json_object_set_new(doc, "answered", json_integer(r->answered));
    if (r->error) json_object_set_new(doc, "error", json_string(r->error));
    return doc;
}

#define with_status(doc, r) with_status_of(api_app(a->req), doc, r)

/* Users of a socket list: [{id, name, sockets}] sorted by id. */
static json_t *users_of(json_t *sockets)
{
    json_t *by_id = json_object(), *s;
    size_t i;
    json_array_foreach(sockets, i, s)
    {
        json_t *u = json_object_get(s, "user");
        const char *id = json_string_value(json_object_get(u, "id"));
        if (!id) continue;
        json_t *e = json_object_get(by_id, id);
        if (!e) {
            e = json_pack("{s:s,s:O?,s:i}", "id", id, "name", json_object_get(u, "name"), "sockets",
                          0);
            json_object_set_new(by_id, id, e);
        }
        json_object_set_new(e, "sockets",
                            json_integer(json_integer_value(json_object_get(e, "sockets")) + 1));
    }
    json_t *out = json_array();
    const char **keys = xmalloc((json_object_size(by_id) + 1) * sizeof *keys);
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(by_id, k, v) keys[n++] = k;
    for (size_t a = 1; a < n; a++) /* a small insertion sort: user lists are short */
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *t = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = t;
        }
    for (size_t a = 0; a < n; a++) json_array_append(out, json_object_get(by_id, keys[a]));
    free(keys);
    json_decref(by_id);
    return out;
}

static int unavailable(const ask_t *a, const req_result_t *r)
{
    if (r->servers == 0 && r->answered == 0 && r->error && strstr(r->error, "Redis")) {
        api_respond_error(a->req, 503, "unavailable", "%s", r->error);
        return 1;
    }
    return 0;
}

static void on_fetched(void *ud, const req_result_t *r)
{
    ask_t *a = ud;
    if (api_request_done(a->req) || unavailable(a, r)) goto out;
    json_t *sockets = all_sockets(r);
    switch (a->kind) {
    case K_SOCKETS:
        api_respond_json(a->req, 200, with_status(json_pack("{s:O}", "sockets", sockets), r));
        break;
    case K_ROOMS: {
        json_t *counts = json_object(), *s, *room;
        size_t i, j;
        json_array_foreach(sockets, i, s)
        {
            json_array_foreach(json_object_get(s, "rooms"), j, room)
            {
                const char *name = json_string_value(room);
                json_int_t n = json_integer_value(json_object_get(counts, name));
                json_object_set_new(counts, name, json_integer(n + 1));
            }
        }
        json_t *rooms = json_array(), *v;
        const char *k;
        json_object_foreach(counts, k, v)
            json_array_append_new(rooms, json_pack("{s:s,s:O}", "room", k, "members", v));
        json_decref(counts);
        api_respond_json(a->req, 200, with_status(json_pack("{s:o}", "rooms", rooms), r));
        break;
    }
    case K_MEMBERS:
        api_respond_json(
            a->req, 200,
            with_status(json_pack("{s:s,s:o,s:I}", "room", a->room, "users", users_of(sockets),
                                  "sockets", (json_int_t)json_array_size(sockets)),
                        r));
        break;
    case K_USERS: {
        json_t *users = users_of(sockets), *page = json_array();
        size_t total = json_array_size(users);
        for (size_t i = (size_t)a->offset; i < total && i < (size_t)(a->offset + a->limit); i++)
            json_array_append(page, json_array_get(users, i));
        json_decref(users);
        api_respond_json(
            a->req, 200,
            with_status(json_pack("{s:o,s:I,s:I,s:I}", "users", page, "total", (json_int_t)total,
                                  "offset", (json_int_t)a->offset, "limit", (json_int_t)a->limit),
                        r));
        break;
    }
    case K_KICK: {
        /* tell the user's sockets why, then disconnect them, in that order on Redis */
        adminnode_t *an = api_app(a->req);
        char room[200];
        snprintf(room, sizeof room, "user:%s", a->user);
        json_t *rooms = json_pack("[s]", room);
        json_t *args = json_pack("[{s:s}]", "reason", a->reason);
        api_publish_emit(an, a->nsp, rooms, NULL, "kicked", args, 0);
        requester_tell(requester(a->req), a->nsp,
                       json_pack("{s:i,s:{s:O,s:[]},s:b}", "type", 4, "opts", "rooms", rooms,
                                 "except", "close", 0));
        api_respond_json(
            a->req, 200,
            with_status(json_pack("{s:b,s:s,s:I}", "ok", 1, "user", a->user, "disconnected",
                                  (json_int_t)json_array_size(sockets)),
                        r));
        json_decref(rooms);
        json_decref(args);
        break;
    }
    case K_DELETE:
        if (json_array_size(sockets) == 0) {
            api_respond_error(a->req, 404, "not_found", "no socket %s on any node that answered",
                              a->room);
        } else {
            requester_tell(requester(a->req), a->nsp,
                           json_pack("{s:i,s:{s:[s],s:[]},s:b}", "type", 4, "opts", "rooms",
                                     a->room, "except", "close", 1));
            api_respond_json(a->req, 200, json_pack("{s:b,s:s}", "ok", 1, "id", a->room));
        }
        break;
    }
    json_decref(sockets);
out:
    api_request_unref(a->req);
    free(a);
}

static void ask_fetch(api_request_t *req, int kind, const char *nsp, const char *room, ask_t **out)
{
    ask_t *a = ask_new(req, kind, nsp);
    if (room) snprintf(a->room, sizeof a->room, "%s", room);
    if (out) *out = a;
    requester_ask(requester(req), nsp, fetch_request(room), on_fetched, a);
}

void api_sockets(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    const char *room = api_query(req, "room");
    ask_fetch(req, K_SOCKETS, nsp, room && *room ? room : NULL, NULL);
}

void api_rooms(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    ask_fetch(req, K_ROOMS, nsp, NULL, NULL);
}

void api_room_members(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    ask_fetch(req, K_MEMBERS, nsp, api_param(req, "room"), NULL);
}

static long query_long(api_request_t *req, const char *name, long def, long min, long max, int *bad)
{
    const char *v = api_query(req, name);
    if (!v || !*v) return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max) *bad = 1;
    return n;
}

void api_users(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp) return;
    int bad = 0;
    long limit = query_long(req, "limit", 100, 1, 1000, &bad);
    long offset = query_long(req, "offset", 0, 0, 100000000, &bad);
    if (bad) {
        api_respond_error(req, 400, "bad_request", "limit is 1-1000 and offset >= 0");
        return;
    }
    if (!api_need_bus(req)) return;
    ask_t *a;
    /* the room of every socket's user is user:<id>: fetch every socket and group them */
    ask_fetch(req, K_USERS, nsp, NULL, &a);
    a->limit = limit;
    a->offset = offset;
}

/* {user: "<id>"} of a join or leave body; NULL (answered 400) otherwise. */
static const char *body_user(api_request_t *req)
{
    json_t *u = json_object_get(api_body(req), "user");
    if (!json_is_string(u) || json_string_length(u) == 0 || json_string_length(u) > 128) {
        api_respond_error(req, 400, "bad_request", "the body must be {\"user\": \"<user id>\"}");
        return NULL;
    }
    return json_string_value(u);
}

static void room_op(api_request_t *req, int type)
{
    const char *nsp = namespace_of(req);
    const char *user = nsp ? body_user(req) : NULL;
    if (!user || !api_need_bus(req)) return;
    char target[200];
    snprintf(target, sizeof target, "user:%s", user);
    int rc = requester_tell(requester(req), nsp,
                            json_pack("{s:i,s:{s:[s],s:[]},s:[s]}", "type", type, "opts", "rooms",
                                      target, "except", "rooms", api_param(req, "room")));
    if (rc < 0)
        api_respond_error(req, 503, "unavailable", "Redis is not available");
    else
        api_respond_json(req, 202, json_pack("{s:b}", "ok", 1));
}

void api_room_join(api_request_t *req)
{
    room_op(req, 2);
}

void api_room_leave(api_request_t *req)
{
    room_op(req, 3);
}

void api_user_emit(api_request_t *req)
{
    json_t *body = api_body(req);
    json_t *ev = json_object_get(body, "event"), *args = json_object_get(body, "args");
    const char *nsp = namespace_of(req);
    if (!nsp) return;
    if (!json_is_string(ev) || json_string_length(ev) == 0 || (args && !json_is_array(args))) {
        api_respond_error(req, 400, "bad_request",
                          "the body must be {\"event\": \"<name>\", \"args\": [...]}");
        return;
    }
    if (!api_need_bus(req)) return;
    char room[200];
    snprintf(room, sizeof room, "user:%s", api_param(req, "user"));
    json_t *rooms = json_pack("[s]", room), *none = json_array();
    int rc = api_publish_emit(api_app(req), nsp, rooms, NULL, json_string_value(ev),
                              args ? args : none, 0);
    json_decref(rooms);
    json_decref(none);
    if (rc < 0)
        api_respond_error(req, 400, "bad_request", "the event cannot be encoded");
    else
        api_respond_json(req, 202, json_pack("{s:b}", "ok", 1));
}

void api_user_disconnect(api_request_t *req)
{
    json_t *body = api_body(req);
    json_t *reason = body ? json_object_get(body, "reason") : NULL;
    const char *nsp = namespace_of(req);
    if (!nsp) return;
    if (reason && !json_is_string(reason)) {
        api_respond_error(req, 400, "bad_request", "reason must be a string");
        return;
    }
    if (!api_need_bus(req)) return;
    char room[200];
    snprintf(room, sizeof room, "user:%s", api_param(req, "user"));
    ask_t *a;
    ask_fetch(req, K_KICK, nsp, room, &a);
    snprintf(a->user, sizeof a->user, "%s", api_param(req, "user"));
    snprintf(a->reason, sizeof a->reason, "%s",
             reason ? json_string_value(reason) : "disconnected by an administrator");
}

void api_socket_delete(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    ask_fetch(req, K_DELETE, nsp, api_param(req, "sid"), NULL);
}

/* ---- history and system messages: the chat's streams ---- */

typedef struct {
    api_request_t *req;
    char room[256];
    char text[4200];
    char from_id[160], from_name[160];
} msg_t;

static json_t *stream_messages(const redisReply *r, const char *room)
{
    json_t *out = json_array();
    for (size_t i = r->elements; i-- > 0;) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
        const redisReply *f = e->element[1];
        json_t *m = json_pack("{s:s%,s:s,s:I,s:{}}", "id", e->element[0]->str,
                              (size_t)e->element[0]->len, "room", room, "ts",
                              (json_int_t)strtoll(e->element[0]->str, NULL, 10), "from");
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            const redisReply *key = f->element[k], *v = f->element[k + 1];
            json_t *val = json_stringn(v->str, v->len);
            if (!val) continue;
            if (strcmp(key->str, "from") == 0)
                json_object_set_new(json_object_get(m, "from"), "id", val);
            else if (strcmp(key->str, "name") == 0)
                json_object_set_new(json_object_get(m, "from"), "name", val);
            else if (strcmp(key->str, "text") == 0)
                json_object_set_new(m, "text", val);
            else
                json_decref(val);
        }
        json_array_append_new(out, m);
    }
    return out;
}

static void on_history(void *ud, int status, const redisReply *r)
{
    msg_t *m = ud;
    if (!api_request_done(m->req)) {
        if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY)
            api_respond_error(m->req, 503, "unavailable", "history could not be read");
        else
            api_respond_json(
                m->req, 200,
                json_pack("{s:s,s:o}", "room", m->room, "messages", stream_messages(r, m->room)));
    }
    api_request_unref(m->req);
    free(m);
}

void api_room_history(api_request_t *req)
{
    int bad = 0;
    long limit = query_long(req, "limit", 50, 1, 100, &bad);
    const char *before = api_query(req, "before");
    if (bad ||
        (before && (strlen(before) > 40 || strspn(before, "0123456789-") != strlen(before)))) {
        api_respond_error(req, 400, "bad_request", "limit is 1-100; before is a message id");
        return;
    }
    bus_t *bus = api_need_bus(req);
    if (!bus) return;
    adminnode_t *an = api_app(req);
    msg_t *m = xcalloc(1, sizeof *m);
    m->req = req;
    snprintf(m->room, sizeof m->room, "%s", api_param(req, "room"));
    sbuf_t key = SBUF_INIT, end = SBUF_INIT;
    char count[24];
    sbuf_printf(&key, "%s:chat:room:%s", an->cfg->redis_key, m->room);
    if (before && *before)
        sbuf_printf(&end, "(%s", before);
    else
        sbuf_append_str(&end, "+");
    snprintf(count, sizeof count, "%ld", limit);
    const char *argv[] = {"XREVRANGE", key.data, end.data, "-", "COUNT", count};
    size_t lens[] = {9, key.len, end.len, 1, 5, strlen(count)};
    api_defer(req, NULL);
    if (bus_command(bus, 6, argv, lens, on_history, m) < 0) {
        api_respond_error(req, 503, "unavailable", "Redis is not available");
        api_request_unref(req);
        free(m);
    }
    sbuf_free(&key);
    sbuf_free(&end);
}

/* The chat's store script: the message goes into the room's stream like any other. */
static const char store_lua[] =
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', "
    "'from', ARGV[2], 'name', ARGV[3], 'text', ARGV[4], 'to', '') return id";

static void on_stored(void *ud, int status, const redisReply *r)
{
    msg_t *m = ud;
    if (status != 0 || !r || r->type != REDIS_REPLY_STRING) {
        if (!api_request_done(m->req))
            api_respond_error(m->req, 503, "unavailable", "the message could not be stored");
    } else {
        adminnode_t *an = api_app(m->req);
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)r->len, r->str);
        json_int_t ts = strtoll(id, NULL, 10);
        json_t *msg =
            json_pack("[{s:s,s:s,s:{s:s,s:s},s:s,s:I}]", "room", m->room, "id", id, "from", "id",
                      m->from_id, "name", m->from_name, "text", m->text, "ts", ts);
        json_t *rooms = json_pack("[s]", m->room);
        api_publish_emit(an, "/", rooms, NULL, "message", msg, 0);
        json_decref(rooms);
        json_decref(msg);
        if (!api_request_done(m->req))
            api_respond_json(m->req, 201, json_pack("{s:b,s:s,s:I}", "ok", 1, "id", id, "ts", ts));
    }
    api_request_unref(m->req);
    free(m);
}

void api_room_message(api_request_t *req)
{
    json_t *body = api_body(req);
    json_t *text = json_object_get(body, "text"), *from = json_object_get(body, "from");
    const char *room = api_param(req, "room");
    if (!json_is_string(text) || json_string_length(text) == 0 || json_string_length(text) > 4096 ||
        (from && !json_is_string(from)) || (from && json_string_length(from) > 128) ||
        strlen(room) > 128) {
        api_respond_error(req, 400, "bad_request",
                          "the body must be {\"text\": \"1-4096 bytes\", \"from\"?: \"name\"}");
        return;
    }
    bus_t *bus = api_need_bus(req);
    if (!bus) return;
    adminnode_t *an = api_app(req);
    msg_t *m = xcalloc(1, sizeof *m);
    m->req = req;
    snprintf(m->room, sizeof m->room, "%s", room);
    snprintf(m->text, sizeof m->text, "%s", json_string_value(text));
    snprintf(m->from_id, sizeof m->from_id, "system");
    snprintf(m->from_name, sizeof m->from_name, "%s", from ? json_string_value(from) : "system");
    sbuf_t key = SBUF_INIT;
    sbuf_printf(&key, "%s:chat:room:%s", an->cfg->redis_key, room);
    const char *argv[] = {"EVAL", store_lua,  "1",          key.data,
                          "1000", m->from_id, m->from_name, m->text};
    size_t lens[] = {4,
                     sizeof store_lua - 1,
                     1,
                     key.len,
                     4,
                     strlen(m->from_id),
                     strlen(m->from_name),
                     strlen(m->text)};
    api_defer(req, NULL);
    if (bus_command(bus, 8, argv, lens, on_stored, m) < 0) {
        api_respond_error(req, 503, "unavailable", "Redis is not available");
        api_request_unref(req);
        free(m);
    }
    sbuf_free(&key);
}
