/* The Redis bus on hiredis 0.14 async + libuv: connection life cycle (resolve, connect,
 * AUTH/SELECT, backoff), the wanted subscription set, the publish queue and close.
 *
 * hiredis 0.14 pub/sub rules this file works around:
 * - When an UNSUBSCRIBE reply brings the subscription count to 0, hiredis leaves subscribed
 *   mode, and a SUBSCRIBE reply pipelined behind it then trips an assert. The subscriber keeps
 *   one private anchor channel (__chatcluster:bus:sentinel) subscribed for the life of the
 *   connection, so the count never reaches 0. Its SUBSCRIBE is sent last after a (re)connect:
 *   its reply means every wanted channel and pattern is subscribed again.
 * - An UNSUBSCRIBE reply deletes the channel's callback even when a newer SUBSCRIBE for it is
 *   already pipelined; later messages for it would be dropped. When that reply comes for a
 *   channel that is wanted again, SUBSCRIBE is sent once more (it re-registers the callback
 *   before any further reply is read).
 * - Callbacks run with a NULL reply while a context is freed; that is also the first sign of a
 *   lost connection. A context is never freed from inside its connect/disconnect callback. */
#include "bus.h"

#include "alloc.h"
#include "bus_cluster.h"
#include "redis_reply.h"
#include "strmap.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANCHOR     "__chatcluster:bus:sentinel"
#define ANCHOR_LEN (sizeof ANCHOR - 1)
#define SUB_BATCH  128 /* names per SUBSCRIBE when restoring the set */

/* What a connection is doing in its current attempt. With a redis+sentinel:// URL an attempt
 * of the command or subscriber connection first asks a sentinel for the primary's address
 * (ASK_PRIMARY), then connects there (DATA) and checks with ROLE that it is the primary. The
 * watch connection stays on a sentinel, subscribed to +switch-master (WATCH). */
typedef enum { PHASE_DATA = 0, PHASE_ASK_PRIMARY, PHASE_WATCH } conn_phase_t;

#define CONN_WATCH 2 /* the kind of the sentinel watch connection (not a bus_conn_t) */

typedef struct conn {
    struct bus *bus;
    int kind; /* bus_conn_t, or CONN_WATCH */
    conn_phase_t phase;
    char host[256]; /* where the current attempt connects */
    int port;
    unsigned next_seed; /* the sentinel the next attempt asks (rotates) */
    bus_state_t state;
    redisAsyncContext *ctx; /* NULL when there is none; detached before we free it */
    int ready;              /* AUTH/SELECT done on ctx */
    int hs_pending;         /* handshake replies still expected */
    uv_timer_t timer;       /* reconnect delay while DISCONNECTED, deadline while CONNECTING */
    uv_getaddrinfo_t *gai;  /* the current resolve, or NULL (stale ones finish on their own) */
    uint32_t backoff_ms;    /* base of the next reconnect delay */
    int ever_connected;
    uint64_t attempts, connects;
} conn_t;

typedef struct pub_item {
    struct pub_item *next;
    size_t clen, plen;
    char data[]; /* channel then payload */
} pub_item_t;

typedef struct {
    size_t len;
    char name[]; /* NUL-terminated; the strmap key */
} sub_entry_t;

typedef struct {
    bus_reply_cb cb;
    void *ud;
} cmd_req_t;

typedef struct {
    uv_getaddrinfo_t req;
    conn_t *conn;
} gai_req_t;

struct bus {
    uv_loop_t *loop;
    redis_url_t url;
    busc_t *cl; /* not NULL: the bus on its own connections (bus_cluster.h) does the work */
    bus_closed_cb cl_done;
    void *cl_done_ud;
    char addr[300]; /* the redis:// server's host:port */
    bus_options_t o;
    conn_t cmd, sub;
    conn_t watch;            /* redis+sentinel://: the sentinel telling of failovers */
    char primary[280];       /* redis+sentinel://: the primary's host:port as last learnt, or "" */
    uint64_t failovers;      /* +switch-master announcements for our primary */
    uint64_t failover_moves; /* connection attempts started at once on such an announcement */
    uint64_t role_refusals;  /* connections dropped: the server named was not the primary */
    strmap_t channels, patterns; /* wanted set: name -> sub_entry_t */
    pub_item_t *qhead, *qtail;
    size_t qcount, qbytes;
    size_t inflight_bytes;
    uint64_t reconnects, published, received, dropped, lost;
    char last_error[160];
    uint64_t rng;
    /* closing */
    int closing;
    int handles_open; /* the three connections' timers */
    int reqs_pending; /* uv_getaddrinfo requests not yet called back */
    uv_timer_t fence; /* closed last: its close callback runs after every other close */
    bus_closed_cb done;
    void *done_ud;
};

const char *bus_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case BUS_ENOTCONN: return "Redis command connection is not up";
    case BUS_ECLOSED: return "bus is closed";
    case BUS_EQUEUEFULL: return "publish queue is full";
    case BUS_ECONNLOST: return "Redis connection lost before the reply";
    case BUS_EINVAL: return "invalid argument";
    case BUS_EAUTH: return "Redis AUTH refused";
    case BUS_ESELECT: return "Redis SELECT refused";
    case BUS_ECONNECT: return "Redis connection failed";
    case BUS_ETIMEDOUT: return "Redis connection timed out";
    case BUS_ESENTINEL: return "no sentinel gave the primary's address";
    case BUS_EROLE: return "the server the sentinel named is not the primary";
    case BUS_EFAILOVER: return "the primary changed (failover)";
    case BUS_ENOTSUP: return "this Redis topology is not supported";
    case BUS_EREPLICAS: return "too few replicas acknowledged the write in time";
    case BUS_ECLUSTER: return "the Redis Cluster did not serve the key's slot";
    case BUS_ERESOLVE: return "Redis host name did not resolve";
    default: return "unknown error";
    }
}

const char *bus_state_name(bus_state_t s)
{
    switch (s) {
    case BUS_DISCONNECTED: return "disconnected";
    case BUS_CONNECTING: return "connecting";
    case BUS_CONNECTED: return "connected";
    }
    return "unknown";
}

