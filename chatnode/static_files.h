/* Static files: the directory of --static (the chat page) served over plain HTTP GET and HEAD
 * through libwebsockets, each file read whole per request, its path confined to that
 * directory (static_path.h, static_file.h). */
#ifndef CC_STATIC_FILES_H
#define CC_STATIC_FILES_H

#include "conn.h"

/* Largest file served; a larger one is answered 500 with a message saying so. */
#define STATIC_MAX_FILE (4u << 20)

/* Answers the request on wsi for uri (the path lws decoded, without the query) from the
 * directory root: GET and HEAD, "/" and ".../" as index.html; other methods 405, paths that
 * are malformed (NUL, "..", not absolute) 400, and missing, hidden (a segment starting with
 * '.'), non-regular or outside files (through a symlink) 404. Always prepares a reply on c. */
void static_files_serve(struct lws *wsi, conn_t *c, const char *root, const char *uri);

#endif
