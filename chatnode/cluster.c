/* The cluster adapter over Redis (see cluster.h and docs/protocols.md).
 * Broadcasts go out as msgpack [uid, packet, opts] on K#N# or K#N#<room>#; requests from other
 * servers arrive on K-request#N# and are answered on K-response#N#. In interest mode (the
 * default) a node subscribes to a room's channel only while the room has local members, so
 * traffic for rooms it does not host never reaches it; pattern mode keeps Node's K#N#*. */
#include "cluster.h"
#include "adapter_msg.h"
#include "alloc.h"
#include "bus.h"
#include "jtext.h"
#include "log.h"
#include "sid.h"
#include "strmap.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    REQ_SOCKETS = 0,
    REQ_ALL_ROOMS,
    REQ_JOIN,
    REQ_LEAVE,
    REQ_DISCONNECT,
    REQ_FETCH,
    REQ_SERVER_SIDE_EMIT,
    REQ_BROADCAST,
    RESP_BROADCAST_CLIENT_COUNT,
    RESP_BROADCAST_ACK
};

struct cluster {
    server_t *srv;
    sio_server_t *sio;
    bus_t *bus;
    char uid[8];
    const char *key;
    size_t key_len;
    int pattern_mode;
    uint64_t broadcasts_out, broadcasts_in, requests_in;
    strmap_t requests;         /* requestId -> creq_t: requests this node made, awaiting answers */
    deadline_queue_t timeouts; /* their deadlines (--requests-timeout) */
    uint64_t next_request;
    strmap_t listeners; /* channel -> listener_t: other channels of ours (control traffic) */
};

typedef struct {
    cluster_listen_cb fn;
    void *ud;
    size_t len;
    char channel[];
} listener_t;

/* ---- channel names ---- */

/* K<kind>#N#[room#] where kind is "", "-request" or "-response". */
static void channel(sbuf_t *b, const cluster_t *c, const char *kind, const sio_nsp_t *nsp,
                    const char *room, size_t room_len)
{
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    sbuf_reset(b);
    sbuf_append(b, c->key, c->key_len);
    sbuf_append_str(b, kind);
    sbuf_append_char(b, '#');
    sbuf_append(b, n, nlen);
    sbuf_append_char(b, '#');
    if (room) {
        sbuf_append(b, room, room_len);
        sbuf_append_char(b, '#');
    }
}

/* ---- hooks from the Socket.IO layer ---- */

static void on_nsp_added(void *ctx, sio_nsp_t *nsp)
{
    cluster_t *c = ctx;
    sbuf_t ch = SBUF_INIT;
    channel(&ch, c, "-request", nsp, NULL, 0);
    bus_subscribe(c->bus, ch.data, ch.len);
    channel(&ch, c, "-response", nsp, NULL, 0);
    bus_subscribe(c->bus, ch.data, ch.len);
    channel(&ch, c, "-response", nsp, c->uid, strlen(c->uid));
    bus_subscribe(c->bus, ch.data, ch.len);
    channel(&ch, c, "", nsp, NULL, 0);
    if (c->pattern_mode) {
        sbuf_append_char(&ch, '*');
        bus_psubscribe(c->bus, ch.data, ch.len);
    } else {
        bus_subscribe(c->bus, ch.data, ch.len);
    }
    sbuf_free(&ch);
}

static void on_nsp_each(sio_nsp_t *nsp, void *ctx)
{
    on_nsp_added(ctx, nsp);
}

static void on_room_added(void *ctx, sio_nsp_t *nsp, const char *room, size_t len)
{
    cluster_t *c = ctx;
    if (c->pattern_mode) return;
    sbuf_t ch = SBUF_INIT;
    channel(&ch, c, "", nsp, room, len);
    bus_subscribe(c->bus, ch.data, ch.len);
    sbuf_free(&ch);
}

static void on_room_removed(void *ctx, sio_nsp_t *nsp, const char *room, size_t len)
{
    cluster_t *c = ctx;
    if (c->pattern_mode) return;
    sbuf_t ch = SBUF_INIT;
    channel(&ch, c, "", nsp, room, len);
    bus_unsubscribe(c->bus, ch.data, ch.len);
    sbuf_free(&ch);
}

static amsg_str_t *amsg_strs(const str_t *v, size_t n)
{
    amsg_str_t *out = n ? xmalloc(n * sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++) out[i] = (amsg_str_t){v[i].ptr, v[i].len};
    return out;
}

/* A broadcast as the adapter messages carry it; free its lists with bcast_done(). */
static amsg_broadcast_t bcast_of(const cluster_t *c, const sio_nsp_t *nsp, const str_t *rooms,
                                 size_t nrooms, const str_t *except, size_t nexcept,
                                 const char *data, size_t len, const sio_attachment_t *att,
                                 unsigned natt)
{
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    amsg_broadcast_t b = {
        .uid = {c->uid, strlen(c->uid)},
        .type = SIO_EVENT,
        .nsp = {n, nlen},
        .id = -1,
        .data = {data, len, (sio_attachment_t *)att, natt},
        .rooms = amsg_strs(rooms, nrooms),
        .nrooms = nrooms,
        .except = amsg_strs(except, nexcept),
        .nexcept = nexcept,
        .flags = {AMSG_UNSET, AMSG_UNSET, AMSG_UNSET, AMSG_UNSET},
    };
    return b;
}

