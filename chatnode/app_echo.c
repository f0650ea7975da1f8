/* The echo app: the Socket.IO v5 reference server's behaviour:
 *   on connect to "/" or "/custom": emit "auth" with the handshake auth object
 *   "message" (...args)          -> emit "message-back" (...args), binary included
 *   "message-with-ack" (...args) -> ack (...args)
 * and, only with --echo-test-events, events that let tests drive rooms, broadcasts to anyone,
 * server-side acks, cluster requests and disconnects (a client must not have these on a
 * server anyone can reach):
 *   "join" / "leave" (room)      -> room membership; ack ()
 *   "broadcast" (target, event, ...args) -> event(...args) to the target: a room, null
 *                                   (everyone), or {rooms: [...], except: [...], volatile};
 *                                   ack (local recipients)
 *   "request-ack" (...args)      -> emit "ack-request" (...args) with an ack; the client's
 *                                   ack values come back as "ack-response"
 *   "server-disconnect" (close)  -> DISCONNECT the namespace, or (close = true) close the
 *                                   whole connection as a transport close
 * Cluster-wide requests, each answered through the ack with {complete, servers, answered,
 * error, items}: "cluster-fetch" (target) -> items: socket ids, sorted; "cluster-rooms" ->
 * room names; "cluster-server-emit" (event, ...args) -> the other servers' answers;
 * "cluster-emit-ack" (target, event, ...args) -> every client's first ack argument;
 * "cluster-join" / "cluster-leave" (target, room) and "cluster-disconnect" (target, close)
 * -> ack (). A target is as for "broadcast".
 * A server-side emit from another server of the cluster is shown to the node's clients as
 * "server-event" (event, ...args) and answered with [event, ...args]. */
#include "app.h"
#include "chatnode_config.h"
#include "cluster.h"
#include "jtext.h"
#include "sio.h"

#include "server.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_IS(ev, lit)                                                                          \
    ((ev)->name_len == sizeof(lit) - 1 && memcmp((ev)->name, lit, sizeof(lit) - 1) == 0)

/* The idx-th argument's text and kind, from the comma-separated argument text. */
static int nth_arg(const sio_event_t *ev, unsigned idx, sbuf_t *tmp, const char **v, size_t *vlen,
                   jtext_kind_t *kind)
{
    sbuf_reset(tmp);
    sbuf_append_char(tmp, '[');
    sbuf_append(tmp, ev->args, ev->args_len);
    sbuf_append_char(tmp, ']');
    jtext_iter_t it;
    jtext_iter_init(&it, tmp->data, tmp->len);
    for (unsigned i = 0; jtext_array_next(&it, v, vlen, kind); i++)
        if (i == idx) return 0;
    return -1;
}

/* Decodes argument idx as a string into out; returns its length or -1. */
static long string_arg(const sio_event_t *ev, unsigned idx, char *out, size_t cap)
{
    sbuf_t tmp = SBUF_INIT;
    const char *v;
    size_t vlen;
    jtext_kind_t kind;
    long n = -1;
    if (nth_arg(ev, idx, &tmp, &v, &vlen, &kind) == 0 && kind == JTEXT_STRING)
        n = jtext_string_decode(v, vlen, out, cap);
    sbuf_free(&tmp);
    return n;
}

/* Text of the arguments from idx on. */
static void args_from(const sio_event_t *ev, unsigned idx, const char **rest, size_t *rest_len)
{
    sbuf_t tmp = SBUF_INIT;
    const char *v = NULL;
    size_t vlen = 0;
    jtext_kind_t kind;
    *rest = ev->args + ev->args_len;
    *rest_len = 0;
    if (nth_arg(ev, idx, &tmp, &v, &vlen, &kind) == 0) {
        size_t off = (size_t)(v - tmp.data) - 1; /* tmp starts with '[' */
        *rest = ev->args + off;
        *rest_len = ev->args_len - off;
    }
    sbuf_free(&tmp);
}

/* Collects the strings of a JSON array into rooms (at most max); returns how many. */
static size_t room_list(json_t *arr, str_t *rooms, size_t max)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && n < max)
            rooms[n++] = (str_t){json_string_value(v), json_string_length(v)};
    }
    return n;
}

