/* Opening a static file under a served root, safely: the path is resolved with realpath() and
 * the file is served only if the result is still inside the resolved root, so neither "..",
 * nor an absolute path, nor a symlink leads out of it (symlinks inside it are followed). Only
 * regular files open, without blocking (a FIFO does not hang the loop). What each HTTP server
 * answers for each outcome stays with that server. */
#ifndef CC_STATIC_FILE_H
#define CC_STATIC_FILE_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

enum {
    STATIC_FILE_NOT_FOUND = -1, /* missing, outside the root, not a regular file */
    STATIC_FILE_TOO_LARGE = -2, /* larger than the caller's maximum (size and path are set) */
    STATIC_FILE_NO_ROOT = -3,   /* the root itself cannot be resolved (errno says why) */
};

typedef struct {
    int fd;              /* read-only, close-on-exec; -1 when not open */
    size_t size;         /* bytes, at open */
    time_t mtime;        /* last modification, at open */
    const char *type;    /* Content-Type (static_mime_type) */
    char path[PATH_MAX]; /* the resolved path, for logs */
} static_file_t;

/* Opens rel (a path relative to root, as static_path_check writes it) under root, at most
 * max_size bytes. Returns 0 with f open (close it with static_file_close), or a negative
 * STATIC_FILE_* code with f->fd == -1. */
int static_file_open(const char *root, const char *rel, size_t max_size, static_file_t *f);

/* Reads f whole from its start: returns f->size bytes (malloc'ed, caller frees; never NULL
 * for a size of 0), or NULL when the file could not be read whole (it shrank, or an error). */
char *static_file_read(static_file_t *f);

/* Closes f's descriptor; a no-op when it is not open. */
void static_file_close(static_file_t *f);

/* A short text for a STATIC_FILE_* code (static). */
const char *static_file_strerror(int rc);

#endif
