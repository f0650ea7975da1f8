/* libFuzzer driver: json_validate; for valid text, every array element must validate on its
 * own with the kind the iterator gave, and every string must decode, re-encode with
 * json_append_string, and decode again to the same bytes. */
#include "json_text.h"

#include <stdlib.h>
#include <string.h>

static void check_string(const char *lit, size_t len)
{
    char *out = malloc(len + 1), *again = malloc(len * 2 + 16);
    long n = json_string_decode(lit, len, out, len + 1); /* decoding never grows text */
    if (n < 0) abort();
    sbuf_t b = SBUF_INIT;
    json_append_string(&b, out, (size_t)n);
    /* Decoded text is valid UTF-8 (lone surrogates became U+FFFD): it encodes to valid JSON. */
    if (json_validate(b.data, b.len) != JT_STRING) abort();
    long m = json_string_decode(b.data, b.len, again, len * 2 + 16);
    if (m != n || memcmp(again, out, (size_t)n) != 0) abort();
    sbuf_free(&b);
    free(out);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    json_kind_t kind = json_validate(s, size);
    if (kind == JT_STRING) {
        while (*s != '"') s++, size--;
        while (s[size - 1] != '"') size--;
        check_string(s, size);
    }
    if (kind != JT_ARRAY) return 0;
    json_array_iter_t it;
    const char *e;
    size_t elen;
    json_kind_t ek;
    json_array_iter_init(&it, s, size);
    while (json_array_next(&it, &e, &elen, &ek)) {
        if (json_validate(e, elen) != ek) abort();
        if (ek == JT_STRING) check_string(e, elen);
    }
    return 0;
}
