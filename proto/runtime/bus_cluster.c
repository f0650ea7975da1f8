/* The bus on its own connections: the slot map and its refreshes, routing and redirects,
 * the subscriber connections and their wanted sets, the publish queue, close. */
#include "bus_cluster.h"

#include "alloc.h"
#include "rconn.h"
#include "redis_cluster.h"
#include "redis_reply.h"
#include "strmap.h"

#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_EVERY_MS   30000 /* the map is read again this often in any case */
#define REFRESH_MIN_GAP_MS 100   /* and not more often than this */
#define REDIRECTS_MAX      5     /* MOVED/ASK hops one command may take */
#define RETRY_BUDGET_MS    2000  /* a command retried on TRYAGAIN/CLUSTERDOWN gives up after */
#define RETRY_FIRST_MS     50    /* first retry delay, doubling */

typedef struct node {
    struct busc *b;
    char *host;
    int port;
    char addr[300];      /* host:port, the lookup key */
    rconn_t *cmd;        /* command connection, or NULL */
    rconn_t *ssub;       /* subscriber connection for the shard channels it owns, or NULL */
    int ssub_synced;     /* the PING sent behind its subscriptions was answered */
    size_t owned;        /* wanted shard channels placed on it (want_t.on) */
    int in_map;          /* a primary of the current map */
    uint64_t retry_at;   /* no new connection before (ms, loop time) */
    uint32_t backoff_ms; /* next delay after a failure */
} node_t;

typedef struct {
    node_t *on; /* shard channels: the node it was subscribed on (NULL: not placed) */
    unsigned slot;
    size_t len;
    char name[]; /* NUL-terminated; the strmap key */
} want_t;

typedef struct creq {
    struct busc *b;
    struct creq *next; /* in the retry list or the publish queue */
    int argc;
    char **argv;
    size_t *lens;
    size_t bytes;
    int has_slot;
    unsigned slot;
    long shard;     /* no slot: this primary (-1: any) */
    node_t *forced; /* the next attempt goes here (MOVED/ASK target) */
    int asking;     /* send ASKING first */
    unsigned replicas;
    uint32_t wait_ms;
    redisReply *kept; /* the command's reply while WAIT is awaited */
    bus_reply_cb cb;  /* NULL: a publish */
    void *ud;
    int redirects, tries;
    uint64_t started, due;
    unsigned attempt; /* numbers the sends; a WAIT reply of an older one is ignored */
    int refs;         /* replies outstanding */
    int finished;
    int inflight; /* a publish counted in inflight_bytes */
} creq_t;

typedef struct {
    creq_t *req;
    unsigned attempt;
} wait_tok_t;

struct busc {
    uv_loop_t *loop;
    redis_url_t url;
    bus_options_t o;
    int cluster; /* 0: one server, the map is fixed */
    redis_cluster_map_t *map;
    node_t **nodes;
    size_t n_nodes, cap_nodes;
    strmap_t want[3]; /* busc_kind_t -> want_t */
    rconn_t *csub;    /* classic subscriber */
    node_t *csub_node;
    int csub_synced;
    size_t unplaced; /* wanted shard channels placed on no node */
    uint64_t csub_retry_at;
    uint32_t csub_backoff;
    /* refresh */
    rconn_t *probe; /* the connection reading the map, or NULL */
    int want_refresh;
    uint64_t last_refresh, next_periodic;
    unsigned seed_next;
    uint32_t refresh_backoff;
    uint64_t refresh_retry_at;
    /* commands waiting for a retry, publishes waiting for a route */
    creq_t *retry_head;
    creq_t *pub_head, *pub_tail;
    size_t pub_count, pub_bytes, inflight_bytes;
    uv_timer_t timer;
    uint64_t timer_due;
    bus_state_t state[2];
    int ever[2]; /* reached CONNECTED once */
    /* stats */
    uint64_t attempts[2], connects[2];
    uint64_t reconnects, published, received, dropped, lost;
    uint64_t refreshes, moved, asked, retried, failovers;
    char last_error[160];
    uint64_t rng;
    /* close */
    int closing;
    int open; /* connections not yet freed, plus the timer */
    bus_closed_cb done;
    void *done_ud;
};

static void schedule(busc_t *b);
static void update_state(busc_t *b, int err);
static void send_req(creq_t *q);
static void place_shard_channels(busc_t *b);
static void flush_publishes(busc_t *b);
static void request_refresh(busc_t *b);

static uint64_t now_ms(const busc_t *b)
{
    return uv_now(b->loop);
}

static uint32_t jitter(busc_t *b, uint32_t ms)
{
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    uint32_t pct = b->o.jitter_pct;
    if (!pct || !ms) return ms;
    int64_t span = (int64_t)ms * pct / 100;
    int64_t d = (int64_t)(b->rng % (uint64_t)(2 * span + 1)) - span;
    return (uint32_t)((int64_t)ms + d);
}

static uint32_t next_backoff(busc_t *b, uint32_t *cur)
{
    uint32_t d = *cur ? *cur : b->o.backoff_initial_ms;
    *cur = d * 2 > b->o.backoff_max_ms ? b->o.backoff_max_ms : d * 2;
    return jitter(b, d);
}

static void set_error(busc_t *b, const char *what, const char *detail)
{
    snprintf(b->last_error, sizeof b->last_error, "%s: %s", what, detail);
}

/* --- connections --- */

static void on_conn_freed(void *ud);

typedef struct {
    busc_t *b;
    node_t *node; /* NULL for the probe and the classic subscriber */
    int role;     /* 0 command, 1 shard subscriber, 2 classic subscriber, 3 probe */
} conn_ctx_t;

static void on_conn_event(void *ud, rconn_t *c, int err);
static void on_push(void *ud, rconn_t *c, const redisReply *r);

