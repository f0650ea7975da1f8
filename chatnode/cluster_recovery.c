/* The recovery store on Redis (see cluster_recovery.h). */
#include "cluster_recovery.h"
#include "adapter_msg.h"
#include "alloc.h"
#include "cluster.h"
#include "deadline.h"
#include "log.h"
#include "rec_offset.h"
#include "rec_store.h"
#include "redis_reply.h"
#include "sha1.h"
#include "sid.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A namespace's marker channel, listened to. */
typedef struct rec_nsp {
    struct rec_nsp *next;
    cluster_rec_t *r;
    sio_nsp_t *nsp;
} rec_nsp_t;

typedef struct logged logged_t;

/* A restore asked of Redis: answered once both the script's reply and its marker came. */
typedef struct restore {
    struct restore *next;
    cluster_rec_t *r;
    uint64_t id;
    sio_nsp_t *nsp;
    redisReply *reply; /* a copy, once it came */
    int marked;        /* the marker came back on the subscription */
    logged_t **late;   /* logged packets delivered here after the marker, before the reply */
    size_t nlate;
    int pending; /* its command is out: its callback will come */
    sio_restore_cb cb;
    void *ud;
    deadline_node_t timeout;
} restore_t;

struct cluster_rec {
    cluster_t *c;
    sio_server_t *sio;
    const char *key;
    uint64_t window, keep_ms, live_ms; /* the log's retention; a kept / connected session's TTL */
    uint64_t max_packets;
    rec_nsp_t *nsps;
    restore_t *restores;
    uint64_t next_id;
    deadline_queue_t timeouts;
    int stopped;
    unsigned inflight; /* commands whose callbacks reach this struct */
    int timer_open;    /* handles still to close: the restores' and holds' timers, the lease's */
    struct held *held; /* broadcasts of servers without a log, waiting for their copy */
    deadline_queue_t holds;
    uv_timer_t lease;
    int logger;                 /* this node holds the logger lease */
    int sharded;                /* the bus speaks the sharded format */
    void (*released)(void *ud); /* told once nothing is held any more */
    void *released_ud;
    uint64_t foreign_logged, foreign_unlogged;
    uint64_t resent, resend_skipped; /* sends again logged, and left out as sent before */
};

static void rec_logged(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                       const str_t *except, size_t nexcept, const char *data, size_t len,
                       const sio_attachment_t *att, unsigned natt, uint64_t offset);

/* Freed once stopped, its timer closed and no callback can reach it any more. */
static void maybe_free(cluster_rec_t *r)
{
    if (r->stopped && !r->timer_open && r->inflight == 0) free(r);
}

/* ---- keys ---- */

static void key_of(sbuf_t *k, const cluster_rec_t *r, const sio_nsp_t *nsp, const char *what,
                   size_t what_len)
{
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    rec_store_key(k, r->key, n, nlen, what, what_len);
}

static void session_key(sbuf_t *k, const cluster_rec_t *r, const sio_socket_t *s)
{
    char what[2 + SID_RANDOM_LEN + 1];
    int n = snprintf(what, sizeof what, "s:%s", sio_socket_pid(s));
    key_of(k, r, sio_socket_nsp(s), what, (size_t)n);
}

/* An argv being built: pointers into one buffer each, lengths apart. */
typedef struct {
    sbuf_t *bufs;
    size_t n, cap;
} args_t;

static sbuf_t *arg_new(args_t *a)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->bufs = xrealloc(a->bufs, a->cap * sizeof *a->bufs);
    }
    a->bufs[a->n] = (sbuf_t)SBUF_INIT;
    return &a->bufs[a->n++];
}

static void arg_add(args_t *a, const void *p, size_t len)
{
    sbuf_append(arg_new(a), p, len);
}

static void arg_str(args_t *a, const char *s)
{
    arg_add(a, s, strlen(s));
}

static void arg_u64(args_t *a, uint64_t v)
{
    sbuf_printf(arg_new(a), "%llu", (unsigned long long)v);
}

static void args_free(args_t *a)
{
    for (size_t i = 0; i < a->n; i++) sbuf_free(&a->bufs[i]);
    free(a->bufs);
}

/* A script sent by its SHA-1 (EVALSHA), and again whole (EVAL) when Redis does not know it
 * yet (NOSCRIPT: a fresh or restarted Redis, another shard): its argv kept till the answer. */
typedef struct {
    cluster_rec_t *r;
    const char *script;
    char sha[41];
    args_t a;
    sbuf_t key;
    void (*cb)(void *ud, int status, const struct redisReply *reply);
    void *ud;
} eval_t;

/* The script's SHA-1 in hex, computed once per script text. */
static void script_sha(const char *script, char out[41])
{
    static struct {
        const char *script;
        char sha[41];
    } known[8];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (known[i].script == script) {
            memcpy(out, known[i].sha, 41);
            return;
        }
        if (!known[i].script) {
            uint8_t d[SHA1_DIGEST_LEN];
            sha1(script, strlen(script), d);
            for (int k = 0; k < SHA1_DIGEST_LEN; k++)
                snprintf(known[i].sha + 2 * k, 3, "%02x", d[k]);
            known[i].script = script;
            memcpy(out, known[i].sha, 41);
            return;
        }
    }
    uint8_t d[SHA1_DIGEST_LEN];
    sha1(script, strlen(script), d);
    for (int k = 0; k < SHA1_DIGEST_LEN; k++) snprintf(out + 2 * k, 3, "%02x", d[k]);
}

static void on_eval(void *ud, int status, const struct redisReply *reply);

