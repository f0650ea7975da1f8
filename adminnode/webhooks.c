/* Webhook delivery (see webhooks.h).
 *
 * Each endpoint runs one step at a time: make sure its group exists; read a batch (first the
 * entries still pending to this consumer from a previous life, then new ones with ">", and
 * now and then XAUTOCLAIM of entries idle past --webhooks-claim-idle-ms that a dead adminnode
 * held); POST it; on 2xx XACK it; on failure wait (full-jitter backoff, Retry-After honoured)
 * and POST again, keeping the entries claimed (XCLAIM ... JUSTID resets their idle time) so
 * that no other adminnode takes them; past --webhooks-give-up-ms XADD it to P:webhooks:dead,
 * then XACK. Events an endpoint does not want are acked with the batch they came in. */
#include "webhooks.h"
#include "alloc.h"
#include "bus.h"
#include "log.h"
#include "prom_text.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WH_MAX_FILE 256 /* endpoints in --webhooks-file */

typedef struct wh_ep wh_ep_t;

struct wh_ep {
    webhooks_t *wh;
    wh_ep_t *next;
    webhook_endpoint_t cfg;
    char *doc; /* the hash's text it was read from (NULL for a file endpoint) */
    int from_file;
    int gone; /* removed: freed once its last reply came back */
    int mark; /* while P:webhooks is compared: not (yet) seen in it */
    unsigned refs;
    int busy;  /* a command or request of its own is under way */
    int woken; /* events were added since its last read for new ones began */
    int group_ok;
    int own_done;        /* the entries pending to this consumer from before were read */
    char *group;         /* P:wh:<id> */
    uint64_t due;        /* loop time of its next step */
    uint64_t claimed_at; /* loop time of its last XAUTOCLAIM */
    char claim_cursor[48];
    uint64_t http_id;
    /* the batch */
    char **ids;
    size_t nids;
    json_t *events; /* the wanted events, as webhooks carry them */
    char *body;
    size_t body_len;
    int64_t oldest_ts;                        /* ms since the epoch of its first event */
    uint64_t first_loop, first_wall, touched; /* first attempt (loop, wall ms), last XCLAIM */
    unsigned attempts;
    int retrying;
    long last_status;
    char last_error[200];
    /* figures */
    uint64_t delivered, failed, dead, batches, latency_us_sum;
};

struct webhooks {
    uv_loop_t *loop;
    struct bus *bus;
    webhooks_options_t o;
    http_client_t *http;
    uv_timer_t timer;
    unsigned refs;
    int closing;
    webhook_endpoint_t *file;
    size_t nfile;
    wh_ep_t *eps;
    uint64_t next_refresh;
    int refreshing;
    int armed; /* the timer is started, for armed_at (loop time) */
    uint64_t armed_at;
    sbuf_t events_key, dead_key, endpoints_key;
};

static void step(wh_ep_t *ep);
static void on_tick(uv_timer_t *t);

/* The timer fires at the earliest time something is due (no sooner than 5 ms from now), so an
 * idle adminnode sleeps: without endpoints, until the next reading of P:webhooks. */
static void arm_at(webhooks_t *wh, uint64_t at)
{
    if (wh->closing) return;
    uint64_t now = uv_now(wh->loop);
    if (at < now + 5) at = now + 5;
    if (wh->armed && wh->armed_at <= at) return;
    wh->armed = 1;
    wh->armed_at = at;
    uv_timer_start(&wh->timer, on_tick, at - now, 0);
}

static void set_due(wh_ep_t *ep, uint64_t at)
{
    ep->due = at;
    arm_at(ep->wh, at);
}

