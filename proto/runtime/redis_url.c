/* Redis connection URL parser (redis://[user:password@]host[:port][/db]). */
#include "redis_url.h"

#include "alloc.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of s[0..n) into a new string; NULL when an escape is malformed or
 * decodes to a NUL byte (AUTH arguments are sent as C strings). */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= n) {
            free(out);
            return NULL;
        }
        int hi = hexval(s[i + 1]);
        int lo = hexval(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* Parses a decimal in s[0..n) into *v, within [lo, hi]; returns 0 or -1. */
static int parse_uint(const char *s, size_t n, long lo, long hi, long *v)
{
    if (n == 0 || n > 10) return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

static int valid_hostname(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

int redis_url_parse(const char *url, redis_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!url || !*url) return fail(err, errlen, "empty Redis URL");
    static const char scheme[] = "redis://";
    if (strncmp(url, "rediss://", 9) == 0)
        return fail(err, errlen, "rediss:// (TLS) is not supported; use redis://");
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return fail(err, errlen, "Redis URL must start with redis:// (got \"%.40s\")", url);
    const char *p = url + sizeof scheme - 1;
    const char *end = p + strlen(p);

    /* User info ends at the last '@': the path (a db number) never holds one. */
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return fail(err, errlen,
                        "Redis URL user info needs user:password (or :password alone)");
        if (colon > p) {
            out->user = pct_decode(p, (size_t)(colon - p));
            if (!out->user) goto bad_escape;
        }
        if (colon + 1 == at && !out->user)
            ; /* ":@" names nothing: no AUTH */
        else {
            out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
            if (!out->password) goto bad_escape;
        }
        p = at + 1;
    }

    /* Host: a name, an IPv4 address, or an IPv6 literal in brackets. */
    const char *hend;
    const char *after;
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (!rb) {
            redis_url_free(out);
            return fail(err, errlen, "Redis URL has an unterminated IPv6 address '['");
        }
        for (const char *q = p + 1; q < rb; q++)
            if (!(hexval(*q) >= 0 || *q == ':' || *q == '.')) {
                redis_url_free(out);
                return fail(err, errlen, "Redis URL has a bad IPv6 address");
            }
        hend = rb;
        after = rb + 1;
        p++;
    } else {
        hend = p + strcspn(p, ":/?#");
        after = hend;
        if (!valid_hostname(p, (size_t)(hend - p))) {
            redis_url_free(out);
            return fail(err, errlen, "Redis URL host \"%.*s\" has characters not allowed in a host",
                        (int)(hend - p > 64 ? 64 : hend - p), p);
        }
    }
    if (hend == p) {
        redis_url_free(out);
        return fail(err, errlen, "Redis URL has no host");
    }
    out->host = xstrndup(p, (size_t)(hend - p));
    out->port = REDIS_URL_DEFAULT_PORT;
    p = after;

    if (*p == ':') {
        p++;
        size_t n = strcspn(p, "/?#");
        long v;
        if (parse_uint(p, n, 1, 65535, &v) != 0) {
            int shown = (int)(n > 16 ? 16 : n);
            redis_url_free(out);
            return fail(err, errlen, "Redis URL port \"%.*s\" is not a number in 1..65535", shown,
                        p);
        }
        out->port = (int)v;
        p += n;
    }
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?#");
        long v;
        if (n > 0 && parse_uint(p, n, 0, INT_MAX, &v) != 0) {
            int shown = (int)(n > 16 ? 16 : n);
            redis_url_free(out);
            return fail(err, errlen, "Redis URL database \"%.*s\" is not a number 0 or more", shown,
                        p);
        }
        out->db = n > 0 ? (int)v : 0;
        p += n;
    }
    if (*p == '?' || *p == '#') {
        redis_url_free(out);
        return fail(err, errlen, "Redis URL query or fragment (\"%.20s\") is not supported", p);
    }
    if (*p != '\0') {
        redis_url_free(out);
        return fail(err, errlen, "Redis URL has unexpected text \"%.20s\" after the host", p);
    }
    return 0;

bad_escape:
    redis_url_free(out);
    return fail(err, errlen, "Redis URL user info has a bad %%-escape");
}

void redis_url_copy(redis_url_t *dst, const redis_url_t *src)
{
    dst->host = src->host ? xstrdup(src->host) : NULL;
    dst->user = src->user ? xstrdup(src->user) : NULL;
    dst->password = src->password ? xstrdup(src->password) : NULL;
    dst->port = src->port;
    dst->db = src->db;
}

void redis_url_free(redis_url_t *u)
{
    if (!u) return;
    free(u->host);
    free(u->user);
    if (u->password) memset(u->password, 0, strlen(u->password));
    free(u->password);
    memset(u, 0, sizeof *u);
}