static int eval_send(eval_t *e, int whole)
{
    size_t argc = e->a.n + 2;
    const char **argv = xmalloc(argc * sizeof *argv);
    size_t *lens = xmalloc(argc * sizeof *lens);
    argv[0] = whole ? "EVAL" : "EVALSHA";
    lens[0] = strlen(argv[0]);
    argv[1] = whole ? e->script : e->sha;
    lens[1] = strlen(argv[1]);
    for (size_t i = 0; i < e->a.n; i++) {
        argv[i + 2] = e->a.bufs[i].data ? e->a.bufs[i].data : "";
        lens[i + 2] = e->a.bufs[i].len;
    }
    int rc =
        cluster_command_key(e->r->c, e->key.data, e->key.len, (int)argc, argv, lens, on_eval, e);
    free(argv);
    free(lens);
    return rc;
}

static void eval_free(eval_t *e)
{
    args_free(&e->a);
    sbuf_free(&e->key);
    free(e);
}

static void on_eval(void *ud, int status, const struct redisReply *reply)
{
    eval_t *e = ud;
    if (status == 0 && reply && reply->type == REDIS_REPLY_ERROR && reply->len >= 8 &&
        memcmp(reply->str, "NOSCRIPT", 8) == 0 && e->script) {
        int rc = eval_send(e, 1); /* once: its answer goes to the caller */
        e->script = NULL;
        if (rc == 0) return;
    }
    e->cb(e->ud, status, reply);
    eval_free(e);
}

/* Runs script with a's argv after it (a: keys count, keys..., args...; taken over); key
 * routes it. cb gets the answer as for cluster_command_key. Returns 0, or a negative bus
 * error (cb will not run). */
static int eval(cluster_rec_t *r, const char *script, args_t *a, const sbuf_t *key,
                void (*cb)(void *ud, int status, const struct redisReply *reply), void *ud)
{
    eval_t *e = xcalloc(1, sizeof *e);
    e->r = r;
    e->script = script;
    script_sha(script, e->sha);
    e->a = *a;
    *a = (args_t){0};
    sbuf_append(&e->key, key->data, key->len);
    e->cb = cb;
    e->ud = ud;
    int rc = eval_send(e, 0);
    if (rc < 0) eval_free(e);
    return rc;
}

/* ---- logging ---- */

/* A logged packet kept: what its EVAL needs to send it unlogged if the script fails, or one
 * delivered while a restore waits for its reply (with its offset). */
struct logged {
    cluster_rec_t *r;
    sio_nsp_t *nsp;
    char *name;
    size_t name_len;
    str_t *rooms, *except;
    size_t nrooms, nexcept;
    char *data;
    size_t len;
    sio_attachment_t *att;
    unsigned natt;
    rec_offset_t offset;
    int foreign; /* a copy of another server's broadcast: nothing to send if not logged */
    char *token; /* sio_once_t's, or NULL */
    size_t token_len;
    uint64_t again; /* a send again: when its item was made (ms); 0 when not */
    int copy;       /* once logged, also sent to the servers that keep no log (sharded) */
    void (*done)(void *ud, int ok); /* sio_once_t's, or NULL */
    void *done_ud;
};

static str_t *strs_dup(const str_t *v, size_t n)
{
    str_t *out = n ? xmalloc(n * sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++) out[i] = (str_t){xmemdup(v[i].ptr, v[i].len), v[i].len};
    return out;
}

static void strs_drop(str_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free((void *)v[i].ptr);
    free(v);
}

static void logged_free(logged_t *l)
{
    strs_drop(l->rooms, l->nrooms);
    strs_drop(l->except, l->nexcept);
    for (unsigned i = 0; i < l->natt; i++) free((void *)l->att[i].data);
    free(l->att);
    free(l->data);
    free(l->name);
    free(l->token);
    free(l);
}

/* The LOG script's answer. A packet that could not be logged (Redis went) is sent unlogged, as
 * a broadcast of old, unless it is a send again (it may have gone out before). A send again
 * that was logged now also goes to the servers that keep no log (sharded). */
static void on_logged(void *ud, int status, const struct redisReply *reply)
{
    logged_t *l = ud;
    cluster_rec_t *r = l->r;
    r->inflight--;
    int failed = status != 0 || !reply || reply->type == REDIS_REPLY_ERROR;
    int result = SIO_ONCE_SENT;
    if (l->again && !failed) {
        /* a string: logged now; {"sent", offset} or {"unknown"}: left as it was */
        if (reply->type == REDIS_REPLY_STRING) {
            r->resent++;
            sio_nsp_t *nsp = sio_nsp_find(r->sio, l->name, l->name_len);
            if (l->copy && nsp && !r->stopped)
                cluster_publish_logged_copy(r->c, nsp, l->rooms, l->nrooms, l->except, l->nexcept,
                                            l->data, l->len, l->att, l->natt);
            else if (l->copy) /* the servers that keep no log did not get it */
                result = SIO_ONCE_FAILED;
        } else {
            r->resend_skipped++;
            result = SIO_ONCE_SENT_BEFORE;
        }
    } else if (l->again) {
        /* it may have gone out before: sending it unlogged could make it twice */
        log_warn("packet sent again not logged", "error=\"%s\"",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "connection lost");
        result = SIO_ONCE_FAILED;
    } else if (failed && !l->foreign) {
        log_warn("packet not logged", "error=\"%s\"",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "connection lost");
        sio_nsp_t *nsp = sio_nsp_find(l->r->sio, l->name, l->name_len);
        /* data is [event, ...args]: the event and its arguments apart */
        sio_event_t ev;
        char name[256];
        int ok = nsp && !l->r->stopped &&
                 sio_event_from_array(l->data, l->len, name, sizeof name, &ev) == 0 && ev.name;
        if (!ok) result = SIO_ONCE_FAILED;
        if (ok)
            sio_broadcast(nsp, l->rooms, l->nrooms, l->except, l->nexcept, ev.name, ev.name_len,
                          ev.args, ev.args_len, l->att, l->natt, SIO_NOLOG);
    }
    if (l->done) l->done(l->done_ud, result);
    logged_free(l);
    maybe_free(r);
}

