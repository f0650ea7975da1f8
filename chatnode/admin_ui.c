/* The Socket.IO Admin UI's /admin namespace (see admin_ui.h). */
#include "admin_ui.h"
#include "alloc.h"
#include "cluster.h"
#include "eio_session.h"
#include "jtext.h"
#include "log.h"
#include "sha256.h"
#include "utf8.h"

#include <crypt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATS_MS 2000
/* Session ids given out (a reloaded page signs in with one): the newest are kept, a day. */
#define SESSIONS_MAX   256
#define SESSION_TTL_MS (24ull * 3600 * 1000)
/* Password checks (bcrypt, tens of milliseconds of CPU each) running at once; a sign-in past
 * them is refused, so that a flood of them cannot take the thread pool. */
#define CHECKS_MAX 2 /* below libuv's thread pool (4), which DNS lookups share */

static const char invalid_credentials[] = "{\"message\":\"invalid credentials\"}";

typedef struct {
    char id[17];
    uint64_t at;
} session_t;

struct admin_ui {
    server_t *srv;
    sio_server_t *sio;
    const chatnode_config_t *cfg;
    sio_nsp_t *nsp;
    uv_timer_t stats;
    int dev;     /* development mode: the live socket, room and event updates */
    int stopped; /* admin_ui_stop ran */
    int closing; /* the timer is closing */
    struct check *running;
    session_t sessions[SESSIONS_MAX];
    size_t nsessions, next;
    char server_id[64];
    char hostname[256];
    /* the counters at the last stats, for their aggregated events */
    uint64_t opened, bytes_in, bytes_out, events_in, events_out;
    size_t open;
};

typedef struct check {
    uv_work_t req;
    admin_ui_t *ui;
    sio_socket_t *s; /* NULL once its connection went */
    char *user, *password;
    char address[64]; /* the client's: one check at a time per address */
    int ok;
    struct check *next; /* in ui->running */
} check_t;

/* What an admin socket carries. */
typedef struct {
    check_t *check; /* the password check of its pending CONNECT, or NULL */
    int fresh;      /* signed in with the password: it gets a session id */
} admin_sock_t;

static admin_ui_t *ui_of(const sio_socket_t *s)
{
    return sio_nsp_module_state(sio_socket_nsp(s));
}

static void maybe_free(admin_ui_t *ui)
{
    if (ui->stopped && !ui->closing && !ui->running) free(ui);
}

/* ---- time, JSON, emitting ---- */

static uint64_t now_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* A Date as JavaScript's JSON has it: "2026-12-05T23:43:31.122Z". */
static json_t *iso_now(void)
{
    uint64_t ms = now_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03uZ", (unsigned)(ms % 1000));
    return json_string(buf);
}

/* args: a JSON array (stolen) of the event's arguments. */
static void emit_to(sio_socket_t *s, const char *event, json_t *args)
{
    char *text = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    if (!text) return;
    size_t n = strlen(text);
    sio_emit(s, event, strlen(event), text + 1, n - 2, NULL, 0);
    free(text);
}

/* To every admin socket of the cluster. */
static void broadcast(admin_ui_t *ui, const char *event, json_t *args)
{
    char *text = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    if (!text) return;
    size_t n = strlen(text);
    sio_broadcast(ui->nsp, NULL, 0, NULL, 0, event, strlen(event), text + 1, n - 2, NULL, 0, 0);
    free(text);
}

/* ---- sessions ---- */

static int session_known(admin_ui_t *ui, const char *id)
{
    uint64_t now = now_ms();
    if (strlen(id) != sizeof ui->sessions[0].id - 1) return 0;
    int known = 0;
    for (size_t i = 0; i < ui->nsessions; i++)
        known |= ct_equal(ui->sessions[i].id, id, sizeof ui->sessions[i].id - 1) &&
                 now - ui->sessions[i].at < SESSION_TTL_MS;
    return known;
}

