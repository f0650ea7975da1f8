/* Query strings as the layers above read them: the pairs of an Engine.IO v3 handshake (what
 * an old client's `query` option carries) and of a Socket.IO v4 CONNECT's namespace
 * ("/chat?token=abc") become a JSON object of strings, which is what newer clients send as
 * their auth payload. Pure. */
#ifndef CC_URL_QUERY_H
#define CC_URL_QUERY_H

#include "sbuf.h"

#include <stddef.h>

/* At most this many pairs are read; the rest are ignored. */
#define URL_QUERY_MAX_PAIRS 32

/* Appends s[0..n) percent-decoded as a form is ('+' is a space; a '%' not followed by two hex
 * digits stays as it is). */
void url_decode(sbuf_t *out, const char *s, size_t n);

/* Appends the pairs "name=value" (pairs[i], lens[i]; a pair without '=' has an empty value),
 * percent-decoded when decode is set, as a JSON object of strings ("{}" when none): a name
 * given twice keeps its last value, names in skip (NULL-terminated, may be NULL) are left out,
 * and so is a pair whose name is empty or whose name or value is not UTF-8. */
void url_pairs_json(sbuf_t *out, const char *const *pairs, const size_t *lens, size_t n, int decode,
                    const char *const *skip);

/* The same for a raw query string "a=1&b=2" (split on '&', then decoded). */
void url_query_json(sbuf_t *out, const char *q, size_t n, const char *const *skip);

#endif
