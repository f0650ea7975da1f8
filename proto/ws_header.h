/* The header of a server's WebSocket frame (RFC 6455 section 5.2): final, unmasked, no
 * extension bits, the length in its shortest form (7 bits, then 16, then 64). chatnode writes
 * it before each frame of a batch it hands to the socket in one write; the floor program
 * writes every frame with it. Pure: no I/O, no allocation. */
#ifndef CC_WS_HEADER_H
#define CC_WS_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define WS_HEADER_MAX 10

enum { WS_OPCODE_TEXT = 0x1, WS_OPCODE_BINARY = 0x2, WS_OPCODE_PONG = 0xa };

/* Writes the header of a frame of opcode carrying n payload bytes into out; returns its
 * length: 2, 4 or 10. */
size_t ws_server_header(uint8_t out[WS_HEADER_MAX], int opcode, uint64_t n);

#endif
