/* Dashboard files from the --static directory (see dashboard.h): the raw path's decoding and
 * the statuses are adminnode's; the path rule (static_path.c) and the safe open under the root
 * (static_file.c) are shared with chatnode's static files. */
#include "dashboard.h"
#include "http_router.h"
#include "static_file.h"
#include "static_path.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int dashboard_read(const char *root, const char *path, char **body, size_t *len, const char **ctype)
{
    size_t plen = strlen(path);
    if (path[0] != '/' || plen > 1024) return 400;
    char dec[1100];
    long n = http_router_percent_decode(path, plen, dec);
    if (n < 0 || strchr(dec, '\\')) return 400;
    /* "." or ".." segments and hidden names: nothing to find here */
    char rel[PATH_MAX];
    if (static_path_check(dec, rel, sizeof rel) != 0) return 404;

    static_file_t f;
    if (static_file_open(root, rel, DASHBOARD_MAX_FILE, &f) != 0) return 404;
    char *buf = static_file_read(&f);
    static_file_close(&f);
    if (!buf) return 500;
    *body = buf;
    *len = f.size;
    *ctype = f.type;
    return 0;
}
