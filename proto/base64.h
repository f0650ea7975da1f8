/* Standard base64 (RFC 4648, with '=' padding), as used by Engine.IO polling records. */
#ifndef CC_BASE64_H
#define CC_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes (padding included, no terminator). */
size_t base64_encoded_len(size_t n);

/* Writes base64_encoded_len(n) characters to out (no terminator). */
void base64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes n characters into out, which may alias in (decoding in place is allowed; out needs
 * at most n*3/4 bytes). Accepts input with or without '=' padding, as the JavaScript peers
 * may send either; any character outside the alphabet (whitespace included), padding in the
 * wrong place, a length of 4k+1, or non-zero unused bits in the last character (a
 * non-canonical encoding) is an error. Returns the decoded length, or -1 on invalid input. */
long base64_decode(const char *in, size_t n, uint8_t *out);

#endif
