/* UTF-8 validation, boundaries and labels (see utf8.h). */
#include "utf8.h"

size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t c = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (bad) *bad = 1;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0; /* overlong */
        if (c == 0xed) hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90; /* overlong */
        if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0; /* a continuation byte, 0xc0, 0xc1, 0xf5.. */
    }
    for (size_t k = 1; k <= need; k++) {
        if (k >= n || s[k] < lo || s[k] > hi) {
            if (bad) *bad = k;
            return 0;
        }
        lo = 0x80, hi = 0xbf;
    }
    return need + 1;
}

int utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t m = utf8_seq(p + i, n - i, NULL);
        if (!m) return 0;
        i += m;
    }
    return 1;
}

size_t utf8_prefix(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t k = max;
    /* back off continuation bytes: the character at k starts before it */
    while (k > 0 && ((uint8_t)s[k] & 0xc0) == 0x80) k--;
    return k;
}

size_t utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((uint8_t)s[i] & 0xc0) != 0x80) chars++;
    return chars;
}

/* The code point of the valid sequence of m bytes at p. */
static uint32_t decode(const uint8_t *p, size_t m)
{
    switch (m) {
    case 1: return p[0];
    case 2: return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    case 3: return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    default:
        return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
               (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
    }
}

/* Characters a label may not hold: controls, and those that reorder or hide the text
 * around them (a name shown reversed, or a line break inside a user list). */
static int forbidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||       /* C0, DEL, C1 */
           (cp >= 0x202a && cp <= 0x202e) ||                /* bidi embeddings and overrides */
           (cp >= 0x2066 && cp <= 0x2069) ||                /* bidi isolates */
           cp == 0x2028 || cp == 0x2029 || cp == 0x061c     /* separators, Arabic letter mark */
           || cp == 0x200e || cp == 0x200f || cp == 0xfeff; /* LRM, RLM, BOM */
}

int utf8_label_check(const char *s, size_t n, size_t max_chars, size_t max_bytes)
{
    const uint8_t *p = (const uint8_t *)s;
    if (n == 0) return UTF8_LABEL_EMPTY;
    if (!utf8_valid(s, n)) return UTF8_LABEL_INVALID;
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        size_t m = utf8_seq(p + i, n - i, NULL);
        if (forbidden(decode(p + i, m))) return UTF8_LABEL_CONTROL;
        i += m;
        chars++;
    }
    if (chars > max_chars || n > max_bytes) return UTF8_LABEL_LONG;
    return UTF8_LABEL_OK;
}

const char *utf8_label_strerror(int rc)
{
    switch (rc) {
    case UTF8_LABEL_OK: return "is valid";
    case UTF8_LABEL_EMPTY: return "is empty";
    case UTF8_LABEL_INVALID: return "is not valid UTF-8";
    case UTF8_LABEL_CONTROL: return "holds a control or text-direction character";
    case UTF8_LABEL_LONG: return "is too long";
    }
    return "is not valid";
}