static void bcast_done(amsg_broadcast_t *b)
{
    free(b->rooms);
    free(b->except);
}

static void on_publish(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                       const str_t *except, size_t nexcept, const char *data, size_t data_len,
                       const sio_attachment_t *att, unsigned natt, unsigned flags)
{
    cluster_t *c = ctx;
    amsg_broadcast_t b =
        bcast_of(c, nsp, rooms, nrooms, except, nexcept, data, data_len, att, natt);
    if (flags & SIO_VOLATILE) b.flags.is_volatile = 1;
    sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
    int rc = amsg_broadcast_encode(&msg, &b);
    if (rc < 0) {
        log_warn("broadcast not published", "error=\"%s\"", amsg_strerror(rc));
    } else {
        if (nrooms == 1)
            channel(&ch, c, "", nsp, rooms[0].ptr, rooms[0].len);
        else
            channel(&ch, c, "", nsp, NULL, 0);
        bus_publish(c->bus, ch.data, ch.len, msg.data, msg.len);
        c->broadcasts_out++;
    }
    bcast_done(&b);
    sbuf_free(&msg);
    sbuf_free(&ch);
}

/* ---- broadcasts from other servers ---- */

static str_t *strs_of(const amsg_str_t *v, size_t n)
{
    str_t *out = n ? xmalloc(n * sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++) out[i] = (str_t){v[i].s, v[i].len};
    return out;
}

static void on_broadcast(cluster_t *c, const char *payload, size_t len)
{
    amsg_broadcast_t b;
    int rc = amsg_broadcast_decode((const uint8_t *)payload, len, &b);
    if (rc < 0) {
        log_debug("bad broadcast on the bus", "error=\"%s\"", amsg_strerror(rc));
        return;
    }
    sio_nsp_t *nsp;
    if (!(b.uid.len == strlen(c->uid) && memcmp(b.uid.s, c->uid, b.uid.len) == 0) &&
        (nsp = sio_nsp_find(c->sio, b.nsp.s, b.nsp.len)) && b.data.json) {
        str_t *rooms = strs_of(b.rooms, b.nrooms), *except = strs_of(b.except, b.nexcept);
        sio_deliver(nsp, rooms, b.nrooms, except, b.nexcept, b.data.json, b.data.json_len,
                    b.data.att, b.data.natt, b.flags.is_volatile == 1 ? SIO_VOLATILE : 0);
        c->broadcasts_in++;
        free(rooms);
        free(except);
    }
    amsg_broadcast_free(&b);
}

/* ---- requests from other servers ---- */

/* Rooms and except of a request's opts, borrowed from the JSON document. */
typedef cluster_opts_t opts_t;

static size_t json_rooms(json_t *arr, str_t *out, size_t max)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (n < max && json_is_string(v))
            out[n++] = (str_t){json_string_value(v), json_string_length(v)};
    }
    return n;
}

static void parse_opts(json_t *opts, opts_t *o)
{
    o->nrooms = json_rooms(json_object_get(opts, "rooms"), o->rooms, CLUSTER_REQ_MAX_ROOMS);
    o->nexcept = json_rooms(json_object_get(opts, "except"), o->except, CLUSTER_REQ_MAX_ROOMS);
}

int cluster_request_decode(const char *payload, size_t len, cluster_request_t *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->type = -1;
    json_error_t jerr;
    json_t *req = json_loadb(payload, len, 0, &jerr);
    if (!json_is_object(req)) {
        snprintf(err, errlen, "%s", req ? "not a JSON object" : jerr.text);
        json_decref(req);
        return -1;
    }
    out->doc = req;
    /* Node's adapter compares the type with ===: anything but an integer is no request */
    json_t *type = json_object_get(req, "type");
    if (json_is_integer(type) && json_integer_value(type) >= 0 &&
        json_integer_value(type) <= INT_MAX)
        out->type = (int)json_integer_value(type);
    out->uid = json_string_value(json_object_get(req, "uid"));
    out->request_id = json_object_get(req, "requestId");
    parse_opts(json_object_get(req, "opts"), &out->sel);
    if (out->type == REQ_SOCKETS) /* the 7.x form names its rooms at the top level */
        out->sel.nrooms =
            json_rooms(json_object_get(req, "rooms"), out->sel.rooms, CLUSTER_REQ_MAX_ROOMS);
    out->targets = json_object_get(req, "rooms");
    out->close = json_is_true(json_object_get(req, "close"));
    out->data = json_object_get(req, "data");
    return 0;
}

void cluster_request_free(cluster_request_t *out)
{
    json_decref(out->doc);
    memset(out, 0, sizeof *out);
    out->type = -1;
}

static void reply(cluster_t *c, sio_nsp_t *nsp, json_t *resp)
{
    /* Who answered (Node's adapter ignores the extra member): lets a requester such as the
     * admin API say which node did not answer. */
    json_object_set_new(resp, "uid", json_string(c->uid));
    char *text = json_dumps(resp, JSON_COMPACT);
    sbuf_t ch = SBUF_INIT;
    channel(&ch, c, "-response", nsp, NULL, 0);
    if (text) bus_publish(c->bus, ch.data, ch.len, text, strlen(text));
    free(text);
    sbuf_free(&ch);
    json_decref(resp);
}