static void wh_unref(webhooks_t *wh)
{
    if (--wh->refs) return;
    for (size_t i = 0; i < wh->nfile; i++) webhook_endpoint_free(&wh->file[i]);
    free(wh->file);
    sbuf_free(&wh->events_key);
    sbuf_free(&wh->dead_key);
    sbuf_free(&wh->endpoints_key);
    free(wh);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void webhooks_random_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    static uint64_t counter;
    unsigned char rnd[16];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0) {
        uint64_t x = wall_ms() ^ (++counter * 0x9e3779b97f4a7c15ull);
        for (size_t i = 0; i < sizeof rnd; i++)
            rnd[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[32] = '\0';
}

static uint64_t random64(void)
{
    uint64_t x = 0;
    if (uv_random(NULL, NULL, &x, sizeof x, 0, NULL) != 0) x = wall_ms() * 6364136223846793005ull;
    return x;
}

/* ---- the batch ---- */

static void batch_clear(wh_ep_t *ep)
{
    for (size_t i = 0; i < ep->nids; i++) free(ep->ids[i]);
    free(ep->ids);
    ep->ids = NULL;
    ep->nids = 0;
    json_decref(ep->events);
    ep->events = NULL;
    free(ep->body);
    ep->body = NULL;
    ep->body_len = 0;
    ep->attempts = 0;
    ep->retrying = 0;
    ep->oldest_ts = 0;
    ep->first_loop = ep->first_wall = 0;
}

/* Takes the entries of a stream reply (an array of [id, fields]) into the batch. Returns the
 * entries taken. */
static size_t batch_take(wh_ep_t *ep, const redisReply *entries)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) return 0;
    ep->ids = xcalloc(entries->elements, sizeof *ep->ids);
    ep->events = json_array();
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 1 || !e->element[0] ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        ep->ids[ep->nids++] = xstrndup(e->element[0]->str, e->element[0]->len);
        cluster_event_t ev;
        if (cluster_event_read(e, &ev) < 0) continue; /* deleted, or not an event: acked */
        if (webhook_endpoint_wants(&ep->cfg, ev.type)) {
            json_t *doc = cluster_event_json(&ev);
            if (doc) {
                if (json_array_size(ep->events) == 0 || ev.ts < ep->oldest_ts)
                    ep->oldest_ts = ev.ts;
                json_array_append_new(ep->events, doc);
            }
        }
        cluster_event_free(&ev);
    }
    return ep->nids;
}

/* ---- endpoints ---- */

static void ep_unref(wh_ep_t *ep)
{
    if (--ep->refs) return;
    batch_clear(ep);
    webhook_endpoint_free(&ep->cfg);
    free(ep->doc);
    free(ep->group);
    webhooks_t *wh = ep->wh;
    free(ep);
    wh_unref(wh);
}

/* Takes cfg (its strings move into the endpoint). */
static wh_ep_t *ep_add(webhooks_t *wh, webhook_endpoint_t *cfg, const char *doc, int from_file)
{
    wh_ep_t *ep = xcalloc(1, sizeof *ep);
    ep->wh = wh;
    wh->refs++;
    ep->refs = 1;
    ep->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    ep->doc = doc ? xstrdup(doc) : NULL;
    ep->from_file = from_file;
    sbuf_t g = SBUF_INIT;
    webhook_group(&g, wh->o.prefix, ep->cfg.id);
    ep->group = sbuf_steal(&g, NULL);
    strcpy(ep->claim_cursor, "0-0");
    ep->next = wh->eps;
    wh->eps = ep;
    set_due(ep, uv_now(wh->loop));
    return ep;
}

static void ep_remove(wh_ep_t *ep)
{
    webhooks_t *wh = ep->wh;
    for (wh_ep_t **p = &wh->eps; *p; p = &(*p)->next)
        if (*p == ep) {
            *p = ep->next;
            break;
        }
    ep->gone = 1;
    ep->refs++;
    if (ep->http_id && wh->http) http_client_cancel(wh->http, ep->http_id);
    ep->refs--;
    ep_unref(ep);
}

static wh_ep_t *ep_find(const webhooks_t *wh, const char *id)
{
    for (wh_ep_t *ep = wh->eps; ep; ep = ep->next)
        if (strcmp(ep->cfg.id, id) == 0) return ep;
    return NULL;
}

/* ---- commands ---- */

/* Sends a command of ep's (it holds a reference until cb). Returns 0, or -1 (cb never fires;
 * the step is tried again later). */
static int ep_command(wh_ep_t *ep, const char *key, size_t keylen, int argc, const char **argv,
                      const size_t *lens, bus_reply_cb cb)
{
    webhooks_t *wh = ep->wh;
    if (!wh->bus || wh->closing) return -1;
    size_t *own = NULL;
    if (!lens) {
        own = xmalloc((size_t)argc * sizeof *own);
        for (int i = 0; i < argc; i++) own[i] = strlen(argv[i]);
        lens = own;
    }
    ep->refs++;
    ep->busy = 1;
    int rc = bus_command_key(wh->bus, key, keylen, argc, argv, lens, cb, ep);
    free(own);
    if (rc < 0) {
        ep->refs--;
        ep->busy = 0;
        set_due(ep, uv_now(wh->loop) + wh->o.poll_ms);
        return -1;
    }
    return 0;
}

