/* Static files of the --static directory over HTTP GET and HEAD. Each request resolves its
 * path with realpath() and serves it only if the result is still inside the resolved root, so
 * neither "..", nor an absolute path, nor a symlink leads out of it. */
#include "static_files.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
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
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

const char *static_content_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    if (dot && dot[1]) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
    }
    return "application/octet-stream";
}

int static_path_check(const char *uri, char *rel, size_t cap)
{
    if (uri[0] != '/' || strchr(uri, '\\')) return -1;
    int hidden = 0;
    /* Every segment: "." and ".." are refused (lws already folds them, a client that sends
     * them anyway is not a browser), other names starting with '.' are hidden. */
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

static int is_head(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
}

/* A reply whose body is a short message; HEAD gets its headers only. */
static void reply_text(struct lws *wsi, conn_t *c, int head, unsigned status, const char *text)
{
    if (head)
        conn_reply_head(wsi, c, status, NULL, strlen(text));
    else
        conn_reply(wsi, c, status, NULL, text, strlen(text));
}

/* Did the path hold a NUL (%00)? lws decodes it into the URI and counts the bytes after it, so
 * it shows as a length beyond strlen(). (A NUL inside a segment makes lws drop the connection
 * itself; one at the very end leaves nothing behind it and names what the path before it does.) */
static int uri_has_nul(struct lws *wsi, const char *uri, int head)
{
    int total = lws_hdr_total_length(wsi, head ? WSI_TOKEN_HEAD_URI : WSI_TOKEN_GET_URI);
    return total > 0 && (size_t)total != strlen(uri);
}

/* Reads the regular file fd of size bytes whole; returns the bytes (caller frees) or NULL. */
static char *read_all(int fd, size_t size)
{
    char *buf = xmalloc(size ? size : 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

void static_files_serve(struct lws *wsi, conn_t *c, const char *root, const char *uri)
{
    int head = is_head(wsi);
    if (!head && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        /* A body may follow other methods; the connection ends with the answer. */
        c->close_after = 1;
        c->revalidate = 1;
        conn_reply(wsi, c, 405, NULL, "Method Not Allowed", 18);
        return;
    }
    c->revalidate = 1;
    char rel[PATH_MAX];
    int rc = uri_has_nul(wsi, uri, head) ? -1 : static_path_check(uri, rel, sizeof rel);
    if (rc == -1) {
        reply_text(wsi, c, head, 400, "Bad Request");
        return;
    }
    if (rc < 0) {
        reply_text(wsi, c, head, 404, "Not Found");
        return;
    }

    char base[PATH_MAX], want[PATH_MAX], real[PATH_MAX];
    if (!realpath(root, base)) {
        log_warn("static directory unusable", "dir=\"%s\" error=\"%s\"", root, strerror(errno));
        reply_text(wsi, c, head, 404, "Not Found");
        return;
    }
    size_t blen = strlen(base);
    int n = snprintf(want, sizeof want, "%s/%s", base, rel);
    if (n < 0 || (size_t)n >= sizeof want || !realpath(want, real) ||
        strncmp(real, base, blen) != 0 || (blen > 1 && real[blen] != '/')) {
        reply_text(wsi, c, head, 404, "Not Found");
        return;
    }

    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        reply_text(wsi, c, head, 404, "Not Found");
        return;
    }
    if ((unsigned long long)st.st_size > STATIC_MAX_FILE) {
        close(fd);
        log_warn("static file too large", "path=\"%s\" size=%lld max=%u", real,
                 (long long)st.st_size, STATIC_MAX_FILE);
        reply_text(wsi, c, head, 500, "File too large to serve");
        return;
    }
    const char *type = static_content_type(real);
    size_t size = (size_t)st.st_size;
    if (head) {
        close(fd);
        conn_reply_head(wsi, c, 200, type, size);
        return;
    }
    char *body = read_all(fd, size);
    close(fd);
    if (!body) {
        log_warn("static file unreadable", "path=\"%s\"", real);
        conn_reply(wsi, c, 500, NULL, "Cannot read file", 16);
        return;
    }
    conn_reply(wsi, c, 200, type, body, size);
    free(body);
}