static void add_room_to_array(const char *room, size_t len, void *arg)
{
    json_array_append_new(arg, json_stringn(room, len));
}

static void add_nsp_room(const char *room, size_t len, size_t members, void *arg)
{
    (void)members;
    json_array_append_new(arg, json_stringn(room, len));
}

/* A socket as fetchSockets answers describe it: {id, handshake, rooms, data}. */
static json_t *socket_json(const sio_socket_t *s)
{
    json_t *rooms = json_array();
    sio_socket_rooms(s, add_room_to_array, rooms);
    sio_handshake_t h;
    sio_socket_handshake(s, &h);
    /* time as JavaScript's Date.toString() writes it, in UTC */
    char when[80] = "", url[300];
    time_t secs = (time_t)(h.issued_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm))
        strftime(when, sizeof when, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)",
                 &tm);
    snprintf(url, sizeof url, "%s?EIO=4&transport=%s", h.path ? h.path : "",
             h.transport ? h.transport : "");
    json_t *hs = json_pack("{s:{},s:s,s:s,s:b,s:b,s:I,s:s,s:{s:s,s:s},s:{}}", "headers", "time",
                           when, "address", h.address, "xdomain", 0, "secure", 0, "issued",
                           (json_int_t)h.issued_ms, "url", url, "query", "EIO", "4", "transport",
                           h.transport ? h.transport : "", "auth");
    json_t *data = NULL;
    const app_module_t *app = sio_server_app(sio_nsp_server(sio_socket_nsp(s)));
    if (app->socket_data) {
        sbuf_t d = SBUF_INIT;
        app->socket_data(s, &d);
        if (d.len) data = json_loadb(d.data, d.len, 0, NULL);
        sbuf_free(&d);
    }
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    return json_pack("{s:s,s:o,s:o,s:o}", "id", sio_socket_id(s), "handshake", hs, "rooms", rooms,
                     "data", data);
}

/* Applies fn to the sockets the options select, looked up again by id one at a time, so that
 * disconnecting one may free others safely. */
static void for_selected(sio_nsp_t *nsp, const opts_t *o, void (*fn)(sio_socket_t *, void *),
                         void *arg)
{
    sio_socket_t **sel;
    size_t n = sio_select(nsp, o->rooms, o->nrooms, o->except, o->nexcept, &sel);
    char(*ids)[SID_RANDOM_LEN + 1] = n ? xmalloc(n * sizeof *ids) : NULL;
    for (size_t i = 0; i < n; i++) memcpy(ids[i], sio_socket_id(sel[i]), SID_RANDOM_LEN + 1);
    free(sel);
    for (size_t i = 0; i < n; i++) {
        sio_socket_t **one;
        str_t id = {ids[i], SID_RANDOM_LEN};
        if (sio_select(nsp, &id, 1, NULL, 0, &one) == 1) fn(one[0], arg);
        free(one);
    }
    free(ids);
}

typedef struct {
    json_t *rooms;
    int close;
} room_op_t;

static void do_join(sio_socket_t *s, void *arg)
{
    size_t i;
    json_t *v;
    json_array_foreach(((room_op_t *)arg)->rooms, i, v)
    {
        if (json_is_string(v)) sio_join(s, json_string_value(v), json_string_length(v));
    }
}

static void do_leave(sio_socket_t *s, void *arg)
{
    size_t i;
    json_t *v;
    json_array_foreach(((room_op_t *)arg)->rooms, i, v)
    {
        if (json_is_string(v)) sio_leave(s, json_string_value(v), json_string_length(v));
    }
}

static void do_disconnect(sio_socket_t *s, void *arg)
{
    if (((room_op_t *)arg)->close)
        sio_close_connection(s);
    else
        sio_disconnect(s);
}

static void collect_ids(sio_socket_t *s, void *arg)
{
    json_array_append_new(arg, json_string(sio_socket_id(s)));
}

static void collect_sockets(sio_socket_t *s, void *arg)
{
    json_array_append_new(arg, socket_json(s));
}

/* A server-side emit from another server: the app may answer it. */
static void on_server_side_emit(cluster_t *c, sio_nsp_t *nsp, json_t *data, json_t *request_id)
{
    const app_module_t *app = sio_server_app(c->sio);
    if (!app->server_event || !json_is_array(data)) return;
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    char name[256];
    sio_event_t ev;
    sbuf_t answer = SBUF_INIT;
    if (text && sio_event_from_array(text, strlen(text), name, sizeof name, &ev) == 0 && ev.name) {
        ev.ack_id = request_id ? 0 : -1;
        if (app->server_event(nsp, &ev, &answer) == 1 && request_id && answer.len) {
            json_t *value = json_loadb(answer.data, answer.len, JSON_DECODE_ANY, NULL);
            if (value)
                reply(c, nsp,
                      json_pack("{s:i,s:O,s:o}", "type", REQ_SERVER_SIDE_EMIT, "requestId",
                                request_id, "data", value));
        }
    }
    sbuf_free(&answer);
    free(text);
}

/* A broadcast with acks (type 7): each recipient's ack goes back to the requester. */
typedef struct {
    cluster_t *c;
    sio_nsp_t *nsp;
    char *request_id;
    size_t left; /* acks still to come or be cancelled */
} bcast_acks_t;