/* The common start of a reply: 1 when the step should go on with reply r. */
static int ep_reply(wh_ep_t *ep, int status, const redisReply *r)
{
    ep->busy = 0;
    if (ep->gone || ep->wh->closing) return 0;
    if (status != 0 || !r) {
        set_due(ep, uv_now(ep->wh->loop) + ep->wh->o.poll_ms);
        return 0;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            ep->group_ok = 0;
        else
            log_warn("webhook command failed", "endpoint=%s error=\"%.200s\"", ep->cfg.id, r->str);
        set_due(ep, uv_now(ep->wh->loop) + ep->wh->o.poll_ms);
        return 0;
    }
    return 1;
}

static void on_group(void *ud, int status, const redisReply *r)
{
    wh_ep_t *ep = ud;
    ep->busy = 0;
    if (!ep->gone && !ep->wh->closing && status == 0 && r &&
        (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0)) {
        ep->group_ok = 1;
        step(ep);
    } else if (!ep->gone && !ep->wh->closing) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_warn("webhook group not created", "endpoint=%s error=\"%.200s\"", ep->cfg.id,
                     r->str);
        set_due(ep, uv_now(ep->wh->loop) + 10 * ep->wh->o.poll_ms);
    }
    ep_unref(ep);
}

static void after_batch(wh_ep_t *ep)
{
    if (ep->nids == 0) {
        /* a wake-up that came during the read (its events may be newer than the read): again */
        set_due(ep, uv_now(ep->wh->loop) + (ep->woken ? 0 : ep->wh->o.poll_ms));
        if (ep->woken) step(ep);
        return;
    }
    step(ep);
}

static void on_read(void *ud, int status, const redisReply *r)
{
    wh_ep_t *ep = ud;
    if (ep_reply(ep, status, r)) {
        /* [[key, [entries]]], or nil */
        size_t n = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0] &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
            n = batch_take(ep, r->element[0]->element[1]);
        if (n == 0 && !ep->own_done) {
            ep->own_done = 1;
            step(ep);
        } else
            after_batch(ep);
    }
    ep_unref(ep);
}

static void on_autoclaim(void *ud, int status, const redisReply *r)
{
    wh_ep_t *ep = ud;
    if (ep_reply(ep, status, r)) {
        /* [next cursor, [entries], [deleted ids]] */
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0] &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[0]->len < sizeof ep->claim_cursor) {
            memcpy(ep->claim_cursor, r->element[0]->str, r->element[0]->len);
            ep->claim_cursor[r->element[0]->len] = '\0';
            size_t n = batch_take(ep, r->element[1]);
            if (n) log_info("webhook entries claimed", "endpoint=%s entries=%zu", ep->cfg.id, n);
        }
        after_batch(ep);
    }
    ep_unref(ep);
}

/* XACK or XCLAIM ... JUSTID of the batch's ids: argv with the ids appended. */
static int ep_ids_command(wh_ep_t *ep, const char **head, int nhead, int justid, bus_reply_cb cb)
{
    webhooks_t *wh = ep->wh;
    int argc = nhead + (int)ep->nids + (justid ? 1 : 0);
    const char **argv = xmalloc((size_t)argc * sizeof *argv);
    memcpy(argv, head, (size_t)nhead * sizeof *argv);
    for (size_t i = 0; i < ep->nids; i++) argv[nhead + (int)i] = ep->ids[i];
    if (justid) argv[argc - 1] = "JUSTID";
    int rc = ep_command(ep, wh->events_key.data, wh->events_key.len, argc, argv, NULL, cb);
    free(argv);
    return rc;
}

static void on_acked(void *ud, int status, const redisReply *r)
{
    wh_ep_t *ep = ud;
    if (ep_reply(ep, status, r)) {
        batch_clear(ep);
        step(ep);
    }
    ep_unref(ep);
}

static void ack(wh_ep_t *ep)
{
    const char *head[] = {"XACK", ep->wh->events_key.data, ep->group};
    ep_ids_command(ep, head, 3, 0, on_acked);
}

static void on_touched(void *ud, int status, const redisReply *r)
{
    wh_ep_t *ep = ud;
    if (ep_reply(ep, status, r)) {
        ep->touched = uv_now(ep->wh->loop);
        step(ep);
    }
    ep_unref(ep);
}

