/* The REST endpoints that act on the cluster's sockets, rooms, users and history, through the
 * redis-adapter's requests (requester.c; docs/protocols.md, section 2.7), the emitter format
 * (api_publish_emit) and the chat's Redis streams. Their routes are in api_cluster_routes
 * (merged into the router at start). */
#include "adapter_request.h"
#include "alloc.h"
#include "api.h"
#include "api_cluster.h"
#include "chat_store.h"
#include "log.h"
#include "requester.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest kick reason, bytes. */
#define KICK_REASON_MAX 512

static requester_t *rq;

static requester_t *requester(api_request_t *req)
{
    if (!rq) rq = requester_new(api_app(req));
    return rq;
}

void api_cluster_start(adminnode_t *an)
{
    if (!rq) rq = requester_new(an);
}

void api_cluster_shutdown(void)
{
    requester_free(rq);
    rq = NULL;
}

/* ?namespace= (checked against its rule before the handler), "/" by default; NULL (answered
 * 400) when malformed. */
static const char *namespace_of(api_request_t *req)
{
    const char *nsp = api_query(req, "namespace");
    char why[96];
    if (!nsp || !*nsp) return "/";
    if (api_check_namespace(nsp, strlen(nsp), why, sizeof why) < 0) {
        api_respond_error(req, 400, "bad_request", "query parameter namespace %s", why);
        return NULL;
    }
    return nsp;
}

/* The room of every socket of a user: "user:" and the id (a valid user id, else NULL), as
 * a one-element JSON array. Never an empty array: an empty room list means every socket. */
static json_t *user_rooms(const char *user)
{
    size_t ulen = user ? strlen(user) : 0;
    if (!user || chat_check_user_id(user, ulen) != 0) return NULL;
    size_t plen = sizeof CHAT_USER_ROOM_PREFIX - 1;
    char *room = xmalloc(plen + ulen + 1);
    memcpy(room, CHAT_USER_ROOM_PREFIX, plen);
    memcpy(room + plen, user, ulen + 1);
    json_t *name = json_stringn(room, plen + ulen), *rooms = json_array();
    free(room);
    if (!name || !rooms || json_array_append_new(rooms, name) < 0) {
        json_decref(rooms);
        return NULL;
    }
    return rooms;
}

/* The answer when a request cannot be made or sent: 503 when Redis is the cause, else 500
 * (the caller's input was checked before, so a failure here is adminnode's). */
static void respond_failure(api_request_t *req, int rc, const char *what)
{
    if (rc == API_ENOBUS)
        api_respond_error(req, 503, "unavailable", "Redis is not available");
    else {
        log_error("cluster request not made", "what=\"%s\" error=\"%s\"", what, api_strerror(rc));
        api_respond_error(req, 500, "internal", "the %s cannot be made: %s", what,
                          api_strerror(rc));
    }
}

/* What a pending request needs to answer its client. */
typedef struct ask ask_t;
/* Answers a's client from the sockets the servers reported (socket_view's form, borrowed) and
 * the gathering's result. */
typedef void (*ask_answer_fn)(ask_t *a, json_t *sockets, const req_result_t *r);
struct ask {
    api_request_t *req;
    ask_answer_fn answer;
    char *target;  /* members: the room; kick: the user; delete: the socket id (owned) */
    char *reason;  /* kick (owned) */
    char *nsp;     /* owned */
    json_t *rooms; /* kick: the user's room, as a JSON array */
    long offset, limit;
};

static ask_t *ask_new(api_request_t *req, ask_answer_fn answer, const char *nsp)
{
    ask_t *a = xcalloc(1, sizeof *a);
    a->req = req;
    a->answer = answer;
    a->nsp = xstrdup(nsp);
    return a;
}

static void ask_free(ask_t *a)
{
    free(a->target);
    free(a->reason);
    free(a->nsp);
    json_decref(a->rooms);
    free(a);
}

/* A REMOTE_FETCH of the sockets in rooms (a JSON array, stolen; empty: every socket), or
 * NULL. */
