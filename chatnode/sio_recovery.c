/* Connection-state recovery in the Socket.IO layer (docs/recovery.md).
 *
 * With --recovery-window above 0, every socket has a private session id (pid) sent in its
 * CONNECT answer, and every event the log keeps (sent without an ack, not volatile) carries
 * its offset as a last string argument. A socket whose connection goes for a reason that may
 * come back (transport closed or failed, ping timeout, the server draining or shutting down)
 * is kept: it stays in its rooms, gets nothing, and goes for good once the window passes. A
 * CONNECT whose auth carries its pid and the last offset the client saw gets it back: same id,
 * rooms and data, every logged packet for it since that offset sent in order (each with its
 * offset) before the CONNECT answer, as the reference server does.
 *
 * The log here is the namespace's, in memory: one entry per logged packet, with its rooms and
 * exceptions; a restore sends the entries after the client's offset that were for it, by the
 * rooms it was in when each was logged (every membership is stamped with the offset it was
 * joined at). */
#include "alloc.h"
#include "eio_session.h"
#include "log.h"
#include "server.h"
#include "sio_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the in-memory log ---- */

typedef struct {
    rec_offset_t off;
    uint64_t at_ms; /* when it was logged (the loop's clock) */
    str_t *rooms, *except;
    uint32_t nrooms, nexcept;
    char *data; /* the JSON argument array, without the offset */
    size_t data_len;
    sio_attachment_t *att;
    unsigned natt;
} rec_entry_t;

/* The newest dropped entry for a room (its name is the map's key). */
typedef struct {
    rec_offset_t off;
    size_t len;
    char name[];
} cut_t;

struct rec_log {
    rec_entry_t **e; /* a ring of cap entries, first at head */
    size_t head, n, cap;
    size_t max;              /* most entries kept */
    size_t bytes, max_bytes; /* what the entries hold, and the most they may */
    /* per room, the newest entry for it that was dropped; for the whole namespace in all_cut */
    strmap_t cuts;
    rec_offset_t all_cut;
    size_t appends; /* since the cuts were last pruned */
};

/* What an entry holds, counted against the log's bytes. */
static size_t entry_bytes(const rec_entry_t *e)
{
    size_t n = sizeof *e + e->data_len + (e->nrooms + e->nexcept) * sizeof(str_t);
    for (uint32_t i = 0; i < e->nrooms; i++) n += e->rooms[i].len;
    for (uint32_t i = 0; i < e->nexcept; i++) n += e->except[i].len;
    for (unsigned i = 0; i < e->natt; i++) n += sizeof e->att[i] + e->att[i].len;
    return n;
}

static rec_entry_t *entry_at(const rec_log_t *l, size_t i)
{
    return l->e[(l->head + i) % l->cap];
}

static str_t *strs_copy(const str_t *v, size_t n)
{
    if (!n) return NULL;
    str_t *out = xmalloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = (str_t){xmemdup(v[i].ptr, v[i].len), v[i].len};
    return out;
}

static void strs_free(str_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free((char *)v[i].ptr);
    free(v);
}

static void entry_free(rec_entry_t *e)
{
    strs_free(e->rooms, e->nrooms);
    strs_free(e->except, e->nexcept);
    for (unsigned i = 0; i < e->natt; i++) free((void *)e->att[i].data);
    free(e->att);
    free(e->data);
    free(e);
}

static void log_drop_first(rec_log_t *l)
{
    rec_entry_t *e = entry_at(l, 0);
    if (e->nrooms == 0) l->all_cut = e->off;
    for (uint32_t i = 0; i < e->nrooms; i++) {
        cut_t *c = strmap_get(&l->cuts, e->rooms[i].ptr, e->rooms[i].len);
        if (!c) {
            c = xmalloc(sizeof *c + e->rooms[i].len);
            c->len = e->rooms[i].len;
            memcpy(c->name, e->rooms[i].ptr, e->rooms[i].len);
            strmap_put(&l->cuts, c->name, c->len, c);
        }
        c->off = e->off;
    }
    l->bytes -= entry_bytes(e);
    entry_free(e);
    l->head = (l->head + 1) % l->cap;
    l->n--;
}

