/* Recovery offsets (see rec_offset.h). */
#include "rec_offset.h"

#include <stdio.h>

/* One decimal number of s[*i..len) up to a '-' or the end: 1-20 digits, no leading zero. */
static int parse_u64(const char *s, size_t len, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
        (*i)++;
    }
    size_t n = *i - start;
    if (n == 0 || n > 20 || (n > 1 && s[start] == '0')) return -1;
    *out = v;
    return 0;
}

int rec_offset_parse(const char *s, size_t len, rec_offset_t *out)
{
    size_t i = 0;
    uint64_t ms, seq;
    if (!s || len > REC_OFFSET_MAX) return -1;
    if (parse_u64(s, len, &i, &ms) < 0 || i >= len || s[i] != '-') return -1;
    i++;
    if (parse_u64(s, len, &i, &seq) < 0 || i != len) return -1;
    if (ms > REC_MS_MAX || seq > REC_SEQ_MAX) return -1;
    *out = rec_offset_make(ms, seq);
    return 0;
}

size_t rec_offset_format(rec_offset_t o, char *out)
{
    int n = snprintf(out, REC_OFFSET_MAX + 1, "%llu-%llu", (unsigned long long)rec_offset_ms(o),
                     (unsigned long long)rec_offset_seq(o));
    return n > 0 ? (size_t)n : 0;
}

rec_offset_t rec_offset_next(rec_offset_t last, uint64_t now_ms)
{
    if (now_ms > REC_MS_MAX) now_ms = REC_MS_MAX;
    if (now_ms > rec_offset_ms(last)) return rec_offset_make(now_ms, 0);
    return last + 1; /* a full seq carries into ms */
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int rec_offset_append_to_array(sbuf_t *out, const char *arr, size_t len, rec_offset_t o)
{
    size_t end = len;
    while (end > 0 && is_space(arr[end - 1])) end--;
    if (end == 0 || arr[end - 1] != ']') return -1;
    size_t inner = end - 1; /* before the ']' */
    while (inner > 0 && is_space(arr[inner - 1])) inner--;
    int empty = inner > 0 && arr[inner - 1] == '[';
    char text[REC_OFFSET_MAX + 1];
    size_t n = rec_offset_format(o, text);
    sbuf_append(out, arr, inner);
    if (!empty) sbuf_append_char(out, ',');
    sbuf_append_char(out, '"');
    sbuf_append(out, text, n);
    sbuf_append_str(out, "\"]");
    return 0;
}
