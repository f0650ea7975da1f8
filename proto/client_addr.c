/* Client addresses, trusted proxy lists and X-Forwarded-For (see client_addr.h). */
#include "client_addr.h"
#include "alloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void from_v4(const uint8_t v4[4], client_addr_t *out)
{
    memcpy(out->b, v4_prefix, 12);
    memcpy(out->b + 12, v4, 4);
}

int client_addr_is_v4(const client_addr_t *a)
{
    return memcmp(a->b, v4_prefix, 12) == 0;
}

int client_addr_parse(const char *s, size_t len, client_addr_t *out)
{
    char text[INET6_ADDRSTRLEN + 2];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
        if (memchr(s, ':', len) == NULL) return -1; /* brackets hold IPv6 only */
    }
    if (len == 0 || len >= sizeof text || memchr(s, '\0', len)) return -1; /* the whole text */
    memcpy(text, s, len);
    text[len] = '\0';
    uint8_t raw[16];
    if (inet_pton(AF_INET, text, raw) == 1) {
        from_v4(raw, out);
        return 0;
    }
    if (inet_pton(AF_INET6, text, raw) == 1) {
        memcpy(out->b, raw, 16);
        return 0;
    }
    return -1;
}

int client_addr_from_sockaddr(const struct sockaddr *sa, client_addr_t *out)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        from_v4((const uint8_t *)&in->sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    memset(out, 0, sizeof *out);
    return -1;
}

const char *client_addr_format(const client_addr_t *a, char *buf, size_t len)
{
    if (len) buf[0] = '\0';
    const char *r = client_addr_is_v4(a) ? inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len)
                                         : inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
    if (!r && len) buf[0] = '\0';
    return buf;
}

void client_addr_limit_key(const client_addr_t *a, client_addr_t *key)
{
    *key = *a;
    if (!client_addr_is_v4(a)) memset(key->b + 8, 0, 8);
}

/* Clears the bits of a after the first bits. */
static void mask(client_addr_t *a, unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        a->b[i] &= (uint8_t)(0xff00u >> keep);
    }
}

static int cidr_parse(const char *s, size_t len, client_cidr_t *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (client_addr_parse(s, alen, &out->net) < 0) return -1;
    int v4 = client_addr_is_v4(&out->net) && memchr(s, ':', alen) == NULL;
    unsigned max = v4 ? 32 : 128, bits = max;
    if (slash) {
        const char *p = slash + 1, *end = s + len;
        if (p == end || end - p > 3) return -1;
        bits = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9') return -1;
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (bits > max) return -1;
    }
    if (v4) bits += 96;
    out->bits = (uint8_t)bits;
    mask(&out->net, bits);
    return 0;
}

int client_cidrs_parse(const char *text, client_cidrs_t *out, char *err, size_t errlen)
{
    out->v = NULL;
    out->n = 0;
    size_t cap = 0;
    for (const char *p = text ? text : ""; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if (t > p) {
            client_cidr_t c;
            if (cidr_parse(p, (size_t)(t - p), &c) < 0) {
                snprintf(err, errlen, "not an address or CIDR: \"%.*s\"", (int)(t - p), p);
                client_cidrs_free(out);
                return -1;
            }
            if (out->n == cap) {
                cap = cap ? cap * 2 : 4;
                out->v = xrealloc(out->v, cap * sizeof *out->v);
            }
            out->v[out->n++] = c;
        }
        p = e;
    }
    return 0;
}

void client_cidrs_free(client_cidrs_t *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int client_cidrs_match(const client_cidrs_t *l, const client_addr_t *a)
{
    for (size_t i = 0; i < l->n; i++) {
        client_addr_t m = *a;
        mask(&m, l->v[i].bits);
        if (memcmp(m.b, l->v[i].net.b, 16) == 0) return 1;
    }
    return 0;
}

int client_addr_from_xff(const client_cidrs_t *trusted, const char *xff, size_t len,
                         client_addr_t *out)
{
    client_addr_t a;
    for (const char *end = xff + len;;) {
        const char *start = end;
        while (start > xff && start[-1] != ',') start--;
        const char *p = start, *q = end;
        while (p < q && (*p == ' ' || *p == '\t')) p++;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t')) q--;
        if (client_addr_parse(p, (size_t)(q - p), &a) < 0) return -1;
        /* the first one not trusted, or the left-most when every one is a proxy */
        if (!client_cidrs_match(trusted, &a) || start == xff) break;
        end = start - 1;
    }
    *out = a;
    return 0;
}

void client_addr_resolve(const client_cidrs_t *trusted, const client_addr_t *peer, const char *xff,
                         size_t xff_len, client_addr_t *out)
{
    *out = *peer;
    if (!xff || !trusted->n || !client_cidrs_match(trusted, peer)) return;
    client_addr_from_xff(trusted, xff, xff_len, out);
}