int bus_format_parse(const char *format, const redis_url_t *url, int *sharded, char *err,
                     size_t errlen)
{
    if (!format || !format[0])
        *sharded = url->kind == REDIS_URL_CLUSTER;
    else if (strcmp(format, "classic") == 0 || strcmp(format, "sharded") == 0)
        *sharded = strcmp(format, "sharded") == 0;
    else {
        snprintf(err, errlen, "--bus-format must be classic or sharded");
        return -1;
    }
    if (*sharded && url->kind == REDIS_URL_SENTINEL) {
        snprintf(err, errlen,
                 "--bus-format sharded needs redis:// (Redis 7) or redis+cluster://, not "
                 "redis+sentinel://");
        return -1;
    }
    return 0;
}

void bus_options_init(bus_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->backoff_initial_ms = 100;
    o->backoff_max_ms = 5000;
    o->jitter_pct = 25;
    o->connect_timeout_ms = 3000;
    o->queue_max_msgs = 10000;
    o->queue_max_bytes = 16u << 20;
    o->inflight_max_bytes = 64u << 20;
}

static const char *conn_name(const conn_t *c)
{
    return c->kind == BUS_CONN_CMD   ? "command"
           : c->kind == BUS_CONN_SUB ? "subscriber"
                                     : "sentinel watch";
}

/* The URL's sentinel side (redis+sentinel://): the sentinels to ask and the primary's name. */
static int url_sentinel(const redis_url_t *u)
{
    return u->kind == REDIS_URL_SENTINEL;
}

/* Points c at the next sentinel of the URL, in turn. */
static void target_next_sentinel(conn_t *c)
{
    const redis_url_t *u = &c->bus->url;
    const redis_url_addr_t *a = &u->addrs[c->next_seed++ % u->n_addrs];
    snprintf(c->host, sizeof c->host, "%s", a->host);
    c->port = a->port;
}

static void set_error(bus_t *bus, const conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(bus_t *bus, const conn_t *c, const char *fmt, ...)
{
    int n = snprintf(bus->last_error, sizeof bus->last_error, "%s: ", conn_name(c));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bus->last_error + n, sizeof bus->last_error - (size_t)n, fmt, ap);
    va_end(ap);
}

static void notify(conn_t *c, int err)
{
    bus_t *bus = c->bus;
    if (c->kind == CONN_WATCH) return; /* the bus's own business */
    if (!bus->closing && bus->o.on_state)
        bus->o.on_state(bus->o.ud, (bus_conn_t)c->kind, c->state, err);
}

static uint64_t rng_next(bus_t *bus)
{
    uint64_t x = bus->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    bus->rng = x;
    return x;
}

/* The delay before the next attempt: the current base +-jitter; the base then doubles. */
static uint64_t next_delay(conn_t *c)
{
    bus_t *bus = c->bus;
    uint64_t base = c->backoff_ms;
    uint64_t d = base;
    if (bus->o.jitter_pct && base) {
        uint64_t span = base * bus->o.jitter_pct / 100; /* +-span */
        d = base - span + rng_next(bus) % (2 * span + 1);
    }
    uint64_t nb = base * 2;
    c->backoff_ms = (uint32_t)(nb > bus->o.backoff_max_ms ? bus->o.backoff_max_ms : nb);
    if (c->backoff_ms == 0) c->backoff_ms = 1;
    return d;
}

static void on_timer(uv_timer_t *t);
static void maybe_finish_close(bus_t *bus);

/* Ends the current attempt or connection: detaches (and, when free_ctx, frees) the context,
 * goes DISCONNECTED and arms the reconnect timer. free_ctx is 0 when hiredis is already
 * freeing the context (its connect/disconnect callbacks, NULL replies). */
static void conn_fail(conn_t *c, int err, int free_ctx)
{
    bus_t *bus = c->bus;
    redisAsyncContext *old = c->ctx;
    c->ctx = NULL;
    c->ready = 0;
    c->hs_pending = 0;
    c->gai = NULL;
    c->state = BUS_DISCONNECTED;
    if (old && free_ctx) redisAsyncFree(old); /* runs pending callbacks: they see ctx detached */
    if (bus->closing) return;
    uv_timer_start(&c->timer, on_timer, next_delay(c), 0);
    notify(c, err);
}

/* hiredis is freeing ac (first NULL reply, or the disconnect callback). */
static void conn_lost(conn_t *c, const redisAsyncContext *ac)
{
    if (c->ctx != ac) return;
    c->ctx = NULL;
    if (c->bus->closing) return;
    set_error(c->bus, c, "connection lost: %s", ac->errstr[0] ? ac->errstr : "closed");
    conn_fail(c, BUS_ECONNECT, 0);
}

static void conn_connected(conn_t *c)
{
    bus_t *bus = c->bus;
    uv_timer_stop(&c->timer);
    c->state = BUS_CONNECTED;
    c->connects++;
    if (c->ever_connected) bus->reconnects++;
    c->ever_connected = 1;
    c->backoff_ms = bus->o.backoff_initial_ms ? bus->o.backoff_initial_ms : 1;
    notify(c, 0);
}

/* --- publishing --- */

static void pub_cb(redisAsyncContext *ac, void *reply, void *pd)
{
    conn_t *c = ac->data;
    bus_t *bus = c->bus;
    bus->inflight_bytes -= (size_t)(uintptr_t)pd;
    if (!reply) {
        bus->lost++;
        conn_lost(c, ac);
    }
}

static void send_publish(bus_t *bus, const char *ch, size_t clen, const char *pl, size_t plen)
{
    const char *argv[3] = {"PUBLISH", ch, pl};
    size_t lens[3] = {7, clen, plen};
    size_t bytes = clen + plen;
    if (redisAsyncCommandArgv(bus->cmd.ctx, pub_cb, (void *)(uintptr_t)bytes, 3, argv, lens) !=
        REDIS_OK) {
        bus->lost++; /* the context is going away */
        return;
    }
    bus->inflight_bytes += bytes;
    bus->published++;
}

