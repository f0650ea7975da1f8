/* Strict JSON text scanning (RFC 8259) without building a tree: validation, top-level kind,
 * array element spans, string decoding and encoding. Used to keep Socket.IO payloads as the
 * exact text the peer sent. Pure: no I/O, no allocation. */
#ifndef CC_JSON_TEXT_H
#define CC_JSON_TEXT_H

#include "sbuf.h"

#include <stddef.h>

#define JT_MAX_DEPTH 64 /* deeper nesting is rejected as invalid */

typedef enum {
    JT_INVALID = -1,
    JT_OBJECT,
    JT_ARRAY,
    JT_STRING,
    JT_NUMBER,
    JT_TRUE,
    JT_FALSE,
    JT_NULL,
} json_kind_t;

/* Validates that s is exactly one JSON value (surrounding whitespace allowed), with strings
 * holding valid UTF-8 and proper escapes, and nesting no deeper than JT_MAX_DEPTH.
 * Returns the kind of the top-level value, or JT_INVALID. */
json_kind_t json_validate(const char *s, size_t len);

/* Iterates the elements of a validated JSON array (surrounding whitespace allowed). On text
 * that was not validated it stays within bounds but its answers are meaningless. */
typedef struct {
    const char *p, *end;
    int started;
} json_array_iter_t;

void json_array_iter_init(json_array_iter_t *it, const char *arr, size_t len);
/* Returns 1 with the next element's exact text span (no surrounding whitespace) and kind,
 * or 0 when there are no more. */
int json_array_next(json_array_iter_t *it, const char **elem, size_t *elen, json_kind_t *kind);

/* Decodes a validated JSON string literal (quotes included in s) to UTF-8 in out (capacity
 * cap, NUL-terminated; the text may itself hold NULs from \u0000). Surrogate pairs become
 * one code point; a lone surrogate escape becomes U+FFFD, as JavaScript's UTF-8 encoders do.
 * Returns the decoded length, or -1 if it does not fit (or s is not a string literal). */
long json_string_decode(const char *s, size_t len, char *out, size_t cap);

/* Appends s as a JSON string literal, escaping as JavaScript's JSON.stringify does. */
void json_append_string(sbuf_t *out, const char *s, size_t len);

#endif
