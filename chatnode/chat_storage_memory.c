/* The chat's in-memory storage backend (see chat_storage.h), for a node running alone: the
 * streams Redis would hold, kept in this process with the same contract and lost on restart.
 * Both tables are bounded: the least recently written stream and the oldest dedupe entry go
 * first. */
#include "alloc.h"
#include "chat_storage.h"
#include "strmap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mem_stream {
    struct mem_stream *prev, *next; /* in the lru list, least recently written first */
    json_t *entries;                /* [[id, from, name, text, to]...], oldest first */
    uint64_t last_ms;               /* when its last message was stored */
    size_t len;
    char key[];
} mem_stream_t;

typedef struct mem_id {
    struct mem_id *next; /* in the ids list, oldest first */
    uint64_t at_ms;
    char id[48];
    size_t len;
    char key[];
} mem_id_t;

typedef struct {
    chat_storage_t ops; /* first: the interface's pointer is this struct's */
    chat_storage_limits_t limits;
    strmap_t streams; /* stream key -> mem_stream_t */
    strmap_t dedupe;  /* dedupe key -> mem_id_t */
    mem_stream_t *lru_head, *lru_tail;
    mem_id_t *ids_head, *ids_tail;
    uint64_t last_ms; /* of the newest id given, and its sequence number within that ms */
    uint32_t seq;
} memory_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t id_ttl_ms(const memory_t *mem)
{
    uint64_t ttl = (uint64_t)mem->limits.ttl;
    return (ttl < 86400 ? ttl : 86400) * 1000;
}

static void stream_unlink(memory_t *mem, mem_stream_t *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        mem->lru_head = st->next;
    if (st->next)
        st->next->prev = st->prev;
    else
        mem->lru_tail = st->prev;
    st->prev = st->next = NULL;
}

static void stream_append(memory_t *mem, mem_stream_t *st)
{
    st->prev = mem->lru_tail;
    st->next = NULL;
    if (mem->lru_tail)
        mem->lru_tail->next = st;
    else
        mem->lru_head = st;
    mem->lru_tail = st;
}

static void stream_drop(memory_t *mem, mem_stream_t *st)
{
    stream_unlink(mem, st);
    strmap_del(&mem->streams, st->key, st->len);
    json_decref(st->entries);
    free(st);
}

static void id_drop_oldest(memory_t *mem)
{
    mem_id_t *d = mem->ids_head;
    mem->ids_head = d->next;
    if (!mem->ids_head) mem->ids_tail = NULL;
    strmap_del(&mem->dedupe, d->key, d->len);
    free(d);
}

/* Drops what is past its age or over the bounds. */
static void prune_at(memory_t *mem, uint64_t now)
{
    uint64_t ttl = (uint64_t)mem->limits.ttl * 1000, id_ttl = id_ttl_ms(mem);
    while (mem->lru_head && (mem->streams.count > CHAT_STORAGE_MEMORY_STREAMS ||
                             now - mem->lru_head->last_ms >= ttl))
        stream_drop(mem, mem->lru_head);
    while (mem->ids_head &&
           (mem->dedupe.count > CHAT_STORAGE_MEMORY_IDS || now - mem->ids_head->at_ms >= id_ttl))
        id_drop_oldest(mem);
}

static mem_stream_t *stream_find(memory_t *mem, const char *key, size_t len)
{
    mem_stream_t *st = strmap_get(&mem->streams, key, len);
    if (st && now_ms() - st->last_ms >= (uint64_t)mem->limits.ttl * 1000) {
        stream_drop(mem, st); /* expired: the sweep has not come by yet */
        st = NULL;
    }
    return st;
}

static json_t *entry_message(json_t *e, const char *room);

/* The message stored under id in stream, or NULL when the stream no longer has it. */
static json_t *stored_message(memory_t *mem, const char *stream, size_t len, const char *id)
{
    mem_stream_t *st = stream_find(mem, stream, len);
    size_t i;
    json_t *e;
    if (st) json_array_foreach(st->entries, i, e)
        {
            if (strcmp(json_string_value(json_array_get(e, 0)), id) == 0)
                return entry_message(e, NULL);
        }
    return NULL;
}