static void queue_flush(bus_t *bus)
{
    while (bus->qhead && bus->cmd.ctx) {
        pub_item_t *it = bus->qhead;
        bus->qhead = it->next;
        if (!bus->qhead) bus->qtail = NULL;
        bus->qcount--;
        bus->qbytes -= it->clen + it->plen;
        send_publish(bus, it->data, it->clen, it->data + it->clen, it->plen);
        free(it);
    }
}

static void queue_clear(bus_t *bus)
{
    pub_item_t *it = bus->qhead;
    while (it) {
        pub_item_t *next = it->next;
        free(it);
        it = next;
    }
    bus->qhead = bus->qtail = NULL;
    bus->qcount = bus->qbytes = 0;
}

int bus_publish(bus_t *bus, const char *channel, size_t channel_len, const char *payload,
                size_t payload_len)
{
    if (!bus || (!channel && channel_len) || (!payload && payload_len)) return BUS_EINVAL;
    if (bus->cl) return busc_publish(bus->cl, 0, channel, channel_len, payload, payload_len);
    if (bus->closing) return BUS_ECLOSED;
    if (!channel) channel = "";
    if (!payload) payload = "";
    size_t bytes = channel_len + payload_len;
    if (bus->cmd.state == BUS_CONNECTED && bus->cmd.ctx) {
        if (bus->o.inflight_max_bytes && bus->inflight_bytes + bytes > bus->o.inflight_max_bytes) {
            bus->dropped++;
            return BUS_EQUEUEFULL;
        }
        send_publish(bus, channel, channel_len, payload, payload_len);
        return 0;
    }
    if (bus->qcount + 1 > bus->o.queue_max_msgs || bus->qbytes + bytes > bus->o.queue_max_bytes) {
        bus->dropped++;
        return BUS_EQUEUEFULL;
    }
    pub_item_t *it = xmalloc(sizeof *it + bytes);
    it->next = NULL;
    it->clen = channel_len;
    it->plen = payload_len;
    memcpy(it->data, channel, channel_len);
    memcpy(it->data + channel_len, payload, payload_len);
    if (bus->qtail)
        bus->qtail->next = it;
    else
        bus->qhead = it;
    bus->qtail = it;
    bus->qcount++;
    bus->qbytes += bytes;
    return 0;
}

/* --- commands --- */

static void cmd_cb(redisAsyncContext *ac, void *reply, void *pd)
{
    conn_t *c = ac->data;
    cmd_req_t *req = pd;
    int status = 0;
    if (!reply) {
        conn_lost(c, ac);
        status = c->bus->closing ? BUS_ECLOSED : BUS_ECONNLOST;
    }
    bus_reply_cb cb = req->cb;
    void *ud = req->ud;
    free(req);
    cb(ud, status, reply);
}

int bus_command(bus_t *bus, int argc, const char *const *argv, const size_t *argvlen,
                bus_reply_cb cb, void *cb_ud)
{
    if (!bus || argc < 1 || !argv || !cb) return BUS_EINVAL;
    if (bus->cl) return busc_command(bus->cl, NULL, 0, -1, 0, 0, argc, argv, argvlen, cb, cb_ud);
    if (bus->closing) return BUS_ECLOSED;
    if (bus->cmd.state != BUS_CONNECTED || !bus->cmd.ctx) return BUS_ENOTCONN;
    cmd_req_t *req = xmalloc(sizeof *req);
    req->cb = cb;
    req->ud = cb_ud;
    if (redisAsyncCommandArgv(bus->cmd.ctx, cmd_cb, req, argc, (const char **)argv, argvlen) !=
        REDIS_OK) {
        free(req);
        return BUS_ENOTCONN;
    }
    return 0;
}

int bus_command_key(bus_t *bus, const char *key, size_t keylen, int argc, const char *const *argv,
                    const size_t *argvlen, bus_reply_cb cb, void *cb_ud)
{
    if (bus && bus->cl && argc >= 1 && argv && cb && (key || !keylen))
        return busc_command(bus->cl, key ? key : "", keylen, -1, 0, 0, argc, argv, argvlen, cb,
                            cb_ud);
    return bus_command(bus, argc, argv, argvlen, cb, cb_ud);
}

size_t bus_shards(const bus_t *bus)
{
    return bus->cl ? busc_shards(bus->cl) : 1;
}

const char *bus_shard_addr(const bus_t *bus, size_t shard)
{
    if (bus->cl) return busc_shard_addr(bus->cl, shard);
    if (shard != 0) return NULL;
    return url_sentinel(&bus->url) ? (bus->primary[0] ? bus->primary : NULL) : bus->addr;
}

int bus_command_shard(bus_t *bus, size_t shard, int argc, const char *const *argv,
                      const size_t *argvlen, bus_reply_cb cb, void *cb_ud)
{
    if (bus && bus->cl && argc >= 1 && argv && cb)
        return busc_command(bus->cl, NULL, 0, (long)shard, 0, 0, argc, argv, argvlen, cb, cb_ud);
    if (shard != 0) return BUS_EINVAL;
    return bus_command(bus, argc, argv, argvlen, cb, cb_ud);
}

/* A command followed by WAIT on the one command connection: the command's reply is kept
 * until WAIT's comes. */
typedef struct {
    bus_reply_cb cb;
    void *ud;
    unsigned replicas;
    redisReply *reply; /* the command's, copied; NULL until it came */
    int done;          /* cb fired (the command failed: WAIT's reply is not waited for) */
    int waiting;       /* WAIT was sent behind the command */
} wait_req_t;

static void on_waited_cmd(void *ud, int status, const redisReply *r)
{
    wait_req_t *w = ud;
    if (!w->waiting) { /* WAIT could not be sent: nothing is known of the replicas */
        w->cb(w->ud, status == 0 && r->type != REDIS_REPLY_ERROR ? BUS_EREPLICAS : status, r);
        free(w);
        return;
    }
    if (status == 0 && r->type != REDIS_REPLY_ERROR) {
        w->reply = redis_reply_dup(r);
        return;
    }
    w->done = 1;
    w->cb(w->ud, status, r);
}

