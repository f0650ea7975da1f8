/* libFuzzer driver: loadgen's codecs on arbitrary bytes, as one read from a server would bring
 * them: a response head, then WebSocket frames. Whatever parses lies within the input, ends
 * where the protocol says, needs more bytes when cut short, and re-encodes to its own bytes. */
#include "http_reply.h"
#include "ws_frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_MAX 64 /* a payload limit that real frames cross */

/* An exact-size copy of data[0..n), so the sanitizers see any read past it; free() it. */
static uint8_t *dup_exact(const uint8_t *data, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (n) memcpy(c, data, n);
    return c;
}

/* The length through the first blank line ("\r\n\r\n"), or 0 when there is none. */
static size_t head_end(const uint8_t *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') return i + 1;
    return 0;
}

static int flag(int v)
{
    return v == 0 || v == 1;
}

/* Returns the head's length, or 0 when none parsed. */
static size_t check_http(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    http_reply_t r;
    long rc = http_reply_parse(s, size, &r);
    size_t end = head_end(data, size);
    int complete = end && end <= HTTP_MAX_HEAD;
    if (rc == 0) {
        if (complete || size >= HTTP_MAX_HEAD) abort();
        return 0;
    }
    if (rc == HTTP_ETOOBIG) {
        if (complete || size < HTTP_MAX_HEAD) abort();
        return 0;
    }
    if (rc < 0) {
        if (rc != HTTP_EPROTO || !http_reply_strerror((int)rc)) abort();
        return 0;
    }

    /* The head ends at its first blank line. */
    size_t n = (size_t)rc;
    if (!complete || n != end || n > size) abort();
    if (r.status < 100 || r.status > 999 || r.minor < 0 || r.minor > 9) abort();
    if (r.content_length < -1 || !flag(r.chunked) || !flag(r.close) || !flag(r.upgrade_websocket))
        abort();
    if (!r.accept ? r.accept_len != 0 : r.accept < s || r.accept + r.accept_len > s + n - 4)
        abort();
    if (r.minor == 0 && memcmp(data, "HTTP/1.0", 8) != 0) abort();

    /* The head alone parses the same; one byte short of it needs more. */
    uint8_t *c = dup_exact(data, n);
    http_reply_t r2;
    if (http_reply_parse((const char *)c, n, &r2) != rc) abort();
    if (r2.status != r.status || r2.minor != r.minor || r2.content_length != r.content_length ||
        r2.chunked != r.chunked || r2.close != r.close ||
        r2.upgrade_websocket != r.upgrade_websocket || r2.accept_len != r.accept_len ||
        (r.accept && r2.accept != (const char *)c + (r.accept - s)))
        abort();
    free(c);
    c = dup_exact(data, n - 1);
    if (http_reply_parse((const char *)c, n - 1, &r2) != 0) abort();
    free(c);
    return n;
}

/* The one header a server sends for (fin, opcode, len): unmasked, minimal length; returns its
 * length. */
static size_t frame_header(int fin, int opcode, size_t len, uint8_t h[10])
{
    h[0] = (uint8_t)(fin << 7 | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static long check_frame(const uint8_t *data, size_t size, size_t max, ws_frame_t *f)
{
    long rc = ws_frame_parse(data, size, max, f);
    if (rc < 0 && rc != WS_EPROTO && rc != WS_ETOOBIG) abort();
    if (rc <= 0) return rc;

    size_t n = (size_t)rc;
    if (n > size || f->len > max || f->len > n || !flag(f->fin)) abort();
    int op = f->opcode;
    if (!(op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE ||
          op == WS_OP_PING || op == WS_OP_PONG))
        abort();
    if (op >= WS_OP_CLOSE && (!f->fin || f->len > 125)) abort();
    size_t hlen = n - f->len;
    if (f->payload != data + hlen) abort();
    uint8_t h[10];
    if (frame_header(f->fin, op, f->len, h) != hlen || memcmp(h, data, hlen) != 0) abort();

    /* One byte short, the frame needs more. */
    uint8_t *c = dup_exact(data, n - 1);
    ws_frame_t g;
    if (ws_frame_parse(c, n - 1, max, &g) != 0) abort();
    free(c);

    /* A final frame is what a client would send for it, but for the MASK bit and key. */
    if (f->fin) {
        sbuf_t b = SBUF_INIT;
        ws_frame_append(&b, op, f->payload, f->len, 0);
        const uint8_t *o = (const uint8_t *)b.data;
        if (b.len != n + 4 || o[0] != data[0] || o[1] != (data[1] | 0x80) ||
            memcmp(o + 2, data + 2, hlen - 2) != 0 || memcmp(o + hlen, "\0\0\0\0", 4) != 0 ||
            memcmp(o + hlen + 4, f->payload, f->len) != 0)
            abort();
        sbuf_free(&b);
    }
    return rc;
}

/* Frames one after another from data[0..size), with a small and an unbounded limit: the limit
 * only ever turns a result into WS_ETOOBIG. */
static void check_frames(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (;;) {
        ws_frame_t fs, fl;
        long small = check_frame(data + off, size - off, SMALL_MAX, &fs);
        long large = check_frame(data + off, size - off, SIZE_MAX, &fl);
        if (large == WS_ETOOBIG) abort();
        if (large > 0 && fl.len <= SMALL_MAX) {
            if (small != large || fs.fin != fl.fin || fs.opcode != fl.opcode || fs.len != fl.len ||
                fs.payload != fl.payload)
                abort();
        } else if (large > 0) {
            if (small != WS_ETOOBIG) abort();
        } else if (small != large && small != WS_ETOOBIG) {
            abort();
        }
        if (large <= 0) return;
        off += (size_t)large;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t head = check_http(data, size);
    check_frames(data, size);
    if (head) check_frames(data + head, size - head);

    char accept[29];
    ws_accept_for_key((const char *)data, size, accept);
    if (strlen(accept) != 28 || accept[27] != '=') abort();
    return 0;
}
