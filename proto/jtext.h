/* Strict JSON text (RFC 8259) without building a tree: validation, skipping a value, walking
 * the elements of an array or the members of an object, string decoding and encoding. Every
 * codec that keeps JSON as the exact text a peer sent scans it here. Pure: no I/O, no
 * allocation. */
#ifndef CC_JTEXT_H
#define CC_JTEXT_H

#include "sbuf.h"

#include <stddef.h>

#define JTEXT_MAX_DEPTH 64 /* deeper nesting is rejected as invalid */

typedef enum {
    JTEXT_INVALID = -1,
    JTEXT_OBJECT,
    JTEXT_ARRAY,
    JTEXT_STRING,
    JTEXT_NUMBER,
    JTEXT_TRUE,
    JTEXT_FALSE,
    JTEXT_NULL,
} jtext_kind_t;

/* Validates that s is exactly one JSON value (surrounding whitespace allowed), with strings
 * holding valid UTF-8 (utf8.h's strict rule) and proper escapes, and nesting no deeper than
 * JTEXT_MAX_DEPTH. Returns the kind of the top-level value, or JTEXT_INVALID. */
jtext_kind_t jtext_validate(const char *s, size_t len);

/* The functions below read text that jtext_validate accepted. On any other text they stay
 * within [p, end) but their answers are meaningless. */

/* The first byte at or after p that is not JSON whitespace, or end. */
const char *jtext_skip_ws(const char *p, const char *end);

/* The end of the value that starts at p (p itself when p == end). */
const char *jtext_skip(const char *p, const char *end);

/* Walks the elements of an array or the members of an object (surrounding whitespace
 * allowed). */
typedef struct {
    const char *p, *end;
    int started;
} jtext_iter_t;

/* Starts a walk over the array or object text[0..len); any other value has no members. */
void jtext_iter_init(jtext_iter_t *it, const char *text, size_t len);

/* Returns 1 with the next array element's exact text span (no surrounding whitespace) and
 * kind, or 0 when there are no more. */
int jtext_array_next(jtext_iter_t *it, const char **elem, size_t *elen, jtext_kind_t *kind);

/* Returns 1 with the next object member: its key as the string literal's span (quotes
 * included: decode it with jtext_string_decode or compare it with jtext_string_is), its
 * value's span and kind; 0 when there are no more. */
int jtext_object_next(jtext_iter_t *it, const char **key, size_t *klen, const char **val,
                      size_t *vlen, jtext_kind_t *kind);

/* The text of the elements not walked yet, without the separating comma before them, the
 * closing bracket or surrounding whitespace ("2, 3" of "[1, 2, 3 ]" after one step; all of
 * the inner text before the first): what an argument list that drops its head keeps. Empty
 * (*rest at the walk's end) when none are left. */
void jtext_iter_rest(const jtext_iter_t *it, const char **rest, size_t *rest_len);

/* Decodes a validated JSON string literal (quotes included in s) to UTF-8 in out (capacity
 * cap, NUL-terminated; the text may itself hold NULs from \u0000). Surrogate pairs become
 * one code point; a lone surrogate escape becomes U+FFFD, as JavaScript's UTF-8 encoders do.
 * Returns the decoded length, or -1 if it does not fit (or s is not a string literal). */
long jtext_string_decode(const char *s, size_t len, char *out, size_t cap);

/* 1 when the string literal s[0..len) decodes to the NUL-terminated name (at most 63
 * bytes), escapes included ("\u006eum" is "num"); else 0. */
int jtext_string_is(const char *s, size_t len, const char *name);

/* 1 when the JSON value v[0..len) of that kind is truthy as JavaScript has it: not false,
 * null, 0 (or -0, 0.0, 0e5) or "". */
int jtext_truthy(const char *v, size_t len, jtext_kind_t kind);

/* Appends s as a JSON string literal, escaping as JavaScript's JSON.stringify does. */
void jtext_append_string(sbuf_t *out, const char *s, size_t len);

#endif