/* How long an entry may still be asked for: a client can have missed a packet sent up to a
 * ping period before its connection was found gone, and come back a window after that. */
static uint64_t retention_ms(const sio_server_t *sio)
{
    const chatnode_config_t *cfg = sio->srv->cfg;
    return sio->rec_window + (uint64_t)cfg->ping_interval + (uint64_t)cfg->ping_timeout;
}

static void log_append(sio_nsp_t *nsp, rec_offset_t off, const str_t *rooms, size_t nrooms,
                       const str_t *except, size_t nexcept, const char *data, size_t data_len,
                       const sio_attachment_t *att, unsigned natt)
{
    sio_server_t *sio = nsp->sio;
    if (!nsp->log) {
        nsp->log = xcalloc(1, sizeof *nsp->log);
        nsp->log->max = sio->rec_max * 64 < 4096 ? 4096 : sio->rec_max * 64;
        /* a quarter of the node's memory budget: the log cannot outgrow what clients may hold */
        nsp->log->max_bytes = (size_t)sio->srv->cfg->max_memory_queued / 4;
    }
    rec_log_t *l = nsp->log;
    uint64_t now = uv_now(sio->srv->loop), keep = retention_ms(sio);
    size_t need = sizeof(rec_entry_t) + data_len;
    for (size_t i = 0; i < nrooms; i++) need += sizeof(str_t) + rooms[i].len;
    for (size_t i = 0; i < nexcept; i++) need += sizeof(str_t) + except[i].len;
    for (unsigned i = 0; i < natt; i++) need += sizeof att[i] + att[i].len;
    while (l->n &&
           (l->n >= l->max || l->bytes + need > l->max_bytes || entry_at(l, 0)->at_ms + keep < now))
        log_drop_first(l);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        rec_entry_t **e = xmalloc(cap * sizeof *e);
        for (size_t i = 0; i < l->n; i++) e[i] = entry_at(l, i);
        free(l->e);
        l->e = e;
        l->cap = cap;
        l->head = 0;
    }
    rec_entry_t *e = xcalloc(1, sizeof *e);
    e->off = off;
    e->at_ms = now;
    e->rooms = strs_copy(rooms, nrooms);
    e->nrooms = (uint32_t)nrooms;
    e->except = strs_copy(except, nexcept);
    e->nexcept = (uint32_t)nexcept;
    e->data = xmemdup(data, data_len);
    e->data_len = data_len;
    e->natt = natt;
    e->att = natt ? xmalloc(natt * sizeof *e->att) : NULL;
    for (unsigned i = 0; i < natt; i++)
        e->att[i] = (sio_attachment_t){xmemdup(att[i].data, att[i].len), att[i].len};
    l->e[(l->head + l->n) % l->cap] = e;
    l->n++;
    if (++l->appends >= 4096) { /* a cut older than the retention can matter to no session */
        l->appends = 0;
        uint64_t old = rec_offset_ms(off) > 2 * keep ? rec_offset_ms(off) - 2 * keep : 0;
        void *v;
        for (size_t i = 0; strmap_next(&l->cuts, &i, NULL, NULL, &v);) {
            cut_t *c = v;
            if (rec_offset_ms(c->off) >= old) continue;
            strmap_del(&l->cuts, c->name, c->len);
            free(c);
            i = 0;
        }
    }
    l->bytes += entry_bytes(e);
}

static void log_free(rec_log_t *l)
{
    if (!l) return;
    while (l->n) log_drop_first(l);
    void *v;
    for (size_t i = 0; strmap_next(&l->cuts, &i, NULL, NULL, &v);) free(v);
    strmap_free(&l->cuts);
    free(l->e);
    free(l);
}

/* The index of the first entry after off (l->n when none). */
static size_t log_after(const rec_log_t *l, rec_offset_t off)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_at(l, mid)->off <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether the log dropped an entry for s after off: for the whole namespace, its own id, or
 * one of its rooms after it joined. */
