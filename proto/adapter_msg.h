/* msgpack codec of the Socket.IO Redis adapter messages (@socket.io/redis-adapter 8.x and
 * @socket.io/redis-emitter 5.x, encoded by notepack.io 3.x): broadcast messages, BROADCAST
 * requests and BROADCAST_ACK responses. Their Socket.IO payloads are converted to and from
 * JSON text + binary attachments by msgpack_json.h. Pure: no I/O. */
#ifndef CC_ADAPTER_MSG_H
#define CC_ADAPTER_MSG_H

#include "msgpack_json.h"
#include "sbuf.h"
#include "sio_packet.h"

#include <stddef.h>
#include <stdint.h>

#define AMSG_MAX_DEPTH MPJSON_MAX_DEPTH /* msgpack nesting deeper than this is AMSG_EDEPTH */
#define AMSG_UNSET     (-1)

/* Error codes (negative); amsg_strerror() names them. All but AMSG_ESHAPE are the value
 * layer's (msgpack_json.h says what each means). */
enum {
    AMSG_EMSGPACK = MPJSON_EMSGPACK,
    AMSG_ETRAILING = MPJSON_ETRAILING,
    AMSG_EDEPTH = MPJSON_EDEPTH,
    AMSG_EKEY = MPJSON_EKEY,
    AMSG_EJSON = MPJSON_EJSON,
    AMSG_EPLACEHOLDER = MPJSON_EPLACEHOLDER,
    AMSG_ESHAPE = -7, /* well-formed value, wrong shape for the message */
};

const char *amsg_strerror(int err);

/* A length-counted string, NUL-terminated too (it may hold NULs). Filled by the decoders with
 * owned copies; the encoders only read, so a caller may point it at memory it keeps. Strings
 * read from msgpack are UTF-8 with invalid sequences replaced by U+FFFD, as Node reads them. */
typedef struct {
    const char *s;
    size_t len;
} amsg_str_t;

/* Broadcast flags; each field AMSG_UNSET when absent. Booleans are 0/1 (JavaScript
 * truthiness of what was sent), timeout is whole milliseconds (>= 0). Unknown flags are
 * ignored. */
typedef struct {
    int is_volatile;
    int compress;
    int64_t timeout;
    int expect_single_response;
} amsg_flags_t;

/* A broadcast: the message [uid, packet, opts] or the BROADCAST request (type 7). */
typedef struct {
    amsg_str_t uid;
    amsg_str_t request_id; /* requests only; {NULL, 0} in a broadcast message */
    int type;              /* SIO_EVENT (what Node writes) or SIO_BINARY_EVENT (older peers) */
    amsg_str_t nsp;        /* "/" when the packet names none */
    int64_t id;            /* the packet's ack id, or -1 when absent (always, from Node) */
    mpjson_value_t data;   /* the JSON array [event, ...args] with its attachments */
    amsg_str_t *rooms;     /* nrooms entries; none = every socket of the namespace */
    size_t nrooms;
    amsg_str_t *except; /* nexcept entries */
    size_t nexcept;
    amsg_flags_t flags;
    /* chatcluster's own, in a broadcast message: the recovery offset of a packet its log
     * keeps, a 4th element (Node's adapter reads three and ignores the rest; docs/recovery.md).
     * Decoded when it is a string; {NULL, 0} otherwise. */
    amsg_str_t offset;
    amsg_str_t tag;  /* a 5th element when it is a string (a logged copy's origin), else none */
    int offset_slot; /* encoding: count a 4th element that the caller appends itself */
    int logged;      /* the sharded format: "logged": true in data, a chatnode's copy for servers
                        that keep no log of a packet its log keeps (docs/recovery.md) */
} amsg_broadcast_t;

/* Decodes a broadcast message: an array [uid (str), packet (map: type 2 or 5, data array,
 * nsp str or absent, id optional), opts (map: rooms, except as lists of str or numbers, which
 * become their decimal text; flags map; each may be missing or nil)], extra elements ignored.
 * Returns 0 with out owning its memory (free with amsg_broadcast_free), or a negative
 * AMSG_E* code with out zeroed. */
int amsg_broadcast_decode(const uint8_t *buf, size_t len, amsg_broadcast_t *out);

/* Appends [uid, {type, data, nsp[, id]}, {rooms, except, flags}] as the Node adapter writes it
 * (with offset_slot set: an array of 4 whose last element is left to the caller)
 * (request_id is not used; flags holds only the fields that are set, in the order volatile,
 * compress, timeout, expectSingleResponse). Returns 0, or AMSG_EJSON / AMSG_EPLACEHOLDER /
 * AMSG_ESHAPE (data is not a JSON array) with out unchanged. */
int amsg_broadcast_encode(sbuf_t *out, const amsg_broadcast_t *b);

/* The BROADCAST request (an emit with an ack across servers): a map {uid, requestId (str),
 * type: 7, packet, opts} with packet and opts as in a broadcast message. Same contract as
 * amsg_broadcast_decode; request_id is set. */
int amsg_bcast_request_decode(const uint8_t *buf, size_t len, amsg_broadcast_t *out);

/* Appends {uid, requestId, type: 7, packet: {type, data, nsp[, id]}, opts: {rooms, except,
 * flags}}. request_id must be set (AMSG_ESHAPE otherwise). Errors as amsg_broadcast_encode. */
int amsg_bcast_request_encode(sbuf_t *out, const amsg_broadcast_t *b);

/* Frees what a decoder put in b and zeroes it. Zeroed b: no-op. */
void amsg_broadcast_free(amsg_broadcast_t *b);

/* The BROADCAST_ACK response (type 9): {type: 9, requestId, packet: the first ack argument}. */
typedef struct {
    amsg_str_t request_id;
    mpjson_value_t arg; /* arg.json NULL: the client acked with no argument (packet absent) */
} amsg_ack_t;

/* Decodes a BROADCAST_ACK map. Returns 0 with out owning its memory (free with
 * amsg_ack_free), or a negative AMSG_E* code with out zeroed. */
int amsg_ack_decode(const uint8_t *buf, size_t len, amsg_ack_t *out);

/* Appends {type: 9, requestId, packet} (packet left out when a->arg.json is NULL). Returns 0,
 * or AMSG_EJSON / AMSG_EPLACEHOLDER with out unchanged. */
int amsg_ack_encode(sbuf_t *out, const amsg_ack_t *a);

void amsg_ack_free(amsg_ack_t *a);

/* The "type" member of a msgpack request or response map (7 for BROADCAST, 9 for
 * BROADCAST_ACK), to pick a decoder. Returns the type (>= 0), or AMSG_ESHAPE when buf holds
 * no map with an integer type, or another AMSG_E* code for malformed msgpack. */
int amsg_peek_type(const uint8_t *buf, size_t len);

#endif
