/* Strict JSON text scanner (see jtext.h): an iterative validator with an explicit container
 * stack, value skipping and member walks over validated text, string decoding, and string
 * encoding byte-compatible with JavaScript's JSON.stringify. */
#include "jtext.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *jtext_skip_ws(const char *p, const char *end)
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
        } else {
            size_t m = utf8_seq(s, (size_t)(e - s), NULL);
            if (!m) return NULL;
            s += m;
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
static const char *scan_scalar(const char *p, const char *end, jtext_kind_t *kind)
{
    switch (*p) {
    case '"': *kind = JTEXT_STRING; return scan_string(p, end);
    case 't': *kind = JTEXT_TRUE; return scan_literal(p, end, "true", 4);
    case 'f': *kind = JTEXT_FALSE; return scan_literal(p, end, "false", 5);
    case 'n': *kind = JTEXT_NULL; return scan_literal(p, end, "null", 4);
    default: *kind = JTEXT_NUMBER; return scan_number(p, end);
    }
}

jtext_kind_t jtext_validate(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    char stack[JTEXT_MAX_DEPTH]; /* '{' or '[' per open container */
    int depth = 0;
    jtext_kind_t top = JTEXT_INVALID;

    p = jtext_skip_ws(p, end);
    for (;;) {
        /* Expect a value at p. */
        if (p >= end) return JTEXT_INVALID;
        jtext_kind_t kind;
        if (*p == '{' || *p == '[') {
            if (depth == JTEXT_MAX_DEPTH) return JTEXT_INVALID;
            kind = *p == '{' ? JTEXT_OBJECT : JTEXT_ARRAY;
            if (top == JTEXT_INVALID) top = kind;
            stack[depth++] = *p++;
            p = jtext_skip_ws(p, end);
            if (p >= end) return JTEXT_INVALID;
            if (*p == (kind == JTEXT_OBJECT ? '}' : ']')) {
                depth--;
                p++;
                goto after_value;
            }
            if (kind == JTEXT_OBJECT) goto object_key;
            continue;
        }
        p = scan_scalar(p, end, &kind);
        if (!p) return JTEXT_INVALID;
        if (top == JTEXT_INVALID) top = kind;

    after_value:
        /* A value just ended: close containers or move to the next element/member. */
        for (;;) {
            p = jtext_skip_ws(p, end);
            if (depth == 0) return p == end ? top : JTEXT_INVALID;
            if (p >= end) return JTEXT_INVALID;
            char open = stack[depth - 1];
            if (*p == ',') {
                p = jtext_skip_ws(p + 1, end);
                if (open == '{') goto object_key;
                break;
            }
            if (*p != (open == '{' ? '}' : ']')) return JTEXT_INVALID;
            depth--;
            p++;
        }
        continue;

    object_key:
        if (p >= end || *p != '"') return JTEXT_INVALID;
        p = scan_string(p, end);
        if (!p) return JTEXT_INVALID;
        p = jtext_skip_ws(p, end);
        if (p >= end || *p != ':') return JTEXT_INVALID;
        p = jtext_skip_ws(p + 1, end);
    }
}

const char *jtext_skip(const char *p, const char *end)
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
                p = jtext_skip(p, end);
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

static jtext_kind_t kind_of(char c)
{
    switch (c) {
    case '{': return JTEXT_OBJECT;
    case '[': return JTEXT_ARRAY;
    case '"': return JTEXT_STRING;
    case 't': return JTEXT_TRUE;
    case 'f': return JTEXT_FALSE;
    case 'n': return JTEXT_NULL;
    default: return JTEXT_NUMBER;
    }
}

void jtext_iter_init(jtext_iter_t *it, const char *text, size_t len)
{
    const char *end = text + len;
    const char *p = jtext_skip_ws(text, end);
    it->p = p < end && (*p == '[' || *p == '{') ? p + 1 : end;
    it->end = end;
    it->started = 0;
}

/* Moves to the next member's start: past the comma after the previous one. NULL when the
 * container is done (the walk then stays at its end). */
static const char *iter_step(jtext_iter_t *it)
{
    const char *p = jtext_skip_ws(it->p, it->end);
    if (it->started) {
        if (p >= it->end || *p != ',') {
            it->p = it->end;
            return NULL;
        }
        p = jtext_skip_ws(p + 1, it->end);
    }
    if (p >= it->end || *p == ']' || *p == '}') {
        it->p = it->end;
        return NULL;
    }
    return p;
}

int jtext_array_next(jtext_iter_t *it, const char **elem, size_t *elen, jtext_kind_t *kind)
{
    const char *p = iter_step(it);
    if (!p) return 0;
    const char *q = jtext_skip(p, it->end);
    *elem = p;
    *elen = (size_t)(q - p);
    *kind = kind_of(*p);
    it->p = q;
    it->started = 1;
    return 1;
}

int jtext_object_next(jtext_iter_t *it, const char **key, size_t *klen, const char **val,
                      size_t *vlen, jtext_kind_t *kind)
{
    const char *p = iter_step(it);
    if (!p) return 0;
    const char *q = jtext_skip(p, it->end);
    *key = p;
    *klen = (size_t)(q - p);
    p = jtext_skip_ws(q, it->end);
    if (p < it->end && *p == ':') p++;
    p = jtext_skip_ws(p, it->end);
    q = jtext_skip(p, it->end);
    *val = p;
    *vlen = (size_t)(q - p);
    *kind = p < it->end ? kind_of(*p) : JTEXT_INVALID;
    it->p = q;
    it->started = 1;
    return 1;
}

void jtext_iter_rest(const jtext_iter_t *it, const char **rest, size_t *rest_len)
{
    const char *p = jtext_skip_ws(it->p, it->end);
    if (it->started && p < it->end && *p == ',') p = jtext_skip_ws(p + 1, it->end);
    const char *q = it->end;
    while (q > p && is_ws((unsigned char)q[-1])) q--;
    if (q > p && (q[-1] == ']' || q[-1] == '}')) q--;
    while (q > p && is_ws((unsigned char)q[-1])) q--;
    *rest = p;
    *rest_len = (size_t)(q - p);
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

long jtext_string_decode(const char *s, size_t len, char *out, size_t cap)
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

int jtext_string_is(const char *s, size_t len, const char *name)
{
    char buf[64];
    long n = jtext_string_decode(s, len, buf, sizeof buf);
    return n >= 0 && (size_t)n == strlen(name) && memcmp(buf, name, (size_t)n) == 0;
}

void jtext_append_string(sbuf_t *out, const char *s, size_t len)
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

int jtext_truthy(const char *v, size_t len, jtext_kind_t kind)
{
    switch (kind) {
    case JTEXT_NULL:
    case JTEXT_FALSE:
    case JTEXT_INVALID: return 0;
    case JTEXT_STRING: return len > 2; /* "" */
    case JTEXT_NUMBER: {
        /* a zero is written with no digit other than 0 before its exponent */
        for (size_t i = 0; i < len && v[i] != 'e' && v[i] != 'E'; i++)
            if (v[i] >= '1' && v[i] <= '9') return 1;
        return 0;
    }
    default: return 1; /* true, objects and arrays, empty ones too */
    }
}
