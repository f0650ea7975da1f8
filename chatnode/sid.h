/* Random identifiers: Engine.IO session ids (node tag, '.', 20 random characters, so a proxy
 * can route a request by the tag) and Socket.IO socket ids (20 random characters). */
#ifndef CC_SID_H
#define CC_SID_H

#include <stddef.h>

#define SID_RANDOM_LEN 20
#define SID_MAX        56 /* tag (at most 32) + '.' + random + NUL, rounded up */

/* Writes "<tag>.<20 random url-safe characters>" (or just the random part when tag is empty). */
void sid_generate(char *out, size_t cap, const char *tag);
/* Writes n random lowercase hex digits and a NUL (out holds n + 1 bytes). */
void sid_hex(char *out, size_t n);
/* Checks a node tag: 1 to 32 characters of [A-Za-z0-9-]. Returns 0 or -1. */
int sid_valid_tag(const char *tag);

#endif