static rconn_t *conn_open(busc_t *b, const char *host, int port, node_t *node, int role)
{
    conn_ctx_t *x = xcalloc(1, sizeof *x);
    x->b = b;
    x->node = node;
    x->role = role;
    rconn_options_t o = {
        .host = host,
        .port = port,
        .user = b->url.user,
        .password = b->url.password,
        .db = b->cluster ? 0 : b->url.db,
        .timeout_ms = b->o.connect_timeout_ms,
        .subscriber = role == 1 || role == 2,
        .on_push = on_push,
        .on_event = on_conn_event,
        .on_freed = on_conn_freed,
        .ud = x,
    };
    rconn_t *c = rconn_open(b->loop, &o);
    if (!c) {
        free(x);
        return NULL;
    }
    b->open++;
    if (role == 0 || role == 2 || role == 1) b->attempts[role == 0 ? BUS_CONN_CMD : BUS_CONN_SUB]++;
    return c;
}

/* One connection or the timer is released; the last one of a closing bus frees it. */
static void release(busc_t *b)
{
    if (--b->open > 0 || !b->closing) return;
    bus_closed_cb done = b->done;
    void *ud = b->done_ud;
    free(b);
    if (done) done(ud);
}

static void on_conn_freed(void *ud)
{
    conn_ctx_t *x = ud;
    busc_t *b = x->b;
    free(x);
    release(b);
}

static node_t *node_find(busc_t *b, const char *host, int port)
{
    for (size_t i = 0; i < b->n_nodes; i++)
        if (b->nodes[i]->port == port && strcmp(b->nodes[i]->host, host) == 0) return b->nodes[i];
    return NULL;
}