static logged_t *logged_new(cluster_rec_t *r, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                            const str_t *except, size_t nexcept, const char *data, size_t len,
                            const sio_attachment_t *att, unsigned natt)
{
    logged_t *l = xcalloc(1, sizeof *l);
    size_t nlen;
    const char *n = sio_nsp_name(nsp, &nlen);
    l->r = r;
    l->nsp = nsp;
    l->name = xmemdup(n, nlen);
    l->name_len = nlen;
    l->rooms = strs_dup(rooms, nrooms);
    l->nrooms = nrooms;
    l->except = strs_dup(except, nexcept);
    l->nexcept = nexcept;
    l->data = xmemdup(data, len);
    l->len = len;
    l->natt = natt;
    l->att = natt ? xmalloc(natt * sizeof *l->att) : NULL;
    for (unsigned i = 0; i < natt; i++)
        l->att[i] = (sio_attachment_t){xmemdup(att[i].data, att[i].len), att[i].len};
    return l;
}

/* The rooms l excepts as a JSON array into ex: 0, or -1 when a name is not UTF-8. */
static int except_json(sbuf_t *ex, const logged_t *l)
{
    json_t *arr = json_array();
    int rc = arr ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < l->nexcept; i++)
        rc = json_array_append_new(arr, json_stringn(l->except[i].ptr, l->except[i].len));
    char *text = rc == 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (text) sbuf_append_str(ex, text);
    free(text);
    json_decref(arr);
    return text ? 0 : -1;
}

/* EVALs the LOG script for a packet of nsp: its streams, msg (up to its offset) and suffix
 * published on chan. l (stolen) is what on_logged gets. Returns 0, or -1 (l freed). */
static int log_packet(cluster_rec_t *r, sio_nsp_t *nsp, const sbuf_t *chan, const char *msg,
                      size_t msg_len, const char *suffix, size_t suffix_len, logged_t *l)
{
    char again[24] = "";
    if (l->again) snprintf(again, sizeof again, "%llu", (unsigned long long)l->again);
    sbuf_t seq = SBUF_INIT, ex = SBUF_INIT;
    args_t a = {0};
    arg_u64(&a, 2 + (l->nrooms ? l->nrooms : 1));
    key_of(&seq, r, nsp, "seq", 3);
    arg_add(&a, seq.data, seq.len);
    if (!l->nrooms) {
        key_of(arg_new(&a), r, nsp, "all", 3);
    } else {
        for (size_t i = 0; i < l->nrooms; i++) {
            sbuf_t what = SBUF_INIT;
            sbuf_append_str(&what, "r:");
            sbuf_append(&what, l->rooms[i].ptr, l->rooms[i].len);
            key_of(arg_new(&a), r, nsp, what.data, what.len);
            sbuf_free(&what);
        }
    }
    key_of(arg_new(&a), r, nsp, "cuts", 4);
    arg_u64(&a, r->window);
    arg_u64(&a, r->max_packets);
    arg_str(&a, r->sharded ? "SPUBLISH" : "PUBLISH");
    arg_add(&a, chan->data, chan->len);
    arg_add(&a, msg, msg_len);
    arg_add(&a, suffix, suffix_len);
    arg_add(&a, l->data, l->len);
    if (l->nexcept && except_json(&ex, l) < 0) {
        /* a room name that is not UTF-8 cannot go in the entry (the adapter reads names as
         * Node does, U+FFFD for bad bytes; an app could still pass one): sent unlogged */
        logged_free(l);
        args_free(&a);
        sbuf_free(&seq);
        return -1;
    }
    arg_add(&a, ex.data, ex.len);
    arg_add(&a, l->token ? l->token : "", l->token_len);
    arg_str(&a, again);
    for (unsigned i = 0; i < l->natt; i++) arg_add(&a, l->att[i].data, l->att[i].len);
    int rc = eval(r, rec_store_log_script, &a, &seq, on_logged, l);
    if (rc < 0)
        logged_free(l);
    else
        r->inflight++;
    args_free(&a);
    sbuf_free(&seq);
    sbuf_free(&ex);
    return rc < 0 ? -1 : 0;
}

static int once_again(const sio_once_t *once)
{
    return once && once->again;
}

/* An emit to one socket of this node: no other server has a use for it. */
static int to_local_socket(sio_nsp_t *nsp, const str_t *rooms, size_t nrooms)
{
    return nrooms == 1 && sio_socket_find(nsp, rooms[0].ptr, rooms[0].len) != NULL;
}