static int log_cut_past(const rec_log_t *l, const sio_socket_t *s, rec_offset_t off)
{
    if (l->all_cut > off) return 1;
    const cut_t *c = strmap_get(&l->cuts, s->id, SID_RANDOM_LEN);
    if (c && c->off > off) return 1;
    for (uint32_t i = 0; i < s->rm.nrooms; i++) {
        const room_t *r = s->rm.rooms[i].room;
        rec_offset_t from = s->rm.rooms[i].stamp > off ? s->rm.rooms[i].stamp : off;
        c = strmap_get(&l->cuts, r->name, r->len);
        if (c && c->off > from) return 1;
    }
    return 0;
}

static int entry_for(const rec_entry_t *e, const sio_socket_t *s)
{
    return sio_socket_selected(s, e->rooms, e->nrooms, e->except, e->nexcept, e->off);
}

/* ---- sessions ---- */

const char *sio_rec_fail_name(sio_rec_fail_t why)
{
    switch (why) {
    case SIO_REC_UNKNOWN: return "unknown";
    case SIO_REC_OWNER: return "owner";
    case SIO_REC_OFFSET: return "offset";
    case SIO_REC_TRIMMED: return "trimmed";
    case SIO_REC_TOO_MANY: return "too_many";
    case SIO_REC_UNAVAILABLE: return "unavailable";
    default: return "?";
    }
}

/* s is no longer kept: out of keep_q, its kept state freed. Returns why it was kept (static),
 * or NULL when it was not. */
static const char *unkeep(sio_socket_t *s)
{
    sio_kept_t *k = s->kept;
    if (!k) return NULL;
    const char *reason = k->reason;
    deadline_node_remove(&k->node);
    free(k);
    s->kept = NULL;
    return reason;
}

/* The window passed: the session is over. */
static void on_keep_expired(deadline_queue_t *q, deadline_node_t *n)
{
    sio_server_t *sio = q->data;
    sio_socket_t *s = ((sio_kept_t *)n)->s;
    sio->nkept--;
    sio->rec.expired++;
    sio_socket_free(s, unkeep(s));
}

/* Why kept s was kept. */
static const char *kept_reason(const sio_socket_t *s)
{
    return s->kept ? s->kept->reason : NULL;
}

/* Ends a kept session now (the app is told, with why). */
static void end_kept(sio_socket_t *s, const char *why)
{
    sio_server_t *sio = s->nsp->sio;
    unkeep(s);
    sio->nkept--;
    sio->rec.ended++;
    sio_socket_free(s, why);
}

static void end_all_kept(sio_nsp_t *nsp, void *arg)
{
    (void)arg;
    void *v;
    /* freeing deletes from the map: walk again from the start after each */
    for (size_t i = 0; strmap_next(&nsp->pids, &i, NULL, NULL, &v);) {
        sio_socket_t *s = v;
        if (s->state != SOCK_KEPT) continue;
        end_kept(s, kept_reason(s));
        i = 0;
    }
}

static void sio_rec_server_close(sio_server_t *sio)
{
    sio_foreach_nsp(sio, end_all_kept, NULL);
}

static void sio_rec_nsp_free(sio_nsp_t *nsp)
{
    log_free(nsp->log);
    nsp->log = NULL;
}

static void sio_rec_session_new(sio_socket_t *s, const char *owner, size_t owner_len)
{
    sio_nsp_t *nsp = s->nsp;
    do sid_generate(s->pid, sizeof s->pid, NULL);
    while (strmap_get(&nsp->pids, s->pid, SID_RANDOM_LEN));
    strmap_put(&nsp->pids, s->pid, SID_RANDOM_LEN, s);
    s->start = s->cursor = nsp->last;
    s->owner = owner_len ? xstrndup(owner, owner_len) : NULL;
    sio_server_t *sio = nsp->sio;
    if (sio->has_store) {
        sbuf_t data = SBUF_INIT;
        if (sio->app->socket_data) sio->app->socket_data(s, &data);
        sio->store.session_new(sio->store.ctx, s, data.data ? data.data : "", data.len);
        sbuf_free(&data);
    }
}

