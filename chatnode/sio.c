/* Socket.IO v5 server layer (see sio.h). Behaviour follows the reference server: a packet
 * for a namespace the session has not joined closes the session; an unknown namespace gets
 * CONNECT_ERROR "Invalid namespace"; a session that joins no namespace within connectTimeout
 * is closed; any malformed packet closes its session and nothing else. */
#include "sio.h"
#include "alloc.h"
#include "sio_internal.h"
#include "eio_session.h"
#include "frame.h"
#include "jtext.h"
#include "log.h"
#include "room.h"
#include "server.h"
#include "sid.h"
#include "url_query.h"

#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

const char *sio_socket_id(const sio_socket_t *s)
{
    return s->id;
}

const char *sio_socket_pid(const sio_socket_t *s)
{
    return s->pid;
}

const char *sio_socket_owner(const sio_socket_t *s)
{
    return s->owner;
}

uint64_t sio_nsp_last(const sio_nsp_t *nsp)
{
    return nsp->last;
}

uv_loop_t *sio_server_loop(const sio_server_t *sio)
{
    return sio->srv->loop;
}

sio_nsp_t *sio_socket_nsp(const sio_socket_t *s)
{
    return s->nsp;
}

const char *sio_nsp_name(const sio_nsp_t *nsp, size_t *len)
{
    if (len) *len = nsp->len;
    return nsp->name;
}

void *sio_socket_data(const sio_socket_t *s)
{
    return s->data;
}

void sio_socket_set_data(sio_socket_t *s, void *data)
{
    s->data = data;
}

size_t sio_socket_count(const sio_server_t *sio)
{
    return sio->nsockets;
}

uint64_t sio_server_events_in(const sio_server_t *sio)
{
    return sio->events_in;
}

uint64_t sio_server_events_out(const sio_server_t *sio)
{
    return sio->events_out;
}

void sio_nsp_counts(const sio_nsp_t *nsp, size_t *sockets, size_t *rooms)
{
    *sockets = nsp->sockets.count;
    *rooms = nsp->rooms.rooms.count;
}

void sio_server_connects(const sio_server_t *sio, sio_connect_stats_t *out)
{
    *out = sio->connects;
}

const prom_hist_t *sio_server_event_handling(const sio_server_t *sio)
{
    return &sio->handling;
}

static sio_socket_t *socket_of_member(room_member_t *m)
{
    return (sio_socket_t *)((char *)m - offsetof(sio_socket_t, rm));
}

/* ---- encoding ---- */

/* Builds the JSON array [event, args...] (event NULL: [args...]). */
static void data_build(sbuf_t *data, const char *event, size_t event_len, const char *args,
                       size_t args_len)
{
    sbuf_append_char(data, '[');
    if (event) {
        jtext_append_string(data, event, event_len);
        if (args_len) sbuf_append_char(data, ',');
    }
    sbuf_append(data, args, args_len);
    sbuf_append_char(data, ']');
}

void sio_frames_from_data(packet_frames_t *pf, const sio_nsp_t *nsp, sio_type_t type, int64_t id,
                          const char *data, size_t data_len, const sio_attachment_t *att,
                          unsigned natt)
{
    sbuf_t pkt = SBUF_INIT;
    sio_packet_t p = {
        .type = natt ? (type == SIO_ACK ? SIO_BINARY_ACK : SIO_BINARY_EVENT) : type,
        .nsp = nsp->name,
        .nsp_len = nsp->len,
        .id = id,
        .attachments = natt,
        .data = data,
        .data_len = data_len,
    };
    sio_packet_encode(&pkt, &p);
    pf->text = frame_new_text(EIO_MESSAGE, pkt.data, pkt.len);
    pf->natt = natt;
    pf->att = natt ? xmalloc(natt * sizeof *pf->att) : NULL;
    for (unsigned i = 0; i < natt; i++) pf->att[i] = frame_new_binary(att[i].data, att[i].len);
    sbuf_free(&pkt);
}

static void frames_build(packet_frames_t *pf, const sio_nsp_t *nsp, sio_type_t type, int64_t id,
                         const char *event, size_t event_len, const char *args, size_t args_len,
                         const sio_attachment_t *att, unsigned natt)
{
    sbuf_t data = SBUF_INIT;
    data_build(&data, event, event_len, args, args_len);
    sio_frames_from_data(pf, nsp, type, id, data.data, data.len, att, natt);
    sbuf_free(&data);
}

void sio_frames_free(packet_frames_t *pf)
{
    frame_unref(pf->text);
    for (unsigned i = 0; i < pf->natt; i++) frame_unref(pf->att[i]);
    free(pf->att);
}

void sio_frames_send(sio_conn_t *c, const packet_frames_t *pf)
{
    if (!c->eio) return;
    c->sio->events_out++;
    eio_send(c->eio, pf->text);
    for (unsigned i = 0; i < pf->natt; i++) eio_send(c->eio, pf->att[i]);
}

/* A volatile packet is dropped for a client that is not ready to take it right now. */
static void frames_send_volatile(sio_conn_t *c, const packet_frames_t *pf)
{
    if (c->eio && eio_ready(c->eio)) sio_frames_send(c, pf);
}

void sio_send_raw(sio_conn_t *c, sio_type_t type, const char *nsp, size_t nsp_len, const char *data,
                  size_t data_len)
{
    if (!c->eio) return;
    sbuf_t pkt = SBUF_INIT;
    sio_packet_t p = {type, nsp, nsp_len, -1, 0, data, data_len};
    sio_packet_encode(&pkt, &p);
    frame_t *f = frame_new_text(EIO_MESSAGE, pkt.data, pkt.len);
    eio_send(c->eio, f);
    frame_unref(f);
    sbuf_free(&pkt);
}

/* A client of Socket.IO protocol v4 (Engine.IO v3), which has no auth payload and gets no
 * session ids, recovery offsets or pids. */
static int conn_legacy(const sio_conn_t *c)
{
    return c->legacy;
}

/* ---- emitting ---- */

int sio_nsp_recovers(const sio_nsp_t *nsp)
{
    return nsp->sio->rec_window != 0 && !nsp->mod;
}

/* Whether the packets of nsp carry recovery offsets. */
static int rec_on(const sio_nsp_t *nsp)
{
    return sio_nsp_recovers(nsp);
}

