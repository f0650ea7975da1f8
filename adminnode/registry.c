/* The node registry (see registry.h): the state machine of each node, fed by heartbeats and by
 * the P:node:* keys loaded from Redis, one uv_timer for the changes that come with time, and
 * the commands and requests waiting on it. */
#include "registry.h"
#include "alloc.h"
#include "log.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the state machine ---- */

const char *reg_state_name(reg_state_t s)
{
    switch (s) {
    case REG_UP: return "up";
    case REG_DRAINING: return "draining";
    case REG_DOWN: return "down";
    }
    return "?";
}

void reg_init(reg_t *r, uint64_t interval_ms, uint64_t forget_after_ms)
{
    memset(r, 0, sizeof *r);
    r->interval_ms = interval_ms;
    r->forget_after_ms = forget_after_ms;
}

static void node_free(reg_node_t *n)
{
    json_decref(n->hb);
    free(n->id);
    free(n);
}

void reg_free(reg_t *r)
{
    void *v;
    for (size_t i = 0; strmap_next(&r->nodes, &i, NULL, NULL, &v);) node_free(v);
    strmap_free(&r->nodes);
    memset(r->counts, 0, sizeof r->counts);
}

static uint64_t down_after(const reg_t *r)
{
    return REG_MISSED_HEARTBEATS * r->interval_ms;
}

/* The state n has at now, or -1 once it is to be forgotten. */
static int state_at(const reg_t *r, const reg_node_t *n, uint64_t now)
{
    uint64_t age = now > n->last_seen ? now - n->last_seen : 0;
    if (age < down_after(r)) return control_msg_heartbeat_draining(n->hb) ? REG_DRAINING : REG_UP;
    if (age < down_after(r) + r->forget_after_ms) return REG_DOWN;
    return -1;
}

uint64_t reg_node_deadline(const reg_t *r, const reg_node_t *n)
{
    uint64_t d = n->last_seen + down_after(r);
    return n->state == REG_DOWN ? d + r->forget_after_ms : d;
}

/* Moves n to state to (-1: forgets and frees it). */
static void set_state(reg_t *r, reg_node_t *n, int to)
{
    int from = (int)n->state;
    if (to == from) return;
    r->counts[from]--;
    if (to >= 0) {
        n->state = (reg_state_t)to;
        r->counts[to]++;
    }
    if (r->on_change) r->on_change(r->ud, n, from, to);
    if (to < 0) {
        strmap_del(&r->nodes, n->id, strlen(n->id));
        node_free(n);
    }
}

/* Keeps what n's heartbeat (just set) says about the chat. */
static void take_chat(reg_node_t *n)
{
    n->has_chat = control_msg_heartbeat_chat(n->hb, &n->chat) == 0;
}

const reg_node_t *reg_heartbeat(reg_t *r, const char *json, size_t len, uint64_t now, uint64_t age)
{
    json_t *hb = control_msg_heartbeat_parse(json, len);
    if (!hb) return NULL;
    size_t idlen;
    const char *id = control_msg_heartbeat_id(hb, &idlen);
    uint64_t sent = age < now ? now - age : 0;
    reg_node_t *n = strmap_get(&r->nodes, id, idlen);
    if (n && sent < n->last_seen) { /* an older document than the one kept */
        json_decref(hb);
        return n;
    }
    if (!n) {
        if (r->nodes.count >= REG_MAX_NODES) {
            if (!r->full_logged)
                log_warn("node registry full", "max=%d detail=\"heartbeats of new ids ignored\"",
                         REG_MAX_NODES);
            r->full_logged = 1;
            json_decref(hb);
            return NULL;
        }
        n = xcalloc(1, sizeof *n);
        n->id = xstrndup(id, idlen);
        n->hb = hb;
        take_chat(n);
        n->last_seen = sent;
        int st = state_at(r, n, now);
        if (st < 0) { /* already past forgetting (an old entry loaded from Redis) */
            node_free(n);
            return NULL;
        }
        n->state = (reg_state_t)st;
        r->counts[st]++;
        strmap_put(&r->nodes, n->id, idlen, n);
        if (r->on_change) r->on_change(r->ud, n, -1, st);
        return n;
    }
    json_decref(n->hb);
    n->hb = hb;
    take_chat(n);
    n->last_seen = sent;
    int st = state_at(r, n, now);
    set_state(r, n, st);
    return st < 0 ? NULL : n;
}

