/* The sharded redis-adapter's wire format (docs/protocols.md, section 2.8): what Node's
 * createShardedAdapter (@socket.io/redis-adapter 8.x, over socket.io-adapter 2.5's
 * ClusterAdapter) exchanges on Redis 7 sharded pub/sub (SPUBLISH / SSUBSCRIBE). The message
 * types, the subscription modes, the channel names and which one a message goes on, and the
 * bytes of a message: JSON, or msgpack when the data of a type that may carry binary does.
 * Pure: no I/O. */
#ifndef CC_ADAPTER_SHARDED_H
#define CC_ADAPTER_SHARDED_H

#include "adapter_msg.h"
#include "msgpack_json.h"
#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- message types ---- */

/* ClusterAdapter's MessageType, with its numbers. This adapter never sends 1, 2 or 13 (it has
 * no heartbeats) and its receivers ignore them, as they ignore any unknown type. */
typedef enum {
    ADAPTER_SHARDED_INITIAL_HEARTBEAT = 1,
    ADAPTER_SHARDED_HEARTBEAT = 2,
    ADAPTER_SHARDED_BROADCAST = 3, /* with "requestId" in data: a broadcast with acks */
    ADAPTER_SHARDED_SOCKETS_JOIN = 4,
    ADAPTER_SHARDED_SOCKETS_LEAVE = 5,
    ADAPTER_SHARDED_DISCONNECT_SOCKETS = 6,
    ADAPTER_SHARDED_FETCH_SOCKETS = 7,
    ADAPTER_SHARDED_FETCH_SOCKETS_RESPONSE = 8,
    ADAPTER_SHARDED_SERVER_SIDE_EMIT = 9,
    ADAPTER_SHARDED_SERVER_SIDE_EMIT_RESPONSE = 10,
    ADAPTER_SHARDED_BROADCAST_CLIENT_COUNT = 11,
    ADAPTER_SHARDED_BROADCAST_ACK = 12,
    ADAPTER_SHARDED_ADAPTER_CLOSE = 13,
} adapter_sharded_type_t;

/* The type's name as Node spells it ("BROADCAST"), or NULL for a number outside 1..13. */
const char *adapter_sharded_type_name(int type);

/* 1 for the four response types (8, 10, 11, 12), else 0. A receiver hands a response to its
 * pending requests whichever channel it came on. */
int adapter_sharded_is_response(int type);

/* ---- subscription modes ---- */

typedef enum {
    ADAPTER_SHARDED_MODE_STATIC,          /* namespace and private channels only */
    ADAPTER_SHARDED_MODE_DYNAMIC,         /* plus a channel per room with local members */
    ADAPTER_SHARDED_MODE_DYNAMIC_PRIVATE, /* plus the socket-id rooms too */
} adapter_sharded_mode_t;

#define ADAPTER_SHARDED_MODE_DEFAULT ADAPTER_SHARDED_MODE_DYNAMIC

/* Reads Node's option value ("static", "dynamic", "dynamic-private"; exact, case included).
 * Returns 0 with *mode set, or -1 (*mode untouched). */
int adapter_sharded_mode_parse(const char *s, adapter_sharded_mode_t *mode);

/* The option value of mode ("dynamic"), or NULL for a value outside the enum. */
const char *adapter_sharded_mode_name(adapter_sharded_mode_t mode);

/* ---- channels ---- */

/* Replaces b's content with a channel of key K and namespace N (N with its leading '/'):
 * K#N# (the namespace channel) when tail.s is NULL, else K#N#<tail># (a room's channel, or a
 * server's private channel when tail is its uid). Plain concatenation, no escaping, as Node
 * does: a '#' in a room goes in as it is, and a room named like a server's uid shares its
 * private channel. */
void adapter_sharded_channel(sbuf_t *b, amsg_str_t key, amsg_str_t nsp, amsg_str_t tail);

typedef enum {
    ADAPTER_SHARDED_CH_NAMESPACE, /* K#N# */
    ADAPTER_SHARDED_CH_ROOM,      /* K#N#<room># */
    ADAPTER_SHARDED_CH_PRIVATE,   /* K#N#<uid>#: responses for the server with that uid */
} adapter_sharded_channel_t;

/* Classifies ch[0..len), a channel a message came on, for the server of uid (uid.s NULL: none)
 * serving namespace nsp under key: the namespace channel; this server's private channel
 * (*name = the uid); or a room's channel (*name = the room, possibly empty or holding '#').
 * Returns the kind (name borrows from ch), or -1 when ch is none of them. Names are not
 * escaped, so for nsp "/" the namespace channel of "/#x" reads as room "x" of "/": a server
 * serving several namespaces matches a channel against the names it subscribed to. */
int adapter_sharded_channel_parse(const char *ch, size_t len, amsg_str_t key, amsg_str_t nsp,
                                  amsg_str_t uid, amsg_str_t *name);

/* 1 when room[0..len) looks like a socket id to Node: exactly 20 UTF-16 code units (a code
 * point above U+FFFF counts 2; an invalid UTF-8 subpart counts 1, as U+FFFD). Only the
 * length is tested, so any 20-character room qualifies. */