static int rec_publish(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                       const str_t *except, size_t nexcept, const char *data, size_t len,
                       const sio_attachment_t *att, unsigned natt, const sio_once_t *once)
{
    cluster_rec_t *r = ctx;
    sbuf_t msg = SBUF_INIT, chan = SBUF_INIT;
    int rc = -1;
    if (cluster_logged_message(r->c, nsp, rooms, nrooms, except, nexcept, data, len, att, natt,
                               &msg, &chan) == 0) {
        logged_t *l = logged_new(r, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
        if (once) {
            l->token = xmemdup(once->token, once->token_len);
            l->token_len = once->token_len;
            l->again = once->again ? (once->made_ms ? once->made_ms : 1) : 0;
            l->done = once->done;
            l->done_ud = once->ud;
        }
        /* servers of the sharded format that keep no log get it on its room's channel: a send
         * again only once the log has taken it */
        int copy = r->sharded && !to_local_socket(nsp, rooms, nrooms);
        l->copy = copy && l->again;
        if (r->sharded) key_of(&chan, r, nsp, "b", 1);
        rc = log_packet(r, nsp, &chan, msg.data, msg.len, "", 0, l);
        if (rc == 0 && copy && !once_again(once))
            cluster_publish_logged_copy(r->c, nsp, rooms, nrooms, except, nexcept, data, len, att,
                                        natt);
    }
    sbuf_free(&msg);
    sbuf_free(&chan);
    return rc;
}

/* ---- broadcasts from servers that keep no log ---- */

/* Such a broadcast (a Node.js server's, the emitter's, adminnode's) reaches every chatnode
 * (they subscribe to the namespace's pattern with recovery on). The chatnode holding the
 * logger lease logs it as a copy on {K:rec:N}:f, tagged with a hash of the original; every
 * chatnode holds the original until the copy comes back and delivers the copy, in the log's
 * order. An original whose copy does not come within FOREIGN_HOLD_MS (no logger, or Redis
 * failing) is delivered as it is, unlogged. */
#define FOREIGN_HOLD_MS 2000
#define LEASE_MS        3000
#define LEASE_EVERY_MS  1000
#define LEASE_TRY_MS    200

typedef struct held {
    struct held *next;
    uint64_t hash;
    logged_t *l;    /* the broadcast (rooms, except, data, attachments) */
    unsigned flags; /* SIO_VOLATILE... */
    deadline_node_t due;
} held_t;

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void held_drop(cluster_rec_t *r, held_t *h)
{
    for (held_t **pp = &r->held; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    deadline_node_remove(&h->due);
    logged_free(h->l);
    free(h);
    if (!r->held && r->released && !r->stopped) {
        void (*cb)(void *ud) = r->released;
        r->released = NULL;
        cb(r->released_ud);
    }
}

static int rec_holding(void *ctx)
{
    cluster_rec_t *r = ctx;
    return r->held != NULL;
}

static void rec_when_released(void *ctx, void (*cb)(void *ud), void *ud)
{
    cluster_rec_t *r = ctx;
    r->released = cb;
    r->released_ud = ud;
}

static void on_held_due(deadline_queue_t *q, deadline_node_t *n)
{
    cluster_rec_t *r = q->data;
    held_t *h = (held_t *)((char *)n - offsetof(held_t, due));
    sio_nsp_t *nsp = sio_nsp_find(r->sio, h->l->name, h->l->name_len);
    if (nsp) /* no logged copy came: delivered unlogged */
        sio_deliver(nsp, h->l->rooms, h->l->nrooms, h->l->except, h->l->nexcept, h->l->data,
                    h->l->len, h->l->att, h->l->natt, h->flags);
    r->foreign_unlogged++;
    held_drop(r, h);
}

static int rec_foreign(void *ctx, sio_nsp_t *nsp, const char *payload, size_t plen,
                       const str_t *rooms, size_t nrooms, const str_t *except, size_t nexcept,
                       const char *data, size_t len, const sio_attachment_t *att, unsigned natt)
{
    cluster_rec_t *r = ctx;
    /* a 3-element array: its header becomes 5 elements, the offset and the tag appended */
    if (plen < 1 || (unsigned char)payload[0] != 0x93) return -1;
    held_t *h = xcalloc(1, sizeof *h);
    h->hash = fnv1a(payload, plen);
    h->l = logged_new(r, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
    h->next = r->held;
    r->held = h;
    deadline_queue_add(&r->holds, &h->due);
    if (r->logger) {
        logged_t *l = logged_new(r, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
        l->foreign = 1;
        sbuf_t msg = SBUF_INIT, chan = SBUF_INIT, tag = SBUF_INIT;
        sbuf_append_char(&msg, (char)0x95);
        sbuf_append(&msg, payload + 1, plen - 1);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h->hash);
        sbuf_append_char(&tag, (char)(0xa0 + 16));
        sbuf_append(&tag, hex, 16);
        key_of(&chan, r, nsp, "f", 1);
        log_packet(r, nsp, &chan, msg.data, msg.len, tag.data, tag.len, l);
        sbuf_free(&msg);
        sbuf_free(&chan);
        sbuf_free(&tag);
    }
    return 0;
}

/* A logged copy on {K:rec:N}:f (its original then let go), or, in the sharded format, a
 * logged packet on {K:rec:N}:b: delivered as any logged packet. */
static void on_copy(void *ud, const char *ch, size_t chlen, const char *payload, size_t len)
{
    (void)ch;
    (void)chlen;
    rec_nsp_t *rn = ud;
    cluster_rec_t *r = rn->r;
    amsg_broadcast_t b;
    rec_offset_t off;
    if (amsg_broadcast_decode((const uint8_t *)payload, len, &b) < 0) return;
    if (b.offset.s && rec_offset_parse(b.offset.s, b.offset.len, &off) == 0 && b.data.json) {
        str_t *rooms = b.nrooms ? xmalloc(b.nrooms * sizeof *rooms) : NULL;
        str_t *except = b.nexcept ? xmalloc(b.nexcept * sizeof *except) : NULL;
        for (size_t i = 0; i < b.nrooms; i++) rooms[i] = (str_t){b.rooms[i].s, b.rooms[i].len};
        for (size_t i = 0; i < b.nexcept; i++) except[i] = (str_t){b.except[i].s, b.except[i].len};
        if (off > sio_nsp_last(rn->nsp))
            rec_logged(r, rn->nsp, rooms, b.nrooms, except, b.nexcept, b.data.json, b.data.json_len,
                       b.data.att, b.data.natt, off);
        sio_deliver_logged(rn->nsp, rooms, b.nrooms, except, b.nexcept, b.data.json,
                           b.data.json_len, b.data.att, b.data.natt, off);
        free(rooms);
        free(except);
        if (b.tag.s && b.tag.len == 16) {
            r->foreign_logged++;
            char hex[17];
            memcpy(hex, b.tag.s, 16);
            hex[16] = 0;
            uint64_t hash = strtoull(hex, NULL, 16);
            held_t *oldest = NULL; /* the first held (the list is newest first) */
            for (held_t *h = r->held; h; h = h->next)
                if (h->hash == hash) oldest = h;
            if (oldest) held_drop(r, oldest);
        }
    }
    amsg_broadcast_free(&b);
}

static void on_lease(void *ud, int status, const struct redisReply *reply)
{
    cluster_rec_t *r = ud;
    r->inflight--;
    if (!r->stopped) {
        int was = r->logger;
        r->logger =
            status == 0 && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
        /* renewed every second while held; asked for more often while no one may hold it */
        uv_timer_set_repeat(&r->lease, r->logger ? LEASE_EVERY_MS : LEASE_TRY_MS);
        if (r->logger != was)
            log_info(r->logger ? "logging broadcasts of servers without a log"
                               : "logger lease lost",
                     NULL);
    }
    maybe_free(r);
}

static void on_lease_timer(uv_timer_t *t)
{
    cluster_rec_t *r = t->data;
    sbuf_t k = SBUF_INIT;
    sbuf_append_str(&k, r->key);
    sbuf_append_str(&k, ":rec:logger");
    args_t a = {0};
    arg_str(&a, "1");
    arg_add(&a, k.data, k.len);
    arg_str(&a, cluster_uid(r->c));
    arg_u64(&a, LEASE_MS);
    if (eval(r, rec_store_lease_script, &a, &k, on_lease, r) == 0)
        r->inflight++;
    else
        r->logger = 0;
    args_free(&a);
    sbuf_free(&k);
}

/* ---- sessions ---- */

static void on_session_written(void *ud, int status, const struct redisReply *reply)
{
    (void)ud;
    if (status != 0 || (reply && reply->type == REDIS_REPLY_ERROR))
        log_debug("session not written", "error=\"%s\"",
                  reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "connection lost");
}

/* The SESSION script for s: op, TTL, then a's fields (a holds them from index 5 on). */
static void session_op(cluster_rec_t *r, sio_socket_t *s, args_t *a)
{
    sbuf_t k = SBUF_INIT;
    session_key(&k, r, s);
    sbuf_append(&a->bufs[1], k.data, k.len);
    eval(r, rec_store_session_script, a, &k, on_session_written, NULL);
    sbuf_free(&k);
}

/* The argv head: 1 key (filled by session_op), node uid, op, TTL. */
static void session_args(args_t *a, cluster_rec_t *r, const char *op, uint64_t ttl)
{
    arg_str(a, "1");
    arg_new(a);
    arg_str(a, cluster_uid(r->c));
    arg_str(a, op);
    arg_u64(a, ttl);
}

static void offset_arg(args_t *a, rec_offset_t o)
{
    char text[REC_OFFSET_MAX + 1];
    arg_add(a, text, rec_offset_format(o, text));
}

static void rec_session_new(void *ctx, sio_socket_t *s, const char *data, size_t len)
{
    cluster_rec_t *r = ctx;
    args_t a = {0};
    session_args(&a, r, "new", r->live_ms);
    arg_str(&a, "sid");
    arg_str(&a, sio_socket_id(s));
    arg_str(&a, "start");
    /* the session begins at what this node has delivered: the namespace's last offset */
    sio_nsp_t *nsp = sio_socket_nsp(s);
    offset_arg(&a, sio_nsp_last(nsp));
    arg_str(&a, "data");
    arg_add(&a, data, len);
    const char *owner = sio_socket_owner(s);
    if (owner) {
        arg_str(&a, "owner");
        arg_str(&a, owner);
    }
    session_op(r, s, &a);
    args_free(&a);
}

static void rec_session_room(void *ctx, sio_socket_t *s, const char *room, size_t len, int joined,
                             uint64_t stamp)
{
    cluster_rec_t *r = ctx;
    args_t a = {0};
    session_args(&a, r, joined ? "set" : "del", r->live_ms);
    sbuf_t *f = arg_new(&a);
    sbuf_append_str(f, "r:");
    sbuf_append(f, room, len);
    if (joined) offset_arg(&a, stamp);
    session_op(r, s, &a);
    args_free(&a);
}

/* The SESSION script's op with ttl on n sessions (keys only: "ttl" takes any number, "end"
 * one). Their keys share the namespace's hash tag: one slot, whichever shard. */
static void sessions_ttl(cluster_rec_t *r, sio_socket_t *const *s, size_t n, const char *op,
                         uint64_t ttl)
{
    args_t a = {0};
    arg_u64(&a, n);
    for (size_t i = 0; i < n; i++) session_key(arg_new(&a), r, s[i]);
    arg_str(&a, cluster_uid(r->c));
    arg_str(&a, op);
    arg_u64(&a, ttl);
    sbuf_t route = SBUF_INIT; /* eval takes a over */
    sbuf_append(&route, a.bufs[1].data, a.bufs[1].len);
    eval(r, rec_store_session_script, &a, &route, on_session_written, NULL);
    sbuf_free(&route);
    args_free(&a);
}

static void rec_session_keep(void *ctx, sio_socket_t *s)
{
    cluster_rec_t *r = ctx;
    sessions_ttl(r, &s, 1, "ttl", r->keep_ms);
}

static void rec_sessions_touch(void *ctx, sio_socket_t *const *s, size_t n)
{
    cluster_rec_t *r = ctx;
    sessions_ttl(r, s, n, "ttl", r->live_ms);
}

static void rec_session_end(void *ctx, sio_socket_t *s)
{
    cluster_rec_t *r = ctx;
    sessions_ttl(r, &s, 1, "end", r->live_ms);
}

/* ---- restores ---- */

static void restore_unlink(restore_t *x)
{
    for (restore_t **pp = &x->r->restores; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            return;
        }
    }
}

static sio_rec_fail_t why_of(const char *s, size_t len)
{
    static const struct {
        const char *name;
        sio_rec_fail_t why;
    } map[] = {{"unknown", SIO_REC_UNKNOWN},
               {"owner", SIO_REC_OWNER},
               {"offset", SIO_REC_OFFSET},
               {"trimmed", SIO_REC_TRIMMED},
               {"too_many", SIO_REC_TOO_MANY}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].name) == len && memcmp(map[i].name, s, len) == 0) return map[i].why;
    return SIO_REC_UNAVAILABLE;
}

