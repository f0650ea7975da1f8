/* libFuzzer driver: jtext_validate, compared with jansson (what jansson reads, the scanner
 * accepts with the same kind, unless nested past JTEXT_MAX_DEPTH; what the scanner accepts and
 * jansson refuses is only a number jansson cannot hold or a lone surrogate escape). Valid text
 * is then walked to every depth: the elements of each array, and the members of each object
 * (read with the array iterator over a copy whose braces and colons become brackets and
 * commas, and with the object walker over the original, which must agree), must each
 * validate alone with the kind the iterator gave, lie in order with only
 * whitespace and separators between them, and every string (keys too) must decode,
 * re-encode with jtext_append_string, and decode again to the same bytes. */
#include "jtext.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void check_string(const char *lit, size_t len)
{
    char *out = malloc(len + 1), *again = malloc(len * 2 + 16);
    long n = jtext_string_decode(lit, len, out, len + 1); /* decoding never grows text */
    if (n < 0) abort();
    sbuf_t b = SBUF_INIT;
    jtext_append_string(&b, out, (size_t)n);
    /* Decoded text is valid UTF-8 (lone surrogates became U+FFFD): it encodes to valid JSON. */
    if (jtext_validate(b.data, b.len) != JTEXT_STRING) abort();
    long m = jtext_string_decode(b.data, b.len, again, len * 2 + 16);
    if (m != n || memcmp(again, out, (size_t)n) != 0) abort();
    /* one byte too small a buffer is refused, not cut */
    if (jtext_string_decode(lit, len, out, (size_t)n) != -1) abort();
    sbuf_free(&b);
    free(out);
    free(again);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Only whitespace around exactly one sep in s[0..n) (sep 0: only whitespace). */
static void check_gap(const char *s, size_t n, char sep)
{
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_ws(s[i])) continue;
        if (s[i] != sep || seen) abort();
        seen = 1;
    }
    if (sep && !seen) abort();
}

static void walk(const char *s, size_t len, jtext_kind_t kind, int depth);

/* Walks a valid array or object s[0..len) (no surrounding whitespace). An object is read in a
 * copy with '{' '}' as '[' ']' and each member's ':' as ','; keys come at even positions. */
static void walk_container(const char *s, size_t len, int object, int depth)
{
    char *c = malloc(len);
    memcpy(c, s, len);
    if (object) {
        if (c[0] != '{' || c[len - 1] != '}') abort();
        c[0] = '[';
        c[len - 1] = ']';
    } else if (c[0] != '[' || c[len - 1] != ']') {
        abort();
    }
    jtext_iter_t it;
    const char *e;
    size_t elen, k = 0;
    jtext_kind_t ek;
    const char *prev = c + 1;
    /* the object walker sees the same members in the original text */
    jtext_iter_t oit;
    const char *mk = NULL, *mv = NULL;
    size_t mklen = 0, mvlen = 0;
    jtext_kind_t mkind = JTEXT_INVALID;
    jtext_iter_init(&oit, s, len);
    jtext_iter_init(&it, c, len);
    while (jtext_array_next(&it, &e, &elen, &ek)) {
        if (object && k % 2 == 0) {
            if (!jtext_object_next(&oit, &mk, &mklen, &mv, &mvlen, &mkind)) abort();
            if (mk != s + (e - c) || mklen != elen) abort();
        } else if (object && (mv != s + (e - c) || mvlen != elen || mkind != ek)) {
            abort();
        }
        if (e < prev || e + elen > c + len - 1 || elen == 0) abort();
        /* between elements, in the original: a comma, or a member's colon */
        check_gap(s + (prev - c), (size_t)(e - prev), k == 0 ? 0 : object && k % 2 ? ':' : ',');
        if (jtext_validate(e, elen) != ek) abort();
        int key = object && k % 2 == 0;
        if (key) {
            if (ek != JTEXT_STRING) abort();
            /* the colon after it becomes a comma, so the iterator moves on to the value */
            const char *colon = e + elen;
            while (colon < c + len && is_ws(*colon)) colon++;
            if (*colon != ':') abort();
            c[colon - c] = ',';
        }
        /* the element's text is the same in the original (only separators were changed) */
        if (memcmp(e, s + (e - c), elen) != 0) abort();
        walk(s + (e - c), elen, ek, depth + 1);
        prev = e + elen;
        k++;
    }
    if (object && k % 2) abort(); /* every key has its value */
    if (object && jtext_object_next(&oit, &mk, &mklen, &mv, &mvlen, &mkind)) abort();
    /* after the last element, only whitespace before the closing bracket */
    check_gap(s + (prev - c), (size_t)(c + len - 1 - prev), 0);
    free(c);
}

static void walk(const char *s, size_t len, jtext_kind_t kind, int depth)
{
    if (depth > JTEXT_MAX_DEPTH) abort(); /* the scanner allows no deeper */
    if (kind == JTEXT_STRING) check_string(s, len);
    if (kind == JTEXT_ARRAY || kind == JTEXT_OBJECT)
        walk_container(s, len, kind == JTEXT_OBJECT, depth);
}

static jtext_kind_t kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return JTEXT_OBJECT;
    case JSON_ARRAY: return JTEXT_ARRAY;
    case JSON_STRING: return JTEXT_STRING;
    case JSON_INTEGER:
    case JSON_REAL: return JTEXT_NUMBER;
    case JSON_TRUE: return JTEXT_TRUE;
    case JSON_FALSE: return JTEXT_FALSE;
    case JSON_NULL: return JTEXT_NULL;
    }
    return JTEXT_INVALID;
}

/* Nesting of containers: 0 for a scalar. */
static int nesting(const json_t *v)
{
    int d = 0, x;
    size_t i;
    const char *k;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, e) if ((x = nesting(e)) > d) d = x;
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, e) if ((x = nesting(e)) > d) d = x;
    } else {
        return 0;
    }
    return d + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    jtext_kind_t kind = jtext_validate(s, size);

    json_error_t err;
    json_t *j = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    /* jansson reads past a raw NUL between tokens ("[1\0]" is [1]); the validator refuses it, as
     * JSON does; client text is validated before jansson sees it (sio_packet), and adminnode
     * refuses a body with a NUL */
    int raw_nul = memchr(s, '\0', size) != NULL;
    if (j && nesting(j) <= JTEXT_MAX_DEPTH && kind != kind_of(j) &&
        !(raw_nul && kind == JTEXT_INVALID))
        abort();
    if (!j && kind != JTEXT_INVALID && json_error_code(&err) != json_error_numeric_overflow &&
        !strstr(err.text, "invalid Unicode") && !strstr(err.text, "NUL byte in object key"))
        abort();
    json_decref(j);

    if (kind == JTEXT_INVALID) return 0;
    /* the value without its surrounding whitespace */
    while (is_ws(*s)) s++, size--;
    while (is_ws(s[size - 1])) size--;
    walk(s, size, kind, 0);
    return 0;
}
