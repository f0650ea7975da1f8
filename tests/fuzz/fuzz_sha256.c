/* libFuzzer driver: proto/sha256.c. The whole input hashes the same in one buffer and in
 * pieces cut where its bytes say; an HMAC over the input split in two equals the HMAC of the
 * whole and RFC 2104's definition written out here with the one-buffer hash; the hex spells
 * the digest; the comparison tells a bit flipped in any byte. Layout: two bytes choose the split,
 * one the key length (0..255, so keys longer than a block too), then the key, then the message. */
#include "sha256.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* H((K' ^ opad) || H((K' ^ ipad) || msg)), K' the key, hashed when longer than a block,
 * padded with zeros to a block */
static void ref_hmac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
                     uint8_t out[SHA256_DIGEST_LEN])
{
    uint8_t k0[SHA256_BLOCK_LEN] = {0};
    if (keylen > SHA256_BLOCK_LEN)
        sha256(key, keylen, k0);
    else if (keylen)
        memcpy(k0, key, keylen);
    uint8_t *in = malloc(SHA256_BLOCK_LEN + msglen);
    if (!in) abort();
    for (int i = 0; i < SHA256_BLOCK_LEN; i++) in[i] = k0[i] ^ 0x36;
    if (msglen) memcpy(in + SHA256_BLOCK_LEN, msg, msglen);
    uint8_t outer[SHA256_BLOCK_LEN + SHA256_DIGEST_LEN];
    for (int i = 0; i < SHA256_BLOCK_LEN; i++) outer[i] = k0[i] ^ 0x5c;
    sha256(in, SHA256_BLOCK_LEN + msglen, outer + SHA256_BLOCK_LEN);
    sha256(outer, sizeof outer, out);
    free(in);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case included: the hex is lowercase */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : 0;

    /* the whole input: one buffer, and pieces (the first up to a chosen point, then sizes
     * taken from the input's own bytes, empty ones included) */
    uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
    sha256(data, size, want);
    sha256_ctx_t c;
    sha256_init(&c);
    size_t first = cut % (size + 1);
    sha256_update(&c, data, first);
    for (size_t off = first, j = 0; off < size; j++) {
        size_t piece = data[j % size] % 131;
        if (piece == 0) {
            sha256_update(&c, data + off, 0);
            piece = 1;
        }
        if (piece > size - off) piece = size - off;
        sha256_update(&c, data + off, piece);
        off += piece;
    }
    sha256_final(&c, got);
    if (memcmp(got, want, SHA256_DIGEST_LEN) != 0) abort();
    if (sha256_equal(got, want) != 1) abort();

    /* hex: 64 lowercase digits spelling the digest, then a NUL */
    char hex[SHA256_HEX_SIZE];
    sha256_hex(want, hex);
    if (hex[64] != '\0') abort();
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi << 4 | lo) != want[i]) abort();
    }

    /* one bit flipped in any byte, the bit chosen by the input */
    unsigned bit = size ? data[size - 1] % 8 : 0;
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        got[i] ^= (uint8_t)(1u << bit);
        if (sha256_equal(got, want) != 0 || sha256_equal(want, got) != 0) abort();
        got[i] ^= (uint8_t)(1u << bit);
    }

    /* HMAC: key and message from the input, the message split in two */
    const uint8_t *rest = size >= 3 ? data + 3 : data + size;
    size_t restlen = size >= 3 ? size - 3 : 0;
    size_t keylen = size >= 3 ? data[2] : 0;
    if (keylen > restlen) keylen = restlen;
    const uint8_t *key = rest, *msg = rest + keylen;
    size_t msglen = restlen - keylen;
    size_t split = cut % (msglen + 1);

    uint8_t whole[SHA256_DIGEST_LEN], parts[SHA256_DIGEST_LEN], ref[SHA256_DIGEST_LEN];
    hmac_sha256(key, keylen, msg, msglen, whole);
    hmac_sha256_ctx_t h;
    hmac_sha256_init(&h, key, keylen);
    hmac_sha256_update(&h, msg, split);
    hmac_sha256_update(&h, msg + split, msglen - split);
    hmac_sha256_final(&h, parts);
    ref_hmac(key, keylen, msg, msglen, ref);
    if (!sha256_equal(whole, parts) || memcmp(whole, ref, SHA256_DIGEST_LEN) != 0) abort();
    return 0;
}