void sio_emit(sio_socket_t *s, const char *event, size_t event_len, const char *args,
              size_t args_len, const sio_attachment_t *att, unsigned natt)
{
    const sio_observer_t *o = &s->nsp->sio->observer;
    if (o->event_out) {
        sbuf_t data = SBUF_INIT;
        data_build(&data, event, event_len, args, args_len);
        o->event_out(o->ctx, s, data.data, data.len);
        sbuf_free(&data);
    }
    if (rec_on(s->nsp)) { /* logged, as a broadcast to the socket's own room */
        sbuf_t data = SBUF_INIT;
        data_build(&data, event, event_len, args, args_len);
        str_t room = {s->id, strlen(s->id)};
        s->nsp->sio->rec_ops->publish(s->nsp, &room, 1, NULL, 0, data.data, data.len, att, natt,
                                      NULL);
        sbuf_free(&data);
        return;
    }
    packet_frames_t pf;
    frames_build(&pf, s->nsp, SIO_EVENT, -1, event, event_len, args, args_len, att, natt);
    sio_frames_send(s->conn, &pf);
    sio_frames_free(&pf);
}

/* Records an ack the client owes; returns its id. When the list is full the oldest is
 * forgotten (its callback, if any, is told with a NULL ack). */
static uint32_t ack_expect(sio_socket_t *s, uint64_t tag, sio_ack_cb cb, void *ud)
{
    uint32_t id = s->next_ack++;
    pending_acks_t *a = s->acks;
    if (!a || a->n == a->cap) {
        uint32_t cap = a ? a->cap * 2 : 2;
        if (cap > SIO_MAX_PENDING_ACKS) cap = SIO_MAX_PENDING_ACKS;
        if (!a || cap > a->cap) {
            a = xrealloc(a, sizeof *a + cap * sizeof a->item[0]);
            if (!s->acks) a->n = 0;
            a->cap = cap;
            s->acks = a;
        }
    }
    if (a->n == a->cap) { /* full: forget the oldest */
        uint32_t oldest = 0;
        for (uint32_t i = 1; i < a->n; i++)
            if (id - a->item[i].id > id - a->item[oldest].id) oldest = i;
        pending_ack_t gone = a->item[oldest];
        a->item[oldest] = a->item[--a->n];
        if (gone.cb) gone.cb(gone.ud, s, NULL);
    }
    a->item[a->n++] = (pending_ack_t){id, tag, cb, ud};
    return id;
}

/* Tells the callbacks of acks that will never come (the socket is going). */
static void acks_cancel(sio_socket_t *s)
{
    pending_acks_t *a = s->acks;
    s->acks = NULL;
    for (uint32_t i = 0; a && i < a->n; i++)
        if (a->item[i].cb) a->item[i].cb(a->item[i].ud, s, NULL);
    free(a);
}

void sio_emit_with_ack(sio_socket_t *s, uint64_t tag, const char *event, size_t event_len,
                       const char *args, size_t args_len, const sio_attachment_t *att,
                       unsigned natt)
{
    uint32_t id = ack_expect(s, tag, NULL, NULL);
    packet_frames_t pf;
    frames_build(&pf, s->nsp, SIO_EVENT, id, event, event_len, args, args_len, att, natt);
    sio_frames_send(s->conn, &pf);
    sio_frames_free(&pf);
}

void sio_ack(sio_socket_t *s, int64_t ack_id, const char *args, size_t args_len,
             const sio_attachment_t *att, unsigned natt)
{
    if (ack_id < 0) return;
    packet_frames_t pf;
    frames_build(&pf, s->nsp, SIO_ACK, ack_id, NULL, 0, args, args_len, att, natt);
    sio_frames_send(s->conn, &pf);
    sio_frames_free(&pf);
}

/* Calls fn for every socket in room name of nsp (a socket id counts as a room). */
static void visit_room(sio_nsp_t *nsp, const str_t *room, void (*fn)(sio_socket_t *, void *),
                       void *arg)
{
    room_t *r = room_find(&nsp->rooms, room->ptr, room->len);
    if (r) {
        for (uint32_t i = 0; i < r->n; i++) fn(socket_of_member(r->members[i].member), arg);
        return;
    }
    sio_socket_t *s = strmap_get(&nsp->sockets, room->ptr, room->len);
    if (s) fn(s, arg);
}

/* A packet's data without its recovery offset, for the clients that take none (protocol v4):
 * encoded the first time one of them is a recipient. */
typedef struct {
    sio_nsp_t *nsp;
    const char *data;
    size_t data_len;
    const sio_attachment_t *att;
    unsigned natt;
    packet_frames_t pf;
    int made;
} plain_t;

typedef struct {
    uint32_t gen;
    const packet_frames_t *pf;
    int is_volatile;
    rec_offset_t offset; /* a logged packet's, else 0 */
    size_t count;
    plain_t *plain; /* when pf carries an offset, else NULL */
} bcast_t;

static void mark_excluded(sio_socket_t *s, void *arg)
{
    s->mark = ((bcast_t *)arg)->gen;
}

static void deliver(sio_socket_t *s, void *arg)
{
    bcast_t *b = arg;
    if (s->mark == b->gen || s->state != SOCK_CONNECTED) return;
    s->mark = b->gen;
    if (b->offset) {
        if (s->cursor >= b->offset) return; /* it has it (replayed to it already) */
        s->cursor = b->offset;
    }
    const packet_frames_t *pf = b->pf;
    if (b->plain && conn_legacy(s->conn)) {
        plain_t *p = b->plain;
        if (!p->made)
            sio_frames_from_data(&p->pf, p->nsp, SIO_EVENT, -1, p->data, p->data_len, p->att,
                                 p->natt);
        p->made = 1;
        pf = &p->pf;
    }
    if (b->is_volatile)
        frames_send_volatile(s->conn, pf);
    else
        sio_frames_send(s->conn, pf);
    b->count++;
}

/* Sends the encoded packet pf to the sockets of nsp in rooms minus except; plain, when pf
 * carries an offset, is the packet for the clients that take none. */
static size_t deliver_frames(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                             size_t nexcept, const packet_frames_t *pf, unsigned flags,
                             rec_offset_t offset, plain_t *plain)
{
    if (++nsp->gen == 0) nsp->gen = 1;
    bcast_t b = {nsp->gen, pf, (flags & SIO_VOLATILE) != 0, offset, 0, plain};
    for (size_t i = 0; i < nexcept; i++) visit_room(nsp, &except[i], mark_excluded, &b);
    if (nrooms == 0) {
        void *v;
        for (size_t i = 0; strmap_next(&nsp->sockets, &i, NULL, NULL, &v);) deliver(v, &b);
    } else {
        for (size_t i = 0; i < nrooms; i++) visit_room(nsp, &rooms[i], deliver, &b);
    }
    eio_server_fanout(server_eio(nsp->sio->srv), b.count);
    if (plain && plain->made) sio_frames_free(&plain->pf);
    return b.count;
}

