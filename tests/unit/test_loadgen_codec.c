/* Unit tests for loadgen's codecs (tests/bench/loadgen): SHA-1 against FIPS 180-2, the RFC 6455
 * handshake key and framing (section 5.2 rules, section 5.7 examples), and HTTP/1.x response
 * heads (RFC 7230). Every "need more" case is checked at every split point, on exact-size
 * copies so the sanitizers see any read past the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_reply.h"
#include "sha1.h"
#include "ws_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-1 ---- */

static void check_sha1(const void *data, size_t len, const char *hex)
{
    uint8_t d[SHA1_DIGEST_LEN];
    char got[2 * SHA1_DIGEST_LEN + 1];
    sha1(data, len, d);
    for (int i = 0; i < SHA1_DIGEST_LEN; i++) snprintf(got + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(got, hex);
}

/* FIPS 180-2 appendix A: one block, two blocks, one million 'a'; and the empty message. */
static void test_sha1_fips_vectors(void **state)
{
    (void)state;
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha1(m448, strlen(m448), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    check_sha1(million, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);
}

/* Messages of 'a' around the padding boundaries (55/56 bytes: the length still fits in the
 * last block or not; 64: exactly one block). Digests from coreutils sha1sum. */
static void test_sha1_padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char *m = malloc(v[i].n);
        memset(m, 'a', v[i].n);
        check_sha1(m, v[i].n, v[i].hex);
        free(m);
    }
}

/* ---- handshake key ---- */