static void sio_rec_room(sio_socket_t *s, const char *room, size_t len, int joined,
                         rec_offset_t stamp)
{
    sio_server_t *sio = s->nsp->sio;
    if (s->pid[0] && sio->has_store && s->state == SOCK_CONNECTED)
        sio->store.session_room(sio->store.ctx, s, room, len, joined, stamp);
}

static void sio_rec_session_free(sio_socket_t *s)
{
    if (!s->pid[0]) return;
    unkeep(s);
    strmap_del(&s->nsp->pids, s->pid, SID_RANDOM_LEN);
    free(s->owner);
    s->owner = NULL;
    s->pid[0] = 0;
}

/* The reasons a connection goes after which its sessions may come back: those of the
 * reference server, and a node draining its clients to others. A client dropped for being too
 * slow ("send queue full", "server memory budget") starts anew: replaying what it could not
 * take would only load the node again. */
static int recoverable(const char *reason)
{
    static const char *const ok[] = {"transport error", "transport close",      "forced close",
                                     "ping timeout",    "server shutting down", "server draining",
                                     "send queue full", "server memory budget"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(reason, ok[i]) == 0) return 1;
    return 0;
}

static int sio_rec_keep(sio_socket_t *s, const char *reason)
{
    sio_server_t *sio = s->nsp->sio;
    if (!sio->rec_window || !s->pid[0] || !recoverable(reason)) return 0;
    s->state = SOCK_KEPT;
    if (!s->kept) s->kept = xcalloc(1, sizeof *s->kept);
    s->kept->s = s;
    s->kept->reason = reason; /* the reasons above are static */
    deadline_queue_add(&sio->keep_q, &s->kept->node);
    sio->nkept++;
    sio->rec.kept++;
    if (sio->has_store) sio->store.session_keep(sio->store.ctx, s);
    return 1;
}

/* Sends a logged packet (data: its arguments without the offset) to s with its offset. */
static void send_logged(sio_socket_t *s, const char *data, size_t len, rec_offset_t off,
                        const sio_attachment_t *att, unsigned natt)
{
    sbuf_t with = SBUF_INIT;
    if (rec_offset_append_to_array(&with, data, len, off) == 0) {
        packet_frames_t pf;
        sio_frames_from_data(&pf, s->nsp, SIO_EVENT, -1, with.data, with.len, att, natt);
        sio_frames_send(s->conn, &pf);
        sio_frames_free(&pf);
    }
    sbuf_free(&with);
}

/* The string member key of object o, or NULL. */
static const char *member_string(json_t *o, const char *key, size_t *len)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Counts a failed restore; ends the session asked for when it is one (kept) whose owner
 * asked: it cannot come back after this. */
static int restore_failed(sio_server_t *sio, sio_socket_t *s, sio_rec_fail_t why)
{
    sio->rec.failed[why]++;
    log_debug("session not recovered", "reason=%s", sio_rec_fail_name(why));
    if (s && why != SIO_REC_OWNER && s->state == SOCK_KEPT) end_kept(s, kept_reason(s));
    return 0;
}

/* ---- restores through a store ---- */

/* A CONNECT waiting for its session from the store. */
typedef struct {
    sio_conn_t *c;
    sio_nsp_t *nsp;
    char pid[SID_RANDOM_LEN + 1];
    char *auth, *owner;
    size_t auth_len, owner_len;
} pending_t;

static void pending_free(pending_t *p)
{
    p->c->restoring--;
    sio_conn_release(p->c);
    free(p->auth);
    free(p->owner);
    free(p);
}

/* A socket for a session kept on another node, from the store's record; NULL when its id is
 * taken here or the app refuses its data. */
