/* WebSocket framing (RFC 6455) for the client side: masked frames out, server frames in, and
 * the opening handshake's key check. Pure: no I/O, no globals. */
#ifndef LG_WS_FRAME_H
#define LG_WS_FRAME_H

#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* Error codes (negative); ws_frame_strerror() names them. */
enum {
    WS_EPROTO = -1, /* reserved bits set, unknown opcode, a masked server frame, a control frame
                       that is fragmented or longer than 125 bytes, a non-minimal length */
    WS_ETOOBIG = -2, /* payload longer than the caller's limit */
};

typedef struct {
    int fin;
    int opcode;
    const uint8_t *payload; /* borrowed from the parsed buffer */
    size_t len;
} ws_frame_t;

const char *ws_frame_strerror(int err);

/* Parses the server frame at buf[0..len). Returns the frame's total length (header and
 * payload) with *out filled, 0 when more bytes are needed, or a negative WS_E* code.
 * Payloads longer than max_payload are WS_ETOOBIG. */
long ws_frame_parse(const uint8_t *buf, size_t len, size_t max_payload, ws_frame_t *out);

/* Appends one client frame (FIN set, masked with mask) carrying payload[0..n). */
void ws_frame_append(sbuf_t *out, int opcode, const void *payload, size_t n, uint32_t mask);

/* The 24-character Sec-WebSocket-Key for 16 nonce bytes, NUL-terminated in out. */
void ws_key_encode(const uint8_t nonce[16], char out[25]);

/* The Sec-WebSocket-Accept a server must answer to key: 28 characters, NUL-terminated. */
void ws_accept_for_key(const char *key, size_t len, char out[29]);

#endif
