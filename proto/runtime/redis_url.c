/* Redis connection URL parser: redis://, redis+sentinel:// and redis+cluster:// URLs. */
#include "redis_url.h"

#include "alloc.h"
#include "utf8.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Empties *out, writes the reason to err and returns -1. */
static int refuse(redis_url_t *out, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(redis_url_t *out, char *err, size_t errlen, const char *fmt, ...)
{
    redis_url_free(out);
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

const char *redis_url_scheme(redis_url_kind_t kind)
{
    switch (kind) {
    case REDIS_URL_SENTINEL: return "redis+sentinel://";
    case REDIS_URL_CLUSTER: return "redis+cluster://";
    default: return "redis://";
    }
}

const char *redis_url_kind_name(redis_url_kind_t kind)
{
    switch (kind) {
    case REDIS_URL_SENTINEL: return "sentinel";
    case REDIS_URL_CLUSTER: return "cluster";
    default: return "single";
    }
}

/* How many of n bytes a message shows: at most max. */
static int shown(size_t n, size_t max)
{
    return (int)(n > max ? max : n);
}

/* Parses one host[:port] at *pp, up to ',' '/' '?' '#' or the end, into a (owned strings);
 * i counts addresses from 1 for messages. Returns 0 with *pp past it, or -1 with err set. */
static int parse_addr(const char **pp, redis_url_addr_t *a, int default_port, size_t i, char *err,
                      size_t errlen)
{
    const char *p = *pp;
    char which[32] = "";
    if (i > 1) snprintf(which, sizeof which, " (address %zu)", i);
    const char *hend;
    const char *after;
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (!rb) {
            snprintf(err, errlen, "Redis URL has an unterminated IPv6 address '['%s", which);
            return -1;
        }
        for (const char *q = p + 1; q < rb; q++)
            if (!(hexval(*q) >= 0 || *q == ':' || *q == '.')) {
                snprintf(err, errlen, "Redis URL has a bad IPv6 address%s", which);
                return -1;
            }
        hend = rb;
        after = rb + 1;
        p++; /* the host starts after the '[' */
    } else {
        hend = p + strcspn(p, ":/?#,");
        after = hend;
        if (!valid_hostname(p, (size_t)(hend - p))) {
            snprintf(err, errlen, "Redis URL host \"%.*s\" has characters not allowed in a host",
                     shown((size_t)(hend - p), 64), p);
            return -1;
        }
    }
    if (hend == p) {
        snprintf(err, errlen, "Redis URL has no host%s", which);
        return -1;
    }
    const char *host = p;
    a->port = default_port;
    p = after;
    if (*p == ':') {
        p++;
        size_t n = strcspn(p, "/?#,");
        long v;
        if (parse_uint(p, n, 1, 65535, &v) != 0) {
            snprintf(err, errlen, "Redis URL port \"%.*s\"%s is not a number in 1..65535",
                     shown(n, 16), p, which);
            return -1;
        }
        a->port = (int)v;
        p += n;
    } else if (*p && !strchr("/?#,", *p)) {
        snprintf(err, errlen, "Redis URL has unexpected text \"%.20s\" after the host%s", p, which);
        return -1;
    }
    a->host = xstrndup(host, (size_t)(hend - host));
    *pp = p;
    return 0;
}

/* Parses a database number in p[0..n) (empty = 0) into *db; returns 0 or -1. */
static int parse_db(const char *p, size_t n, int *db)
{
    long v = 0;
    if (n > 0 && parse_uint(p, n, 0, INT_MAX, &v) != 0) return -1;
    *db = (int)v;
    return 0;
}

/* The master name's raw bytes: unreserved URL characters and %-escapes. */
static int master_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '%';
}