static void on_wait(void *ud, int status, const redisReply *r)
{
    wait_req_t *w = ud;
    if (!w->done) {
        if (status != 0)
            w->cb(w->ud, status, NULL);
        else if (r->type == REDIS_REPLY_INTEGER && r->integer >= (long long)w->replicas)
            w->cb(w->ud, 0, w->reply);
        else
            w->cb(w->ud, BUS_EREPLICAS, w->reply);
    }
    redis_reply_free(w->reply);
    free(w);
}

int bus_command_replicated(bus_t *bus, const char *key, size_t keylen, unsigned replicas,
                           uint32_t timeout_ms, int argc, const char *const *argv,
                           const size_t *argvlen, bus_reply_cb cb, void *cb_ud)
{
    if (replicas == 0) return bus_command_key(bus, key, keylen, argc, argv, argvlen, cb, cb_ud);
    if (!bus || argc < 1 || !argv || !cb || (!key && keylen)) return BUS_EINVAL;
    if (bus->cl)
        return busc_command(bus->cl, key ? key : "", keylen, -1, replicas, timeout_ms, argc, argv,
                            argvlen, cb, cb_ud);
    wait_req_t *w = xcalloc(1, sizeof *w);
    w->cb = cb;
    w->ud = cb_ud;
    w->replicas = replicas;
    int rc = bus_command(bus, argc, argv, argvlen, on_waited_cmd, w);
    if (rc < 0) {
        free(w);
        return rc;
    }
    char n[16], t[16];
    snprintf(n, sizeof n, "%u", replicas);
    snprintf(t, sizeof t, "%u", timeout_ms);
    const char *wargv[] = {"WAIT", n, t};
    w->waiting = bus_command(bus, 3, wargv, NULL, on_wait, w) == 0;
    return 0;
}

int bus_ssubscribe(bus_t *bus, const char *channel, size_t len)
{
    if (!bus) return BUS_EINVAL;
    return bus->cl ? busc_subscribe(bus->cl, BUSC_SHARD, channel, len) : BUS_ENOTSUP;
}

int bus_sunsubscribe(bus_t *bus, const char *channel, size_t len)
{
    if (!bus) return BUS_EINVAL;
    return bus->cl ? busc_unsubscribe(bus->cl, BUSC_SHARD, channel, len) : BUS_ENOTSUP;
}

int bus_spublish(bus_t *bus, const char *channel, size_t channel_len, const char *payload,
                 size_t payload_len)
{
    if (!bus) return BUS_EINVAL;
    return bus->cl ? busc_publish(bus->cl, 1, channel, channel_len, payload, payload_len)
                   : BUS_ENOTSUP;
}

/* --- subscriptions --- */

/* The connection a reply on ac is for, or NULL when there is nothing to do with it: a NULL
 * reply (hiredis is freeing ac: the connection is lost), a context that is no longer the
 * connection's, or a closing bus. */
static conn_t *reply_conn(redisAsyncContext *ac, const redisReply *r)
{
    conn_t *c = ac->data;
    if (!r) {
        conn_lost(c, ac);
        return NULL;
    }
    return c->ctx != ac || c->bus->closing ? NULL : c;
}

static void sub_cb(redisAsyncContext *ac, void *reply, void *pd);

static void sub_send(conn_t *c, const char *verb, const char *name, size_t len)
{
    const char *argv[2] = {verb, name};
    size_t lens[2] = {strlen(verb), len};
    redisAsyncCommandArgv(c->ctx, sub_cb, NULL, 2, argv, lens);
}

static int is_anchor(const char *name, size_t len)
{
    return len == ANCHOR_LEN && memcmp(name, ANCHOR, len) == 0;
}

static void sub_cb(redisAsyncContext *ac, void *reply, void *pd)
{
    const redisReply *r = reply;
    conn_t *c = reply_conn(ac, r);
    if (!c) return;
    bus_t *bus = c->bus;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING && r->element[i]->type != REDIS_REPLY_INTEGER)
            return;
    const redisReply *kind = r->element[0], *a = r->element[1], *b = r->element[2];
    if (kind->type != REDIS_REPLY_STRING || a->type != REDIS_REPLY_STRING) return;
    const char *k = kind->str;

    if (strcmp(k, "message") == 0 && b->type == REDIS_REPLY_STRING) {
        if (!strmap_get(&bus->channels, a->str, a->len)) return; /* not wanted (any more) */
        bus->received++;
        if (bus->o.on_message) bus->o.on_message(bus->o.ud, a->str, a->len, NULL, b->str, b->len);
    } else if (strcmp(k, "pmessage") == 0 && r->elements == 4 && b->type == REDIS_REPLY_STRING &&
               r->element[3]->type == REDIS_REPLY_STRING) {
        if (!strmap_get(&bus->patterns, a->str, a->len)) return;
        bus->received++;
        if (bus->o.on_message)
            bus->o.on_message(bus->o.ud, b->str, b->len, a->str, r->element[3]->str,
                              r->element[3]->len);
    } else if (strcmp(k, "subscribe") == 0) {
        if (c->state == BUS_CONNECTING && is_anchor(a->str, a->len)) conn_connected(c);
    } else if (strcmp(k, "unsubscribe") == 0) {
        /* hiredis just forgot this channel; if it is wanted again, register it once more. */
        if (strmap_get(&bus->channels, a->str, a->len) && c->ready)
            sub_send(c, "SUBSCRIBE", a->str, a->len);
    } else if (strcmp(k, "punsubscribe") == 0) {
        if (strmap_get(&bus->patterns, a->str, a->len) && c->ready)
            sub_send(c, "PSUBSCRIBE", a->str, a->len);
    }
}

/* Subscribes every wanted name in map, SUB_BATCH per command. */
static void sub_restore(conn_t *c, strmap_t *map, const char *verb)
{
    const char *argv[SUB_BATCH + 1];
    size_t lens[SUB_BATCH + 1];
    int n = 0;
    const char *key;
    size_t klen;
    void *v;
    for (size_t pos = 0; strmap_next(map, &pos, &key, &klen, &v);) {
        if (n == 0) {
            argv[0] = verb;
            lens[0] = strlen(verb);
            n = 1;
        }
        argv[n] = key;
        lens[n] = klen;
        if (++n == SUB_BATCH + 1) {
            redisAsyncCommandArgv(c->ctx, sub_cb, NULL, n, argv, lens);
            n = 0;
        }
    }
    if (n > 1) redisAsyncCommandArgv(c->ctx, sub_cb, NULL, n, argv, lens);
}

