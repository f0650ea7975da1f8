/* Static request paths (see static_path.h). */
#include "static_path.h"

#include <stdio.h>
#include <string.h>

int static_path_check(const char *uri, char *rel, size_t cap)
{
    if (uri[0] != '/' || strchr(uri, '\\')) return -1;
    int hidden = 0;
    /* Every segment: "." and ".." are refused (HTTP libraries may fold them already; a client
     * that sends them anyway is not a browser), other names starting with '.' are hidden. */
    for (const char *p = uri; *p;) {
        while (*p == '/') p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return -1;
        if (n && p[0] == '.') hidden = 1;
        p += n;
    }
    const char *s = uri;
    while (*s == '/') s++;
    size_t n = strlen(s);
    int dir = n == 0 || s[n - 1] == '/';
    int w = snprintf(rel, cap, "%s%s", s, dir ? "index.html" : "");
    if (w < 0 || (size_t)w >= cap) return -1;
    return hidden ? -2 : 0;
}
