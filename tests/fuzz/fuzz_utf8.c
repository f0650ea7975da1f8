/* libFuzzer driver: proto/utf8.c against a decoder written out here from the definition
 * (RFC 3629: the shortest form of a scalar value). Validation, sequence lengths, the WHATWG
 * replacement spans, character counts, cuts (never inside a character, as long as allowed)
 * and the label rule must all agree with it. */
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes the sequence at s[0..n): returns its length and the code point in *cp, or 0 when it
 * is not the shortest form of a scalar value. */
static size_t ref_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2, v = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, v = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* The WHATWG rule: the maximal subpart replaced by one U+FFFD is the longest prefix of the
 * bytes at s that some valid sequence starts with (at least one byte). */
static size_t ref_bad(const uint8_t *s, size_t n)
{
    size_t best = 1;
    for (size_t k = 2; k <= 4 && k <= n; k++) {
        /* is s[0..k) the start of a valid sequence? try to complete it */
        uint8_t t[4];
        memcpy(t, s, k);
        for (size_t j = k; j < 4; j++) t[j] = 0x80;
        for (size_t len = k; len <= 4; len++) {
            uint32_t cp;
            int found = 0;
            /* the lowest and highest continuations both tried, whichever is in range */
            for (int hi = 0; hi < 2 && !found; hi++) {
                for (size_t j = k; j < 4; j++) t[j] = hi ? 0xbf : 0x80;
                if (ref_seq(t, len, &cp) == len) found = 1;
            }
            if (found) {
                best = k;
                break;
            }
        }
    }
    return best;
}

static int forbidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 || cp == 0x061c ||
           cp == 0x200e || cp == 0x200f || cp == 0xfeff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    /* walk it with the reference: valid?, how many characters, any forbidden? */
    int valid = 1, control = 0;
    size_t chars = 0;
    for (size_t i = 0; i < size;) {
        uint32_t cp;
        size_t m = ref_seq(data + i, size - i, &cp);
        size_t bad = 99;
        size_t got = utf8_seq(data + i, size - i, &bad);
        if (got != m || got != utf8_seq(data + i, size - i, NULL)) abort();
        if (m) {
            if (bad != 1) abort();
            if (forbidden(cp)) control = 1;
            chars++;
            i += m;
        } else {
            if (bad != ref_bad(data + i, size - i) || bad > size - i) abort();
            valid = 0;
            i += bad;
        }
    }
    if (utf8_valid(s, size) != valid) abort();

    if (valid) {
        if (utf8_chars(s, size) != chars) abort();
        /* every cut: at most max bytes, a character boundary, the longest such */
        for (size_t max = 0; max <= size + 1; max += 1 + max / 8) {
            size_t k = utf8_prefix(s, size, max);
            if (k > max || k > size) abort();
            if (!utf8_valid(s, k)) abort();
            if (k < size && ((uint8_t)s[k] & 0xc0) == 0x80) abort(); /* not inside a character */
            if (k < size) {
                uint32_t cp;
                size_t next = ref_seq(data + k, size - k, &cp);
                if (k + next <= max) abort(); /* the next character would have fit */
            }
        }
        /* labels: every limit around the actual size */
        size_t limits[] = {0, 1, chars ? chars - 1 : 0, chars, chars + 1, size, 64, 128};
        for (size_t a = 0; a < sizeof limits / sizeof *limits; a++) {
            for (size_t b = 0; b < sizeof limits / sizeof *limits; b++) {
                int want = size == 0                               ? UTF8_LABEL_EMPTY
                           : control                               ? UTF8_LABEL_CONTROL
                           : chars > limits[a] || size > limits[b] ? UTF8_LABEL_LONG
                                                                   : UTF8_LABEL_OK;
                int got = utf8_label_check(s, size, limits[a], limits[b]);
                if (got != want) abort();
            }
        }
    } else {
        if (utf8_label_check(s, size, 1000, 100000) != UTF8_LABEL_INVALID) abort();
        /* a cut of invalid text still stays within its bounds */
        size_t k = utf8_prefix(s, size, size / 2);
        if (k > size / 2) abort();
    }
    if (utf8_label_check(s, size, 0, 0) == UTF8_LABEL_OK) abort();
    for (int rc = 1; rc >= -5; rc--) {
        const char *e = utf8_label_strerror(rc);
        if (!e || !*e) abort();
    }
    return 0;
}