size_t sio_deliver(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                   size_t nexcept, const char *data, size_t data_len, const sio_attachment_t *att,
                   unsigned natt, unsigned flags)
{
    /* alone, the log is this node's: what it delivers, it logs (in a cluster with a store,
     * what arrives here unlogged was published by a server that keeps no log) */
    if (rec_on(nsp) && !nsp->sio->has_store && !(flags & SIO_VOLATILE))
        return nsp->sio->rec_ops->publish(nsp, rooms, nrooms, except, nexcept, data, data_len, att,
                                          natt, NULL);
    packet_frames_t pf;
    sbuf_t with = SBUF_INIT;
    plain_t plain = {nsp, data, data_len, att, natt, {0}, 0}, *without = NULL;
    /* not logged: with recovery on it still ends with an offset, the last one handled here
     * (every logged packet up to it reached its sockets), so a client never takes a last
     * string argument of the app's for its cursor */
    if (rec_on(nsp) && rec_offset_append_to_array(&with, data, data_len, nsp->last) == 0) {
        data = with.data;
        data_len = with.len;
        without = &plain;
    }
    sio_frames_from_data(&pf, nsp, SIO_EVENT, -1, data, data_len, att, natt);
    size_t n = deliver_frames(nsp, rooms, nrooms, except, nexcept, &pf, flags, 0, without);
    sio_frames_free(&pf);
    sbuf_free(&with);
    return n;
}

size_t sio_deliver_logged(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                          size_t nexcept, const char *data, size_t data_len,
                          const sio_attachment_t *att, unsigned natt, rec_offset_t offset)
{
    packet_frames_t pf;
    sbuf_t with = SBUF_INIT;
    if (offset <= nsp->last || rec_offset_append_to_array(&with, data, data_len, offset) < 0) {
        sbuf_free(&with);
        return 0; /* handled already (or not an array) */
    }
    sio_frames_from_data(&pf, nsp, SIO_EVENT, -1, with.data, with.len, att, natt);
    plain_t plain = {nsp, data, data_len, att, natt, {0}, 0};
    size_t n = deliver_frames(nsp, rooms, nrooms, except, nexcept, &pf, 0, offset, &plain);
    nsp->last = offset;
    sio_frames_free(&pf);
    sbuf_free(&with);
    return n;
}

typedef struct {
    uint32_t gen;
    sio_socket_t **v;
    size_t n, cap;
} select_t;

static void select_add(sio_socket_t *s, void *arg)
{
    select_t *sel = arg;
    if (s->mark == sel->gen || s->state != SOCK_CONNECTED) return;
    s->mark = sel->gen;
    if (sel->n == sel->cap) {
        sel->cap = sel->cap ? sel->cap * 2 : 16;
        sel->v = xrealloc(sel->v, sel->cap * sizeof *sel->v);
    }
    sel->v[sel->n++] = s;
}

/* Calls fn once per socket of rooms (every socket when nrooms is 0) outside except, with
 * sel's gen set to the walk's mark. */
static void select_walk(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                        size_t nexcept, void (*fn)(sio_socket_t *, void *), select_t *sel)
{
    if (++nsp->gen == 0) nsp->gen = 1;
    sel->gen = nsp->gen;
    bcast_t mark = {nsp->gen, NULL, 0, 0, 0, NULL};
    for (size_t i = 0; i < nexcept; i++) visit_room(nsp, &except[i], mark_excluded, &mark);
    if (nrooms == 0) {
        void *v;
        for (size_t i = 0; strmap_next(&nsp->sockets, &i, NULL, NULL, &v);) fn(v, sel);
    } else {
        for (size_t i = 0; i < nrooms; i++) visit_room(nsp, &rooms[i], fn, sel);
    }
}

size_t sio_select(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                  size_t nexcept, sio_socket_t ***out)
{
    select_t sel = {0, NULL, 0, 0};
    select_walk(nsp, rooms, nrooms, except, nexcept, select_add, &sel);
    *out = sel.v;
    return sel.n;
}

static void count_add(sio_socket_t *s, void *arg)
{
    select_t *sel = arg;
    if (s->mark == sel->gen || s->state != SOCK_CONNECTED) return;
    s->mark = sel->gen;
    sel->n++;
}

size_t sio_count(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                 size_t nexcept)
{
    select_t sel = {0, NULL, 0, 0};
    select_walk(nsp, rooms, nrooms, except, nexcept, count_add, &sel);
    return sel.n;
}

void sio_socket_rooms(const sio_socket_t *s, void (*fn)(const char *room, size_t len, void *arg),
                      void *arg)
{
    fn(s->id, SID_RANDOM_LEN, arg);
    for (uint32_t i = 0; i < s->rm.nrooms; i++)
        fn(s->rm.rooms[i].room->name, s->rm.rooms[i].room->len, arg);
}

void sio_nsp_rooms(sio_nsp_t *nsp,
                   void (*fn)(const char *room, size_t len, size_t members, void *arg), void *arg)
{
    void *v;
    for (size_t i = 0; strmap_next(&nsp->rooms.rooms, &i, NULL, NULL, &v);)
        fn(((room_t *)v)->name, ((room_t *)v)->len, ((room_t *)v)->n, arg);
    for (size_t i = 0; strmap_next(&nsp->sockets, &i, NULL, NULL, &v);)
        fn(((sio_socket_t *)v)->id, SID_RANDOM_LEN, 1, arg);
}

sio_server_t *sio_nsp_server(const sio_nsp_t *nsp)
{
    return nsp->sio;
}

void sio_server_set_app_state(sio_server_t *sio, void *state)
{
    sio->app_state = state;
}

void *sio_server_app_state(const sio_server_t *sio)
{
    return sio->app_state;
}

const app_module_t *sio_server_app(const sio_server_t *sio)
{
    return sio->app;
}

void *sio_server_cluster(const sio_server_t *sio)
{
    return sio->cluster.ctx;
}

const char *sio_socket_headers(const sio_socket_t *s)
{
    return s->conn && s->conn->eio ? eio_session_headers(s->conn->eio) : NULL;
}

int sio_socket_handshake(const sio_socket_t *s, sio_handshake_t *hs)
{
    memset(hs, 0, sizeof *hs);
    if (!s->conn->eio) return -1;
    hs->issued_ms = eio_session_issued_ms(s->conn->eio);
    eio_session_address(s->conn->eio, hs->address, sizeof hs->address);
    hs->transport =
        eio_session_transport(s->conn->eio) == EIO_TR_WEBSOCKET ? "websocket" : "polling";
    hs->path = s->conn->sio->srv->cfg->path;
    hs->sid = eio_session_id(s->conn->eio);
    hs->protocol = eio_session_protocol(s->conn->eio);
    return 0;
}

