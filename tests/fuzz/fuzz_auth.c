/* libFuzzer driver: adminnode's API keys (auth.c): the keys file and ADMINNODE_API_KEYS parsers,
 * the Authorization header's bearer key, and the lookup. A parse that fails adds nothing;
 * every key added is printable, within its bounds, and found again with its scope, and a key
 * one byte away from it is not. */
#include "auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every key of a, from index from on, is well-formed and looks up to its own scope. */
static void check_keys(const auth_t *a, size_t from)
{
    for (size_t i = from; i < a->nkeys; i++) {
        const auth_key_t *k = &a->keys[i];
        if (k->len < AUTH_KEY_MIN || k->len > AUTH_KEY_MAX) abort();
        if (k->scope != API_SCOPE_READ && k->scope != API_SCOPE_ADMIN) abort();
        for (size_t j = 0; j < AUTH_KEY_MAX; j++)
            if (j < k->len ? k->key[j] <= 0x20 || k->key[j] >= 0x7f : k->key[j] != 0) abort();
        for (size_t j = 0; j < i; j++)
            if (a->keys[j].len == k->len && !memcmp(a->keys[j].key, k->key, k->len)) abort();
        if (auth_lookup(a, (const char *)k->key, k->len) != (int)k->scope) abort();
        /* one byte short, one byte changed, one byte more: none is a key of a */
        char other[AUTH_KEY_MAX + 1];
        memcpy(other, k->key, k->len);
        other[k->len] = '\0'; /* a padded zero is not part of the key */
        int shorter = auth_lookup(a, other, k->len - 1);
        int longer = auth_lookup(a, other, k->len + 1);
        other[k->len - 1] ^= 0x01;
        int changed = auth_lookup(a, other, k->len);
        for (size_t j = 0; j < a->nkeys; j++) {
            const auth_key_t *o = &a->keys[j];
            if (o->len == k->len - 1 && !memcmp(o->key, k->key, o->len)) shorter = -1;
            if (o->len == k->len && !memcmp(o->key, other, o->len)) changed = -1;
        }
        if (shorter != -1 || longer != -1 || changed != -1) abort();
    }
}

/* A parse: the count it returns is what it added, and a failure adds nothing and says why. */
static void check_parse(auth_t *a, size_t before, int rc, const char *err)
{
    if (rc < 0) {
        if (rc != -1 || a->nkeys != before || !err[0]) abort();
        return;
    }
    if (a->nkeys != before + (size_t)rc) abort();
    check_keys(a, before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    auth_t a = AUTH_INIT;
    char err[200] = "";

    /* as a keys file, then as ADMINNODE_API_KEYS (a C string) into the same set */
    int rc = auth_parse_file_text(&a, text, size, err, sizeof err);
    check_parse(&a, 0, rc, err);
    char *str = malloc(size + 1);
    memcpy(str, data, size);
    str[size] = '\0';
    size_t before = a.nkeys;
    err[0] = '\0';
    rc = auth_parse_env(&a, str, err, sizeof err);
    check_parse(&a, before, rc, err);
    /* a second load of the same file finds every key a duplicate */
    if (before) {
        err[0] = '\0';
        size_t n = a.nkeys;
        if (auth_parse_file_text(&a, text, size, err, sizeof err) != -1 || a.nkeys != n) abort();
        if (!strstr(err, "duplicate key")) abort();
    }
    /* errors never quote the text: none holds a key */
    for (size_t i = 0; i < a.nkeys; i++) {
        char key[AUTH_KEY_MAX + 1];
        memcpy(key, a.keys[i].key, a.keys[i].len);
        key[a.keys[i].len] = '\0';
        if (strstr(err, key)) abort();
    }

    /* the value as an Authorization header */
    const char *key = NULL;
    size_t klen = 0;
    if (auth_bearer(str, &key, &klen) == 0) {
        if (!key || klen == 0 || key < str || key + klen > str + strlen(str)) abort();
        if (key[0] == ' ' || key[0] == '\t' || key[klen - 1] == ' ' || key[klen - 1] == '\t')
            abort();
        const char *h = str;
        while (*h == ' ' || *h == '\t') h++;
        if (strncasecmp(h, "bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) abort();
        int scope = auth_lookup(&a, key, klen);
        int want = -1;
        for (size_t i = 0; i < a.nkeys; i++)
            if (a.keys[i].len == klen && !memcmp(a.keys[i].key, key, klen)) want = a.keys[i].scope;
        if (scope != want) abort();
    } else {
        const char *h = str;
        while (*h == ' ' || *h == '\t') h++;
        /* refused: not "Bearer" and a blank, or nothing but blanks after it */
        if (strncasecmp(h, "bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\t') &&
            strspn(h + 7, " \t") != strlen(h + 7))
            abort();
    }
    if (auth_bearer(NULL, &key, &klen) != -1) abort();
    /* any bytes, even a NUL, look up to a scope or -1 */
    int any = auth_lookup(&a, text, size);
    if (any < -1 || any > API_SCOPE_ADMIN) abort();
    auth_free(&a);
    if (a.keys || a.nkeys) abort();
    free(str);
    return 0;
}
