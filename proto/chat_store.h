/* The chat's contract with Redis and with everyone who names its users and rooms: the limits
 * on names, ids and rooms, how guest ids differ from token ids, and the key layout. chatnode
 * (the chat app) and adminnode (history, system messages, the user and room endpoints) both
 * build their keys and check their labels here, so the two can never disagree.
 *
 * Keys (K = the --redis-key prefix, the adapter's, as docs/protocols.md calls it, with '%', '{'
 * and '}' escaped as in parts; each <part> escaped by chat_key_part):
 *   K:chat:{room:<room>}                     stream of a room's messages
 *   K:chat:{dm:<a>:<b>}                      stream of the private messages of users a < b
 *                                            (bytewise)
 *   K:chat:dedupe:<scope>:<user>:<id>        the stream id a client-chosen message id was
 *                                            stored under; scope is the stream's {...} part
 *   K:chat:presence:<room>                   hash "<node uid>|<user id>" -> user name
 *   K:chat:{alive}:<node uid>                a node's liveness
 *   K:chat:rooms-of:<node uid>               set of the rooms a node has presence entries in
 * A part never holds a raw ':' (nor '%', '{', '}'), so different tuples of parts can never
 * make the same key, and the only Redis Cluster hash tags are the {...} above: a stream and
 * its dedupe keys share a slot (the store script touches both), and so do all liveness keys
 * (one EVAL checks several). The layout is the same on every topology. */
#ifndef CC_CHAT_STORE_H
#define CC_CHAT_STORE_H

#include "cluster_event.h"
#include "sbuf.h"

#include <jansson.h>
#include <stddef.h>

struct redisReply; /* <hiredis/hiredis.h> */

/* A user's name, and a token's sub: 1..64 characters (so at most 256 bytes). */
#define CHAT_NAME_MAX_CHARS 64
#define CHAT_NAME_MAX_BYTES 256
/* Guests (anonymous sign-in) get ids of this prefix and their name; a token's sub may not
 * start with it, so a guest can never be a token user. */
#define CHAT_GUEST_PREFIX     "guest:"
#define CHAT_GUEST_PREFIX_LEN 6
/* A user id: a sub, or the guest prefix and a name. */
#define CHAT_USER_ID_MAX_CHARS (CHAT_NAME_MAX_CHARS + CHAT_GUEST_PREFIX_LEN)
#define CHAT_USER_ID_MAX_BYTES (CHAT_NAME_MAX_BYTES + CHAT_GUEST_PREFIX_LEN)
/* A room: 1..128 characters, not starting with "user:" (every user's own room) and not of the
 * form of a socket id (20 of [A-Za-z0-9_-]: every socket's own room, which a broadcast to
 * that socket reaches). */
#define CHAT_ROOM_MAX_CHARS   128
#define CHAT_ROOM_MAX_BYTES   512
#define CHAT_USER_ROOM_PREFIX "user:"
/* A client-chosen message id: 1..64 of [A-Za-z0-9_.:-]. */
#define CHAT_CLIENT_ID_MAX 64

/* 1 when room is a user's own room ("user:<id>"). */
int chat_is_user_room(const char *room, size_t len);
/* Checks a name (a guest's name, a token's name or sub). Returns 0 or a UTF8_LABEL_* code. */
int chat_check_name(const char *s, size_t len);
/* Checks a user id as a caller may name one (a sub, or a guest id). 0 or UTF8_LABEL_*. */
int chat_check_user_id(const char *s, size_t len);
/* Checks a room a client may join (neither a user's nor a socket's own room). 0,
 * UTF8_LABEL_*, CHAT_EUSERROOM or CHAT_ESOCKETROOM. */
#define CHAT_EUSERROOM   (-10)
#define CHAT_ESOCKETROOM (-11)
int chat_check_room(const char *s, size_t len);
/* What is wrong, for an error message ("is too long", "is a user's own room", ...). */
const char *chat_check_strerror(int rc);
/* 1 when id is a valid client message id. */
int chat_check_client_id(const char *s, size_t len);