/* The first argument of an ack, the one a broadcast with acks reports (as Node's adapter
 * does): its text in *first (NULL when the ack had none), kept in arr. */
static void first_ack_arg(const sio_event_t *ack, sbuf_t *arr, const char **first, size_t *len)
{
    jtext_iter_t it;
    jtext_kind_t kind;
    sbuf_append_char(arr, '[');
    sbuf_append(arr, ack->args, ack->args_len);
    sbuf_append_char(arr, ']');
    jtext_iter_init(&it, arr->data, arr->len);
    if (!jtext_array_next(&it, first, len, &kind)) {
        *first = NULL;
        *len = 0;
    }
}

static void on_client_ack(void *ud, sio_socket_t *s, const sio_event_t *ack)
{
    (void)s;
    bcast_acks_t *b = ud;
    if (ack) {
        sbuf_t arr = SBUF_INIT, msg = SBUF_INIT, ch = SBUF_INIT;
        const char *first;
        size_t first_len;
        first_ack_arg(ack, &arr, &first, &first_len);
        amsg_ack_t a = {{b->request_id, strlen(b->request_id)},
                        {first, first_len, (sio_attachment_t *)ack->att, ack->natt}};
        if (amsg_ack_encode(&msg, &a) == 0) {
            channel(&ch, b->c, "-response", b->nsp, NULL, 0);
            bus_publish(b->c->bus, ch.data, ch.len, msg.data, msg.len);
        }
        sbuf_free(&arr);
        sbuf_free(&msg);
        sbuf_free(&ch);
    }
    if (--b->left == 0) {
        free(b->request_id);
        free(b);
    }
}

static void on_broadcast_request(cluster_t *c, sio_nsp_t *nsp, const char *payload, size_t len)
{
    amsg_broadcast_t r;
    if (amsg_bcast_request_decode((const uint8_t *)payload, len, &r) < 0) return;
    if (!(r.uid.len == strlen(c->uid) && memcmp(r.uid.s, c->uid, r.uid.len) == 0) && r.data.json &&
        r.request_id.s) {
        str_t *rooms = strs_of(r.rooms, r.nrooms), *except = strs_of(r.except, r.nexcept);
        bcast_acks_t *b = xcalloc(1, sizeof *b);
        b->c = c;
        b->nsp = nsp;
        b->request_id = xstrndup(r.request_id.s, r.request_id.len);
        b->left = 1; /* held until the count is out */
        size_t n = sio_deliver_with_ack(nsp, rooms, r.nrooms, except, r.nexcept, r.data.json,
                                        r.data.json_len, r.data.att, r.data.natt, on_client_ack, b);
        b->left += n;
        json_t *count = json_pack("{s:i,s:s,s:I}", "type", RESP_BROADCAST_CLIENT_COUNT, "requestId",
                                  b->request_id, "clientCount", (json_int_t)n);
        reply(c, nsp, count);
        on_client_ack(b, NULL, NULL); /* drops the hold */
        free(rooms);
        free(except);
    }
    amsg_broadcast_free(&r);
}

static void on_json_request(cluster_t *c, sio_nsp_t *nsp, const cluster_request_t *req)
{
    json_t *request_id = req->request_id;
    int own = req->uid && strcmp(req->uid, c->uid) == 0;
    const opts_t *o = &req->sel;
    room_op_t op = {req->targets, req->close};
    switch (req->type) {
    case REQ_SOCKETS: {
        if (own || !request_id) return;
        json_t *ids = json_array();
        for_selected(nsp, o, collect_ids, ids);
        reply(c, nsp, json_pack("{s:O,s:o}", "requestId", request_id, "sockets", ids));
        return;
    }
    case REQ_ALL_ROOMS: {
        if (own || !request_id) return;
        json_t *rooms = json_array();
        sio_nsp_rooms(nsp, add_nsp_room, rooms);
        reply(c, nsp, json_pack("{s:O,s:o}", "requestId", request_id, "rooms", rooms));
        return;
    }
    case REQ_JOIN: /* our own were applied when made */
        if (!own && json_is_array(op.rooms)) for_selected(nsp, o, do_join, &op);
        return;
    case REQ_LEAVE:
        if (!own && json_is_array(op.rooms)) for_selected(nsp, o, do_leave, &op);
        return;
    case REQ_DISCONNECT:
        if (!own) for_selected(nsp, o, do_disconnect, &op);
        return;
    case REQ_FETCH: {
        if (own || !request_id) return;
        json_t *socks = json_array();
        for_selected(nsp, o, collect_sockets, socks);
        reply(c, nsp, json_pack("{s:O,s:o}", "requestId", request_id, "sockets", socks));
        return;
    }
    case REQ_SERVER_SIDE_EMIT:
        if (!own) on_server_side_emit(c, nsp, req->data, request_id);
        return;
    default: return;
    }
}

static void on_request(cluster_t *c, const char *ch, size_t chlen, const char *payload, size_t len)
{
    /* K-request#N#: the namespace sits between the prefix and the final '#'. */
    size_t pre = c->key_len + 9;
    if (chlen <= pre || ch[chlen - 1] != '#') return;
    sio_nsp_t *nsp = sio_nsp_find(c->sio, ch + pre, chlen - pre - 1);
    if (!nsp) return;
    c->requests_in++;
    if (len && payload[0] == '{') {
        char why[200];
        cluster_request_t req;
        if (cluster_request_decode(payload, len, &req, why, sizeof why) < 0)
            log_debug("bad request on the bus", "error=\"%s\"", why);
        else
            on_json_request(c, nsp, &req);
        cluster_request_free(&req);
    } else if (len && amsg_peek_type((const uint8_t *)payload, len) == REQ_BROADCAST) {
        on_broadcast_request(c, nsp, payload, len);
    }
}

