/* libFuzzer driver: adminnode's router (http_router_match, http_router_param, the parameter
 * checks), http_router_percent_decode and http_router_pattern_valid on any request line. The
 * outcome is compared with the rule written out here: the first route whose segments match and
 * whose method fits wins, parameters are the decoded segments, and an encoded value matches
 * back to itself. */
#include "api.h"
#include "api_cluster.h"
#include "http_router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void handler(api_request_t *req)
{
    (void)req;
}

/* Patterns the real table lacks: the root, and several parameters in one path. */
static const api_route_t extra_routes[] = {
    {.method = "GET", .pattern = "/", .handler = handler},
    {.method = "GET", .pattern = "/a/{x}/b/{y}", .handler = handler},
    {.method = "PUT", .pattern = "/a/{x}/b/{y}", .handler = handler},
    {.method = "POST", .pattern = "/{p}/{q}/{r}/{s}", .handler = handler},
    {.method = "DELETE", .pattern = "/a/{x}/{x}", .handler = handler},
};

static const char *const methods[] = {"GET", "POST", "HEAD", "DELETE", "PUT", "get", "", "PATCH"};

/* A path's segments as next_segment reads them: none unless it starts with '/', then each
 * run between slashes (empty ones included). Returns the count, at most max. */
static size_t segments(const char *path, const char **seg, size_t *len, size_t max)
{
    size_t n = 0;
    if (path[0] != '/') return 0;
    const char *p = path;
    while (*p == '/' && n < max) {
        const char *s = p + 1;
        size_t k = strcspn(s, "/");
        seg[n] = s;
        len[n++] = k;
        p = s + k;
    }
    return n;
}

#define MAXSEG 64

static int is_param(const char *seg, size_t len)
{
    return len >= 2 && seg[0] == '{';
}

