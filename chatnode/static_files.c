/* Static files of the --static directory over HTTP GET and HEAD, through libwebsockets: the
 * path rule (static_path.c) and the safe open under the root (static_file.c) are shared with
 * adminnode's dashboard; what is lws's stays here (the method, a NUL in the decoded URI, the
 * replies). */
#include "static_files.h"
#include "log.h"
#include "static_file.h"
#include "static_path.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

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

    static_file_t f;
    rc = static_file_open(root, rel, STATIC_MAX_FILE, &f);
    if (rc == STATIC_FILE_NO_ROOT)
        log_warn("static directory unusable", "dir=\"%s\" error=\"%s\"", root, strerror(errno));
    if (rc == STATIC_FILE_TOO_LARGE) {
        log_warn("static file too large", "path=\"%s\" size=%zu max=%u", f.path, f.size,
                 STATIC_MAX_FILE);
        reply_text(wsi, c, head, 500, "File too large to serve");
        return;
    }
    if (rc < 0) {
        reply_text(wsi, c, head, 404, "Not Found");
        return;
    }
    if (head) {
        static_file_close(&f);
        conn_reply_head(wsi, c, 200, f.type, f.size);
        return;
    }
    char *body = static_file_read(&f);
    static_file_close(&f);
    if (!body) {
        log_warn("static file unreadable", "path=\"%s\"", f.path);
        conn_reply(wsi, c, 500, NULL, "Cannot read file", 16);
        return;
    }
    conn_reply(wsi, c, 200, f.type, body, f.size);
    free(body);
}