static void on_dead(void *ud, int status, const redisReply *r)
{
    wh_ep_t *ep = ud;
    if (ep_reply(ep, status, r)) {
        ep->dead++;
        log_warn("webhook batch dead-lettered", "endpoint=%s events=%zu attempts=%u error=\"%s\"",
                 ep->cfg.id, json_array_size(ep->events), ep->attempts, ep->last_error);
        ack(ep);
    }
    ep_unref(ep);
}

static void dead_letter(wh_ep_t *ep)
{
    webhooks_t *wh = ep->wh;
    char *events = json_dumps(ep->events, JSON_COMPACT);
    char maxlen[24], status[24], attempts[24], first[24], last[24];
    snprintf(maxlen, sizeof maxlen, "%lld", wh->o.dead_max_len);
    snprintf(status, sizeof status, "%ld", ep->last_status);
    snprintf(attempts, sizeof attempts, "%u", ep->attempts);
    snprintf(first, sizeof first, "%llu", (unsigned long long)ep->first_wall);
    snprintf(last, sizeof last, "%llu", (unsigned long long)wall_ms());
    const char *argv[] = {"XADD",          wh->dead_key.data,
                          "MAXLEN",        "~",
                          maxlen,          "*",
                          "endpoint",      ep->cfg.id,
                          "events",        events ? events : "[]",
                          "error",         ep->last_error,
                          "status",        status,
                          "attempts",      attempts,
                          "first_attempt", first,
                          "last_attempt",  last};
    if (ep_command(ep, wh->dead_key.data, wh->dead_key.len, (int)(sizeof argv / sizeof *argv), argv,
                   NULL, on_dead) < 0)
        ep->retrying = 1;
    free(events);
}

/* ---- delivery ---- */

static void on_posted(void *ud, int delivered, const http_client_result_t *r)
{
    wh_ep_t *ep = ud;
    webhooks_t *wh = ep->wh;
    ep->busy = 0;
    ep->http_id = 0;
    if (ep->gone || wh->closing) {
        ep_unref(ep);
        return;
    }
    ep->last_status = r->status;
    if (delivered) {
        ep->delivered += json_array_size(ep->events);
        ep->batches++;
        ep->latency_us_sum += r->elapsed_us;
        ep->last_error[0] = '\0';
        ep->retrying = 0;
        ack(ep);
        ep_unref(ep);
        return;
    }
    ep->failed++;
    if (r->err)
        snprintf(ep->last_error, sizeof ep->last_error, "%s", r->error);
    else
        snprintf(ep->last_error, sizeof ep->last_error, "HTTP status %ld", r->status);
    uint64_t now = uv_now(wh->loop);
    if (now - ep->first_loop >= wh->o.give_up_ms) {
        dead_letter(ep);
    } else {
        uint64_t d = webhook_backoff_ms(ep->attempts, wh->o.retry_min_ms, wh->o.retry_max_ms,
                                        random64(), r->retry_after_s);
        uint64_t left = wh->o.give_up_ms - (now - ep->first_loop);
        set_due(ep, now + (d < left ? d : left));
        ep->retrying = 1;
        log_debug("webhook attempt failed", "endpoint=%s attempt=%u retry_in_ms=%llu error=\"%s\"",
                  ep->cfg.id, ep->attempts, (unsigned long long)(ep->due - now), ep->last_error);
    }
    ep_unref(ep);
}

static void attempt(wh_ep_t *ep)
{
    webhooks_t *wh = ep->wh;
    uint64_t now = uv_now(wh->loop);
    if (ep->attempts == 0) {
        ep->first_loop = now;
        ep->first_wall = wall_ms();
        ep->touched = now;
    }
    ep->attempts++;
    ep->refs++;
    ep->busy = 1;
    int rc = webhooks_send(wh, &ep->cfg, ep->events, on_posted, ep, &ep->http_id);
    if (rc < 0) {
        /* refused before it started: counted as a failed attempt */
        http_client_result_t r = {
            .err = rc, .error = http_client_strerror(rc), .retry_after_s = -1};
        on_posted(ep, 0, &r);
    }
}

typedef struct {
    webhooks_t *wh;
    webhooks_send_cb cb;
    void *ud;
} send_t;

static void on_sent(void *ud, const http_client_result_t *r)
{
    send_t *s = ud;
    int ok =
        r->status >= 200 && r->status <= 299 && (r->err == 0 || r->err == HTTP_CLIENT_ETOOLARGE);
    s->cb(s->ud, ok, r);
    wh_unref(s->wh);
    free(s);
}

