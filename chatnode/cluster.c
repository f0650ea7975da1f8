/* The cluster adapter over Redis (see cluster.h and docs/protocols.md, section 2).
 * Broadcasts go out as msgpack [uid, packet, opts] on K#N# or K#N#<room>#; requests from other
 * servers arrive on K-request#N# and are answered on K-response#N# (section 2.5); this node's
 * own requests gather their answers through adapter_gather (section 2.6). In interest mode (the
 * default) a node subscribes to a room's channel only while the room has local members, so
 * traffic for rooms it does not host never reaches it; pattern mode keeps Node's K#N#*
 * (section 2.2). */
#include "cluster.h"
#include "rec_offset.h"
#include "adapter_gather.h"
#include "adapter_msg.h"
#include "adapter_request.h"
#include "adapter_sharded.h"
#include "adapter_sharded_classic.h"
#include "alloc.h"
#include "bus.h"
#include "bus_listen.h"
#include "jtext.h"
#include "log.h"
#include "sid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cluster {
    server_t *srv;
    sio_server_t *sio;
    bus_t *bus;
    char uid[24]; /* 6 characters (classic), 16 hex digits (sharded), as Node's adapters */
    const char *key;
    size_t key_len;
    int pattern_mode;
    int sharded; /* the sharded format (section 2.8) */
    adapter_sharded_mode_t mode;
    uint64_t broadcasts_out, broadcasts_in, requests_in;
    /* Listeners of the request and response channels and of control traffic. A room's
     * broadcast channel (one per local room, socket-id rooms included) stays out of it: what
     * no listener claims is a broadcast. */
    bus_listen_t *listen;
    adapter_gather_t *gather; /* the requests this node makes (--requests-timeout) */
    cluster_rec_hooks_t rec;  /* recovery's store (cluster_recovery.c), when has_rec */
    int has_rec;
    struct deferred *deferred, *deferred_tail; /* requests waiting for held broadcasts */
};

/* ---- channel names (section 2.1) ---- */

/* K<kind>#N#[tail#]. */
static void channel(sbuf_t *b, const cluster_t *c, adapter_channel_t kind, const sio_nsp_t *nsp,
                    const char *tail, size_t tail_len)
{
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    adapter_channel(b, c->key, c->key_len, kind, n, nlen, tail, tail_len);
}

/* K#N#[tail#], the sharded format's channels. */
static void sh_channel(sbuf_t *b, const cluster_t *c, const sio_nsp_t *nsp, const char *tail,
                       size_t tail_len)
{
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    adapter_sharded_channel(b, (amsg_str_t){c->key, c->key_len}, (amsg_str_t){n, nlen},
                            (amsg_str_t){tail, tail_len});
}

static amsg_str_t nsp_str(const sio_nsp_t *nsp)
{
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    return (amsg_str_t){n, nlen};
}

static void on_request(void *ud, const char *ch, size_t chlen, const char *payload, size_t len);
static void publish_request(cluster_t *c, sio_nsp_t *nsp, const json_t *req);

/* ---- hooks from the Socket.IO layer ---- */

static void on_nsp_added(void *ctx, sio_nsp_t *nsp)
{
    cluster_t *c = ctx;
    sbuf_t ch = SBUF_INIT;
    if (c->sharded) { /* the namespace channel, and this server's private one */
        sh_channel(&ch, c, nsp, NULL, 0);
        bus_ssubscribe(c->bus, ch.data, ch.len);
        sh_channel(&ch, c, nsp, c->uid, strlen(c->uid));
        bus_ssubscribe(c->bus, ch.data, ch.len);
        sbuf_free(&ch);
        if (c->has_rec && sio_nsp_recovers(nsp)) c->rec.nsp_added(c->rec.ctx, nsp);
        return;
    }
    channel(&ch, c, ADAPTER_CH_REQUEST, nsp, NULL, 0);
    bus_listen_add(c->listen, ch.data, ch.len, on_request, c);
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    adapter_gather_listen(c->gather, n, nlen); /* K-response#N# and K-response#N#<uid># */
    channel(&ch, c, ADAPTER_CH_BROADCAST, nsp, NULL, 0);
    if (c->pattern_mode) {
        sbuf_append_char(&ch, '*');
        bus_psubscribe(c->bus, ch.data, ch.len);
    } else {
        bus_subscribe(c->bus, ch.data, ch.len);
    }
    sbuf_free(&ch);
    if (c->has_rec && sio_nsp_recovers(nsp)) c->rec.nsp_added(c->rec.ctx, nsp);
}

static void on_nsp_each(sio_nsp_t *nsp, void *ctx)
{
    on_nsp_added(ctx, nsp);
}

/* Whether the sharded format keeps a channel for room: not in static mode, and in dynamic mode
 * not for the id of a socket connected here. */
static int sh_room_channel(const cluster_t *c, sio_nsp_t *nsp, const char *room, size_t len)
{
    return adapter_sharded_subscribes_room(c->mode, sio_socket_find(nsp, room, len) != NULL);
}

static void on_room_added(void *ctx, sio_nsp_t *nsp, const char *room, size_t len)
{
    cluster_t *c = ctx;
    if (c->pattern_mode) return;
    sbuf_t ch = SBUF_INIT;
    if (c->sharded) {
        if (sh_room_channel(c, nsp, room, len)) {
            sh_channel(&ch, c, nsp, room, len);
            bus_ssubscribe(c->bus, ch.data, ch.len);
        }
        sbuf_free(&ch);
        return;
    }
    channel(&ch, c, ADAPTER_CH_BROADCAST, nsp, room, len);
    bus_subscribe(c->bus, ch.data, ch.len);
    sbuf_free(&ch);
}

