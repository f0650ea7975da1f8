/* Redis connection URLs: redis://[user:password@]host[:port][/db], as given to --redis.
 * Pure parsing, no I/O; the bus (bus.h) connects with the result. */
#ifndef CC_REDIS_URL_H
#define CC_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_DEFAULT_PORT 6379

typedef struct {
    char *host;     /* owned; NUL-terminated; IPv6 literals without the brackets */
    char *user;     /* owned; NULL when the URL names no user (AUTH password) */
    char *password; /* owned; NULL when the URL has no password (no AUTH) */
    int port;       /* 1..65535 */
    int db;         /* 0.. (SELECT db when non-zero) */
} redis_url_t;

/* Parses url into *out. Percent-escapes (%40 for '@', ...) are decoded in user and password;
 * the last '@' ends the user info, so a raw '@' or '/' in a password also works.
 * Returns 0, or -1 with a one-line reason written to err (errlen bytes, may be 0) and *out
 * left empty (safe to pass to redis_url_free). The caller frees *out with redis_url_free. */
int redis_url_parse(const char *url, redis_url_t *out, char *err, size_t errlen);

/* Deep copy of src into *dst (caller frees dst with redis_url_free). */
void redis_url_copy(redis_url_t *dst, const redis_url_t *src);

/* Frees the strings and empties *u; a zeroed or already freed *u is fine. */
void redis_url_free(redis_url_t *u);

#endif
