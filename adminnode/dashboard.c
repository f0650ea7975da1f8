/* Dashboard files from the --static directory (see dashboard.h). */
#include "dashboard.h"
#include "alloc.h"
#include "http_router.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

int dashboard_read(const char *root, const char *path, char **body, size_t *len, const char **ctype)
{
    size_t plen = strlen(path);
    if (path[0] != '/' || plen > 1024) return 400;
    char rel[1100];
    long n = percent_decode(path, plen, rel);
    if (n < 0 || strchr(rel, '\\')) return 400;
    /* No "." or ".." segments, no hidden names. */
    for (const char *p = rel; *p;) {
        while (*p == '/') p++;
        const char *e = strchr(p, '/');
        size_t sl = e ? (size_t)(e - p) : strlen(p);
        if (sl && p[0] == '.') return 404;
        p += sl;
    }
    if (rel[n - 1] == '/') strcat(rel, "index.html");

    char rroot[PATH_MAX], full[PATH_MAX * 2], rfull[PATH_MAX];
    if (!realpath(root, rroot)) return 404;
    snprintf(full, sizeof full, "%s%s", rroot, rel);
    if (!realpath(full, rfull)) return 404;
    size_t rl = strlen(rroot);
    if (strncmp(rfull, rroot, rl) != 0 || (rfull[rl] != '/' && rroot[rl - 1] != '/')) return 404;

    int fd = open(rfull, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 404;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > DASHBOARD_MAX_FILE) {
        close(fd);
        return 404;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = xmalloc(size ? size : 1);
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *body = buf;
    *len = got;
    *ctype = content_type(rfull);
    return 0;
}
