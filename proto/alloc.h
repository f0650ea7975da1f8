/* Allocation wrappers: small allocations abort the process on failure, so callers
 * never check for NULL. Free with plain free(). */
#ifndef CC_ALLOC_H
#define CC_ALLOC_H

#include <stddef.h>

/* Each returns a valid pointer or aborts; the caller owns the memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
