/* The one map from a static file's name to its Content-Type, for every node that serves files
 * (the chat page, the dashboard). Pure. */
#ifndef CC_STATIC_MIME_H
#define CC_STATIC_MIME_H

/* The Content-Type of a file by its name's extension, case-insensitive (a static string; a
 * name without a known extension is application/octet-stream). Text types carry
 * charset=utf-8. */
const char *static_mime_type(const char *name);

#endif