/* ---- requests this node makes ---- */

typedef struct creq {
    cluster_t *c;
    int type;
    char id[40];
    sio_nsp_t *nsp;
    cluster_result_cb cb;
    void *ud;
    unsigned servers, answered;
    size_t clients, acks; /* broadcast with acks: clients announced, acks received */
    unsigned counted;     /* broadcast with acks: servers that sent their client count */
    unsigned refs;        /* the pending request itself, plus local acks still owed */
    int done;
    int counted_servers; /* the server count is known (always, when running alone) */
    json_t *items;
    json_t *request; /* JSON request to publish once the server count is known */
    sbuf_t packed;   /* or its msgpack form (broadcast with acks) */
    deadline_node_t timer;
} creq_t;

cluster_t *cluster_of(sio_server_t *sio)
{
    return sio_server_cluster(sio);
}

static void creq_unref(creq_t *r)
{
    if (--r->refs) return;
    json_decref(r->items);
    json_decref(r->request);
    sbuf_free(&r->packed);
    free(r);
}

/* Reports the result (once) and forgets the request. */
static void creq_finish(creq_t *r, const char *error)
{
    if (r->done) return;
    r->done = 1;
    if (r->c) {
        strmap_del(&r->c->requests, r->id, strlen(r->id));
        deadline_queue_remove(&r->c->timeouts, &r->timer);
    }
    int complete =
        !error && r->answered >= r->servers && (r->type != REQ_BROADCAST || r->acks >= r->clients);
    cluster_result_t res = {complete, r->servers, r->answered, error, r->items};
    if (!complete && !error) res.error = "timed out waiting for other servers";
    r->cb(r->ud, &res);
    creq_unref(r);
}

static void creq_check(creq_t *r)
{
    if (r->done || !r->counted_servers) return; /* local acks may come before the count */
    if (r->type == REQ_BROADCAST) {
        if (r->counted >= r->servers && r->acks >= r->clients) creq_finish(r, NULL);
    } else if (r->answered >= r->servers) {
        creq_finish(r, NULL);
    }
}

static creq_t *creq_new(cluster_t *c, int type, sio_nsp_t *nsp, cluster_result_cb cb, void *ud)
{
    creq_t *r = xcalloc(1, sizeof *r);
    r->c = c;
    r->type = type;
    r->nsp = nsp;
    r->cb = cb;
    r->ud = ud;
    r->refs = 1;
    r->items = json_array();
    if (c) snprintf(r->id, sizeof r->id, "%s-%llu", c->uid, (unsigned long long)++c->next_request);
    return r;
}

static void on_request_timeout(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    creq_finish((creq_t *)((char *)n - offsetof(creq_t, timer)), NULL);
}

typedef struct {
    cluster_t *c;
    char id[40];
} numsub_t;

/* The server count is known: publish the request, or finish when nobody else is there. */
static void on_numsub(void *ud, int status, const struct redisReply *reply)
{
    numsub_t *q = ud;
    creq_t *r = q->c ? strmap_get(&q->c->requests, q->id, strlen(q->id)) : NULL;
    free(q);
    if (!r) return;
    long long n = 0;
    if (status == 0 && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_INTEGER)
        n = reply->element[1]->integer;
    else {
        creq_finish(r, "the bus is not available");
        return;
    }
    r->servers = n > 1 ? (unsigned)(n - 1) : 0;
    r->counted_servers = 1;
    if (r->servers) {
        sbuf_t ch = SBUF_INIT;
        channel(&ch, r->c, "-request", r->nsp, NULL, 0);
        if (r->request) {
            char *text = json_dumps(r->request, JSON_COMPACT);
            bus_publish(r->c->bus, ch.data, ch.len, text, strlen(text));
            free(text);
        } else {
            bus_publish(r->c->bus, ch.data, ch.len, r->packed.data, r->packed.len);
        }
        sbuf_free(&ch);
    }
    creq_check(r);
}

/* Registers r and asks Redis how many servers will answer; the rest follows on_numsub. */
static void creq_send(creq_t *r)
{
    cluster_t *c = r->c;
    if (!c) {
        creq_finish(r, NULL); /* running alone: the local part is the whole answer */
        return;
    }
    strmap_put(&c->requests, r->id, strlen(r->id), r);
    deadline_queue_add(&c->timeouts, &r->timer);
    sbuf_t ch = SBUF_INIT;
    channel(&ch, c, "-request", r->nsp, NULL, 0);
    const char *argv[] = {"PUBSUB", "NUMSUB", ch.data};
    size_t lens[] = {6, 6, ch.len};
    numsub_t *q = xcalloc(1, sizeof *q);
    q->c = c;
    memcpy(q->id, r->id, sizeof q->id);
    int rc = bus_command(c->bus, 3, argv, lens, on_numsub, q);
    sbuf_free(&ch);
    if (rc < 0) {
        free(q);
        creq_finish(r, "the bus is not available");
    }
}