/* RFC 6455 section 1.3: the nonce "the sample nonce" and the server's answer to it. */
static void test_ws_key_rfc_example(void **state)
{
    (void)state;
    char key[32];
    memset(key, '#', sizeof key);
    ws_key_encode((const uint8_t *)"the sample nonce", key);
    assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(key[25], '#');

    char accept[32];
    memset(accept, '#', sizeof accept);
    ws_accept_for_key(key, strlen(key), accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(accept[29], '#');
}

/* Any 16 bytes make a 24-character key (RFC 6455 section 4.1: base64 of a 16-byte nonce). */
static void test_ws_key_encode_extremes(void **state)
{
    (void)state;
    uint8_t nonce[16];
    char key[25];
    memset(nonce, 0, sizeof nonce);
    ws_key_encode(nonce, key);
    assert_string_equal(key, "AAAAAAAAAAAAAAAAAAAAAA==");
    memset(nonce, 0xff, sizeof nonce);
    ws_key_encode(nonce, key);
    assert_string_equal(key, "/////////////////////w==");
    for (int i = 0; i < 16; i++) nonce[i] = (uint8_t)i;
    ws_key_encode(nonce, key);
    assert_string_equal(key, "AAECAwQFBgcICQoLDA0ODw==");
}

/* ---- frame parsing ---- */

/* An exact-size heap copy of buf[0..len). */
static uint8_t *dup_bytes(const void *buf, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (len) memcpy(p, buf, len);
    return p;
}

static long parse_copy(const uint8_t *buf, size_t len, size_t max, ws_frame_t *f)
{
    uint8_t *c = dup_bytes(buf, len);
    long rc = ws_frame_parse(c, len, max, f);
    free(c);
    return rc;
}

static long parse_bytes(const uint8_t *buf, size_t len)
{
    ws_frame_t f;
    return parse_copy(buf, len, SIZE_MAX, &f);
}

/* Every strict prefix of the valid frame buf[0..len) needs more bytes. Short prefixes (the
 * header's) are exact-size copies; longer ones end inside a payload, which is never read. */
static void check_every_split(const uint8_t *buf, size_t len, size_t max)
{
    for (size_t k = 0; k < len; k++) {
        ws_frame_t f;
        if (k < 32)
            assert_int_equal(parse_copy(buf, k, max, &f), 0);
        else
            assert_int_equal(ws_frame_parse(buf, k, max, &f), 0);
    }
}

/* Builds a server frame (unmasked): first byte b0, payload of n bytes valued i*7, with the
 * length in the given form (7, 16 or 64 bits, whether minimal or not). */
static uint8_t *make_frame(uint8_t b0, size_t n, int form, size_t *flen)
{
    size_t hlen = form == 7 ? 2 : form == 16 ? 4 : 10;
    uint8_t *b = malloc(hlen + n + 1);
    b[0] = b0;
    if (form == 7) {
        b[1] = (uint8_t)n;
    } else if (form == 16) {
        b[1] = 126;
        b[2] = (uint8_t)(n >> 8);
        b[3] = (uint8_t)n;
    } else {
        b[1] = 127;
        for (int i = 0; i < 8; i++) b[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    for (size_t i = 0; i < n; i++) b[hlen + i] = (uint8_t)(i * 7);
    *flen = hlen + n;
    return b;
}

/* The frame parses whole, its payload borrowed from the buffer right after the header. */
static void check_frame(uint8_t b0, size_t n, int form)
{
    size_t flen;
    uint8_t *b = make_frame(b0, n, form, &flen);
    ws_frame_t f;
    memset(&f, 0xaa, sizeof f);
    assert_int_equal(ws_frame_parse(b, flen, n, &f), (long)flen);
    assert_int_equal(f.fin, b0 >> 7);
    assert_int_equal(f.opcode, b0 & 0x0f);
    assert_int_equal(f.len, n);
    assert_ptr_equal(f.payload, b + (flen - n));
    check_every_split(b, flen, n);
    free(b);
}

/* RFC 6455 section 5.7: a single-frame unmasked text message, and the same one fragmented. */
static void test_frame_rfc_examples(void **state)
{
    (void)state;
    const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ws_frame_t f;
    assert_int_equal(parse_copy(hello, sizeof hello, 125, &f), 7);
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_int_equal(f.len, 5);

    const uint8_t frags[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    assert_int_equal(ws_frame_parse(frags, sizeof frags, 125, &f), 5);
    assert_int_equal(f.fin, 0);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.payload, "Hel", 3);
    assert_int_equal(ws_frame_parse(frags + 5, sizeof frags - 5, 125, &f), 4);
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.opcode, WS_OP_CONT);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.payload, "lo", 2);

    /* Unmasked ping "Hello" */
    const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(ws_frame_parse(ping, sizeof ping, 125, &f), 7);
    assert_int_equal(f.opcode, WS_OP_PING);
    assert_memory_equal(f.payload, "Hello", 5);
}

/* Only the frame is consumed: the bytes after it are the next frame's. */
static void test_frame_trailing_bytes(void **state)
{
    (void)state;
    const uint8_t two[] = {0x82, 0x02, 0xaa, 0xbb, 0x81, 0x00};
    ws_frame_t f;
    assert_int_equal(ws_frame_parse(two, sizeof two, 16, &f), 4);
    assert_int_equal(f.opcode, WS_OP_BINARY);
    assert_ptr_equal(f.payload, two + 2);
    assert_int_equal(ws_frame_parse(two + 4, 2, 16, &f), 2);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_int_equal(f.len, 0);
}

static void test_frame_7bit_lengths(void **state)
{
    (void)state;
    check_frame(0x81, 0, 7);
    check_frame(0x82, 1, 7);
    check_frame(0x82, 125, 7);
}

static void test_frame_16bit_lengths(void **state)
{
    (void)state;
    check_frame(0x82, 126, 16);
    check_frame(0x81, 127, 16);
    check_frame(0x82, 256, 16); /* RFC 6455 section 5.7: 256 bytes binary */
    check_frame(0x82, 65535, 16);
}

static void test_frame_64bit_lengths(void **state)
{
    (void)state;
    check_frame(0x82, 65536, 64); /* RFC 6455 section 5.7: 64 KiB binary */
    check_frame(0x01, 70000, 64);
}

/* Section 5.2: "the minimal number of bytes MUST be used to encode the length". */
static void test_frame_non_minimal_length(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        int form;
    } v[] = {{0, 16}, {5, 16}, {125, 16}, {0, 64}, {125, 64}, {126, 64}, {65535, 64}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t flen;
        uint8_t *b = make_frame(0x82, v[i].n, v[i].form, &flen);
        assert_int_equal(parse_bytes(b, flen), WS_EPROTO);
        free(b);
    }
}

