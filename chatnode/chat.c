/* The chat app: its module table and its protocol. Users sign in (chat_identity.c), join
 * rooms, send messages stored before anyone is told (chat_storage.h), private messages,
 * history, typing, and see who is in a room cluster-wide (chat_presence.c). Every client
 * event is answered through its ack with {ok: true, ...} or {error: {code, message}}; bad
 * input never disconnects anyone. The Redis keys are those of chat_store.h. */
#include "alloc.h"
#include "app.h"
#include "chat_internal.h"
#include "chat_store.h"
#include "events.h"
#include "log.h"
#include "sio.h"
#include "utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The chat of a namespace's server: the state its init handed to the Socket.IO layer. */
static chat_t *chat_of_nsp(const sio_nsp_t *nsp)
{
    return sio_server_app_state(sio_nsp_server(nsp));
}

static chat_t *chat_of(const sio_socket_t *s)
{
    return chat_of_nsp(sio_socket_nsp(s));
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
static json_t *user_json(const chat_member_t *m)
{
    return json_pack("{s:s,s:s}", "id", m->user_id, "name", m->user_name);
}

/* Emits event with one JSON object argument (borrowed) to rooms (minus except), cluster-wide.
 * A NULL or unencodable arg is sent to nobody. */
/* once: the stored message arg carries (NULL: none; see sio_broadcast_once; its done runs
 * whatever happens). */
static void emit_to(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                    size_t nexcept, const char *event, json_t *arg, unsigned flags,
                    const sio_once_t *once)
{
    char *text = arg ? json_dumps(arg, JSON_COMPACT) : NULL;
    if (!text) {
        log_warn("event not encodable", "event=%s", event);
        if (once) once->done(once->ud, SIO_ONCE_FAILED);
    } else if (once) {
        sio_broadcast_once(nsp, rooms, nrooms, except, nexcept, event, strlen(event), text,
                           strlen(text), once);
    } else {
        sio_broadcast(nsp, rooms, nrooms, except, nexcept, event, strlen(event), text, strlen(text),
                      NULL, 0, flags);
    }
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

enum { AFTER_JOIN = 1 }; /* wait_t.kind: the answer to a join carries members too */

/* A client waiting for an asynchronous answer; its socket may be gone by then. */
typedef struct {
    chat_t *ch;
    sio_nsp_t *nsp;
    char sid[32];
    int64_t ack_id;
    char *room;  /* room or peer user id, as the request needs */
    char *extra; /* the members of a join, as JSON text */
    int kind;
} wait_t;

static wait_t *wait_new(sio_socket_t *s, int64_t ack_id)
{
    wait_t *w = xcalloc(1, sizeof *w);
    w->ch = chat_of(s);
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

/* ---- signing in ---- */

static int refuse(sbuf_t *error, const char *reason)
{
    json_t *e = json_pack("{s:s,s:{s:s}}", "message", "unauthorized", "data", "reason", reason);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    sbuf_append_str(error, text ? text : "{\"message\":\"unauthorized\"}");
    free(text);
    json_decref(e);
    return -1;
}

/* A member's data: the name is stored once when the id ends with it (a guest, or a token
 * without name). */
static chat_member_t *member_new(const chat_t *ch, const char *id, size_t idlen, const char *name,
                                 size_t namelen)
{
    size_t tail = idlen >= namelen && memcmp(id + idlen - namelen, name, namelen) == 0
                      ? idlen - namelen
                      : SIZE_MAX;
    chat_member_t *m = xcalloc(1, sizeof *m + idlen + 1 + (tail != SIZE_MAX ? 0 : namelen + 1));
    m->user_id = (char *)(m + 1);
    memcpy(m->user_id, id, idlen);
    m->user_name = tail != SIZE_MAX ? m->user_id + tail : m->user_id + idlen + 1;
    if (tail == SIZE_MAX) memcpy(m->user_name, name, namelen);
    m->tokens = (double)ch->cfg->burst;
    m->last_ms = now_ms();
    return m;
}

/* m's auth hook part, made on first use. */
static chat_member_hook_t *member_hook(chat_member_t *m)
{
    if (!m->hook) m->hook = xcalloc(1, sizeof *m->hook);
    return m->hook;
}

static void member_free(chat_member_t *m)
{
    if (!m) return;
    if (m->hook) {
        for (uint32_t i = 0; i < m->hook->njoin; i++) free(m->hook->join[i]);
        free(m->hook->join);
        free(m->hook->data);
        free(m->hook);
    }
    free(m);
}

/* The token or guest sign-in (chat_identity.h): accepted, the socket gets its member data. */
static int sign_in(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error)
{
    chat_t *ch = chat_of(s);
    sbuf_t id = SBUF_INIT, name = SBUF_INIT;
    const char *why = chat_identity_resolve(&ch->identity, auth, auth_len, &id, &name);
    if (!why) {
        /* the name is stored once when the id ends with it (a guest, or a token without name) */
        sio_socket_set_data(s, member_new(ch, id.data, id.len, name.data, name.len));
    }
    sbuf_free(&id);
    sbuf_free(&name);
    return why ? refuse(error, why) : 0;
}

/* Does auth carry a token the JWT verifier accepts? Then it signs in without the auth hook:
 * the application issued it. The user's id is appended to id when id is not NULL. */
static int token_signs_in(const chat_t *ch, const char *auth, size_t auth_len, sbuf_t *id)
{
    sbuf_t uid = SBUF_INIT, name = SBUF_INIT;
    const char *why = chat_identity_resolve(&ch->identity, auth, auth_len, &uid, &name);
    int yes = !why && !(uid.len >= CHAT_GUEST_PREFIX_LEN &&
                        memcmp(uid.data, CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN) == 0);
    if (yes && id) sbuf_append(id, uid.data, uid.len);
    sbuf_free(&uid);
    sbuf_free(&name);
    return yes;
}

/* A refusal the application gave: {message: "unauthorized", data: {reason, code}}. */
static int refuse_coded(sbuf_t *error, const char *reason, const char *code)
{
    json_t *e = json_pack("{s:s,s:{s:s,s:s}}", "message", "unauthorized", "data", "reason", reason,
                          "code", code);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    sbuf_append_str(error, text ? text : "{\"message\":\"unauthorized\"}");
    free(text);
    json_decref(e);
    return -1;
}

/* What the auth hook's answer a makes of s's CONNECT: 0, admitted with its member data (the
 * answer's rooms joined once connected), or -1 with the refusal in error. No usable answer
 * falls back to the token/guest sign-in or refuses, as --auth-hook-fallback says. */
static int hook_sign_in(sio_socket_t *s, const hook_auth_t *a, const char *auth, size_t auth_len,
                        sbuf_t *error)
{
    chat_t *ch = chat_of(s);
    if (a->verdict == HOOK_REFUSE)
        return refuse_coded(error, a->message, a->code ? a->code : "refused");
    if (a->verdict != HOOK_ADMIT) {
        if (chat_hooks_auth_fallback_jwt(ch->hooks)) return sign_in(s, auth, auth_len, error);
        return refuse_coded(error, "sign-in unavailable", "unavailable");
    }
    chat_member_t *m = member_new(ch, a->id, strlen(a->id), a->name, strlen(a->name));
    if (a->data) member_hook(m)->data = xstrdup(a->data);
    if (a->nrooms) {
        chat_member_hook_t *h = member_hook(m);
        h->join = xcalloc(a->nrooms, sizeof *h->join);
        for (size_t i = 0; i < a->nrooms; i++) h->join[h->njoin++] = xstrdup(a->rooms[i]);
    }
    sio_socket_set_data(s, m);
    return 0;
}

/* The auth hook answered s's pending CONNECT. */
static void on_hook_sign_in(sio_socket_t *s, const hook_auth_t *a)
{
    sbuf_t error = SBUF_INIT;
    size_t auth_len = 0;
    const char *auth = sio_socket_pending_auth(s, &auth_len); /* for the fallback */
    if (hook_sign_in(s, a, auth ? auth : "{}", auth ? auth_len : 2, &error) == 0)
        sio_connect_done(s, NULL, 0);
    else
        sio_connect_done(s, error.data, error.len);
    sbuf_free(&error);
}

/* Who is connecting: a token the verifier accepts signs in at once; without one, the auth
 * hook (when set) decides, else the token/guest sign-in refuses or admits a guest. */
static int chat_connect(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error)
{
    chat_t *ch = chat_of(s);
    if (!chat_hooks_has_auth(ch->hooks) || token_signs_in(ch, auth, auth_len, NULL))
        return sign_in(s, auth, auth_len, error);
    hook_auth_t a;
    if (chat_hooks_auth(ch->hooks, s, auth, auth_len, on_hook_sign_in, &a) == 0)
        return APP_CONNECT_PENDING;
    int rc = hook_sign_in(s, &a, auth, auth_len, error);
    hook_auth_free(&a);
    return rc;
}

static void chat_connect_abandoned(sio_socket_t *s)
{
    chat_hooks_auth_abandon(chat_of(s)->hooks, s);
}

/* A session is its user's: restored only for a CONNECT signed in as the same user (a token
 * that expired since signs in nobody, so the client gets a new session, refused as usual).
 * With the auth hook, a token session is still its user's; any other is its credential's
 * (hook_auth_owner: the auth's hash), since who a hook sign-in is is known only once the hook
 * answers, after this is asked. Whoever presents the same auth gets the session back, and the
 * hook is asked again once it is back (chat_recovered), so that a credential revoked meanwhile
 * loses it. */
static int chat_session_owner(sio_server_t *sio, const char *auth, size_t auth_len, sbuf_t *owner)
{
    chat_t *ch = sio_server_app_state(sio);
    if (chat_hooks_has_auth(ch->hooks))
        return token_signs_in(ch, auth, auth_len, owner) ? 0
                                                         : hook_auth_owner(auth, auth_len, owner);
    sbuf_t name = SBUF_INIT;
    const char *why = chat_identity_resolve(&ch->identity, auth, auth_len, owner, &name);
    sbuf_free(&name);
    return why ? -1 : 0;
}

static void presence_user(sio_socket_t *s, chat_member_t *m, int delta, int quiet);
static void join_signed_in_rooms(sio_socket_t *s, chat_member_t *m);

static void chat_connected(sio_socket_t *s, const char *auth, size_t auth_len)
{
    (void)auth;
    (void)auth_len;
    chat_member_t *m = sio_socket_data(s);
    sbuf_t room = SBUF_INIT;
    sbuf_printf(&room, CHAT_USER_ROOM_PREFIX "%s", m->user_id);
    sio_join(s, room.data, room.len);
    sbuf_free(&room);
    presence_user(s, m, +1, 0);
    join_signed_in_rooms(s, m);
}

/* ---- history ---- */

/* Answers a history (or join) request with messages (borrowed; NULL: unavailable). */
static void history_answer(void *ud, json_t *messages)
{
    wait_t *w = ud;
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
    wait_free(w);
}

/* Reads a page of w->room's messages, before (exclusive; NULL: the newest), limit, and
 * answers w with it. */
static void history_read(wait_t *w, const char *before, long limit)
{
    chat_t *ch = w->ch;
    sbuf_t k = SBUF_INIT;
    chat_key_room(&k, ch->core->redis_key, w->room, strlen(w->room));
    if (ch->storage->page(ch->storage, k.data, k.len, w->room, before, limit, history_answer, w) <
        0) {
        sio_socket_t *s = wait_socket(w);
        if (s) ack_err(s, w->ack_id, "internal", "history is unavailable");
        wait_free(w);
    }
    sbuf_free(&k);
}

/* ---- join and leave ---- */

/* A user's presence in a room changed on this node: record it, and tell the room when the
 * user arrived in it (or left it) cluster-wide. A join answers its client afterwards. */
typedef struct {
    chat_t *ch;
    sio_nsp_t *nsp;
    char *room, *user_id, *user_name;
    int arrived; /* 1: first local socket; 0: last local socket gone; -1: no change here */
    int quiet;   /* a session moving between nodes: the room is told nothing */
    wait_t *w;   /* the joining client, or NULL */
} change_t;

/* Records the events of a change from the room's hash as the change left it (all: every
 * entry, those of nodes not alive included, so that pruning them later makes the events they
 * still owe: chat_store.h, presence). */
static void record_change(change_t *c, json_t *all)
{
    size_t user = 0, i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        if (strcmp(json_string_value(json_array_get(e, 1)), c->user_id) == 0) user++;
    }
    chat_presence_event_t ev[2];
    size_t n = chat_presence_events(c->room, strlen(c->room), c->user_id, c->user_name, c->arrived,
                                    user, json_array_size(all), ev);
    for (size_t k = 0; k < n; k++) {
        events_record(c->ch->events, ev[k].type, ev[k].data);
        json_decref(ev[k].data);
    }
}

static void on_change_presence(void *ud, json_t *live, json_t *all)
{
    change_t *c = ud;
    str_t room = {c->room, strlen(c->room)};
    if (all && c->arrived >= 0 && !c->quiet) record_change(c, all);
    if (live && c->arrived >= 0 && !c->quiet && !chat_is_user_room(c->room, room.len) &&
        chat_presence_other_nodes(&c->ch->presence, live, c->user_id) == 0) {
        json_t *ev = json_pack("{s:s,s:{s:s,s:s}}", "room", c->room, "user", "id", c->user_id,
                               "name", c->user_name);
        emit_to(c->nsp, &room, 1, NULL, 0, c->arrived ? "joined" : "left", ev, 0, NULL);
        json_decref(ev);
    }
    if (c->w) {
        json_t *users =
            live ? chat_presence_users(live, (size_t)c->ch->cfg->max_members) : json_array();
        c->w->extra = json_dumps(users, JSON_COMPACT);
        json_decref(users);
        history_read(c->w, NULL, (long)c->ch->cfg->history_page);
    }
    free(c->room);
    free(c->user_id);
    free(c->user_name);
    free(c);
}

/* Updates the local count for m in room by delta and follows up as on_change_presence. */
static void presence_change(chat_t *ch, sio_nsp_t *nsp, const char *room, size_t rlen,
                            const chat_member_t *m, int delta, wait_t *w, int quiet)
{
    long n = chat_presence_count(&ch->presence, room, rlen, m->user_id, delta);
    int arrived = -1;
    if (delta > 0 && n == 1) arrived = 1;
    if (delta < 0 && n == 0) arrived = 0;
    if (arrived < 0 && !w) return;
    change_t *c = xcalloc(1, sizeof *c);
    c->ch = ch;
    c->nsp = nsp;
    c->room = xstrndup(room, rlen);
    c->user_id = xstrdup(m->user_id);
    c->user_name = xstrdup(m->user_name);
    c->arrived = arrived;
    c->quiet = quiet;
    c->w = w;
    if (arrived >= 0)
        chat_presence_change(&ch->presence, room, rlen, m->user_id, m->user_name, arrived,
                             on_change_presence, c);
    else
        chat_presence_read(&ch->presence, room, rlen, 0, on_change_presence, c);
}

/* The presence of a user in its own room says where the user is signed in, for the
 * user_online and user_offline events: kept only while events are recorded in a cluster. */
static int tracks_users(const chat_t *ch)
{
    return chat_presence_shared(&ch->presence) && ch->core->events_max_len > 0;
}

/* Applies delta to m's presence in its own room (see tracks_users). */
static void presence_user(sio_socket_t *s, chat_member_t *m, int delta, int quiet)
{
    chat_t *ch = chat_of(s);
    if (!tracks_users(ch)) return;
    sbuf_t room = SBUF_INIT;
    sbuf_printf(&room, CHAT_USER_ROOM_PREFIX "%s", m->user_id);
    presence_change(ch, sio_socket_nsp(s), room.data, room.len, m, delta, NULL, quiet);
    sbuf_free(&room);
}

static void do_join(chat_t *ch, sio_socket_t *s, chat_member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (bad_room(s, ack_id, room, rlen)) return;
    wait_t *w = wait_new(s, ack_id);
    w->room = xstrndup(room, rlen);
    w->kind = AFTER_JOIN;
    if (in_room(s, room, rlen)) { /* joined already: the same answer again */
        presence_change(ch, sio_socket_nsp(s), room, rlen, m, 0, w, 0);
        return;
    }
    if (m->rooms >= (uint32_t)ch->cfg->max_rooms) {
        ack_err(s, ack_id, "bad_request", "too many rooms");
        wait_free(w);
        return;
    }
    sio_join(s, room, rlen);
    m->rooms++;
    presence_change(ch, sio_socket_nsp(s), room, rlen, m, +1, w, 0);
}

/* The rooms the auth hook named for m, joined as a join would (no answer to send; a room
 * past --max-rooms is left out). */
static void join_signed_in_rooms(sio_socket_t *s, chat_member_t *m)
{
    chat_t *ch = chat_of(s);
    chat_member_hook_t *h = m->hook;
    if (!h) return;
    for (uint32_t i = 0; i < h->njoin; i++) {
        const char *room = h->join[i];
        size_t rlen = strlen(room);
        if (!in_room(s, room, rlen) && m->rooms < (uint32_t)ch->cfg->max_rooms) {
            sio_join(s, room, rlen);
            m->rooms++;
            presence_change(ch, sio_socket_nsp(s), room, rlen, m, +1, NULL, 0);
        }
        free(h->join[i]);
    }
    free(h->join);
    h->join = NULL;
    h->njoin = 0;
    if (!h->data) {
        free(h);
        m->hook = NULL;
    }
}

static void do_leave(chat_t *ch, sio_socket_t *s, chat_member_t *m, json_t *arg, int64_t ack_id)
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
    presence_change(ch, sio_socket_nsp(s), room, rlen, m, -1, NULL, 0);
    ack_ok(s, ack_id);
}

/* ---- messages ---- */

enum { MSG_ROOM = 1, MSG_PRIVATE };

/* A message being stored: delivered and answered once it is. */
typedef struct {
    wait_t *w;
    int kind;
    char *target; /* room, or the recipient's user id */
    char *text;
    size_t text_len;
    char *from_id, *from_name;
    char *cid; /* the client's message id, or NULL */
    char *id;  /* once stored: its id, time, and whether the replicas confirmed it */
    json_int_t ts;
    int confirmed;
    int again; /* a retry of a message stored before */
} store_t;

static void store_free(store_t *st)
{
    free(st->target);
    free(st->text);
    free(st->cid);
    free(st->id);
    free(st->from_id);
    free(st->from_name);
    free(st);
}

/* The event of st's stored message: {room | to, message: {id, from, text, ts}} (the cluster's
 * events, webhooks among them). */
static void record_stored(store_t *st)
{
    json_t *ev =
        json_pack("{s:s,s:{s:s,s:{s:s,s:s},s:s,s:I}}", st->kind == MSG_ROOM ? "room" : "to",
                  st->target, "message", "id", st->id, "from", "id", st->from_id, "name",
                  st->from_name, "text", st->text, "ts", st->ts);
    if (ev)
        events_record(st->w->ch->events,
                      st->kind == MSG_ROOM ? CLUSTER_EVENT_MESSAGE : CLUSTER_EVENT_PRIVATE_MESSAGE,
                      ev);
    json_decref(ev);
}

/* The delivery of st's message is settled (an SIO_ONCE_* result): a retry delivered now is
 * recorded as its first send would have been; the sender is answered. */
static void on_delivered(void *ud, int result)
{
    store_t *st = ud;
    wait_t *w = st->w;
    if (st->again && result == SIO_ONCE_SENT) record_stored(st);
    sio_socket_t *s = wait_socket(w);
    if (s && !st->confirmed)
        ack_err(s, w->ack_id, "internal", "the message could not be stored; send it again");
    else if (s && result == SIO_ONCE_FAILED)
        ack_err(s, w->ack_id, "internal", "the message could not be delivered now; send it again");
    else if (s)
        ack_ok_with(s, w->ack_id, json_pack("{s:s,s:I}", "id", st->id, "ts", st->ts));
    wait_free(w);
    store_free(st);
}

/* Takes what a retry's message was stored with (its text and sender's name then): a retry is
 * delivered as the history has it. */
static void take_stored(store_t *st, json_t *stored)
{
    const char *text = json_string_value(json_object_get(stored, "text"));
    const char *name = json_string_value(json_object_get(json_object_get(stored, "from"), "name"));
    if (text) {
        free(st->text);
        st->text_len = json_string_length(json_object_get(stored, "text"));
        st->text = xmemdup(text, st->text_len + 1);
    }
    if (name) {
        free(st->from_name);
        st->from_name = xstrdup(name);
    }
}

/* The message is stored under id (fresh: just now; else a retry of one stored before, stored
 * as it was kept): delivered, then its sender answered once the delivery is settled (in a
 * cluster, once the recovery log has it: an answered sender knows every recipient will get
 * it). A retry is delivered only if its first delivery never happened: the node that stored
 * it may have died before. id NULL: it could not be stored. Not confirmed (stored, not yet on
 * the replicas --store-replicas asks for): it is delivered, and the sender gets the error that
 * makes it send again. */
static void on_stored(void *ud, const char *id, int fresh, int confirmed, json_t *stored)
{
    store_t *st = ud;
    wait_t *w = st->w;
    if (!id) {
        sio_socket_t *s = wait_socket(w);
        if (s) ack_err(s, w->ack_id, "internal", "the message could not be stored; send it again");
        wait_free(w);
        store_free(st);
        return;
    }
    st->id = xstrdup(id);
    st->ts = (json_int_t)strtoll(id, NULL, 10);
    st->confirmed = confirmed;
    st->again = !fresh;
    if (fresh) {
        record_stored(st);
    } else if (stored) {
        take_stored(st, stored);
    } else { /* gone from the history: too old to deliver again */
        on_delivered(st, SIO_ONCE_SENT_BEFORE);
        return;
    }
    json_t *msg = json_pack("{s:s,s:{s:s,s:s},s:s,s:I,s:s}", "id", id, "from", "id", st->from_id,
                            "name", st->from_name, "text", st->text, "ts", st->ts,
                            st->kind == MSG_ROOM ? "room" : "to", st->target);
    /* the item's name among the packets to its rooms: its id is unique in its history stream,
     * and a user's room takes the messages of every conversation of the user */
    sbuf_t token = SBUF_INIT;
    sbuf_printf(&token, "%s %s", id, st->from_id);
    sio_once_t once = {token.data, token.len,    st->ts > 0 ? (uint64_t)st->ts : 0,
                       !fresh,     on_delivered, st};
    if (st->kind == MSG_ROOM) {
        str_t room = {st->target, strlen(st->target)};
        emit_to(w->nsp, &room, 1, NULL, 0, "message", msg, 0, &once);
    } else {
        sbuf_t to = SBUF_INIT, me = SBUF_INIT;
        sbuf_printf(&to, CHAT_USER_ROOM_PREFIX "%s", st->target);
        sbuf_printf(&me, CHAT_USER_ROOM_PREFIX "%s", st->from_id);
        str_t rooms[2] = {{to.data, to.len}, {me.data, me.len}};
        str_t except = {w->sid, strlen(w->sid)};
        emit_to(w->nsp, rooms, 2, &except, 1, "private", msg, 0, &once);
        sbuf_free(&to);
        sbuf_free(&me);
    }
    sbuf_free(&token);
    json_decref(msg);
}

/* Stores st's message (then on_stored delivers it and answers its sender). */
static void store_message(store_t *st)
{
    chat_t *ch = st->w->ch;
    const char *prefix = ch->core->redis_key;
    size_t tlen = strlen(st->target), from_len = strlen(st->from_id);
    sbuf_t stream = SBUF_INIT, dedupe = SBUF_INIT;
    if (st->kind == MSG_ROOM)
        chat_key_room(&stream, prefix, st->target, tlen);
    else
        chat_key_dm(&stream, prefix, st->from_id, from_len, st->target, tlen);
    if (st->cid)
        chat_key_dedupe(&dedupe, prefix, stream.data, stream.len, st->from_id, from_len, st->cid,
                        strlen(st->cid));
    chat_storage_msg_t msg = {
        .stream = stream.data,
        .stream_len = stream.len,
        .dedupe = st->cid ? dedupe.data : NULL,
        .dedupe_len = dedupe.len,
        .from = st->from_id,
        .from_len = from_len,
        .name = st->from_name,
        .name_len = strlen(st->from_name),
        .text = st->text,
        .text_len = st->text_len,
        .to = st->kind == MSG_PRIVATE ? st->target : NULL,
        .to_len = tlen,
    };
    int rc = ch->storage->store(ch->storage, &msg, on_stored, st);
    if (rc < 0) {
        sio_socket_t *s = wait_socket(st->w);
        if (s)
            ack_err(s, st->w->ack_id, "internal",
                    rc == CHAT_STORAGE_EENCODE ? "the message cannot be encoded"
                                               : "storage is unavailable; send it again");
        wait_free(st->w);
        store_free(st);
    }
    sbuf_free(&stream);
    sbuf_free(&dedupe);
}

/* The publish hook's verdict on st's message (NULL: the hooks are closing). Accepted or
 * rewritten, it is stored; refused, its sender's ack says why and nothing is stored. With no
 * usable answer, --publish-hook-fallback decides. */
static void on_publish_verdict(void *ud, const hook_publish_t *a)
{
    store_t *st = ud;
    if (!a) {
        wait_free(st->w);
        store_free(st);
        return;
    }
    hook_verdict_t v = a->verdict;
    if (v == HOOK_UNAVAILABLE)
        v = chat_hooks_publish_fallback_accept(st->w->ch->hooks) ? HOOK_ACCEPT : HOOK_REFUSE;
    if (v == HOOK_REWRITE) {
        free(st->text);
        st->text = xmemdup(a->text, a->text_len + 1);
        st->text_len = a->text_len;
    }
    if (v != HOOK_REFUSE) {
        store_message(st);
        return;
    }
    sio_socket_t *s = wait_socket(st->w);
    if (s && a->verdict == HOOK_REFUSE)
        ack_err(s, st->w->ack_id, a->code, a->message);
    else if (s)
        ack_err(s, st->w->ack_id, "unavailable",
                "the message cannot be checked now; send it again");
    wait_free(st->w);
    store_free(st);
}

static void do_message(chat_t *ch, sio_socket_t *s, chat_member_t *m, json_t *arg, int64_t ack_id,
                       int kind)
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
    if (!text || textlen == 0 || textlen > (size_t)ch->cfg->max_text) {
        char msg[96];
        snprintf(msg, sizeof msg, "text must be a string of 1 to %lld bytes", ch->cfg->max_text);
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
    store_t *st = xcalloc(1, sizeof *st);
    st->w = wait_new(s, ack_id);
    st->kind = kind;
    st->target = xstrndup(target, tlen);
    st->text = xstrndup(text, textlen);
    st->text_len = textlen;
    st->from_id = xstrdup(m->user_id);
    st->from_name = xstrdup(m->user_name);
    st->cid = cid ? xstrndup(cid, idlen) : NULL;
    if (!chat_hooks_has_publish(ch->hooks)) {
        store_message(st);
        return;
    }
    chat_hooks_msg_t hm = {
        .private_msg = kind == MSG_PRIVATE,
        .sid = sio_socket_id(s),
        .target = st->target,
        .from_id = st->from_id,
        .from_name = st->from_name,
        .text = st->text,
        .text_len = st->text_len,
    };
    chat_hooks_publish(ch->hooks, &hm, on_publish_verdict, st);
}

/* ---- the rest of the events ---- */

static void do_typing(sio_socket_t *s, chat_member_t *m, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    if (!room || chat_check_room(room, rlen) != 0 || !in_room(s, room, rlen)) {
        ack_err(s, ack_id, "bad_request", "typing needs a room you are in");
        return;
    }
    json_t *ev = json_pack("{s:s%,s:o}", "room", room, rlen, "user", user_json(m));
    str_t r = {room, rlen}, me = {sio_socket_id(s), strlen(sio_socket_id(s))};
    emit_to(sio_socket_nsp(s), &r, 1, &me, 1, "typing", ev, SIO_VOLATILE, NULL);
    json_decref(ev);
    ack_ok(s, ack_id);
}

static void do_history(chat_t *ch, sio_socket_t *s, json_t *arg, int64_t ack_id)
{
    size_t rlen;
    const char *room = field_string(arg, "room", &rlen);
    json_t *jb = json_object_get(arg, "before"), *jl = json_object_get(arg, "limit");
    long limit = json_is_integer(jl) ? (long)json_integer_value(jl) : (long)ch->cfg->history_page;
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

static void on_members(void *ud, json_t *live, json_t *all)
{
    (void)all;
    wait_t *w = ud;
    sio_socket_t *s = wait_socket(w);
    if (s) {
        if (!live)
            ack_err(s, w->ack_id, "internal", "presence is unavailable");
        else
            ack_ok_with(s, w->ack_id,
                        json_pack("{s:o}", "users",
                                  chat_presence_users(live, (size_t)w->ch->cfg->max_members)));
    }
    wait_free(w);
}

static void do_members(chat_t *ch, sio_socket_t *s, json_t *arg, int64_t ack_id)
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
    chat_presence_read(&ch->presence, room, rlen, (size_t)ch->cfg->max_members, on_members,
                       wait_new(s, ack_id));
}

/* A token bucket per socket: --rate events per second, bursts of --burst. */
static int allowed(const chat_t *ch, chat_member_t *m)
{
    uint64_t now = now_ms();
    m->tokens += (double)(now - m->last_ms) * (double)ch->cfg->rate / 1000.0;
    if (m->tokens > (double)ch->cfg->burst) m->tokens = (double)ch->cfg->burst;
    m->last_ms = now;
    if (m->tokens < 1.0) return 0;
    m->tokens -= 1.0;
    return 1;
}

#define IS(ev, lit)                                                                                \
    ((ev)->name_len == sizeof(lit) - 1 && memcmp((ev)->name, lit, sizeof(lit) - 1) == 0)

static void chat_event(sio_socket_t *s, const sio_event_t *ev)
{
    chat_t *ch = chat_of(s);
    chat_member_t *m = sio_socket_data(s);
    if (!ev->name || !m) return;
    if (!allowed(ch, m)) {
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
        do_join(ch, s, m, arg, ev->ack_id);
    } else if (IS(ev, "leave")) {
        do_leave(ch, s, m, arg, ev->ack_id);
    } else if (IS(ev, "message")) {
        do_message(ch, s, m, arg, ev->ack_id, MSG_ROOM);
    } else if (IS(ev, "private")) {
        do_message(ch, s, m, arg, ev->ack_id, MSG_PRIVATE);
    } else if (IS(ev, "typing")) {
        do_typing(s, m, arg, ev->ack_id);
    } else if (IS(ev, "history")) {
        do_history(ch, s, arg, ev->ack_id);
    } else if (IS(ev, "members")) {
        do_members(ch, s, arg, ev->ack_id);
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
        chat_is_user_room(room, len))
        return;
    l->rooms = xrealloc(l->rooms, (l->n + 1) * sizeof *l->rooms);
    l->rooms[l->n++] = xstrndup(room, len);
}

/* Applies delta to m's presence in every chat room of s (quiet: the rooms are told nothing). */
static void presence_all(sio_socket_t *s, chat_member_t *m, int delta, int quiet)
{
    chat_t *ch = chat_of(s);
    if (!chat_presence_shared(&ch->presence)) return;
    room_list_t l = {NULL, 0, sio_socket_id(s)};
    sio_socket_rooms(s, collect_chat_room, &l);
    for (size_t i = 0; i < l.n; i++) {
        presence_change(ch, sio_socket_nsp(s), l.rooms[i], strlen(l.rooms[i]), m, delta, NULL,
                        quiet);
        free(l.rooms[i]);
    }
    free(l.rooms);
}

/* A session kept on another node comes back here: its member from the socket data that node
 * wrote ({user: {id, name}, data?}), its rooms as they were. */
static int chat_restore(sio_socket_t *s, const char *data, size_t len)
{
    json_t *d = json_loadb(data, len, 0, NULL);
    size_t idlen, namelen;
    json_t *u = json_object_get(d, "user"), *hd = json_object_get(d, "data");
    const char *id = field_string(u, "id", &idlen);
    const char *name = field_string(u, "name", &namelen);
    if (!id || !name) {
        json_decref(d);
        return -1;
    }
    chat_member_t *m = member_new(chat_of(s), id, idlen, name, namelen);
    if (json_is_object(hd))
        member_hook(m)->data = json_dumps(hd, JSON_COMPACT); /* the auth hook's */
    json_decref(d);
    sio_socket_set_data(s, m);
    return 0;
}

/* Was s signed in by the auth hook (its session owned by its credential)? */
static int hook_session(const sio_socket_t *s)
{
    const char *owner = sio_socket_owner(s);
    return owner && strncmp(owner, HOOK_OWNER_PREFIX, HOOK_OWNER_PREFIX_LEN) == 0;
}

/* Ends s for a re-check that no longer admits its user: the client is told as a kick tells it,
 * kicked {reason, code}, then disconnected from the namespace ("io server disconnect": it does
 * not reconnect by itself, and the session is not kept). */
static void end_revoked(sio_socket_t *s, const char *reason, const char *code)
{
    json_t *arg = json_pack("{s:s,s:s}", "reason", reason, "code", code);
    char *text = arg ? json_dumps(arg, JSON_COMPACT) : NULL;
    json_decref(arg);
    log_info("restored session revoked", "sid=%s code=%s", sio_socket_id(s), code);
    if (text) {
        /* delivered here and now: an emit logged through the cluster's store would come back
         * after the disconnect below, to a socket gone */
        sbuf_t data = SBUF_INIT;
        sbuf_printf(&data, "[\"kicked\",%s]", text);
        str_t self = {sio_socket_id(s), strlen(sio_socket_id(s))};
        sio_deliver(sio_socket_nsp(s), &self, 1, NULL, 0, data.data, data.len, NULL, 0, 0);
        sbuf_free(&data);
    }
    free(text);
    sio_disconnect(s);
}

/* What the auth hook's answer a to a restored session's re-check makes of s (auth: the
 * CONNECT's): kept while the hook admits the same user; ended when it refuses or names another
 * user. No usable answer follows --auth-hook-fallback: refuse ends it, jwt keeps it only when
 * the auth signs in by token or as a guest as the same user. */
static void recheck_apply(chat_t *ch, sio_socket_t *s, const hook_auth_t *a, const char *auth,
                          size_t auth_len)
{
    const chat_member_t *m = sio_socket_data(s);
    if (!m) return;
    if (a->verdict == HOOK_REFUSE) {
        end_revoked(s, a->message, a->code ? a->code : "refused");
        return;
    }
    if (a->verdict == HOOK_ADMIT) {
        if (strcmp(a->id, m->user_id) != 0)
            end_revoked(s, "signed in as another user", "user_changed");
        return;
    }
    if (chat_hooks_auth_fallback_jwt(ch->hooks)) {
        sbuf_t id = SBUF_INIT, name = SBUF_INIT;
        const char *why = chat_identity_resolve(&ch->identity, auth, auth_len, &id, &name);
        int same = !why && id.len == strlen(m->user_id) && memcmp(id.data, m->user_id, id.len) == 0;
        sbuf_free(&id);
        sbuf_free(&name);
        if (same) return;
    }
    end_revoked(s, "sign-in unavailable", "unavailable");
}

/* A restored session's re-check waiting for the hook; the socket may be gone by then. */
typedef struct {
    chat_t *ch;
    sio_nsp_t *nsp;
    char sid[32];
    char *auth; /* the CONNECT's, for the fallback */
    size_t auth_len;
} recheck_t;

static void recheck_free(recheck_t *r)
{
    free(r->auth);
    free(r);
}

/* The hook answered a re-check (NULL: the hooks are closing). A socket gone meanwhile is kept
 * or over: if it comes back, it is asked about again. */
static void on_recheck(void *ud, const hook_auth_t *a)
{
    recheck_t *r = ud;
    sio_socket_t *s = a ? sio_socket_find(r->nsp, r->sid, strlen(r->sid)) : NULL;
    if (s) recheck_apply(r->ch, s, a, r->auth, r->auth_len);
    recheck_free(r);
}

/* Asks the auth hook about a restored hook session's auth again, as for its CONNECT (the cache
 * applies). Meanwhile the socket works as any other: a revoked credential keeps a restored
 * session for at most --auth-hook-timeout-ms. */
static void recheck(sio_socket_t *s, const char *auth, size_t auth_len)
{
    chat_t *ch = chat_of(s);
    recheck_t *r = xcalloc(1, sizeof *r);
    r->ch = ch;
    r->nsp = sio_socket_nsp(s);
    snprintf(r->sid, sizeof r->sid, "%s", sio_socket_id(s));
    r->auth = xmemdup(auth, auth_len);
    r->auth_len = auth_len;
    hook_auth_t a;
    if (chat_hooks_auth_check(ch->hooks, s, auth, auth_len, on_recheck, r, &a) == 0) return;
    recheck_apply(ch, s, &a, auth, auth_len);
    hook_auth_free(&a);
    recheck_free(r);
}

/* A session back: from another node, this node now holds the user's presence in its rooms
 * (quietly: to the rooms the user never left); from this node, nothing changed. Either way, a
 * session the auth hook signed in is checked with the hook again (recheck). */
static void chat_recovered(sio_socket_t *s, const char *auth, size_t auth_len, int moved)
{
    chat_member_t *m = sio_socket_data(s);
    if (!m) return;
    if (moved) {
        room_list_t l = {NULL, 0, sio_socket_id(s)};
        sio_socket_rooms(s, collect_chat_room, &l);
        m->rooms = (uint32_t)l.n;
        for (size_t i = 0; i < l.n; i++) free(l.rooms[i]);
        free(l.rooms);
        presence_all(s, m, +1, 1);
        presence_user(s, m, +1, 1);
    }
    if (chat_hooks_has_auth(chat_of(s)->hooks) && hook_session(s)) recheck(s, auth, auth_len);
}

static void chat_disconnect(sio_socket_t *s, const char *reason)
{
    chat_t *ch = chat_of(s);
    chat_member_t *m = sio_socket_data(s);
    if (!m) return;
    /* Alone, a room's presence is read from its live sockets: a departure is not told. A
     * session that moved to another node is there now: its rooms are told nothing. */
    if (chat_presence_shared(&ch->presence)) {
        room_list_t l = {NULL, 0, sio_socket_id(s)};
        sio_socket_rooms(s, collect_chat_room, &l);
        int moved = strcmp(reason, SIO_REASON_MOVED) == 0;
        for (size_t i = 0; i < l.n; i++) {
            presence_change(ch, sio_socket_nsp(s), l.rooms[i], strlen(l.rooms[i]), m, -1, NULL,
                            moved);
            free(l.rooms[i]);
        }
        free(l.rooms);
        presence_user(s, m, -1, moved);
    }
    member_free(m);
    sio_socket_set_data(s, NULL);
}

/* Redis is (back) up: this node's liveness key and its sockets' presence entries again, for
 * a Redis restarted without its data. Entries that survived are written with the same value. */
static void chat_cluster_connected(void *state)
{
    chat_t *ch = state;
    if (!ch || !chat_presence_shared(&ch->presence)) return;
    sio_nsp_t *nsp = sio_nsp_find(ch->sio, "/", 1);
    if (!nsp) return;
    chat_presence_refresh(&ch->presence);
    sio_socket_t **all = NULL;
    size_t n = sio_select(nsp, NULL, 0, NULL, 0, &all), entries = 0;
    for (size_t i = 0; i < n; i++) {
        chat_member_t *m = sio_socket_data(all[i]);
        if (!m) continue;
        room_list_t l = {NULL, 0, sio_socket_id(all[i])};
        sio_socket_rooms(all[i], collect_chat_room, &l);
        for (size_t r = 0; r < l.n; r++) {
            chat_presence_rewrite(&ch->presence, l.rooms[r], strlen(l.rooms[r]), m->user_id,
                                  m->user_name);
            free(l.rooms[r]);
            entries++;
        }
        free(l.rooms);
        if (tracks_users(ch)) {
            sbuf_t room = SBUF_INIT;
            sbuf_printf(&room, CHAT_USER_ROOM_PREFIX "%s", m->user_id);
            chat_presence_rewrite(&ch->presence, room.data, room.len, m->user_id, m->user_name);
            sbuf_free(&room);
            entries++;
        }
    }
    free(all);
    if (entries) log_info("presence written again", "sockets=%zu entries=%zu", n, entries);
}

/* What fetch-sockets answers carry of a chat socket: {user: {id, name}}. */
static int chat_store_limits(void *state, chat_store_limits_t *out)
{
    const chat_t *ch = state;
    if (!ch) return 0;
    out->history_size = ch->cfg->history_size;
    out->history_ttl = ch->cfg->history_ttl;
    out->max_text = ch->cfg->max_text;
    return 1;
}

static void chat_socket_data(const sio_socket_t *s, sbuf_t *json)
{
    const chat_member_t *m = sio_socket_data(s);
    if (!m) return;
    json_t *d = json_pack("{s:o}", "user", user_json(m));
    /* the auth hook's data for the user, as the application gave it */
    json_t *hd = m->hook && m->hook->data ? json_loads(m->hook->data, 0, NULL) : NULL;
    if (d && hd)
        json_object_set_new(d, "data", hd);
    else
        json_decref(hd);
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    if (text) sbuf_append_str(json, text); /* else {}: nothing of the user */
    free(text);
    json_decref(d);
}

/* ---- the module ---- */

/* Every --presence-ttl / 3: this node's liveness, and old messages out of the storage. */
static void on_tick(uv_timer_t *t)
{
    chat_t *ch = t->data;
    chat_presence_refresh(&ch->presence);
    ch->storage->prune(ch->storage);
}

/* The events entries of dead nodes owed when this node removed them. */
static void record_pruned(void *ud, cluster_event_type_t type, json_t *data)
{
    chat_t *ch = ud;
    events_record(ch->events, type, data);
}

/* *state holds the chat's settings (chat_config_t) on entry, the chat_t on return. */
static int chat_init(server_t *srv, sio_server_t *sio, void **state)
{
    const chat_config_t *cfg = *state;
    char err[256];
    int shared = srv->cfg->redis && *srv->cfg->redis;
    if (!cfg || !sio) {
        log_error("the chat needs its settings and Socket.IO", NULL);
        return -1;
    }
    if (!shared)
        log_warn("running alone: chat messages are kept in memory, lost on restart (give --redis)",
                 NULL);
    chat_t *ch = xcalloc(1, sizeof *ch);
    if (chat_identity_init(&ch->identity, cfg, err, sizeof err) < 0) {
        log_error("cannot load the token secret", "error=\"%s\"", err);
        free(ch);
        return -1;
    }
    if (chat_hooks_new(&ch->hooks, srv, sio, cfg, err, sizeof err) < 0) {
        log_error("cannot start the hooks", "error=\"%s\"", err);
        chat_identity_free(&ch->identity);
        free(ch);
        return -1;
    }
    if (!ch->identity.secret && !cfg->allow_anonymous && !chat_hooks_has_auth(ch->hooks))
        log_warn("no token secret and no --allow-anonymous: every connection will be refused",
                 NULL);
    ch->srv = srv;
    ch->sio = sio;
    ch->core = srv->cfg;
    ch->cfg = cfg;
    chat_storage_limits_t limits = {cfg->history_size, cfg->history_ttl};
    chat_storage_replicas_t replicas = {(unsigned)cfg->store_replicas,
                                        (uint32_t)cfg->store_replicas_timeout};
    ch->storage =
        shared ? chat_storage_redis_new(sio, &limits, &replicas) : chat_storage_memory_new(&limits);
    chat_presence_init(&ch->presence, sio, srv->cfg->redis_key, cfg->presence_ttl, shared);
    ch->presence.record = record_pruned;
    ch->presence.record_ud = ch;
    ch->events = events_new(srv->loop, sio, srv->cfg);
    uv_timer_init(srv->loop, &ch->tick);
    ch->tick.data = ch;
    uint64_t every = (uint64_t)cfg->presence_ttl * 1000 / 3;
    uv_timer_start(&ch->tick, on_tick, 50, every ? every : 1000);
    const char *const *names;
    size_t nnames = chat_hooks_header_names(ch->hooks, &names);
    if (nnames) server_keep_headers(srv, names, nnames);
    *state = ch;
    return 0;
}

static void free_chat(uv_handle_t *h)
{
    chat_t *ch = h->data;
    chat_presence_free(&ch->presence);
    ch->storage->free(ch->storage);
    chat_identity_free(&ch->identity);
    free(ch);
}

static void chat_destroy(void *state)
{
    chat_t *ch = state;
    if (!ch) return;
    chat_hooks_close(ch->hooks);
    ch->hooks = NULL;
    events_free(ch->events);
    ch->events = NULL;
    uv_close((uv_handle_t *)&ch->tick, free_chat);
}

static void chat_health(void *state, sbuf_t *json)
{
    const chat_t *ch = state;
    if (ch) chat_hooks_health(ch->hooks, json);
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
    .settings = &chat_config_settings,
    .init = chat_init,
    .destroy = chat_destroy,
    .namespaces = chat_namespaces,
    .serves = chat_serves,
    .connect = chat_connect,
    .connect_abandoned = chat_connect_abandoned,
    .connected = chat_connected,
    .event = chat_event,
    .session_owner = chat_session_owner,
    .restore = chat_restore,
    .recovered = chat_recovered,
    .disconnect = chat_disconnect,
    .socket_data = chat_socket_data,
    .cluster_connected = chat_cluster_connected,
    .store_limits = chat_store_limits,
    .health = chat_health,
};
