/* Static files: the directory of --static (the chat page) served over plain HTTP GET and HEAD,
 * each file read whole per request, its path confined to that directory. */
#ifndef CC_STATIC_FILES_H
#define CC_STATIC_FILES_H

#include "conn.h"

#include <stddef.h>

/* Largest file served; a larger one is answered 500 with a message saying so. */
#define STATIC_MAX_FILE (4u << 20)

/* Answers the request on wsi for uri (the path lws decoded, without the query) from the
 * directory root: GET and HEAD, "/" and ".../" as index.html; other methods 405, paths that
 * are malformed (NUL, "..", not absolute) 400, and missing, hidden (a segment starting with
 * '.'), non-regular or outside files (through a symlink) 404. Always prepares a reply on c. */
void static_files_serve(struct lws *wsi, conn_t *c, const char *root, const char *uri);

/* The Content-Type of a file by its name's extension (a static string; unknown ones are
 * application/octet-stream). */
const char *static_content_type(const char *name);

/* Checks a decoded request path and writes what it names relative to the root into rel
 * (cap bytes), with "index.html" added after a trailing '/'. Returns 0; -1 for a malformed
 * path (not starting with '/', a "." or ".." segment, a backslash, or too long); -2 for a
 * hidden name (a segment starting with '.'). Pure: no I/O. */
int static_path_check(const char *uri, char *rel, size_t cap);

#endif