static void on_room_removed(void *ctx, sio_nsp_t *nsp, const char *room, size_t len)
{
    cluster_t *c = ctx;
    if (c->pattern_mode) return;
    sbuf_t ch = SBUF_INIT;
    if (c->sharded) { /* a channel never subscribed is not wanted: unsubscribing it is a no-op */
        if (sh_room_channel(c, nsp, room, len)) {
            sh_channel(&ch, c, nsp, room, len);
            bus_sunsubscribe(c->bus, ch.data, ch.len);
        }
        sbuf_free(&ch);
        return;
    }
    channel(&ch, c, ADAPTER_CH_BROADCAST, nsp, room, len);
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

/* A broadcast in the sharded format, on the channel it goes on (its room's, or the
 * namespace's). */
static void sh_publish(cluster_t *c, sio_nsp_t *nsp, const amsg_broadcast_t *b)
{
    sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
    int rc = adapter_sharded_broadcast_write(&msg, b);
    if (rc < 0) {
        log_warn("broadcast not published", "error=\"%s\"", adapter_sharded_strerror(rc));
    } else {
        if (adapter_sharded_publish_to_room(c->mode, ADAPTER_SHARDED_BROADCAST, 0, b->rooms,
                                            b->nrooms))
            sh_channel(&ch, c, nsp, b->rooms[0].s, b->rooms[0].len);
        else
            sh_channel(&ch, c, nsp, NULL, 0);
        bus_spublish(c->bus, ch.data, ch.len, msg.data, msg.len);
        if (!b->logged) c->broadcasts_out++; /* a logged copy was counted as logged */
    }
    sbuf_free(&msg);
    sbuf_free(&ch);
}

static void on_publish(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                       const str_t *except, size_t nexcept, const char *data, size_t data_len,
                       const sio_attachment_t *att, unsigned natt, unsigned flags)
{
    cluster_t *c = ctx;
    amsg_broadcast_t b =
        bcast_of(c, nsp, rooms, nrooms, except, nexcept, data, data_len, att, natt);
    if (flags & SIO_VOLATILE) b.flags.is_volatile = 1;
    if (c->sharded) {
        sh_publish(c, nsp, &b);
        bcast_done(&b);
        return;
    }
    sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
    int rc = amsg_broadcast_encode(&msg, &b);
    if (rc < 0) {
        log_warn("broadcast not published", "error=\"%s\"", amsg_strerror(rc));
    } else {
        if (nrooms == 1)
            channel(&ch, c, ADAPTER_CH_BROADCAST, nsp, rooms[0].ptr, rooms[0].len);
        else
            channel(&ch, c, ADAPTER_CH_BROADCAST, nsp, NULL, 0);
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

static int from_self(const cluster_t *c, const amsg_broadcast_t *b)
{
    return b->uid.len == strlen(c->uid) && memcmp(b->uid.s, c->uid, b->uid.len) == 0;
}

/* payload: the message as it came (classic format), or NULL. */
static void deliver(cluster_t *c, amsg_broadcast_t b, const char *payload, size_t plen)
{
    sio_nsp_t *nsp;
    rec_offset_t off;
    if (c->has_rec && b.offset.s && rec_offset_parse(b.offset.s, b.offset.len, &off) == 0 &&
        (nsp = sio_nsp_find(c->sio, b.nsp.s, b.nsp.len)) && b.data.json) {
        /* a logged packet, in the log's order: this node's own too (sent only now) */
        str_t *rooms = strs_of(b.rooms, b.nrooms), *except = strs_of(b.except, b.nexcept);
        if (off > sio_nsp_last(nsp))
            c->rec.logged(c->rec.ctx, nsp, rooms, b.nrooms, except, b.nexcept, b.data.json,
                          b.data.json_len, b.data.att, b.data.natt, off);
        sio_deliver_logged(nsp, rooms, b.nrooms, except, b.nexcept, b.data.json, b.data.json_len,
                           b.data.att, b.data.natt, off);
        if (!from_self(c, &b)) c->broadcasts_in++;
        free(rooms);
        free(except);
        return;
    }
    if (!from_self(c, &b) && (nsp = sio_nsp_find(c->sio, b.nsp.s, b.nsp.len)) && b.data.json) {
        str_t *rooms = strs_of(b.rooms, b.nrooms), *except = strs_of(b.except, b.nexcept);
        c->broadcasts_in++;
        /* from a server that keeps no log: held for its logged copy (docs/recovery.md); a
         * namespace without recovery (the Admin UI's) has none to wait for */
        if (c->has_rec && sio_nsp_recovers(nsp) && payload && b.flags.is_volatile != 1 &&
            !b.offset.s &&
            c->rec.foreign(c->rec.ctx, nsp, payload, plen, rooms, b.nrooms, except, b.nexcept,
                           b.data.json, b.data.json_len, b.data.att, b.data.natt) == 0) {
            free(rooms);
            free(except);
            return;
        }
        sio_deliver(nsp, rooms, b.nrooms, except, b.nexcept, b.data.json, b.data.json_len,
                    b.data.att, b.data.natt, b.flags.is_volatile == 1 ? SIO_VOLATILE : 0);
        free(rooms);
        free(except);
    }
}

static void on_broadcast(cluster_t *c, const char *payload, size_t len)
{
    amsg_broadcast_t b;
    int rc = amsg_broadcast_decode((const uint8_t *)payload, len, &b);
    if (rc < 0) {
        log_debug("bad broadcast on the bus", "error=\"%s\"", amsg_strerror(rc));
        return;
    }
    deliver(c, b, payload, len);
    amsg_broadcast_free(&b);
}

/* ---- requests from other servers (section 2.5) ---- */

/* The sockets a request selects, as sio_select takes them. */
typedef struct {
    str_t rooms[ADAPTER_REQ_MAX_ROOMS], except[ADAPTER_REQ_MAX_ROOMS];
    size_t nrooms, nexcept;
} opts_t;

static void opts_of(opts_t *o, const str_t *rooms, size_t nrooms, const str_t *except,
                    size_t nexcept)
{
    o->nrooms = nrooms < ADAPTER_REQ_MAX_ROOMS ? nrooms : ADAPTER_REQ_MAX_ROOMS;
    o->nexcept = nexcept < ADAPTER_REQ_MAX_ROOMS ? nexcept : ADAPTER_REQ_MAX_ROOMS;
    if (o->nrooms) memcpy(o->rooms, rooms, o->nrooms * sizeof *rooms);
    if (o->nexcept) memcpy(o->except, except, o->nexcept * sizeof *except);
}

static void opts_of_request(opts_t *o, const adapter_select_t *sel)
{
    o->nrooms = sel->nrooms;
    o->nexcept = sel->nexcept;
    for (size_t i = 0; i < sel->nrooms; i++)
        o->rooms[i] = (str_t){sel->rooms[i].s, sel->rooms[i].len};
    for (size_t i = 0; i < sel->nexcept; i++)
        o->except[i] = (str_t){sel->except[i].s, sel->except[i].len};
}

/* A response in the sharded format, on the requester's private channel K#N#<uid>#: the
 * classic response's one value goes in as the member the sharded type names. */
static void sh_reply(cluster_t *c, sio_nsp_t *nsp, json_t *resp, const char *requester)
{
    int type;
    const char *member, *from;
    if (json_object_get(resp, "sockets"))
        type = ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE, member = "sockets", from = "sockets";
    else if (json_integer_value(json_object_get(resp, "type")) ==
             ADAPTER_RESP_BROADCAST_CLIENT_COUNT)
        type = ADAPTER_SHARDED_BROADCAST_CLIENT_COUNT, member = "clientCount", from = "clientCount";
    else
        type = ADAPTER_SHARDED_SERVER_SIDE_EMIT_RESPONSE, member = "packet", from = "data";
    const char *rid = json_string_value(json_object_get(resp, "requestId"));
    char *text = json_dumps(json_object_get(resp, from), JSON_COMPACT | JSON_ENCODE_ANY);
    sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
    mpjson_value_t v = {text, text ? strlen(text) : 0, NULL, 0};
    if (rid && requester &&
        adapter_sharded_response_write(&msg, type, rid, member, &v,
                                       (amsg_str_t){c->uid, strlen(c->uid)}, nsp_str(nsp)) == 0) {
        sh_channel(&ch, c, nsp, requester, strlen(requester));
        bus_spublish(c->bus, ch.data, ch.len, msg.data, msg.len);
    }
    free(text);
    sbuf_free(&msg);
    sbuf_free(&ch);
    json_decref(resp);
}

static void reply(cluster_t *c, sio_nsp_t *nsp, json_t *resp, const char *requester)
{
    if (c->sharded) {
        sh_reply(c, nsp, resp, requester);
        return;
    }
    /* Who answered (Node's adapter ignores the extra member): lets a requester such as the
     * admin API say which node did not answer. */
    json_object_set_new(resp, "uid", json_string(c->uid));
    char *text = json_dumps(resp, JSON_COMPACT);
    sbuf_t ch = SBUF_INIT;
    channel(&ch, c, ADAPTER_CH_RESPONSE, nsp, NULL, 0);
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

json_t *cluster_socket_json(const sio_socket_t *s)
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
    const char *eio = h.protocol == 3 ? "3" : "4";
    snprintf(url, sizeof url, "%s?EIO=%s&transport=%s", h.path ? h.path : "", eio,
             h.transport ? h.transport : "");
    /* not an old client's own query: that is its auth, and auth is never sent */
    json_t *query = json_object();
    json_object_set_new(query, "EIO", json_string(eio));
    json_object_set_new(query, "transport", json_string(h.transport ? h.transport : ""));
    json_t *hs = json_pack("{s:{},s:s,s:s,s:b,s:b,s:I,s:s,s:o,s:{}}", "headers", "time", when,
                           "address", h.address, "xdomain", 0, "secure", 0, "issued",
                           (json_int_t)h.issued_ms, "url", url, "query", query, "auth");
    json_t *data = NULL;
    const app_module_t *app = sio_nsp_module(sio_socket_nsp(s));
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
    json_array_append_new(arg, cluster_socket_json(s));
}

/* A server-side emit from another server: the app may answer it. */
static void on_server_side_emit(cluster_t *c, sio_nsp_t *nsp, json_t *data, json_t *request_id,
                                const char *requester)
{
    const app_module_t *app = sio_nsp_module(nsp);
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
                      json_pack("{s:i,s:O,s:o}", "type", ADAPTER_REQ_SERVER_SIDE_EMIT, "requestId",
                                request_id, "data", value),
                      requester);
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
    char *requester; /* its uid (the sharded format answers on its private channel) */
    size_t left;     /* acks still to come or be cancelled */
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
        if (b->c->sharded) {
            if (b->requester &&
                adapter_sharded_response_write(
                    &msg, ADAPTER_SHARDED_BROADCAST_ACK, b->request_id, "packet", &a.arg,
                    (amsg_str_t){b->c->uid, strlen(b->c->uid)}, nsp_str(b->nsp)) == 0) {
                sh_channel(&ch, b->c, b->nsp, b->requester, strlen(b->requester));
                bus_spublish(b->c->bus, ch.data, ch.len, msg.data, msg.len);
            }
        } else if (amsg_ack_encode(&msg, &a) == 0) {
            channel(&ch, b->c, ADAPTER_CH_RESPONSE, b->nsp, NULL, 0);
            bus_publish(b->c->bus, ch.data, ch.len, msg.data, msg.len);
        }
        sbuf_free(&arr);
        sbuf_free(&msg);
        sbuf_free(&ch);
    }
    if (--b->left == 0) {
        free(b->request_id);
        free(b->requester);
        free(b);
    }
}

/* A broadcast with acks from another server: delivered here, the client count and then each
 * ack answered to the requester. */
static void broadcast_with_acks(cluster_t *c, sio_nsp_t *nsp, const amsg_broadcast_t *rp)
{
    amsg_broadcast_t r = *rp;
    if (!(r.uid.len == strlen(c->uid) && memcmp(r.uid.s, c->uid, r.uid.len) == 0) && r.data.json &&
        r.request_id.s) {
        str_t *rooms = strs_of(r.rooms, r.nrooms), *except = strs_of(r.except, r.nexcept);
        bcast_acks_t *b = xcalloc(1, sizeof *b);
        b->c = c;
        b->nsp = nsp;
        b->request_id = xstrndup(r.request_id.s, r.request_id.len);
        b->requester = r.uid.s ? xstrndup(r.uid.s, r.uid.len) : NULL;
        b->left = 1; /* held until the count is out */
        size_t n = sio_deliver_with_ack(nsp, rooms, r.nrooms, except, r.nexcept, r.data.json,
                                        r.data.json_len, r.data.att, r.data.natt, on_client_ack, b);
        b->left += n;
        json_t *count = json_pack("{s:i,s:s,s:I}", "type", ADAPTER_RESP_BROADCAST_CLIENT_COUNT,
                                  "requestId", b->request_id, "clientCount", (json_int_t)n);
        reply(c, nsp, count, b->requester);
        on_client_ack(b, NULL, NULL); /* drops the hold */
        free(rooms);
        free(except);
    }
}

static void on_broadcast_request(cluster_t *c, sio_nsp_t *nsp, const char *payload, size_t len)
{
    amsg_broadcast_t r;
    if (amsg_bcast_request_decode((const uint8_t *)payload, len, &r) < 0) return;
    broadcast_with_acks(c, nsp, &r);
    amsg_broadcast_free(&r);
}

static void on_json_request(cluster_t *c, sio_nsp_t *nsp, const adapter_request_t *req)
{
    json_t *request_id = req->request_id;
    int own = req->uid && strcmp(req->uid, c->uid) == 0;
    opts_t sel;
    const opts_t *o = &sel;
    opts_of_request(&sel, &req->sel);
    room_op_t op = {req->targets, req->close};
    switch (req->type) {
    case ADAPTER_REQ_SOCKETS: {
        if (own || !request_id) return;
        json_t *ids = json_array();
        for_selected(nsp, o, collect_ids, ids);
        reply(c, nsp, json_pack("{s:O,s:o}", "requestId", request_id, "sockets", ids), req->uid);
        return;
    }
    case ADAPTER_REQ_ALL_ROOMS: {
        if (own || !request_id) return;
        json_t *rooms = json_array();
        sio_nsp_rooms(nsp, add_nsp_room, rooms);
        reply(c, nsp, json_pack("{s:O,s:o}", "requestId", request_id, "rooms", rooms), req->uid);
        return;
    }
    case ADAPTER_REQ_REMOTE_JOIN: /* our own were applied when made */
        if (!own && json_is_array(op.rooms)) for_selected(nsp, o, do_join, &op);
        return;
    case ADAPTER_REQ_REMOTE_LEAVE:
        if (!own && json_is_array(op.rooms)) for_selected(nsp, o, do_leave, &op);
        return;
    case ADAPTER_REQ_REMOTE_DISCONNECT:
        if (!own) for_selected(nsp, o, do_disconnect, &op);
        return;
    case ADAPTER_REQ_REMOTE_FETCH: {
        if (own || !request_id) return;
        json_t *socks = json_array();
        for_selected(nsp, o, collect_sockets, socks);
        reply(c, nsp, json_pack("{s:O,s:o}", "requestId", request_id, "sockets", socks), req->uid);
        return;
    }
    case ADAPTER_REQ_SERVER_SIDE_EMIT:
        if (!own) on_server_side_emit(c, nsp, req->data, request_id, req->uid);
        return;
    default: return;
    }
}

/* A message on K-request#N# (a listener of each namespace's request channel). */
/* A request that came while broadcasts of servers without a log were held here: run once
 * they are released, so that what such a server sent in order is applied in order (an
 * adminnode's "kicked" emit, then its disconnect). */
typedef struct deferred {
    struct deferred *next;
    char *ch, *payload;
    size_t chlen, len;
} deferred_t;

static void request_now(cluster_t *c, const char *ch, size_t chlen, const char *payload,
                        size_t len);

static void run_deferred(void *ud)
{
    cluster_t *c = ud;
    while (c->deferred && !(c->has_rec && c->rec.holding(c->rec.ctx))) {
        deferred_t *d = c->deferred;
        c->deferred = d->next;
        if (!c->deferred) c->deferred_tail = NULL;
        request_now(c, d->ch, d->chlen, d->payload, d->len);
        free(d->ch);
        free(d->payload);
        free(d);
    }
    if (c->deferred && c->has_rec) c->rec.when_released(c->rec.ctx, run_deferred, c);
}

static void on_request(void *ud, const char *ch, size_t chlen, const char *payload, size_t len)
{
    cluster_t *c = ud;
    if (c->has_rec && (c->deferred || c->rec.holding(c->rec.ctx))) {
        deferred_t *d = xcalloc(1, sizeof *d);
        d->ch = xmemdup(ch, chlen);
        d->chlen = chlen;
        d->payload = xmemdup(payload, len);
        d->len = len;
        int first = !c->deferred;
        if (c->deferred_tail)
            c->deferred_tail->next = d;
        else
            c->deferred = d;
        c->deferred_tail = d;
        if (first) c->rec.when_released(c->rec.ctx, run_deferred, c);
        return;
    }
    request_now(c, ch, chlen, payload, len);
}

static void request_now(cluster_t *c, const char *ch, size_t chlen, const char *payload, size_t len)
{
    adapter_channel_t kind;
    const char *n;
    size_t nlen;
    if (adapter_channel_parse(ch, chlen, c->key, c->key_len, &kind, &n, &nlen) < 0 ||
        kind != ADAPTER_CH_REQUEST)
        return;
    sio_nsp_t *nsp = sio_nsp_find(c->sio, n, nlen);
    if (!nsp) return;
    c->requests_in++;
    if (len && payload[0] == '{') {
        char why[200];
        adapter_request_t req;
        if (adapter_request_decode(payload, len, &req, why, sizeof why) < 0)
            log_debug("bad request on the bus", "error=\"%s\"", why);
        else
            on_json_request(c, nsp, &req);
        adapter_request_free(&req);
    } else if (len && amsg_peek_type((const uint8_t *)payload, len) == ADAPTER_REQ_BROADCAST) {
        on_broadcast_request(c, nsp, payload, len);
    }
}

/* ---- requests this node makes (sections 2.5 and 2.6) ---- */

/* One request this node made: the ask gathering the other servers' answers, and what the
 * caller wants back. A broadcast with acks outlives its ask while local acks are owed. */
typedef struct creq {
    int type;
    cluster_result_cb cb;
    void *ud;
    adapter_ask_t *ask; /* NULL once the result is out */
    unsigned refs;      /* the ask, plus local acks still owed */
} creq_t;

cluster_t *cluster_of(sio_server_t *sio)
{
    return sio_server_cluster(sio);
}

static void creq_unref(creq_t *r)
{
    if (--r->refs == 0) free(r);
}

static void on_result(void *ud, const adapter_gather_result_t *res)
{
    creq_t *r = ud;
    r->ask = NULL;
    if (r->cb) r->cb(r->ud, res);
    creq_unref(r);
}

/* Each ALL_ROOMS answer's rooms join the list once each. */
static void merge_rooms(json_t *items, json_t *rooms)
{
    json_t *v, *have;
    size_t i, j;
    json_array_foreach(rooms, i, v)
    {
        int dup = 0;
        json_array_foreach(items, j, have) dup |= json_equal(have, v);
        if (!dup) json_array_append(items, v);
    }
}

/* An answer from another server, folded into the items by the request's type. */
static int on_answer(void *ud, adapter_ask_t *a, const adapter_response_t *resp)
{
    creq_t *r = ud;
    json_t *items = adapter_ask_items(a);
    if (r->type == ADAPTER_REQ_BROADCAST) {
        if (resp->is_ack) { /* one client's ack: its first argument */
            json_t *v = resp->ack.arg.json ? json_loadb(resp->ack.arg.json, resp->ack.arg.json_len,
                                                        JSON_DECODE_ANY, NULL)
                                           : json_null();
            if (v) json_array_append_new(items, v);
            adapter_ask_expect(a, -1);
            return 0;
        }
        if (resp->type != ADAPTER_RESP_BROADCAST_CLIENT_COUNT) return 0;
        adapter_ask_expect(a, (long)json_integer_value(json_object_get(resp->doc, "clientCount")));
        return 1;
    }
    if (!resp->doc) return 0;
    switch (r->type) {
    case ADAPTER_REQ_REMOTE_FETCH:
        json_array_extend(items, json_object_get(resp->doc, "sockets"));
        break;
    case ADAPTER_REQ_ALL_ROOMS: { /* the sharded format answers with the sockets */
        json_t *sockets = json_object_get(resp->doc, "sockets"), *s;
        size_t i;
        if (sockets)
            json_array_foreach(sockets, i, s) merge_rooms(items, json_object_get(s, "rooms"));
        else
            merge_rooms(items, json_object_get(resp->doc, "rooms"));
        break;
    }
    case ADAPTER_REQ_SERVER_SIDE_EMIT:
        json_array_append(items, json_object_get(resp->doc, "data"));
        break;
    }
    return 1;
}

static creq_t *creq_new(cluster_t *c, int type, sio_nsp_t *nsp, cluster_result_cb cb, void *ud)
{
    creq_t *r = xcalloc(1, sizeof *r);
    r->type = type;
    r->cb = cb;
    r->ud = ud;
    r->refs = 1;
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    r->ask = adapter_ask_new(c ? c->gather : NULL, n, nlen, on_answer, on_result, r);
    return r;
}

/* A JSON array of names. */
static json_t *names_json(const str_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_stringn(v[i].ptr, v[i].len));
    return a;
}