sio_socket_t *sio_socket_find(sio_nsp_t *nsp, const char *id, size_t len)
{
    return strmap_get(&nsp->sockets, id, len);
}

size_t sio_deliver_with_ack(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                            size_t nexcept, const char *data, size_t data_len,
                            const sio_attachment_t *att, unsigned natt, sio_ack_cb cb, void *ud)
{
    sio_socket_t **sel;
    size_t n = sio_select(nsp, rooms, nrooms, except, nexcept, &sel);
    for (size_t i = 0; i < n; i++) {
        /* each client gets its own ack id, so each gets its own encoding */
        uint32_t id = ack_expect(sel[i], 0, cb, ud);
        packet_frames_t pf;
        sio_frames_from_data(&pf, nsp, SIO_EVENT, id, data, data_len, att, natt);
        sio_frames_send(sel[i]->conn, &pf);
        sio_frames_free(&pf);
    }
    free(sel);
    return n;
}

size_t sio_broadcast(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                     size_t nexcept, const char *event, size_t event_len, const char *args,
                     size_t args_len, const sio_attachment_t *att, unsigned natt, unsigned flags)
{
    sbuf_t data = SBUF_INIT;
    data_build(&data, event, event_len, args, args_len);
    if (rec_on(nsp) && nsp->sio->has_store && !(flags & (SIO_VOLATILE | SIO_NOLOG))) {
        /* logged cluster-wide: the store publishes it, and it comes back here in order */
        size_t n = nsp->sio->rec_ops->publish(nsp, rooms, nrooms, except, nexcept, data.data,
                                              data.len, att, natt, NULL);
        sbuf_free(&data);
        return n;
    }
    size_t n =
        sio_deliver(nsp, rooms, nrooms, except, nexcept, data.data, data.len, att, natt, flags);
    const sio_cluster_t *cl = &nsp->sio->cluster;
    if (cl->publish)
        cl->publish(cl->ctx, nsp, rooms, nrooms, except, nexcept, data.data, data.len, att, natt,
                    flags);
    sbuf_free(&data);
    return n;
}

void sio_broadcast_once(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms, const str_t *except,
                        size_t nexcept, const char *event, size_t event_len, const char *args,
                        size_t args_len, const sio_once_t *once)
{
    if (!(rec_on(nsp) && nsp->sio->has_store)) {
        /* no cluster log to ask: a first send goes out as any broadcast, a send again not */
        if (!once->again)
            sio_broadcast(nsp, rooms, nrooms, except, nexcept, event, event_len, args, args_len,
                          NULL, 0, 0);
        once->done(once->ud, once->again ? SIO_ONCE_SENT_BEFORE : SIO_ONCE_SENT);
        return;
    }
    sbuf_t data = SBUF_INIT;
    data_build(&data, event, event_len, args, args_len);
    nsp->sio->rec_ops->publish(nsp, rooms, nrooms, except, nexcept, data.data, data.len, NULL, 0,
                               once);
    sbuf_free(&data);
}

int sio_join(sio_socket_t *s, const char *room, size_t len)
{
    sio_nsp_t *nsp = s->nsp;
    int fresh = room_find(&nsp->rooms, room, len) == NULL;
    int added = room_join(&nsp->rooms, &s->rm, room, len);
    if (added) {
        s->rm.rooms[s->rm.nrooms - 1].stamp = nsp->last;
        if (nsp->sio->rec_ops) nsp->sio->rec_ops->room(s, room, len, 1, nsp->last);
    }
    const sio_cluster_t *cl = &nsp->sio->cluster;
    if (fresh && cl->room_added) cl->room_added(cl->ctx, nsp, room, len);
    const sio_observer_t *o = &nsp->sio->observer;
    if (added && o->joined && s->state == SOCK_CONNECTED) o->joined(o->ctx, s, room, len);
    return added;
}

/* Removes membership i of s, telling the cluster when the room is left empty. */
static void leave_at(sio_socket_t *s, uint32_t i)
{
    sio_nsp_t *nsp = s->nsp;
    room_t *r = s->rm.rooms[i].room;
    int last = r->n == 1;
    const sio_cluster_t *cl = &nsp->sio->cluster;
    char *name = last && cl->room_removed ? xstrndup(r->name, r->len) : NULL;
    size_t len = r->len;
    room_leave(&nsp->rooms, &s->rm, r->name, r->len);
    if (name) {
        cl->room_removed(cl->ctx, nsp, name, len);
        free(name);
    }
}

int sio_leave(sio_socket_t *s, const char *room, size_t len)
{
    room_t *r = room_find(&s->nsp->rooms, room, len);
    for (uint32_t i = 0; r && i < s->rm.nrooms; i++) {
        if (s->rm.rooms[i].room == r) {
            if (s->nsp->sio->rec_ops) s->nsp->sio->rec_ops->room(s, room, len, 0, 0);
            const sio_observer_t *o = &s->nsp->sio->observer;
            if (o->left && s->state == SOCK_CONNECTED) o->left(o->ctx, s, room, len);
            leave_at(s, i);
            return 1;
        }
    }
    return 0;
}

void sio_server_set_cluster(sio_server_t *sio, const sio_cluster_t *cluster)
{
    sio->cluster = *cluster;
}

void sio_server_set_observer(sio_server_t *sio, const sio_observer_t *o)
{
    sio->observer = *o;
}

const app_module_t *sio_nsp_module(const sio_nsp_t *nsp)
{
    return nsp->mod ? nsp->mod : nsp->sio->app;
}

void *sio_nsp_module_state(const sio_nsp_t *nsp)
{
    return nsp->mod_state;
}

void sio_foreach_nsp(sio_server_t *sio, void (*fn)(sio_nsp_t *nsp, void *arg), void *arg)
{
    void *v;
    for (size_t i = 0; strmap_next(&sio->nsps, &i, NULL, NULL, &v);) fn(v, arg);
}

sio_nsp_t *sio_nsp_find(sio_server_t *sio, const char *name, size_t len)
{
    return strmap_get(&sio->nsps, name, len);
}

/* ---- sockets ---- */

static sio_nsp_t *nsp_get(sio_server_t *sio, const char *name, size_t len)
{
    sio_nsp_t *nsp = strmap_get(&sio->nsps, name, len);
    if (!nsp) {
        nsp = xcalloc(1, sizeof *nsp);
        nsp->name = xstrndup(name, len);
        nsp->len = len;
        nsp->sio = sio;
        strmap_put(&sio->nsps, nsp->name, nsp->len, nsp);
        if (sio->cluster.nsp_added) sio->cluster.nsp_added(sio->cluster.ctx, nsp);
    }
    return nsp;
}