static json_t *fetch_request(json_t *rooms)
{
    if (!rooms) return NULL;
    json_t *req = adapter_request_new(ADAPTER_REQ_REMOTE_FETCH, NULL, NULL);
    if (adapter_request_set(req, "opts", adapter_request_opts(rooms, NULL)) < 0) {
        json_decref(req);
        return NULL;
    }
    return req;
}

/* A request that acts on the sockets in rooms (a JSON array, borrowed) and has no answer:
 * REMOTE_JOIN or REMOTE_LEAVE of the room target, or REMOTE_DISCONNECT (close: whole
 * connections). NULL when it cannot be made. */
static json_t *act_request(adapter_request_type_t type, json_t *rooms, const char *target,
                           int close)
{
    json_t *req = adapter_request_new(type, NULL, NULL);
    if (adapter_request_set(req, "opts", adapter_request_opts(json_incref(rooms), NULL)) < 0 ||
        (type == ADAPTER_REQ_REMOTE_DISCONNECT
             ? adapter_request_set(req, "close", json_boolean(close))
             : adapter_request_set(req, "rooms", json_pack("[s]", target))) < 0) {
        json_decref(req);
        return NULL;
    }
    return req;
}

/* A socket of a fetch answer as the API shows it (never its auth or headers), or NULL. */
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
    json_array_foreach(r->items, i, ans)
    {
        json_array_foreach(json_object_get(ans, "sockets"), j, s)
        {
            json_t *v = json_is_object(s) ? socket_view(s, ans) : NULL;
            if (v) json_array_append_new(out, v);
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
        json_array_foreach(r->items, j, ans)
        {
            const char *uid = json_string_value(json_object_get(ans, "uid"));
            if (uid && strcmp(uid, nodes[i]->id) == 0) answered = 1;
        }
        if (!answered) json_array_append_new(missing, json_string(nodes[i]->id));
    }
    free(nodes);
    return missing;
}

/* Adds complete/servers/answered/missing/error to a response (NULL stays NULL). */
static json_t *with_status_of(adminnode_t *an, json_t *doc, const req_result_t *r)
{
    if (!doc) return NULL;
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
            if (!e || json_object_set_new(by_id, id, e) < 0) continue;
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
    if (r->servers == 0 && r->answered == 0 && r->status == ADAPTER_GATHER_ENOBUS) {
        api_respond_error(a->req, 503, "unavailable", "%s", r->error);
        return 1;
    }
    return 0;
}

/* Rooms with their member counts, socket-id rooms already left out by socket_view. */
static json_t *room_counts(json_t *sockets)
{
    json_t *counts = json_object(), *s, *room;
    size_t i, j;
    json_array_foreach(sockets, i, s)
    {
        json_array_foreach(json_object_get(s, "rooms"), j, room)
        {
            const char *name = json_string_value(room);
            if (!name) continue;
            json_int_t n = json_integer_value(json_object_get(counts, name));
            json_object_set_new(counts, name, json_integer(n + 1));
        }
    }
    json_t *rooms = json_array(), *v;
    const char *k;
    json_object_foreach(counts, k, v)
    {
        json_t *e = json_pack("{s:s,s:O}", "room", k, "members", v);
        if (e) json_array_append_new(rooms, e);
    }
    json_decref(counts);
    return rooms;
}

/* Kicks the user of a: its sockets are told why, then disconnected, in that order on Redis
 * (in the sharded format both on the namespace's channel: on two shards' channels the
 * disconnect could overtake the event). Returns 0 or an API_E* code (nothing sent when the
 * first step fails). */
static int kick(ask_t *a)
{
    adminnode_t *an = api_app(a->req);
    json_t *args = json_pack("[{s:s}]", "reason", a->reason);
    json_t *disc = act_request(ADAPTER_REQ_REMOTE_DISCONNECT, a->rooms, NULL, 0);
    int rc = args && disc ? api_publish_emit(an, a->nsp, a->rooms, NULL, "kicked", args,
                                             API_EMIT_NSP_CHANNEL)
                          : API_EINVAL;
    json_decref(args);
    if (rc == 0) return requester_tell(requester(a->req), a->nsp, disc);
    json_decref(disc);
    return rc;
}