static json_t *opts_json(const str_t *rooms, size_t nrooms, const str_t *except, size_t nexcept)
{
    json_t *r = json_array(), *e = json_array();
    for (size_t i = 0; i < nrooms; i++)
        json_array_append_new(r, json_stringn(rooms[i].ptr, rooms[i].len));
    for (size_t i = 0; i < nexcept; i++)
        json_array_append_new(e, json_stringn(except[i].ptr, except[i].len));
    return json_pack("{s:o,s:o}", "rooms", r, "except", e);
}

void cluster_fetch_sockets(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                           const str_t *except, size_t nexcept, cluster_result_cb cb, void *ud)
{
    creq_t *r = creq_new(c, REQ_FETCH, nsp, cb, ud);
    opts_t o = {0};
    o.nrooms = nrooms < 64 ? nrooms : 64;
    o.nexcept = nexcept < 64 ? nexcept : 64;
    memcpy(o.rooms, rooms, o.nrooms * sizeof *rooms);
    memcpy(o.except, except, o.nexcept * sizeof *except);
    for_selected(nsp, &o, collect_sockets, r->items);
    if (c)
        r->request = json_pack("{s:s,s:s,s:i,s:o}", "uid", c->uid, "requestId", r->id, "type",
                               REQ_FETCH, "opts", opts_json(rooms, nrooms, except, nexcept));
    creq_send(r);
}

void cluster_all_rooms(cluster_t *c, sio_nsp_t *nsp, cluster_result_cb cb, void *ud)
{
    creq_t *r = creq_new(c, REQ_ALL_ROOMS, nsp, cb, ud);
    sio_nsp_rooms(nsp, add_nsp_room, r->items);
    if (c)
        r->request =
            json_pack("{s:s,s:s,s:i}", "uid", c->uid, "requestId", r->id, "type", REQ_ALL_ROOMS);
    creq_send(r);
}

void cluster_server_side_emit(cluster_t *c, sio_nsp_t *nsp, const char *data, size_t len,
                              cluster_result_cb cb, void *ud)
{
    json_t *arr = json_loadb(data, len, 0, NULL);
    if (!c || !json_is_array(arr)) {
        json_decref(arr);
        if (cb) {
            creq_t *r = creq_new(NULL, REQ_SERVER_SIDE_EMIT, nsp, cb, ud);
            creq_finish(r, c ? "data is not a JSON array" : NULL);
        }
        return;
    }
    if (!cb) { /* no answers wanted: publish and forget */
        json_t *req =
            json_pack("{s:s,s:i,s:o}", "uid", c->uid, "type", REQ_SERVER_SIDE_EMIT, "data", arr);
        char *text = json_dumps(req, JSON_COMPACT);
        sbuf_t ch = SBUF_INIT;
        channel(&ch, c, "-request", nsp, NULL, 0);
        bus_publish(c->bus, ch.data, ch.len, text, strlen(text));
        sbuf_free(&ch);
        free(text);
        json_decref(req);
        return;
    }
    creq_t *r = creq_new(c, REQ_SERVER_SIDE_EMIT, nsp, cb, ud);
    r->request = json_pack("{s:s,s:s,s:i,s:o}", "uid", c->uid, "requestId", r->id, "type",
                           REQ_SERVER_SIDE_EMIT, "data", arr);
    creq_send(r);
}

/* A local client's ack (or its cancellation) for a broadcast with acks this node made. */
static void on_local_ack(void *ud, sio_socket_t *s, const sio_event_t *ack)
{
    (void)s;
    creq_t *r = ud;
    if (!r->done) {
        r->acks++;
        if (ack) {
            sbuf_t arr = SBUF_INIT;
            const char *first;
            size_t first_len;
            first_ack_arg(ack, &arr, &first, &first_len);
            json_t *v = first ? json_loadb(first, first_len, JSON_DECODE_ANY, NULL) : json_null();
            if (v) json_array_append_new(r->items, v);
            sbuf_free(&arr);
        }
        creq_check(r);
    }
    creq_unref(r);
}

