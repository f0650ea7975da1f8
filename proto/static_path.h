/* The rule of a static file's request path: what a decoded path names under the served root,
 * and which paths are refused. Pure: no I/O, so it is fuzzed. */
#ifndef CC_STATIC_PATH_H
#define CC_STATIC_PATH_H

#include <stddef.h>

/* Checks a decoded request path and writes what it names relative to the root into rel
 * (cap bytes), with "index.html" added after a trailing '/'. Returns 0; -1 for a malformed
 * path (not starting with '/', a "." or ".." segment, a backslash, or too long); -2 for a
 * hidden name (a segment starting with '.'). Never writes past cap bytes. */
int static_path_check(const char *uri, char *rel, size_t cap);

#endif