static const char *session_new(admin_ui_t *ui)
{
    session_t *s = &ui->sessions[ui->next];
    unsigned char raw[8];
    uv_random(NULL, NULL, raw, sizeof raw, 0, NULL);
    for (size_t i = 0; i < sizeof raw; i++) snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    s->at = now_ms();
    ui->next = (ui->next + 1) % SESSIONS_MAX;
    if (ui->nsessions < SESSIONS_MAX) ui->nsessions++;
    return s->id;
}

/* ---- sign-in ---- */

int admin_ui_hash_valid(const char *h)
{
    static const char alphabet[] =
        "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' ||
        h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
        return 0;
    int cost = (h[4] - '0') * 10 + (h[5] - '0');
    if (cost < 4 || cost > 31) return 0;
    for (size_t i = 7; i < 60; i++)
        if (!strchr(alphabet, h[i]) || !h[i]) return 0;
    return 1;
}

int admin_ui_hash_password(FILE *in, FILE *out)
{
    char line[1024];
    if (!fgets(line, sizeof line, in)) {
        fprintf(stderr, "chatnode: no password on standard input\n");
        return -1;
    }
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) {
        fprintf(stderr, "chatnode: the password is empty\n");
        return -1;
    }
    /* bcrypt reads at most 72 bytes of it, as every implementation does */
    struct crypt_data *d = xcalloc(1, sizeof *d);
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *hash = NULL;
    if (crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt)) hash = crypt_r(line, salt, d);
    int rc = hash && hash[0] == '$' && admin_ui_hash_valid(hash) ? 0 : -1;
    if (rc == 0)
        fprintf(out, "%s\n", hash);
    else
        fprintf(stderr, "chatnode: cannot make a bcrypt hash here\n");
    explicit_bzero(line, sizeof line);
    explicit_bzero(d, sizeof *d);
    free(d);
    return rc;
}

/* In the thread pool: touches nothing but the check. */
static void check_work(uv_work_t *req)
{
    check_t *c = req->data;
    struct crypt_data *d = xcalloc(1, sizeof *d);
    const char *hash = c->ui->cfg->admin_ui_password_hash;
    const char *out = crypt_r(c->password, hash, d);
    /* a user name that is not the one still costs a check, so that timing does not tell */
    c->ok = out && strlen(out) == strlen(hash) && ct_equal(out, hash, strlen(hash)) &&
            strcmp(c->user, c->ui->cfg->admin_ui_user) == 0;
    explicit_bzero(d, sizeof *d);
    free(d);
}

static void check_free(check_t *c)
{
    explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    free(c->user);
    free(c);
}