void sio_server_mount(sio_server_t *sio, const char *name, const app_module_t *mod, void *state)
{
    sio_nsp_t *nsp = nsp_get(sio, name, strlen(name));
    nsp->mod = mod;
    nsp->mod_state = state;
}

static sio_socket_t *conn_socket(sio_conn_t *c, const char *nsp, size_t len)
{
    for (sio_socket_t *s = c->sockets; s; s = s->next)
        if (s->nsp->len == len && memcmp(s->nsp->name, nsp, len) == 0) return s;
    return NULL;
}

int sio_socket_selected(const sio_socket_t *s, const str_t *rooms, size_t nrooms,
                        const str_t *except, size_t nexcept, rec_offset_t at)
{
    const room_index_t *ix = &s->nsp->rooms;
    int in = nrooms == 0;
    for (size_t i = 0; i < nrooms + nexcept; i++) {
        const str_t *r = i < nrooms ? &rooms[i] : &except[i - nrooms];
        if (i < nrooms && in) continue;
        int member = r->len == SID_RANDOM_LEN && memcmp(r->ptr, s->id, SID_RANDOM_LEN) == 0;
        room_t *room = member ? NULL : room_find(ix, r->ptr, r->len);
        for (uint32_t m = 0; room && m < s->rm.nrooms; m++)
            if (s->rm.rooms[m].room == room && s->rm.rooms[m].stamp < at) member = 1;
        if (!member) continue;
        if (i >= nrooms) return 0; /* excepted */
        in = 1;
    }
    return in;
}

void sio_socket_attach(sio_socket_t *s, sio_conn_t *c)
{
    sio_server_t *sio = c->sio;
    s->conn = c;
    s->state = SOCK_CONNECTED;
    strmap_put(&s->nsp->sockets, s->id, SID_RANDOM_LEN, s);
    if (sio->cluster.room_added)
        sio->cluster.room_added(sio->cluster.ctx, s->nsp, s->id, SID_RANDOM_LEN);
    s->next = c->sockets;
    c->sockets = s;
    sio->nsockets++;
    deadline_queue_remove(&sio->connect_q, &c->connect_node);
}

