/* Static files opened under a root (see static_file.h). */
#include "static_file.h"
#include "alloc.h"
#include "static_mime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int static_file_open(const char *root, const char *rel, size_t max_size, static_file_t *f)
{
    f->fd = -1;
    f->size = 0;
    f->mtime = 0;
    f->type = NULL;
    f->path[0] = '\0';
    char base[PATH_MAX], want[PATH_MAX];
    if (!realpath(root, base)) return STATIC_FILE_NO_ROOT;
    size_t blen = strlen(base);
    int n = snprintf(want, sizeof want, "%s/%s", base, rel);
    if (n < 0 || (size_t)n >= sizeof want || !realpath(want, f->path) ||
        strncmp(f->path, base, blen) != 0 || (blen > 1 && f->path[blen] != '/'))
        return STATIC_FILE_NOT_FOUND;

    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return STATIC_FILE_NOT_FOUND;
    }
    f->size = (size_t)st.st_size;
    f->mtime = st.st_mtime;
    f->type = static_mime_type(f->path);
    if ((unsigned long long)st.st_size > max_size) {
        close(fd);
        return STATIC_FILE_TOO_LARGE;
    }
    f->fd = fd;
    return 0;
}

char *static_file_read(static_file_t *f)
{
    char *buf = xmalloc(f->size ? f->size : 1);
    size_t got = 0;
    while (got < f->size) {
        ssize_t r = pread(f->fd, buf + got, f->size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

void static_file_close(static_file_t *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

const char *static_file_strerror(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case STATIC_FILE_NOT_FOUND: return "no such file";
    case STATIC_FILE_TOO_LARGE: return "file too large to serve";
    case STATIC_FILE_NO_ROOT: return "static directory unusable";
    default: return "unknown error";
    }
}