/* Appends s[0..len) as one key part: '%', ':', '{' and '}' become %25, %3A, %7B, %7D. */
void chat_key_part(sbuf_t *b, const char *s, size_t len);

/* The keys, appended to b (which is reset first). prefix is the --redis-key. */
void chat_key_room(sbuf_t *b, const char *prefix, const char *room, size_t len);
void chat_key_presence(sbuf_t *b, const char *prefix, const char *room, size_t len);
void chat_key_alive(sbuf_t *b, const char *prefix, const char *node_uid);
void chat_key_node_rooms(sbuf_t *b, const char *prefix, const char *node_uid);
/* The stream of users a and b's private messages (order does not matter). */
void chat_key_dm(sbuf_t *b, const char *prefix, const char *a, size_t alen, const char *c,
                 size_t clen);
/* The dedupe key of client id cid sent by user into stream (a key made above): of the
 * stream's slot. */
void chat_key_dedupe(sbuf_t *b, const char *prefix, const char *stream, size_t stream_len,
                     const char *user, size_t user_len, const char *cid, size_t cid_len);

/* ---- the limits of the storage ----
 * Every writer of a stream applies the same three: the chatnodes take them from their
 * settings (--history-size, --history-ttl, --max-text) and announce them in their heartbeats;
 * adminnode takes the live chatnodes' for its system messages. */
typedef struct {
    long long history_size; /* messages kept per stream, about (MAXLEN ~) */
    long long history_ttl;  /* seconds a stream lives after its last message */
    long long max_text;     /* longest message text, bytes */
} chat_store_limits_t;

/* The bounds of each limit (the settings' bounds): 1 up to these. */
#define CHAT_STORE_HISTORY_SIZE_MAX 10000000LL
#define CHAT_STORE_HISTORY_TTL_MAX  315360000LL
#define CHAT_STORE_MAX_TEXT_MAX     1048576LL

/* 1 when every limit of l is within its bounds, else 0. */
int chat_store_limits_valid(const chat_store_limits_t *l);

/* ---- storing a message ----
 * One EVAL stores a message once: a client-chosen id (its dedupe key) maps to the stream id it
 * was first stored under, so a retry gets that id back instead of a second copy. The stream is
 * capped near maxlen entries and expires ttl seconds after its last message; a dedupe key
 * lives a day, or ttl when that is shorter. Entry fields: from, name, text, to ("" for room
 * messages). The EVAL declares two keys, the stream and its dedupe key (the stream again when
 * there is none), so it is sent to the stream key's slot. */
typedef struct {
    const char *stream, *dedupe; /* keys; dedupe NULL: none */
    size_t stream_len, dedupe_len;
    long long maxlen, ttl;
    const char *from, *name, *text, *to; /* to NULL: a room message */
    size_t from_len, name_len, text_len, to_len;
} chat_store_msg_t;

#define CHAT_STORE_ARGC 11
typedef struct {
    const char *argv[CHAT_STORE_ARGC];
    size_t lens[CHAT_STORE_ARGC];
    char maxlen[24], ttl[24];
} chat_store_cmd_t;

/* Fills cmd with the EVAL command storing m (cmd borrows m's strings). */
void chat_store_cmd(chat_store_cmd_t *cmd, const chat_store_msg_t *m);

/* Reads the EVAL's reply: returns 1 (stored now) or 0 (stored before under the same client
 * id) with the stream id in id (cap bytes), or -1 when the reply is not the script's. For 0,
 * *entry (entry may be NULL) is the stream entry stored before, for chat_store_message, or
 * NULL when the stream no longer has it. */
int chat_store_reply(const struct redisReply *r, char *id, size_t cap,
                     const struct redisReply **entry);

/* A stream entry ([id, [field, value, ...]]) as the message clients see:
 * {id, ts, from: {id, name}, text, room?, to?}; room (may be NULL) is added as given.
 * Returns a new object, or NULL when the entry is not a message (fields that are not UTF-8
 * are left out). */
json_t *chat_store_message(const struct redisReply *entry, const char *room);