static int sub_add(bus_t *bus, strmap_t *map, const char *verb, const char *name, size_t len)
{
    if (!bus || (!name && len) || len > UINT32_MAX) return BUS_EINVAL;
    if (bus->closing) return BUS_ECLOSED;
    if (!name) name = "";
    if (strmap_get(map, name, len)) return 0;
    sub_entry_t *e = xmalloc(sizeof *e + len + 1);
    e->len = len;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    strmap_put(map, e->name, len, e);
    if (bus->sub.ready && bus->sub.ctx) sub_send(&bus->sub, verb, e->name, len);
    return 0;
}

static int sub_remove(bus_t *bus, strmap_t *map, const char *verb, const char *name, size_t len)
{
    if (!bus || (!name && len)) return BUS_EINVAL;
    if (bus->closing) return BUS_ECLOSED;
    if (!name) name = "";
    sub_entry_t *e = strmap_del(map, name, len);
    if (!e) return 0;
    /* The anchor stays subscribed whatever the caller wants. */
    int keep = map == &bus->channels && is_anchor(name, len);
    if (!keep && bus->sub.ready && bus->sub.ctx) sub_send(&bus->sub, verb, e->name, len);
    free(e);
    return 0;
}

int bus_subscribe(bus_t *bus, const char *channel, size_t len)
{
    if (bus && bus->cl) return busc_subscribe(bus->cl, BUSC_CHANNEL, channel, len);
    return sub_add(bus, bus ? &bus->channels : NULL, "SUBSCRIBE", channel, len);
}

int bus_unsubscribe(bus_t *bus, const char *channel, size_t len)
{
    if (bus && bus->cl) return busc_unsubscribe(bus->cl, BUSC_CHANNEL, channel, len);
    return sub_remove(bus, bus ? &bus->channels : NULL, "UNSUBSCRIBE", channel, len);
}

int bus_psubscribe(bus_t *bus, const char *pattern, size_t len)
{
    if (bus && bus->cl) return busc_subscribe(bus->cl, BUSC_PATTERN, pattern, len);
    return sub_add(bus, bus ? &bus->patterns : NULL, "PSUBSCRIBE", pattern, len);
}

int bus_punsubscribe(bus_t *bus, const char *pattern, size_t len)
{
    if (bus && bus->cl) return busc_unsubscribe(bus->cl, BUSC_PATTERN, pattern, len);
    return sub_remove(bus, bus ? &bus->patterns : NULL, "PUNSUBSCRIBE", pattern, len);
}

/* --- connection life cycle --- */

static void conn_ready(conn_t *c)
{
    bus_t *bus = c->bus;
    c->ready = 1;
    if (c->kind == BUS_CONN_CMD) {
        queue_flush(bus); /* before CONNECTED: queued publishes go out ahead of new ones */
        conn_connected(c);
    } else {
        sub_restore(c, &bus->channels, "SUBSCRIBE");
        sub_restore(c, &bus->patterns, "PSUBSCRIBE");
        sub_send(c, "SUBSCRIBE", ANCHOR, ANCHOR_LEN); /* its reply: CONNECTED */
    }
}

enum { HS_AUTH = 1, HS_SELECT, HS_PING, HS_ROLE };

static void conn_dial(conn_t *c);
static void conn_connected(conn_t *c);

/* The sentinel's answer to SENTINEL get-master-addr-by-name: [host, port] of the primary, or
 * nil for a name it does not monitor. The attempt goes on to that address. */
static void ask_primary_cb(redisAsyncContext *ac, void *reply, void *pd)
{
    const redisReply *r = reply;
    conn_t *c = reply_conn(ac, r);
    if (!c) return;
    bus_t *bus = c->bus;
    long port = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len > 0 && r->element[0]->len < sizeof c->host) {
        char *end;
        port = strtol(r->element[1]->str, &end, 10);
        if (*end || port < 1 || port > 65535) port = 0;
    }
    if (!port) {
        set_error(bus, c, "sentinel %s:%d %s", c->host, c->port,
                  r->type == REDIS_REPLY_NIL     ? "knows no primary of that name"
                  : r->type == REDIS_REPLY_ERROR ? r->str
                                                 : "gave no address");
        conn_fail(c, BUS_ESENTINEL, 1);
        return;
    }
    snprintf(c->host, sizeof c->host, "%s", r->element[0]->str);
    c->port = (int)port;
    snprintf(bus->primary, sizeof bus->primary, "%s:%d", c->host, c->port);
    /* Done with the sentinel: hiredis frees the context once this callback returns. */
    c->ctx = NULL;
    redisAsyncFree(ac);
    c->phase = PHASE_DATA;
    conn_dial(c);
}

/* Drops a command or subscriber connection that is not on the primary now at host:port, and
 * starts its next attempt at once. */