/* Does pattern match path, segment for segment (a {param} takes one non-empty segment)? */
static int matches(const char *pattern, const char *path)
{
    if (strcmp(pattern, "/") == 0) return strcmp(path, "/") == 0;
    const char *ps[MAXSEG], *ss[MAXSEG];
    size_t pl[MAXSEG], sl[MAXSEG];
    size_t np = segments(pattern, ps, pl, MAXSEG), ns = segments(path, ss, sl, MAXSEG);
    if (np != ns || ns == MAXSEG) return 0;
    for (size_t i = 0; i < np; i++) {
        if (is_param(ps[i], pl[i])) {
            if (sl[i] == 0) return 0;
        } else if (pl[i] != sl[i] || memcmp(ps[i], ss[i], sl[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static int method_fits(const char *want, const char *method)
{
    return strcmp(want, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(want, "GET") == 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* http_router_percent_decode's rule written out: -1 for a '%' without two hex digits or a NUL
 * result. */
static long ref_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) return -1;
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        }
        if (c == 0) return -1;
        out[o++] = (char)c;
    }
    return (long)o;
}

static void check_decode(const char *s, size_t n)
{
    char *a = malloc(n + 1), *b = malloc(n + 1);
    long rc = http_router_percent_decode(s, n, a), want = ref_decode(s, n, b);
    if (rc != want) abort();
    if (rc >= 0) {
        if (a[rc] != '\0' || memcmp(a, b, (size_t)rc) != 0) abort();
        /* every byte escaped decodes back to the same bytes */
        char *enc = malloc((size_t)rc * 3 + 1), *again = malloc((size_t)rc + 1);
        static const char hex[] = "0123456789ABCDEF";
        for (long i = 0; i < rc; i++) {
            enc[3 * i] = '%';
            enc[3 * i + 1] = hex[(unsigned char)a[i] >> 4];
            enc[3 * i + 2] = hex[(unsigned char)a[i] & 15];
        }
        if (http_router_percent_decode(enc, (size_t)rc * 3, again) != rc ||
            memcmp(again, a, (size_t)rc))
            abort();
        free(enc);
        free(again);
    }
    free(a);
    free(b);
}

/* A path whose {param} segments hold every byte of the decoded values escaped. */
static char *encode_path(const api_route_t *rt, const route_match_t *m)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t cap = strlen(rt->pattern) + 1;
    for (size_t i = 0; i < m->nparams; i++) cap += strlen(m->values[i]) * 3;
    char *out = malloc(cap), *o = out;
    const char *ps[MAXSEG];
    size_t pl[MAXSEG], np = segments(rt->pattern, ps, pl, MAXSEG), k = 0;
    if (strcmp(rt->pattern, "/") == 0) np = 0, *o++ = '/';
    for (size_t i = 0; i < np; i++) {
        *o++ = '/';
        if (is_param(ps[i], pl[i])) {
            for (const char *v = m->values[k++]; *v; v++) {
                *o++ = '%';
                *o++ = hex[(unsigned char)*v >> 4];
                *o++ = hex[(unsigned char)*v & 15];
            }
        } else {
            memcpy(o, ps[i], pl[i]);
            o += pl[i];
        }
    }
    *o = '\0';
    return out;
}

static void check_match(const api_router_t *r, const char *method, const char *path)
{
    route_match_t m;
    route_result_t rc = http_router_match(r, method, path, &m);
    size_t first = r->nroutes, any = r->nroutes;
    char allow[64] = "";
    int allow_full = 0;
    for (size_t i = 0; i < r->nroutes; i++) {
        if (!matches(r->routes[i].pattern, path)) continue;
        if (any == r->nroutes) any = i;
        if (method_fits(r->routes[i].method, method)) {
            first = i;
            break;
        }
        if (strstr(allow, r->routes[i].method)) continue; /* the test tables have no prefixes */
        size_t al = strlen(allow), ml = strlen(r->routes[i].method);
        if (al + ml + 3 < sizeof allow) {
            if (al) strcat(allow, ", ");
            strcat(allow, r->routes[i].method);
        } else {
            allow_full = 1;
        }
    }

    if (first < r->nroutes) {
        const api_route_t *rt = &r->routes[first];
        if ((rc != ROUTE_FOUND && rc != ROUTE_BAD_PARAM) || m.route != rt) abort();
        const char *ps[MAXSEG], *ss[MAXSEG];
        size_t pl[MAXSEG], sl[MAXSEG];
        size_t np = segments(rt->pattern, ps, pl, MAXSEG);
        segments(path, ss, sl, MAXSEG);
        size_t k = 0;
        int bad = -1;
        for (size_t i = 0; i < np && strcmp(rt->pattern, "/"); i++) {
            if (!is_param(ps[i], pl[i])) continue;
            if (k >= m.nparams) abort();
            if (strlen(m.names[k]) != pl[i] - 2 || memcmp(m.names[k], ps[i] + 1, pl[i] - 2))
                abort();
            char *want = malloc(sl[i] + 1);
            long n = ref_decode(ss[i], sl[i], want);
            if (n < 0) {
                if (bad < 0) bad = (int)k;
                if (m.values[k][0] != '\0') abort();
            } else if (strlen(m.values[k]) != (size_t)n || memcmp(m.values[k], want, (size_t)n)) {
                abort();
            }
            free(want);
            /* http_router_param finds the first parameter of that name */
            const char *v = http_router_param(&m, m.names[k]);
            size_t j = 0;
            while (strcmp(m.names[j], m.names[k]) != 0) j++;
            if (v != m.values[j]) abort();
            k++;
        }
        if (k != m.nparams || m.bad != bad || (rc == ROUTE_FOUND) != (bad < 0)) abort();
        if (http_router_param(&m, "no such parameter") != NULL) abort();

        if (rc == ROUTE_FOUND) {
            /* the values, escaped again, lead to the same route and values */
            char *again = encode_path(rt, &m);
            route_match_t m2;
            if (http_router_match(r, method, again, &m2) != ROUTE_FOUND || m2.route != rt ||
                m2.nparams != m.nparams)
                abort();
            for (size_t i = 0; i < m.nparams; i++)
                if (strcmp(m2.values[i], m.values[i]) != 0) abort();
            http_router_match_free(&m2);
            free(again);

            /* the parameter checks: 0 exactly when each value is text and passes its rule */
            const char *name = NULL;
            char why[128] = "";
            int want = 0;
            for (size_t i = 0; i < m.nparams && !want; i++) {
                char w[128];
                const char *v = m.values[i];
                api_param_check_fn f = http_router_param_check(rt, "path", m.names[i]);
                if (api_check_text(v, strlen(v), w, sizeof w) < 0 ||
                    (f && f(v, strlen(v), w, sizeof w) < 0))
                    want = -1;
            }
            int got = http_router_check_params(&m, &name, why, sizeof why);
            if (got != want || (got < 0 && (!name || !why[0]))) abort();
            for (size_t i = 0; i < m.nparams; i++) {
                int q = http_router_check_query(rt, "namespace", m.values[i], strlen(m.values[i]),
                                                why, sizeof why);
                if (q != 0 && q != -1) abort();
            }
        }
    } else if (any < r->nroutes) {
        if (rc != ROUTE_BAD_METHOD || m.route || m.nparams) abort();
        if (!allow_full && strcmp(m.allow, allow) != 0) abort();
        if (!m.allow[0] || strstr(m.allow, "HEAD")) abort();
    } else {
        if (rc != ROUTE_NOT_FOUND || m.route || m.nparams || m.allow[0]) abort();
    }
    http_router_match_free(&m);
    if (m.buf) abort();
}

/* A pattern the router accepts matches its own text, each {name} standing for itself. */
static void check_pattern(const char *pattern)
{
    if (http_router_pattern_valid(pattern) < 0) return;
    api_route_t rt = {.method = "GET", .pattern = pattern, .handler = handler};
    api_router_t one = {&rt, 1};
    route_match_t m;
    route_result_t rc = http_router_match(&one, "GET", pattern, &m);
    if (rc != ROUTE_FOUND) abort();
    size_t cap = 1; /* every segment, however many: a {name} may come after the 64th */
    for (const char *c = pattern; *c; c++) cap += *c == '/';
    const char **ps = malloc(cap * sizeof *ps);
    size_t *pl = malloc(cap * sizeof *pl);
    size_t np = segments(pattern, ps, pl, cap), k = 0;
    for (size_t i = 0; i < np && strcmp(pattern, "/"); i++) {
        if (!is_param(ps[i], pl[i])) continue;
        if (k >= m.nparams || strlen(m.values[k]) != pl[i] || memcmp(m.values[k], ps[i], pl[i]))
            abort();
        /* each parameter is found under the name its pattern gives it */
        char name[300];
        if (pl[i] - 2 >= sizeof name) abort();
        memcpy(name, ps[i] + 1, pl[i] - 2);
        name[pl[i] - 2] = '\0';
        if (!http_router_param(&m, name)) abort();
        k++;
    }
    if (k != m.nparams || k > API_MAX_PARAMS) abort();
    http_router_match_free(&m);
    free(ps);
    free(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static api_route_t *all;
    static api_router_t real, extra = {extra_routes, sizeof extra_routes / sizeof extra_routes[0]};
    if (!all) { /* the table adminnode's main assembles */
        all = malloc((api_nroutes + api_cluster_nroutes) * sizeof *all);
        memcpy(all, api_routes, api_nroutes * sizeof *all);
        memcpy(all + api_nroutes, api_cluster_routes, api_cluster_nroutes * sizeof *all);
        real = (api_router_t){all, api_nroutes + api_cluster_nroutes};
    }
    if (size == 0) return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    const char *raw = (const char *)data + 1;
    size_t n = size - 1;
    check_decode(raw, n);

    char *path = malloc(n + 1); /* the request path is a C string, without its query */
    memcpy(path, raw, n);
    path[n] = '\0';
    check_match(&real, method, path);
    check_match(&extra, method, path);
    check_pattern(path);
    free(path);
    return 0;
}