/* Section 5.2: the most significant bit of a 64-bit length MUST be 0. */
static void test_frame_64bit_msb(void **state)
{
    (void)state;
    uint8_t b[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(parse_bytes(b, sizeof b), WS_EPROTO);
    b[9] = 1;
    assert_int_equal(parse_bytes(b, sizeof b), WS_EPROTO);
    memset(b + 2, 0xff, 8);
    assert_int_equal(parse_bytes(b, sizeof b), WS_EPROTO);
}

/* Section 5.2: RSV1-3 MUST be 0 unless an extension defines them; none is negotiated. */
static void test_frame_reserved_bits(void **state)
{
    (void)state;
    for (int bit = 0x10; bit <= 0x40; bit <<= 1) {
        uint8_t b[] = {(uint8_t)(0x81 | bit), 0x01, 'x'};
        assert_int_equal(parse_bytes(b, sizeof b), WS_EPROTO);
        b[0] = (uint8_t)(0x02 | bit); /* not final either */
        assert_int_equal(parse_bytes(b, sizeof b), WS_EPROTO);
    }
}

/* Section 5.1: "a client MUST close a connection if it detects a masked frame"; here the masked
 * pong of section 5.7. */
static void test_frame_masked_rejected(void **state)
{
    (void)state;
    const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(parse_bytes(pong, sizeof pong), WS_EPROTO);
    const uint8_t text[] = {0x81, 0x80, 0, 0, 0, 0};
    assert_int_equal(parse_bytes(text, sizeof text), WS_EPROTO);
}

/* Section 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved. */
static void test_frame_unknown_opcodes(void **state)
{
    (void)state;
    for (int op = 0; op < 16; op++) {
        uint8_t b[] = {(uint8_t)(0x80 | op), 0x00};
        int known = op <= 2 || (op >= 8 && op <= 0xa);
        assert_int_equal(parse_bytes(b, sizeof b), known ? 2 : WS_EPROTO);
    }
}

/* Section 5.5: control frames are at most 125 bytes and MUST NOT be fragmented. */
static void test_frame_control_rules(void **state)
{
    (void)state;
    const int ops[] = {WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG};
    for (size_t i = 0; i < 3; i++) {
        check_frame((uint8_t)(0x80 | ops[i]), 0, 7);
        check_frame((uint8_t)(0x80 | ops[i]), 125, 7);
        size_t flen;
        uint8_t *b = make_frame((uint8_t)(0x80 | ops[i]), 126, 16, &flen);
        assert_int_equal(parse_bytes(b, flen), WS_EPROTO);
        free(b);
        b = make_frame((uint8_t)(0x80 | ops[i]), 65536, 64, &flen);
        assert_int_equal(parse_bytes(b, flen), WS_EPROTO);
        free(b);
        b = make_frame((uint8_t)ops[i], 2, 7, &flen); /* FIN clear */
        assert_int_equal(parse_bytes(b, flen), WS_EPROTO);
        free(b);
    }
    /* A close frame carrying status 1000 and a reason */
    const uint8_t close[] = {0x88, 0x04, 0x03, 0xe8, 'o', 'k'};
    ws_frame_t f;
    assert_int_equal(ws_frame_parse(close, sizeof close, 125, &f), 6);
    assert_int_equal(f.opcode, WS_OP_CLOSE);
    assert_int_equal(f.len, 4);
}

/* Data frames may be fragmented: continuation frames, final or not. */
static void test_frame_fragments(void **state)
{
    (void)state;
    check_frame(0x00, 3, 7);
    check_frame(0x80, 3, 7);
    check_frame(0x02, 300, 16);
    check_frame(0x00, 65536, 64);
}

/* A payload over the caller's limit is refused, and from the header alone: a limit is only
 * worth having if the payload need not be buffered first. */
static void test_frame_max_payload(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        int form;
    } v[] = {{0, 7}, {10, 7}, {125, 7}, {126, 16}, {1000, 16}, {65535, 16}, {65536, 64}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t flen, n = v[i].n;
        uint8_t *b = make_frame(0x82, n, v[i].form, &flen);
        ws_frame_t f;
        assert_int_equal(parse_copy(b, flen, n, &f), (long)flen);
        if (n > 0) {
            assert_int_equal(parse_copy(b, flen, n - 1, &f), WS_ETOOBIG);
            assert_int_equal(parse_copy(b, flen - n, n - 1, &f), WS_ETOOBIG);
        }
        free(b);
    }
    const uint8_t huge[] = {0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ws_frame_t f;
    assert_int_equal(parse_copy(huge, sizeof huge, 1 << 20, &f), WS_ETOOBIG);
}

static void test_frame_strerror(void **state)
{
    (void)state;
    assert_non_null(ws_frame_strerror(WS_EPROTO));
    assert_non_null(ws_frame_strerror(WS_ETOOBIG));
    assert_string_not_equal(ws_frame_strerror(WS_EPROTO), ws_frame_strerror(WS_ETOOBIG));
    assert_non_null(ws_frame_strerror(-1000));
}

/* ---- frame building ---- */

/* RFC 6455 section 5.7: a single-frame masked text message, masking key 37 fa 21 3d. */
static void test_append_rfc_example(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    ws_frame_append(&b, WS_OP_TEXT, "Hello", 5, 0x37fa213d);
    const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    sbuf_free(&b);
}

/* Appends a frame of n bytes after some existing content, then checks its header (FIN, opcode,
 * MASK, minimal length), unmasks it and compares; the unmasked frame parses back. */
static void check_append(int opcode, size_t n, uint32_t mask)
{
    uint8_t *payload = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)(i * 13 + 5);
    sbuf_t b = SBUF_INIT;
    sbuf_append(&b, "pre", 3);
    ws_frame_append(&b, opcode, payload, n, mask);
    assert_memory_equal(b.data, "pre", 3);
    uint8_t *fr = (uint8_t *)b.data + 3;
    size_t flen = b.len - 3;

    assert_int_equal(fr[0], 0x80 | opcode);
    assert_true(fr[1] & 0x80);
    size_t hlen, got;
    if (n <= 125) {
        hlen = 2;
        got = fr[1] & 0x7f;
    } else if (n <= 65535) {
        assert_int_equal(fr[1] & 0x7f, 126);
        hlen = 4;
        got = (size_t)fr[2] << 8 | fr[3];
    } else {
        assert_int_equal(fr[1] & 0x7f, 127);
        assert_int_equal(fr[2] & 0x80, 0);
        hlen = 10;
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | fr[2 + i];
        got = (size_t)v;
    }
    assert_int_equal(got, n);
    assert_int_equal(flen, hlen + 4 + n);
    const uint8_t key[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                            (uint8_t)mask};
    assert_memory_equal(fr + hlen, key, 4);

    /* As the server would see it: drop the MASK bit and key, unmask; then it parses. */
    uint8_t *plain = malloc(hlen + n);
    memcpy(plain, fr, hlen);
    plain[1] &= 0x7f;
    for (size_t i = 0; i < n; i++) plain[hlen + i] = fr[hlen + 4 + i] ^ key[i & 3];
    assert_memory_equal(plain + hlen, payload, n);
    ws_frame_t f;
    assert_int_equal(ws_frame_parse(plain, hlen + n, n, &f), (long)(hlen + n));
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.opcode, opcode);
    assert_int_equal(f.len, n);
    assert_ptr_equal(f.payload, plain + hlen);
    free(plain);
    free(payload);
    sbuf_free(&b);
}