static int parse_offset(const redisReply *e, rec_offset_t *out)
{
    return e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) &&
                   rec_offset_parse(e->str, e->len, out) == 0
               ? 0
               : -1;
}

/* Answers x from its reply ({"ok", sid, data, start, head, rooms, packets}); x is freed then,
 * or once its command's callback came when it is still out. */
static void restore_finish(restore_t *x, sio_rec_fail_t fail)
{
    restore_unlink(x);
    deadline_node_remove(&x->timeout);
    if (!x->cb) return; /* answered already */
    sio_restore_t res = {0};
    res.why = fail;
    const redisReply *rp = x->reply;
    const char **rooms = NULL;
    size_t *room_lens = NULL;
    uint64_t *stamps = NULL;
    sio_rec_packet_t *packets = NULL;
    sio_attachment_t *atts = NULL;
    if (fail == SIO_REC_FAIL_COUNT && rp && rp->type == REDIS_REPLY_ARRAY && rp->elements == 7 &&
        rp->element[1]->type == REDIS_REPLY_STRING && rp->element[2]->type == REDIS_REPLY_STRING &&
        parse_offset(rp->element[3], &res.start) == 0 &&
        parse_offset(rp->element[4], &res.head) == 0 && rp->element[5]->type == REDIS_REPLY_ARRAY &&
        rp->element[6]->type == REDIS_REPLY_ARRAY) {
        res.ok = 1;
        res.sid = rp->element[1]->str;
        res.data = rp->element[2]->str;
        res.data_len = rp->element[2]->len;
        const redisReply *rr = rp->element[5], *pr = rp->element[6];
        size_t nr = rr->elements / 2;
        rooms = nr ? xmalloc(nr * sizeof *rooms) : NULL;
        room_lens = nr ? xmalloc(nr * sizeof *room_lens) : NULL;
        stamps = nr ? xmalloc(nr * sizeof *stamps) : NULL;
        for (size_t i = 0; i < nr && res.ok; i++) {
            const redisReply *name = rr->element[2 * i];
            if (name->type != REDIS_REPLY_STRING ||
                parse_offset(rr->element[2 * i + 1], &stamps[i]) < 0) {
                res.ok = 0;
                break;
            }
            rooms[i] = name->str;
            room_lens[i] = name->len;
        }
        res.rooms = rooms;
        res.room_lens = room_lens;
        res.stamps = stamps;
        res.nrooms = nr;
        /* packets: id, data, natt, att... */
        size_t np = 0, natt_all = 0;
        for (size_t i = 0; i + 2 < pr->elements && res.ok;) {
            const redisReply *na = pr->element[i + 2];
            if (na->type != REDIS_REPLY_INTEGER || na->integer < 0 ||
                i + 3 + (size_t)na->integer > pr->elements) {
                res.ok = 0;
                break;
            }
            np++;
            natt_all += (size_t)na->integer;
            i += 3 + (size_t)na->integer;
        }
        packets = np + x->nlate ? xcalloc(np + x->nlate, sizeof *packets) : NULL;
        atts = natt_all ? xmalloc(natt_all * sizeof *atts) : NULL;
        size_t p = 0, ai = 0;
        for (size_t i = 0; res.ok && p < np;) {
            const redisReply *id = pr->element[i], *d = pr->element[i + 1];
            size_t natt = (size_t)pr->element[i + 2]->integer;
            if (parse_offset(id, &packets[p].offset) < 0 || d->type != REDIS_REPLY_STRING) {
                res.ok = 0;
                break;
            }
            packets[p].data = d->str;
            packets[p].len = d->len;
            packets[p].att = natt ? &atts[ai] : NULL;
            packets[p].natt = (unsigned)natt;
            for (size_t k = 0; k < natt; k++, ai++) {
                const redisReply *b = pr->element[i + 3 + k];
                atts[ai] = (sio_attachment_t){(uint8_t *)b->str, b->len};
            }
            i += 3 + natt;
            p++;
        }
        for (size_t i = 0; res.ok && i < x->nlate; i++) {
            const logged_t *l = x->late[i];
            packets[np + i] =
                (sio_rec_packet_t){l->data,  l->len,    l->offset, l->att,     l->natt,
                                   l->rooms, l->except, l->nrooms, l->nexcept, 1};
        }
        res.packets = packets;
        res.npackets = np + x->nlate;
        if (!res.ok) res.why = SIO_REC_UNAVAILABLE;
    } else if (fail == SIO_REC_FAIL_COUNT) {
        res.why = SIO_REC_UNAVAILABLE;
    }
    sio_restore_cb cb = x->cb;
    x->cb = NULL;
    cb(x->ud, &res);
    free(rooms);
    free(room_lens);
    free(stamps);
    free(packets);
    free(atts);
    redis_reply_free(x->reply);
    x->reply = NULL;
    for (size_t i = 0; i < x->nlate; i++) logged_free(x->late[i]);
    free(x->late);
    x->late = NULL;
    x->nlate = 0;
    if (!x->pending) free(x);
}

