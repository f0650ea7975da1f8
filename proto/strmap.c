/* String-keyed hash map with linear probing and tombstones (see strmap.h). */
#include "strmap.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static const char TOMBSTONE[1];

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static strmap_slot_t *find(const strmap_t *m, const char *key, size_t klen, uint32_t h)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        strmap_slot_t *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != TOMBSTONE && s->hash == h && s->klen == klen &&
            memcmp(s->key, key, klen) == 0)
            return s;
    }
}

static void rehash(strmap_t *m, size_t cap)
{
    strmap_slot_t *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = xcalloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->used = m->count;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key || old[i].key == TOMBSTONE) continue;
        size_t j = old[i].hash & (cap - 1);
        while (m->slots[j].key) j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void *strmap_get(const strmap_t *m, const char *key, size_t klen)
{
    strmap_slot_t *s = find(m, key, klen, hash(key, klen));
    return s ? s->value : NULL;
}

void *strmap_put(strmap_t *m, const char *key, size_t klen, void *value)
{
    uint32_t h = hash(key, klen);
    strmap_slot_t *s = find(m, key, klen, h);
    if (s) {
        void *old = s->value;
        s->value = value;
        s->key = key;
        return old;
    }
    if ((m->used + 1) * 4 >= m->cap * 3) {
        size_t cap = m->cap ? m->cap : 8;
        while ((m->count + 1) * 2 >= cap) cap *= 2;
        rehash(m, cap);
    }
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE) i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i] = (strmap_slot_t){key, value, (uint32_t)klen, h};
    m->count++;
    return NULL;
}

void *strmap_del(strmap_t *m, const char *key, size_t klen)
{
    strmap_slot_t *s = find(m, key, klen, hash(key, klen));
    if (!s) return NULL;
    void *v = s->value;
    s->key = TOMBSTONE;
    s->value = NULL;
    m->count--;
    if (m->count == 0) {
        /* Reset so that a map that drained stops carrying tombstones. */
        memset(m->slots, 0, m->cap * sizeof *m->slots);
        m->used = 0;
    }
    return v;
}

void strmap_free(strmap_t *m)
{
    free(m->slots);
    *m = (strmap_t)STRMAP_INIT;
}

int strmap_next(const strmap_t *m, size_t *pos, const char **key, size_t *klen, void **value)
{
    for (size_t i = *pos; i < m->cap; i++) {
        const strmap_slot_t *s = &m->slots[i];
        if (!s->key || s->key == TOMBSTONE) continue;
        *pos = i + 1;
        if (key) *key = s->key;
        if (klen) *klen = s->klen;
        if (value) *value = s->value;
        return 1;
    }
    *pos = m->cap;
    return 0;
}