static void broadcast(sio_socket_t *s, const sio_event_t *ev)
{
    char event[512];
    long en = string_arg(ev, 1, event, sizeof event);
    if (en < 0) return;
    sbuf_t tmp = SBUF_INIT;
    const char *t;
    size_t tlen;
    jtext_kind_t kind;
    if (nth_arg(ev, 0, &tmp, &t, &tlen, &kind) < 0) {
        sbuf_free(&tmp);
        return;
    }
    json_t *target = json_loadb(t, tlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    sbuf_free(&tmp);
    str_t rooms[16], except[16];
    size_t nrooms = 0, nexcept = 0;
    unsigned flags = 0;
    if (json_is_string(target)) {
        rooms[nrooms++] = (str_t){json_string_value(target), json_string_length(target)};
    } else if (json_is_object(target)) {
        nrooms = room_list(json_object_get(target, "rooms"), rooms, 16);
        nexcept = room_list(json_object_get(target, "except"), except, 16);
        if (json_is_true(json_object_get(target, "volatile"))) flags |= SIO_VOLATILE;
    }
    const char *rest;
    size_t rest_len;
    args_from(ev, 2, &rest, &rest_len);
    size_t count = sio_broadcast(sio_socket_nsp(s), rooms, nrooms, except, nexcept, event,
                                 (size_t)en, rest, rest_len, ev->att, ev->natt, flags);
    json_decref(target);
    char num[32];
    int nn = snprintf(num, sizeof num, "%zu", count);
    sio_ack(s, ev->ack_id, num, (size_t)nn, NULL, 0);
}

/* Who to answer once a cluster request completes; the socket may be gone by then. */
typedef struct {
    sio_nsp_t *nsp;
    char id[32];
    int64_t ack_id;
    int ids_only; /* fetch: answer with the socket ids only */
} pending_t;

static pending_t *pending_new(sio_socket_t *s, const sio_event_t *ev, int ids_only)
{
    pending_t *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->nsp = sio_socket_nsp(s);
    snprintf(p->id, sizeof p->id, "%s", sio_socket_id(s));
    p->ack_id = ev->ack_id;
    p->ids_only = ids_only;
    return p;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void on_cluster_result(void *ud, const cluster_result_t *r)
{
    pending_t *p = ud;
    sio_socket_t *s = sio_socket_find(p->nsp, p->id, strlen(p->id));
    if (s) {
        json_t *items = r->items;
        json_t *ids = NULL;
        if (p->ids_only) { /* socket objects -> sorted ids */
            size_t i, n = json_array_size(items);
            json_t *v, **sorted = n ? malloc(n * sizeof *sorted) : NULL;
            json_array_foreach(items, i, v) sorted[i] = json_object_get(v, "id");
            if (n) qsort(sorted, n, sizeof *sorted, by_string);
            ids = json_array();
            for (i = 0; i < n; i++) json_array_append(ids, sorted[i]);
            free(sorted);
            items = ids;
        }
        json_t *res = json_pack("{s:b,s:i,s:i,s:O}", "complete", r->complete, "servers",
                                (int)r->servers, "answered", (int)r->answered, "items", items);
        if (r->error) json_object_set_new(res, "error", json_string(r->error));
        char *text = json_dumps(res, JSON_COMPACT);
        sio_ack(s, p->ack_id, text, strlen(text), NULL, 0);
        free(text);
        json_decref(res);
        json_decref(ids);
    }
    free(p);
}

/* Reads a broadcast target (argument 0) into rooms/except. Returns the parsed JSON (owned). */
static json_t *target_arg(const sio_event_t *ev, str_t *rooms, size_t *nrooms, str_t *except,
                          size_t *nexcept, unsigned *flags)
{
    sbuf_t tmp = SBUF_INIT;
    const char *t;
    size_t tlen;
    jtext_kind_t kind;
    json_t *target = NULL;
    *nrooms = *nexcept = 0;
    if (nth_arg(ev, 0, &tmp, &t, &tlen, &kind) == 0)
        target = json_loadb(t, tlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    sbuf_free(&tmp);
    if (json_is_string(target)) {
        rooms[(*nrooms)++] = (str_t){json_string_value(target), json_string_length(target)};
    } else if (json_is_object(target)) {
        *nrooms = room_list(json_object_get(target, "rooms"), rooms, 16);
        *nexcept = room_list(json_object_get(target, "except"), except, 16);
        if (flags && json_is_true(json_object_get(target, "volatile"))) *flags |= SIO_VOLATILE;
    }
    return target;
}

/* The cluster-* test events. Returns 1 when ev was one of them. */
static int cluster_event(sio_socket_t *s, const sio_event_t *ev)
{
    cluster_t *c = cluster_of(sio_nsp_server(sio_socket_nsp(s)));
    sio_nsp_t *nsp = sio_socket_nsp(s);
    str_t rooms[16], except[16];
    size_t nrooms, nexcept;
    if (EVENT_IS(ev, "cluster-fetch")) {
        json_t *t = target_arg(ev, rooms, &nrooms, except, &nexcept, NULL);
        cluster_fetch_sockets(c, nsp, rooms, nrooms, except, nexcept, on_cluster_result,
                              pending_new(s, ev, 1));
        json_decref(t);
    } else if (EVENT_IS(ev, "cluster-rooms")) {
        cluster_all_rooms(c, nsp, on_cluster_result, pending_new(s, ev, 0));
    } else if (EVENT_IS(ev, "cluster-server-emit")) {
        sbuf_t data = SBUF_INIT;
        sbuf_append_char(&data, '[');
        sbuf_append(&data, ev->args, ev->args_len);
        sbuf_append_char(&data, ']');
        cluster_server_side_emit(c, nsp, data.data, data.len, on_cluster_result,
                                 pending_new(s, ev, 0));
        sbuf_free(&data);
    } else if (EVENT_IS(ev, "cluster-emit-ack")) {
        json_t *t = target_arg(ev, rooms, &nrooms, except, &nexcept, NULL);
        const char *rest;
        size_t rest_len;
        args_from(ev, 1, &rest, &rest_len);
        sbuf_t data = SBUF_INIT;
        sbuf_append_char(&data, '[');
        sbuf_append(&data, rest, rest_len);
        sbuf_append_char(&data, ']');
        cluster_broadcast_with_ack(c, nsp, rooms, nrooms, except, nexcept, data.data, data.len,
                                   ev->att, ev->natt, on_cluster_result, pending_new(s, ev, 0));
        sbuf_free(&data);
        json_decref(t);
    } else if (EVENT_IS(ev, "cluster-join") || EVENT_IS(ev, "cluster-leave")) {
        char room[512];
        long n = string_arg(ev, 1, room, sizeof room);
        json_t *t = target_arg(ev, rooms, &nrooms, except, &nexcept, NULL);
        str_t target = {room, n > 0 ? (size_t)n : 0};
        int64_t ack_id = ev->ack_id;
        if (n >= 0) {
            if (EVENT_IS(ev, "cluster-join"))
                cluster_join(c, nsp, rooms, nrooms, except, nexcept, &target, 1);
            else
                cluster_leave(c, nsp, rooms, nrooms, except, nexcept, &target, 1);
        }
        json_decref(t);
        sio_ack(s, ack_id, "", 0, NULL, 0);
    } else if (EVENT_IS(ev, "cluster-disconnect")) {
        sbuf_t tmp = SBUF_INIT;
        const char *v;
        size_t vlen;
        jtext_kind_t kind;
        int close = nth_arg(ev, 1, &tmp, &v, &vlen, &kind) == 0 && kind == JTEXT_TRUE;
        sbuf_free(&tmp);
        json_t *t = target_arg(ev, rooms, &nrooms, except, &nexcept, NULL);
        char id[32];
        snprintf(id, sizeof id, "%s", sio_socket_id(s));
        int64_t ack_id = ev->ack_id;
        cluster_disconnect(c, nsp, rooms, nrooms, except, nexcept, close);
        json_decref(t);
        sio_socket_t *still = sio_socket_find(nsp, id, strlen(id));
        if (still) sio_ack(still, ack_id, "", 0, NULL, 0);
    } else {
        return 0;
    }
    return 1;
}

static int test_events; /* --echo-test-events */

/* The echo app's settings (app.h). */
typedef struct {
    int test_events;
} echo_config_t;

static const cfg_opt_t echo_opts[] = {
    CFG_OPT(echo_config_t, "echo-test-events", CFG_BOOL, "false", 0, 0, test_events, NULL,
            "echo: also serve the test events (join, leave, broadcast, cluster-*, "
            "server-disconnect)"),
};

static const app_settings_t echo_settings = {echo_opts, sizeof echo_opts / sizeof *echo_opts,
                                             sizeof(echo_config_t)};

static int echo_init(server_t *srv, sio_server_t *sio, void **state)
{
    (void)srv;
    (void)sio;
    const echo_config_t *cfg = *state;
    test_events = cfg && cfg->test_events;
    return 0;
}

static int echo_serves(void *state, const char *nsp, size_t len)
{
    (void)state;
    return (len == 1 && nsp[0] == '/') || (len == 7 && memcmp(nsp, "/custom", 7) == 0);
}

static void echo_connected(sio_socket_t *s, const char *auth, size_t auth_len)
{
    sio_emit(s, "auth", 4, auth, auth_len, NULL, 0);
}

static void echo_event(sio_socket_t *s, const sio_event_t *ev)
{
    if (!ev->name) return;
    if (EVENT_IS(ev, "message")) {
        sio_emit(s, "message-back", 12, ev->args, ev->args_len, ev->att, ev->natt);
    } else if (EVENT_IS(ev, "message-with-ack")) {
        sio_ack(s, ev->ack_id, ev->args, ev->args_len, ev->att, ev->natt);
    } else if (!test_events || cluster_event(s, ev)) {
        return;
    } else if (EVENT_IS(ev, "join") || EVENT_IS(ev, "leave")) {
        char room[512];
        long n = string_arg(ev, 0, room, sizeof room);
        if (n < 0) return;
        if (EVENT_IS(ev, "join"))
            sio_join(s, room, (size_t)n);
        else
            sio_leave(s, room, (size_t)n);
        sio_ack(s, ev->ack_id, "", 0, NULL, 0);
    } else if (EVENT_IS(ev, "broadcast")) {
        broadcast(s, ev);
    } else if (EVENT_IS(ev, "request-ack")) {
        sio_emit_with_ack(s, 1, "ack-request", 11, ev->args, ev->args_len, ev->att, ev->natt);
    } else if (EVENT_IS(ev, "server-disconnect")) {
        int close = ev->args_len == 4 && memcmp(ev->args, "true", 4) == 0;
        if (close)
            sio_close_connection(s);
        else
            sio_disconnect(s);
    }
}

/* A server-side emit from another server: shown to this node's clients of the namespace as
 * server-event(name, ...args), and answered with [name, ...args]. */
static int echo_server_event(sio_nsp_t *nsp, const sio_event_t *ev, sbuf_t *reply)
{
    sbuf_t both = SBUF_INIT, data = SBUF_INIT;
    jtext_append_string(&both, ev->name, ev->name_len);
    if (ev->args_len) sbuf_append_char(&both, ',');
    sbuf_append(&both, ev->args, ev->args_len);
    sbuf_append_str(&data, "[\"server-event\",");
    sbuf_append(&data, both.data, both.len);
    sbuf_append_char(&data, ']');
    sio_deliver(nsp, NULL, 0, NULL, 0, data.data, data.len, NULL, 0, 0);
    int answered = ev->ack_id >= 0;
    if (answered) {
        sbuf_append_char(reply, '[');
        sbuf_append(reply, both.data, both.len);
        sbuf_append_char(reply, ']');
    }
    sbuf_free(&both);
    sbuf_free(&data);
    return answered;
}

static void echo_ack(sio_socket_t *s, uint64_t tag, const sio_event_t *ack)
{
    (void)tag;
    sio_emit(s, "ack-response", 12, ack->args, ack->args_len, ack->att, ack->natt);
}

static const char *const echo_namespaces[] = {"/", "/custom", NULL};

const app_module_t app_echo = {
    .name = "echo",
    .settings = &echo_settings,
    .init = echo_init,
    .namespaces = echo_namespaces,
    .description = "the Socket.IO protocol's reference behaviour",
    .serves = echo_serves,
    .connected = echo_connected,
    .event = echo_event,
    .ack = echo_ack,
    .server_event = echo_server_event,
};
