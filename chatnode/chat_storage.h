/* Where the chat keeps its messages: one interface, two backends chosen once at start. With
 * --redis, one Redis stream per room or conversation (the layout, store script and message
 * document of chat_store.h); running alone, the same streams in memory, capped and expired
 * the same way. Either way a message is stored once per client-chosen id (a retry gets the
 * first id back), a stream keeps about --history-size messages and expires --history-ttl
 * after its last one, and a history page lists messages oldest first as chat_store_message()
 * writes them. */
#ifndef CC_CHAT_STORAGE_H
#define CC_CHAT_STORAGE_H

#include "sio.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A message to store. Every pointer is borrowed for the call. */
typedef struct {
    const char *stream; /* its stream's key (chat_key_room or chat_key_dm) */
    const char *dedupe; /* the dedupe key of its client id (chat_key_dedupe), or NULL */
    size_t stream_len, dedupe_len;
    const char *from, *name, *text, *to; /* to: the recipient's id, NULL for a room message */
    size_t from_len, name_len, text_len, to_len;
} chat_storage_msg_t;

/* A message is stored under id (borrowed for the call): fresh 1 when stored now, 0 when it
 * was stored before under the same client id, then stored is that message as kept ({id, ts,
 * from: {id, name}, text, to?}, borrowed for the call; NULL when no longer kept, and always
 * NULL when fresh); id NULL when it could not be stored. confirmed
 * is 1, or 0 when the message is on the Redis primary but fewer replicas than asked
 * acknowledged it in time (chat_storage_replicas_t): it may yet be lost with the primary, so
 * the sender must not be told it is stored; its retry under the same client id gets id
 * back (fresh 0), confirmed once the replicas have caught up. */
typedef void (*chat_storage_stored_cb)(void *ud, const char *id, int fresh, int confirmed,
                                       json_t *stored);

/* A history page: messages (a JSON array, borrowed for the call, oldest first), or NULL when
 * the storage could not be read. */
typedef void (*chat_storage_page_cb)(void *ud, json_t *messages);

/* Errors of the calls below (negative); when a call fails, its callback never fires. */
#define CHAT_STORAGE_EUNAVAILABLE (-1) /* the storage cannot be reached now: try again */
#define CHAT_STORAGE_EENCODE      (-2) /* the message cannot be encoded */

typedef struct chat_storage chat_storage_t;

struct chat_storage {
    /* Stores m (see above). Returns 0, and then cb runs exactly once, perhaps before store
     * returns; or a CHAT_STORAGE_E* code. */
    int (*store)(chat_storage_t *st, const chat_storage_msg_t *m, chat_storage_stored_cb cb,
                 void *ud);
    /* Reads up to limit of the newest messages of stream before the stream id before
     * (exclusive; NULL: the newest), each with room set to room (NULL: none). Returns 0, and
     * then cb runs exactly once, perhaps before page returns; or a CHAT_STORAGE_E* code. */
    int (*page)(chat_storage_t *st, const char *stream, size_t stream_len, const char *room,
                const char *before, long limit, chat_storage_page_cb cb, void *ud);
    /* Drops what is past its age (called every few seconds). */
    void (*prune)(chat_storage_t *st);
    /* Frees the storage; requests under way still get their callbacks. */
    void (*free)(chat_storage_t *st);
};

/* The limits both backends keep: --history-size and --history-ttl (seconds). */
typedef struct {
    long long size, ttl;
} chat_storage_limits_t;

/* --store-replicas and --store-replicas-timeout (ms): with count > 0 a message counts as
 * stored only once WAIT saw count replicas acknowledge it within timeout_ms. */
typedef struct {
    unsigned count;
    uint32_t timeout_ms;
} chat_storage_replicas_t;

/* The Redis backend, on the cluster attached to sio (cluster_of: looked up at each call, so
 * it may start after this; while there is none the calls fail with
 * CHAT_STORAGE_EUNAVAILABLE). Never fails. */
chat_storage_t *chat_storage_redis_new(sio_server_t *sio, const chat_storage_limits_t *limits,
                                       const chat_storage_replicas_t *replicas);

/* The in-memory backend, for a node running alone. Besides the limits above it keeps at most
 * CHAT_STORAGE_MEMORY_STREAMS streams (the least recently written go first) and
 * CHAT_STORAGE_MEMORY_IDS dedupe entries (the oldest go first); a dedupe entry lives a day,
 * or the ttl when that is shorter. Never fails. */
#define CHAT_STORAGE_MEMORY_STREAMS 10000
#define CHAT_STORAGE_MEMORY_IDS     100000
chat_storage_t *chat_storage_memory_new(const chat_storage_limits_t *limits);

#endif