int adapter_sharded_socket_id_like(const char *room, size_t len);

/* Where a message is published: 1 when it goes on the channel of its single room
 * K#N#<rooms[0]>#, 0 when it goes on the namespace channel K#N#. The room channel is used
 * only for a BROADCAST without acks (with_ack 0: data has no "requestId") whose opts.rooms
 * holds exactly one room, in mode DYNAMIC when that room is not socket_id_like, or in mode
 * DYNAMIC_PRIVATE for any room. Responses are not published by this rule: they go on the
 * requester's private channel. */
int adapter_sharded_publish_to_room(adapter_sharded_mode_t mode, int type, int with_ack,
                                    const amsg_str_t *rooms, size_t nrooms);

/* 1 when a server in mode keeps the channel of a room subscribed while the room has local
 * sockets: never in STATIC, in DYNAMIC unless the room is the id of a socket connected to
 * this server (is_local_socket_id), always in DYNAMIC_PRIVATE. */
int adapter_sharded_subscribes_room(adapter_sharded_mode_t mode, int is_local_socket_id);

/* ---- messages ---- */

/* Error codes (negative); adapter_sharded_strerror() names them. The first six are the value
 * layer's (msgpack_json.h says what each means). */
enum {
    ADAPTER_SHARDED_EMSGPACK = MPJSON_EMSGPACK,
    ADAPTER_SHARDED_ETRAILING = MPJSON_ETRAILING,
    ADAPTER_SHARDED_EDEPTH = MPJSON_EDEPTH,
    ADAPTER_SHARDED_EKEY = MPJSON_EKEY,
    ADAPTER_SHARDED_EJSON = MPJSON_EJSON,
    ADAPTER_SHARDED_EPLACEHOLDER = MPJSON_EPLACEHOLDER,
    ADAPTER_SHARDED_ESHAPE = MPJSON_EKIND, /* a value that is no JSON object / msgpack map */
    ADAPTER_SHARDED_ETYPE = -8,    /* "type" missing, or not an integral number in 0..INT_MAX */
    ADAPTER_SHARDED_EBINARY = -9,  /* binary data in a type Node always sends as JSON */
    ADAPTER_SHARDED_ESTRING = -10, /* a uid or nsp to encode that is not UTF-8 */
};

const char *adapter_sharded_strerror(int err);

/* A message {type, data, uid, nsp}. data is JSON text plus the binary attachments its
 * placeholders {"_placeholder":true,"num":N} stand for (msgpack_json.h); uid is the sender's
 * (16 hex digits from Node) and nsp its namespace. The decoder fills it with owned copies;
 * the encoder only reads, so a caller may point it at memory it keeps. */
typedef struct {
    int type;            /* an adapter_sharded_type_t, or any other number in 0..INT_MAX */
    mpjson_value_t data; /* data.json NULL: no "data" member (types 1, 2, 13) */
    amsg_str_t uid;      /* uid.s NULL: no "uid" member (decoded: absent or not a string) */
    amsg_str_t nsp;      /* nsp.s NULL: likewise */
} adapter_sharded_msg_t;

/* Appends the bytes Node's adapter sends for m. msgpack (as notepack.io writes it, with each
 * placeholder as bin) when m carries attachments (data.natt > 0) and its type may carry
 * binary (BROADCAST, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE,
 * BROADCAST_ACK); compact JSON otherwise, with data's text copied as it is. Either way the
 * members come in the order type, data, uid, nsp, each absent one left out. data must not
 * nest deeper than JTEXT_MAX_DEPTH - 1 (it sits inside the message), so that what is encoded
 * decodes. Returns 0, or ADAPTER_SHARDED_ETYPE (type < 0), ADAPTER_SHARDED_EBINARY
 * (attachments on another type), ADAPTER_SHARDED_ESTRING, ADAPTER_SHARDED_EJSON (data is not
 * one JSON value), ADAPTER_SHARDED_EDEPTH or ADAPTER_SHARDED_EPLACEHOLDER, with out
 * unchanged. */
int adapter_sharded_encode(sbuf_t *out, const adapter_sharded_msg_t *m);

/* Decodes a message as Node's receiver does: JSON when its first byte is '{', msgpack
 * otherwise. JSON must be strict (valid UTF-8 strings, nesting up to JTEXT_MAX_DEPTH in all);
 * data is then its exact text, without attachments. msgpack must be one map and nothing
 * after it; data is converted as msgpack_json.h does (bin -> placeholder + attachment,
 * Timestamp -> ISO date string), nesting up to MPJSON_MAX_DEPTH - 1. A repeated member counts
 * with its last value; other members are ignored; uid and nsp that are not strings read as
 * absent. Returns 0 with out owning its memory (free with adapter_sharded_msg_free), or a
 * negative ADAPTER_SHARDED_E* code with out zeroed. */
int adapter_sharded_decode(const uint8_t *buf, size_t len, adapter_sharded_msg_t *out);

/* Frees what the decoder put in m and zeroes it. Zeroed m: no-op. */
void adapter_sharded_msg_free(adapter_sharded_msg_t *m);

#endif
