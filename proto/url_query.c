/* Query strings to JSON objects (see url_query.h). */
#include "url_query.h"
#include "jtext.h"
#include "utf8.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void url_decode(sbuf_t *out, const char *s, size_t n)
{
    sbuf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            sbuf_append_char(out, ' ');
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            sbuf_append_char(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            sbuf_append_char(out, s[i]);
        }
    }
}

typedef struct {
    size_t name, nlen, value, vlen; /* offsets into the decoded text */
} pair_t;

static int skipped(const char *name, size_t len, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (strlen(skip[i]) == len && memcmp(skip[i], name, len) == 0) return 1;
    return 0;
}

void url_pairs_json(sbuf_t *out, const char *const *pairs, const size_t *lens, size_t n, int decode,
                    const char *const *skip)
{
    sbuf_t text = SBUF_INIT;
    pair_t p[URL_QUERY_MAX_PAIRS];
    size_t np = 0;
    for (size_t i = 0; i < n && np < URL_QUERY_MAX_PAIRS; i++) {
        const char *eq = memchr(pairs[i], '=', lens[i]);
        size_t nl = eq ? (size_t)(eq - pairs[i]) : lens[i];
        pair_t *q = &p[np];
        q->name = text.len;
        if (decode)
            url_decode(&text, pairs[i], nl);
        else
            sbuf_append(&text, pairs[i], nl);
        q->nlen = text.len - q->name;
        q->value = text.len;
        if (eq) {
            if (decode)
                url_decode(&text, eq + 1, lens[i] - nl - 1);
            else
                sbuf_append(&text, eq + 1, lens[i] - nl - 1);
        }
        q->vlen = text.len - q->value;
        if (!q->nlen || !utf8_valid(text.data + q->name, q->nlen) ||
            !utf8_valid(text.data + q->value, q->vlen) ||
            skipped(text.data + q->name, q->nlen, skip))
            continue;
        np++;
    }
    sbuf_append_char(out, '{');
    int first = 1;
    for (size_t i = 0; i < np; i++) {
        const char *name = text.data + p[i].name;
        int later = 0; /* the same name again: the last one is kept */
        for (size_t j = i + 1; j < np && !later; j++)
            later = p[j].nlen == p[i].nlen && memcmp(text.data + p[j].name, name, p[i].nlen) == 0;
        if (later) continue;
        if (!first) sbuf_append_char(out, ',');
        first = 0;
        jtext_append_string(out, name, p[i].nlen);
        sbuf_append_char(out, ':');
        jtext_append_string(out, text.data + p[i].value, p[i].vlen);
    }
    sbuf_append_char(out, '}');
    sbuf_free(&text);
}

void url_query_json(sbuf_t *out, const char *q, size_t n, const char *const *skip)
{
    const char *pairs[URL_QUERY_MAX_PAIRS];
    size_t lens[URL_QUERY_MAX_PAIRS], np = 0;
    const char *p = q, *end = q + n;
    while (p < end && np < URL_QUERY_MAX_PAIRS) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e > p) {
            pairs[np] = p;
            lens[np++] = (size_t)(e - p);
        }
        p = amp ? amp + 1 : end;
    }
    url_pairs_json(out, pairs, lens, np, 1, skip);
}