static sio_socket_t *socket_from_record(sio_nsp_t *nsp, const sio_restore_t *r, const char *pid,
                                        const char *owner, size_t owner_len)
{
    sio_server_t *sio = nsp->sio;
    if (!r->sid || strlen(r->sid) != SID_RANDOM_LEN ||
        strmap_get(&nsp->sockets, r->sid, SID_RANDOM_LEN))
        return NULL;
    sio_socket_t *s = xcalloc(1, sizeof *s);
    memcpy(s->id, r->sid, SID_RANDOM_LEN);
    s->nsp = nsp;
    s->state = SOCK_KEPT; /* not connected yet: nothing is written to the store meanwhile */
    if (sio->app->restore && sio->app->restore(s, r->data, r->data_len) != 0) {
        free(s);
        return NULL;
    }
    memcpy(s->pid, pid, SID_RANDOM_LEN);
    strmap_put(&nsp->pids, s->pid, SID_RANDOM_LEN, s);
    s->start = r->start;
    s->owner = owner_len ? xstrndup(owner, owner_len) : NULL;
    for (size_t i = 0; i < r->nrooms; i++)
        if (sio_join(s, r->rooms[i], r->room_lens[i]))
            s->rm.rooms[s->rm.nrooms - 1].stamp = r->stamps[i];
    return s;
}

/* The store answered (every logged packet up to r->head has been delivered here, and none
 * after it). */
static void on_restored(void *ud, const sio_restore_t *r)
{
    pending_t *p = ud;
    sio_conn_t *c = p->c;
    sio_nsp_t *nsp = p->nsp;
    sio_server_t *sio = nsp->sio;
    if (!c->eio) { /* the client went meanwhile: the store keeps the session for it */
        pending_free(p);
        return;
    }
    sio_socket_t *s = NULL;
    int moved = 0;
    if (r->ok) {
        s = strmap_get(&nsp->pids, p->pid, SID_RANDOM_LEN);
        if (s && s->state == SOCK_KEPT) {
            unkeep(s);
            sio->nkept--;
        } else if (s) {
            sio_socket_detach(s); /* its old connection is still open here: the new one wins */
        } else {
            s = socket_from_record(nsp, r, p->pid, p->owner, p->owner_len);
            moved = 1;
        }
    }
    if (!s) {
        sio_rec_fail_t why = r->ok ? SIO_REC_UNKNOWN : r->why;
        sio->rec.failed[why]++;
        log_debug("session not recovered", "reason=%s", sio_rec_fail_name(why));
        sio_connect_new(c, nsp, p->auth, p->auth_len, p->owner, p->owner_len, 1);
        pending_free(p);
        return;
    }
    sio_socket_attach(s, c);
    s->cursor = r->head;
    for (size_t i = 0; i < r->npackets; i++) {
        const sio_rec_packet_t *pk = &r->packets[i];
        if (pk->offset <= s->cursor && pk->addressed) continue;
        if (pk->addressed &&
            !sio_socket_selected(s, pk->rooms, pk->nrooms, pk->except, pk->nexcept, pk->offset))
            continue;
        send_logged(s, pk->data, pk->len, pk->offset, pk->att, pk->natt);
        if (pk->offset > s->cursor) s->cursor = pk->offset;
    }
    if (nsp->last > s->cursor) s->cursor = nsp->last;
    char reply[96];
    int n = snprintf(reply, sizeof reply, "{\"sid\":\"%s\",\"pid\":\"%s\"}", s->id, s->pid);
    sio_send_raw(c, SIO_CONNECT, nsp->name, nsp->len, reply, (size_t)n);
    sio->rec.restored++;
    log_debug("session recovered", "sid=%s missed=%zu moved=%d", s->id, r->npackets, moved);
    if (sio->observer.connected) sio->observer.connected(sio->observer.ctx, s);
    if (sio->app->recovered) sio->app->recovered(s, p->auth, p->auth_len, moved);
    pending_free(p);
}

/* Asks the store for session pid back for c; the CONNECT is answered when it answers. */
static void restore_ask(sio_conn_t *c, sio_nsp_t *nsp, const char *pid, size_t pid_len,
                        const char *offset, int bad_offset, const char *auth, size_t auth_len,
                        const char *owner, size_t owner_len)
{
    sio_server_t *sio = nsp->sio;
    if (pid_len != SID_RANDOM_LEN || memchr(pid, 0, pid_len)) {
        sio->rec.failed[SIO_REC_UNKNOWN]++;
        sio_connect_new(c, nsp, auth, auth_len, owner, owner_len, 1);
        return;
    }
    /* an offset that is not a string is not one: the script says so (and ends the session) */
    if (bad_offset) offset = "-";
    pending_t *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->nsp = nsp;
    memcpy(p->pid, pid, SID_RANDOM_LEN);
    p->auth = xmemdup(auth, auth_len);
    p->auth_len = auth_len;
    p->owner = owner_len ? xmemdup(owner, owner_len) : NULL;
    p->owner_len = owner_len;
    sio_conn_hold(c);
    c->restoring++;
    sio->store.restore(sio->store.ctx, nsp, p->pid, SID_RANDOM_LEN, owner, owner_len, offset,
                       on_restored, p);
}