static void on_restore_reply(void *ud, int status, const struct redisReply *reply)
{
    restore_t *x = ud;
    cluster_rec_t *r = x->r;
    x->pending = 0;
    r->inflight--;
    if (!x->cb) { /* answered already (stopped, or timed out) */
        free(x);
        maybe_free(r);
        return;
    }
    if (status != 0 || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_warn("restore failed", "error=\"%s\"", reply->str);
        restore_finish(x, SIO_REC_UNAVAILABLE);
        return;
    }
    const redisReply *head = reply->element[0];
    if (!(head->len == 2 && memcmp(head->str, "ok", 2) == 0)) {
        restore_finish(x, why_of(head->str, head->len));
        return;
    }
    x->reply = redis_reply_dup(reply);
    if (x->marked) restore_finish(x, SIO_REC_FAIL_COUNT);
}

static void on_restore_timeout(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    restore_t *x = (restore_t *)((char *)n - offsetof(restore_t, timeout));
    log_warn("restore not confirmed on the bus in time", NULL);
    restore_finish(x, SIO_REC_UNAVAILABLE);
}

static void rec_restore(void *ctx, sio_nsp_t *nsp, const char *pid, size_t pid_len,
                        const char *owner, size_t owner_len, const char *offset, sio_restore_cb cb,
                        void *ud)
{
    cluster_rec_t *r = ctx;
    restore_t *x = xcalloc(1, sizeof *x);
    x->r = r;
    x->id = ++r->next_id;
    x->nsp = nsp;
    x->cb = cb;
    x->ud = ud;
    args_t a = {0};
    arg_str(&a, "4");
    sbuf_t *k = arg_new(&a);
    sbuf_t what = SBUF_INIT;
    sbuf_append_str(&what, "s:");
    sbuf_append(&what, pid, pid_len);
    key_of(k, r, nsp, what.data, what.len);
    sbuf_t key = SBUF_INIT;
    sbuf_append(&key, k->data, k->len);
    key_of(arg_new(&a), r, nsp, "seq", 3);
    key_of(arg_new(&a), r, nsp, "all", 3);
    key_of(arg_new(&a), r, nsp, "cuts", 4);
    arg_add(&a, owner ? owner : "", owner_len);
    arg_str(&a, offset);
    arg_u64(&a, r->max_packets);
    key_of(arg_new(&a), r, nsp, "r:", 2);
    arg_str(&a, cluster_uid(r->c));
    key_of(arg_new(&a), r, nsp, "m", 1);
    sbuf_printf(arg_new(&a), "%s %llu %.*s", cluster_uid(r->c), (unsigned long long)x->id,
                (int)pid_len, pid);
    arg_u64(&a, r->live_ms);
    arg_add(&a, pid, pid_len);
    arg_str(&a, r->sharded ? "SPUBLISH" : "PUBLISH");
    x->next = r->restores;
    r->restores = x;
    deadline_queue_add(&r->timeouts, &x->timeout);
    if (eval(r, rec_store_restore_script, &a, &key, on_restore_reply, x) < 0) {
        restore_finish(x, SIO_REC_UNAVAILABLE);
    } else {
        x->pending = 1;
        r->inflight++;
    }
    args_free(&a);
    sbuf_free(&what);
    sbuf_free(&key);
}

