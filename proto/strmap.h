/* String-keyed hash map (open addressing, linear probing). Keys are borrowed: the caller
 * keeps each key alive while it is in the map (usually the key lives inside the value). */
#ifndef CC_STRMAP_H
#define CC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *key;
    void *value;
    uint32_t klen; /* keys are shorter than 4 GiB */
    uint32_t hash;
} strmap_slot_t;

typedef struct {
    strmap_slot_t *slots; /* owned; NULL when empty */
    size_t cap;           /* power of two, or 0 */
    size_t count;
    size_t used; /* live + tombstones */
} strmap_t;

#define STRMAP_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Returns the value stored under key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key, size_t klen);
/* Stores value under key (borrowed); returns the value it replaced, or NULL. */
void *strmap_put(strmap_t *m, const char *key, size_t klen, void *value);
/* Removes key; returns the removed value, or NULL when absent. */
void *strmap_del(strmap_t *m, const char *key, size_t klen);
/* Releases the table (not the keys or values). */
void strmap_free(strmap_t *m);

/* Iteration: for (size_t i = 0; strmap_next(m, &i, &k, &kl, &v);) ... Removing the current
 * entry during iteration is allowed; inserting is not. */
int strmap_next(const strmap_t *m, size_t *pos, const char **key, size_t *klen, void **value);

#endif