static node_t *node_get(busc_t *b, const char *host, int port)
{
    node_t *n = node_find(b, host, port);
    if (n) return n;
    n = xcalloc(1, sizeof *n);
    n->b = b;
    n->host = xstrdup(host);
    n->port = port;
    snprintf(n->addr, sizeof n->addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (b->n_nodes == b->cap_nodes) {
        b->cap_nodes = b->cap_nodes ? b->cap_nodes * 2 : 8;
        b->nodes = xrealloc(b->nodes, b->cap_nodes * sizeof *b->nodes);
    }
    b->nodes[b->n_nodes++] = n;
    return n;
}

/* The node's command connection, opened when there is none and its backoff allows. */
static rconn_t *node_cmd(node_t *n)
{
    busc_t *b = n->b;
    if (n->cmd) return n->cmd;
    if (b->closing || now_ms(b) < n->retry_at) return NULL;
    n->cmd = conn_open(b, n->host, n->port, n, 0);
    return n->cmd;
}

static void ssub_send(rconn_t *c, const char *verb, const char *name, size_t len)
{
    const char *argv[2] = {verb, name};
    size_t lens[2] = {strlen(verb), len};
    rconn_command(c, 2, argv, lens, NULL, NULL);
}

/* PING answers on a subscriber too: its reply, after every confirmation of the
 * subscriptions sent before it, is the sign that the set is restored (bus_state CONNECTED). */
static void send_ping(rconn_t *c)
{
    static const char *const ping[1] = {"PING"};
    rconn_command(c, 1, ping, NULL, NULL, NULL);
}

/* The node's shard subscriber, opened (with every channel placed on it) when there is none. */
static rconn_t *node_ssub(node_t *n)
{
    busc_t *b = n->b;
    if (n->ssub) return n->ssub;
    if (b->closing || now_ms(b) < n->retry_at) return NULL;
    n->ssub = conn_open(b, n->host, n->port, n, 1);
    if (!n->ssub) return NULL;
    const char *k;
    size_t kl, i = 0;
    void *v;
    while (strmap_next(&b->want[BUSC_SHARD], &i, &k, &kl, &v)) {
        want_t *w = v;
        if (w->on == n) ssub_send(n->ssub, "SSUBSCRIBE", w->name, w->len);
    }
    n->ssub_synced = 0;
    send_ping(n->ssub);
    return n->ssub;
}

static void csub_open(busc_t *b)
{
    if (b->csub || b->closing || !b->map || now_ms(b) < b->csub_retry_at) return;
    size_t n = redis_cluster_map_shard_count(b->map);
    if (n == 0) return;
    const redis_cluster_node_t *p =
        &redis_cluster_map_shard(b->map, (size_t)(b->rng % n))->nodes[0];
    b->csub_node = node_get(b, p->host, p->port);
    b->csub = conn_open(b, p->host, p->port, NULL, 2);
    if (!b->csub) return;
    static const char *const verbs[2] = {"SUBSCRIBE", "PSUBSCRIBE"};
    for (int kind = BUSC_CHANNEL; kind <= BUSC_PATTERN; kind++) {
        const char *k;
        size_t kl, i = 0;
        void *v;
        while (strmap_next(&b->want[kind], &i, &k, &kl, &v)) {
            want_t *w = v;
            ssub_send(b->csub, verbs[kind], w->name, w->len);
        }
    }
    b->csub_synced = 0;
    send_ping(b->csub);
}

static void conn_failed(busc_t *b, rconn_t *c, int err, uint32_t *backoff, uint64_t *retry_at)
{
    set_error(b, rconn_addr(c), rconn_error(c)[0] ? rconn_error(c) : "connection lost");
    *retry_at = now_ms(b) + next_backoff(b, backoff);
}

static void on_conn_event(void *ud, rconn_t *c, int err)
{
    conn_ctx_t *x = ud;
    busc_t *b = x->b;
    node_t *n = x->node;
    if (b->closing) return;
    if (err == 0) {
        if (x->role == 0) {
            b->connects[BUS_CONN_CMD]++;
            n->backoff_ms = 0;
        } else if (x->role == 1) {
            b->connects[BUS_CONN_SUB]++;
        }
        if (x->role == 0) flush_publishes(b);
        update_state(b, 0);
        schedule(b);
        return;
    }
    switch (x->role) {
    case 0:
        conn_failed(b, c, err, &n->backoff_ms, &n->retry_at);
        n->cmd = NULL;
        break;
    case 1:
        conn_failed(b, c, err, &n->backoff_ms, &n->retry_at);
        n->ssub = NULL;
        break;
    case 2:
        conn_failed(b, c, err, &b->csub_backoff, &b->csub_retry_at);
        b->csub = NULL;
        break;
    default:
        conn_failed(b, c, err, &b->refresh_backoff, &b->refresh_retry_at);
        b->probe = NULL;
        break;
    }
    rconn_close(c);
    if (b->cluster) request_refresh(b); /* a node that is gone may have failed over */
    update_state(b, err);
    schedule(b);
}

/* --- the slot map --- */

static void apply_map(busc_t *b, redis_cluster_map_t *m)
{
    /* a primary of the old map whose slots another node serves now: a failover (or a
     * rebalance that emptied it) */
    if (b->map)
        for (size_t i = 0; i < redis_cluster_map_shard_count(b->map); i++) {
            const redis_cluster_node_t *old = &redis_cluster_map_shard(b->map, i)->nodes[0];
            int still = 0;
            for (size_t j = 0; j < redis_cluster_map_shard_count(m) && !still; j++) {
                const redis_cluster_node_t *p = &redis_cluster_map_shard(m, j)->nodes[0];
                still = p->port == old->port && strcmp(p->host, old->host) == 0;
            }
            if (!still) b->failovers++;
        }
    redis_cluster_map_free(b->map);
    b->map = m;
    b->refreshes++;
    for (size_t i = 0; i < b->n_nodes; i++) b->nodes[i]->in_map = 0;
    for (size_t i = 0; i < redis_cluster_map_shard_count(m); i++) {
        const redis_cluster_node_t *p = &redis_cluster_map_shard(m, i)->nodes[0];
        node_t *n = node_get(b, p->host, p->port);
        n->in_map = 1;
        node_cmd(n);
    }
    /* connections to nodes that are no primary any more: closed once idle */
    for (size_t i = 0; i < b->n_nodes; i++) {
        node_t *n = b->nodes[i];
        if (n->in_map) continue;
        if (n->cmd && rconn_pending(n->cmd) == 0) {
            rconn_t *c = n->cmd;
            n->cmd = NULL;
            rconn_close(c);
        }
    }
    if (b->csub && b->csub_node && !b->csub_node->in_map && b->cluster) {
        rconn_t *c = b->csub; /* on a node that is no primary now: move to one that is */
        b->csub = NULL;
        rconn_close(c);
    }
    place_shard_channels(b);
    csub_open(b);
    update_state(b, 0);
    schedule(b);
}

static void on_probe_reply(void *ud, int status, const redisReply *r);

static void probe_send(busc_t *b, const char *what)
{
    const char *argv[2] = {"CLUSTER", what};
    if (rconn_command(b->probe, 2, argv, NULL, on_probe_reply, b) < 0) {
        rconn_t *c = b->probe;
        b->probe = NULL;
        rconn_close(c);
    }
}

static void on_probe_reply(void *ud, int status, const redisReply *r)
{
    busc_t *b = ud;
    if (status != 0 || b->closing) return; /* the connection's loss is reported on its own */
    rconn_t *c = b->probe;
    char err[160] = "";
    redis_cluster_map_t *m = NULL;
    const char *origin = c ? rconn_addr(c) : "";
    /* rconn_addr is host:port; the map wants the host a null endpoint stands for */
    char host[REDIS_CLUSTER_HOST_MAX + 1];
    snprintf(host, sizeof host, "%s", origin);
    char *colon = strrchr(host, ':');
    if (colon) *colon = '\0';
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        char *rb = strchr(host, ']');
        if (rb) *rb = '\0';
    }
    int rc = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                     r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements > 0 &&
                     r->element[0]->element[0]->type == REDIS_REPLY_INTEGER
                 ? redis_cluster_map_from_slots(&m, r, host, err, sizeof err)
                 : redis_cluster_map_from_shards(&m, r, host, err, sizeof err);
    if (rc == REDIS_CLUSTER_EUNKNOWNCMD) {
        probe_send(b, "SLOTS");
        return;
    }
    b->probe = NULL;
    if (c) rconn_close(c);
    b->last_refresh = now_ms(b);
    if (rc < 0 || redis_cluster_map_shard_count(m) == 0) {
        if (rc < 0)
            set_error(b, "cluster map", err[0] ? err : redis_cluster_strerror(rc));
        else
            set_error(b, "cluster map", "no node owns a slot");
        redis_cluster_map_free(m);
        b->refresh_retry_at = now_ms(b) + next_backoff(b, &b->refresh_backoff);
        b->want_refresh = 1;
        update_state(b, BUS_ECLUSTER);
        schedule(b);
        return;
    }
    b->refresh_backoff = 0;
    b->next_periodic = now_ms(b) + REFRESH_EVERY_MS;
    apply_map(b, m);
}

/* Opens the probe on the next candidate: the URL's seeds, then every node known. */
static void refresh_start(busc_t *b)
{
    b->want_refresh = 0;
    size_t seeds = b->url.n_addrs;
    size_t total = seeds + b->n_nodes;
    if (total == 0) return;
    size_t i = b->seed_next++ % total;
    const char *host;
    int port;
    if (i < seeds) {
        host = b->url.addrs[i].host;
        port = b->url.addrs[i].port;
    } else {
        host = b->nodes[i - seeds]->host;
        port = b->nodes[i - seeds]->port;
    }
    b->probe = conn_open(b, host, port, NULL, 3);
    if (!b->probe) {
        b->want_refresh = 1;
        return;
    }
    probe_send(b, "SHARDS");
}

