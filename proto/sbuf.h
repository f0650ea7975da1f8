/* Growable byte string used by the encoders: append-only, always NUL-terminated. */
#ifndef CC_SBUF_H
#define CC_SBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* NUL-terminated; owned; NULL until the first append */
    size_t len;
    size_t cap;
} sbuf_t;

#define SBUF_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void sbuf_reserve(sbuf_t *b, size_t extra);
void sbuf_append(sbuf_t *b, const void *p, size_t n);
void sbuf_append_str(sbuf_t *b, const char *s);
void sbuf_append_char(sbuf_t *b, char c);
void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_reset(sbuf_t *b); /* len = 0, keeps the memory */
void sbuf_free(sbuf_t *b);  /* releases the memory; b is empty and reusable */
/* Hands the bytes to the caller (who frees them) and leaves b empty. */
char *sbuf_steal(sbuf_t *b, size_t *len);

#endif