int webhooks_send(webhooks_t *wh, const webhook_endpoint_t *e, const json_t *events,
                  webhooks_send_cb cb, void *ud, uint64_t *id)
{
    if (!wh->http || wh->closing) return HTTP_CLIENT_ECLOSED;
    size_t len;
    char *body = webhook_body(e->id, events, &len);
    if (!body) return HTTP_CLIENT_EINVAL;
    int64_t ts = (int64_t)time(NULL);
    char sig[WEBHOOK_SIG_SIZE], delivery[33];
    webhook_sign(e->secret, strlen(e->secret), ts, body, len, sig);
    webhooks_random_id(delivery);
    char h_ts[64], h_sig[128], h_id[128], h_del[96];
    snprintf(h_ts, sizeof h_ts, WEBHOOK_HDR_TIMESTAMP ": %lld", (long long)ts);
    snprintf(h_sig, sizeof h_sig, WEBHOOK_HDR_SIGNATURE ": %s", sig);
    snprintf(h_id, sizeof h_id, WEBHOOK_HDR_ID ": %s", e->id);
    snprintf(h_del, sizeof h_del, WEBHOOK_HDR_DELIVERY ": %s", delivery);
    const char *headers[] = {"Content-Type: application/json", h_ts, h_sig, h_id, h_del};
    http_client_request_t req = {
        .method = "POST",
        .url = e->url,
        .headers = headers,
        .nheaders = 5,
        .body = body,
        .body_len = len,
        .timeout_ms = e->timeout_ms,
    };
    send_t *s = xmalloc(sizeof *s);
    *s = (send_t){wh, cb, ud};
    wh->refs++;
    int rc = http_client_request(wh->http, &req, on_sent, s, id);
    free(body);
    if (rc < 0) {
        wh->refs--;
        free(s);
        return rc;
    }
    return 0;
}

/* The next thing ep does, unless it is doing something or waiting. */
static void step(wh_ep_t *ep)
{
    webhooks_t *wh = ep->wh;
    if (ep->busy || ep->gone || wh->closing || !wh->bus) return;
    uint64_t now = uv_now(wh->loop);
    char count[16];
    snprintf(count, sizeof count, "%u", ep->cfg.batch_max);
    const char *key = wh->events_key.data;
    if (!ep->group_ok) {
        const char *argv[] = {"XGROUP", "CREATE", key, ep->group, "$", "MKSTREAM"};
        ep_command(ep, key, wh->events_key.len, 6, argv, NULL, on_group);
        return;
    }
    if (ep->nids) {
        if (json_array_size(ep->events) == 0) {
            ack(ep);
            return;
        }
        if (ep->retrying && ep->due > now) {
            /* waiting: keep the entries ours (their idle time below the claim bound) */
            if (now - ep->touched >= wh->o.claim_idle_ms / 3) {
                const char *head[] = {"XCLAIM", key, ep->group, wh->o.consumer, "0"};
                ep_ids_command(ep, head, 5, 1, on_touched);
            }
            return;
        }
        if (ep->retrying && ep->first_loop && now - ep->first_loop >= wh->o.give_up_ms) {
            dead_letter(ep);
            return;
        }
        if (ep->attempts && now - ep->touched >= wh->o.claim_idle_ms / 3) {
            const char *head[] = {"XCLAIM", key, ep->group, wh->o.consumer, "0"};
            ep_ids_command(ep, head, 5, 1, on_touched);
            return;
        }
        ep->retrying = 0;
        attempt(ep);
        return;
    }
    if (ep->due > now && !ep->woken) return;
    if (!ep->own_done) {
        const char *argv[] = {"XREADGROUP", "GROUP", ep->group, wh->o.consumer, "COUNT", count,
                              "STREAMS",    key,     "0"};
        ep_command(ep, key, wh->events_key.len, 9, argv, NULL, on_read);
        return;
    }
    if (now - ep->claimed_at >= wh->o.claim_idle_ms / 4 || ep->claimed_at == 0) {
        ep->claimed_at = now;
        char idle[24];
        snprintf(idle, sizeof idle, "%llu", (unsigned long long)wh->o.claim_idle_ms);
        const char *argv[] = {"XAUTOCLAIM",     key,     ep->group, wh->o.consumer, idle,
                              ep->claim_cursor, "COUNT", count};
        ep_command(ep, key, wh->events_key.len, 8, argv, NULL, on_autoclaim);
        return;
    }
    const char *argv[] = {"XREADGROUP", "GROUP", ep->group, wh->o.consumer, "COUNT", count,
                          "STREAMS",    key,     ">"};
    ep->woken = 0; /* this read sees every event added before it */
    ep_command(ep, key, wh->events_key.len, 9, argv, NULL, on_read);
}

