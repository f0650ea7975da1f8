/* Origin allow-list and same-host checks (see origin.h). */
#include "origin.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Calls fn for each item of the comma-separated list (spaces around items trimmed, empty
 * items skipped) until it returns non-zero; returns that value, or 0. */
static int each_item(const char *list, int (*fn)(const char *item, size_t n, const void *arg),
                     const void *arg)
{
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        int r = t > p ? fn(p, (size_t)(t - p), arg) : 0;
        if (r) return r;
        p = e;
    }
    return 0;
}

static int is_wildcard(const char *item, size_t n, const void *arg)
{
    (void)arg;
    return n == 1 && *item == '*';
}

static int accepts(const char *item, size_t n, const void *arg)
{
    const char *origin = arg;
    return is_wildcard(item, n, NULL) || (strlen(origin) == n && memcmp(item, origin, n) == 0);
}

int origin_allowed(const char *list, const char *origin)
{
    return each_item(list, accepts, origin);
}

int origin_list_has_wildcard(const char *list)
{
    return each_item(list, is_wildcard, NULL);
}

/* Splits "host[:port]" (host may be a bracketed IPv6 literal) at s[0..len); the port is -1
 * when absent. Returns 0, or -1 when malformed. */
static int split_authority(const char *s, size_t len, const char **host, size_t *hlen, long *port)
{
    const char *end = s + len, *colon = NULL;
    if (len && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb) return -1;
        if (rb + 1 < end) {
            if (rb[1] != ':') return -1;
            colon = rb + 1;
        }
    } else {
        colon = memchr(s, ':', len);
    }
    *host = s;
    *hlen = colon ? (size_t)(colon - s) : len;
    if (*hlen == 0) return -1;
    if (!colon) {
        *port = -1;
        return 0;
    }
    long v = 0;
    const char *p = colon + 1;
    if (p == end || end - p > 5) return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535) return -1;
    *port = v;
    return 0;
}

int origin_same_host(const char *origin, const char *host)
{
    const char *sep = strstr(origin, "://");
    if (!sep || !host) return 0;
    size_t slen = (size_t)(sep - origin);
    long def = -1;
    if ((slen == 4 && strncasecmp(origin, "http", 4) == 0) ||
        (slen == 2 && strncasecmp(origin, "ws", 2) == 0))
        def = 80;
    else if ((slen == 5 && strncasecmp(origin, "https", 5) == 0) ||
             (slen == 3 && strncasecmp(origin, "wss", 3) == 0))
        def = 443;
    const char *auth = sep + 3;
    size_t alen = strlen(auth);
    if (alen && auth[alen - 1] == '/') alen--; /* tolerate a trailing slash */
    if (memchr(auth, '/', alen) || memchr(auth, '@', alen)) return 0;
    const char *oh, *hh;
    size_t ohl, hhl;
    long op, hp;
    if (split_authority(auth, alen, &oh, &ohl, &op) < 0 ||
        split_authority(host, strlen(host), &hh, &hhl, &hp) < 0)
        return 0;
    if (op < 0) op = def;
    /* A Host without a port is compared by name alone: a proxy passing nginx's $host drops
     * the port (cookies, what a cross-site WebSocket would abuse, are per host anyway). */
    if (hp >= 0 && op != hp) return 0;
    return ohl == hhl && strncasecmp(oh, hh, ohl) == 0;
}
