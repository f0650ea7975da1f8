/* Per-address session counts and handshake token buckets (see addr_limit.h). */
#include "addr_limit.h"
#include "alloc.h"

#include <stdlib.h>

/* Retry-After for an address at its session limit: sessions end at their own pace, so this is
 * only a hint to back off for a while. */
#define RETRY_SESSIONS_S 5

typedef struct {
    client_addr_t key;
    uint32_t sessions;
    double tokens; /* only with a rate */
    uint64_t last_ms;
} entry_t;

static int limits_on(const addr_limit_t *al)
{
    return al->max_sessions || al->rate;
}

static entry_t *find(const addr_limit_t *al, const client_addr_t *a)
{
    client_addr_t key;
    client_addr_limit_key(a, &key);
    return strmap_get(&al->map, (const char *)key.b, sizeof key.b);
}

static void refill(const addr_limit_t *al, entry_t *e, uint64_t now_ms)
{
    if (!al->rate) return;
    if (now_ms > e->last_ms) {
        e->tokens += (double)(now_ms - e->last_ms) * (double)al->rate / 1000.0;
        if (e->tokens > (double)al->burst) e->tokens = (double)al->burst;
    }
    e->last_ms = now_ms;
}

static int full(const addr_limit_t *al, const entry_t *e)
{
    return !al->rate || e->tokens >= (double)al->burst;
}

static void sweep(uv_timer_t *t);

static void became_idle(addr_limit_t *al)
{
    if (al->idle++ == 0) uv_timer_start(&al->sweep, sweep, al->sweep_ms, al->sweep_ms);
}

static void entry_free(addr_limit_t *al, entry_t *e)
{
    strmap_del(&al->map, (const char *)e->key.b, sizeof e->key.b);
    free(e);
}

/* A new entry, without sessions and with a full bucket: the caller takes a token or opens a
 * session at once. */
static entry_t *entry_new(addr_limit_t *al, const client_addr_t *a, uint64_t now_ms)
{
    entry_t *e = xcalloc(1, sizeof *e);
    client_addr_limit_key(a, &e->key);
    e->tokens = (double)al->burst;
    e->last_ms = now_ms;
    strmap_put(&al->map, (const char *)e->key.b, sizeof e->key.b, e);
    became_idle(al);
    return e;
}

static void sweep(uv_timer_t *t)
{
    addr_limit_t *al = t->data;
    uint64_t now = uv_now(t->loop);
    void *v;
    for (size_t i = 0; strmap_next(&al->map, &i, NULL, NULL, &v);) {
        entry_t *e = v;
        if (e->sessions) continue;
        refill(al, e, now);
        if (full(al, e)) {
            entry_free(al, e);
            al->idle--;
        }
    }
    if (al->idle == 0) uv_timer_stop(t);
}

int addr_limit_init(addr_limit_t *al, uv_loop_t *loop, long long max_sessions, long long rate,
                    long long burst)
{
    al->map = (strmap_t)STRMAP_INIT;
    al->max_sessions = max_sessions > 0 ? (uint64_t)max_sessions : 0;
    al->rate = rate > 0 ? (uint64_t)rate : 0;
    al->burst = burst > 0 ? (uint64_t)burst : 1;
    al->idle = 0;
    /* an idle entry's bucket is full again at most burst/rate after its last handshake */
    uint64_t refill_ms = al->rate ? (al->burst * 1000 + al->rate - 1) / al->rate : 0;
    al->sweep_ms = refill_ms < 250 ? 250 : refill_ms > 10000 ? 10000 : refill_ms;
    int rc = uv_timer_init(loop, &al->sweep);
    if (rc) return rc;
    al->sweep.data = al;
    return 0;
}

void addr_limit_close(addr_limit_t *al)
{
    void *v;
    for (size_t i = 0; strmap_next(&al->map, &i, NULL, NULL, &v);) free(v);
    strmap_free(&al->map);
    al->idle = 0;
    al->max_sessions = al->rate = 0; /* sessions closed from now on are not counted */
    uv_close((uv_handle_t *)&al->sweep, NULL);
}

addr_verdict_t addr_limit_admit(addr_limit_t *al, const client_addr_t *a, uint64_t now_ms,
                                unsigned *retry_after_s)
{
    if (!limits_on(al)) return ADDR_OK;
    entry_t *e = find(al, a);
    if (e) refill(al, e, now_ms);
    if (e && al->max_sessions && e->sessions >= al->max_sessions) {
        if (retry_after_s) *retry_after_s = RETRY_SESSIONS_S;
        return ADDR_TOO_MANY_SESSIONS;
    }
    if (!al->rate) return ADDR_OK;
    if (!e) e = entry_new(al, a, now_ms);
    if (e->tokens < 1.0) {
        if (retry_after_s) {
            double s = (1.0 - e->tokens) / (double)al->rate;
            unsigned r = (unsigned)s;
            if ((double)r < s) r++;
            *retry_after_s = r ? r : 1;
        }
        return ADDR_TOO_FAST;
    }
    e->tokens -= 1.0;
    return ADDR_OK;
}

void addr_limit_opened(addr_limit_t *al, const client_addr_t *a)
{
    if (!limits_on(al)) return;
    entry_t *e = find(al, a);
    if (!e) e = entry_new(al, a, uv_now(al->sweep.loop));
    if (e->sessions++ == 0) al->idle--;
}

void addr_limit_closed(addr_limit_t *al, const client_addr_t *a, uint64_t now_ms)
{
    if (!limits_on(al)) return;
    entry_t *e = find(al, a);
    if (!e || e->sessions == 0 || --e->sessions) return;
    refill(al, e, now_ms);
    if (full(al, e))
        entry_free(al, e);
    else
        became_idle(al);
}

uint64_t addr_limit_sessions(const addr_limit_t *al, const client_addr_t *a)
{
    entry_t *e = find(al, a);
    return e ? e->sessions : 0;
}

size_t addr_limit_count(const addr_limit_t *al)
{
    return al->map.count;
}
