/* Engine.IO v4 packet codec: single packets (one WebSocket frame each) and the HTTP
 * long-polling payload (records separated by 0x1e, binary records as 'b' + base64).
 * Pure: no I/O, no globals, no allocation beyond what the caller passes in. */
#ifndef CC_EIO_PACKET_H
#define CC_EIO_PACKET_H

#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
} eio_type_t;

#define EIO_RECORD_SEPARATOR 0x1e

/* Error codes (negative); eio_strerror() names them. */
enum {
    EIO_EEMPTY = -1,   /* empty packet */
    EIO_ETYPE = -2,    /* first character is not a packet type '0'..'6' */
    EIO_EBASE64 = -3,  /* 'b' record with invalid base64 */
    EIO_EPAYLOAD = -4, /* malformed payload (e.g. empty record) */
};

typedef struct {
    eio_type_t type;
    int binary;          /* 1: data is raw bytes (binary frame, or a 'b' polling record) */
    const uint8_t *data; /* borrowed; the bytes after the type character, or the binary bytes */
    size_t len;
} eio_packet_t;

const char *eio_strerror(int err);

/* Decodes one text packet (a WebSocket text frame, or one polling record that is not 'b'):
 * type digit then data. Returns 0, or EIO_EEMPTY / EIO_ETYPE. out->data borrows from s. */
int eio_packet_decode_text(const char *s, size_t len, eio_packet_t *out);

/* Appends a packet as a WebSocket frame body: text packets as the type digit + data; for a
 * binary packet (binary=1, which must be EIO_MESSAGE) the raw bytes alone. */
void eio_packet_encode(sbuf_t *out, const eio_packet_t *p);

/* Iterator over a long-polling request body. The body is modified in place: binary records
 * are base64-decoded where they stand, so each packet's data stays valid while body lives. */
typedef struct {
    char *p;
    char *end;
    int done;
} eio_payload_iter_t;

void eio_payload_iter_init(eio_payload_iter_t *it, char *body, size_t len);

/* Returns 1 with the next packet in *out, 0 at the end of the body, or a negative error
 * (the rest of the body is then unusable and later calls return the same error). An empty
 * body, or an empty record (two separators in a row, a trailing separator), is EIO_EPAYLOAD;
 * a 'b' record with bad base64 is EIO_EBASE64; "b" alone is an empty binary message. */
int eio_payload_next(eio_payload_iter_t *it, eio_packet_t *out);

/* Appends one packet as a polling payload record, preceded by the 0x1e separator unless it
 * is the first record of the payload (out->len == 0). Binary packets become 'b' + base64. */
void eio_payload_append(sbuf_t *out, const eio_packet_t *p);

/* Number of bytes eio_payload_append would add (separator included when out_len > 0). */
size_t eio_payload_record_len(const eio_packet_t *p, size_t out_len);

#endif
