/* Server-side WebSocket frames (see ws_server.h). */
#include "ws_server.h"

long wss_frame_parse(uint8_t *buf, size_t len, size_t max_payload, wss_frame_t *out)
{
    if (len < 2) return 0;
    int opcode = buf[0] & 0x0f;
    if (buf[0] & 0x70) return WSS_EPROTO;    /* no extension was negotiated */
    if (!(buf[1] & 0x80)) return WSS_EPROTO; /* a client always masks */
    size_t hlen = 2;
    uint64_t plen = buf[1] & 0x7f;
    if (plen == 126) {
        if (len < 4) return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        hlen = 4;
    } else if (plen == 127) {
        if (len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = plen << 8 | buf[2 + i];
        hlen = 10;
    }
    if (opcode >= 0x8 && (plen > 125 || !(buf[0] & 0x80))) return WSS_EPROTO;
    if (plen > max_payload) return WSS_ETOOBIG;
    if (len < hlen + 4 + plen) return 0;
    const uint8_t *mask = buf + hlen;
    uint8_t *p = buf + hlen + 4;
    for (size_t i = 0; i < plen; i++) p[i] ^= mask[i & 3];
    out->fin = buf[0] >> 7;
    out->opcode = opcode;
    out->payload = p;
    out->len = (size_t)plen;
    return (long)(hlen + 4 + plen);
}