static void check_done(uv_work_t *req, int status)
{
    check_t *c = req->data;
    admin_ui_t *ui = c->ui;
    for (check_t **p = &ui->running; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    sio_socket_t *s = c->s;
    if (s) {
        admin_sock_t *d = sio_socket_data(s);
        d->check = NULL;
        if (status == 0 && c->ok) {
            d->fresh = 1;
            sio_connect_done(s, NULL, 0);
        } else {
            free(d);
            sio_socket_set_data(s, NULL);
            log_info("admin ui sign-in refused", "reason=\"invalid credentials\"");
            sio_connect_done(s, invalid_credentials, sizeof invalid_credentials - 1);
        }
    }
    check_free(c);
    maybe_free(ui);
}

/* May a password check of that client address start: fewer than CHECKS_MAX run, none of it? */
static int may_check(const admin_ui_t *ui, const char *address)
{
    unsigned n = 0;
    for (const check_t *c = ui->running; c; c = c->next, n++)
        if (strcmp(c->address, address) == 0) return 0;
    return n < CHECKS_MAX;
}

static int admin_connect(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error)
{
    admin_ui_t *ui = ui_of(s);
    const chatnode_config_t *cfg = ui->cfg;
    admin_sock_t *d = xcalloc(1, sizeof *d);
    sio_socket_set_data(s, d);
    if (!cfg->admin_ui_user[0]) return 0; /* no sign-in */
    json_t *a = json_loadb(auth, auth_len, 0, NULL);
    const char *sid = json_string_value(json_object_get(a, "sessionId"));
    const char *user = json_string_value(json_object_get(a, "username"));
    const char *password = json_string_value(json_object_get(a, "password"));
    int rc = -1;
    sio_handshake_t h;
    if (sio_socket_handshake(s, &h) < 0) h.address[0] = 0;
    if (sid && session_known(ui, sid)) {
        rc = 0;
    } else if (user && password && !may_check(ui, h.address)) {
        sbuf_append_str(error, "{\"message\":\"too many sign-ins at once: try again\"}");
    } else if (user && password) {
        check_t *c = xcalloc(1, sizeof *c);
        c->req.data = c;
        c->ui = ui;
        c->s = s;
        c->user = xstrdup(user);
        c->password = xstrdup(password);
        snprintf(c->address, sizeof c->address, "%s", h.address);
        if (uv_queue_work(ui->srv->loop, &c->req, check_work, check_done) == 0) {
            d->check = c;
            c->next = ui->running;
            ui->running = c;
            rc = APP_CONNECT_PENDING;
        } else {
            check_free(c);
            sbuf_append_str(error, invalid_credentials);
        }
    } else {
        sbuf_append_str(error, invalid_credentials);
    }
    json_decref(a);
    if (rc < 0) {
        free(d);
        sio_socket_set_data(s, NULL);
    }
    return rc;
}

static void admin_abandoned(sio_socket_t *s)
{
    admin_sock_t *d = sio_socket_data(s);
    if (d && d->check) d->check->s = NULL;
    free(d);
}

static void admin_disconnect(sio_socket_t *s, const char *reason)
{
    (void)reason;
    free(sio_socket_data(s));
    sio_socket_set_data(s, NULL);
}

/* ---- what the UI is told ---- */

static void add_nsp(sio_nsp_t *nsp, void *arg)
{
    size_t len, sockets, rooms;
    const char *name = sio_nsp_name(nsp, &len);
    sio_nsp_counts(nsp, &sockets, &rooms);
    json_array_append_new(
        arg, json_pack("{s:s%,s:I}", "name", name, len, "socketsCount", (json_int_t)sockets));
}

/* {timestamp, type, count} when count is not 0. */
static void add_count(json_t *list, uint64_t at, const char *type, uint64_t count)
{
    if (count)
        json_array_append_new(list, json_pack("{s:I,s:s,s:I}", "timestamp", (json_int_t)at, "type",
                                              type, "count", (json_int_t)count));
}

/* This node as one server of the UI; its aggregated events are what its counters moved by
 * since the last stats (with advance), or none (an admin's first stats, which must not take
 * them from the others). */
static json_t *server_stats(admin_ui_t *ui, int advance)
{
    eio_server_t *es = server_eio(ui->srv);
    size_t polling = 0, websocket = 0;
    eio_count(es, &polling, &websocket);
    uint64_t opened = eio_server_sessions_opened(es), in = eio_server_bytes_in(es),
             out = eio_server_bytes_out(es), ev_in = sio_server_events_in(ui->sio),
             ev_out = sio_server_events_out(ui->sio);
    size_t open = polling + websocket;
    uint64_t at = now_ms() / 1000 * 1000;
    json_t *agg = json_array();
    if (!advance) goto counted;
    uint64_t new_sessions = opened - ui->opened;
    add_count(agg, at, "rawConnection", new_sessions);
    add_count(agg, at, "rawDisconnection",
              ui->open + new_sessions > open ? ui->open + new_sessions - open : 0);
    add_count(agg, at, "packetsIn", ev_in - ui->events_in);
    add_count(agg, at, "packetsOut", ev_out - ui->events_out);
    add_count(agg, at, "bytesIn", in - ui->bytes_in);
    add_count(agg, at, "bytesOut", out - ui->bytes_out);
    ui->opened = opened;
    ui->open = open;
    ui->bytes_in = in;
    ui->bytes_out = out;
    ui->events_in = ev_in;
    ui->events_out = ev_out;
counted:;
    json_t *nsps = json_array();
    sio_foreach_nsp(ui->sio, add_nsp, nsps);
    double uptime = (double)(uv_now(ui->srv->loop) - ui->srv->started_ms) / 1000.0;
    return json_pack("{s:s,s:s,s:I,s:f,s:I,s:I,s:o,s:o}", "serverId", ui->server_id, "hostname",
                     ui->hostname, "pid", (json_int_t)getpid(), "uptime", uptime, "clientsCount",
                     (json_int_t)open, "pollingClientsCount", (json_int_t)polling,
                     "aggregatedEvents", agg, "namespaces", nsps);
}

static void on_stats(uv_timer_t *t)
{
    admin_ui_t *ui = t->data;
    json_t *stats = server_stats(ui, 1);
    if (stats) broadcast(ui, "server_stats", json_pack("[o]", stats));
}

/* A socket's description (fetchSockets', of this server or another) as the UI's: with its
 * namespace, a client id (the socket id's first 12 characters: a description from another
 * server holds nothing of its connection), and, when it has none, its handshake's transport. */
static void complete_doc(json_t *doc, const char *nsp, size_t len)
{
    json_object_set_new(doc, "nsp", json_stringn(nsp, len));
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id && !json_object_get(doc, "clientId"))
        json_object_set_new(doc, "clientId", json_stringn(id, strnlen(id, 12)));
    json_t *q = json_object_get(json_object_get(doc, "handshake"), "query");
    const char *tr = json_string_value(json_object_get(q, "transport"));
    if (!json_object_get(doc, "transport") && tr)
        json_object_set_new(doc, "transport", json_string(tr));
}