int redis_url_parse(const char *url, redis_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char dummy[1];
    if (!err || !errlen) { /* messages are still formatted; they go nowhere */
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!url || !*url) return refuse(out, err, errlen, "empty Redis URL");
    if (strncmp(url, "rediss://", 9) == 0 || strncmp(url, "rediss+", 7) == 0)
        return refuse(out, err, errlen, "rediss:// (TLS) is not supported; use redis://");
    static const redis_url_kind_t kinds[] = {REDIS_URL_SINGLE, REDIS_URL_SENTINEL,
                                             REDIS_URL_CLUSTER};
    const char *p = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !p; i++) {
        const char *scheme = redis_url_scheme(kinds[i]);
        if (strncmp(url, scheme, strlen(scheme)) == 0) {
            out->kind = kinds[i];
            p = url + strlen(scheme);
        }
    }
    if (!p)
        return refuse(out, err, errlen,
                      "Redis URL must start with redis://, redis+sentinel:// or "
                      "redis+cluster:// (got \"%.40s\")",
                      url);
    const char *scheme = redis_url_scheme(out->kind);
    const char *end = p + strlen(p);

    /* User info ends at the last '@': the path (a db number, a master name) never holds one. */
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return refuse(out, err, errlen,
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

    /* Addresses: a name, an IPv4 address, or an IPv6 literal in brackets, each with a port. */
    int default_port =
        out->kind == REDIS_URL_SENTINEL ? REDIS_URL_SENTINEL_DEFAULT_PORT : REDIS_URL_DEFAULT_PORT;
    for (;;) {
        if (out->n_addrs == REDIS_URL_MAX_ADDRS)
            return refuse(out, err, errlen, "%s URL lists more than %d addresses", scheme,
                          REDIS_URL_MAX_ADDRS);
        out->addrs = xrealloc(out->addrs, (out->n_addrs + 1) * sizeof *out->addrs);
        redis_url_addr_t *a = &out->addrs[out->n_addrs];
        memset(a, 0, sizeof *a);
        if (parse_addr(&p, a, default_port, out->n_addrs + 1, err, errlen) != 0) {
            redis_url_free(out); /* err says why */
            return -1;
        }
        out->n_addrs++;
        if (*p != ',') break;
        if (out->kind == REDIS_URL_SINGLE)
            return refuse(out, err, errlen,
                          "a redis:// URL names one server; list several with "
                          "redis+sentinel:// or redis+cluster://");
        p++;
    }
    out->host = xstrdup(out->addrs[0].host);
    out->port = out->addrs[0].port;

    /* The path: /db, /<master-name>[/db], or nothing on a cluster. */
    if (out->kind == REDIS_URL_SENTINEL) {
        size_t n = *p == '/' ? strcspn(p + 1, "/?#") : 0;
        if (n == 0)
            return refuse(out, err, errlen,
                          "redis+sentinel:// URL needs the master name after the addresses "
                          "(redis+sentinel://host:port/<master-name>)");
        p++;
        for (size_t i = 0; i < n; i++)
            if (!master_byte(p[i])) {
                /* quoted only when it is text, and cut at a character boundary */
                int quote = utf8_valid(p, n);
                return refuse(out, err, errlen,
                              "Redis URL master name%s%.*s%s has characters not allowed "
                              "(escape them as %%XX)",
                              quote ? " \"" : "", quote ? (int)utf8_prefix(p, n, 64) : 0, p,
                              quote ? "\"" : "");
            }
        out->master = pct_decode(p, n);
        if (!out->master)
            return refuse(out, err, errlen, "Redis URL master name has a bad %%-escape");
        for (const unsigned char *q = (const unsigned char *)out->master; *q; q++)
            if (*q <= ' ' || *q == 0x7f)
                return refuse(out, err, errlen,
                              "Redis URL master name holds a space or a control character");
        if (!utf8_valid(out->master, strlen(out->master)))
            return refuse(out, err, errlen, "Redis URL master name is not UTF-8 once decoded");
        if (strlen(out->master) > REDIS_URL_MASTER_MAX)
            return refuse(out, err, errlen, "Redis URL master name is longer than %d bytes",
                          REDIS_URL_MASTER_MAX);
        p += n;
    }
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?#");
        if (parse_db(p, n, &out->db) != 0)
            return refuse(out, err, errlen, "Redis URL database \"%.*s\" is not a number 0 or more",
                          shown(n, 16), p);
        if (out->kind == REDIS_URL_CLUSTER && out->db != 0)
            return refuse(out, err, errlen,
                          "Redis Cluster has only database 0: remove \"/%.*s\" from the "
                          "redis+cluster:// URL",
                          shown(n, 16), p);
        p += n;
    }
    if (*p == '?' || *p == '#')
        return refuse(out, err, errlen, "Redis URL query or fragment (\"%.20s\") is not supported",
                      p);
    if (*p != '\0')
        return refuse(out, err, errlen, "Redis URL has unexpected text \"%.20s\" after the host",
                      p);
    return 0;

bad_escape:
    return refuse(out, err, errlen, "Redis URL user info has a bad %%-escape");
}

void redis_url_copy(redis_url_t *dst, const redis_url_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->host = src->host ? xstrdup(src->host) : NULL;
    dst->user = src->user ? xstrdup(src->user) : NULL;
    dst->password = src->password ? xstrdup(src->password) : NULL;
    dst->port = src->port;
    dst->db = src->db;
    dst->kind = src->kind;
    dst->master = src->master ? xstrdup(src->master) : NULL;
    if (src->n_addrs) {
        dst->addrs = xcalloc(src->n_addrs, sizeof *dst->addrs);
        for (size_t i = 0; i < src->n_addrs; i++) {
            dst->addrs[i].host = xstrdup(src->addrs[i].host);
            dst->addrs[i].port = src->addrs[i].port;
        }
        dst->n_addrs = src->n_addrs;
    }
}

void redis_url_free(redis_url_t *u)
{
    if (!u) return;
    free(u->host);
    free(u->user);
    if (u->password) memset(u->password, 0, strlen(u->password));
    free(u->password);
    for (size_t i = 0; i < u->n_addrs; i++) free(u->addrs[i].host);
    free(u->addrs);
    free(u->master);
    memset(u, 0, sizeof *u);
}
