/* The dashboard's files: the --static directory served through libmicrohttpd for GET and HEAD
 * outside /api/, each file read whole, its path confined to the directory (static_file.h),
 * hidden names refused (static_path.h). */
#ifndef CC_DASHBOARD_H
#define CC_DASHBOARD_H

#include <stddef.h>

#define DASHBOARD_MAX_FILE (4u << 20) /* larger files are not served */

/* Reads the file that path (the raw request path, percent-encoded) names under root, "/" and
 * ".../" meaning index.html. Returns 0 with *body (malloc'ed, caller frees), *len and *ctype (a
 * static string); 404 for a missing, hidden, non-regular, outside or too large file, 400 for a
 * malformed path, 500 for a file that could not be read whole. */
int dashboard_read(const char *root, const char *path, char **body, size_t *len,
                   const char **ctype);

#endif