void sio_rec_moved(sio_nsp_t *nsp, const char *pid, size_t pid_len)
{
    sio_socket_t *s = strmap_get(&nsp->pids, pid, pid_len);
    if (!s) return;
    sio_server_t *sio = nsp->sio;
    if (s->state == SOCK_KEPT) {
        unkeep(s);
        sio->nkept--;
    } else {
        sio_socket_detach(s);
    }
    sio->rec.moved++;
    sio_socket_free(s, SIO_REASON_MOVED);
}

void sio_rec_end(sio_nsp_t *nsp, const char *pid, size_t pid_len)
{
    sio_socket_t *s = strmap_get(&nsp->pids, pid, pid_len);
    if (s && s->state == SOCK_KEPT) end_kept(s, kept_reason(s));
}

/* Once per half window, the store's record of each connected session is refreshed, so that
 * a node that dies leaves its sessions for a window or two, not for ever. The refreshes are
 * spread over the half window a slice per second: all at once, a node's tens of thousands of
 * them (a million over a cluster) would hold Redis for seconds, and every command queued
 * behind them (a join, a message) would wait as long. A slice goes to the store in batches:
 * one script call per session costs Redis about ten times the refresh itself. */
#define TOUCH_TICK_MS 1000
#define TOUCH_BATCH   128 /* sessions refreshed by one call of the store */

static void touch_nsp(sio_nsp_t *nsp, void *arg)
{
    (void)arg;
    sio_server_t *sio = nsp->sio;
    size_t share = (nsp->pids.count + sio->touch_slices - 1) / sio->touch_slices;
    size_t i = nsp->touch_at;
    sio_socket_t *batch[TOUCH_BATCH];
    size_t n = 0;
    void *v;
    for (; share; share--) {
        /* past the end, the next round starts from the top (a map with entries has one) */
        if (!strmap_next(&nsp->pids, &i, NULL, NULL, &v)) {
            i = 0;
            if (!strmap_next(&nsp->pids, &i, NULL, NULL, &v)) break;
        }
        if (((sio_socket_t *)v)->state != SOCK_CONNECTED) continue;
        batch[n++] = v;
        if (n == TOUCH_BATCH) {
            sio->store.sessions_touch(sio->store.ctx, batch, n);
            n = 0;
        }
    }
    if (n) sio->store.sessions_touch(sio->store.ctx, batch, n);
    nsp->touch_at = i;
}

static void on_touch(uv_timer_t *t)
{
    sio_server_t *sio = t->data;
    if (sio->has_store) sio_foreach_nsp(sio, touch_nsp, NULL);
}

void sio_server_set_rec_store(sio_server_t *sio, const sio_rec_store_t *store)
{
    if (!sio->rec_ops) return; /* recovery is off */
    sio->has_store = store != NULL;
    if (store) sio->store = *store;
    if (sio->has_store) {
        uint64_t period = sio->rec_window / 2 ? sio->rec_window / 2 : 1;
        uint64_t every = period < TOUCH_TICK_MS ? period : TOUCH_TICK_MS;
        sio->touch_slices = (uint32_t)(period / every);
        uv_timer_start(&sio->touch, on_touch, every, every);
    } else {
        uv_timer_stop(&sio->touch);
    }
}