static void request_refresh(busc_t *b)
{
    if (!b->cluster || b->closing) return;
    b->want_refresh = 1;
    schedule(b);
}

/* --- wanted sets --- */

/* Records that w is placed on n (NULL: on no node), keeping the counts the state and the
 * timer read. */
static void set_on(busc_t *b, want_t *w, node_t *n)
{
    if (w->on)
        w->on->owned--;
    else
        b->unplaced--;
    w->on = n;
    if (n)
        n->owned++;
    else
        b->unplaced++;
}

/* Places w on the primary that owns its slot now, moving its subscription there. */
static void place_one(busc_t *b, want_t *w)
{
    const redis_cluster_node_t *p = redis_cluster_map_primary(b->map, w->slot);
    node_t *owner = p ? node_get(b, p->host, p->port) : NULL;
    if (w->on == owner && owner && owner->ssub) return;
    if (w->on && w->on != owner && w->on->ssub && rconn_ready(w->on->ssub))
        ssub_send(w->on->ssub, "SUNSUBSCRIBE", w->name, w->len);
    set_on(b, w, owner);
    if (!owner) return;
    if (owner->ssub)
        ssub_send(owner->ssub, "SSUBSCRIBE", w->name, w->len);
    else
        node_ssub(owner); /* subscribes every channel placed on it */
}

/* Places every wanted shard channel: after a new map, or to reopen a lost subscriber. */
static void place_shard_channels(busc_t *b)
{
    if (!b->map) return;
    const char *k;
    size_t kl, i = 0;
    void *v;
    while (strmap_next(&b->want[BUSC_SHARD], &i, &k, &kl, &v)) place_one(b, v);
}

int busc_subscribe(busc_t *b, busc_kind_t kind, const char *name, size_t len)
{
    if (b->closing) return BUS_ECLOSED;
    if (!name && len) return BUS_EINVAL;
    if (strmap_get(&b->want[kind], name, len)) return 0;
    want_t *w = xcalloc(1, sizeof *w + len + 1);
    if (len) memcpy(w->name, name, len);
    w->len = len;
    w->slot = redis_cluster_slot(name, len);
    strmap_put(&b->want[kind], w->name, len, w);
    if (kind == BUSC_SHARD) {
        b->unplaced++;
        if (b->map) place_one(b, w);
    } else if (b->csub) {
        ssub_send(b->csub, kind == BUSC_CHANNEL ? "SUBSCRIBE" : "PSUBSCRIBE", w->name, len);
    }
    update_state(b, 0);
    return 0;
}

int busc_unsubscribe(busc_t *b, busc_kind_t kind, const char *name, size_t len)
{
    if (b->closing) return BUS_ECLOSED;
    want_t *w = strmap_del(&b->want[kind], name, len);
    if (!w) return 0;
    if (kind == BUSC_SHARD) {
        if (w->on && w->on->ssub) ssub_send(w->on->ssub, "SUNSUBSCRIBE", w->name, len);
        if (w->on)
            w->on->owned--;
        else
            b->unplaced--;
    } else if (b->csub) {
        ssub_send(b->csub, kind == BUSC_CHANNEL ? "UNSUBSCRIBE" : "PUNSUBSCRIBE", w->name, len);
    }
    free(w);
    return 0;
}

static int str_eq(const redisReply *r, const char *s)
{
    size_t n = strlen(s);
    return r->type == REDIS_REPLY_STRING && r->len == n && strncasecmp(r->str, s, n) == 0;
}