uint64_t reg_tick(reg_t *r, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    void *v;
    for (size_t i = 0; strmap_next(&r->nodes, &i, NULL, NULL, &v);) {
        reg_node_t *n = v;
        int st = state_at(r, n, now);
        set_state(r, n, st);
        if (st < 0) continue;
        uint64_t d = reg_node_deadline(r, n);
        if (d < next) next = d;
    }
    return next;
}

const reg_node_t *reg_get(const reg_t *r, const char *id)
{
    return strmap_get(&r->nodes, id, strlen(id));
}

size_t reg_count(const reg_t *r, reg_state_t s)
{
    return (unsigned)s < REG_NSTATES ? r->counts[s] : 0;
}

size_t reg_size(const reg_t *r)
{
    return r->nodes.count;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(const reg_node_t *const *)a)->id, (*(const reg_node_t *const *)b)->id);
}

const reg_node_t **reg_sorted(const reg_t *r, size_t *n)
{
    *n = r->nodes.count;
    if (*n == 0) return NULL;
    const reg_node_t **all = xmalloc(*n * sizeof *all);
    size_t k = 0;
    void *v;
    for (size_t i = 0; strmap_next(&r->nodes, &i, NULL, NULL, &v);) all[k++] = v;
    qsort(all, k, sizeof *all, by_id);
    return all;
}

size_t reg_chat_limits(const reg_t *r, chat_store_limits_t *out)
{
    size_t count = 0;
    chat_store_limits_t l = {0, 0, 0};
    void *v;
    for (size_t i = 0; strmap_next(&r->nodes, &i, NULL, NULL, &v);) {
        const reg_node_t *n = v;
        if (n->state == REG_DOWN || !n->has_chat) continue;
        if (count == 0 || n->chat.history_size < l.history_size)
            l.history_size = n->chat.history_size;
        if (count == 0 || n->chat.history_ttl > l.history_ttl) l.history_ttl = n->chat.history_ttl;
        if (count == 0 || n->chat.max_text < l.max_text) l.max_text = n->chat.max_text;
        count++;
    }
    if (count) *out = l;
    return count;
}

json_t *reg_node_json(const reg_node_t *n, int64_t epoch_offset)
{
    static const char *const head[] = {"tag", "address"};
    static const char *const figures[] = {
        "pid",      "version",   "started",         "connections",
        "sockets",  "rooms",     "events_in_per_s", "events_out_per_s",
        "bytes_in", "bytes_out", "ws_frames_out",   "ws_writes",
        "rss",
    };
    json_t *o = json_object(), *v;
    json_object_set_new(o, "id", json_string(n->id));
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        if ((v = json_object_get(n->hb, head[i])) != NULL) json_object_set(o, head[i], v);
    json_object_set_new(o, "state", json_string(reg_state_name(n->state)));
    json_object_set_new(o, "last_seen", json_integer((json_int_t)n->last_seen + epoch_offset));
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if ((v = json_object_get(n->hb, figures[i])) != NULL) json_object_set(o, figures[i], v);
    json_object_set_new(o, "draining", json_boolean(control_msg_heartbeat_draining(n->hb)));
    return o;
}

/* ---- the running registry ---- */

typedef struct waiter {
    struct waiter *prev, *next;
    void *ud;
    reg_ready_cb ready; /* a load waiter, or */
    reg_reply_cb reply; /* a command waiting for its reply */
    char cmd_id[40];
} waiter_t;

