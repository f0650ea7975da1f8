/* WebSocket server frame headers (see ws_header.h). */
#include "ws_header.h"

size_t ws_server_header(uint8_t out[WS_HEADER_MAX], int opcode, uint64_t n)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        out[1] = (uint8_t)n;
        return 2;
    }
    if (n < 65536) {
        out[1] = 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(n >> (56 - 8 * i));
    return 10;
}
