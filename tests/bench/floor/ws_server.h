/* WebSocket framing (RFC 6455) for the server side of the floor program: masked client frames
 * in, unmasked in place (the headers of its own frames are proto's ws_header.h). Pure: no I/O, no
 * globals. */
#ifndef FLOOR_WS_SERVER_H
#define FLOOR_WS_SERVER_H

#include <stddef.h>
#include <stdint.h>

enum {
    WSS_EPROTO = -1,  /* reserved bits, an unmasked client frame, a bad control frame */
    WSS_ETOOBIG = -2, /* payload longer than the caller's limit */
};

typedef struct {
    int fin;
    int opcode;
    uint8_t *payload; /* inside the parsed buffer, unmasked */
    size_t len;
} wss_frame_t;

/* Parses the client frame at buf[0..len) and unmasks its payload in place. Returns the frame's
 * total length with *out filled, 0 when more bytes are needed, or a negative WSS_E* code. */
long wss_frame_parse(uint8_t *buf, size_t len, size_t max_payload, wss_frame_t *out);

#endif