/* ---- the endpoints' hash ---- */

static void on_hash(void *ud, int status, const redisReply *r)
{
    webhooks_t *wh = ud;
    wh->refreshing = 0;
    if (!wh->closing && status == 0 && r && r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0) {
        /* mark the hash's endpoints, add and replace, then drop the unmarked */
        for (wh_ep_t *ep = wh->eps; ep; ep = ep->next) ep->mark = !ep->from_file;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const redisReply *k = r->element[i], *v = r->element[i + 1];
            if (!k || !v || k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            char id[WEBHOOK_ID_MAX + 1];
            if (webhook_id_valid(k->str, k->len) < 0) continue;
            memcpy(id, k->str, k->len);
            id[k->len] = '\0';
            wh_ep_t *ep = ep_find(wh, id);
            if (ep && ep->from_file) continue; /* the file's wins */
            if (ep && ep->doc && strlen(ep->doc) == v->len &&
                memcmp(ep->doc, v->str, v->len) == 0) {
                ep->mark = 0;
                continue;
            }
            webhook_endpoint_t cfg;
            char err[200];
            if (webhook_endpoint_parse_text(v->str, v->len, &cfg, err, sizeof err) < 0 ||
                strcmp(cfg.id, id) != 0) {
                if (!ep || ep->mark)
                    log_warn("webhook endpoint skipped", "id=%s error=\"%s\"", id, err);
                webhook_endpoint_free(&cfg);
                continue;
            }
            char *doc = xstrndup(v->str, v->len);
            if (ep) { /* changed: the new settings from the next attempt on */
                webhook_endpoint_free(&ep->cfg);
                ep->cfg = cfg;
                free(ep->doc);
                ep->doc = doc;
                ep->mark = 0;
            } else {
                ep_add(wh, &cfg, doc, 0);
                free(doc);
                log_info("webhook endpoint added", "id=%s", id);
            }
        }
        for (wh_ep_t *ep = wh->eps, *next; ep; ep = next) {
            next = ep->next;
            if (ep->mark) {
                log_info("webhook endpoint removed", "id=%s", ep->cfg.id);
                ep_remove(ep);
            }
        }
    }
    wh_unref(wh);
}

static void refresh(webhooks_t *wh)
{
    if (wh->refreshing || wh->closing || !wh->bus) return;
    const char *argv[] = {"HGETALL", wh->endpoints_key.data};
    size_t lens[] = {7, wh->endpoints_key.len};
    wh->refs++;
    wh->refreshing = 1;
    if (bus_command_key(wh->bus, wh->endpoints_key.data, wh->endpoints_key.len, 2, argv, lens,
                        on_hash, wh) < 0) {
        wh->refs--;
        wh->refreshing = 0;
    }
}

void webhooks_wake(webhooks_t *wh)
{
    if (!wh || wh->closing || !wh->bus) return;
    uint64_t now = uv_now(wh->loop);
    for (wh_ep_t *ep = wh->eps, *next; ep; ep = next) {
        ep->refs++;
        if (!ep->busy && !ep->gone && !ep->nids && ep->group_ok && ep->own_done) {
            ep->due = now;
            step(ep);
        } else {
            ep->woken = 1; /* read again once the work under way is done */
        }
        next = ep->next;
        ep_unref(ep);
    }
}

void webhooks_refresh(webhooks_t *wh)
{
    if (!wh) return;
    wh->next_refresh = 0;
    refresh(wh);
}

