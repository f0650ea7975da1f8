/* logfmt logging to stderr (see log.h). */
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>
#include <time.h>

static log_level_t min_level = LOG_INFO;
static int log_fd = 2;
static char *log_path;

int log_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (log_fd > 2) close(log_fd);
    log_fd = fd;
    if (log_path != path) {
        free(log_path);
        log_path = strdup(path);
    }
    return 0;
}

int log_reopen(void)
{
    if (!log_path) return -1;
    char *path = log_path;
    int rc = log_open(path);
    return rc;
}

void log_close(void)
{
    if (log_fd > 2) close(log_fd);
    log_fd = 2;
    free(log_path);
    log_path = NULL;
}
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(log_level_t level)
{
    min_level = level;
}

int log_set_level_name(const char *name)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(name, names[i]) == 0) {
            min_level = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(log_level_t level)
{
    return level >= min_level && level != LOG_OFF;
}

void log_write(log_level_t level, const char *msg, const char *fmt, ...)
{
    if (!log_enabled(level)) return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s msg=", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), names[level]);
    if (strpbrk(msg, " =\"")) {
        n += snprintf(line + n, sizeof line - (size_t)n, "\"");
        for (const char *p = msg; *p && (size_t)n < sizeof line - 3; p++) {
            if (*p == '"' || *p == '\\') line[n++] = '\\';
            line[n++] = *p;
        }
        line[n++] = '"';
        line[n] = '\0';
    } else {
        n += snprintf(line + n, sizeof line - (size_t)n, "%s", msg);
    }
    if (fmt && *fmt && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0) n += m;
        if ((size_t)n >= sizeof line) n = sizeof line - 1;
    }
    line[n] = '\n';
    /* one write per line, so that processes sharing the file do not interleave lines */
    ssize_t w = write(log_fd, line, (size_t)n + 1);
    (void)w;
}