/* A marker on a namespace's channel: "<node uid> <restore id> <pid>": ours completes a
 * restore, another node's means that session now lives there; "<node uid> end <pid>": the
 * session is over, wherever it is kept. */
static void on_marker(void *ud, const char *ch, size_t chlen, const char *payload, size_t len)
{
    (void)ch;
    (void)chlen;
    rec_nsp_t *rn = ud;
    cluster_rec_t *r = rn->r;
    const char *sp1 = memchr(payload, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - payload)) : NULL;
    if (!sp2) return;
    const char *uid = cluster_uid(r->c);
    const char *pid = sp2 + 1;
    size_t pid_len = len - (size_t)(pid - payload);
    if (sp2 - sp1 == 4 && memcmp(sp1 + 1, "end", 3) == 0) {
        sio_rec_end(rn->nsp, pid, pid_len);
        return;
    }
    if ((size_t)(sp1 - payload) == strlen(uid) && memcmp(payload, uid, strlen(uid)) == 0) {
        uint64_t id = strtoull(sp1 + 1, NULL, 10);
        for (restore_t *x = r->restores; x; x = x->next) {
            if (x->id != id) continue;
            x->marked = 1;
            if (x->reply) restore_finish(x, SIO_REC_FAIL_COUNT);
            return;
        }
        return;
    }
    sio_rec_moved(rn->nsp, pid, pid_len);
}