/* A local socket as the UI's SerializedSocket: fetchSockets' description, with its
 * namespace, client and transport (complete_doc). */
static json_t *socket_doc(const sio_socket_t *s)
{
    json_t *doc = cluster_socket_json(s);
    size_t len;
    const char *name = sio_nsp_name(sio_socket_nsp(s), &len);
    json_object_set_new(doc, "nsp", json_stringn(name, len));
    sio_handshake_t h;
    if (sio_socket_handshake(s, &h) == 0)
        json_object_set_new(doc, "transport", json_string(h.transport));
    complete_doc(doc, name, len);
    return doc;
}

/* all_sockets for one admin socket: every namespace's sockets across the cluster, gathered
 * one namespace after another. */
typedef struct {
    admin_ui_t *ui;
    sio_nsp_t *admin_nsp;
    char id[64];
    sio_nsp_t **nsps;
    size_t n, at;
    json_t *all;
} gather_t;

static void gather_next(gather_t *g);

static void gathered(void *ud, const cluster_result_t *r)
{
    gather_t *g = ud;
    size_t len;
    const char *name = sio_nsp_name(g->nsps[g->at], &len);
    size_t i;
    json_t *item;
    json_array_foreach(r->items, i, item)
    {
        json_t *doc = json_deep_copy(item);
        complete_doc(doc, name, len);
        json_array_append_new(g->all, doc);
    }
    g->at++;
    gather_next(g);
}

static void gather_next(gather_t *g)
{
    if (g->at < g->n) {
        cluster_fetch_sockets(cluster_of(g->ui->sio), g->nsps[g->at], NULL, 0, NULL, 0, gathered,
                              g);
        return;
    }
    /* the admin socket may have gone meanwhile */
    sio_socket_t *s = sio_socket_find(g->admin_nsp, g->id, strlen(g->id));
    if (s) emit_to(s, "all_sockets", json_pack("[O]", g->all));
    json_decref(g->all);
    free(g->nsps);
    free(g);
}

static void collect_nsp(sio_nsp_t *nsp, void *arg)
{
    gather_t *g = arg;
    g->nsps = xrealloc(g->nsps, (g->n + 1) * sizeof *g->nsps);
    g->nsps[g->n++] = nsp;
}