/* Disconnects socket a->target wherever it is. Returns 0 or an API_E* code. */
static int disconnect_socket(ask_t *a)
{
    json_t *rooms = json_pack("[s]", a->target);
    json_t *req = rooms ? act_request(ADAPTER_REQ_REMOTE_DISCONNECT, rooms, NULL, 1) : NULL;
    json_decref(rooms);
    return requester_tell(requester(a->req), a->nsp, req);
}

static void answer_sockets(ask_t *a, json_t *sockets, const req_result_t *r)
{
    api_respond_json(a->req, 200, with_status(json_pack("{s:O}", "sockets", sockets), r));
}

static void answer_rooms(ask_t *a, json_t *sockets, const req_result_t *r)
{
    api_respond_json(a->req, 200,
                     with_status(json_pack("{s:o}", "rooms", room_counts(sockets)), r));
}

static void answer_members(ask_t *a, json_t *sockets, const req_result_t *r)
{
    api_respond_json(
        a->req, 200,
        with_status(json_pack("{s:s,s:o,s:I}", "room", a->target, "users", users_of(sockets),
                              "sockets", (json_int_t)json_array_size(sockets)),
                    r));
}

static void answer_users(ask_t *a, json_t *sockets, const req_result_t *r)
{
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
}

static void answer_kick(ask_t *a, json_t *sockets, const req_result_t *r)
{
    int rc = kick(a);
    if (rc < 0) {
        respond_failure(a->req, rc, "kick");
        return;
    }
    api_respond_json(a->req, 200,
                     with_status(json_pack("{s:b,s:s,s:I}", "ok", 1, "user", a->target,
                                           "disconnected", (json_int_t)json_array_size(sockets)),
                                 r));
}

static void answer_delete(ask_t *a, json_t *sockets, const req_result_t *r)
{
    (void)r;
    int rc;
    if (json_array_size(sockets) == 0)
        api_respond_error(a->req, 404, "not_found", "no socket %s on any node that answered",
                          a->target);
    else if ((rc = disconnect_socket(a)) < 0)
        respond_failure(a->req, rc, "disconnect");
    else
        api_respond_json(a->req, 200, json_pack("{s:b,s:s}", "ok", 1, "id", a->target));
}

/* The servers answered (or some did not in time): the endpoint answers its client. */
static void on_fetched(void *ud, const req_result_t *r)
{
    ask_t *a = ud;
    if (!api_request_done(a->req) && !unavailable(a, r)) {
        json_t *sockets = all_sockets(r);
        a->answer(a, sockets, r);
        json_decref(sockets);
    }
    api_request_unref(a->req);
    ask_free(a);
}

/* Asks every server for the sockets in rooms (a JSON array, stolen; NULL: it could not be
 * made, answered 500) on behalf of a (owned from now on). The request is deferred until the
 * answers are in. */
static void ask_fetch(ask_t *a, json_t *rooms)
{
    api_request_t *req = a->req;
    json_t *fetch = fetch_request(rooms);
    api_defer(req, NULL);
    int rc = requester_ask(requester(req), a->nsp, fetch, on_fetched, a);
    if (rc < 0) {
        respond_failure(req, rc, "request to the servers");
        api_request_unref(req);
        ask_free(a);
    }
}

/* One room as a JSON array (room checked before), or NULL. */
static json_t *one_room(const char *room)
{
    json_t *name = room ? json_string(room) : NULL, *rooms = json_array();
    if (!name || !rooms || json_array_append_new(rooms, name) < 0) {
        json_decref(rooms);
        return NULL;
    }
    return rooms;
}

void api_sockets(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    const char *room = api_query(req, "room");
    ask_fetch(ask_new(req, answer_sockets, nsp), room && *room ? one_room(room) : json_array());
}

void api_rooms(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    ask_fetch(ask_new(req, answer_rooms, nsp), json_array());
}

