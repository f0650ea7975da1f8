/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): webhooks are signed with an HMAC over a
 * timestamp and the body, and a receiver checks the signature in constant time. Pure: no I/O,
 * no allocation. */
#ifndef CC_SHA256_H
#define CC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN  64
/* 64 lowercase hex digits and a NUL */
#define SHA256_HEX_SIZE (2 * SHA256_DIGEST_LEN + 1)

/* A hash under way. Plain data: copying it forks the hash (both copies go on independently). */
typedef struct {
    uint32_t h[8];
    uint64_t len; /* bytes fed so far */
    uint8_t buf[SHA256_BLOCK_LEN];
} sha256_ctx_t;

/* An HMAC under way: the inner hash, already fed the key XOR ipad, and the outer one, fed the
 * key XOR opad. Copying a context just after hmac_sha256_init keys several messages with one
 * key without hashing the key again. */
typedef struct {
    sha256_ctx_t inner, outer;
} hmac_sha256_ctx_t;

/* Writes the 32-byte digest of data[0..len) to out. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

/* The same digest over data given in pieces: init, update with each piece in order (any sizes,
 * zero included), final. final writes the digest and wipes the context; init it again to start
 * another hash. */
void sha256_init(sha256_ctx_t *c);
void sha256_update(sha256_ctx_t *c, const void *data, size_t len);
void sha256_final(sha256_ctx_t *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Writes HMAC-SHA256(key[0..keylen), msg[0..msglen)) to out. Any key length: one longer than a
 * block (64 bytes) is hashed first, as RFC 2104 says. */
void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                 uint8_t out[SHA256_DIGEST_LEN]);

/* The same MAC over a message given in pieces (a timestamp, ".", the body), none of them
 * copied: init with the key, update with each piece in order, final. The key is not kept
 * (borrowed for the call). final writes the MAC and wipes the context. */
void hmac_sha256_init(hmac_sha256_ctx_t *c, const void *key, size_t keylen);
void hmac_sha256_update(hmac_sha256_ctx_t *c, const void *data, size_t len);
void hmac_sha256_final(hmac_sha256_ctx_t *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Writes the 64 lowercase hex digits of d and a NUL to out. */
void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[SHA256_HEX_SIZE]);

/* Returns 1 when a and b are the same digest, else 0, in a time that does not depend on where
 * they differ: use it to check a signature, never memcmp. */
int sha256_equal(const uint8_t a[SHA256_DIGEST_LEN], const uint8_t b[SHA256_DIGEST_LEN]);
/* The same for any n bytes (secrets of a known length: a hash, a session id). */
int ct_equal(const void *a, const void *b, size_t n);

#endif
