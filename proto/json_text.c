/* Strict JSON text scanner (see json_text.h): an iterative validator with an explicit
 * container stack, element spans over validated arrays, string decoding, and string
 * encoding byte-compatible with JavaScript's JSON.stringify. */
#include "json_text.h"

#include <stdint.h>
#include <string.h>

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws((unsigned char)*p)) p++;
    return p;
}

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Scans a string literal starting at the opening quote. Returns the position after the
 * closing quote, or NULL if the literal is malformed (bad escape, raw control character,
 * invalid UTF-8: overlong forms, UTF-8-encoded surrogates and code points past U+10FFFF). */
static const char *scan_string(const char *p, const char *end)
{
    const unsigned char *s = (const unsigned char *)p + 1, *e = (const unsigned char *)end;
    while (s < e) {
        unsigned char c = *s;
        if (c == '"') return (const char *)s + 1;
        if (c == '\\') {
            if (e - s < 2) return NULL;
            switch (s[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't': s += 2; break;
            case 'u':
                if (e - s < 6) return NULL;
                for (int k = 2; k < 6; k++)
                    if (hexval(s[k]) < 0) return NULL;
                s += 6;
                break;
            default: return NULL;
            }
        } else if (c < 0x20) {
            return NULL;
        } else if (c < 0x80) {
            s++;
        } else if (c >= 0xc2 && c <= 0xdf) {
            if (e - s < 2 || (s[1] & 0xc0) != 0x80) return NULL;
            s += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            if (e - s < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return NULL;
            if (c == 0xe0 && s[1] < 0xa0) return NULL;  /* overlong */
            if (c == 0xed && s[1] >= 0xa0) return NULL; /* surrogate */
            s += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            if (e - s < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
                (s[3] & 0xc0) != 0x80)
                return NULL;
            if (c == 0xf0 && s[1] < 0x90) return NULL;  /* overlong */
            if (c == 0xf4 && s[1] >= 0x90) return NULL; /* past U+10FFFF */
            s += 4;
        } else {
            return NULL; /* continuation byte, 0xc0/0xc1, 0xf5.. */
        }
    }
    return NULL;
}

/* Scans a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? Returns the end or NULL. */
static const char *scan_number(const char *p, const char *end)
{
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    return p;
}

static const char *scan_literal(const char *p, const char *end, const char *lit, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0) return NULL;
    return p + n;
}

/* Scans one scalar (string, number, literal) at p; *kind gets its kind. NULL if malformed. */
static const char *scan_scalar(const char *p, const char *end, json_kind_t *kind)
{
    switch (*p) {
    case '"': *kind = JT_STRING; return scan_string(p, end);
    case 't': *kind = JT_TRUE; return scan_literal(p, end, "true", 4);
    case 'f': *kind = JT_FALSE; return scan_literal(p, end, "false", 5);
    case 'n': *kind = JT_NULL; return scan_literal(p, end, "null", 4);
    default: *kind = JT_NUMBER; return scan_number(p, end);
    }
}

json_kind_t json_validate(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    char stack[JT_MAX_DEPTH]; /* '{' or '[' per open container */
    int depth = 0;
    json_kind_t top = JT_INVALID;

    p = skip_ws(p, end);
    for (;;) {
        /* Expect a value at p. */
        if (p >= end) return JT_INVALID;
        json_kind_t kind;
        if (*p == '{' || *p == '[') {
            if (depth == JT_MAX_DEPTH) return JT_INVALID;
            kind = *p == '{' ? JT_OBJECT : JT_ARRAY;
            if (top == JT_INVALID) top = kind;
            stack[depth++] = *p++;
            p = skip_ws(p, end);
            if (p >= end) return JT_INVALID;
            if (*p == (kind == JT_OBJECT ? '}' : ']')) {
                depth--;
                p++;
                goto after_value;
            }
            if (kind == JT_OBJECT) goto object_key;
            continue;
        }
        p = scan_scalar(p, end, &kind);
        if (!p) return JT_INVALID;
        if (top == JT_INVALID) top = kind;

    after_value:
        /* A value just ended: close containers or move to the next element/member. */
        for (;;) {
            p = skip_ws(p, end);
            if (depth == 0) return p == end ? top : JT_INVALID;
            if (p >= end) return JT_INVALID;
            char open = stack[depth - 1];
            if (*p == ',') {
                p = skip_ws(p + 1, end);
                if (open == '{') goto object_key;
                break;
            }
            if (*p != (open == '{' ? '}' : ']')) return JT_INVALID;
            depth--;
            p++;
        }
        continue;

    object_key:
        if (p >= end || *p != '"') return JT_INVALID;
        p = scan_string(p, end);
        if (!p) return JT_INVALID;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') return JT_INVALID;
        p = skip_ws(p + 1, end);
    }
}

/* Skips one value of validated text (any text: it never reads past end). */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end) return p;
    if (*p == '"') {
        for (p++; p < end; p++) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                return p + 1;
        }
        return end;
    }
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_value(p, end);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != ']' && *p != '}' && !is_ws((unsigned char)*p)) p++;
    return p;
}