static int sio_rec_connect(sio_conn_t *c, sio_nsp_t *nsp, const char *auth, size_t auth_len,
                           const char *owner, size_t owner_len)
{
    sio_server_t *sio = nsp->sio;
    json_t *a = json_loadb(auth, auth_len, 0, NULL);
    size_t pid_len = 0, off_len = 0;
    const char *pid = member_string(a, "pid", &pid_len);
    const char *off_text = member_string(a, "offset", &off_len);
    json_t *off_value = json_object_get(a, "offset");
    if (!pid) {
        json_decref(a);
        return 0; /* a new client: not a restore */
    }
    if (sio->has_store) {
        restore_ask(c, nsp, pid, pid_len, off_value ? off_text : "", off_value && !off_text, auth,
                    auth_len, owner, owner_len);
        json_decref(a);
        return 1;
    }
    sio_socket_t *s = strmap_get(&nsp->pids, pid, pid_len);
    int rc;
    rec_offset_t off = 0;
    if (!s) {
        rc = restore_failed(sio, NULL, SIO_REC_UNKNOWN);
        goto out;
    }
    size_t have = s->owner ? strlen(s->owner) : 0;
    if (have != owner_len || (have && memcmp(s->owner, owner, have) != 0)) {
        rc = restore_failed(sio, s, SIO_REC_OWNER);
        goto out;
    }
    /* no offset: the client saw no logged packet of this session; one from before it (a
     * client keeps its last offset across sessions) means the same */
    if (off_value && (!off_text || rec_offset_parse(off_text, off_len, &off) < 0)) {
        rc = restore_failed(sio, s, SIO_REC_OFFSET);
        goto out;
    }
    if (off < s->start) off = s->start;
    if (off > nsp->last) {
        rc = restore_failed(sio, s, SIO_REC_OFFSET);
        goto out;
    }
    rec_log_t *l = nsp->log;
    size_t first = l ? log_after(l, off) : 0, count = 0;
    if (l && log_cut_past(l, s, off)) {
        rc = restore_failed(sio, s, SIO_REC_TRIMMED);
        goto out;
    }
    for (size_t i = first; l && i < l->n; i++) count += entry_for(entry_at(l, i), s);
    if (count > sio->rec_max) {
        rc = restore_failed(sio, s, SIO_REC_TOO_MANY);
        goto out;
    }
    if (s->state == SOCK_KEPT) {
        unkeep(s);
        sio->nkept--;
    } else {
        sio_socket_detach(s); /* its old connection is still open here: the new one wins */
    }
    sio_socket_attach(s, c);
    for (size_t i = first; l && i < l->n; i++) {
        rec_entry_t *e = entry_at(l, i);
        if (entry_for(e, s)) send_logged(s, e->data, e->data_len, e->off, e->att, e->natt);
    }
    s->cursor = nsp->last;
    char reply[96];
    int n = snprintf(reply, sizeof reply, "{\"sid\":\"%s\",\"pid\":\"%s\"}", s->id, s->pid);
    sio_send_raw(c, SIO_CONNECT, nsp->name, nsp->len, reply, (size_t)n);
    sio->rec.restored++;
    log_debug("session recovered", "sid=%s missed=%zu", s->id, count);
    if (sio->observer.connected) sio->observer.connected(sio->observer.ctx, s);
    if (sio->app->recovered) sio->app->recovered(s, auth, auth_len, 0);
    rc = 1;
out:
    json_decref(a);
    return rc;
}

/* ---- logging ---- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t sio_rec_publish(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                              const str_t *except, size_t nexcept, const char *data,
                              size_t data_len, const sio_attachment_t *att, unsigned natt,
                              const sio_once_t *once)
{
    sio_server_t *sio = nsp->sio;
    size_t n;
    if (sio->has_store) {
        if (sio->store.publish(sio->store.ctx, nsp, rooms, nrooms, except, nexcept, data, data_len,
                               att, natt, once) == 0)
            return sio_count(nsp, rooms, nrooms, except, nexcept);
        if (once && once->again) { /* unlogged, it could be a second copy */
            once->done(once->ud, SIO_ONCE_FAILED);
            return 0;
        }
        /* not logged now (Redis unreachable): sent as an unlogged broadcast */
        n = sio_deliver(nsp, rooms, nrooms, except, nexcept, data, data_len, att, natt, 0);
        if (sio->cluster.publish)
            sio->cluster.publish(sio->cluster.ctx, nsp, rooms, nrooms, except, nexcept, data,
                                 data_len, att, natt, 0);
    } else if (once && once->again) { /* alone, the first send went out here */
        once->done(once->ud, SIO_ONCE_SENT_BEFORE);
        return 0;
    } else {
        rec_offset_t off = rec_offset_next(nsp->last, wall_ms());
        log_append(nsp, off, rooms, nrooms, except, nexcept, data, data_len, att, natt);
        n = sio_deliver_logged(nsp, rooms, nrooms, except, nexcept, data, data_len, att, natt, off);
    }
    if (once) once->done(once->ud, SIO_ONCE_SENT);
    return n;
}