static void on_push(void *ud, rconn_t *c, const redisReply *r)
{
    conn_ctx_t *x = ud;
    busc_t *b = x->b;
    if (b->closing) return;
    if (r->type == REDIS_REPLY_ERROR) {
        /* a (S)SUBSCRIBE refused: MOVED when the slot is elsewhere now */
        set_error(b, rconn_addr(c), r->str);
        redis_cluster_redirect_t rd;
        if (x->role == 1 && redis_cluster_redirect_parse(r->str, r->len, &rd) == 0) {
            const char *k;
            size_t kl, i = 0;
            void *v;
            while (strmap_next(&b->want[BUSC_SHARD], &i, &k, &kl, &v))
                if (((want_t *)v)->slot == rd.slot) set_on(b, v, NULL);
        }
        request_refresh(b);
        return;
    }
    if ((r->type == REDIS_REPLY_STATUS && r->len == 4 && strncasecmp(r->str, "PONG", 4) == 0) ||
        (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && str_eq(r->element[0], "pong"))) {
        if (x->role == 1)
            x->node->ssub_synced = 1;
        else
            b->csub_synced = 1;
        update_state(b, 0);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const redisReply *kind = r->element[0], *ch = r->element[1];
    if (ch->type != REDIS_REPLY_STRING) return;
    if (x->role == 1) {
        if (str_eq(kind, "smessage") && r->element[2]->type == REDIS_REPLY_STRING) {
            if (!strmap_get(&b->want[BUSC_SHARD], ch->str, ch->len)) return;
            b->received++;
            if (b->o.on_message)
                b->o.on_message(b->o.ud, ch->str, ch->len, NULL, r->element[2]->str,
                                r->element[2]->len);
        } else if (str_eq(kind, "sunsubscribe")) {
            want_t *w = strmap_get(&b->want[BUSC_SHARD], ch->str, ch->len);
            if (w && w->on == x->node) {
                /* A channel still wanted: either its slot moved (the server dropped it), or
                 * this answers an SUNSUBSCRIBE sent before the channel was wanted again.
                 * Subscribing here again tells them apart: a node that lost the slot
                 * answers MOVED (the error branch above places the channel anew), and
                 * otherwise the channel simply stays subscribed here. */
                ssub_send(c, "SSUBSCRIBE", w->name, w->len);
                x->node->ssub_synced = 0;
                send_ping(c);
                update_state(b, 0);
                request_refresh(b);
            }
        }
        return;
    }
    if (str_eq(kind, "message") && r->element[2]->type == REDIS_REPLY_STRING) {
        if (!strmap_get(&b->want[BUSC_CHANNEL], ch->str, ch->len)) return;
        b->received++;
        if (b->o.on_message)
            b->o.on_message(b->o.ud, ch->str, ch->len, NULL, r->element[2]->str,
                            r->element[2]->len);
    } else if (str_eq(kind, "pmessage") && r->elements == 4 &&
               r->element[2]->type == REDIS_REPLY_STRING &&
               r->element[3]->type == REDIS_REPLY_STRING) {
        want_t *w = strmap_get(&b->want[BUSC_PATTERN], ch->str, ch->len);
        if (!w) return;
        b->received++;
        if (b->o.on_message)
            b->o.on_message(b->o.ud, r->element[2]->str, r->element[2]->len, w->name,
                            r->element[3]->str, r->element[3]->len);
    }
}

/* --- commands and publishes --- */

static creq_t *req_new(busc_t *b, int argc, const char *const *argv, const size_t *lens)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) bytes += lens ? lens[i] : strlen(argv[i]);
    creq_t *q = xcalloc(1, sizeof *q);
    q->b = b;
    q->argc = argc;
    q->argv = xmalloc((size_t)argc * sizeof *q->argv);
    q->lens = xmalloc((size_t)argc * sizeof *q->lens);
    for (int i = 0; i < argc; i++) {
        q->lens[i] = lens ? lens[i] : strlen(argv[i]);
        q->argv[i] = xmalloc(q->lens[i] + 1);
        memcpy(q->argv[i], argv[i], q->lens[i]);
        q->argv[i][q->lens[i]] = '\0';
    }
    q->bytes = bytes;
    q->shard = -1;
    q->started = now_ms(b);
    return q;
}

static void req_free(creq_t *q)
{
    for (int i = 0; i < q->argc; i++) free(q->argv[i]);
    free(q->argv);
    free(q->lens);
    redis_reply_free(q->kept);
    free(q);
}

static void req_release(creq_t *q)
{
    if (q->refs == 0 && q->finished) req_free(q);
}

static void finish(creq_t *q, int status, const redisReply *r)
{
    if (q->finished) return;
    q->finished = 1;
    busc_t *b = q->b;
    if (!q->cb) { /* a publish */
        if (q->inflight) b->inflight_bytes -= q->bytes;
        if (status == BUS_ECONNLOST) b->lost++;
    } else {
        q->cb(q->ud, status, r);
    }
}

/* The node the next attempt of q goes to, or NULL when there is no route now. */
static node_t *route(creq_t *q)
{
    busc_t *b = q->b;
    if (q->forced) return q->forced;
    if (!b->map) return NULL;
    const redis_cluster_node_t *p = NULL;
    if (q->has_slot)
        p = redis_cluster_map_primary(b->map, q->slot);
    else {
        size_t n = redis_cluster_map_shard_count(b->map);
        if (n == 0) return NULL;
        size_t i = q->shard >= 0 ? (size_t)q->shard : (size_t)(b->rng++ % n);
        if (i >= n) return NULL;
        p = &redis_cluster_map_shard(b->map, i)->nodes[0];
    }
    return p ? node_get(b, p->host, p->port) : NULL;
}

static void retry_later(creq_t *q, uint32_t delay_ms)
{
    busc_t *b = q->b;
    q->due = now_ms(b) + delay_ms;
    q->next = b->retry_head;
    b->retry_head = q;
    schedule(b);
}

static void on_req_reply(void *ud, int status, const redisReply *r);
static void on_req_wait(void *ud, int status, const redisReply *r);

/* One attempt of q on conn. Returns 0 or BUS_ECONNLOST. */
static int attempt(creq_t *q, rconn_t *c)
{
    if (q->asking) {
        static const char *const asking[1] = {"ASKING"};
        if (rconn_command(c, 1, asking, NULL, NULL, NULL) < 0) return BUS_ECONNLOST;
    }
    if (rconn_command(c, q->argc, (const char *const *)q->argv, q->lens, on_req_reply, q) < 0)
        return BUS_ECONNLOST;
    q->attempt++;
    q->refs++;
    q->asking = 0;
    q->forced = NULL;
    if (q->replicas) {
        char nr[16], ms[16];
        snprintf(nr, sizeof nr, "%u", q->replicas);
        snprintf(ms, sizeof ms, "%u", q->wait_ms);
        const char *wargv[3] = {"WAIT", nr, ms};
        wait_tok_t *t = xmalloc(sizeof *t);
        t->req = q;
        t->attempt = q->attempt;
        if (rconn_command(c, 3, wargv, NULL, on_req_wait, t) < 0)
            free(t);
        else
            q->refs++;
    }
    if (!q->cb && !q->inflight) {
        q->b->published++;
        q->inflight = 1;
        q->b->inflight_bytes += q->bytes;
    }
    return 0;
}

/* Sends q now, or parks it: publishes wait in the queue, retried commands in the retry list
 * until their budget is spent. */