static void follow_primary(conn_t *c, const char *host, int port)
{
    if (c->state == BUS_DISCONNECTED) {
        c->bus->failover_moves++;
        uv_timer_start(&c->timer, on_timer, 0, 0);
        return;
    }
    if (c->phase == PHASE_DATA && c->port == port && strcmp(c->host, host) == 0) return;
    c->bus->failover_moves++;
    set_error(c->bus, c, "failover: the primary is now %s:%d", host, port);
    conn_fail(c, BUS_EFAILOVER, 1);
    c->backoff_ms = c->bus->o.backoff_initial_ms ? c->bus->o.backoff_initial_ms : 1;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* The watch connection, subscribed to +switch-master on a sentinel. The message is
 * "<name> <old host> <old port> <new host> <new port>". */
static void watch_cb(redisAsyncContext *ac, void *reply, void *pd)
{
    const redisReply *r = reply;
    conn_t *c = reply_conn(ac, r);
    if (!c) return;
    bus_t *bus = c->bus;
    if (r->type == REDIS_REPLY_ERROR) {
        set_error(bus, c, "sentinel %s:%d refused SUBSCRIBE: %s", c->host, c->port, r->str);
        conn_fail(c, BUS_ESENTINEL, 1);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(r->element[0]->str, "subscribe") == 0) {
        if (c->state == BUS_CONNECTING) {
            c->ready = 1;
            conn_connected(c);
        }
        return;
    }
    if (strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    char name[256], old_host[256], new_host[256];
    int old_port, new_port;
    if (sscanf(r->element[2]->str, "%255s %255s %d %255s %d", name, old_host, &old_port, new_host,
               &new_port) != 5 ||
        strcmp(name, bus->url.master) != 0 || new_port < 1 || new_port > 65535)
        return;
    bus->failovers++;
    snprintf(bus->primary, sizeof bus->primary, "%s:%d", new_host, new_port);
    follow_primary(&bus->cmd, new_host, new_port);
    follow_primary(&bus->sub, new_host, new_port);
}

static void hs_cb(redisAsyncContext *ac, void *reply, void *pd)
{
    const redisReply *r = reply;
    conn_t *c = reply_conn(ac, r);
    if (!c) return;
    int step = (int)(intptr_t)pd;
    if (step == HS_ROLE && r->type != REDIS_REPLY_ERROR) {
        /* ROLE: ["master", offset, replicas] on the primary; a replica or a sentinel says
         * otherwise (a failover happened since the sentinel answered, or it lied). */
        int primary = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                      r->element[0]->type == REDIS_REPLY_STRING &&
                      strcmp(r->element[0]->str, "master") == 0;
        if (!primary) {
            c->bus->role_refusals++;
            set_error(c->bus, c, "%s:%d is not the primary (ROLE says %s)", c->host, c->port,
                      r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                              r->element[0]->type == REDIS_REPLY_STRING
                          ? r->element[0]->str
                          : "something else");
            conn_fail(c, BUS_EROLE, 1);
            return;
        }
    }
    if (r->type == REDIS_REPLY_ERROR) {
        const char *what = step == HS_AUTH     ? "AUTH"
                           : step == HS_SELECT ? "SELECT"
                           : step == HS_ROLE   ? "ROLE"
                                               : "PING";
        set_error(c->bus, c, "%s refused: %s", what, r->str ? r->str : "");
        conn_fail(c,
                  step == HS_AUTH     ? BUS_EAUTH
                  : step == HS_SELECT ? BUS_ESELECT
                                      : BUS_ECONNECT,
                  1);
        return;
    }
    if (--c->hs_pending == 0) conn_ready(c);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    conn_t *c = cac->data;
    if (c->ctx != cac) return;
    if (status != REDIS_OK) {
        c->ctx = NULL; /* hiredis frees it after this returns */
        set_error(c->bus, c, "connect to %s%s:%d failed: %s",
                  c->phase == PHASE_DATA ? "" : "sentinel ", c->host, c->port,
                  cac->errstr[0] ? cac->errstr : "error");
        conn_fail(c, BUS_ECONNECT, 0);
        return;
    }
    redisAsyncContext *ac = c->ctx;
    const redis_url_t *u = &c->bus->url;
    if (c->phase == PHASE_ASK_PRIMARY) {
        const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", u->master};
        redisAsyncCommandArgv(ac, ask_primary_cb, NULL, 3, argv, NULL);
        return;
    }
    if (c->phase == PHASE_WATCH) {
        const char *argv[2] = {"SUBSCRIBE", "+switch-master"};
        redisAsyncCommandArgv(ac, watch_cb, NULL, 2, argv, NULL);
        return;
    }
    /* AUTH and SELECT go first; nothing else is sent before their replies. */
    c->hs_pending = 0;
    if (u->password) {
        const char *argv[3] = {"AUTH", u->user ? u->user : u->password, u->password};
        int argc = u->user ? 3 : 2;
        redisAsyncCommandArgv(ac, hs_cb, (void *)(intptr_t)HS_AUTH, argc, argv, NULL);
        c->hs_pending++;
    }
    if (u->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(ac, hs_cb, (void *)(intptr_t)HS_SELECT, 2, argv, NULL);
        c->hs_pending++;
    }
    if (url_sentinel(u)) {
        /* The sentinel named this server; it must still be the primary. */
        const char *argv[1] = {"ROLE"};
        redisAsyncCommandArgv(ac, hs_cb, (void *)(intptr_t)HS_ROLE, 1, argv, NULL);
        c->hs_pending++;
    }
    if (c->hs_pending == 0) {
        /* A reply to wait for, so CONNECTED is always reported from a reply callback. */
        const char *argv[1] = {"PING"};
        redisAsyncCommandArgv(ac, hs_cb, (void *)(intptr_t)HS_PING, 1, argv, NULL);
        c->hs_pending++;
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    conn_lost(ac->data, ac);
}

/* The libuv adapter shipped with hiredis 0.14.1 drops poll callbacks that carry an error
 * status, and libuv reports POLLERR (refused connect, reset) exactly that way, stopping the
 * poll: hiredis would never see the failure. These replace its start/stop functions (attach
 * and cleanup stay the adapter's) and hand an error to hiredis as readiness, so its read or
 * connect check finds the socket error. */
static void poll_cb(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    int ev = status ? p->events : events;
    if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
    /* libuv stopped the poll on error; resume it if the context lives on. */
    if (status && p->context && p->events) uv_poll_start(&p->handle, p->events, poll_cb);
}

static void poll_update(redisLibuvEvents *p)
{
    if (p->events)
        uv_poll_start(&p->handle, p->events, poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void poll_add_read(void *pd)
{
    redisLibuvEvents *p = pd;
    p->events |= UV_READABLE;
    poll_update(p);
}

static void poll_del_read(void *pd)
{
    redisLibuvEvents *p = pd;
    p->events &= ~UV_READABLE;
    poll_update(p);
}

static void poll_add_write(void *pd)
{
    redisLibuvEvents *p = pd;
    p->events |= UV_WRITABLE;
    poll_update(p);
}

static void poll_del_write(void *pd)
{
    redisLibuvEvents *p = pd;
    p->events &= ~UV_WRITABLE;
    poll_update(p);
}

static void conn_connect(conn_t *c, const char *ip)
{
    bus_t *bus = c->bus;
    redisAsyncContext *ac = redisAsyncConnect(ip, c->port);
    if (!ac) {
        set_error(bus, c, "connect: out of memory");
        conn_fail(c, BUS_ECONNECT, 0);
        return;
    }
    if (ac->err) {
        set_error(bus, c, "connect to %s:%d failed: %s", ip, c->port, ac->errstr);
        redisAsyncFree(ac);
        conn_fail(c, BUS_ECONNECT, 0);
        return;
    }
    if (redisLibuvAttach(ac, bus->loop) != REDIS_OK) {
        set_error(bus, c, "connect: cannot watch the socket");
        redisAsyncFree(ac);
        conn_fail(c, BUS_ECONNECT, 0);
        return;
    }
    ac->ev.addRead = poll_add_read;
    ac->ev.delRead = poll_del_read;
    ac->ev.addWrite = poll_add_write;
    ac->ev.delWrite = poll_del_write;
    ac->data = c;
    redisEnableKeepAlive(&ac->c); /* notices a peer that vanished without a reset */
    c->ctx = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    gai_req_t *g = (gai_req_t *)req;
    conn_t *c = g->conn;
    bus_t *bus = c->bus;
    bus->reqs_pending--;
    int current = c->gai == req && !bus->closing;
    char ip[64] = "";
    if (current && status == 0 && res) {
        /* Successive attempts walk the address list (say ::1 then 127.0.0.1). */
        size_t n = 0;
        for (const struct addrinfo *a = res; a; a = a->ai_next) n++;
        const struct addrinfo *a = res;
        for (size_t i = (size_t)((c->attempts - 1) % n); i > 0; i--) a = a->ai_next;
        if (a->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)a->ai_addr, ip, sizeof ip);
        else
            uv_ip4_name((const struct sockaddr_in *)a->ai_addr, ip, sizeof ip);
    }
    uv_freeaddrinfo(res);
    free(g);
    if (bus->closing) {
        maybe_finish_close(bus);
        return;
    }
    if (!current) return; /* that attempt timed out already */
    c->gai = NULL;
    if (status != 0 || !ip[0]) {
        set_error(bus, c, "resolve %s: %s", c->host, status ? uv_strerror(status) : "no address");
        conn_fail(c, BUS_ERESOLVE, 0);
        return;
    }
    conn_connect(c, ip);
}

/* Resolves c->host (unless it is an address) and connects to it, for the current phase. */
static void conn_dial(conn_t *c)
{
    bus_t *bus = c->bus;
    unsigned char addr[sizeof(struct in6_addr)];
    const char *host = c->host;
    if (uv_inet_pton(AF_INET, host, addr) == 0 || uv_inet_pton(AF_INET6, host, addr) == 0) {
        conn_connect(c, host);
        return;
    }
    gai_req_t *g = xcalloc(1, sizeof *g);
    g->conn = c;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(bus->loop, &g->req, on_resolved, host, NULL, &hints);
    if (rc != 0) {
        free(g);
        set_error(bus, c, "resolve %s: %s", host, uv_strerror(rc));
        conn_fail(c, BUS_ERESOLVE, 0);
        return;
    }
    bus->reqs_pending++;
    c->gai = &g->req;
}

/* Starts an attempt: where it connects first depends on the URL and the connection. */
static void conn_start(conn_t *c)
{
    bus_t *bus = c->bus;
    c->attempts++;
    c->state = BUS_CONNECTING;
    uv_timer_start(&c->timer, on_timer, bus->o.connect_timeout_ms, 0);
    notify(c, 0);
    if (bus->closing || c->state != BUS_CONNECTING) return;
    if (c->kind == CONN_WATCH) {
        c->phase = PHASE_WATCH;
        target_next_sentinel(c);
    } else if (url_sentinel(&bus->url)) {
        c->phase = PHASE_ASK_PRIMARY;
        target_next_sentinel(c);
    } else {
        c->phase = PHASE_DATA;
        snprintf(c->host, sizeof c->host, "%s", bus->url.host);
        c->port = bus->url.port;
    }
    conn_dial(c);
}

static void on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    bus_t *bus = c->bus;
    if (bus->closing) return;
    if (c->state == BUS_DISCONNECTED) {
        conn_start(c);
    } else if (c->state == BUS_CONNECTING) {
        set_error(bus, c, "connect to %s%s:%d timed out after %u ms",
                  c->phase == PHASE_DATA ? "" : "sentinel ", c->host, c->port,
                  bus->o.connect_timeout_ms);
        conn_fail(c, BUS_ETIMEDOUT, 1);
    }
}

static void conn_init(bus_t *bus, conn_t *c, int kind)
{
    c->bus = bus;
    c->kind = kind;
    c->state = BUS_DISCONNECTED;
    c->backoff_ms = bus->o.backoff_initial_ms ? bus->o.backoff_initial_ms : 1;
    uv_timer_init(bus->loop, &c->timer);
    c->timer.data = c;
    if (kind != CONN_WATCH || url_sentinel(&bus->url))
        uv_timer_start(&c->timer, on_timer, 0, 0); /* first attempt from the loop, not here */
}

/* The bus on its own connections (bus_cluster.h): Redis Cluster, or sharded pub/sub. */
static int open_own(bus_t **out, uv_loop_t *loop, const redis_url_t *url, const bus_options_t *opts)
{
    if (url_sentinel(url)) return BUS_ENOTSUP;
    if (url->kind == REDIS_URL_CLUSTER ? url->n_addrs == 0 || url->db != 0
                                       : !url->host || url->port < 1 || url->port > 65535)
        return BUS_EINVAL;
    bus_t *bus = xcalloc(1, sizeof *bus);
    bus->loop = loop;
    redis_url_copy(&bus->url, url);
    if (opts)
        bus->o = *opts;
    else
        bus_options_init(&bus->o);
    if (bus->o.jitter_pct > 100) bus->o.jitter_pct = 100;
    if (bus->o.backoff_max_ms < bus->o.backoff_initial_ms)
        bus->o.backoff_max_ms = bus->o.backoff_initial_ms;
    int rc = busc_open(&bus->cl, loop, &bus->url, &bus->o);
    if (rc < 0) {
        redis_url_free(&bus->url);
        free(bus);
        return rc;
    }
    *out = bus;
    return 0;
}

int bus_open(bus_t **out, uv_loop_t *loop, const redis_url_t *url, const bus_options_t *opts)
{
    if (!out || !loop || !url || url->db < 0) return BUS_EINVAL;
    if (url->kind == REDIS_URL_CLUSTER || (opts && opts->sharded))
        return open_own(out, loop, url, opts);
    if (url_sentinel(url) ? url->n_addrs == 0 || !url->master
                          : !url->host || url->port < 1 || url->port > 65535)
        return BUS_EINVAL;
    bus_t *bus = xcalloc(1, sizeof *bus);
    bus->loop = loop;
    redis_url_copy(&bus->url, url);
    if (opts)
        bus->o = *opts;
    else
        bus_options_init(&bus->o);
    if (bus->o.jitter_pct > 100) bus->o.jitter_pct = 100;
    if (bus->o.backoff_max_ms < bus->o.backoff_initial_ms)
        bus->o.backoff_max_ms = bus->o.backoff_initial_ms;
    bus->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)bus) | 1;
    if (!url_sentinel(url))
        snprintf(bus->addr, sizeof bus->addr, strchr(url->host, ':') ? "[%s]:%d" : "%s:%d",
                 url->host, url->port);
    bus->channels = (strmap_t)STRMAP_INIT;
    bus->patterns = (strmap_t)STRMAP_INIT;
    conn_init(bus, &bus->cmd, BUS_CONN_CMD);
    conn_init(bus, &bus->sub, BUS_CONN_SUB);
    conn_init(bus, &bus->watch, CONN_WATCH);
    uv_timer_init(loop, &bus->fence);
    bus->fence.data = bus;
    bus->handles_open = 3;
    *out = bus;
    return 0;
}

/* --- stats --- */

const redis_url_t *bus_url(const bus_t *bus)
{
    return &bus->url;
}

bus_state_t bus_state(const bus_t *bus, bus_conn_t conn)
{
    if (bus->cl) return busc_state(bus->cl, conn);
    return conn == BUS_CONN_CMD ? bus->cmd.state : bus->sub.state;
}

void bus_stats(const bus_t *bus, bus_stats_t *st)
{
    if (bus->cl) {
        busc_stats(bus->cl, st);
        return;
    }
    memset(st, 0, sizeof *st);
    st->cmd.state = bus->cmd.state;
    st->cmd.attempts = bus->cmd.attempts;
    st->cmd.connects = bus->cmd.connects;
    st->sub.state = bus->sub.state;
    st->sub.attempts = bus->sub.attempts;
    st->sub.connects = bus->sub.connects;
    st->reconnects = bus->reconnects;
    st->published = bus->published;
    st->received = bus->received;
    st->queued = bus->qcount;
    st->queued_bytes = bus->qbytes;
    st->dropped = bus->dropped;
    st->lost = bus->lost;
    memcpy(st->last_error, bus->last_error, sizeof st->last_error);
    st->failovers = bus->failovers;
    st->role_refusals = bus->role_refusals;
    st->failover_moves = bus->failover_moves;
    st->watch = bus->watch.state;
    memcpy(st->primary, bus->primary, sizeof st->primary);
}

/* --- close --- */

static void free_set(strmap_t *m)
{
    const char *k;
    size_t kl;
    void *v;
    for (size_t pos = 0; strmap_next(m, &pos, &k, &kl, &v);) free(v);
    strmap_free(m);
}

static void on_fence_closed(uv_handle_t *h)
{
    bus_t *bus = h->data;
    bus_closed_cb done = bus->done;
    void *ud = bus->done_ud;
    free_set(&bus->channels);
    free_set(&bus->patterns);
    queue_clear(bus);
    redis_url_free(&bus->url);
    free(bus);
    if (done) done(ud);
}

static void maybe_finish_close(bus_t *bus)
{
    /* The fence is closed from a close callback, so its own close callback runs in a later
     * loop pass than every handle closed so far, hiredis's poll handles included. */
    if (bus->handles_open == 0 && bus->reqs_pending == 0 &&
        !uv_is_closing((uv_handle_t *)&bus->fence))
        uv_close((uv_handle_t *)&bus->fence, on_fence_closed);
}

static void on_timer_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->bus->handles_open--;
    maybe_finish_close(c->bus);
}

