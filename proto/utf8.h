/* UTF-8 as every layer reads text from outside: strict validation (no overlong forms, no
 * encoded surrogates, nothing past U+10FFFF), cutting only at character boundaries, and the
 * rule for labels (user names and ids, room names, path parameters): valid UTF-8, bounded in
 * characters and bytes, no control or bidirectional formatting characters. Pure. */
#ifndef CC_UTF8_H
#define CC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid sequence at s[0..n), or 0 when it is invalid there; *bad (may be
 * NULL) gets the length of the maximal invalid subpart that one U+FFFD replaces (the WHATWG
 * decoder's rule). n must be at least 1. */
size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad);

/* 1 when s[0..n) is valid UTF-8 (an empty string is), else 0. */
int utf8_valid(const char *s, size_t n);

/* The longest prefix of valid UTF-8 s[0..n) that is at most max bytes and does not end
 * inside a character: what a cut to max bytes keeps. */
size_t utf8_prefix(const char *s, size_t n, size_t max);

/* Number of code points of valid UTF-8 s[0..n). */
size_t utf8_chars(const char *s, size_t n);

/* Why a label is refused (0: it is not). */
enum {
    UTF8_LABEL_OK = 0,
    UTF8_LABEL_EMPTY = -1,
    UTF8_LABEL_INVALID = -2, /* not UTF-8 */
    UTF8_LABEL_CONTROL = -3, /* C0/C1 controls, DEL, bidi overrides and isolates, U+2028/9 */
    UTF8_LABEL_LONG = -4,    /* more than max_chars code points or max_bytes bytes */
};

/* Checks s[0..n) as a label of 1..max_chars code points and at most max_bytes bytes.
 * Returns UTF8_LABEL_OK or the reason, in this order: empty, not UTF-8 (anywhere in the
 * text), a control, too long. Letters of right-to-left scripts and
 * combining marks are allowed (each counts as a code point); characters that reorder or
 * hide text are not. */
int utf8_label_check(const char *s, size_t n, size_t max_chars, size_t max_bytes);

/* A short English phrase for a utf8_label_check result ("is empty", "is not UTF-8", ...). */
const char *utf8_label_strerror(int rc);

#endif
