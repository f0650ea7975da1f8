/* The chat's Redis storage backend (see chat_storage.h): a message is stored by the EVAL of
 * chat_store.h (stream, cap, expiry and dedupe in one step, sent to the stream key's slot and
 * followed by WAIT when replicas are asked for), a history page is an XREVRANGE of the stream,
 * and Redis expires what is old by itself. */
#include "alloc.h"
#include "bus.h"
#include "chat_storage.h"
#include "chat_store.h"
#include "cluster.h"
#include "log.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    chat_storage_t ops; /* first: the interface's pointer is this struct's */
    chat_storage_limits_t limits;
    chat_storage_replicas_t replicas;
    sio_server_t *sio;
} redis_t;

/* A request under way: what its callback needs, owned by the request (the storage may be
 * freed before the reply comes). */
typedef struct {
    chat_storage_stored_cb stored;
    chat_storage_page_cb page;
    void *ud;
    char *room; /* for a page: the room its messages name, or NULL */
} request_t;

static void on_stored(void *ud, int status, const redisReply *r)
{
    request_t *q = ud;
    char id[64];
    /* BUS_EREPLICAS: the script ran on the primary (its reply is here), WAIT saw too few
     * replicas acknowledge it */
    int confirmed = status != BUS_EREPLICAS;
    const redisReply *entry = NULL;
    int fresh = status == 0 || !confirmed ? chat_store_reply(r, id, sizeof id, &entry) : -1;
    if (!confirmed)
        log_debug("chat message not acknowledged by the replicas in time", "stored=%d", fresh >= 0);
    json_t *stored = entry ? chat_store_message(entry, NULL) : NULL;
    q->stored(q->ud, fresh < 0 ? NULL : id, fresh < 0 ? 0 : fresh, confirmed, stored);
    json_decref(stored);
    free(q);
}

static int redis_store(chat_storage_t *ops, const chat_storage_msg_t *m, chat_storage_stored_cb cb,
                       void *ud)
{
    redis_t *rs = (redis_t *)ops;
    cluster_t *c = cluster_of(rs->sio);
    if (!c) return CHAT_STORAGE_EUNAVAILABLE;
    chat_store_msg_t msg = {
        .stream = m->stream,
        .stream_len = m->stream_len,
        .dedupe = m->dedupe,
        .dedupe_len = m->dedupe_len,
        .maxlen = rs->limits.size,
        .ttl = rs->limits.ttl,
        .from = m->from,
        .from_len = m->from_len,
        .name = m->name,
        .name_len = m->name_len,
        .text = m->text,
        .text_len = m->text_len,
        .to = m->to,
        .to_len = m->to_len,
    };
    chat_store_cmd_t cmd;
    chat_store_cmd(&cmd, &msg);
    request_t *q = xcalloc(1, sizeof *q);
    q->stored = cb;
    q->ud = ud;
    if (cluster_command_replicated(c, m->stream, m->stream_len, rs->replicas.count,
                                   rs->replicas.timeout_ms, CHAT_STORE_ARGC, cmd.argv, cmd.lens,
                                   on_stored, q) < 0) {
        free(q);
        return CHAT_STORAGE_EUNAVAILABLE;
    }
    return 0;
}

static void on_page(void *ud, int status, const redisReply *r)
{
    request_t *q = ud;
    json_t *messages =
        status == 0 && r && r->type == REDIS_REPLY_ARRAY ? chat_store_messages(r, q->room) : NULL;
    q->page(q->ud, messages);
    json_decref(messages);
    free(q->room);
    free(q);
}

static int redis_page(chat_storage_t *ops, const char *stream, size_t stream_len, const char *room,
                      const char *before, long limit, chat_storage_page_cb cb, void *ud)
{
    redis_t *rs = (redis_t *)ops;
    cluster_t *c = cluster_of(rs->sio);
    if (!c) return CHAT_STORAGE_EUNAVAILABLE;
    sbuf_t end = SBUF_INIT;
    char count[24];
    if (before)
        sbuf_printf(&end, "(%s", before);
    else
        sbuf_append_str(&end, "+");
    snprintf(count, sizeof count, "%ld", limit);
    const char *argv[] = {"XREVRANGE", stream, end.data, "-", "COUNT", count};
    size_t lens[] = {9, stream_len, end.len, 1, 5, strlen(count)};
    request_t *q = xcalloc(1, sizeof *q);
    q->page = cb;
    q->ud = ud;
    q->room = room ? xstrdup(room) : NULL;
    int rc = 0;
    if (cluster_command_key(c, stream, stream_len, 6, argv, lens, on_page, q) < 0) {
        free(q->room);
        free(q);
        rc = CHAT_STORAGE_EUNAVAILABLE;
    }
    sbuf_free(&end);
    return rc;
}

static void redis_prune(chat_storage_t *ops)
{
    (void)ops; /* Redis expires streams and dedupe keys itself */
}

static void redis_free(chat_storage_t *ops)
{
    free(ops);
}

chat_storage_t *chat_storage_redis_new(sio_server_t *sio, const chat_storage_limits_t *limits,
                                       const chat_storage_replicas_t *replicas)
{
    redis_t *rs = xcalloc(1, sizeof *rs);
    rs->ops = (chat_storage_t){
        .store = redis_store, .page = redis_page, .prune = redis_prune, .free = redis_free};
    rs->limits = *limits;
    rs->replicas = *replicas;
    rs->sio = sio;
    return &rs->ops;
}
