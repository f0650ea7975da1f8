/* Redis connection URLs, as given to --redis, in three forms:
 *   redis://[user:password@]host[:port][/db]                                   one server
 *   redis+sentinel://[user:password@]host[:port][,host[:port]...]/<master-name>[/db]
 *                                                         a primary found through Sentinel
 *   redis+cluster://[user:password@]host[:port][,host[:port]...]               Redis Cluster
 * Pure parsing, no I/O; the bus (bus.h) connects with the result. */
#ifndef CC_REDIS_URL_H
#define CC_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_DEFAULT_PORT          6379
#define REDIS_URL_SENTINEL_DEFAULT_PORT 26379
#define REDIS_URL_MAX_ADDRS             64  /* addresses in one URL */
#define REDIS_URL_MASTER_MAX            255 /* bytes of a sentinel master name */

typedef enum {
    REDIS_URL_SINGLE = 0, /* redis:// */
    REDIS_URL_SENTINEL,   /* redis+sentinel://: addrs are sentinels */
    REDIS_URL_CLUSTER,    /* redis+cluster://: addrs are seed nodes */
} redis_url_kind_t;

typedef struct {
    char *host; /* owned; NUL-terminated; IPv6 literals without the brackets */
    int port;   /* 1..65535 */
} redis_url_addr_t;

typedef struct {
    char *host;     /* owned; addrs[0].host (the server of a redis:// URL) */
    char *user;     /* owned; NULL when the URL names no user (AUTH password) */
    char *password; /* owned; NULL when the URL has no password (no AUTH) */
    int port;       /* addrs[0].port */
    int db;         /* 0.. (SELECT db when non-zero); always 0 for redis+cluster:// */
    redis_url_kind_t kind;
    redis_url_addr_t *addrs; /* owned; the addresses in the URL's order, n_addrs of them */
    size_t n_addrs;          /* 1 for redis://, 1..REDIS_URL_MAX_ADDRS otherwise */
    char *master;            /* owned; the sentinel master name (decoded); NULL otherwise */
} redis_url_t;

/* Parses url into *out. Percent-escapes (%40 for '@', ...) are decoded in user, password and
 * master name; the last '@' ends the user info, so a raw '@' or '/' in a password also works.
 * The user info is for the Redis servers (the primary, the cluster's nodes), not the
 * sentinels. A port left out is 6379, or 26379 for a sentinel. A redis+cluster:// URL takes
 * no database other than 0 (a cluster has only database 0).
 * Returns 0, or -1 with a one-line reason written to err (errlen bytes, may be 0) and *out
 * left empty (safe to pass to redis_url_free). The caller frees *out with redis_url_free. */
int redis_url_parse(const char *url, redis_url_t *out, char *err, size_t errlen);

/* Deep copy of src into *dst (caller frees dst with redis_url_free). */
void redis_url_copy(redis_url_t *dst, const redis_url_t *src);

/* The scheme of kind, "redis://", "redis+sentinel://" or "redis+cluster://" (static). */
const char *redis_url_scheme(redis_url_kind_t kind);
/* The name of kind in health and metrics documents: "single", "sentinel" or "cluster". */
const char *redis_url_kind_name(redis_url_kind_t kind);

/* Frees the strings and empties *u; a zeroed or already freed *u is fine. */
void redis_url_free(redis_url_t *u);

#endif
