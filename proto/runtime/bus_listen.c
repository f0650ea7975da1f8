/* Channel listeners on the bus (see bus_listen.h). Each channel or pattern has one entry with
 * its listeners in the order added. A listener removed during a dispatch is only marked (fn
 * NULL), and swept once no dispatch runs, so the dispatch loop never reads freed memory. */
#include "bus_listen.h"
#include "alloc.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    bus_listen_cb fn; /* NULL: removed, waiting for the sweep */
    void *ud;
} listener_t;

typedef struct {
    listener_t *v;
    size_t n, cap;
    size_t live; /* listeners with fn set */
    size_t len;
    char name[];
} entry_t;

struct bus_listen {
    bus_t *bus;
    strmap_t channels, patterns; /* name -> entry_t */
    unsigned depth;              /* dispatches running */
    int dirty;                   /* some listener waits for the sweep */
};

bus_listen_t *bus_listen_new(bus_t *bus)
{
    bus_listen_t *l = xcalloc(1, sizeof *l);
    l->bus = bus;
    return l;
}

static void free_map(strmap_t *m)
{
    void *v;
    for (size_t i = 0; strmap_next(m, &i, NULL, NULL, &v);) {
        free(((entry_t *)v)->v);
        free(v);
    }
    strmap_free(m);
}

void bus_listen_free(bus_listen_t *l)
{
    if (!l) return;
    free_map(&l->channels);
    free_map(&l->patterns);
    free(l);
}

enum { KIND_CHANNEL, KIND_PATTERN, KIND_SHARD };

static int subscribe(bus_listen_t *l, int kind, const char *name, size_t len, int on)
{
    switch (kind) {
    case KIND_PATTERN:
        return on ? bus_psubscribe(l->bus, name, len) : bus_punsubscribe(l->bus, name, len);
    case KIND_SHARD:
        return on ? bus_ssubscribe(l->bus, name, len) : bus_sunsubscribe(l->bus, name, len);
    default: return on ? bus_subscribe(l->bus, name, len) : bus_unsubscribe(l->bus, name, len);
    }
}

static int add(bus_listen_t *l, strmap_t *m, int kind, const char *name, size_t len,
               bus_listen_cb fn, void *ud)
{
    if (!fn) return BUS_EINVAL;
    entry_t *e = strmap_get(m, name, len);
    if (e) {
        for (size_t i = 0; i < e->n; i++)
            if (e->v[i].fn == fn && e->v[i].ud == ud) return 0;
    }
    if (!e || e->live == 0) {
        int rc = subscribe(l, kind, name, len, 1);
        if (rc < 0) return rc;
    }
    if (!e) {
        e = xcalloc(1, sizeof *e + len);
        e->len = len;
        memcpy(e->name, name, len);
        strmap_put(m, e->name, e->len, e);
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 2;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n++] = (listener_t){fn, ud};
    e->live++;
    return 0;
}

/* Drops the removed listeners of e, and e itself when none is left. */
static void sweep_entry(strmap_t *m, entry_t *e)
{
    size_t k = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->v[i].fn) e->v[k++] = e->v[i];
    e->n = k;
    if (k == 0) {
        strmap_del(m, e->name, e->len);
        free(e->v);
        free(e);
    }
}

static int del(bus_listen_t *l, strmap_t *m, int kind, const char *name, size_t len,
               bus_listen_cb fn, void *ud)
{
    entry_t *e = strmap_get(m, name, len);
    if (!e) return 0;
    size_t i = 0;
    while (i < e->n && !(e->v[i].fn == fn && e->v[i].ud == ud && fn)) i++;
    if (i == e->n) return 0;
    e->v[i].fn = NULL;
    int rc = 0;
    if (--e->live == 0) rc = subscribe(l, kind, name, len, 0);
    if (l->depth)
        l->dirty = 1;
    else
        sweep_entry(m, e);
    return rc;
}

int bus_listen_add(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud)
{
    return add(l, &l->channels, KIND_CHANNEL, channel, len, fn, ud);
}

int bus_listen_remove(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud)
{
    return del(l, &l->channels, KIND_CHANNEL, channel, len, fn, ud);
}

int bus_listen_sadd(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud)
{
    return add(l, &l->channels, KIND_SHARD, channel, len, fn, ud);
}

int bus_listen_sremove(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud)
{
    return del(l, &l->channels, KIND_SHARD, channel, len, fn, ud);
}

int bus_listen_padd(bus_listen_t *l, const char *pattern, size_t len, bus_listen_cb fn, void *ud)
{
    return add(l, &l->patterns, KIND_PATTERN, pattern, len, fn, ud);
}

int bus_listen_premove(bus_listen_t *l, const char *pattern, size_t len, bus_listen_cb fn, void *ud)
{
    return del(l, &l->patterns, KIND_PATTERN, pattern, len, fn, ud);
}

static void sweep(strmap_t *m)
{
    void *v;
    for (size_t i = 0; strmap_next(m, &i, NULL, NULL, &v);) {
        entry_t *e = v;
        if (e->live != e->n) sweep_entry(m, e);
    }
}

size_t bus_listen_dispatch(bus_listen_t *l, const char *channel, size_t len, const char *pattern,
                           const char *payload, size_t plen)
{
    entry_t *e = pattern ? strmap_get(&l->patterns, pattern, strlen(pattern))
                         : strmap_get(&l->channels, channel, len);
    if (!e) return 0;
    size_t called = 0, n = e->n; /* listeners added meanwhile wait for the next message */
    l->depth++;
    for (size_t i = 0; i < n; i++) {
        listener_t it = e->v[i]; /* e->v may move when a listener adds another */
        if (!it.fn) continue;
        it.fn(it.ud, channel, len, payload, plen);
        called++;
    }
    if (--l->depth == 0 && l->dirty) {
        l->dirty = 0;
        sweep(&l->channels);
        sweep(&l->patterns);
    }
    return called;
}
