/* The last blocks of a Merkle-Damgard hash of 64-byte blocks and a big-endian bit length (SHA-1,
 * SHA-256): the left bytes that did not fill a block, 0x80, zeros, and the message's length in
 * bits in the last 8 bytes. Shared by sha1.c and sha256.c. */
#ifndef CC_MD_PAD_H
#define CC_MD_PAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writes the padded tail of a message of len bytes, whose last left (< 64) bytes are at p, into
 * tail; returns its length, 64 or 128 (one block or two). */
static inline size_t md_pad(uint8_t tail[128], const uint8_t *p, size_t left, uint64_t len)
{
    memset(tail, 0, 128);
    if (left) memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tlen = left + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = len * 8;
    for (int i = 0; i < 8; i++) tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
    return tlen;
}

#endif