struct registry {
    uv_loop_t *loop;
    bus_t *bus; /* NULL without Redis, and once stopped */
    char *prefix;
    reg_t reg;
    uv_timer_t timer;
    uint64_t timer_due; /* clock time the timer is armed for; 0: not armed */
    int loaded, stopped, timer_closed;
    unsigned load_gen;   /* the current load; older answers do not count for it */
    size_t load_pending; /* commands of the current load not answered yet */
    int scan_done;       /* the current load's SCAN reached cursor 0 on every shard */
    size_t outstanding;  /* bus commands whose callback has not fired yet */
    waiter_t *waiters;   /* doubly linked */
    unsigned long long nonce;
    unsigned seq;
    reg_change_cb on_change;
    void *on_change_ud;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_change(void *ud, const reg_node_t *n, int from, int to)
{
    registry_t *reg = ud;
    const char *address = json_string_value(json_object_get(n->hb, "address"));
    if (!address) address = "";
    if (from < 0)
        log_info("node registered", "id=%s address=%s state=%s", n->id, address,
                 reg_state_name((reg_state_t)to));
    else if (to < 0)
        log_info("node forgotten", "id=%s address=%s", n->id, address);
    else if (to == REG_DOWN)
        log_warn("node down", "id=%s address=%s missed_heartbeats=%d", n->id, address,
                 REG_MISSED_HEARTBEATS);
    else
        log_info("node state", "id=%s address=%s from=%s to=%s", n->id, address,
                 reg_state_name((reg_state_t)from), reg_state_name((reg_state_t)to));
    if (reg->on_change && !reg->stopped) reg->on_change(reg->on_change_ud, n, from, to);
}

static void on_timer(uv_timer_t *t);

/* Makes the timer fire by deadline (clock time) at the latest. */
static void arm(registry_t *reg, uint64_t deadline)
{
    if (reg->stopped || deadline == UINT64_MAX) return;
    if (reg->timer_due && reg->timer_due <= deadline) return;
    uint64_t now = uv_now(reg->loop);
    reg->timer_due = deadline ? deadline : 1;
    uv_timer_start(&reg->timer, on_timer, deadline > now ? deadline - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    registry_t *reg = t->data;
    reg->timer_due = 0;
    arm(reg, reg_tick(&reg->reg, uv_now(reg->loop)));
}

static void take(registry_t *reg, const char *json, size_t len, uint64_t age)
{
    const reg_node_t *n = reg_heartbeat(&reg->reg, json, len, uv_now(reg->loop), age);
    if (n) arm(reg, reg_node_deadline(&reg->reg, n));
}

static void maybe_free(registry_t *reg)
{
    if (!reg->timer_closed || reg->outstanding) return;
    reg_free(&reg->reg);
    free(reg->prefix);
    free(reg);
}

registry_t *registry_new(uv_loop_t *loop, bus_t *bus, const registry_options_t *o)
{
    registry_t *reg = xcalloc(1, sizeof *reg);
    reg->loop = loop;
    reg->bus = bus;
    reg->prefix = xstrdup(o->prefix);
    reg->on_change = o->on_change;
    reg->on_change_ud = o->ud;
    reg_init(&reg->reg, o->interval_ms, o->forget_after_ms);
    reg->reg.on_change = on_change;
    reg->reg.ud = reg;
    uv_timer_init(loop, &reg->timer);
    reg->timer.data = reg;
    reg->loaded = bus == NULL;
    unsigned char rnd[8] = {0};
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) < 0) {
        uint64_t h = uv_hrtime();
        memcpy(rnd, &h, sizeof rnd);
    }
    for (size_t i = 0; i < sizeof rnd; i++) reg->nonce = reg->nonce << 8 | rnd[i];
    return reg;
}

static void unlink_waiter(registry_t *reg, waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        reg->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
}

static void add_waiter(registry_t *reg, waiter_t *w)
{
    w->prev = NULL;
    w->next = reg->waiters;
    if (reg->waiters) reg->waiters->prev = w;
    reg->waiters = w;
}

static void on_timer_closed(uv_handle_t *h)
{
    registry_t *reg = h->data;
    reg->timer_closed = 1;
    maybe_free(reg);
}

void registry_stop(registry_t *reg)
{
    if (!reg || reg->stopped) return;
    reg->stopped = 1;
    reg->bus = NULL;
    waiter_t *w = reg->waiters;
    reg->waiters = NULL;
    while (w) {
        waiter_t *next = w->next;
        if (w->ready)
            w->ready(w->ud, REG_ECLOSED);
        else
            w->reply(w->ud, REG_ECLOSED, NULL);
        free(w);
        w = next;
    }
    uv_close((uv_handle_t *)&reg->timer, on_timer_closed);
}

void registry_on_heartbeat(void *ud, const char *channel, size_t len, const char *payload,
                           size_t plen)
{
    (void)channel;
    (void)len;
    registry_t *reg = ud;
    if (reg->stopped) return;
    take(reg, payload, plen, 0);
}

void registry_on_reply(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    registry_t *reg = ud;
    if (reg->stopped) return;
    control_msg_reply_t r;
    json_t *reply = control_msg_reply_parse(payload, plen, &r);
    if (reply) {
        for (waiter_t *w = reg->waiters; w; w = w->next) {
            if (!w->reply || strcmp(w->cmd_id, r.id) != 0) continue;
            unlink_waiter(reg, w);
            w->reply(w->ud, 0, &r);
            free(w);
            break;
        }
    }
    json_decref(reply);
}

/* ---- loading the P:node:* keys ---- */

typedef struct {
    registry_t *reg;
    unsigned gen;
    int refs;    /* the key's GET and PTTL */
    char *value; /* the GET's answer */
    size_t len;
    long long pttl; /* the PTTL's answer, -3 until it comes */
} key_load_t;

