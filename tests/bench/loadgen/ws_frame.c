/* Client-side WebSocket frames and handshake key (see ws_frame.h). */
#include "ws_frame.h"
#include "base64.h"
#include "sha1.h"

#include <string.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const char *ws_frame_strerror(int err)
{
    switch (err) {
    case WS_EPROTO: return "malformed WebSocket frame";
    case WS_ETOOBIG: return "WebSocket frame too large";
    default: return "unknown error";
    }
}

long ws_frame_parse(const uint8_t *buf, size_t len, size_t max_payload, ws_frame_t *out)
{
    if (len < 2) return 0;
    int fin = buf[0] >> 7, opcode = buf[0] & 0x0f;
    if (buf[0] & 0x70) return WS_EPROTO; /* no extension was negotiated */
    if (buf[1] & 0x80) return WS_EPROTO; /* a server never masks */
    int control = opcode >= 0x8;
    if (opcode != WS_OP_CONT && opcode != WS_OP_TEXT && opcode != WS_OP_BINARY &&
        opcode != WS_OP_CLOSE && opcode != WS_OP_PING && opcode != WS_OP_PONG)
        return WS_EPROTO;
    size_t hlen = 2;
    uint64_t plen = buf[1] & 0x7f;
    if (plen == 126) {
        if (len < 4) return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        if (plen < 126) return WS_EPROTO;
        hlen = 4;
    } else if (plen == 127) {
        if (len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = plen << 8 | buf[2 + i];
        if (plen >> 63 || plen <= 0xffff) return WS_EPROTO;
        hlen = 10;
    }
    if (control && (!fin || plen > 125)) return WS_EPROTO;
    if (plen > max_payload) return WS_ETOOBIG;
    if (len - hlen < plen) return 0;
    out->fin = fin;
    out->opcode = opcode;
    out->payload = buf + hlen;
    out->len = (size_t)plen;
    return (long)(hlen + plen);
}

void ws_frame_append(sbuf_t *out, int opcode, const void *payload, size_t n, uint32_t mask)
{
    uint8_t h[14];
    size_t hlen = 2;
    h[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        h[1] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hlen = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hlen = 10;
    }
    uint8_t key[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                      (uint8_t)mask};
    memcpy(h + hlen, key, 4);
    hlen += 4;
    sbuf_reserve(out, hlen + n);
    memcpy(out->data + out->len, h, hlen);
    uint8_t *dst = (uint8_t *)out->data + out->len + hlen;
    const uint8_t *src = payload;
    for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ key[i & 3];
    out->len += hlen + n;
    out->data[out->len] = '\0';
}

void ws_key_encode(const uint8_t nonce[16], char out[25])
{
    base64_encode(nonce, 16, out);
    out[24] = '\0';
}

void ws_accept_for_key(const char *key, size_t len, char out[29])
{
    char buf[128];
    uint8_t digest[SHA1_DIGEST_LEN];
    size_t glen = sizeof ws_guid - 1;
    if (len > sizeof buf - glen) len = sizeof buf - glen;
    memcpy(buf, key, len);
    memcpy(buf + len, ws_guid, glen);
    sha1(buf, len + glen, digest);
    base64_encode(digest, SHA1_DIGEST_LEN, out);
    out[28] = '\0';
}
