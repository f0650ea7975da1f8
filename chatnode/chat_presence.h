/* Who is in a chat room, cluster-wide. This node counts its own sockets per room and user;
 * with --redis (shared presence) a user's arrival and departure on this node are written to
 * the room's presence hash in Redis under this node's uid, and this node's liveness key is
 * refreshed so that entries of a node gone silent are skipped, and removed, by the next read.
 * Running alone, a room's presence is this node's own sockets in it. */
#ifndef CC_CHAT_PRESENCE_H
#define CC_CHAT_PRESENCE_H

#include "chat_store.h"
#include "sio.h"
#include "strmap.h"

#include <jansson.h>
#include <stddef.h>

/* Records an event a presence change made (data borrowed). */
typedef void (*chat_presence_record_cb)(void *ud, cluster_event_type_t type, json_t *data);

typedef struct {
    sio_server_t *sio;
    const char *key_prefix; /* --redis-key (borrowed) */
    long long ttl;          /* --presence-ttl, seconds */
    int shared;             /* presence kept in Redis (the node runs in a cluster) */
    strmap_t local;         /* "<room>\n<user>" -> this node's count of user's sockets in room */
    strmap_t rooms;         /* room -> this node's count of users with an entry in it */
    chat_presence_record_cb record; /* the events of entries of dead nodes removed (may be NULL) */
    void *record_ud;
} chat_presence_t;

/* Sets p up; shared says whether presence lives in Redis, on the cluster attached to sio
 * (looked up at each call: while there is none, writes are skipped and reads fail). */
void chat_presence_init(chat_presence_t *p, sio_server_t *sio, const char *key_prefix,
                        long long ttl, int shared);
void chat_presence_free(chat_presence_t *p);

/* 1 when presence is shared through Redis, 0 when it is this node's sockets. */
int chat_presence_shared(const chat_presence_t *p);

/* Applies delta to this node's count of user's sockets in room; returns the new count. */
long chat_presence_count(chat_presence_t *p, const char *room, size_t rlen, const char *user,
                         long delta);

/* Writes this node's entry for the user in room again (after chat_presence_refresh), for a
 * Redis that lost it. Nothing when not shared. */
void chat_presence_rewrite(chat_presence_t *p, const char *room, size_t rlen, const char *user_id,
                           const char *user_name);
/* Refreshes this node's liveness key (expiring --presence-ttl from now). Nothing when not
 * shared. */
void chat_presence_refresh(chat_presence_t *p);

/* A room's live presence entries: a JSON array (borrowed for the call) of [node uid, user id,
 * user name, hash field] (running alone: ["local", user id, user name], one per user), or
 * NULL when Redis could not be read. all: every entry the hash held, those of nodes found
 * dead included (as live when running alone, NULL with live). */
typedef void (*chat_presence_cb)(void *ud, json_t *live, json_t *all);

/* Reads a room's presence; cb runs exactly once, perhaps before the call returns. A read with
 * a limit looks at a bounded part of the hash (HSCAN, about limit entries); without one
 * (limit 0) it reads it whole. Entries of nodes found dead are removed on the way. */
void chat_presence_read(chat_presence_t *p, const char *room, size_t rlen, size_t limit,
                        chat_presence_cb cb, void *ud);

/* Adds (present 1) or removes this node's entry for the user in room and reads the room's
 * presence as it is right after, in one step (chat_store.h, presence): cb runs exactly once,
 * as for chat_presence_read without a limit. An entry is written only after the liveness key
 * is refreshed. Running alone, nothing is written and cb gets the room's sockets. */
void chat_presence_change(chat_presence_t *p, const char *room, size_t rlen, const char *user_id,
                          const char *user_name, int present, chat_presence_cb cb, void *ud);

/* The distinct users of live entries as [{id, name}], at most max (a new array). */
json_t *chat_presence_users(json_t *live, size_t max);

/* How many live entries of nodes other than this one are user's (0 when not shared). */
size_t chat_presence_other_nodes(const chat_presence_t *p, json_t *live, const char *user);

#endif