void sio_socket_detach(sio_socket_t *s)
{
    sio_conn_t *c = s->conn;
    sio_server_t *sio = s->nsp->sio;
    acks_cancel(s);
    strmap_del(&s->nsp->sockets, s->id, SID_RANDOM_LEN);
    if (sio->cluster.room_removed)
        sio->cluster.room_removed(sio->cluster.ctx, s->nsp, s->id, SID_RANDOM_LEN);
    for (sio_socket_t **pp = &c->sockets; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    s->next = NULL;
    s->conn = NULL;
    sio->nsockets--;
}

void sio_socket_free(sio_socket_t *s, const char *reason)
{
    sio_server_t *sio = s->nsp->sio;
    const app_module_t *mod = sio_nsp_module(s->nsp);
    if (mod->disconnect) mod->disconnect(s, reason);
    if (s->pid[0] && sio->has_store && strcmp(reason, SIO_REASON_MOVED) != 0)
        sio->store.session_end(sio->store.ctx, s);
    while (s->rm.nrooms) leave_at(s, s->rm.nrooms - 1);
    if (sio->rec_ops) sio->rec_ops->session_free(s);
    free(s);
}

/* The socket's connection went (or the namespace was left): its session is kept when it may
 * come back, else it goes. */
static void socket_remove(sio_socket_t *s, const char *reason)
{
    const sio_observer_t *o = &s->nsp->sio->observer;
    if (o->disconnected) o->disconnected(o->ctx, s, reason);
    if (o->left) { /* and out of its rooms, its own first */
        o->left(o->ctx, s, s->id, strlen(s->id));
        for (uint32_t i = 0; i < s->rm.nrooms; i++)
            o->left(o->ctx, s, s->rm.rooms[i].room->name, s->rm.rooms[i].room->len);
    }
    int final = s->conn->final;
    sio_socket_detach(s);
    const struct sio_rec_ops *rec = s->nsp->sio->rec_ops;
    if (final || !rec || !rec->keep(s, reason)) sio_socket_free(s, reason);
}

void sio_disconnect(sio_socket_t *s)
{
    sio_send_raw(s->conn, SIO_DISCONNECT, s->nsp->name, s->nsp->len, NULL, 0);
    socket_remove(s, "server namespace disconnect");
}

void sio_close_connection(sio_socket_t *s)
{
    sio_conn_t *c = s->conn;
    c->final = 1; /* a server's close is final: none of its sessions is kept */
    if (c->eio) eio_close(c->eio, "forced server close");
}

/* ---- connections ---- */

/* Counts n more bytes held in c->bin. */
static void bin_hold(sio_conn_t *c, size_t n)
{
    c->bin_held += (uint32_t)n;
    server_mem_add(c->sio->srv, n);
}

static void bin_drop(sio_conn_t *c)
{
    if (!c->bin) return;
    server_mem_sub(c->sio->srv, c->bin_held);
    c->bin_held = 0;
    sio_binary_free(c->bin);
    free(c->bin);
    c->bin = NULL;
}

static void conn_free(sio_conn_t *c)
{
    bin_drop(c);
    free(c);
}

void sio_conn_hold(sio_conn_t *c)
{
    c->busy++;
}

void sio_conn_release(sio_conn_t *c)
{
    if (--c->busy == 0 && c->closed) conn_free(c);
}

/* Ends the whole session because of a protocol error. */
static void conn_fail(sio_conn_t *c, const char *what, int err)
{
    log_debug("closing session", "sid=%s reason=\"%s\" error=\"%s\"",
              c->eio ? eio_session_id(c->eio) : "-", what, err ? sio_strerror(err) : "");
    if (c->eio) eio_close(c->eio, "parse error");
}

/* The app admitted s (made for c's CONNECT to its namespace): it becomes a socket and its
 * CONNECT is answered. */
static void connect_admitted(sio_conn_t *c, sio_socket_t *s, const char *auth, size_t auth_len,
                             const char *owner, size_t owner_len, int owned)
{
    sio_server_t *sio = c->sio;
    sio_nsp_t *nsp = s->nsp;
    const app_module_t *app = sio_nsp_module(nsp);
    /* a socket id taken while the app thought: ids are random, so this is for form's sake */
    while (strmap_get(&nsp->sockets, s->id, SID_RANDOM_LEN))
        sid_generate(s->id, sizeof s->id, NULL);
    sio_socket_attach(s, c);
    if (sio->rec_ops && owned) sio->rec_ops->session_new(s, owner, owner_len);
    char reply[96];
    int n = s->pid[0]
                ? snprintf(reply, sizeof reply, "{\"sid\":\"%s\",\"pid\":\"%s\"}", s->id, s->pid)
                : snprintf(reply, sizeof reply, "{\"sid\":\"%s\"}", s->id);
    if (conn_legacy(c))
        sio_send_raw(c, SIO_CONNECT, nsp->name, nsp->len, NULL, 0); /* protocol v4: no payload */
    else
        sio_send_raw(c, SIO_CONNECT, nsp->name, nsp->len, reply, (size_t)n);
    sio->connects.admitted++;
    if (sio->observer.connected) sio->observer.connected(sio->observer.ctx, s);
    if (app->connected) app->connected(s, auth, auth_len);
}

/* A refusal {"message":..,"data":..} as protocol v4 has it (Node's err.data || err.message):
 * the data when it is truthy, else the message (a JSON string), else the whole. */
static void legacy_error(const char *err, size_t len, sbuf_t *out)
{
    const char *key, *val, *message = NULL, *data = NULL;
    size_t klen, vlen, mlen = 0, dlen = 0;
    jtext_kind_t kind;
    jtext_iter_t it;
    jtext_iter_init(&it, err, len);
    while (jtext_object_next(&it, &key, &klen, &val, &vlen, &kind)) {
        if (jtext_string_is(key, klen, "data") && jtext_truthy(val, vlen, kind))
            data = val, dlen = vlen;
        if (jtext_string_is(key, klen, "message")) message = val, mlen = vlen;
    }
    if (data)
        sbuf_append(out, data, dlen);
    else if (message)
        sbuf_append(out, message, mlen);
    else
        sbuf_append(out, err, len);
}

static void connect_refused(sio_conn_t *c, sio_socket_t *s, const char *err, size_t len)
{
    static const char dflt[] = "{\"message\":\"Connection refused\"}";
    if (!len) {
        err = dflt;
        len = sizeof dflt - 1;
    }
    c->sio->connects.refused++;
    sbuf_t legacy = SBUF_INIT;
    if (conn_legacy(c)) {
        /* protocol v4 sends the error's data, or else its message, as the payload */
        legacy_error(err, len, &legacy);
        err = legacy.data;
        len = legacy.len;
    }
    sio_send_raw(c, SIO_CONNECT_ERROR, s->nsp->name, s->nsp->len, err, len);
    sbuf_free(&legacy);
    free(s);
}

void sio_connect_new(sio_conn_t *c, sio_nsp_t *nsp, const char *auth, size_t auth_len,
                     const char *owner, size_t owner_len, int owned)
{
    const app_module_t *app = sio_nsp_module(nsp);
    sio_socket_t *s = xcalloc(1, sizeof *s);
    do sid_generate(s->id, sizeof s->id, NULL);
    while (strmap_get(&nsp->sockets, s->id, SID_RANDOM_LEN));
    s->nsp = nsp;
    s->conn = c;
    sbuf_t err = SBUF_INIT;
    int rc = app->connect ? app->connect(s, auth, auth_len, &err) : 0;
    if (rc == APP_CONNECT_PENDING) {
        sio_pending_connect_t *p = xcalloc(1, sizeof *p);
        s->state = SOCK_PENDING;
        p->s = s;
        p->auth = xmemdup(auth, auth_len);
        p->auth_len = auth_len;
        p->owner = owner_len ? xmemdup(owner, owner_len) : NULL;
        p->owner_len = owner_len;
        p->owned = owned;
        p->next = c->pending;
        c->pending = p;
    } else if (rc != 0) {
        connect_refused(c, s, err.data, err.len);
    } else {
        connect_admitted(c, s, auth, auth_len, owner, owner_len, owned);
    }
    sbuf_free(&err);
}

/* Takes s's pending CONNECT off its connection's list. */
static sio_pending_connect_t *pending_take(sio_socket_t *s)
{
    for (sio_pending_connect_t **pp = &s->conn->pending; *pp; pp = &(*pp)->next) {
        if ((*pp)->s != s) continue;
        sio_pending_connect_t *p = *pp;
        *pp = p->next;
        return p;
    }
    return NULL;
}

static void pending_free(sio_pending_connect_t *p)
{
    free(p->auth);
    free(p->owner);
    free(p);
}

void sio_connect_done(sio_socket_t *s, const char *error, size_t error_len)
{
    sio_conn_t *c = s->conn;
    sio_pending_connect_t *p = s->state == SOCK_PENDING ? pending_take(s) : NULL;
    if (!p) { /* not pending: the app's mistake, which must not become a crash */
        log_error("sio_connect_done for a socket not pending", "sid=%s", s->id);
        return;
    }
    s->state = SOCK_CONNECTED;
    sio_conn_hold(c);
    if (error)
        connect_refused(c, s, error, error_len);
    else
        connect_admitted(c, s, p->auth, p->auth_len, p->owner, p->owner_len, p->owned);
    pending_free(p);
    sio_conn_release(c);
}

/* c's CONNECTs still pending go unanswered: the app forgets them. */
static void pending_abandon(sio_conn_t *c)
{
    while (c->pending) {
        sio_pending_connect_t *p = c->pending;
        c->pending = p->next;
        const app_module_t *mod = sio_nsp_module(p->s->nsp);
        if (mod->connect_abandoned) mod->connect_abandoned(p->s);
        free(p->s);
        pending_free(p);
    }
}

const char *sio_socket_pending_auth(const sio_socket_t *s, size_t *len)
{
    *len = 0;
    if (s->state != SOCK_PENDING) return NULL;
    for (const sio_pending_connect_t *p = s->conn->pending; p; p = p->next) {
        if (p->s != s) continue;
        *len = p->auth_len;
        return p->auth;
    }
    return NULL;
}

static int pending_for(const sio_conn_t *c, const char *nsp, size_t len)
{
    for (const sio_pending_connect_t *p = c->pending; p; p = p->next)
        if (p->s->nsp->len == len && memcmp(p->s->nsp->name, nsp, len) == 0) return 1;
    return 0;
}

/* auth: the CONNECT's payload; for a protocol v4 client, the query of its namespace
 * ("/chat?token=abc") or, for "/", of its handshake, as a JSON object of strings. */
static void on_connect(sio_conn_t *c, const sio_packet_t *p, const char *auth, size_t auth_len)
{
    sio_server_t *sio = c->sio;
    const app_module_t *app = sio->app;
    sio_nsp_t *mounted = sio_nsp_find(sio, p->nsp, p->nsp_len);
    if (mounted && !mounted->mod) mounted = NULL;
    if (!mounted && (!app->serves || !app->serves(sio->app_state, p->nsp, p->nsp_len))) {
        static const char err[] = "{\"message\":\"Invalid namespace\"}";
        sio->connects.bad_namespace++;
        sio_send_raw(c, SIO_CONNECT_ERROR, p->nsp, p->nsp_len, err, sizeof err - 1);
        return;
    }
    sio_nsp_t *nsp = nsp_get(sio, p->nsp, p->nsp_len);
    if (!auth) {
        auth = p->data ? p->data : "{}";
        auth_len = p->data ? p->data_len : 2;
    }
    sbuf_t owner = SBUF_INIT;
    int owned = 0;
    if (sio->rec_window && !conn_legacy(c) && !mounted) {
        owned = !app->session_owner || app->session_owner(sio, auth, auth_len, &owner) == 0;
        if (owned && sio->rec_ops->connect(c, nsp, auth, auth_len, owner.data, owner.len)) {
            sbuf_free(&owner);
            return;
        }
    }
    sio_connect_new(c, nsp, auth, auth_len, owner.data, owner.len, owned);
    sbuf_free(&owner);
}

/* Splits a validated JSON array into its first element (*first NULL and *first_kind
 * JTEXT_INVALID when it is empty) and the text of the rest. */
static void split_args(const char *arr, size_t len, const char **first, size_t *first_len,
                       jtext_kind_t *first_kind, const char **rest, size_t *rest_len)
{
    jtext_iter_t it;
    jtext_iter_init(&it, arr, len);
    if (!jtext_array_next(&it, first, first_len, first_kind)) {
        *first = NULL;
        *first_len = 0;
        *first_kind = JTEXT_INVALID;
    }
    jtext_iter_rest(&it, rest, rest_len);
}

/* The whole array content as an argument list (for acks). */
static void inner_args(const char *arr, size_t len, const char **rest, size_t *rest_len)
{
    jtext_iter_t it;
    jtext_iter_init(&it, arr, len);
    jtext_iter_rest(&it, rest, rest_len);
}

int sio_event_from_array(const char *arr, size_t len, char *name, size_t cap, sio_event_t *ev)
{
    if (jtext_validate(arr, len) != JTEXT_ARRAY) return -1;
    const char *first;
    size_t first_len;
    jtext_kind_t kind;
    memset(ev, 0, sizeof *ev);
    ev->ack_id = -1;
    split_args(arr, len, &first, &first_len, &kind, &ev->args, &ev->args_len);
    if (kind == JTEXT_STRING && first_len + 1 <= cap) {
        long n = jtext_string_decode(first, first_len, name, cap);
        if (n >= 0) {
            ev->name = name;
            ev->name_len = (size_t)n;
        }
    }
    return 0;
}

static void on_event(sio_conn_t *c, sio_socket_t *s, const sio_packet_t *p,
                     const sio_attachment_t *att, unsigned natt)
{
    sio_event_t ev = {.att = att, .natt = natt, .ack_id = p->id};
    const char *first;
    size_t first_len;
    jtext_kind_t kind;
    split_args(p->data, p->data_len, &first, &first_len, &kind, &ev.args, &ev.args_len);
    char small[256], *name = NULL;
    if (kind == JTEXT_STRING) {
        size_t cap = first_len + 1;
        name = cap <= sizeof small ? small : xmalloc(cap);
        long n = jtext_string_decode(first, first_len, name, cap);
        if (n < 0) {
            if (name != small) free(name);
            conn_fail(c, "bad event name", 0);
            return;
        }
        ev.name = name;
        ev.name_len = (size_t)n;
    }
    sio_server_t *sio = c->sio; /* the handler may end c */
    sio->events_in++;
    if (sio->observer.event_in) sio->observer.event_in(sio->observer.ctx, s, &ev);
    uint64_t t0 = uv_hrtime();
    sio_nsp_module(s->nsp)->event(s, &ev);
    prom_hist_observe(&sio->handling, (double)(uv_hrtime() - t0) / 1e9);
    if (name && name != small) free(name);
}

static void on_ack(sio_socket_t *s, const sio_packet_t *p, const sio_attachment_t *att,
                   unsigned natt)
{
    pending_acks_t *a = s->acks;
    for (uint32_t i = 0; a && i < a->n; i++) {
        if ((int64_t)a->item[i].id != p->id) continue;
        pending_ack_t got = a->item[i];
        a->item[i] = a->item[--a->n];
        if (a->n == 0) {
            free(a);
            s->acks = NULL;
        }
        sio_event_t ev = {.att = att, .natt = natt, .ack_id = -1};
        inner_args(p->data, p->data_len, &ev.args, &ev.args_len);
        if (got.cb)
            got.cb(got.ud, s, &ev);
        else if (sio_nsp_module(s->nsp)->ack)
            sio_nsp_module(s->nsp)->ack(s, got.tag, &ev);
        return;
    }
}

static void dispatch(sio_conn_t *c, const sio_packet_t *p, const sio_attachment_t *att,
                     unsigned natt)
{
    sio_packet_t named = *p;
    sbuf_t query = SBUF_INIT;
    if (p->type == SIO_CONNECT && conn_legacy(c)) {
        /* protocol v4: "/chat?token=abc" is the namespace "/chat" with that query as auth */
        const char *mark = memchr(p->nsp, '?', p->nsp_len);
        size_t at = mark ? (size_t)(mark - p->nsp) : p->nsp_len;
        url_query_json(&query, p->nsp + at + (mark != NULL), p->nsp_len - at - (mark != NULL),
                       NULL);
        named.nsp_len = at;
        named.data = NULL;
        p = &named;
    }
    sio_socket_t *s = conn_socket(c, p->nsp, p->nsp_len);
    if (p->type == SIO_CONNECT && !s && !c->restoring && !pending_for(c, p->nsp, p->nsp_len)) {
        on_connect(c, p, query.data, query.len);
        sbuf_free(&query);
        return;
    }
    sbuf_free(&query);
    /* As the reference server: a packet for a namespace not joined, a CONNECT for one already
     * joined, or a CONNECT_ERROR from a client ends the session. */
    if (!s || p->type == SIO_CONNECT || p->type == SIO_CONNECT_ERROR) {
        conn_fail(c, "packet not valid in this state", 0);
        return;
    }
    switch (p->type) {
    case SIO_DISCONNECT: socket_remove(s, "client namespace disconnect"); break;
    case SIO_EVENT:
    case SIO_BINARY_EVENT: on_event(c, s, p, att, natt); break;
    case SIO_ACK:
    case SIO_BINARY_ACK: on_ack(s, p, att, natt); break;
    default: break;
    }
}

/* Dispatches the reassembled binary packet and forgets it. */
static void bin_complete(sio_conn_t *c)
{
    sio_binary_t *bin = c->bin;
    c->bin = NULL;
    server_mem_sub(c->sio->srv, c->bin_held);
    c->bin_held = 0;
    dispatch(c, &bin->pkt, bin->att, bin->pkt.attachments);
    sio_binary_free(bin);
    free(bin);
}

static void conn_message(sio_conn_t *c, const eio_packet_t *m)
{
    int rc;
    if (m->binary) {
        if (!c->bin) {
            conn_fail(c, "binary data when none was expected", SIO_EBINARY);
            return;
        }
        /* Attachments are held until the packet is whole: bound what one packet may hold. */
        if ((size_t)c->bin_held + m->len > (size_t)c->sio->srv->cfg->max_queue) {
            bin_drop(c);
            conn_fail(c, "attachments over --max-queue", SIO_EBINARY);
            return;
        }
        bin_hold(c, m->len);
        rc = sio_binary_add(c->bin, m->data, m->len);
        if (rc < 0) {
            bin_drop(c);
            conn_fail(c, "bad attachment", rc);
        } else if (rc == 1) {
            bin_complete(c);
        }
        return;
    }
    if (c->bin) {
        conn_fail(c, "text packet while attachments were expected", SIO_EBINARY);
        return;
    }
    sio_packet_t p;
    rc = sio_packet_decode((const char *)m->data, m->len, &p);
    if (rc < 0) {
        conn_fail(c, "bad packet", rc);
        return;
    }
    if (p.type == SIO_BINARY_EVENT || p.type == SIO_BINARY_ACK) {
        c->bin = xcalloc(1, sizeof *c->bin);
        /* its copy of the packet text and its table of attachments */
        bin_hold(c, sizeof *c->bin + m->len + (size_t)p.attachments * sizeof(sio_attachment_t));
        rc = sio_binary_begin(c->bin, (const char *)m->data, m->len, &p);
        if (rc < 0) {
            bin_drop(c);
            conn_fail(c, "bad binary packet", rc);
        } else if (rc == 1) {
            bin_complete(c);
        }
        return;
    }
    dispatch(c, &p, NULL, 0);
}

/* ---- Engine.IO callbacks ---- */

static void *h_open(void *ctx, eio_session_t *s)
{
    sio_server_t *sio = ctx;
    sio_conn_t *c = xcalloc(1, sizeof *c);
    c->sio = sio;
    c->eio = s;
    c->legacy = eio_session_protocol(s) == 3;
    /* a legacy client joins "/" at once, but may be refused there and join nothing */
    deadline_queue_add(&sio->connect_q, &c->connect_node);
    return c;
}

/* A protocol v4 client joins "/" without a CONNECT: at once, its handshake query for auth. */
static void h_opened(void *upper)
{
    sio_conn_t *c = upper;
    if (!conn_legacy(c)) return;
    const char *q = eio_session_query(c->eio);
    sio_packet_t p = {SIO_CONNECT, "/", 1, -1, 0, NULL, 0};
    sio_conn_hold(c);
    on_connect(c, &p, q, strlen(q));
    sio_conn_release(c);
}

static void h_message(void *upper, const eio_packet_t *p)
{
    sio_conn_t *c = upper;
    sio_conn_hold(c);
    conn_message(c, p);
    sio_conn_release(c);
}

static void h_close(void *upper, const char *reason)
{
    sio_conn_t *c = upper;
    sio_conn_hold(c);
    c->eio = NULL;
    c->closed = 1;
    deadline_queue_remove(&c->sio->connect_q, &c->connect_node);
    pending_abandon(c);
    while (c->sockets) socket_remove(c->sockets, reason);
    sio_conn_release(c);
}

static sio_conn_t *conn_from_node(deadline_node_t *n)
{
    return (sio_conn_t *)((char *)n - offsetof(sio_conn_t, connect_node));
}

static void on_connect_timeout(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    sio_conn_t *c = conn_from_node(n);
    if (c->eio && !c->sockets) eio_close(c->eio, "connect timeout");
}

sio_server_t *sio_server_new(server_t *srv, const app_module_t *app, void *app_state)
{
    sio_server_t *sio = xcalloc(1, sizeof *sio);
    sio->srv = srv;
    sio->app = app;
    sio->app_state = app_state;
    /* 10 us to 1 s: an event handled in memory takes microseconds; one waiting on nothing
     * should never take more than a few milliseconds */
    static const double bounds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                    0.0005,  0.001,    0.0025,  0.005,  0.01,
                                    0.025,   0.05,     0.1,     0.25,   1};
    prom_hist_init(&sio->handling, bounds, sizeof bounds / sizeof bounds[0]);
    deadline_queue_init(&sio->connect_q, srv->loop, (uint64_t)srv->cfg->connect_timeout,
                        on_connect_timeout, sio);
    for (size_t i = 0; app->namespaces && app->namespaces[i]; i++)
        nsp_get(sio, app->namespaces[i], strlen(app->namespaces[i]));
    return sio;
}