static json_t *features(const admin_ui_t *ui)
{
    json_t *f = json_pack("[s,s,s,s,s,s,s,s]", "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN",
                          "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS");
    if (ui->dev) json_array_append_new(f, json_string("ALL_EVENTS"));
    return f;
}

static void admin_connected(sio_socket_t *s, const char *auth, size_t auth_len)
{
    (void)auth;
    (void)auth_len;
    admin_ui_t *ui = ui_of(s);
    admin_sock_t *d = sio_socket_data(s);
    if (d && d->fresh) emit_to(s, "session", json_pack("[s]", session_new(ui)));
    emit_to(s, "config", json_pack("[{s:o}]", "supportedFeatures", features(ui)));
    json_t *stats = server_stats(ui, 0);
    if (stats) emit_to(s, "server_stats", json_pack("[o]", stats));
    if (ui->dev) {
        gather_t *g = xcalloc(1, sizeof *g);
        g->ui = ui;
        g->admin_nsp = sio_socket_nsp(s);
        snprintf(g->id, sizeof g->id, "%s", sio_socket_id(s));
        g->all = json_array();
        sio_foreach_nsp(ui->sio, collect_nsp, g);
        gather_next(g);
    }
}

/* ---- the UI's commands ---- */

/* The namespace named by args[i] (a string), or NULL. */
static sio_nsp_t *nsp_arg(admin_ui_t *ui, json_t *args, size_t i)
{
    const char *name = json_string_value(json_array_get(args, i));
    return name ? sio_nsp_find(ui->sio, name, json_string_length(json_array_get(args, i))) : NULL;
}

/* args[i] as a room (str_t borrowing from args): 1 when it is a non-empty string. */
static int room_arg(json_t *args, size_t i, str_t *out)
{
    json_t *v = json_array_get(args, i);
    if (!json_is_string(v) || !json_string_length(v)) return 0;
    *out = (str_t){json_string_value(v), json_string_length(v)};
    return 1;
}

/* Whether element i of the array text is truthy (JavaScript's rule). */
static int arg_truthy(const sbuf_t *array, int i)
{
    jtext_iter_t it;
    const char *el;
    size_t elen;
    jtext_kind_t kind = JTEXT_INVALID;
    jtext_iter_init(&it, array->data, array->len);
    for (int k = 0; k <= i; k++)
        if (!jtext_array_next(&it, &el, &elen, &kind)) return 0;
    return jtext_truthy(el, elen, kind);
}

static void admin_event(sio_socket_t *s, const sio_event_t *ev)
{
    admin_ui_t *ui = ui_of(s);
    if (!ev->name) return;
    sbuf_t text = SBUF_INIT;
    sbuf_append_char(&text, '[');
    sbuf_append(&text, ev->args, ev->args_len);
    sbuf_append_char(&text, ']');
    json_t *args = json_loadb(text.data, text.len, 0, NULL);
    sio_nsp_t *nsp = nsp_arg(ui, args, 0);
    cluster_t *c = cluster_of(ui->sio);
    str_t room, filter;
    if (!nsp) {
        /* nothing to do: not a namespace of this server */
    } else if (strcmp(ev->name, "join") == 0 || strcmp(ev->name, "leave") == 0) {
        /* (nsp, room, filter?): the sockets in filter (all without one) join or leave room */
        if (room_arg(args, 1, &room)) {
            int some = room_arg(args, 2, &filter);
            if (ev->name[0] == 'j')
                cluster_join(c, nsp, some ? &filter : NULL, some, NULL, 0, &room, 1);
            else
                cluster_leave(c, nsp, some ? &filter : NULL, some, NULL, 0, &room, 1);
        }
    } else if (strcmp(ev->name, "_disconnect") == 0) {
        /* (nsp, close, filter?) */
        int some = room_arg(args, 2, &filter);
        cluster_disconnect(c, nsp, some ? &filter : NULL, some, NULL, 0, arg_truthy(&text, 1));
    } else if (strcmp(ev->name, "emit") == 0 && json_is_string(json_array_get(args, 2)) &&
               !sio_event_reserved(json_string_value(json_array_get(args, 2)),
                                   json_string_length(json_array_get(args, 2)))) {
        /* (nsp, filter, event, ...args): the args as they came, placeholders included */
        int some = room_arg(args, 1, &filter);
        json_t *name = json_array_get(args, 2);
        jtext_iter_t it;
        const char *el, *rest;
        size_t elen, rest_len;
        jtext_kind_t kind;
        jtext_iter_init(&it, text.data, text.len);
        for (int i = 0; i < 3; i++) jtext_array_next(&it, &el, &elen, &kind);
        jtext_iter_rest(&it, &rest, &rest_len);
        sio_broadcast(nsp, some ? &filter : NULL, some, NULL, 0, json_string_value(name),
                      json_string_length(name), rest, rest_len, ev->att, ev->natt, 0);
    }
    json_decref(args);
    sbuf_free(&text);
}