static json_kind_t kind_of(char c)
{
    switch (c) {
    case '{': return JT_OBJECT;
    case '[': return JT_ARRAY;
    case '"': return JT_STRING;
    case 't': return JT_TRUE;
    case 'f': return JT_FALSE;
    case 'n': return JT_NULL;
    default: return JT_NUMBER;
    }
}

void json_array_iter_init(json_array_iter_t *it, const char *arr, size_t len)
{
    const char *end = arr + len;
    const char *p = skip_ws(arr, end);
    it->p = p < end && *p == '[' ? p + 1 : end;
    it->end = end;
    it->started = 0;
}

int json_array_next(json_array_iter_t *it, const char **elem, size_t *elen, json_kind_t *kind)
{
    const char *p = skip_ws(it->p, it->end);
    if (it->started) {
        if (p >= it->end || *p != ',') {
            it->p = it->end;
            return 0;
        }
        p = skip_ws(p + 1, it->end);
    }
    if (p >= it->end || *p == ']') {
        it->p = it->end;
        return 0;
    }
    const char *q = skip_value(p, it->end);
    *elem = p;
    *elen = (size_t)(q - p);
    *kind = kind_of(*p);
    it->p = q;
    it->started = 1;
    return 1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the 4 hex digits at s (the caller checked there are 4); -1 if one is not hex. */
static long hex4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((unsigned char)s[k]);
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

long json_string_decode(const char *s, size_t len, char *out, size_t cap)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"' || cap == 0) return -1;
    const char *p = s + 1, *end = s + len - 1;
    size_t o = 0;
    while (p < end) {
        /* Copy the run up to the next escape in one go. */
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((bs ? bs : end) - p);
        if (run >= cap - o) return -1;
        memcpy(out + o, p, run);
        o += run;
        p += run;
        if (p >= end) break;
        if (end - p < 2) return -1;
        char c = p[1];
        char one = 0;
        switch (c) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': break;
        default: return -1;
        }
        if (c != 'u') {
            if (cap - o < 2) return -1;
            out[o++] = one;
            p += 2;
            continue;
        }
        if (end - p < 6) return -1;
        long cp = hex4(p + 2);
        if (cp < 0) return -1;
        p += 6;
        if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
            long lo = hex4(p + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
        }
        /* A lone surrogate has no UTF-8 form: it becomes U+FFFD, as JavaScript's
         * TextEncoder and Buffer do. */
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        char tmp[4];
        size_t n = put_utf8(tmp, (uint32_t)cp);
        if (n >= cap - o) return -1;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return (long)o;
}

/* Per byte: 0 = copy verbatim, else the second character of a two-character escape, or 'u'
 * for \u00xx. */
static const char esc_tab[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f',  ['\r'] = 'r', [0x00] = 'u',
    [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',  [0x05] = 'u', [0x06] = 'u',
    [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u',  [0x10] = 'u', [0x11] = 'u',
    [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',  [0x16] = 'u', [0x17] = 'u',
    [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u',  [0x1c] = 'u', [0x1d] = 'u',
    [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

void json_append_string(sbuf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_reserve(out, len + 2);
    sbuf_append_char(out, '"');
    size_t i = 0, start = 0;
    for (; i < len; i++) {
        char e = esc_tab[(unsigned char)s[i]];
        if (!e) continue;
        sbuf_append(out, s + start, i - start);
        start = i + 1;
        if (e == 'u') {
            char u[6] = {
                '\\', 'u', '0', '0', hex[(unsigned char)s[i] >> 4], hex[(unsigned char)s[i] & 15]};
            sbuf_append(out, u, sizeof u);
        } else {
            char two[2] = {'\\', e};
            sbuf_append(out, two, sizeof two);
        }
    }
    sbuf_append(out, s + start, i - start);
    sbuf_append_char(out, '"');
}