static void on_tick(uv_timer_t *t)
{
    webhooks_t *wh = t->data;
    wh->armed = 0;
    uint64_t now = uv_now(wh->loop);
    if (!wh->bus || bus_state(wh->bus, BUS_CONN_CMD) != BUS_CONNECTED) {
        arm_at(wh, now + wh->o.poll_ms);
        return;
    }
    if (now >= wh->next_refresh) {
        wh->next_refresh = now + wh->o.refresh_ms;
        refresh(wh);
    }
    for (wh_ep_t *ep = wh->eps, *next; ep; ep = next) {
        ep->refs++;
        step(ep);
        next = ep->next;
        ep_unref(ep);
    }
    /* the next time anything is due: a reading of the hash, a step, a batch's XCLAIM */
    uint64_t at = wh->next_refresh;
    for (wh_ep_t *ep = wh->eps; ep; ep = ep->next) {
        if (ep->busy) continue;
        uint64_t when = ep->due;
        if (ep->retrying && ep->touched + wh->o.claim_idle_ms / 3 < when)
            when = ep->touched + wh->o.claim_idle_ms / 3;
        if (when < at) at = when;
    }
    arm_at(wh, at);
}

/* ---- the file ---- */

static int load_file(webhooks_t *wh, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
        return -1;
    }
    if (!json_is_array(doc) || json_array_size(doc) > WH_MAX_FILE) {
        snprintf(err, errlen, "%s: must be a JSON array of at most %d endpoints", path,
                 WH_MAX_FILE);
        json_decref(doc);
        return -1;
    }
    wh->file = xcalloc(json_array_size(doc) + 1, sizeof *wh->file);
    size_t i;
    json_t *v;
    json_array_foreach(doc, i, v)
    {
        char why[200];
        webhook_endpoint_t *e = &wh->file[wh->nfile];
        if (webhook_endpoint_parse(v, e, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: endpoint %zu: %s", path, i + 1, why);
            json_decref(doc);
            return -1;
        }
        wh->nfile++;
        if (!e->id[0]) {
            snprintf(err, errlen, "%s: endpoint %zu: a file endpoint needs an id", path, i + 1);
            json_decref(doc);
            return -1;
        }
        for (size_t k = 0; k + 1 < wh->nfile; k++)
            if (strcmp(wh->file[k].id, e->id) == 0) {
                snprintf(err, errlen, "%s: endpoint id %s is there twice", path, e->id);
                json_decref(doc);
                return -1;
            }
    }
    json_decref(doc);
    return 0;
}

webhooks_t *webhooks_start(uv_loop_t *loop, struct bus *bus, const webhooks_options_t *o, char *err,
                           size_t errlen)
{
    webhooks_t *wh = xcalloc(1, sizeof *wh);
    wh->loop = loop;
    wh->bus = bus;
    wh->o = *o;
    wh->refs = 1;
    webhook_key_endpoints(&wh->endpoints_key, o->prefix);
    webhook_key_dead(&wh->dead_key, o->prefix);
    cluster_event_key(&wh->events_key, o->prefix);
    if (o->file && o->file[0] && load_file(wh, o->file, err, errlen) < 0) {
        wh_unref(wh);
        return NULL;
    }
    http_client_options_t ho;
    http_client_options_init(&ho);
    ho.max_body_bytes = 64 * 1024; /* a receiver's answer is only looked at for its status */
    ho.max_header_bytes = 32 * 1024;
    wh->http = http_client_new(loop, &ho);
    if (!wh->http) {
        snprintf(err, errlen, "the HTTP client cannot start");
        wh_unref(wh);
        return NULL;
    }
    wh->refs++; /* the client's, until it is closed */
    uv_timer_init(loop, &wh->timer);
    wh->timer.data = wh;
    wh->refs++; /* the timer's, until it is closed */
    for (size_t i = 0; i < wh->nfile; i++) {
        webhook_endpoint_t copy = wh->file[i];
        copy.url = xstrdup(copy.url);
        copy.secret = xstrdup(copy.secret);
        ep_add(wh, &copy, NULL, 1);
        if (copy.timeout_ms >= o->claim_idle_ms / 3)
            log_warn("a webhook timeout near --webhooks-claim-idle-ms",
                     "endpoint=%s detail=\"another adminnode may take its batch while it "
                     "waits\"",
                     wh->file[i].id);
    }
    arm_at(wh, uv_now(loop));
    return wh;
}

static void on_timer_closed(uv_handle_t *h)
{
    wh_unref(h->data);
}

static void on_http_closed(void *ud)
{
    wh_unref(ud);
}

void webhooks_stop(webhooks_t *wh)
{
    if (!wh || wh->closing) return;
    wh->closing = 1;
    uv_close((uv_handle_t *)&wh->timer, on_timer_closed);
    while (wh->eps) ep_remove(wh->eps);
    http_client_t *c = wh->http;
    wh->http = NULL;
    wh->bus = NULL;
    /* the client's reference, when it will not be closed through on_http_closed */
    if (c && http_client_close(c, on_http_closed, wh) < 0) wh->refs--;
    wh_unref(wh); /* the owner's */
}