static json_t *opts_json(const str_t *rooms, size_t nrooms, const str_t *except, size_t nexcept)
{
    return adapter_request_opts(names_json(rooms, nrooms), names_json(except, nexcept));
}

/* Sends req (stolen) for r, or nothing when running alone (the local part is all). */
static void creq_send(cluster_t *c, creq_t *r, json_t *req)
{
    if (c)
        adapter_ask_send_json(r->ask, req);
    else
        adapter_ask_send(r->ask, NULL, 0);
}

void cluster_fetch_sockets(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                           const str_t *except, size_t nexcept, cluster_result_cb cb, void *ud)
{
    creq_t *r = creq_new(c, ADAPTER_REQ_REMOTE_FETCH, nsp, cb, ud);
    opts_t o;
    opts_of(&o, rooms, nrooms, except, nexcept);
    for_selected(nsp, &o, collect_sockets, adapter_ask_items(r->ask));
    json_t *req = NULL;
    if (c) {
        req = adapter_request_new(ADAPTER_REQ_REMOTE_FETCH, c->uid, adapter_ask_id(r->ask));
        adapter_request_set(req, "opts", opts_json(rooms, nrooms, except, nexcept));
    }
    creq_send(c, r, req);
}

void cluster_all_rooms(cluster_t *c, sio_nsp_t *nsp, cluster_result_cb cb, void *ud)
{
    creq_t *r = creq_new(c, ADAPTER_REQ_ALL_ROOMS, nsp, cb, ud);
    sio_nsp_rooms(nsp, add_nsp_room, adapter_ask_items(r->ask));
    creq_send(c, r,
              c ? adapter_request_new(ADAPTER_REQ_ALL_ROOMS, c->uid, adapter_ask_id(r->ask))
                : NULL);
}