static void send_req(creq_t *q)
{
    busc_t *b = q->b;
    node_t *n = route(q);
    rconn_t *c = n ? node_cmd(n) : NULL;
    if (c && attempt(q, c) == 0) return;
    if (!q->cb) { /* a publish: back to the queue's head, it keeps its turn */
        q->next = b->pub_head;
        b->pub_head = q;
        if (!b->pub_tail) b->pub_tail = q;
        b->pub_count++;
        b->pub_bytes += q->bytes;
        if (b->cluster && !n) request_refresh(b);
        schedule(b);
        return;
    }
    if (now_ms(b) - q->started >= RETRY_BUDGET_MS) {
        finish(q, BUS_ECLUSTER, NULL);
        req_release(q);
        return;
    }
    if (b->cluster && !n) request_refresh(b);
    retry_later(q, RETRY_FIRST_MS);
}

static void on_req_reply(void *ud, int status, const redisReply *r)
{
    creq_t *q = ud;
    busc_t *b = q->b;
    q->refs--;
    if (status != 0 || q->finished) {
        finish(q, status, NULL);
        req_release(q);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && !b->closing) {
        redis_cluster_err_t kind = redis_cluster_error_kind(r->str, r->len);
        redis_cluster_redirect_t rd;
        if ((kind == REDIS_CLUSTER_ERR_MOVED || kind == REDIS_CLUSTER_ERR_ASK) &&
            redis_cluster_redirect_parse(r->str, r->len, &rd) == 0 &&
            q->redirects < REDIRECTS_MAX) {
            q->redirects++;
            if (kind == REDIS_CLUSTER_ERR_MOVED) {
                b->moved++;
                request_refresh(b);
            } else {
                b->asked++;
                q->asking = 1;
            }
            const char *host = rd.host[0] ? rd.host : NULL;
            char origin[REDIS_CLUSTER_HOST_MAX + 1];
            if (!host) { /* an empty endpoint: the node that answered */
                node_t *from = route(q);
                snprintf(origin, sizeof origin, "%s", from ? from->host : "");
                host = origin;
            }
            q->forced = node_get(b, host, rd.port);
            send_req(q);
            return;
        }
        if (redis_cluster_error_retryable(kind) && kind != REDIS_CLUSTER_ERR_MOVED &&
            kind != REDIS_CLUSTER_ERR_ASK && now_ms(b) - q->started < RETRY_BUDGET_MS) {
            b->retried++;
            if (kind != REDIS_CLUSTER_ERR_TRYAGAIN) request_refresh(b);
            uint32_t d = RETRY_FIRST_MS << (q->tries < 5 ? q->tries : 5);
            q->tries++;
            retry_later(q, d);
            return;
        }
        if (redis_cluster_error_retryable(kind) && q->cb) {
            set_error(b, "command", r->str);
            finish(q, BUS_ECLUSTER, NULL);
            req_release(q);
            return;
        }
    }
    if (q->replicas && r->type != REDIS_REPLY_ERROR) {
        redis_reply_free(q->kept);
        q->kept = redis_reply_dup(r); /* answered when WAIT's reply comes */
        return;
    }
    finish(q, 0, r);
    req_release(q);
}

static void on_req_wait(void *ud, int status, const redisReply *r)
{
    wait_tok_t *t = ud;
    creq_t *q = t->req;
    unsigned attempt_no = t->attempt;
    free(t);
    q->refs--;
    if (attempt_no == q->attempt && q->kept && !q->finished) {
        if (status != 0)
            finish(q, status, NULL);
        else if (r->type == REDIS_REPLY_INTEGER && r->integer >= (long long)q->replicas)
            finish(q, 0, q->kept);
        else
            finish(q, BUS_EREPLICAS, q->kept);
    }
    req_release(q);
}

int busc_command(busc_t *b, const char *key, size_t keylen, long shard, unsigned replicas,
                 uint32_t timeout_ms, int argc, const char *const *argv, const size_t *lens,
                 bus_reply_cb cb, void *ud)
{
    if (argc < 1 || !argv || !cb) return BUS_EINVAL;
    if (b->closing) return BUS_ECLOSED;
    if (!b->map) return BUS_ENOTCONN;
    creq_t *q = req_new(b, argc, argv, lens);
    q->cb = cb;
    q->ud = ud;
    q->replicas = replicas;
    q->wait_ms = timeout_ms;
    if (key) {
        q->has_slot = 1;
        q->slot = redis_cluster_slot(key, keylen);
    } else {
        q->shard = shard;
        if (shard >= 0 && (size_t)shard >= redis_cluster_map_shard_count(b->map)) {
            req_free(q);
            return BUS_EINVAL;
        }
    }
    node_t *n = route(q);
    rconn_t *c = n ? node_cmd(n) : NULL;
    if (!c || !rconn_ready(c) || attempt(q, c) < 0) {
        req_free(q);
        /* the slot's primary is not reachable now: perhaps it is no primary any more */
        if (b->cluster) request_refresh(b);
        return BUS_ENOTCONN;
    }
    return 0;
}

int busc_publish(busc_t *b, int sharded, const char *channel, size_t clen, const char *payload,
                 size_t plen)
{
    if (b->closing) return BUS_ECLOSED;
    if ((!channel && clen) || (!payload && plen)) return BUS_EINVAL;
    size_t bytes = clen + plen;
    if (b->o.inflight_max_bytes && b->inflight_bytes + bytes > b->o.inflight_max_bytes) {
        b->dropped++;
        return BUS_EQUEUEFULL;
    }
    const char *argv[3] = {sharded ? "SPUBLISH" : "PUBLISH", channel ? channel : "",
                           payload ? payload : ""};
    size_t lens[3] = {sharded ? 8 : 7, clen, plen};
    creq_t *q = req_new(b, 3, argv, lens);
    q->has_slot = 1;
    /* SPUBLISH goes to the shard that owns the channel. A classic PUBLISH reaches every node
     * from any node, so all of them leave through one primary, slot 0's: one connection keeps
     * them in the order of the calls (a node's heartbeat before its reply, as on one server). */
    q->slot = sharded ? redis_cluster_slot(channel, clen) : 0;
    q->bytes = bytes;
    node_t *n = route(q);
    rconn_t *c = n ? node_cmd(n) : NULL;
    if (!b->pub_head && c && attempt(q, c) == 0) return 0;
    if (b->pub_count + 1 > b->o.queue_max_msgs || b->pub_bytes + bytes > b->o.queue_max_bytes) {
        b->dropped++;
        req_free(q);
        return BUS_EQUEUEFULL;
    }
    if (b->pub_tail)
        b->pub_tail->next = q;
    else
        b->pub_head = q;
    b->pub_tail = q;
    b->pub_count++;
    b->pub_bytes += bytes;
    if (b->cluster && !n) request_refresh(b);
    schedule(b);
    return 0;
}