void api_room_members(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    const char *room = api_param(req, "room");
    ask_t *a = ask_new(req, answer_members, nsp);
    a->target = xstrdup(room);
    ask_fetch(a, one_room(room));
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
    /* the room of every socket's user is user:<id>: fetch every socket and group them */
    ask_t *a = ask_new(req, answer_users, nsp);
    a->limit = limit;
    a->offset = offset;
    ask_fetch(a, json_array());
}

/* {user: "<id>"} of a join or leave body; NULL (answered 400) otherwise. */
static const char *body_user(api_request_t *req)
{
    json_t *u = json_object_get(api_body(req), "user");
    if (!json_is_string(u) || chat_check_user_id(json_string_value(u), json_string_length(u))) {
        api_respond_error(req, 400, "bad_request",
                          "the body must be {\"user\": \"<user id>\"}: 1-70 characters and at most "
                          "262 bytes, no control characters");
        return NULL;
    }
    return json_string_value(u);
}

static void room_op(api_request_t *req, adapter_request_type_t type)
{
    /* a user's or a socket's own room would hand its messages to someone else */
    const char *room = api_param(req, "room");
    int why = chat_check_room(room, strlen(room));
    if (why != 0) {
        api_respond_error(req, 400, "bad_request", "room %s: it cannot be joined or left",
                          chat_check_strerror(why));
        return;
    }
    const char *nsp = namespace_of(req);
    const char *user = nsp ? body_user(req) : NULL;
    if (!user || !api_need_bus(req)) return;
    json_t *rooms = user_rooms(user);
    json_t *op = rooms ? act_request(type, rooms, api_param(req, "room"), 0) : NULL;
    json_decref(rooms);
    int rc = requester_tell(requester(req), nsp, op);
    if (rc < 0)
        respond_failure(req, rc, type == ADAPTER_REQ_REMOTE_JOIN ? "join" : "leave");
    else
        api_respond_json(req, 202, json_pack("{s:b}", "ok", 1));
}

void api_room_join(api_request_t *req)
{
    room_op(req, ADAPTER_REQ_REMOTE_JOIN);
}

void api_room_leave(api_request_t *req)
{
    room_op(req, ADAPTER_REQ_REMOTE_LEAVE);
}

void api_user_emit(api_request_t *req)
{
    json_t *body = api_body(req);
    json_t *ev = json_object_get(body, "event"), *args = json_object_get(body, "args");
    const char *nsp = namespace_of(req);
    if (!nsp) return;
    if (!json_is_string(ev) || json_string_length(ev) == 0 ||
        json_string_length(ev) != strlen(json_string_value(ev)) || (args && !json_is_array(args))) {
        api_respond_error(req, 400, "bad_request",
                          "the body must be {\"event\": \"<name>\", \"args\": [...]}");
        return;
    }
    if (!api_need_bus(req)) return;
    /* to the user's room only: if it cannot be made, nothing is sent */
    json_t *rooms = user_rooms(api_param(req, "user")), *none = json_array();
    int rc = rooms ? api_publish_emit(api_app(req), nsp, rooms, NULL, json_string_value(ev),
                                      args ? args : none, 0)
                   : API_EINVAL;
    json_decref(rooms);
    json_decref(none);
    if (rc == API_EENCODE)
        api_respond_error(req, 400, "bad_request", "the event cannot be encoded");
    else if (rc < 0)
        respond_failure(req, rc, "emit");
    else
        api_respond_json(req, 202, json_pack("{s:b}", "ok", 1));
}

void api_user_disconnect(api_request_t *req)
{
    json_t *body = api_body(req);
    json_t *reason = body ? json_object_get(body, "reason") : NULL;
    const char *nsp = namespace_of(req);
    if (!nsp) return;
    if (reason && (!json_is_string(reason) || json_string_length(reason) > KICK_REASON_MAX ||
                   json_string_length(reason) != strlen(json_string_value(reason)))) {
        api_respond_error(req, 400, "bad_request",
                          "reason must be a string of at most %d bytes, without NUL",
                          KICK_REASON_MAX);
        return;
    }
    if (!api_need_bus(req)) return;
    const char *user = api_param(req, "user");
    ask_t *a = ask_new(req, answer_kick, nsp);
    a->target = xstrdup(user);
    a->reason = xstrdup(reason ? json_string_value(reason) : "disconnected by an administrator");
    a->rooms = user_rooms(user);
    if (!a->rooms) {
        respond_failure(req, API_EINVAL, "kick");
        ask_free(a);
        return;
    }
    ask_fetch(a, json_deep_copy(a->rooms));
}

