/* libFuzzer driver: the static path check (static_path_check) on any decoded request
 * path, with output buffers of every size. What it accepts names a file below the root: no
 * leading '/', no "." or ".." segment, no backslash, exactly the path's own text. */
#include "static_mime.h"
#include "static_path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Would the path, as the check reads it (up to its first NUL), be accepted with room enough?
 * Returns -1 (malformed), -2 (hidden) or 0, from the rule written out segment by segment. */
static int expected(const char *uri)
{
    if (uri[0] != '/' || strchr(uri, '\\')) return -1;
    int hidden = 0;
    const char *p = uri;
    while (*p) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        if (n == 1 && p[0] == '.') return -1;
        if (n == 2 && p[0] == '.' && p[1] == '.') return -1;
        if (n && p[0] == '.') hidden = 1;
        p += n;
    }
    return hidden ? -2 : 0;
}

/* Checks one call with an output of cap bytes (a canary follows it). */
static void check(const char *uri, size_t cap)
{
    char *rel = malloc(cap + 1);
    memset(rel, 0x5a, cap + 1);
    int rc = static_path_check(uri, rel, cap);
    if (rel[cap] != 0x5a) abort(); /* never writes past cap */
    int want = expected(uri);
    const char *s = uri;
    while (*s == '/') s++;
    size_t n = strlen(s);
    int dir = n == 0 || s[n - 1] == '/';
    size_t need = n + (dir ? strlen("index.html") : 0);
    if (want == -1) {
        if (rc != -1) abort();
    } else if (need >= cap) {
        if (rc != -1) abort(); /* too long for the buffer: refused, never cut */
    } else {
        if (rc != want) abort();
        if (strlen(rel) != need || memcmp(rel, s, n) != 0) abort();
        if (dir && strcmp(rel + n, "index.html") != 0) abort();
        if (rel[0] == '/' || strstr(rel, "\\")) abort();
        /* no segment of what is opened climbs out */
        for (const char *p = rel; *p;) {
            size_t k = strcspn(p, "/");
            if ((k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.')) abort();
            if (rc == 0 && k && p[0] == '.') abort();
            p += k;
            if (*p) p++;
        }
    }
    free(rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The path is a C string: lws hands the decoded URI without its query. */
    char *uri = malloc(size + 1);
    memcpy(uri, data, size);
    uri[size] = '\0';
    size_t len = strlen(uri);
    check(uri, 4096);
    check(uri, len + 1);  /* room for the path, not for an added index.html */
    check(uri, len + 11); /* room for both */
    check(uri, len ? len : 1);
    check(uri, 1);
    check(uri, 0);

    /* The Content-Type comes from a fixed table: a static, non-empty string. */
    const char *type = static_mime_type(uri);
    if (!type || !*type || strchr(type, '\n')) abort();
    free(uri);
    return 0;
}