static void load_done_maybe(registry_t *reg)
{
    if (!reg->scan_done || reg->load_pending || reg->stopped) return;
    reg->scan_done = 0;
    log_info("node registry loaded", "nodes=%zu up=%zu draining=%zu down=%zu", reg_size(&reg->reg),
             reg_count(&reg->reg, REG_UP), reg_count(&reg->reg, REG_DRAINING),
             reg_count(&reg->reg, REG_DOWN));
    if (reg->loaded) return;
    reg->loaded = 1;
    /* answer the requests that waited for it */
    waiter_t *w = reg->waiters;
    while (w) {
        waiter_t *next = w->next;
        if (w->ready) {
            unlink_waiter(reg, w);
            w->ready(w->ud, 0);
            free(w);
        }
        w = next;
    }
}

/* Age of a P:node:<id> entry from its remaining time to live: chatnodes store it for
 * control_msg_node_ttl seconds at every heartbeat. */
static uint64_t entry_age(const registry_t *reg, long long pttl)
{
    long long full = control_msg_node_ttl((long long)reg->reg.interval_ms) * 1000;
    if (pttl < 0 || pttl >= full) return 0;
    return (uint64_t)(full - pttl);
}

static void key_loaded(key_load_t *k)
{
    registry_t *reg = k->reg;
    if (--k->refs > 0) return;
    if (k->value && !reg->stopped && k->pttl != -2)
        take(reg, k->value, k->len, entry_age(reg, k->pttl));
    if (k->gen == reg->load_gen) reg->load_pending--;
    free(k->value);
    free(k);
    load_done_maybe(reg);
}

static void on_get(void *ud, int status, const struct redisReply *r)
{
    key_load_t *k = ud;
    k->reg->outstanding--;
    if (status == 0 && r && r->type == REDIS_REPLY_STRING) {
        k->value = xmemdup(r->str, r->len);
        k->len = r->len;
    }
    registry_t *reg = k->reg;
    key_loaded(k);
    maybe_free(reg);
}

static void on_pttl(void *ud, int status, const struct redisReply *r)
{
    key_load_t *k = ud;
    k->reg->outstanding--;
    if (status == 0 && r && r->type == REDIS_REPLY_INTEGER) k->pttl = r->integer;
    registry_t *reg = k->reg;
    key_loaded(k);
    maybe_free(reg);
}

/* Sends a command about key (keylen bytes), or, key NULL, a command to primary shard. */
static int redis_send(registry_t *reg, const char *key, size_t keylen, size_t shard, int argc,
                      const char *const *argv, const size_t *lens, bus_reply_cb cb, void *ud)
{
    if (!reg->bus || reg->stopped) return BUS_ECLOSED;
    int rc = key ? bus_command_key(reg->bus, key, keylen, argc, argv, lens, cb, ud)
                 : bus_command_shard(reg->bus, shard, argc, argv, lens, cb, ud);
    if (rc == 0) reg->outstanding++;
    return rc;
}

static void load_key(registry_t *reg, const char *key, size_t klen)
{
    key_load_t *k = xcalloc(1, sizeof *k);
    k->reg = reg;
    k->gen = reg->load_gen;
    k->pttl = -3;
    k->refs = 2;
    reg->load_pending++;
    const char *get[] = {"GET", key};
    size_t get_lens[] = {3, klen};
    if (redis_send(reg, key, klen, 0, 2, get, get_lens, on_get, k) < 0) k->refs--;
    const char *pttl[] = {"PTTL", key};
    size_t pttl_lens[] = {4, klen};
    if (redis_send(reg, key, klen, 0, 2, pttl, pttl_lens, on_pttl, k) < 0) k->refs--;
    if (k->refs == 0) {
        k->refs = 1;
        key_loaded(k);
    }
}

/* The keys are spread over the primaries on Redis Cluster: a load SCANs each shard in turn,
 * each from cursor 0, and is done when the last one is. */
static void scan(registry_t *reg, size_t shard, size_t shards, const char *cursor, size_t clen);

typedef struct {
    registry_t *reg;
    unsigned gen;
    size_t shard, shards; /* the shard scanned, of how many when the load began */
} scan_t;

/* Starts a load: a new generation, from the first shard. */
static void load(registry_t *reg)
{
    reg->load_gen++;
    reg->load_pending = 0;
    reg->scan_done = 0;
    size_t shards = bus_shards(reg->bus);
    if (shards == 0) return; /* no slot map yet: the next connection tries again */
    scan(reg, 0, shards, "0", 1);
}

