/* logfmt logging: one line per event on stderr, `ts=... level=... msg=... key=value...`,
 * filtered by a process-wide level. */
#ifndef CC_LOG_H
#define CC_LOG_H

#include <stdarg.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;

/* Writes logs to path (appending) instead of stderr. Returns 0, or -1 with errno set. */
int log_open(const char *path);
/* Opens the log file again (after it was rotated). Returns 0, or -1 (no file, or errno). */
int log_reopen(void);
/* Closes the log file (back to stderr). */
void log_close(void);

/* Sets the lowest level written; returns 0, or -1 if name is not a level name. */
int log_set_level_name(const char *name);
void log_set_level(log_level_t level);
int log_enabled(log_level_t level);

/* Writes one line. msg is quoted when it holds spaces; fmt (may be NULL) appends
 * pre-formatted `key=value` pairs, which the caller keeps in logfmt form. */
void log_write(log_level_t level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, msg, __VA_ARGS__);                        \
    } while (0)
#define log_info(msg, ...)  log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

#endif
