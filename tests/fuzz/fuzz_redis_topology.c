/* libFuzzer driver: Redis Cluster topology replies (redis_cluster.c). The bytes, read as RESP
 * by hiredis's reader, go through both slot map parsers and, as text, the redirect parser. A
 * map that parses is consistent: every assigned slot names a shard whose primary is a valid
 * node, the counts agree, and shards are distinct; a refusal says why and leaves no map. A
 * redirect that parses prints back to the same redirect. */
#include "redis_cluster.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_node(const redis_cluster_node_t *n)
{
    size_t len = strlen(n->host);
    if (len == 0 || len > REDIS_CLUSTER_HOST_MAX || n->port < 1 || n->port > 65535 ||
        strlen(n->id) > REDIS_CLUSTER_ID_MAX || strpbrk(n->host, " []/@") ||
        n->health > REDIS_CLUSTER_HEALTH_FAIL)
        abort();
}

static void check_map(const redis_cluster_map_t *m)
{
    size_t n = redis_cluster_map_shard_count(m);
    if (n > REDIS_CLUSTER_SLOTS || redis_cluster_map_shard(m, n) != NULL) abort();
    unsigned assigned = 0;
    unsigned char *owns = calloc(n ? n : 1, 1);
    for (unsigned slot = 0; slot < REDIS_CLUSTER_SLOTS; slot++) {
        int i = redis_cluster_map_slot_shard(m, slot);
        const redis_cluster_node_t *p = redis_cluster_map_primary(m, slot);
        if (i < 0) {
            if (p) abort();
            continue;
        }
        if ((size_t)i >= n || p != &redis_cluster_map_shard(m, (size_t)i)->nodes[0]) abort();
        owns[i] = 1;
        assigned++;
    }
    if (assigned != redis_cluster_map_assigned(m)) abort();
    if (redis_cluster_map_slot_shard(m, REDIS_CLUSTER_SLOTS) != -1 ||
        redis_cluster_map_primary(m, REDIS_CLUSTER_SLOTS) != NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        const redis_cluster_shard_t *s = redis_cluster_map_shard(m, i);
        if (!owns[i] || !s || s->n_nodes < 1) abort(); /* every shard owns a slot */
        for (size_t j = 0; j < s->n_nodes; j++) check_node(&s->nodes[j]);
        for (size_t k = 0; k < i; k++) { /* primaries are distinct */
            const redis_cluster_node_t *a = &s->nodes[0];
            const redis_cluster_node_t *b = &redis_cluster_map_shard(m, k)->nodes[0];
            if (a->id[0] && b->id[0] ? strcmp(a->id, b->id) == 0
                                     : a->port == b->port && strcmp(a->host, b->host) == 0)
                abort();
        }
    }
    free(owns);
}

static void check_parser(int (*parse)(redis_cluster_map_t **, const struct redisReply *,
                                      const char *, char *, size_t),
                         const redisReply *r)
{
    const char *origins[] = {"origin.example", NULL};
    for (int o = 0; o < 2; o++) {
        char err[160];
        memset(err, 0, sizeof err);
        redis_cluster_map_t *m = NULL;
        int rc = parse(&m, r, origins[o], err, sizeof err);
        if (rc == 0) {
            if (!m) abort();
            check_map(m);
            redis_cluster_map_free(m);
        } else {
            if (m || !err[0] || err[sizeof err - 1]) abort();
            if (rc != REDIS_CLUSTER_EREPLY && rc != REDIS_CLUSTER_EERROR &&
                rc != REDIS_CLUSTER_EUNKNOWNCMD)
                abort();
            if ((rc != REDIS_CLUSTER_EREPLY) != (r->type == REDIS_REPLY_ERROR)) abort();
            if (parse(&m, r, origins[o], NULL, 0) != rc || m) abort();
        }
    }
}

static void check_redirect(const char *s, size_t len)
{
    redis_cluster_redirect_t d;
    redis_cluster_err_t kind = redis_cluster_error_kind(s, len);
    if (redis_cluster_redirect_parse(s, len, &d) != 0) {
        if (d.kind || d.port || d.slot || d.host[0]) abort();
        return;
    }
    if (d.kind != kind || (kind != REDIS_CLUSTER_ERR_MOVED && kind != REDIS_CLUSTER_ERR_ASK) ||
        d.slot >= REDIS_CLUSTER_SLOTS || d.port < 1 || d.port > 65535 ||
        strlen(d.host) > REDIS_CLUSTER_HOST_MAX || !redis_cluster_error_retryable(kind))
        abort();
    char back[REDIS_CLUSTER_HOST_MAX + 32];
    int n = snprintf(back, sizeof back, "%s %u %s:%d",
                     kind == REDIS_CLUSTER_ERR_MOVED ? "MOVED" : "ASK", d.slot, d.host, d.port);
    redis_cluster_redirect_t again;
    if (redis_cluster_redirect_parse(back, (size_t)n, &again) != 0 || again.kind != d.kind ||
        again.slot != d.slot || again.port != d.port || strcmp(again.host, d.host) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    /* the slot of any bytes: within range, and a tag's slot when a tag is present */
    unsigned slot = redis_cluster_slot(s, size);
    if (slot >= REDIS_CLUSTER_SLOTS) abort();
    const char *open = memchr(s, '{', size);
    const char *close = open ? memchr(open + 1, '}', size - (size_t)(open + 1 - s)) : NULL;
    if (close && close > open + 1 &&
        slot != redis_cluster_slot(open + 1, (size_t)(close - open - 1)))
        abort();

    /* the text as an error line, without the '-' and the CRLF */
    size_t line = 0;
    while (line < size && s[line] != '\r' && s[line] != '\n') line++;
    if (line && s[0] == '-') check_redirect(s + 1, line - 1);
    check_redirect(s, line);

    redisReader *rd = redisReaderCreate();
    if (redisReaderFeed(rd, s, size) == REDIS_OK) {
        void *reply;
        for (int i = 0; i < 16 && redisReaderGetReply(rd, &reply) == REDIS_OK && reply; i++) {
            const redisReply *r = reply;
            check_parser(redis_cluster_map_from_shards, r);
            check_parser(redis_cluster_map_from_slots, r);
            if (r->type == REDIS_REPLY_ERROR) check_redirect(r->str, r->len);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(rd);
    return 0;
}