/* Sends queued publishes whose node is reachable; the rest keep their order. */
static void flush_publishes(busc_t *b)
{
    creq_t *keep_head = NULL, *keep_tail = NULL;
    creq_t *q = b->pub_head;
    b->pub_head = b->pub_tail = NULL;
    size_t count = 0, bytes = 0;
    while (q) {
        creq_t *next = q->next;
        q->next = NULL;
        node_t *n = route(q);
        rconn_t *c = n ? node_cmd(n) : NULL;
        if (!(c && rconn_ready(c) && attempt(q, c) == 0)) {
            if (keep_tail)
                keep_tail->next = q;
            else
                keep_head = q;
            keep_tail = q;
            count++;
            bytes += q->bytes;
        }
        q = next;
    }
    b->pub_head = keep_head;
    b->pub_tail = keep_tail;
    b->pub_count = count;
    b->pub_bytes = bytes;
}

/* --- the timer: retries, reconnects, refreshes --- */

static void on_timer(uv_timer_t *t)
{
    busc_t *b = t->data;
    b->timer_due = 0;
    if (b->closing) return;
    uint64_t now = now_ms(b);
    if (b->cluster && now >= b->next_periodic) b->want_refresh = 1;
    if (b->cluster && b->want_refresh && !b->probe && now >= b->refresh_retry_at &&
        now - b->last_refresh >= REFRESH_MIN_GAP_MS)
        refresh_start(b);
    if (b->map) {
        int placing = b->unplaced > 0; /* or a node lost the subscriber of its channels */
        for (size_t i = 0; i < b->n_nodes; i++) {
            node_t *n = b->nodes[i];
            if (n->in_map) node_cmd(n);
            if (n->owned && !n->ssub) placing = 1;
        }
        if (placing) place_shard_channels(b);
        csub_open(b);
        flush_publishes(b);
    }
    creq_t *due = NULL, **pp = &b->retry_head;
    while (*pp) {
        creq_t *q = *pp;
        if (q->due <= now) {
            *pp = q->next;
            q->next = due;
            due = q;
        } else {
            pp = &q->next;
        }
    }
    while (due) {
        creq_t *q = due;
        due = q->next;
        q->next = NULL;
        send_req(q);
    }
    update_state(b, 0);
    schedule(b);
}

/* Arms the timer for the earliest thing due. */
static void schedule(busc_t *b)
{
    if (b->closing) return;
    uint64_t now = now_ms(b), due = UINT64_MAX;
#define DUE(t)                                                                                     \
    do {                                                                                           \
        uint64_t t_ = (t);                                                                         \
        if (t_ < due) due = t_;                                                                    \
    } while (0)
    if (b->cluster) DUE(b->next_periodic);
    if (b->cluster && b->want_refresh && !b->probe) {
        uint64_t t = b->refresh_retry_at;
        if (b->last_refresh + REFRESH_MIN_GAP_MS > t) t = b->last_refresh + REFRESH_MIN_GAP_MS;
        DUE(t);
    }
    for (creq_t *q = b->retry_head; q; q = q->next) DUE(q->due);
    if (b->map) {
        for (size_t i = 0; i < b->n_nodes; i++) {
            node_t *n = b->nodes[i];
            if (n->in_map && !n->cmd) DUE(n->retry_at);
            if (!n->ssub && (n->owned || b->unplaced)) DUE(n->retry_at);
        }
        if (!b->csub) DUE(b->csub_retry_at);
        if (b->pub_head) DUE(now + 100); /* queued publishes: look for their route again */
    }
#undef DUE
    if (due == UINT64_MAX) return;
    /* never 0: a timer started from a timer callback with timeout 0 would run again in the
     * same turn of the loop, and again, without the loop ever reading a socket */
    if (due <= now) due = now + 1;
    if (b->timer_due && b->timer_due <= due && uv_is_active((uv_handle_t *)&b->timer)) return;
    b->timer_due = due;
    uv_timer_start(&b->timer, on_timer, due - now, 0);
}

/* --- state --- */

static bus_state_t compute_state(const busc_t *b, bus_conn_t which)
{
    if (!b->map) return b->probe || b->want_refresh ? BUS_CONNECTING : BUS_DISCONNECTED;
    int all = 1;
    if (which == BUS_CONN_CMD) {
        for (size_t i = 0; i < b->n_nodes; i++) {
            const node_t *n = b->nodes[i];
            if (!n->in_map) continue;
            if (!rconn_ready(n->cmd)) all = 0;
        }
    } else {
        if (!rconn_ready(b->csub) || !b->csub_synced || b->unplaced) all = 0;
        for (size_t i = 0; i < b->n_nodes; i++) {
            const node_t *n = b->nodes[i];
            if (n->owned && (!rconn_ready(n->ssub) || !n->ssub_synced)) all = 0;
        }
    }
    return all ? BUS_CONNECTED : BUS_CONNECTING; /* what is down is being retried */
}