/* ---- development mode: the live updates ---- */

static int is_admin(const admin_ui_t *ui, const sio_socket_t *s)
{
    return sio_socket_nsp(s) == ui->nsp;
}

static json_t *nsp_name(const sio_socket_t *s)
{
    size_t len;
    const char *name = sio_nsp_name(sio_socket_nsp(s), &len);
    return json_stringn(name, len);
}

static void on_connected(void *ctx, sio_socket_t *s)
{
    admin_ui_t *ui = ctx;
    broadcast(ui, "socket_connected", json_pack("[o,o]", socket_doc(s), iso_now()));
}

static void on_disconnected(void *ctx, sio_socket_t *s, const char *reason)
{
    broadcast(ctx, "socket_disconnected",
              json_pack("[o,s,s,o]", nsp_name(s), sio_socket_id(s), reason, iso_now()));
}

static void on_room(admin_ui_t *ui, const char *event, sio_socket_t *s, const char *room,
                    size_t len)
{
    json_t *r = json_stringn(room, len); /* NULL when not UTF-8: the UI gets nothing */
    if (r)
        broadcast(ui, event, json_pack("[o,o,s,o]", nsp_name(s), r, sio_socket_id(s), iso_now()));
}

static void on_joined(void *ctx, sio_socket_t *s, const char *room, size_t len)
{
    on_room(ctx, "room_joined", s, room, len);
}

static void on_left(void *ctx, sio_socket_t *s, const char *room, size_t len)
{
    on_room(ctx, "room_left", s, room, len);
}

/* event_received and event_sent: [nsp, id, [event, ...args], time], binary attachments with
 * them. data is [event, ...args]. */
static void event_update(admin_ui_t *ui, const char *what, sio_socket_t *s, const char *data,
                         size_t len, const sio_attachment_t *att, unsigned natt)
{
    if (is_admin(ui, s)) return;
    size_t nlen;
    const char *name = sio_nsp_name(sio_socket_nsp(s), &nlen);
    sbuf_t args = SBUF_INIT;
    jtext_append_string(&args, name, nlen);
    sbuf_append_str(&args, ",\"");
    sbuf_append_str(&args, sio_socket_id(s));
    sbuf_append_str(&args, "\",");
    sbuf_append(&args, data, len);
    json_t *when = iso_now();
    char *t = json_dumps(when, JSON_ENCODE_ANY);
    json_decref(when);
    sbuf_append_char(&args, ',');
    sbuf_append_str(&args, t ? t : "null");
    free(t);
    sio_broadcast(ui->nsp, NULL, 0, NULL, 0, what, strlen(what), args.data, args.len, att, natt, 0);
    sbuf_free(&args);
}

static void on_event_in(void *ctx, sio_socket_t *s, const sio_event_t *ev)
{
    if (!ev->name) return;
    sbuf_t data = SBUF_INIT;
    sbuf_append_char(&data, '[');
    jtext_append_string(&data, ev->name, ev->name_len);
    if (ev->args_len) sbuf_append_char(&data, ',');
    sbuf_append(&data, ev->args, ev->args_len);
    sbuf_append_char(&data, ']');
    event_update(ctx, "event_received", s, data.data, data.len, ev->att, ev->natt);
    sbuf_free(&data);
}

