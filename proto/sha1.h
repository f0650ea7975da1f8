/* SHA-1 (FIPS 180-4): the load generator checks a server's Sec-WebSocket-Accept with it (RFC
 * 6455 section 4.1), chatnode names its Lua scripts by it for EVALSHA. Pure: no I/O, no
 * allocation. */
#ifndef CC_SHA1_H
#define CC_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20

/* Writes the 20-byte digest of data[0..len) to out. */
void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN]);

#endif