void api_socket_delete(api_request_t *req)
{
    const char *nsp = namespace_of(req);
    if (!nsp || !api_need_bus(req)) return;
    const char *sid = api_param(req, "sid");
    ask_t *a = ask_new(req, answer_delete, nsp);
    a->target = xstrdup(sid);
    ask_fetch(a, one_room(sid));
}

/* ---- history and system messages: the chat's streams (proto/chat_store.h) ---- */

/* A history read or a system message waiting for Redis; its strings are the caller's, held
 * at their own size. */
typedef struct {
    api_request_t *req;
    char *room;
    char *text;
    char *from_name;
} msg_t;

static void msg_free(msg_t *m)
{
    api_request_unref(m->req);
    free(m->room);
    free(m->text);
    free(m->from_name);
    free(m);
}

static void on_history(void *ud, int status, const redisReply *r)
{
    msg_t *m = ud;
    if (!api_request_done(m->req)) {
        if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY)
            api_respond_error(m->req, 503, "unavailable", "history could not be read");
        else
            api_respond_json(m->req, 200,
                             json_pack("{s:s,s:o}", "room", m->room, "messages",
                                       chat_store_messages(r, m->room)));
    }
    msg_free(m);
}

void api_room_history(api_request_t *req)
{
    int bad = 0;
    long limit = query_long(req, "limit", 50, 1, 100, &bad);
    const char *before = api_query(req, "before");
    if (bad || (before && *before && !chat_check_stream_id(before, strlen(before)))) {
        api_respond_error(req, 400, "bad_request", "limit is 1-100; before is a message id");
        return;
    }
    bus_t *bus = api_need_bus(req);
    if (!bus) return;
    adminnode_t *an = api_app(req);
    msg_t *m = xcalloc(1, sizeof *m);
    m->req = req;
    m->room = xstrdup(api_param(req, "room"));
    sbuf_t key = SBUF_INIT, end = SBUF_INIT;
    char count[24];
    chat_key_room(&key, an->cfg->redis_key, m->room, strlen(m->room));
    if (before && *before)
        sbuf_printf(&end, "(%s", before);
    else
        sbuf_append_str(&end, "+");
    snprintf(count, sizeof count, "%ld", limit);
    const char *argv[] = {"XREVRANGE", key.data, end.data, "-", "COUNT", count};
    size_t lens[] = {9, key.len, end.len, 1, 5, strlen(count)};
    api_defer(req, NULL);
    if (bus_command_key(bus, key.data, key.len, 6, argv, lens, on_history, m) < 0) {
        api_respond_error(req, 503, "unavailable", "Redis is not available");
        msg_free(m);
    }
    sbuf_free(&key);
    sbuf_free(&end);
}

/* The system message's sender: not a user id a client can have (guests are guest:..., and
 * a token's sub is the operator's to issue). */
#define SYSTEM_ID "system"

/* The limits a system message obeys: the live chatnodes' (reg_chat_limits), or adminnode's
 * own --history-size, --history-ttl and --max-text while no live chatnode announced any. */
static chat_store_limits_t chat_limits(const adminnode_t *an)
{
    chat_store_limits_t l = {
        .history_size = an->cfg->history_size,
        .history_ttl = an->cfg->history_ttl,
        .max_text = an->cfg->max_text,
    };
    if (an->registry) reg_chat_limits(registry_nodes(an->registry), &l);
    return l;
}