static void on_event_out(void *ctx, sio_socket_t *s, const char *data, size_t len)
{
    event_update(ctx, "event_sent", s, data, len, NULL, 0);
}

/* ---- starting and stopping ---- */

static const app_module_t admin_module = {
    .name = "admin-ui",
    .description = "the Socket.IO Admin UI's /admin namespace",
    .connect = admin_connect,
    .connect_abandoned = admin_abandoned,
    .connected = admin_connected,
    .event = admin_event,
    .disconnect = admin_disconnect,
};

int admin_ui_check_config(const chatnode_config_t *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->admin_ui_mode, "development") != 0 &&
        strcmp(cfg->admin_ui_mode, "production") != 0) {
        snprintf(err, errlen, "--admin-ui-mode must be production or development");
        return -1;
    }
    if (cfg->admin_ui_user[0] && !admin_ui_hash_valid(cfg->admin_ui_password_hash)) {
        snprintf(err, errlen,
                 "--admin-ui-password-hash must be a bcrypt hash ($2b$10$ and 53 characters; "
                 "chatnode --hash-password makes one)");
        return -1;
    }
    if (!cfg->admin_ui_user[0] && cfg->admin_ui_password_hash[0]) {
        snprintf(err, errlen, "--admin-ui-password-hash needs --admin-ui-user");
        return -1;
    }
    return 0;
}

int admin_ui_start(admin_ui_t **out, server_t *srv, sio_server_t *sio, const chatnode_config_t *cfg,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (admin_ui_check_config(cfg, err, errlen) < 0) return -1;
    int dev = strcmp(cfg->admin_ui_mode, "development") == 0;
    admin_ui_t *ui = xcalloc(1, sizeof *ui);
    ui->srv = srv;
    ui->sio = sio;
    ui->cfg = cfg;
    ui->dev = dev;
    snprintf(ui->server_id, sizeof ui->server_id, "%s", srv->tag);
    if (gethostname(ui->hostname, sizeof ui->hostname - 1) != 0) strcpy(ui->hostname, "");
    if (!utf8_valid(ui->hostname, strlen(ui->hostname))) strcpy(ui->hostname, "");
    sio_server_mount(sio, "/admin", &admin_module, ui);
    ui->nsp = sio_nsp_find(sio, "/admin", 6);
    if (dev) {
        sio_observer_t o = {.connected = on_connected,
                            .disconnected = on_disconnected,
                            .joined = on_joined,
                            .left = on_left,
                            .event_in = on_event_in,
                            .event_out = on_event_out,
                            .ctx = ui};
        sio_server_set_observer(sio, &o);
    }
    json_decref(server_stats(ui, 1)); /* the counters' start: the first stats count from here */
    uv_timer_init(srv->loop, &ui->stats);
    ui->stats.data = ui;
    uv_timer_start(&ui->stats, on_stats, STATS_MS, STATS_MS);
    if (!cfg->admin_ui_user[0])
        log_warn("the Admin UI's /admin namespace is open to anyone",
                 "detail=\"set --admin-ui-user and --admin-ui-password-hash\"");
    log_info("admin ui", "namespace=/admin mode=%s auth=%s", dev ? "development" : "production",
             cfg->admin_ui_user[0] ? "basic" : "none");
    *out = ui;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    admin_ui_t *ui = h->data;
    ui->closing = 0;
    maybe_free(ui);
}

void admin_ui_stop(admin_ui_t *ui)
{
    if (!ui || ui->stopped) return;
    ui->stopped = 1;
    ui->closing = 1;
    sio_observer_t none = {0};
    sio_server_set_observer(ui->sio, &none);
    uv_close((uv_handle_t *)&ui->stats, on_timer_closed);
}
