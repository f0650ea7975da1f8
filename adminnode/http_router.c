/* Route matching over the table of http_router.h: segment by segment, literal or {param},
 * with percent-decoding of parameter values, and the checks of parameter values against the
 * rules the table documents. */
#include "http_router.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *http_router_scope_name(api_scope_t s)
{
    switch (s) {
    case API_SCOPE_NONE: return "none";
    case API_SCOPE_READ: return "read";
    case API_SCOPE_ADMIN: return "admin";
    }
    return "?";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long http_router_percent_decode(const char *src, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') return -1;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return (long)o;
}

/* The next segment of a path after position *p (which points at '/'): sets *seg and *len and
 * moves *p to the following '/' or the end. Returns 0, or -1 at the end of the path. */
static int next_segment(const char **p, const char **seg, size_t *len)
{
    if (**p != '/') return -1;
    const char *s = *p + 1;
    const char *e = strchr(s, '/');
    if (!e) e = s + strlen(s);
    *seg = s;
    *len = (size_t)(e - s);
    *p = e;
    return 0;
}

int http_router_pattern_valid(const char *pattern)
{
    if (!pattern || pattern[0] != '/') return -1;
    if (pattern[1] == '\0') return 0;
    const char *p = pattern, *seg;
    size_t len, nparams = 0;
    while (next_segment(&p, &seg, &len) == 0) {
        if (len == 0) return -1;
        if (seg[0] == '{' || memchr(seg, '{', len) || memchr(seg, '}', len)) {
            if (len < 3 || seg[0] != '{' || seg[len - 1] != '}') return -1;
            if (len - 2 >= sizeof((route_match_t *)0)->names[0]) return -1; /* kept whole */
            for (size_t i = 1; i + 1 < len; i++)
                if (!((seg[i] >= 'a' && seg[i] <= 'z') || seg[i] == '_')) return -1;
            if (++nparams > API_MAX_PARAMS) return -1;
        }
    }
    return 0;
}

/* Matches path against pattern; on success records the parameters into m (values decoded into
 * m->buf, which has room for the whole path; a value that does not decode is recorded as ""
 * and named by m->bad). Returns 1 on a match, else 0. */
static int match_one(const char *pattern, const char *path, route_match_t *m)
{
    const char *pp = pattern, *sp = path;
    const char *pseg, *sseg;
    size_t plen, slen, used = 0;
    m->nparams = 0;
    m->bad = -1;
    if (strcmp(pattern, "/") == 0) return strcmp(path, "/") == 0;
    for (;;) {
        int pend = next_segment(&pp, &pseg, &plen) < 0;
        int send = next_segment(&sp, &sseg, &slen) < 0;
        if (pend || send) return pend && send;
        if (plen >= 2 && pseg[0] == '{') {
            if (slen == 0) return 0;
            char *dst = m->buf + used;
            long n = http_router_percent_decode(sseg, slen, dst);
            if (n < 0) {
                if (m->bad < 0) m->bad = (int)m->nparams;
                n = 0;
                dst[0] = '\0';
            }
            m->values[m->nparams++] = dst;
            used += (size_t)n + 1;
        } else if (plen != slen || memcmp(pseg, sseg, slen) != 0) {
            return 0;
        }
    }
}

/* Copies the {name}s of pattern into m->names, in order. */
static void set_names(const char *pattern, route_match_t *m)
{
    const char *p = pattern, *seg;
    size_t len, i = 0;
    while (next_segment(&p, &seg, &len) == 0 && i < m->nparams) {
        if (len >= 2 && seg[0] == '{') {
            size_t n = len - 2 < sizeof m->names[i] - 1 ? len - 2 : sizeof m->names[i] - 1;
            memcpy(m->names[i], seg + 1, n);
            m->names[i][n] = '\0';
            i++;
        }
    }
}

static int same_method(const char *want, const char *method)
{
    if (strcmp(want, method) == 0) return 1;
    return strcmp(method, "HEAD") == 0 && strcmp(want, "GET") == 0;
}

route_result_t http_router_match(const api_router_t *r, const char *method, const char *path,
                                 route_match_t *m)
{
    memset(m, 0, sizeof *m);
    m->buf = xmalloc(strlen(path) + 1);
    int path_seen = 0;
    for (size_t i = 0; i < r->nroutes; i++) {
        const api_route_t *rt = &r->routes[i];
        if (!match_one(rt->pattern, path, m)) continue;
        if (same_method(rt->method, method)) {
            m->route = rt;
            set_names(rt->pattern, m);
            return m->bad < 0 ? ROUTE_FOUND : ROUTE_BAD_PARAM;
        }
        /* Allow lists each method once. */
        size_t al = strlen(m->allow), ml = strlen(rt->method);
        int dup = 0;
        for (const char *a = m->allow; (a = strstr(a, rt->method)) != NULL; a += ml)
            if ((a == m->allow || a[-1] == ' ') && (a[ml] == ',' || a[ml] == '\0')) dup = 1;
        if (!dup && al + ml + 3 < sizeof m->allow) {
            if (al) strcat(m->allow, ", ");
            strcat(m->allow, rt->method);
        }
        path_seen = 1;
    }
    m->nparams = 0;
    m->bad = -1;
    return path_seen ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

const char *http_router_param(const route_match_t *m, const char *name)
{
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->names[i], name) == 0) return m->values[i];
    return NULL;
}

void http_router_match_free(route_match_t *m)
{
    free(m->buf);
    m->buf = NULL;
}

api_param_check_fn http_router_param_check(const api_route_t *rt, const char *in, const char *name)
{
    for (size_t i = 0; i < API_MAX_DOCS && rt->params[i].name; i++)
        if (strcmp(rt->params[i].name, name) == 0 && strcmp(rt->params[i].in, in) == 0)
            return rt->params[i].check;
    return NULL;
}

int http_router_check_params(const route_match_t *m, const char **name, char *why, size_t whylen)
{
    for (size_t i = 0; i < m->nparams; i++) {
        const char *v = m->values[i];
        size_t len = strlen(v);
        api_param_check_fn check =
            m->route ? http_router_param_check(m->route, "path", m->names[i]) : NULL;
        if (api_check_text(v, len, why, whylen) < 0 || (check && check(v, len, why, whylen) < 0)) {
            *name = m->names[i];
            return -1;
        }
    }
    return 0;
}

int http_router_check_query(const api_route_t *rt, const char *name, const char *value, size_t len,
                            char *why, size_t whylen)
{
    if (api_check_text(value, len, why, whylen) < 0) return -1;
    api_param_check_fn check = http_router_param_check(rt, "query", name);
    return check && len > 0 ? check(value, len, why, whylen) : 0;
}