void cluster_server_side_emit(cluster_t *c, sio_nsp_t *nsp, const char *data, size_t len,
                              cluster_result_cb cb, void *ud)
{
    json_t *arr = json_loadb(data, len, 0, NULL);
    if (!c || !json_is_array(arr)) {
        json_decref(arr);
        if (cb) { /* alone: nothing to ask, complete; bad data: nothing asked */
            cluster_result_t res = {!c,
                                    0,
                                    0,
                                    c ? ADAPTER_GATHER_EENCODE : 0,
                                    c ? "data is not a JSON array" : NULL,
                                    json_array()};
            cb(ud, &res);
            json_decref(res.items);
        }
        return;
    }
    if (!cb) { /* no answers wanted: publish and forget */
        json_t *req = adapter_request_new(ADAPTER_REQ_SERVER_SIDE_EMIT, c->uid, NULL);
        if (adapter_request_set(req, "data", arr) == 0) publish_request(c, nsp, req);
        json_decref(req);
        return;
    }
    creq_t *r = creq_new(c, ADAPTER_REQ_SERVER_SIDE_EMIT, nsp, cb, ud);
    json_t *req = adapter_request_new(ADAPTER_REQ_SERVER_SIDE_EMIT, c->uid, adapter_ask_id(r->ask));
    adapter_request_set(req, "data", arr);
    creq_send(c, r, req);
}