static void on_cl_closed(void *ud)
{
    bus_t *bus = ud;
    bus_closed_cb done = bus->cl_done;
    void *done_ud = bus->cl_done_ud;
    redis_url_free(&bus->url);
    free(bus);
    if (done) done(done_ud);
}

int bus_close(bus_t *bus, bus_closed_cb done, void *done_ud)
{
    if (!bus) return BUS_EINVAL;
    if (bus->closing) return BUS_ECLOSED;
    if (bus->cl) {
        bus->closing = 1;
        bus->cl_done = done;
        bus->cl_done_ud = done_ud;
        return busc_close(bus->cl, on_cl_closed, bus);
    }
    bus->closing = 1;
    bus->done = done;
    bus->done_ud = done_ud;
    queue_clear(bus);
    conn_t *conns[3] = {&bus->cmd, &bus->sub, &bus->watch};
    for (int i = 0; i < 3; i++) {
        conn_t *c = conns[i];
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
        if (c->gai) uv_cancel((uv_req_t *)c->gai); /* its callback still comes */
        c->gai = NULL;
        c->state = BUS_DISCONNECTED;
        c->ready = 0;
        redisAsyncContext *ac = c->ctx;
        c->ctx = NULL;
        /* Pending bus_command callbacks fire with BUS_ECLOSED; inside one of this context's
         * own callbacks hiredis defers the free until that callback returns. */
        if (ac) redisAsyncFree(ac);
    }
    return 0;
}