static void update_state(busc_t *b, int err)
{
    if (b->closing) return;
    for (int w = BUS_CONN_CMD; w <= BUS_CONN_SUB; w++) {
        bus_state_t s = compute_state(b, (bus_conn_t)w);
        if (s == b->state[w]) continue;
        b->state[w] = s;
        if (s == BUS_CONNECTED && b->ever[w]) b->reconnects++;
        if (s == BUS_CONNECTED) b->ever[w] = 1;
        if (b->o.on_state) b->o.on_state(b->o.ud, (bus_conn_t)w, s, s == BUS_CONNECTED ? 0 : err);
        if (b->closing) return;
    }
}

/* --- open, stats, close --- */

int busc_open(busc_t **out, uv_loop_t *loop, const redis_url_t *url, const bus_options_t *o)
{
    busc_t *b = xcalloc(1, sizeof *b);
    b->loop = loop;
    redis_url_copy(&b->url, url);
    b->o = *o;
    b->cluster = url->kind == REDIS_URL_CLUSTER;
    b->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)b) | 1;
    for (int i = 0; i < 3; i++) b->want[i] = (strmap_t)STRMAP_INIT;
    uv_timer_init(loop, &b->timer);
    b->timer.data = b;
    b->open = 1;
    if (b->cluster) {
        b->want_refresh = 1;
        b->next_periodic = now_ms(b) + REFRESH_EVERY_MS;
        b->state[BUS_CONN_CMD] = b->state[BUS_CONN_SUB] = BUS_CONNECTING;
        uv_timer_start(&b->timer, on_timer, 0, 0);
        b->timer_due = now_ms(b);
    } else {
        redis_cluster_map_t *m = redis_cluster_map_single(url->host, url->port);
        if (!m) {
            redis_url_free(&b->url);
            uv_close((uv_handle_t *)&b->timer, NULL);
            free(b);
            return BUS_EINVAL;
        }
        b->state[BUS_CONN_CMD] = b->state[BUS_CONN_SUB] = BUS_CONNECTING;
        apply_map(b, m);
        b->refreshes = 0;
    }
    *out = b;
    return 0;
}

size_t busc_shards(const busc_t *b)
{
    return b->map ? redis_cluster_map_shard_count(b->map) : 0;
}

const char *busc_shard_addr(const busc_t *b, size_t shard)
{
    if (!b->map || shard >= redis_cluster_map_shard_count(b->map)) return NULL;
    const redis_cluster_node_t *p = &redis_cluster_map_shard(b->map, shard)->nodes[0];
    for (size_t i = 0; i < b->n_nodes; i++)
        if (b->nodes[i]->port == p->port && strcmp(b->nodes[i]->host, p->host) == 0)
            return b->nodes[i]->addr;
    return NULL;
}

bus_state_t busc_state(const busc_t *b, bus_conn_t conn)
{
    return b->state[conn == BUS_CONN_CMD ? BUS_CONN_CMD : BUS_CONN_SUB];
}

void busc_stats(const busc_t *b, bus_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->cmd.state = b->state[BUS_CONN_CMD];
    st->cmd.attempts = b->attempts[BUS_CONN_CMD];
    st->cmd.connects = b->connects[BUS_CONN_CMD];
    st->sub.state = b->state[BUS_CONN_SUB];
    st->sub.attempts = b->attempts[BUS_CONN_SUB];
    st->sub.connects = b->connects[BUS_CONN_SUB];
    st->reconnects = b->reconnects;
    st->published = b->published;
    st->received = b->received;
    st->queued = b->pub_count;
    st->queued_bytes = b->pub_bytes;
    st->dropped = b->dropped;
    st->lost = b->lost;
    memcpy(st->last_error, b->last_error, sizeof st->last_error);
    st->shards = (unsigned)busc_shards(b);
    st->map_refreshes = b->refreshes;
    st->moved = b->moved;
    st->asked = b->asked;
    st->retried = b->retried;
    st->failovers = b->failovers;
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

int busc_close(busc_t *b, bus_closed_cb done, void *done_ud)
{
    if (b->closing) return BUS_ECLOSED;
    b->closing = 1;
    b->done = done;
    b->done_ud = done_ud;
    /* commands waiting for a retry, publishes waiting for a route */
    while (b->retry_head) {
        creq_t *q = b->retry_head;
        b->retry_head = q->next;
        finish(q, BUS_ECLOSED, NULL);
        req_release(q);
    }
    while (b->pub_head) {
        creq_t *q = b->pub_head;
        b->pub_head = q->next;
        req_free(q);
    }
    b->pub_tail = NULL;
    /* the connections: pending callbacks fire with BUS_ECLOSED now */
    rconn_t *conns[2] = {b->csub, b->probe};
    b->csub = b->probe = NULL;
    for (int i = 0; i < 2; i++) rconn_close(conns[i]);
    for (size_t i = 0; i < b->n_nodes; i++) {
        node_t *n = b->nodes[i];
        rconn_t *c = n->cmd, *s = n->ssub;
        n->cmd = n->ssub = NULL;
        rconn_close(c);
        rconn_close(s);
    }
    for (size_t i = 0; i < b->n_nodes; i++) {
        free(b->nodes[i]->host);
        free(b->nodes[i]);
    }
    free(b->nodes);
    b->nodes = NULL;
    b->n_nodes = 0;
    for (int k = 0; k < 3; k++) {
        const char *key;
        size_t kl, i = 0;
        void *v;
        while (strmap_next(&b->want[k], &i, &key, &kl, &v)) free(v);
        strmap_free(&b->want[k]);
    }
    redis_cluster_map_free(b->map);
    b->map = NULL;
    redis_url_free(&b->url);
    uv_close((uv_handle_t *)&b->timer, on_timer_closed);
    return 0;
}