struct bus *webhooks_bus(const webhooks_t *wh)
{
    return wh && !wh->closing ? wh->bus : NULL;
}

const webhooks_options_t *webhooks_options(const webhooks_t *wh)
{
    return &wh->o;
}

const webhook_endpoint_t *webhooks_file_endpoint(const webhooks_t *wh, const char *id)
{
    for (size_t i = 0; wh && i < wh->nfile; i++)
        if (strcmp(wh->file[i].id, id) == 0) return &wh->file[i];
    return NULL;
}

const webhook_endpoint_t *webhooks_file_endpoints(const webhooks_t *wh, size_t *n)
{
    *n = wh ? wh->nfile : 0;
    return wh ? wh->file : NULL;
}

const webhook_endpoint_t *webhooks_endpoint(const webhooks_t *wh, const char *id)
{
    const wh_ep_t *ep = wh ? ep_find(wh, id) : NULL;
    return ep ? &ep->cfg : NULL;
}

static uint64_t oldest_s(const webhooks_t *wh, const wh_ep_t *ep)
{
    (void)wh;
    if (!ep->nids || !ep->oldest_ts) return 0;
    uint64_t now = wall_ms();
    return now > (uint64_t)ep->oldest_ts ? (now - (uint64_t)ep->oldest_ts) / 1000 : 0;
}

json_t *webhooks_stats_json(const webhooks_t *wh, const char *id)
{
    const wh_ep_t *ep = wh ? ep_find(wh, id) : NULL;
    if (!ep)
        return json_pack("{s:i,s:i,s:i,s:b,s:i,s:i}", "delivered", 0, "failed", 0, "dead", 0,
                         "retrying", 0, "oldest_pending_s", 0, "pending", 0);
    json_t *s = json_pack(
        "{s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I}", "delivered", (json_int_t)ep->delivered, "failed",
        (json_int_t)ep->failed, "dead", (json_int_t)ep->dead, "retrying", ep->retrying,
        "oldest_pending_s", (json_int_t)oldest_s(wh, ep), "pending",
        (json_int_t)json_array_size(ep->events), "attempts", (json_int_t)ep->attempts,
        "latency_ms_avg", (json_int_t)(ep->batches ? ep->latency_us_sum / ep->batches / 1000 : 0));
    if (s && ep->last_error[0]) {
        json_t *e = json_string(ep->last_error);
        if (e) json_object_set_new(s, "last_error", e);
    }
    return s;
}

void webhooks_metrics(const webhooks_t *wh, sbuf_t *out)
{
    if (!wh) return;
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"chatcluster_webhook_delivered_total", "counter", "Events delivered (answered 2xx)."},
        {"chatcluster_webhook_failed_total", "counter", "Delivery attempts that failed."},
        {"chatcluster_webhook_retrying", "gauge", "Batches waiting for a retry."},
        {"chatcluster_webhook_oldest_pending_seconds", "gauge",
         "Age of the oldest event of the batch under way."},
        {"chatcluster_webhook_dead_total", "counter", "Batches given up (dead-lettered)."},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        prom_family(out, m[k].name, m[k].type, m[k].help);
        for (const wh_ep_t *ep = wh->eps; ep; ep = ep->next) {
            unsigned long long v = k == 0   ? ep->delivered
                                   : k == 1 ? ep->failed
                                   : k == 2 ? (unsigned long long)ep->retrying
                                   : k == 3 ? oldest_s(wh, ep)
                                            : ep->dead;
            prom_value1(out, m[k].name, "endpoint", ep->cfg.id, v);
        }
    }
    prom_family(out, "chatcluster_webhook_latency_seconds", "summary",
                "Time from a delivery's request to its 2xx answer.");
    for (const wh_ep_t *ep = wh->eps; ep; ep = ep->next) {
        sbuf_append_str(out, "chatcluster_webhook_latency_seconds_sum{");
        prom_label(out, "endpoint", ep->cfg.id, strlen(ep->cfg.id));
        sbuf_printf(out, "} %.6f\n", (double)ep->latency_us_sum / 1e6);
        prom_value1(out, "chatcluster_webhook_latency_seconds_count", "endpoint", ep->cfg.id,
                    ep->batches);
    }
}