void cluster_broadcast_with_ack(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                                const str_t *except, size_t nexcept, const char *data, size_t len,
                                const sio_attachment_t *att, unsigned natt, cluster_result_cb cb,
                                void *ud)
{
    creq_t *r = creq_new(c, REQ_BROADCAST, nsp, cb, ud);
    r->refs++; /* held while local deliveries are made */
    size_t n = sio_deliver_with_ack(nsp, rooms, nrooms, except, nexcept, data, len, att, natt,
                                    on_local_ack, r);
    r->refs += (unsigned)n;
    r->clients += n;
    if (c) {
        amsg_broadcast_t b = bcast_of(c, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
        b.request_id = (amsg_str_t){r->id, strlen(r->id)};
        b.flags.timeout = (int64_t)deadline_queue_delay_ms(&c->timeouts);
        if (amsg_bcast_request_encode(&r->packed, &b) < 0) c = NULL;
        bcast_done(&b);
    }
    if (c) {
        creq_send(r);
    } else {
        /* Alone (or the packet could not be encoded): the local acks are all there is; they
         * finish it when they have all come, or their sockets went away. */
        r->c = NULL;
        r->counted_servers = 1;
        creq_check(r);
    }
    creq_unref(r);
}

/* JOIN, LEAVE, DISCONNECT: applied here, and published for everyone else. */
static void room_request(cluster_t *c, sio_nsp_t *nsp, int type, const str_t *rooms, size_t nrooms,
                         const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets,
                         int close)
{
    json_t *req =
        json_pack("{s:i,s:o}", "type", type, "opts", opts_json(rooms, nrooms, except, nexcept));
    json_t *t = json_array();
    for (size_t i = 0; i < ntargets; i++)
        json_array_append_new(t, json_stringn(targets[i].ptr, targets[i].len));
    json_object_set_new(req, type == REQ_DISCONNECT ? "close" : "rooms",
                        type == REQ_DISCONNECT ? json_boolean(close) : t);
    if (type == REQ_DISCONNECT) json_decref(t);
    if (c) json_object_set_new(req, "uid", json_string(c->uid));
    opts_t o = {0};
    parse_opts(json_object_get(req, "opts"), &o);
    room_op_t op = {json_object_get(req, "rooms"), close};
    for_selected(nsp, &o,
                 type == REQ_JOIN    ? do_join
                 : type == REQ_LEAVE ? do_leave
                                     : do_disconnect,
                 &op);
    if (c) {
        char *text = json_dumps(req, JSON_COMPACT);
        sbuf_t ch = SBUF_INIT;
        channel(&ch, c, "-request", nsp, NULL, 0);
        bus_publish(c->bus, ch.data, ch.len, text, strlen(text));
        sbuf_free(&ch);
        free(text);
    }
    json_decref(req);
}

void cluster_join(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                  const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets)
{
    room_request(c, nsp, REQ_JOIN, rooms, nrooms, except, nexcept, targets, ntargets, 0);
}

void cluster_leave(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                   const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets)
{
    room_request(c, nsp, REQ_LEAVE, rooms, nrooms, except, nexcept, targets, ntargets, 0);
}

void cluster_disconnect(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                        const str_t *except, size_t nexcept, int close)
{
    room_request(c, nsp, REQ_DISCONNECT, rooms, nrooms, except, nexcept, NULL, 0, close);
}

/* An answer to one of our requests, from the shared or our own response channel. */
static void on_response(cluster_t *c, const char *payload, size_t len)
{
    if (len && payload[0] != '{') {
        amsg_ack_t a;
        if (amsg_peek_type((const uint8_t *)payload, len) != RESP_BROADCAST_ACK ||
            amsg_ack_decode((const uint8_t *)payload, len, &a) < 0)
            return;
        creq_t *r = strmap_get(&c->requests, a.request_id.s, a.request_id.len);
        if (r && r->type == REQ_BROADCAST) {
            r->acks++;
            json_t *v = a.arg.json ? json_loadb(a.arg.json, a.arg.json_len, JSON_DECODE_ANY, NULL)
                                   : json_null();
            if (v) json_array_append_new(r->items, v);
            creq_check(r);
        }
        amsg_ack_free(&a);
        return;
    }
    json_t *resp = json_loadb(payload, len, 0, NULL);
    const char *id = json_string_value(json_object_get(resp, "requestId"));
    creq_t *r = id ? strmap_get(&c->requests, id, strlen(id)) : NULL;
    if (r) {
        json_t *v;
        size_t i;
        switch (r->type) {
        case REQ_FETCH:
            json_array_extend(r->items, json_object_get(resp, "sockets"));
            r->answered++;
            break;
        case REQ_ALL_ROOMS:
            json_array_foreach(json_object_get(resp, "rooms"), i, v)
            {
                size_t j;
                json_t *have;
                int dup = 0;
                json_array_foreach(r->items, j, have) dup |= json_equal(have, v);
                if (!dup) json_array_append(r->items, v);
            }
            r->answered++;
            break;
        case REQ_SERVER_SIDE_EMIT:
            json_array_append(r->items, json_object_get(resp, "data"));
            r->answered++;
            break;
        case REQ_BROADCAST:
            if (json_integer_value(json_object_get(resp, "type")) == RESP_BROADCAST_CLIENT_COUNT) {
                r->clients += (size_t)json_integer_value(json_object_get(resp, "clientCount"));
                r->counted++;
                r->answered++;
            }
            break;
        }
        creq_check(r);
    }
    json_decref(resp);
}

/* ---- the bus ---- */

static int has_prefix(const char *s, size_t len, const cluster_t *c, const char *kind)
{
    size_t k = strlen(kind);
    return len > c->key_len + k && memcmp(s, c->key, c->key_len) == 0 &&
           memcmp(s + c->key_len, kind, k) == 0;
}

static void on_message(void *ud, const char *ch, size_t chlen, const char *pattern,
                       const char *payload, size_t len)
{
    cluster_t *c = ud;
    listener_t *l = pattern ? NULL : strmap_get(&c->listeners, ch, chlen);
    if (l)
        l->fn(l->ud, ch, chlen, payload, len);
    else if (!pattern && has_prefix(ch, chlen, c, "-request#"))
        on_request(c, ch, chlen, payload, len);
    else if (!pattern && has_prefix(ch, chlen, c, "-response#"))
        on_response(c, payload, len);
    else
        on_broadcast(c, payload, len);
}

static void on_state(void *ud, bus_conn_t conn, bus_state_t state, int err)
{
    cluster_t *c = ud;
    if (state == BUS_CONNECTED) {
        log_info("bus connected", "connection=%s", conn == BUS_CONN_CMD ? "command" : "subscriber");
        const app_module_t *app = sio_server_app(c->sio);
        if (conn == BUS_CONN_CMD && app && app->cluster_connected)
            app->cluster_connected(sio_server_app_state(c->sio));
    } else if (state == BUS_DISCONNECTED && err)
        log_warn("bus disconnected", "connection=%s error=\"%s\"",
                 conn == BUS_CONN_CMD ? "command" : "subscriber", bus_strerror(err));
}

int cluster_start(cluster_t **out, server_t *srv, sio_server_t *sio, const chatnode_config_t *cfg,
                  char *err, size_t errlen)
{
    redis_url_t url;
    if (redis_url_parse(cfg->redis, &url, err, errlen) < 0) return -1;
    if (strcmp(cfg->bus_subscribe, "interest") != 0 && strcmp(cfg->bus_subscribe, "pattern") != 0) {
        snprintf(err, errlen, "--bus-subscribe must be interest or pattern");
        redis_url_free(&url);
        return -1;
    }
    cluster_t *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->sio = sio;
    c->key = cfg->redis_key;
    c->key_len = strlen(cfg->redis_key);
    c->pattern_mode = strcmp(cfg->bus_subscribe, "pattern") == 0;
    sid_generate(c->uid, 7, NULL); /* a 6-character server uid, as Node's adapter uses */
    deadline_queue_init(&c->timeouts, srv->loop, (uint64_t)cfg->requests_timeout,
                        on_request_timeout, c);
    bus_options_t o;
    bus_options_init(&o);
    o.on_message = on_message;
    o.on_state = on_state;
    o.ud = c;
    int rc = bus_open(&c->bus, srv->loop, &url, &o);
    redis_url_free(&url);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the bus: %s", bus_strerror(rc));
        free(c);
        return -1;
    }
    sio_cluster_t hooks = {on_nsp_added, on_room_added, on_room_removed, on_publish, c};
    sio_server_set_cluster(sio, &hooks);
    sio_foreach_nsp(sio, on_nsp_each, c);
    log_info("cluster adapter started", "uid=%s key=%s subscribe=%s", c->uid, c->key,
             c->pattern_mode ? "pattern" : "interest");
    *out = c;
    return 0;
}

