/* API key parsing and constant-time lookup (see auth.h). */
#include "auth.h"
#include "alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int scope_of(const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "read", 4) == 0) return API_SCOPE_READ;
    if (n == 5 && memcmp(s, "admin", 5) == 0) return API_SCOPE_ADMIN;
    return -1;
}

/* Checks a key's characters: printable ASCII without spaces, and the length bounds. Returns
 * NULL or the reason. */
static const char *key_problem(const char *k, size_t n)
{
    if (n < AUTH_KEY_MIN) return "key too short (at least 16 characters)";
    if (n > AUTH_KEY_MAX) return "key too long (at most 256 characters)";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f)
            return "key has a character that is not printable ASCII";
    return NULL;
}

typedef struct {
    auth_key_t *keys;
    size_t n, cap;
} keylist_t;

/* Appends a key; returns NULL or the reason it is refused (duplicates included). */
static const char *add_key(const auth_t *have, keylist_t *l, const char *k, size_t kn,
                           const char *s, size_t sn)
{
    const char *why = key_problem(k, kn);
    if (why) return why;
    int scope = scope_of(s, sn);
    if (scope < 0) return "scope must be read or admin";
    if (auth_lookup(have, k, kn) >= 0) return "duplicate key";
    for (size_t i = 0; i < l->n; i++)
        if (l->keys[i].len == kn && memcmp(l->keys[i].key, k, kn) == 0) return "duplicate key";
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->keys = xrealloc(l->keys, l->cap * sizeof *l->keys);
    }
    auth_key_t *e = &l->keys[l->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->key, k, kn);
    e->len = kn;
    e->scope = (api_scope_t)scope;
    return NULL;
}

static int commit(auth_t *a, keylist_t *l)
{
    if (l->n) {
        a->keys = xrealloc(a->keys, (a->nkeys + l->n) * sizeof *a->keys);
        memcpy(a->keys + a->nkeys, l->keys, l->n * sizeof *l->keys);
        a->nkeys += l->n;
    }
    int n = (int)l->n;
    free(l->keys);
    return n;
}

static int fail(keylist_t *l)
{
    if (l->keys) memset(l->keys, 0, l->cap * sizeof *l->keys);
    free(l->keys);
    return -1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int auth_parse_file_text(auth_t *a, const char *text, size_t len, char *err, size_t errlen)
{
    keylist_t l = {NULL, 0, 0};
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        size_t i = 0;
        while (i < n && is_blank(line[i])) i++;
        if (i == n || line[i] == '#') continue;
        if (memchr(line, '\0', n)) {
            seterr(err, errlen, "line %zu: NUL byte", lineno);
            return fail(&l);
        }
        size_t ks = i;
        while (i < n && !is_blank(line[i])) i++;
        size_t kn = i - ks;
        while (i < n && is_blank(line[i])) i++;
        size_t ss = i;
        while (i < n && !is_blank(line[i])) i++;
        size_t sn = i - ss;
        while (i < n && is_blank(line[i])) i++;
        if (sn == 0) {
            seterr(err, errlen, "line %zu: expected \"<key> <scope>\"", lineno);
            return fail(&l);
        }
        if (i < n) {
            seterr(err, errlen, "line %zu: unexpected text after the scope", lineno);
            return fail(&l);
        }
        const char *why = add_key(a, &l, line + ks, kn, line + ss, sn);
        if (why) {
            seterr(err, errlen, "line %zu: %s", lineno, why);
            return fail(&l);
        }
    }
    return commit(a, &l);
}

int auth_load_file(auth_t *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                fclose(f);
                free(buf);
                seterr(err, errlen, "%s: larger than 1 MiB", path);
                return -1;
            }
            cap = cap ? cap * 2 : 4096;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        seterr(err, errlen, "%s: read error", path);
        return -1;
    }
    char why[200];
    int n = auth_parse_file_text(a, buf, len, why, sizeof why);
    memset(buf, 0, len);
    free(buf);
    if (n < 0) seterr(err, errlen, "%s: %s", path, why);
    return n;
}

int auth_parse_env(auth_t *a, const char *value, char *err, size_t errlen)
{
    keylist_t l = {NULL, 0, 0};
    size_t entry = 0;
    for (const char *p = value; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        p += n + (e ? 1 : 0);
        entry++;
        while (n && is_blank(*s)) s++, n--;
        while (n && is_blank(s[n - 1])) n--;
        if (n == 0) {
            if (!e && entry > 1) break; /* a trailing comma */
            seterr(err, errlen, "entry %zu: empty", entry);
            return fail(&l);
        }
        const char *colon = NULL;
        for (size_t i = n; i > 0; i--)
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        if (!colon) {
            seterr(err, errlen, "entry %zu: expected key:scope", entry);
            return fail(&l);
        }
        const char *why =
            add_key(a, &l, s, (size_t)(colon - s), colon + 1, n - (size_t)(colon - s) - 1);
        if (why) {
            seterr(err, errlen, "entry %zu: %s", entry, why);
            return fail(&l);
        }
    }
    return commit(a, &l);
}

int auth_lookup(const auth_t *a, const char *key, size_t len)
{
    /* The presented key is copied into a fixed-size zero-padded buffer and compared with every
     * key over the full AUTH_KEY_MAX bytes, without branching on the contents. */
    unsigned char cand[AUTH_KEY_MAX];
    memset(cand, 0, sizeof cand);
    size_t cl = len <= AUTH_KEY_MAX ? len : AUTH_KEY_MAX;
    memcpy(cand, key, cl);
    unsigned too_long = len > AUTH_KEY_MAX;
    int found = -1;
    for (size_t k = 0; k < a->nkeys; k++) {
        const auth_key_t *e = &a->keys[k];
        unsigned diff = too_long;
        diff |= (unsigned)(e->len ^ len);
        for (size_t i = 0; i < AUTH_KEY_MAX; i++) diff |= e->key[i] ^ cand[i];
        /* mask is all ones when diff is 0, else 0 */
        unsigned mask = (unsigned)(((uint64_t)diff - 1) >> 32) & 1u;
        mask = 0u - mask;
        found = (int)(((unsigned)found & ~mask) | ((unsigned)e->scope & mask));
    }
    memset(cand, 0, sizeof cand);
    return found;
}

int auth_bearer(const char *header, const char **key, size_t *len)
{
    if (!header) return -1;
    while (*header == ' ' || *header == '\t') header++;
    if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t')) return -1;
    const char *k = header + 7;
    while (*k == ' ' || *k == '\t') k++;
    size_t n = strlen(k);
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) n--;
    if (n == 0) return -1;
    *key = k;
    *len = n;
    return 0;
}

void auth_free(auth_t *a)
{
    if (a->keys) memset(a->keys, 0, a->nkeys * sizeof *a->keys);
    free(a->keys);
    a->keys = NULL;
    a->nkeys = 0;
}