static void test_append_length_boundaries(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 65537, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        check_append(WS_OP_BINARY, sizes[i], 0xa1b2c3d4);
        check_append(WS_OP_TEXT, sizes[i], 0x01020304);
    }
}

static void test_append_control_and_zero_mask(void **state)
{
    (void)state;
    check_append(WS_OP_PING, 0, 0x11223344);
    check_append(WS_OP_PONG, 125, 0xffffffff);
    check_append(WS_OP_CLOSE, 2, 0x5a5a5a5a);
    /* A zero key leaves the payload as it is. */
    sbuf_t b = SBUF_INIT;
    ws_frame_append(&b, WS_OP_TEXT, "abc", 3, 0);
    const uint8_t want[] = {0x81, 0x83, 0, 0, 0, 0, 'a', 'b', 'c'};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    sbuf_free(&b);
}

/* ---- HTTP response heads ---- */

static long http_copy(const char *s, size_t len, http_reply_t *r)
{
    char *c = (char *)dup_bytes(s, len);
    long rc = http_reply_parse(c, len, r);
    /* Keep the borrowed accept value meaningful for the caller: point it into s. */
    if (rc > 0 && r->accept) r->accept = s + (r->accept - c);
    free(c);
    return rc;
}

static long http_str(const char *s, http_reply_t *r)
{
    return http_copy(s, strlen(s), r);
}