static void rec_logged(void *ctx, sio_nsp_t *nsp, const str_t *rooms, size_t nrooms,
                       const str_t *except, size_t nexcept, const char *data, size_t len,
                       const sio_attachment_t *att, unsigned natt, uint64_t offset)
{
    cluster_rec_t *r = ctx;
    for (restore_t *x = r->restores; x; x = x->next) {
        if (x->nsp != nsp || !x->marked || x->reply) continue;
        logged_t *l = logged_new(r, nsp, rooms, nrooms, except, nexcept, data, len, att, natt);
        l->offset = offset;
        x->late = xrealloc(x->late, (x->nlate + 1) * sizeof *x->late);
        x->late[x->nlate++] = l;
    }
}

static void rec_nsp_added(void *ctx, sio_nsp_t *nsp)
{
    cluster_rec_t *r = ctx;
    rec_nsp_t *rn = xcalloc(1, sizeof *rn);
    rn->r = r;
    rn->nsp = nsp;
    rn->next = r->nsps;
    r->nsps = rn;
    /* the log's channels, on the namespace's shard in the sharded format (one connection:
     * what its scripts publish comes in the order they ran) */
    int (*listen)(cluster_t *, const char *, size_t, cluster_listen_cb, void *) =
        r->sharded ? cluster_listen_shard : cluster_listen;
    sbuf_t ch = SBUF_INIT;
    key_of(&ch, r, nsp, "m", 1);
    listen(r->c, ch.data, ch.len, on_marker, rn);
    sbuf_reset(&ch);
    key_of(&ch, r, nsp, "f", 1);
    listen(r->c, ch.data, ch.len, on_copy, rn);
    if (r->sharded) {
        sbuf_reset(&ch);
        key_of(&ch, r, nsp, "b", 1);
        listen(r->c, ch.data, ch.len, on_copy, rn);
    }
    sbuf_free(&ch);
}

static void on_timer_closed(uv_handle_t *h)
{
    cluster_rec_t *r = h->data;
    r->timer_open--;
    maybe_free(r);
}

static void rec_health(void *ctx, sbuf_t *json)
{
    cluster_rec_t *r = ctx;
    size_t held = 0;
    for (held_t *h = r->held; h; h = h->next) held++;
    sbuf_printf(json,
                ",\"logger\":%s,\"foreign_logged\":%llu,\"foreign_unlogged\":%llu,"
                "\"foreign_held\":%zu,\"resent\":%llu,\"resend_skipped\":%llu",
                r->logger ? "true" : "false", (unsigned long long)r->foreign_logged,
                (unsigned long long)r->foreign_unlogged, held, (unsigned long long)r->resent,
                (unsigned long long)r->resend_skipped);
}

cluster_rec_t *cluster_rec_start(cluster_t *c, sio_server_t *sio, const chatnode_config_t *cfg)
{
    cluster_rec_t *r = xcalloc(1, sizeof *r);
    r->c = c;
    r->sio = sio;
    r->key = cfg->redis_key;
    r->sharded = cluster_sharded(c);
    /* a packet may be asked for a ping period after it was sent plus a window */
    r->window =
        (uint64_t)cfg->recovery_window + (uint64_t)cfg->ping_interval + (uint64_t)cfg->ping_timeout;
    r->keep_ms = (uint64_t)cfg->recovery_window;
    r->live_ms = 2 * (uint64_t)cfg->recovery_window;
    r->max_packets = (uint64_t)cfg->recovery_max_packets;
    deadline_queue_init(&r->timeouts, sio_server_loop(sio), (uint64_t)cfg->requests_timeout,
                        on_restore_timeout, r);
    deadline_queue_init(&r->holds, sio_server_loop(sio), FOREIGN_HOLD_MS, on_held_due, r);
    uv_timer_init(sio_server_loop(sio), &r->lease);
    r->lease.data = r;
    uv_timer_start(&r->lease, on_lease_timer, 0, LEASE_TRY_MS);
    r->timer_open = 3;
    sio_rec_store_t store = {
        .publish = rec_publish,
        .session_new = rec_session_new,
        .session_room = rec_session_room,
        .session_keep = rec_session_keep,
        .sessions_touch = rec_sessions_touch,
        .session_end = rec_session_end,
        .restore = rec_restore,
        .health = rec_health,
        .ctx = r,
    };
    sio_server_set_rec_store(sio, &store);
    cluster_rec_hooks_t hooks = {
        .nsp_added = rec_nsp_added,
        .logged = rec_logged,
        .foreign = rec_foreign,
        .holding = rec_holding,
        .when_released = rec_when_released,
        .ctx = r,
    };
    cluster_set_recovery(c, &hooks);
    return r;
}

void cluster_rec_stop(cluster_rec_t *r)
{
    if (!r) return;
    sio_server_set_rec_store(r->sio, NULL);
    cluster_set_recovery(r->c, NULL);
    r->stopped = 1;
    while (r->restores) restore_finish(r->restores, SIO_REC_UNAVAILABLE);
    while (r->nsps) {
        rec_nsp_t *n = r->nsps;
        r->nsps = n->next;
        free(n);
    }
    while (r->held) held_drop(r, r->held);
    r->timeouts.timer.data = r;
    deadline_queue_close(&r->timeouts, on_timer_closed);
    r->holds.timer.data = r;
    deadline_queue_close(&r->holds, on_timer_closed);
    uv_timer_stop(&r->lease);
    uv_close((uv_handle_t *)&r->lease, on_timer_closed);
}