/* ---- health ---- */

static void count_log(sio_nsp_t *nsp, void *arg)
{
    if (nsp->log) *(size_t *)arg += nsp->log->n;
}

void sio_recovery_health(const sio_server_t *sio, sbuf_t *json)
{
    size_t logged = 0;
    sio_foreach_nsp((sio_server_t *)sio, count_log, &logged);
    sbuf_printf(json,
                ",\"recovery\":{\"window_ms\":%llu,\"max_packets\":%llu,\"kept\":%zu,"
                "\"log_packets\":%zu,\"kept_total\":%llu,\"restored\":%llu,\"expired\":%llu,"
                "\"ended\":%llu,\"moved\":%llu,\"store\":%s,\"failed\":{",
                (unsigned long long)sio->rec_window, (unsigned long long)sio->rec_max, sio->nkept,
                logged, (unsigned long long)sio->rec.kept, (unsigned long long)sio->rec.restored,
                (unsigned long long)sio->rec.expired, (unsigned long long)sio->rec.ended,
                (unsigned long long)sio->rec.moved, sio->has_store ? "\"redis\"" : "\"memory\"");
    for (int i = 0; i < SIO_REC_FAIL_COUNT; i++)
        sbuf_printf(json, "%s\"%s\":%llu", i ? "," : "", sio_rec_fail_name((sio_rec_fail_t)i),
                    (unsigned long long)sio->rec.failed[i]);
    sbuf_append_char(json, '}');
    if (sio->has_store) sio->store.health(sio->store.ctx, json);
    sbuf_append_char(json, '}');
}

void sio_recovery_stats(const sio_server_t *sio, sio_rec_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!sio->rec_window) return;
    out->on = 1;
    out->redis = sio->has_store;
    out->kept = sio->nkept;
    sio_foreach_nsp((sio_server_t *)sio, count_log, &out->log_packets);
    out->kept_total = sio->rec.kept;
    out->restored = sio->rec.restored;
    out->expired = sio->rec.expired;
    out->ended = sio->rec.ended;
    out->moved = sio->rec.moved;
    memcpy(out->failed, sio->rec.failed, sizeof out->failed);
}

/* ---- installing ---- */

static int close_handles(sio_server_t *sio, uv_close_cb cb)
{
    sio->keep_q.timer.data = sio;
    deadline_queue_close(&sio->keep_q, cb);
    uv_close((uv_handle_t *)&sio->touch, cb);
    return 2;
}

static const struct sio_rec_ops rec_ops = {
    .publish = sio_rec_publish,
    .room = sio_rec_room,
    .session_new = sio_rec_session_new,
    .session_free = sio_rec_session_free,
    .keep = sio_rec_keep,
    .connect = sio_rec_connect,
    .nsp_free = sio_rec_nsp_free,
    .server_close = sio_rec_server_close,
    .close_handles = close_handles,
};

void sio_recovery_install(sio_server_t *sio)
{
    const chatnode_config_t *cfg = sio->srv->cfg;
    if (!cfg->recovery_window) return;
    sio->rec_window = (uint64_t)cfg->recovery_window;
    sio->rec_max = (uint64_t)cfg->recovery_max_packets;
    deadline_queue_init(&sio->keep_q, sio->srv->loop, sio->rec_window, on_keep_expired, sio);
    uv_timer_init(sio->srv->loop, &sio->touch);
    sio->touch.data = sio;
    sio->rec_ops = &rec_ops;
}