static void on_scan(void *ud, int status, const struct redisReply *r)
{
    scan_t *s = ud;
    registry_t *reg = s->reg;
    unsigned gen = s->gen;
    size_t shard = s->shard, shards = s->shards;
    free(s);
    reg->outstanding--;
    if (gen != reg->load_gen || reg->stopped) {
        maybe_free(reg);
        return;
    }
    reg->load_pending--;
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
        if (status == 0)
            log_warn("cannot load the node registry", "error=\"%s\"",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected SCAN reply");
        return; /* the next connection tries again */
    }
    const struct redisReply *keys = r->element[1];
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type == REDIS_REPLY_STRING)
            load_key(reg, keys->element[i]->str, keys->element[i]->len);
    if (bus_shards(reg->bus) != shards) { /* the cluster changed under the walk */
        load(reg);
        return;
    }
    const struct redisReply *cursor = r->element[0];
    if (!(cursor->len == 1 && cursor->str[0] == '0'))
        scan(reg, shard, shards, cursor->str, cursor->len);
    else if (shard + 1 < shards)
        scan(reg, shard + 1, shards, "0", 1);
    else
        reg->scan_done = 1;
    load_done_maybe(reg);
}

static void scan(registry_t *reg, size_t shard, size_t shards, const char *cursor, size_t clen)
{
    sbuf_t match = SBUF_INIT;
    control_msg_node_pattern(&match, reg->prefix);
    const char *argv[] = {"SCAN", cursor, "MATCH", match.data, "COUNT", "100"};
    size_t lens[] = {4, clen, 5, match.len, 5, 3};
    scan_t *s = xmalloc(sizeof *s);
    s->reg = reg;
    s->gen = reg->load_gen;
    s->shard = shard;
    s->shards = shards;
    reg->load_pending++;
    if (redis_send(reg, NULL, 0, shard, 6, argv, lens, on_scan, s) < 0) {
        reg->load_pending--;
        free(s);
    }
    sbuf_free(&match);
}

void registry_redis_state(registry_t *reg, bus_conn_t conn, bus_state_t state)
{
    if (!reg || reg->stopped || conn != BUS_CONN_CMD || state != BUS_CONNECTED) return;
    load(reg);
}

/* ---- what handlers ask ---- */

const reg_t *registry_nodes(const registry_t *reg)
{
    return &reg->reg;
}

int64_t registry_epoch_offset(const registry_t *reg)
{
    return wall_ms() - (int64_t)uv_now(reg->loop);
}

int registry_loaded(const registry_t *reg)
{
    return reg->loaded;
}

void registry_when_loaded(registry_t *reg, reg_ready_cb cb, void *ud)
{
    if (reg->loaded || reg->stopped) {
        cb(ud, reg->loaded ? 0 : REG_ECLOSED);
        return;
    }
    waiter_t *w = xcalloc(1, sizeof *w);
    w->ud = ud;
    w->ready = cb;
    add_waiter(reg, w);
}

int registry_command(registry_t *reg, const char *node, control_msg_cmd_t cmd, reg_reply_cb cb,
                     void *ud)
{
    if (reg->stopped || !reg->bus || bus_state(reg->bus, BUS_CONN_CMD) != BUS_CONNECTED)
        return REG_ENOBUS;
    if (!reg_get(&reg->reg, node)) return REG_EUNKNOWN;
    waiter_t *w = xcalloc(1, sizeof *w);
    w->ud = ud;
    w->reply = cb;
    snprintf(w->cmd_id, sizeof w->cmd_id, "adm-%016llx-%u", reg->nonce, ++reg->seq);
    sbuf_t text = SBUF_INIT, ch = SBUF_INIT;
    if (control_msg_command_text(cmd, w->cmd_id, &text) < 0) { /* nothing to send */
        free(w);
        return REG_EINVAL;
    }
    control_msg_command_channel(&ch, reg->prefix, node);
    int rc = bus_publish(reg->bus, ch.data, ch.len, text.data, text.len);
    sbuf_free(&ch);
    sbuf_free(&text);
    if (rc < 0) {
        free(w);
        return REG_ENOBUS;
    }
    add_waiter(reg, w);
    return 0;
}

size_t registry_cancel(registry_t *reg, void *ud)
{
    size_t n = 0;
    waiter_t *w = reg->waiters;
    while (w) {
        waiter_t *next = w->next;
        if (w->ud == ud) {
            unlink_waiter(reg, w);
            free(w);
            n++;
        }
        w = next;
    }
    return n;
}