static int memory_store(chat_storage_t *ops, const chat_storage_msg_t *m, chat_storage_stored_cb cb,
                        void *ud)
{
    memory_t *mem = (memory_t *)ops;
    uint64_t ms = now_ms();
    prune_at(mem, ms);
    mem_id_t *seen = m->dedupe ? strmap_get(&mem->dedupe, m->dedupe, m->dedupe_len) : NULL;
    if (seen) {
        json_t *stored = stored_message(mem, m->stream, m->stream_len, seen->id);
        cb(ud, seen->id, 0, 1, stored);
        json_decref(stored);
        return 0;
    }
    if (ms <= mem->last_ms)
        ms = mem->last_ms, mem->seq++;
    else
        mem->last_ms = ms, mem->seq = 0;
    char id[48];
    snprintf(id, sizeof id, "%llu-%u", (unsigned long long)ms, mem->seq);
    json_t *entry = json_pack("[s,s%,s%,s%,s%]", id, m->from, m->from_len, m->name, m->name_len,
                              m->text, m->text_len, m->to ? m->to : "", m->to ? m->to_len : 0);
    if (!entry) return CHAT_STORAGE_EENCODE; /* never store half a message */
    mem_stream_t *str = stream_find(mem, m->stream, m->stream_len);
    if (!str) {
        str = xcalloc(1, sizeof *str + m->stream_len);
        str->entries = json_array();
        str->len = m->stream_len;
        memcpy(str->key, m->stream, m->stream_len);
        strmap_put(&mem->streams, str->key, str->len, str);
    } else {
        stream_unlink(mem, str);
    }
    str->last_ms = now_ms();
    stream_append(mem, str);
    json_array_append_new(str->entries, entry);
    while (json_array_size(str->entries) > (size_t)mem->limits.size)
        json_array_remove(str->entries, 0);
    if (m->dedupe) {
        mem_id_t *d = xcalloc(1, sizeof *d + m->dedupe_len);
        snprintf(d->id, sizeof d->id, "%s", id);
        d->at_ms = str->last_ms;
        d->len = m->dedupe_len;
        memcpy(d->key, m->dedupe, m->dedupe_len);
        strmap_put(&mem->dedupe, d->key, d->len, d);
        if (mem->ids_tail)
            mem->ids_tail->next = d;
        else
            mem->ids_head = d;
        mem->ids_tail = d;
    }
    prune_at(mem, str->last_ms);
    cb(ud, id, 1, 1, NULL);
    return 0;
}

/* Stream ids compare as (ms, seq). */
static int id_before(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0,
                       bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    return am < bm || (am == bm && as < bs);
}

/* An entry as the message clients see (what chat_store_message makes of a stream entry). */
static json_t *entry_message(json_t *e, const char *room)
{
    const char *id = json_string_value(json_array_get(e, 0));
    json_t *m = json_pack("{s:s,s:I,s:{s:O,s:O},s:O}", "id", id, "ts",
                          (json_int_t)strtoll(id, NULL, 10), "from", "id", json_array_get(e, 1),
                          "name", json_array_get(e, 2), "text", json_array_get(e, 3));
    if (m && room) json_object_set_new(m, "room", json_string(room));
    if (m && json_string_length(json_array_get(e, 4)))
        json_object_set(m, "to", json_array_get(e, 4));
    return m;
}

static int memory_page(chat_storage_t *ops, const char *stream, size_t stream_len, const char *room,
                       const char *before, long limit, chat_storage_page_cb cb, void *ud)
{
    memory_t *mem = (memory_t *)ops;
    mem_stream_t *st = stream_find(mem, stream, stream_len);
    json_t *out = json_array();
    if (st) {
        size_t n = json_array_size(st->entries), end = n;
        if (before)
            while (end > 0 && !id_before(json_string_value(json_array_get(
                                             json_array_get(st->entries, end - 1), 0)),
                                         before))
                end--;
        size_t start = end > (size_t)limit ? end - (size_t)limit : 0;
        for (size_t i = start; i < end; i++) {
            json_t *m = entry_message(json_array_get(st->entries, i), room);
            if (m) json_array_append_new(out, m);
        }
    }
    cb(ud, out);
    json_decref(out);
    return 0;
}

static void memory_prune(chat_storage_t *ops)
{
    prune_at((memory_t *)ops, now_ms());
}

static void memory_free(chat_storage_t *ops)
{
    memory_t *mem = (memory_t *)ops;
    void *v;
    for (size_t i = 0; strmap_next(&mem->streams, &i, NULL, NULL, &v);) {
        json_decref(((mem_stream_t *)v)->entries);
        free(v);
    }
    strmap_free(&mem->streams);
    for (size_t i = 0; strmap_next(&mem->dedupe, &i, NULL, NULL, &v);) free(v);
    strmap_free(&mem->dedupe);
    free(mem);
}

chat_storage_t *chat_storage_memory_new(const chat_storage_limits_t *limits)
{
    memory_t *mem = xcalloc(1, sizeof *mem);
    mem->ops = (chat_storage_t){
        .store = memory_store, .page = memory_page, .prune = memory_prune, .free = memory_free};
    mem->limits = *limits;
    return &mem->ops;
}