/* A local client's ack (or its cancellation) for a broadcast with acks this node made. */
static void on_local_ack(void *ud, sio_socket_t *s, const sio_event_t *ack)
{
    (void)s;
    creq_t *r = ud;
    if (r->ask) {
        if (ack) {
            sbuf_t arr = SBUF_INIT;
            const char *first;
            size_t first_len;
            first_ack_arg(ack, &arr, &first, &first_len);
            json_t *v = first ? json_loadb(first, first_len, JSON_DECODE_ANY, NULL) : json_null();
            if (v) json_array_append_new(adapter_ask_items(r->ask), v);
            sbuf_free(&arr);
        }
        adapter_ask_expect(r->ask, -1);
    }
    creq_unref(r);
}

void cluster_broadcast_with_ack(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                                const str_t *except, size_t nexcept, const char *data, size_t len,
                                const sio_attachment_t *att, unsigned natt, cluster_result_cb cb,
                                void *ud)
{
    creq_t *r = creq_new(c, ADAPTER_REQ_BROADCAST, nsp, cb, ud);
    r->refs++; /* held while local deliveries are made */
    size_t n = sio_deliver_with_ack(nsp, rooms, nrooms, except, nexcept, data, len, att, natt,
                                    on_local_ack, r);
    r->refs += (unsigned)n;
    adapter_ask_expect(r->ask, (long)n); /* not sent yet: this cannot finish it */
    sbuf_t packed = SBUF_INIT;
    int encoded = 0;
    if (c) {
        amsg_broadcast_t b = bcast_of(c, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
        const char *id = adapter_ask_id(r->ask);
        b.request_id = (amsg_str_t){id, strlen(id)};
        b.flags.timeout = (int64_t)adapter_gather_timeout(c->gather);
        encoded = (c->sharded ? adapter_sharded_broadcast_write(&packed, &b)
                              : amsg_bcast_request_encode(&packed, &b)) == 0;
        bcast_done(&b);
    }
    /* Alone (or the packet could not be encoded): the local acks are all there is; they
     * finish it when they have all come, or their sockets went away. */
    adapter_ask_send(r->ask, encoded ? packed.data : NULL, packed.len);
    sbuf_free(&packed);
    creq_unref(r);
}

/* JOIN, LEAVE, DISCONNECT: applied here, and published for everyone else. */
static void room_request(cluster_t *c, sio_nsp_t *nsp, adapter_request_type_t type,
                         const str_t *rooms, size_t nrooms, const str_t *except, size_t nexcept,
                         const str_t *targets, size_t ntargets, int close)
{
    json_t *req = adapter_request_new(type, NULL, NULL);
    adapter_request_set(req, "opts", opts_json(rooms, nrooms, except, nexcept));
    json_t *t = names_json(targets, ntargets);
    if (type == ADAPTER_REQ_REMOTE_DISCONNECT) {
        adapter_request_set(req, "close", json_boolean(close));
        json_decref(t);
        t = NULL;
    } else {
        adapter_request_set(req, "rooms", json_incref(t));
    }
    if (c) adapter_request_set(req, "uid", json_string(c->uid));
    opts_t o;
    opts_of(&o, rooms, nrooms, except, nexcept);
    room_op_t op = {t, close};
    for_selected(nsp, &o,
                 type == ADAPTER_REQ_REMOTE_JOIN    ? do_join
                 : type == ADAPTER_REQ_REMOTE_LEAVE ? do_leave
                                                    : do_disconnect,
                 &op);
    if (c) publish_request(c, nsp, req);
    json_decref(t);
    json_decref(req);
}

void cluster_join(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                  const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets)
{
    room_request(c, nsp, ADAPTER_REQ_REMOTE_JOIN, rooms, nrooms, except, nexcept, targets, ntargets,
                 0);
}

void cluster_leave(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                   const str_t *except, size_t nexcept, const str_t *targets, size_t ntargets)
{
    room_request(c, nsp, ADAPTER_REQ_REMOTE_LEAVE, rooms, nrooms, except, nexcept, targets,
                 ntargets, 0);
}

void cluster_disconnect(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                        const str_t *except, size_t nexcept, int close)
{
    room_request(c, nsp, ADAPTER_REQ_REMOTE_DISCONNECT, rooms, nrooms, except, nexcept, NULL, 0,
                 close);
}

/* ---- the sharded format (section 2.8) ---- */

/* A message on one of the sharded channels: requests and broadcasts from other servers, and
 * responses to this one's requests (on its private channel, or anywhere: Node answers only
 * there, and hands any response to its requests whatever the channel). */
static void on_sharded(cluster_t *c, const char *payload, size_t len)
{
    adapter_sharded_msg_t m;
    int rc = adapter_sharded_decode((const uint8_t *)payload, len, &m);
    if (rc < 0) {
        log_debug("bad message on the bus", "error=\"%s\"", adapter_sharded_strerror(rc));
        return;
    }
    sio_nsp_t *nsp = m.nsp.s ? sio_nsp_find(c->sio, m.nsp.s, m.nsp.len) : NULL;
    int own = m.uid.s && m.uid.len == strlen(c->uid) && memcmp(m.uid.s, c->uid, m.uid.len) == 0;
    if (!nsp || own) {
        adapter_sharded_msg_free(&m);
        return;
    }
    if (adapter_sharded_is_response(m.type)) {
        adapter_response_t resp;
        if (adapter_sharded_response_read(&m, &resp) == 0) adapter_gather_feed(c->gather, &resp);
        adapter_response_free(&resp);
    } else if (m.type == ADAPTER_SHARDED_BROADCAST) {
        amsg_broadcast_t b;
        if (adapter_sharded_broadcast_read(&m, &b) == 0) {
            if (b.logged && c->has_rec) {
                /* a chatnode's copy for servers without a log: it came here logged, in order */
            } else if (b.request_id.s) {
                c->requests_in++;
                broadcast_with_acks(c, nsp, &b);
            } else {
                deliver(c, b, NULL, 0);
            }
            amsg_broadcast_free(&b);
        }
    } else {
        adapter_request_t req;
        if (adapter_sharded_request_read(&m, &req) == 0) {
            c->requests_in++;
            on_json_request(c, nsp, &req);
        }
        adapter_request_free(&req);
    }
    adapter_sharded_msg_free(&m);
}

/* Publishes a request that awaits no answer (a classic request document, borrowed) in the
 * bus's format. */
static void publish_request(cluster_t *c, sio_nsp_t *nsp, const json_t *req)
{
    sbuf_t ch = SBUF_INIT;
    if (c->sharded) {
        sbuf_t msg = SBUF_INIT;
        if (adapter_sharded_request_write(&msg, req, (amsg_str_t){c->uid, strlen(c->uid)},
                                          nsp_str(nsp)) == 0) {
            sh_channel(&ch, c, nsp, NULL, 0);
            bus_spublish(c->bus, ch.data, ch.len, msg.data, msg.len);
        }
        sbuf_free(&msg);
    } else {
        char *text = json_dumps(req, JSON_COMPACT);
        channel(&ch, c, ADAPTER_CH_REQUEST, nsp, NULL, 0);
        if (text) bus_publish(c->bus, ch.data, ch.len, text, strlen(text));
        free(text);
    }
    sbuf_free(&ch);
}

/* ---- the bus ---- */

/* Requests, responses and control traffic go to their listeners; everything else on the
 * bus is a broadcast (K#N#, a room's channel, or the pattern K#N#*). */
static void on_message(void *ud, const char *ch, size_t chlen, const char *pattern,
                       const char *payload, size_t len)
{
    cluster_t *c = ud;
    if (bus_listen_dispatch(c->listen, ch, chlen, pattern, payload, len) != 0) return;
    if (c->sharded)
        on_sharded(c, payload, len);
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

static void free_cluster(void *ud)
{
    free(ud);
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
    int sharded;
    if (bus_format_parse(cfg->bus_format, &url, &sharded, err, errlen) < 0) {
        redis_url_free(&url);
        return -1;
    }
    adapter_sharded_mode_t mode;
    if (adapter_sharded_mode_parse(cfg->subscription_mode, &mode) < 0) {
        snprintf(err, errlen, "--subscription-mode must be static, dynamic or dynamic-private");
        redis_url_free(&url);
        return -1;
    }
    cluster_t *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->sio = sio;
    c->key = cfg->redis_key;
    c->key_len = strlen(cfg->redis_key);
    /* with recovery on, every chatnode hears every broadcast, to log those of servers that
     * keep no log (docs/recovery.md) */
    c->pattern_mode =
        !sharded && (strcmp(cfg->bus_subscribe, "pattern") == 0 || cfg->recovery_window > 0);
    c->sharded = sharded;
    c->mode = mode;
    if (sharded) /* 16 hex digits, as Node's ClusterAdapter */
        sid_hex(c->uid, 16);
    else
        sid_generate(c->uid, 7, NULL); /* a 6-character server uid, as Node's adapter uses */
    bus_options_t o;
    bus_options_init(&o);
    o.sharded = sharded;
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
    c->listen = bus_listen_new(c->bus);
    /* a chatnode subscribes to K-request#N# itself: NUMSUB counts it (section 2.6) */
    adapter_gather_options_t go = {
        .loop = srv->loop,
        .bus = c->bus,
        .listen = c->listen,
        .key = c->key,
        .uid = c->uid,
        .timeout_ms = (uint64_t)cfg->requests_timeout,
        .self_subscribed = 1,
        .own_response_channel = 1,
        .sharded = sharded,
    };
    rc = adapter_gather_new(&c->gather, &go);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the cluster requests: %s", uv_strerror(rc));
        bus_listen_free(c->listen);
        bus_close(c->bus, free_cluster, c);
        return -1;
    }
    sio_cluster_t hooks = {on_nsp_added, on_room_added, on_room_removed, on_publish, c};
    sio_server_set_cluster(sio, &hooks);
    sio_foreach_nsp(sio, on_nsp_each, c);
    if (sharded)
        log_info("cluster adapter started", "uid=%s key=%s format=sharded subscription=%s", c->uid,
                 c->key, adapter_sharded_mode_name(c->mode));
    else
        log_info("cluster adapter started", "uid=%s key=%s format=classic subscribe=%s", c->uid,
                 c->key, c->pattern_mode ? "pattern" : "interest");
    *out = c;
    return 0;
}

void cluster_stop(cluster_t *c)
{
    if (!c) return;
    sio_cluster_t none = {0};
    sio_server_set_cluster(c->sio, &none);
    while (c->deferred) {
        deferred_t *d = c->deferred;
        c->deferred = d->next;
        free(d->ch);
        free(d->payload);
        free(d);
    }
    /* Pending requests end now, partial. */
    adapter_gather_close(c->gather);
    bus_listen_free(c->listen);
    bus_close(c->bus, free_cluster, c);
}

int cluster_listen(cluster_t *c, const char *channel, size_t len, cluster_listen_cb fn, void *ud)
{
    return bus_listen_add(c->listen, channel, len, fn, ud);
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

int cluster_command_key(cluster_t *c, const char *key, size_t keylen, int argc,
                        const char *const *argv, const size_t *lens,
                        void (*cb)(void *ud, int status, const struct redisReply *reply), void *ud)
{
    return bus_command_key(c->bus, key, keylen, argc, argv, lens, cb, ud);
}

int cluster_command_replicated(cluster_t *c, const char *key, size_t keylen, unsigned replicas,
                               uint32_t timeout_ms, int argc, const char *const *argv,
                               const size_t *lens,
                               void (*cb)(void *ud, int status, const struct redisReply *reply),
                               void *ud)
{
    return bus_command_replicated(c->bus, key, keylen, replicas, timeout_ms, argc, argv, lens, cb,
                                  ud);
}

int cluster_logged_message(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                           const str_t *except, size_t nexcept, const char *data, size_t len,
                           const sio_attachment_t *att, unsigned natt, sbuf_t *msg, sbuf_t *chan)
{
    amsg_broadcast_t b = bcast_of(c, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
    b.offset_slot = 1;
    int rc = amsg_broadcast_encode(msg, &b);
    bcast_done(&b);
    if (rc < 0) return -1;
    if (!c->sharded) channel(chan, c, ADAPTER_CH_BROADCAST, nsp, NULL, 0);
    c->broadcasts_out++;
    return 0;
}

void cluster_publish_logged_copy(cluster_t *c, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                                 const str_t *except, size_t nexcept, const char *data, size_t len,
                                 const sio_attachment_t *att, unsigned natt)
{
    if (!c->sharded) return;
    amsg_broadcast_t b = bcast_of(c, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
    b.logged = 1;
    sh_publish(c, nsp, &b);
    bcast_done(&b);
}

static void nsp_to_rec(sio_nsp_t *nsp, void *ctx)
{
    cluster_t *c = ctx;
    if (sio_nsp_recovers(nsp)) c->rec.nsp_added(c->rec.ctx, nsp);
}

void cluster_set_recovery(cluster_t *c, const cluster_rec_hooks_t *hooks)
{
    c->has_rec = hooks != NULL;
    if (!hooks) {
        /* requests waiting for held broadcasts run now: nothing will hold them any more */
        while (c->deferred) {
            deferred_t *d = c->deferred;
            c->deferred = d->next;
            request_now(c, d->ch, d->chlen, d->payload, d->len);
            free(d->ch);
            free(d->payload);
            free(d);
        }
        c->deferred_tail = NULL;
        return;
    }
    c->rec = *hooks;
    sio_foreach_nsp(c->sio, nsp_to_rec, c);
}

int cluster_sharded(const cluster_t *c)
{
    return c->sharded;
}

int cluster_listen_shard(cluster_t *c, const char *channel, size_t len, cluster_listen_cb fn,
                         void *ud)
{
    return bus_listen_sadd(c->listen, channel, len, fn, ud);
}

const char *cluster_key(const cluster_t *c)
{
    return c->key;
}

void cluster_stats(const cluster_t *c, cluster_stats_t *out)
{
    bus_stats(c->bus, &out->bus);
    out->broadcasts_out = c->broadcasts_out;
    out->broadcasts_in = c->broadcasts_in;
    out->requests_in = c->requests_in;
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
                "\"broadcasts_out\":%llu,\"requests_in\":%llu,\"topology\":\"%s\"",
                c->uid,
                c->sharded        ? adapter_sharded_mode_name(c->mode)
                : c->pattern_mode ? "pattern"
                                  : "interest",
                bus_state_name(st.cmd.state), bus_state_name(st.sub.state),
                (unsigned long long)st.reconnects, (unsigned long long)st.published,
                (unsigned long long)st.received, (unsigned long long)st.queued,
                (unsigned long long)st.dropped, (unsigned long long)c->broadcasts_in,
                (unsigned long long)c->broadcasts_out, (unsigned long long)c->requests_in,
                redis_url_kind_name(bus_url(c->bus)->kind));
    sbuf_printf(json, ",\"format\":\"%s\"", c->sharded ? "sharded" : "classic");
    if (bus_url(c->bus)->kind == REDIS_URL_CLUSTER || c->sharded) {
        /* the primaries of the slot map, and how the map was kept */
        sbuf_append_str(json, ",\"primaries\":[");
        for (size_t i = 0; i < bus_shards(c->bus); i++) {
            const char *a = bus_shard_addr(c->bus, i);
            if (i) sbuf_append_char(json, ',');
            jtext_append_string(json, a ? a : "", a ? strlen(a) : 0);
        }
        sbuf_printf(json,
                    "],\"map_refreshes\":%llu,\"moved\":%llu,\"asked\":%llu,\"retried\":%llu,"
                    "\"failovers\":%llu",
                    (unsigned long long)st.map_refreshes, (unsigned long long)st.moved,
                    (unsigned long long)st.asked, (unsigned long long)st.retried,
                    (unsigned long long)st.failovers);
    }
    if (bus_url(c->bus)->kind == REDIS_URL_SENTINEL) {
        /* the primary's address: host name or IP and a port, as a sentinel gave it */
        sbuf_append_str(json, ",\"primary\":");
        jtext_append_string(json, st.primary, strlen(st.primary));
        sbuf_printf(json,
                    ",\"watch\":\"%s\",\"failovers\":%llu,\"failover_moves\":%llu,"
                    "\"role_refusals\":%llu",
                    bus_state_name(st.watch), (unsigned long long)st.failovers,
                    (unsigned long long)st.failover_moves, (unsigned long long)st.role_refusals);
    }
    sbuf_append_str(json, "}");
}