/* An XREVRANGE reply as messages, oldest first; a new array (empty when r is not an array). */
json_t *chat_store_messages(const struct redisReply *r, const char *room);

/* 1 when s is a stream id a client may name ("ms" or "ms-seq", digits, at most 40 bytes). */
int chat_check_stream_id(const char *s, size_t len);

/* ---- presence ----
 * A room's presence hash holds one field "<node uid>|<user id>" per node the user has a socket
 * in the room on. A user's own room "user:<id>" has one too, while the user is signed in on
 * that node: its hash says where the user is online. Changes and their events:
 *   - a node adds or removes its entry and reads the hash as it is after, in one step
 *     (CHAT_PRESENCE_CHANGE_LUA: KEYS[1] the hash; ARGV 1 or 0, the field, the name; the reply
 *     is HGETALL's), so of two nodes changing a room at once exactly one sees it become
 *     occupied or empty, and exactly one sees a user's first entry come or its last one go;
 *   - the entries of nodes found dead go in one step too (CHAT_PRESENCE_PRUNE_LUA: KEYS[1] the
 *     hash; ARGV the dead nodes' uids; the reply is [entries left, then per user whose entries
 *     went: id, name, 1 when the user has an entry left else 0]);
 *   - a node keeps the set of rooms it has entries in (K:chat:rooms-of:<uid>), so whoever
 *     finds it down prunes each of them. */
#define CHAT_PRESENCE_CHANGE_LUA                                                                   \
    "if ARGV[1] == '1' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) "                        \
    "else redis.call('HDEL', KEYS[1], ARGV[2]) end "                                               \
    "return redis.call('HGETALL', KEYS[1])"
#define CHAT_PRESENCE_PRUNE_LUA                                                                    \
    "local dead, gone, order, kept = {}, {}, {}, {} "                                              \
    "for i = 1, #ARGV do dead[ARGV[i]] = true end "                                                \
    "local all = redis.call('HGETALL', KEYS[1]) "                                                  \
    "for i = 1, #all, 2 do "                                                                       \
    "  local bar = string.find(all[i], '|', 1, true) "                                             \
    "  if bar then "                                                                               \
    "    local user = string.sub(all[i], bar + 1) "                                                \
    "    if dead[string.sub(all[i], 1, bar - 1)] then "                                            \
    "      redis.call('HDEL', KEYS[1], all[i]) "                                                   \
    "      if not gone[user] then gone[user] = all[i + 1]; order[#order + 1] = user end "          \
    "    else kept[user] = true end "                                                              \
    "  end "                                                                                       \
    "end "                                                                                         \
    "local r = {redis.call('HLEN', KEYS[1])} "                                                     \
    "for _, u in ipairs(order) do "                                                                \
    "  r[#r + 1] = u; r[#r + 1] = gone[u]; r[#r + 1] = kept[u] and 1 or 0 "                        \
    "end "                                                                                         \
    "return r"

/* An event a presence change makes (data owned). */
typedef struct {
    cluster_event_type_t type;
    json_t *data;
} chat_presence_event_t;

/* The events of one user's entry in room[0..rlen) added (arrived 1) or removed (0), given the
 * hash right after: user_entries of the user's, entries in all. In a chat room: room_occupied
 * and member_joined for the room's and the user's first entry, member_left and room_vacated
 * for their last; in the user's own room ("user:<id>"): user_online and user_offline. Writes
 * them into out in the order they happened; returns how many (0 to 2). */
size_t chat_presence_events(const char *room, size_t rlen, const char *user_id,
                            const char *user_name, int arrived, size_t user_entries, size_t entries,
                            chat_presence_event_t out[2]);

/* The events of a prune's reply (CHAT_PRESENCE_PRUNE_LUA) in room: a malloc'ed array of *n
 * (NULL with *n 0 when there are none, or the reply is not the script's; entries that are not
 * UTF-8 are skipped). chat_presence_events_free releases it. */
chat_presence_event_t *chat_presence_pruned(const char *room, size_t rlen,
                                            const struct redisReply *r, size_t *n);
void chat_presence_events_free(chat_presence_event_t *ev, size_t n);

#endif