static size_t h_held(void *upper)
{
    return ((sio_conn_t *)upper)->bin_held;
}

eio_handler_t sio_server_handler(sio_server_t *sio)
{
    return (eio_handler_t){.open = h_open,
                           .opened = h_opened,
                           .message = h_message,
                           .close = h_close,
                           .ctx = sio,
                           .held = h_held};
}

/* The server goes once both its queues' timers are closed. */
static void free_after_close(uv_handle_t *h)
{
    sio_server_t *sio = h->data;
    if (--sio->closing == 0) free(sio);
}

void sio_server_free(sio_server_t *sio)
{
    void *v;
    if (sio->rec_ops) sio->rec_ops->server_close(sio);
    for (size_t i = 0; strmap_next(&sio->nsps, &i, NULL, NULL, &v);) {
        sio_nsp_t *nsp = v;
        if (sio->rec_ops) sio->rec_ops->nsp_free(nsp);
        strmap_free(&nsp->pids);
        room_index_free(&nsp->rooms);
        strmap_free(&nsp->sockets);
        free(nsp->name);
        free(nsp);
    }
    strmap_free(&sio->nsps);
    sio->closing = 1 + (sio->rec_ops ? sio->rec_ops->close_handles(sio, free_after_close) : 0);
    sio->connect_q.timer.data = sio;
    deadline_queue_close(&sio->connect_q, free_after_close);
}
