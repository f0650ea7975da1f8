/* The recovery store on Redis (docs/recovery.md): the key layout of a namespace's packet log
 * and sessions, and the scripts that write and read them. Every key of one namespace shares
 * the hash tag {<prefix>:rec:<nsp>}, so on Redis Cluster they live on one shard and a script
 * touches them together.
 *
 *   <tag>:seq            the last offset given ("<ms>-<seq>")
 *   <tag>:all            stream: packets to the whole namespace
 *   <tag>:r:<room>       stream: packets to a room (a socket id is a room)
 *   <tag>:s:<pid>        hash: a session (sid, owner, start, node, data, r:<room> -> stamp)
 *   <tag>:cuts           hash: stream key -> the newest entry trimmed from it
 *
 *   <tag>:m              channel: restore markers
 *   <tag>:f              channel: logged copies of broadcasts from servers that keep no log
 *   <tag>:b              shard channel: logged packets, in the sharded bus format
 *
 * A packet to several rooms is one entry, with the same id, in each room's stream. Entry
 * fields: d (the JSON argument array), e (the rooms excepted, a JSON array; absent when none),
 * o (the app's token for the item it carries, unique among its rooms' packets; absent when
 * none), a0, a1... (binary attachments). */
#ifndef CC_REC_STORE_H
#define CC_REC_STORE_H

#include "sbuf.h"

#include <stddef.h>

/* "<prefix>:rec:<nsp>" in braces, then ':' and what (what may be binary, of what_len bytes). */
void rec_store_key(sbuf_t *out, const char *prefix, const char *nsp, size_t nsp_len,
                   const char *what, size_t what_len);

/* LOG: gives a packet the next offset, adds it to its streams, trims them (entries older
 * than the retention once the oldest is an eighth of it past, then the oldest past most
 * entries + 100, recording what went in cuts)
 * and publishes.
 *   KEYS: seq, then one stream per room (or the namespace's "all" stream), then cuts
 *   ARGV: retention ms, most entries per stream, PUBLISH or SPUBLISH, channel, message (from
 *         its offset on left out: the script appends the offset as a msgpack string), what
 *         follows the offset in the message ("" none), data, except ("" none), token ("" none),
 *         again (the ms the item was made at when it may have been logged before under its
 *         token; "" when not), attachments...
 *   reply: the offset; for again, {"sent", offset} when the first room's stream holds an
 *          entry of the token from 5 s before again on (nothing done), {"unknown"} when the
 *          log no longer tells (again older than the retention, or the stream trimmed past
 *          it; nothing done) */
extern const char rec_store_log_script[];

/* RESTORE: a session back for a CONNECT.
 *   KEYS: session, seq, "all" stream, cuts
 *   ARGV: owner, offset ("" none), most packets, room stream key prefix (<tag>:r:), node uid,
 *         marker channel, marker payload, session TTL ms, pid, PUBLISH or SPUBLISH
 *   reply: {"ok", sid, data, start, head, {room, stamp, ...}, {id, data, natt, att..., ...}}
 *          or {why} (unknown, owner, offset, trimmed, too_many); on "ok" the session is now
 *          the node's and the marker is published. On offset, trimmed and too_many the
 *          session cannot come back: it is deleted and "<node uid> end <pid>" published on
 *          the marker channel, so that whoever keeps it ends it. */
extern const char rec_store_restore_script[];

/* SESSION: writes a session, only while it is the node's.
 *   KEYS: session (op "ttl": any number of sessions of one namespace)
 *   ARGV: node uid, op, TTL ms, fields...
 *     op "new": the fields (name, value, ...) replace the session, node set
 *     op "set": HSET fields;  "del": HDEL fields;  "ttl": PEXPIRE only;  "end": DEL
 *   reply: 1, or 0 when the session is another node's (or gone); for "ttl", how many of
 *          the sessions were the node's and were refreshed */
extern const char rec_store_session_script[];

/* LEASE: takes or keeps a lease.
 *   KEYS: the lease;  ARGV: holder, TTL ms
 *   reply: 1 when the holder has it now (taken, or renewed), 0 when someone else has it */
extern const char rec_store_lease_script[];

#endif
