/* SHA-256 over one buffer or in pieces, HMAC-SHA256 on top of it, hex and constant-time
 * comparison of digests (see sha256.h). The one-buffer form pads on its own rather than going
 * through the context, so the two paths check each other in the tests. */
#include "sha256.h"
#include "md_pad.h"

#include <string.h>

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* Zeroes n bytes in a way the compiler may not drop as a dead store: key material must not
 * stay behind on the stack or in a finished context. */
static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--) *v++ = 0;
}

static void block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void put_digest(const uint32_t h[8], uint8_t out[SHA256_DIGEST_LEN])
{
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void sha256_init(sha256_ctx_t *c)
{
    memcpy(c->h, h0, sizeof c->h);
    c->len = 0;
    memset(c->buf, 0, sizeof c->buf);
}

void sha256_update(sha256_ctx_t *c, const void *data, size_t len)
{
    if (!len) return; /* data may be NULL then */
    const uint8_t *p = data;
    size_t used = (size_t)(c->len % 64);
    c->len += len;
    if (used) {
        size_t n = 64 - used < len ? 64 - used : len;
        memcpy(c->buf + used, p, n);
        p += n, len -= n, used += n;
        if (used < 64) return;
        block(c->h, c->buf);
    }
    for (; len >= 64; p += 64, len -= 64) block(c->h, p);
    if (len) memcpy(c->buf, p, len);
}

void sha256_final(sha256_ctx_t *c, uint8_t out[SHA256_DIGEST_LEN])
{
    uint8_t tail[128];
    size_t tlen = md_pad(tail, c->buf, (size_t)(c->len % 64), c->len);
    block(c->h, tail);
    if (tlen == 128) block(c->h, tail + 64);
    put_digest(c->h, out);
    wipe(tail, sizeof tail);
    wipe(c, sizeof *c);
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN])
{
    sha256_ctx_t c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

void hmac_sha256_init(hmac_sha256_ctx_t *c, const void *key, size_t keylen)
{
    uint8_t pad[SHA256_BLOCK_LEN];
    memset(pad, 0, sizeof pad);
    if (keylen > SHA256_BLOCK_LEN)
        sha256(key, keylen, pad);
    else if (keylen)
        memcpy(pad, key, keylen);
    for (int i = 0; i < SHA256_BLOCK_LEN; i++) pad[i] ^= 0x36;
    sha256_init(&c->inner);
    sha256_update(&c->inner, pad, sizeof pad);
    for (int i = 0; i < SHA256_BLOCK_LEN; i++) pad[i] ^= 0x36 ^ 0x5c;
    sha256_init(&c->outer);
    sha256_update(&c->outer, pad, sizeof pad);
    wipe(pad, sizeof pad);
}

void hmac_sha256_update(hmac_sha256_ctx_t *c, const void *data, size_t len)
{
    sha256_update(&c->inner, data, len);
}

void hmac_sha256_final(hmac_sha256_ctx_t *c, uint8_t out[SHA256_DIGEST_LEN])
{
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&c->inner, d);
    sha256_update(&c->outer, d, sizeof d);
    sha256_final(&c->outer, out);
    wipe(d, sizeof d);
}

void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                 uint8_t out[SHA256_DIGEST_LEN])
{
    hmac_sha256_ctx_t c;
    hmac_sha256_init(&c, key, keylen);
    hmac_sha256_update(&c, msg, msglen);
    hmac_sha256_final(&c, out);
}

void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[SHA256_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * SHA256_DIGEST_LEN] = '\0';
}

int ct_equal(const void *a, const void *b, size_t n)
{
    /* every byte is read whatever the earlier ones were; volatile keeps the compiler from
     * stopping at the first difference */
    const uint8_t *x = a, *y = b;
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < n; i++) diff |= x[i] ^ y[i];
    return diff == 0;
}

int sha256_equal(const uint8_t a[SHA256_DIGEST_LEN], const uint8_t b[SHA256_DIGEST_LEN])
{
    return ct_equal(a, b, SHA256_DIGEST_LEN);
}