static long http_rc(const char *s)
{
    http_reply_t r;
    return http_str(s, &r);
}

/* Every strict prefix of the head s[0..head) needs more bytes. */
static void check_http_splits(const char *s, size_t head)
{
    for (size_t k = 0; k < head; k++) {
        http_reply_t r;
        assert_int_equal(http_copy(s, k, &r), 0);
    }
}

static void test_http_101_upgrade(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                    "\r\n"
                    "\x81\x05Hello";
    size_t head = strlen(s) - 7;
    http_reply_t r;
    memset(&r, 0xaa, sizeof r);
    assert_int_equal(http_str(s, &r), (long)head);
    assert_int_equal(r.status, 101);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.upgrade_websocket, 1);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(r.chunked, 0);
    assert_int_equal(r.close, 0);
    assert_int_equal(r.accept_len, 28);
    assert_memory_equal(r.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
    assert_ptr_equal(r.accept, strstr(s, "s3pP")); /* borrowed from the head */
    check_http_splits(s, head);
}

static void test_http_200_content_length(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\n"
                    "Content-Type: text/plain; charset=UTF-8\r\n"
                    "Content-Length: 5\r\n"
                    "\r\n"
                    "hello";
    size_t head = strlen(s) - 5;
    http_reply_t r;
    memset(&r, 0xaa, sizeof r);
    assert_int_equal(http_str(s, &r), (long)head);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.content_length, 5);
    assert_int_equal(r.chunked, 0);
    assert_int_equal(r.close, 0);
    assert_int_equal(r.upgrade_websocket, 0);
    assert_null(r.accept);
    assert_int_equal(r.accept_len, 0);
    check_http_splits(s, head);

    s = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(http_str(s, &r), (long)strlen(s));
    assert_int_equal(r.status, 204);
    assert_int_equal(r.content_length, 0);
    /* Optional whitespace around the value (RFC 7230 section 3.2) */
    assert_true(http_str("HTTP/1.1 200 OK\r\nContent-Length:12\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 12);
    assert_true(http_str("HTTP/1.1 200 OK\r\nContent-Length: \t 34 \t\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 34);
    assert_true(http_str("HTTP/1.1 200 OK\r\nContent-Length: 123456789012345\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 123456789012345LL);
    /* Identical duplicates are one value (RFC 7230 section 3.3.2) */
    assert_true(http_str("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", &r) >
                0);
    assert_int_equal(r.content_length, 7);
}

static void test_http_chunked(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\n"
                    "Transfer-Encoding: chunked\r\n"
                    "Content-Type: text/plain\r\n"
                    "\r\n"
                    "5\r\nhello\r\n0\r\n\r\n";
    size_t head = strlen(s) - 15;
    http_reply_t r;
    assert_int_equal(http_str(s, &r), (long)head);
    assert_int_equal(r.chunked, 1);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(r.close, 0);
    check_http_splits(s, head);

    assert_true(http_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r) > 0);
    assert_int_equal(r.chunked, 1);
    assert_true(http_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &r) > 0);
    assert_int_equal(r.chunked, 0);
}

static void test_http_connection_close(void **state)
{
    (void)state;
    http_reply_t r;
    const char *s = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(http_str(s, &r), (long)strlen(s));
    assert_int_equal(r.status, 400);
    assert_int_equal(r.close, 1);
    assert_int_equal(r.content_length, 11);
    check_http_splits(s, strlen(s));

    /* HTTP/1.1 is persistent by default; HTTP/1.0 only with keep-alive (RFC 7230 6.3). */
    assert_true(http_rc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") > 0);
    assert_true(http_str("HTTP/1.1 200 OK\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
    assert_true(http_str("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", &r) > 0);
    assert_int_equal(r.minor, 0);
    assert_int_equal(r.close, 1);
    assert_true(http_str("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
    assert_true(http_str("HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 1);
}

/* Field names are case-insensitive (RFC 7230 section 3.2), and so are these values' tokens. */
static void test_http_case_insensitive(void **state)
{
    (void)state;
    http_reply_t r;
    const char *s = "HTTP/1.1 101 Switching Protocols\r\n"
                    "UPGRADE: WebSocket\r\n"
                    "connection: UPGRADE\r\n"
                    "sec-websocket-accept: abc\r\n"
                    "CONTENT-length: 9\r\n"
                    "transfer-ENCODING: Chunked\r\n"
                    "\r\n";
    assert_int_equal(http_str(s, &r), (long)strlen(s));
    assert_int_equal(r.upgrade_websocket, 1);
    assert_int_equal(r.accept_len, 3);
    assert_memory_equal(r.accept, "abc", 3);
    assert_int_equal(r.content_length, 9);
    assert_int_equal(r.chunked, 1);
    assert_true(http_str("HTTP/1.1 200 OK\r\nCONNECTION: CLOSE\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 1);
    assert_true(http_str("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
}

/* Connection, Upgrade and Transfer-Encoding are comma-separated lists of tokens. */
static void test_http_token_lists(void **state)
{
    (void)state;
    http_reply_t r;
    assert_true(http_str("HTTP/1.0 200 OK\r\nConnection: keep-alive, Upgrade\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
    assert_true(http_str("HTTP/1.1 200 OK\r\nConnection: Upgrade,close\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 1);
    assert_true(http_str("HTTP/1.1 200 OK\r\nConnection: ,  close , \r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 1);
    assert_true(http_str("HTTP/1.1 101 x\r\nUpgrade: foo/2, websocket\r\n\r\n", &r) > 0);
    assert_int_equal(r.upgrade_websocket, 1);
    /* A token is whole, not a substring */
    assert_true(http_str("HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
    assert_true(http_str("HTTP/1.1 200 OK\r\nConnection: not-close\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
    assert_true(http_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n", &r) > 0);
    assert_int_equal(r.chunked, 0);
    assert_true(http_str("HTTP/1.1 101 x\r\nUpgrade: websockets\r\n\r\n", &r) > 0);
    assert_int_equal(r.upgrade_websocket, 0);
    /* Only the right header counts */
    assert_true(http_str("HTTP/1.1 200 OK\r\nX-Connection: close\r\nX: websocket\r\n\r\n", &r) > 0);
    assert_int_equal(r.close, 0);
    assert_int_equal(r.upgrade_websocket, 0);
}

static void test_http_status_lines(void **state)
{
    (void)state;
    http_reply_t r;
    assert_true(http_str("HTTP/1.1 404 Not Found\r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 404);
    assert_true(http_str("HTTP/1.1 999 \r\n\r\n", &r) > 0); /* empty reason phrase */
    assert_int_equal(r.status, 999);
    assert_true(http_str("HTTP/1.1 100 Continue\r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 100);
    assert_true(http_str("HTTP/1.1 503 Service  Unavailable (really)\r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 503);
}

/* Every head in bad[0..n) is HTTP_EPROTO; the ones that are not are all named. */
static void check_all_eproto(const char *const *bad, size_t n)
{
    int wrong = 0;
    for (size_t i = 0; i < n; i++) {
        long rc = http_rc(bad[i]);
        if (rc != HTTP_EPROTO) {
            print_error("case %zu: rc=%ld, want HTTP_EPROTO\n", i, rc);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

static void test_http_malformed_status_line(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 -20 OK\r\n\r\n",
        "HTTP/1.x 200 OK\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/11 200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n", /* HTTP-name is case-sensitive */
        "ICY 200 OK\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        " HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", /* bare LF */
        "HTTP/1.1 200\rOK\r\n\r\n",                   /* stray CR */
    };
    check_all_eproto(bad, sizeof bad / sizeof *bad);
}

static void test_http_malformed_headers(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n",     /* no colon */
        "HTTP/1.1 200 OK\r\n: 5\r\n\r\n",                  /* empty name */
        "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",   /* space before the colon */
        "HTTP/1.1 200 OK\r\nContent-Length\t: 5\r\n\r\n",  /* tab before the colon */
        "HTTP/1.1 200 OK\r\nContent Length: 5\r\n\r\n",    /* not a token */
        "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n",           /* bare LF */
        "HTTP/1.1 200 OK\r\nA: b\r\n\n\r\n\r\n",           /* bare LF line */
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",  /* not a number */
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",   /* negative */
        "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",   /* sign */
        "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",  /* two numbers */
        "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", /* hex */
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",      /* empty */
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", /* conflict */
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",   /* overflow */
    };
    check_all_eproto(bad, sizeof bad / sizeof *bad);
}

/* A head of total bytes: the status line and one long header, then the blank line when
 * complete; otherwise the header runs on to the end. */
static char *make_big_head(size_t total, int complete)
{
    const char *start = "HTTP/1.1 200 OK\r\nX: ";
    size_t n = strlen(start);
    char *s = malloc(total + 1);
    memcpy(s, start, n);
    memset(s + n, 'y', total - n);
    if (complete) memcpy(s + total - 4, "\r\n\r\n", 4);
    s[total] = '\0';
    return s;
}

static void test_http_too_big(void **state)
{
    (void)state;
    http_reply_t r;
    /* A head of exactly HTTP_MAX_HEAD bytes is fine, even with more bytes after it. */
    char *s = make_big_head(HTTP_MAX_HEAD, 1);
    assert_int_equal(strlen(s), HTTP_MAX_HEAD);
    assert_int_equal(http_copy(s, HTTP_MAX_HEAD, &r), HTTP_MAX_HEAD);
    assert_int_equal(r.status, 200);
    assert_int_equal(http_copy(s, HTTP_MAX_HEAD - 1, &r), 0);
    free(s);
    /* One byte more is too big, whether or not its end has arrived. */
    s = make_big_head(HTTP_MAX_HEAD + 1, 1);
    assert_int_equal(http_copy(s, HTTP_MAX_HEAD + 1, &r), HTTP_ETOOBIG);
    assert_int_equal(http_copy(s, HTTP_MAX_HEAD, &r), HTTP_ETOOBIG);
    assert_int_equal(http_copy(s, HTTP_MAX_HEAD - 1, &r), 0);
    free(s);
    s = make_big_head(3 * HTTP_MAX_HEAD, 0);
    assert_int_equal(http_copy(s, 3 * HTTP_MAX_HEAD, &r), HTTP_ETOOBIG);
    free(s);
}

static void test_http_strerror(void **state)
{
    (void)state;
    assert_non_null(http_reply_strerror(HTTP_EPROTO));
    assert_non_null(http_reply_strerror(HTTP_ETOOBIG));
    assert_string_not_equal(http_reply_strerror(HTTP_EPROTO), http_reply_strerror(HTTP_ETOOBIG));
    assert_non_null(http_reply_strerror(-1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_fips_vectors),
        cmocka_unit_test(test_sha1_padding_boundaries),
        cmocka_unit_test(test_ws_key_rfc_example),
        cmocka_unit_test(test_ws_key_encode_extremes),
        cmocka_unit_test(test_frame_rfc_examples),
        cmocka_unit_test(test_frame_trailing_bytes),
        cmocka_unit_test(test_frame_7bit_lengths),
        cmocka_unit_test(test_frame_16bit_lengths),
        cmocka_unit_test(test_frame_64bit_lengths),
        cmocka_unit_test(test_frame_non_minimal_length),
        cmocka_unit_test(test_frame_64bit_msb),
        cmocka_unit_test(test_frame_reserved_bits),
        cmocka_unit_test(test_frame_masked_rejected),
        cmocka_unit_test(test_frame_unknown_opcodes),
        cmocka_unit_test(test_frame_control_rules),
        cmocka_unit_test(test_frame_fragments),
        cmocka_unit_test(test_frame_max_payload),
        cmocka_unit_test(test_frame_strerror),
        cmocka_unit_test(test_append_rfc_example),
        cmocka_unit_test(test_append_length_boundaries),
        cmocka_unit_test(test_append_control_and_zero_mask),
        cmocka_unit_test(test_http_101_upgrade),
        cmocka_unit_test(test_http_200_content_length),
        cmocka_unit_test(test_http_chunked),
        cmocka_unit_test(test_http_connection_close),
        cmocka_unit_test(test_http_case_insensitive),
        cmocka_unit_test(test_http_token_lists),
        cmocka_unit_test(test_http_status_lines),
        cmocka_unit_test(test_http_malformed_status_line),
        cmocka_unit_test(test_http_malformed_headers),
        cmocka_unit_test(test_http_too_big),
        cmocka_unit_test(test_http_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
