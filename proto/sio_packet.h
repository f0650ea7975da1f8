/* Socket.IO v5 packet codec (the default socket.io-parser format):
 *   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
 * Payloads stay JSON text: decoding validates them strictly and points into the input, so an
 * app can forward arguments byte for byte; encoding writes a header before caller-made JSON.
 * Binary packets are reassembled from their attachments by sio_binary_*. Pure: no I/O. */
#ifndef CC_SIO_PACKET_H
#define CC_SIO_PACKET_H

#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
} sio_type_t;

#define SIO_MAX_ATTACHMENTS 1000               /* more attachments than this is an error */
#define SIO_MAX_ACK_ID      9007199254740991LL /* Number.MAX_SAFE_INTEGER */

/* Error codes (negative); sio_strerror() names them. */
enum {
    SIO_EEMPTY = -1,       /* empty packet */
    SIO_ETYPE = -2,        /* unknown packet type */
    SIO_EATTACHMENTS = -3, /* missing or bad attachment count, or on a non-binary type */
    SIO_ENAMESPACE = -4,   /* bad namespace (invalid UTF-8 or a control character) */
    SIO_EACKID = -5,       /* ack id out of range (above SIO_MAX_ACK_ID) */
    SIO_EJSON = -6,        /* payload is not valid JSON */
    SIO_EPAYLOAD = -7,     /* payload valid JSON but wrong shape for the packet type */
    SIO_EPLACEHOLDER = -8, /* _placeholder refers to a missing attachment */
    SIO_EBINARY = -9,      /* attachment arrived when none was expected, or too many */
};

typedef struct {
    sio_type_t type;
    const char *nsp; /* borrowed; "/" (a static string) when the packet names none */
    size_t nsp_len;
    int64_t id;           /* ack id, or -1 when absent */
    unsigned attachments; /* binary types only, else 0 */
    const char *data;     /* borrowed raw JSON payload text; NULL when absent */
    size_t data_len;
} sio_packet_t;

const char *sio_strerror(int err);

/* 1 when the event name (decoded, n bytes) is one a client keeps for itself and may not be
 * sent: connect, connect_error, disconnect, disconnecting, newListener, removeListener. */
int sio_event_reserved(const char *name, size_t n);

/* Decodes and validates a packet as socket.io-parser does:
 *   the attachment count is one or more digits then '-', the namespace runs from '/' to the
 *   first ',' or the end of the packet, the ack id is the run of digits that follows;
 *   CONNECT: payload absent or a JSON object; DISCONNECT: no payload;
 *   EVENT / BINARY_EVENT: non-empty array whose first element is a string that is not a
 *     reserved event name (connect, connect_error, disconnect, disconnecting, newListener,
 *     removeListener), or a number;
 *   ACK / BINARY_ACK: array; CONNECT_ERROR: object or string.
 * Only CONNECT and DISCONNECT may lack a payload (SIO_EPAYLOAD otherwise), so data is never
 * NULL for the other types. Invalid JSON is SIO_EJSON, a wrong shape SIO_EPAYLOAD.
 * For the binary types, placeholders are NOT checked here (see sio_binary_*).
 * Returns 0 or a negative SIO_E* code. out borrows from s. */
int sio_packet_decode(const char *s, size_t len, sio_packet_t *out);

/* Appends the encoded packet: type, "<attachments>-" for binary types, "<nsp>," when nsp is
 * not "/", the ack id when id >= 0, then data verbatim (data may be NULL). */
void sio_packet_encode(sbuf_t *out, const sio_packet_t *p);

/* Binary packet reassembly. */
typedef struct {
    uint8_t *data; /* owned */
    size_t len;
} sio_attachment_t;

typedef struct {
    sio_packet_t pkt;      /* header; pkt.nsp and pkt.data point into text */
    char *text;            /* owned copy of the packet text */
    sio_attachment_t *att; /* owned array of pkt.attachments entries */
    unsigned received;
} sio_binary_t;

/* Starts reassembly from a binary packet that sio_packet_decode(s, len) produced as decoded
 * (copies what it needs from s). Returns 1 when the packet is already complete (zero
 * attachments, placeholders checked), 0 when attachments are awaited, or a negative error
 * (SIO_ETYPE for a non-binary packet, SIO_EPLACEHOLDER; bp is then empty). */
int sio_binary_begin(sio_binary_t *bp, const char *s, size_t len, const sio_packet_t *decoded);

/* Adds the next attachment (copied). Returns 1 when complete (every placeholder then refers
 * to an existing attachment: an object with "_placeholder": true and an integer "num" in
 * range), 0 when more are awaited, or a negative error: SIO_EBINARY when no attachment is
 * awaited (bp unchanged), SIO_EPLACEHOLDER when the completed packet has a bad placeholder.
 * Either way bp still owns its memory: release it with sio_binary_free(). */
int sio_binary_add(sio_binary_t *bp, const uint8_t *data, size_t len);

/* Frees what bp owns; bp is then empty. A zeroed bp is valid and free is a no-op on it. */
void sio_binary_free(sio_binary_t *bp);

/* Checks every "_placeholder": true object in json as socket.io-parser's reconstructPacket
 * visits them (a placeholder object's other members are not searched): returns the number of
 * placeholders, SIO_EPLACEHOLDER when one lacks a num written as plain digits (a
 * non-negative integer) below nattach, or SIO_EJSON when json is not valid JSON. */
int sio_placeholders_check(const char *json, size_t len, unsigned nattach);

/* The attachment index a placeholder's "num" member names: num[0..len) must be plain digits
 * (a non-negative integer, as reconstructPacket indexes with it) below nattach (at most
 * INT_MAX). Returns the index, or SIO_EPLACEHOLDER (num NULL: the member is missing). */
int sio_placeholder_num(const char *num, size_t len, unsigned nattach);

#endif