static void on_stored(void *ud, int status, const redisReply *r)
{
    msg_t *m = ud;
    char id[64];
    /* BUS_EREPLICAS: stored on the primary, which may yet lose it; sent all the same, as a
     * chatnode does, and answered 503 */
    int confirmed = status != BUS_EREPLICAS;
    if ((status != 0 && confirmed) || chat_store_reply(r, id, sizeof id, NULL) < 0) {
        if (!api_request_done(m->req))
            api_respond_error(m->req, 503, "unavailable", "the message could not be stored");
        msg_free(m);
        return;
    }
    adminnode_t *an = api_app(m->req);
    json_int_t ts = strtoll(id, NULL, 10);
    json_t *msg = json_pack("[{s:s,s:s,s:{s:s,s:s},s:s,s:I}]", "room", m->room, "id", id, "from",
                            "id", SYSTEM_ID, "name", m->from_name, "text", m->text, "ts", ts);
    json_t *rooms = json_pack("[s]", m->room);
    int rc = msg && rooms ? api_publish_emit(an, "/", rooms, NULL, "message", msg, 0) : API_EINVAL;
    json_decref(rooms);
    json_decref(msg);
    if (!api_request_done(m->req) && !confirmed)
        api_respond_error(m->req, 503, "unavailable",
                          "stored as %s, but fewer than %lld replicas acknowledged it in time: "
                          "a failover of the Redis primary may lose it",
                          id, an->cfg->store_replicas);
    else if (!api_request_done(m->req) && rc < 0) /* stored (history has it), not sent live */
        api_respond_error(m->req, 500, "internal", "stored as %s but not delivered: %s", id,
                          api_strerror(rc));
    else if (!api_request_done(m->req))
        api_respond_json(m->req, 201, json_pack("{s:b,s:s,s:I}", "ok", 1, "id", id, "ts", ts));
    msg_free(m);
}

void api_room_message(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    json_t *body = api_body(req);
    json_t *text = json_object_get(body, "text"), *from = json_object_get(body, "from");
    const char *room = api_param(req, "room");
    chat_store_limits_t limits = chat_limits(an);
    if (!json_is_string(text) || json_string_length(text) == 0 ||
        json_string_length(text) > (size_t)limits.max_text ||
        (from && (!json_is_string(from) ||
                  chat_check_name(json_string_value(from), json_string_length(from)) != 0))) {
        api_respond_error(req, 400, "bad_request",
                          "the body must be {\"text\": \"1-%lld bytes\", \"from\"?: \"a name of "
                          "1-64 characters\"}",
                          limits.max_text);
        return;
    }
    /* the limits are the cluster's once the registry has loaded: until then the request
     * waits, then comes here again */
    if (!api_need_bus(req) || !api_nodes_ready(req)) return;
    bus_t *bus = an->bus;
    msg_t *m = xcalloc(1, sizeof *m);
    m->req = req;
    m->room = xstrdup(room);
    m->text = xstrndup(json_string_value(text), json_string_length(text));
    m->from_name = xstrdup(from ? json_string_value(from) : SYSTEM_ID);
    sbuf_t key = SBUF_INIT;
    chat_key_room(&key, an->cfg->redis_key, room, strlen(room));
    chat_store_msg_t msg = {
        .stream = key.data,
        .stream_len = key.len,
        .maxlen = limits.history_size,
        .ttl = limits.history_ttl,
        .from = SYSTEM_ID,
        .from_len = sizeof SYSTEM_ID - 1,
        .name = m->from_name,
        .name_len = strlen(m->from_name),
        .text = m->text,
        .text_len = json_string_length(text),
    };
    chat_store_cmd_t cmd;
    chat_store_cmd(&cmd, &msg);
    api_defer(req, NULL);
    if (bus_command_replicated(bus, key.data, key.len, (unsigned)an->cfg->store_replicas,
                               (uint32_t)an->cfg->store_replicas_timeout, CHAT_STORE_ARGC, cmd.argv,
                               cmd.lens, on_stored, m) < 0) {
        api_respond_error(req, 503, "unavailable", "Redis is not available");
        msg_free(m);
    }
    sbuf_free(&key);
}