static void free_cluster(uv_handle_t *h)
{
    free(h->data);
}

static void closed(void *ud)
{
    cluster_t *c = ud;
    c->timeouts.timer.data = c;
    deadline_queue_close(&c->timeouts, (uv_close_cb)free_cluster);
}

void cluster_stop(cluster_t *c)
{
    if (!c) return;
    sio_cluster_t none = {0};
    sio_server_set_cluster(c->sio, &none);
    /* Pending requests end now, partial. */
    void *v;
    for (size_t i = 0; strmap_next(&c->requests, &i, NULL, NULL, &v);) {
        creq_t *r = v;
        creq_finish(r, "shutting down");
    }
    strmap_free(&c->requests);
    for (size_t i = 0; strmap_next(&c->listeners, &i, NULL, NULL, &v);) free(v);
    strmap_free(&c->listeners);
    bus_close(c->bus, closed, c);
}

int cluster_listen(cluster_t *c, const char *channel, size_t len, cluster_listen_cb fn, void *ud)
{
    listener_t *l = xmalloc(sizeof *l + len);
    l->fn = fn;
    l->ud = ud;
    l->len = len;
    memcpy(l->channel, channel, len);
    free(strmap_put(&c->listeners, l->channel, l->len, l));
    return bus_subscribe(c->bus, channel, len);
}

int cluster_publish(cluster_t *c, const char *channel, size_t len, const char *payload, size_t plen)
{
    return bus_publish(c->bus, channel, len, payload, plen);
}

const char *cluster_uid(const cluster_t *c)
{
    return c->uid;
}

int cluster_command(cluster_t *c, int argc, const char *const *argv, const size_t *lens,
                    void (*cb)(void *ud, int status, const struct redisReply *reply), void *ud)
{
    return bus_command(c->bus, argc, argv, lens, cb, ud);
}

void cluster_health(const cluster_t *c, sbuf_t *json)
{
    if (!c) return;
    bus_stats_t st;
    bus_stats(c->bus, &st);
    sbuf_printf(json,
                ",\"bus\":{\"uid\":\"%s\",\"subscribe\":\"%s\",\"command\":\"%s\","
                "\"subscriber\":\"%s\",\"reconnects\":%llu,\"published\":%llu,"
                "\"received\":%llu,\"queued\":%llu,\"dropped\":%llu,\"broadcasts_in\":%llu,"
                "\"broadcasts_out\":%llu,\"requests_in\":%llu}",
                c->uid, c->pattern_mode ? "pattern" : "interest", bus_state_name(st.cmd.state),
                bus_state_name(st.sub.state), (unsigned long long)st.reconnects,
                (unsigned long long)st.published, (unsigned long long)st.received,
                (unsigned long long)st.queued, (unsigned long long)st.dropped,
                (unsigned long long)c->broadcasts_in, (unsigned long long)c->broadcasts_out,
                (unsigned long long)c->requests_in);
}
