/* API keys: `Authorization: Bearer <key>`, each key with a scope (read or admin), loaded from
 * --api-keys-file (`<key> <scope>` per line, # comments) or ADMINNODE_API_KEYS
 * (`key:scope,key:scope`). Lookups compare against every key in constant time. Keys are never
 * logged, not even in error messages. */
#ifndef CC_AUTH_H
#define CC_AUTH_H

#include "http_router.h"

#include <stddef.h>

#define AUTH_KEY_MIN 16  /* shortest key accepted, bytes */
#define AUTH_KEY_MAX 256 /* longest key accepted, bytes */

typedef struct {
    unsigned char key[AUTH_KEY_MAX]; /* zero-padded */
    size_t len;
    api_scope_t scope;
} auth_key_t;

typedef struct {
    auth_key_t *keys; /* owned */
    size_t nkeys;
} auth_t;

#define AUTH_INIT                                                                                  \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Adds the keys of a keys file's text (len bytes). Lines are `<key> <scope>` separated by
 * spaces or tabs, blank lines and lines starting with '#' are skipped. Returns the number of
 * keys added, or -1 with "line N: reason" in err (the key itself is never quoted); on error
 * nothing is added. */
int auth_parse_file_text(auth_t *a, const char *text, size_t len, char *err, size_t errlen);

/* Reads the file at path and adds its keys as auth_parse_file_text does. Returns the number
 * of keys added, or -1 with "PATH: reason" or "PATH: line N: reason" in err. */
int auth_load_file(auth_t *a, const char *path, char *err, size_t errlen);

/* Adds the keys of an ADMINNODE_API_KEYS value: `key:scope` entries separated by commas
 * (spaces around them ignored). Returns the number added, or -1 with "entry N: reason". */
int auth_parse_env(auth_t *a, const char *value, char *err, size_t errlen);

/* Scope of a presented key (len bytes), comparing it with every key, all the way, whatever
 * matches: the time taken depends only on the number of keys. Returns the key's scope, or -1
 * for an unknown key. */
int auth_lookup(const auth_t *a, const char *key, size_t len);

/* The key of an Authorization header value ("Bearer <key>", scheme case-insensitive):
 * sets *key and *len (borrowed from header). Returns 0, or -1 when the value is not of that form.
 */
int auth_bearer(const char *header, const char **key, size_t *len);

void auth_free(auth_t *a);

#endif
