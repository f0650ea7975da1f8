/* Redis adapter messages (see adapter_msg.h). Decoding uses its own bounds-checked msgpack
 * reader rather than msgpack_unpack(): notepack gives fixext and ext 8 of the same type
 * different meanings (d4 00 00 is undefined, c7 01 00 xx a 1-byte ArrayBuffer), which
 * msgpack_object cannot tell apart, and a reader that never allocates by declared counts
 * cannot be made to reserve gigabytes by a five-byte message. Encoding uses msgpack-c's
 * packer, which picks the smallest forms as notepack does. */
#include "adapter_msg.h"

#include "alloc.h"
#include "jtext.h"

#include <msgpack.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *amsg_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case AMSG_EMSGPACK: return "malformed msgpack";
    case AMSG_ETRAILING: return "trailing bytes after the msgpack value";
    case AMSG_EDEPTH: return "nesting too deep";
    case AMSG_EKEY: return "map key is neither a string nor an integer";
    case AMSG_EJSON: return "invalid JSON";
    case AMSG_EPLACEHOLDER: return "invalid attachment placeholder";
    case AMSG_ESHAPE: return "unexpected message shape";
    default: return "unknown error";
    }
}

/* ---- msgpack reader ---- */

typedef struct {
    const uint8_t *p, *end;
} rd_t;

enum { K_NIL, K_BOOL, K_UINT, K_INT, K_F32, K_F64, K_STR, K_BIN, K_ARR, K_MAP, K_EXT };

typedef struct {
    int kind;
    uint8_t hdr;      /* first byte */
    int8_t ext;       /* K_EXT: the ext type */
    uint64_t u;       /* K_BOOL, K_UINT; K_ARR / K_MAP: element / pair count */
    int64_t i;        /* K_INT (always negative) */
    double f;         /* K_F32, K_F64 */
    const uint8_t *b; /* K_STR, K_BIN, K_EXT payload */
    size_t len;
} item_t;

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) v = v << 8 | p[k];
    return v;
}

static size_t rd_left(const rd_t *r)
{
    return (size_t)(r->end - r->p);
}

static int rd_take(rd_t *r, size_t n, const uint8_t **out)
{
    if (rd_left(r) < n) return AMSG_EMSGPACK;
    *out = r->p;
    r->p += n;
    return 0;
}

/* Reads one item: scalars whole, str/bin/ext with their payload, arrays and maps as their
 * header only (a count that the remaining bytes cannot hold is an error). */
static int rd_item(rd_t *r, item_t *it)
{
    const uint8_t *h, *q;
    if (rd_take(r, 1, &h)) return AMSG_EMSGPACK;
    uint8_t c = h[0];
    size_t lenbytes = 0, n = 0;
    it->hdr = c;
    if (c <= 0x7f) {
        it->kind = K_UINT;
        it->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        it->kind = K_INT;
        it->i = (int8_t)c;
        return 0;
    }
    if (c <= 0x9f) {
        it->kind = c <= 0x8f ? K_MAP : K_ARR;
        it->u = c & 0x0f;
        goto count;
    }
    if (c <= 0xbf) {
        it->kind = K_STR;
        n = c & 0x1f;
        goto payload;
    }
    switch (c) {
    case 0xc0: it->kind = K_NIL; return 0;
    case 0xc2:
    case 0xc3:
        it->kind = K_BOOL;
        it->u = c == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        it->kind = K_BIN;
        lenbytes = (size_t)1 << (c - 0xc4);
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        it->kind = K_EXT;
        lenbytes = (size_t)1 << (c - 0xc7);
        break;
    case 0xca:
    case 0xcb: {
        if (rd_take(r, c == 0xca ? 4 : 8, &q)) return AMSG_EMSGPACK;
        if (c == 0xca) {
            uint32_t w = (uint32_t)be(q, 4);
            float fl;
            memcpy(&fl, &w, 4);
            it->kind = K_F32;
            it->f = fl;
        } else {
            uint64_t w = be(q, 8);
            memcpy(&it->f, &w, 8);
            it->kind = K_F64;
        }
        return 0;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        n = (size_t)1 << (c - 0xcc);
        if (rd_take(r, n, &q)) return AMSG_EMSGPACK;
        it->kind = K_UINT;
        it->u = be(q, n);
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        n = (size_t)1 << (c - 0xd0);
        if (rd_take(r, n, &q)) return AMSG_EMSGPACK;
        uint64_t w = be(q, n);
        if (n < 8 && (w >> (8 * n - 1)) & 1) w |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        int64_t v;
        memcpy(&v, &w, 8);
        if (v >= 0) {
            it->kind = K_UINT;
            it->u = (uint64_t)v;
        } else {
            it->kind = K_INT;
            it->i = v;
        }
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        it->kind = K_EXT;
        if (rd_take(r, 1, &q)) return AMSG_EMSGPACK;
        it->ext = (int8_t)q[0];
        n = (size_t)1 << (c - 0xd4);
        goto payload;
    case 0xd9:
    case 0xda:
    case 0xdb:
        it->kind = K_STR;
        lenbytes = (size_t)1 << (c - 0xd9);
        break;
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
        it->kind = c <= 0xdd ? K_ARR : K_MAP;
        n = c == 0xdc || c == 0xde ? 2 : 4;
        if (rd_take(r, n, &q)) return AMSG_EMSGPACK;
        it->u = be(q, n);
        goto count;
    default: return AMSG_EMSGPACK; /* 0xc1 */
    }
    if (rd_take(r, lenbytes, &q)) return AMSG_EMSGPACK;
    n = (size_t)be(q, lenbytes);
    if (it->kind == K_EXT) {
        if (rd_take(r, 1, &q)) return AMSG_EMSGPACK;
        it->ext = (int8_t)q[0];
    }
payload:
    if (rd_take(r, n, &it->b)) return AMSG_EMSGPACK;
    it->len = n;
    return 0;
count:
    /* Every element takes at least one byte. */
    if (it->u > rd_left(r) / (it->kind == K_MAP ? 2 : 1)) return AMSG_EMSGPACK;
    return 0;
}

/* What an ext item means to notepack's decoder. */
enum { X_TS32, X_TS64, X_TS96, X_DATE, X_UNDEF, X_BIN, X_PAIR, X_BAD };

static int ext_class(const item_t *it)
{
    int fix = it->hdr >= 0xd4;
    if (it->ext == -1) {
        if (fix && it->len == 4) return X_TS32;
        if (fix && it->len == 8) return X_TS64;
        if (it->hdr == 0xc7) return it->len == 12 ? X_TS96 : X_BAD;
        return X_PAIR;
    }
    if (it->ext == 0) {
        if (!fix) return X_BIN; /* notepack 2.x ArrayBuffer */
        if (it->len == 1) return X_UNDEF;
        if (it->len == 8) return X_DATE;
    }
    return X_PAIR; /* [type, Buffer] */
}

/* JSON container levels an item opens: arrays and maps 1, binaries 1 (the placeholder
 * object), other exts 2 ([type, placeholder]). */
static int json_levels(const item_t *it)
{
    switch (it->kind) {
    case K_ARR:
    case K_MAP:
    case K_BIN: return 1;
    case K_EXT:
        switch (ext_class(it)) {
        case X_BIN: return 1;
        case X_PAIR: return 2;
        default: return 0;
        }
    default: return 0;
    }
}

static int is_undefined_at(const uint8_t *v, const uint8_t *end)
{
    return end - v >= 3 && v[0] == 0xd4 && v[1] == 0x00;
}

/* Validates and skips one value whose JSON nesting starts at depth: well-formed, within
 * AMSG_MAX_DEPTH, map keys strings or integers, Timestamps of a valid length. Everything the
 * converter accepts, this accepts. */
static int mp_skip(rd_t *r, int depth)
{
    item_t it;
    int rc = rd_item(r, &it);
    if (rc) return rc;
    int lv = json_levels(&it);
    if (lv && depth + lv > AMSG_MAX_DEPTH) return AMSG_EDEPTH;
    if (it.kind == K_EXT && ext_class(&it) == X_BAD) return AMSG_EMSGPACK;
    if (it.kind == K_ARR) {
        for (uint64_t k = 0; k < it.u; k++)
            if ((rc = mp_skip(r, depth + 1))) return rc;
    } else if (it.kind == K_MAP) {
        for (uint64_t k = 0; k < it.u; k++) {
            item_t key;
            if ((rc = rd_item(r, &key))) return rc;
            if (key.kind != K_STR && key.kind != K_UINT && key.kind != K_INT) return AMSG_EKEY;
            if ((rc = mp_skip(r, depth + 1))) return rc;
        }
    }
    return 0;
}

/* ---- text helpers: UTF-8 as Node reads it, JavaScript numbers and dates ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid there; *bad gets how
 * many bytes form the maximal invalid subpart that one U+FFFD replaces (WHATWG decoder). */
static size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t c = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    *bad = 1;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if (k >= n || s[k] < lo || s[k] > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80, hi = 0xbf;
    }
    return need + 1;
}

/* Returns s itself when it is valid UTF-8, else a copy in tmp with each maximal invalid
 * subpart replaced by U+FFFD; *outlen gets the length. */
static const char *utf8_clean(const uint8_t *s, size_t n, sbuf_t *tmp, size_t *outlen)
{
    size_t k = 0, bad;
    while (k < n) {
        size_t m = utf8_seq(s + k, n - k, &bad);
        if (!m) break;
        k += m;
    }
    *outlen = n;
    if (k == n) return (const char *)s;
    sbuf_reset(tmp);
    sbuf_append(tmp, s, k);
    while (k < n) {
        size_t m = utf8_seq(s + k, n - k, &bad);
        if (m) {
            sbuf_append(tmp, s + k, m);
            k += m;
        } else {
            sbuf_append(tmp, "\xef\xbf\xbd", 3);
            k += bad;
        }
    }
    *outlen = tmp->len;
    return tmp->data;
}

/* Shortest decimal digits that read back as v (finite, > 0): digits into d (no trailing
 * zeros), returns their count k, and *n such that v = 0.d1..dk * 10^n. Among candidates of
 * the shortest length the nearest is taken, as Number::toString requires. */
static int shortest_digits(double v, char d[24], int *n)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        /* buf: D[.DDD]e[+-]XX */
        uint64_t s = 0;
        const char *q = buf;
        for (; *q != 'e'; q++)
            if (*q != '.') s = s * 10 + (uint64_t)(*q - '0');
        int e = atoi(q + 1); /* exponent of the first digit */
        uint64_t cand[3] = {s, s - 1, s + 1};
        for (int c = 0; c < 3; c++) {
            uint64_t t = cand[c];
            int te = e - (p - 1); /* v ~ t * 10^te */
            if (t == 0) continue;
            char chk[48];
            snprintf(chk, sizeof chk, "%" PRIu64 "e%d", t, te);
            if (strtod(chk, NULL) != v) continue;
            int k = snprintf(d, 24, "%" PRIu64, t);
            *n = te + k;
            while (k > 1 && d[k - 1] == '0') k--;
            d[k] = 0;
            return k;
        }
    }
    /* Not reached: 17 digits always read back. */
    snprintf(buf, sizeof buf, "%.16e", v);
    d[0] = buf[0];
    memcpy(d + 1, buf + 2, 16);
    d[17] = 0;
    *n = atoi(buf + 19) + 1;
    return 17;
}

/* Appends String(v) as JavaScript writes it; NaN and the infinities become null, as
 * JSON.stringify writes them. */
static void js_number(sbuf_t *out, double v)
{
    if (isnan(v) || isinf(v)) {
        sbuf_append(out, "null", 4);
        return;
    }
    if (v == 0) {
        sbuf_append_char(out, '0');
        return;
    }
    if (v < 0) {
        sbuf_append_char(out, '-');
        v = -v;
    }
    char d[24];
    int n, k = shortest_digits(v, d, &n);
    if (k <= n && n <= 21) {
        sbuf_append(out, d, (size_t)k);
        for (int z = k; z < n; z++) sbuf_append_char(out, '0');
    } else if (0 < n && n <= 21) {
        sbuf_append(out, d, (size_t)n);
        sbuf_append_char(out, '.');
        sbuf_append(out, d + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        sbuf_append(out, "0.", 2);
        for (int z = 0; z < -n; z++) sbuf_append_char(out, '0');
        sbuf_append(out, d, (size_t)k);
    } else {
        sbuf_append_char(out, d[0]);
        if (k > 1) {
            sbuf_append_char(out, '.');
            sbuf_append(out, d + 1, (size_t)(k - 1));
        }
        sbuf_printf(out, "e%c%d", n - 1 > 0 ? '+' : '-', abs(n - 1));
    }
}

/* Appends new Date(t).toJSON() as a JSON value: the ISO-8601 string, or null when t is not a
 * valid time value (TimeClip). */
static void js_date(sbuf_t *out, double t)
{
    if (!isfinite(t) || fabs(t) > 8.64e15) {
        sbuf_append(out, "null", 4);
        return;
    }
    int64_t ms = (int64_t)t; /* truncates toward zero, as TimeClip does */
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) rem += 86400000, days--;
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    if (mm <= 2) y++;
    sbuf_append_char(out, '"');
    if (y >= 0 && y <= 9999)
        sbuf_printf(out, "%04d", (int)y);
    else
        sbuf_printf(out, "%c%06d", y < 0 ? '-' : '+', (int)(y < 0 ? -y : y));
    sbuf_printf(out, "-%02d-%02dT%02d:%02d:%02d.%03dZ\"", (int)mm, (int)dd, (int)(rem / 3600000),
                (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
}

/* Milliseconds that notepack's decoder hands to new Date() for a Timestamp or legacy Date,
 * computed in the same double arithmetic (volatile keeps the compiler from fusing a
 * multiply-add, which would round differently). */
static double ext_time(const item_t *it, int cls)
{
    const uint8_t *b = it->b;
    volatile double prod;
    switch (cls) {
    case X_TS32: return (double)be(b, 4) * 1e3;
    case X_TS64: {
        uint32_t hi = (uint32_t)be(b, 4), lo = (uint32_t)be(b + 4, 4);
        prod = ((double)(hi & 3) * 4294967296.0 + lo) * 1e3;
        return prod + (double)(hi >> 2) / 1e6;
    }
    case X_TS96: {
        uint32_t ns = (uint32_t)be(b, 4);
        int32_t hi = (int32_t)(uint32_t)be(b + 4, 4);
        uint32_t lo = (uint32_t)be(b + 8, 4);
        prod = ((double)hi * 4294967296.0 + lo) * 1e3;
        return prod + (double)ns / 1e6;
    }
    default: { /* X_DATE */
        int32_t hi = (int32_t)(uint32_t)be(b, 4);
        return (double)hi * 4294967296.0 + (double)(uint32_t)be(b + 4, 4);
    }
    }
}

/* ---- msgpack -> JSON text + attachments ---- */

typedef struct {
    sbuf_t out;
    sio_attachment_t *att;
    unsigned natt, cap;
    sbuf_t tmp;
} conv_t;

static void conv_placeholder(conv_t *c, const uint8_t *b, size_t len)
{
    if (c->natt == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->att = xrealloc(c->att, c->cap * sizeof *c->att);
    }
    c->att[c->natt].data = xmemdup(len ? b : (const uint8_t *)"", len ? len : 1);
    c->att[c->natt].len = len;
    sbuf_printf(&c->out, "{\"_placeholder\":true,\"num\":%u}", c->natt);
    c->natt++;
}

static void conv_string(conv_t *c, const uint8_t *s, size_t n)
{
    size_t len;
    const char *t = utf8_clean(s, n, &c->tmp, &len);
    jtext_append_string(&c->out, t, len);
}

typedef struct {
    const char *k; /* key text (points into the map's key arena) */
    size_t koff, klen;
    uint32_t index; /* array index value when is_index */
    int is_index;
    size_t order;
    const uint8_t *v; /* value position */
    int drop;
} ent_t;

static int ent_by_key(const void *a, const void *b)
{
    const ent_t *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);
    if (c) return c;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* JavaScript's own-key order: array indices ascending, then insertion order. */
static int ent_by_js_order(const void *a, const void *b)
{
    const ent_t *x = a, *y = b;
    if (x->is_index != y->is_index) return x->is_index ? -1 : 1;
    if (x->is_index && x->index != y->index) return x->index < y->index ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* A canonical array index: "0" or [1-9][0-9]* up to 2^32 - 2. */
static int array_index(const char *k, size_t n, uint32_t *out)
{
    if (n == 0 || n > 10 || (n > 1 && k[0] == '0')) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9') return 0;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v > 4294967294u) return 0;
    *out = (uint32_t)v;
    return 1;
}

/* An integer map key is the text of the number Node decoded it to: exact up to 2^53, beyond
 * that String() of the nearest double ("18446744073709552000"). */
static void int_key(sbuf_t *keys, const item_t *key)
{
    if (key->kind == K_UINT && key->u <= (1ULL << 53))
        sbuf_printf(keys, "%" PRIu64, key->u);
    else if (key->kind == K_INT && key->i >= -(1LL << 53))
        sbuf_printf(keys, "%" PRId64, key->i);
    else
        js_number(keys, key->kind == K_UINT ? (double)key->u : (double)key->i);
}

static int conv_value(conv_t *c, rd_t *r, int depth);

static int conv_map(conv_t *c, rd_t *r, uint64_t count, int depth)
{
    ent_t *e = count ? xmalloc(count * sizeof *e) : NULL;
    sbuf_t keys = SBUF_INIT;
    int rc = 0;
    for (uint64_t k = 0; k < count; k++) {
        item_t key;
        if ((rc = rd_item(r, &key))) goto out;
        e[k].koff = keys.len;
        if (key.kind == K_STR) {
            size_t len;
            const char *t = utf8_clean(key.b, key.len, &c->tmp, &len);
            sbuf_append(&keys, t, len);
        } else if (key.kind == K_UINT || key.kind == K_INT) {
            int_key(&keys, &key);
        } else {
            rc = AMSG_EKEY;
            goto out;
        }
        e[k].klen = keys.len - e[k].koff;
        e[k].order = (size_t)k;
        e[k].v = r->p;
        e[k].drop = 0;
        if ((rc = mp_skip(r, depth + 1))) goto out;
    }
    for (uint64_t k = 0; k < count; k++) {
        e[k].k = keys.data + e[k].koff;
        e[k].is_index = array_index(e[k].k, e[k].klen, &e[k].index);
        if (e[k].klen == 9 && memcmp(e[k].k, "__proto__", 9) == 0) e[k].drop = 1;
    }
    /* A repeated key keeps its first place and takes its last value. */
    if (count > 1) {
        qsort(e, (size_t)count, sizeof *e, ent_by_key);
        for (size_t k = 0; k < count;) {
            size_t j = k + 1;
            while (j < count && e[j].klen == e[k].klen && !memcmp(e[j].k, e[k].k, e[k].klen)) {
                e[k].v = e[j].v;
                e[j].drop = 1;
                j++;
            }
            k = j;
        }
        qsort(e, (size_t)count, sizeof *e, ent_by_js_order);
    }
    sbuf_append_char(&c->out, '{');
    int first = 1;
    for (uint64_t k = 0; k < count; k++) {
        if (e[k].drop || is_undefined_at(e[k].v, r->end)) continue;
        if (!first) sbuf_append_char(&c->out, ',');
        first = 0;
        jtext_append_string(&c->out, e[k].k, e[k].klen);
        sbuf_append_char(&c->out, ':');
        rd_t vr = {e[k].v, r->end};
        if ((rc = conv_value(c, &vr, depth + 1))) goto out;
    }
    sbuf_append_char(&c->out, '}');
out:
    free(e);
    sbuf_free(&keys);
    return rc;
}

/* Writes the JSON for the value at r (its nesting starting at depth). */
static int conv_value(conv_t *c, rd_t *r, int depth)
{
    item_t it;
    int rc = rd_item(r, &it);
    if (rc) return rc;
    int lv = json_levels(&it);
    if (lv && depth + lv > AMSG_MAX_DEPTH) return AMSG_EDEPTH;
    switch (it.kind) {
    case K_NIL: sbuf_append(&c->out, "null", 4); return 0;
    case K_BOOL: sbuf_append_str(&c->out, it.u ? "true" : "false"); return 0;
    case K_UINT: sbuf_printf(&c->out, "%" PRIu64, it.u); return 0;
    case K_INT: sbuf_printf(&c->out, "%" PRId64, it.i); return 0;
    case K_F32:
    case K_F64: js_number(&c->out, it.f); return 0;
    case K_STR: conv_string(c, it.b, it.len); return 0;
    case K_BIN: conv_placeholder(c, it.b, it.len); return 0;
    case K_ARR:
        sbuf_append_char(&c->out, '[');
        for (uint64_t k = 0; k < it.u; k++) {
            if (k) sbuf_append_char(&c->out, ',');
            if (is_undefined_at(r->p, r->end)) {
                r->p += 3;
                sbuf_append(&c->out, "null", 4);
            } else if ((rc = conv_value(c, r, depth + 1))) {
                return rc;
            }
        }
        sbuf_append_char(&c->out, ']');
        return 0;
    case K_MAP: return conv_map(c, r, it.u, depth);
    default: break;
    }
    int cls = ext_class(&it);
    switch (cls) {
    case X_TS32:
    case X_TS64:
    case X_TS96:
    case X_DATE: js_date(&c->out, ext_time(&it, cls)); return 0;
    case X_UNDEF: sbuf_append(&c->out, "null", 4); return 0;
    case X_BIN: conv_placeholder(c, it.b, it.len); return 0;
    case X_PAIR:
        sbuf_printf(&c->out, "[%d,", it.ext);
        conv_placeholder(c, it.b, it.len);
        sbuf_append_char(&c->out, ']');
        return 0;
    default: return AMSG_EMSGPACK;
    }
}

static void conv_free(conv_t *c)
{
    for (unsigned k = 0; k < c->natt; k++) free(c->att[k].data);
    free(c->att);
    sbuf_free(&c->out);
    sbuf_free(&c->tmp);
    memset(c, 0, sizeof *c);
}

/* Converts the value at r into out (json NULL for the legacy undefined). */
static int value_from(rd_t *r, amsg_value_t *out)
{
    conv_t c;
    memset(&c, 0, sizeof c);
    if (is_undefined_at(r->p, r->end)) {
        r->p += 3;
        memset(out, 0, sizeof *out);
        return 0;
    }
    int rc = conv_value(&c, r, 0);
    if (rc) {
        conv_free(&c);
        return rc;
    }
    sbuf_free(&c.tmp);
    if (!c.out.data) sbuf_append(&c.out, "", 0);
    size_t len;
    out->json = sbuf_steal(&c.out, &len);
    out->json_len = len;
    out->att = c.att;
    out->natt = c.natt;
    return 0;
}

void amsg_value_free(amsg_value_t *v)
{
    if (!v) return;
    for (unsigned k = 0; k < v->natt; k++) free(v->att[k].data);
    free(v->att);
    free((char *)v->json);
    memset(v, 0, sizeof *v);
}

int amsg_value_decode(const uint8_t *buf, size_t len, amsg_value_t *out)
{
    rd_t r = {buf, buf + len};
    amsg_value_t v;
    int rc = value_from(&r, &v);
    if (rc) return rc;
    if (r.p != r.end) {
        amsg_value_free(&v);
        return AMSG_ETRAILING;
    }
    *out = v;
    return 0;
}

/* ---- JSON text + attachments -> msgpack ---- */

typedef struct {
    msgpack_packer pk;
    const sio_attachment_t *att;
    unsigned natt;
    char *scratch;
    size_t scap;
} enc_t;

static int sbuf_write(void *data, const char *buf, size_t len)
{
    sbuf_append(data, buf, len);
    return 0;
}

static const char *jws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* End of the value at p in validated JSON. */
static const char *jskip(const char *p, const char *end)
{
    if (*p == '"') {
        for (p++; p < end; p++) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                return p + 1;
        }
        return end;
    }
    if (*p == '[' || *p == '{') {
        int level = 0;
        for (; p < end; p++) {
            if (*p == '"') {
                p = jskip(p, end) - 1;
            } else if (*p == '[' || *p == '{') {
                level++;
            } else if (*p == ']' || *p == '}') {
                if (--level == 0) return p + 1;
            }
        }
        return end;
    }
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' &&
           *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* Decodes the string literal s[0..n) into the scratch buffer; returns its length. */
static size_t enc_decode_string(enc_t *e, const char *s, size_t n)
{
    if (e->scap < n + 1) {
        e->scap = n + 1;
        free(e->scratch);
        e->scratch = xmalloc(e->scap);
    }
    long len = jtext_string_decode(s, n, e->scratch, e->scap);
    return len < 0 ? 0 : (size_t)len;
}

static void enc_number(enc_t *e, const char *s, size_t n)
{
    int neg = s[0] == '-';
    size_t k = (size_t)neg;
    uint64_t v = 0;
    int simple = 1;
    for (; k < n; k++) {
        if (s[k] < '0' || s[k] > '9') {
            simple = 0;
            break;
        }
        unsigned dgt = (unsigned)(s[k] - '0');
        if (v > (UINT64_MAX - dgt) / 10) {
            simple = 0;
            break;
        }
        v = v * 10 + dgt;
    }
    if (simple && !neg) {
        msgpack_pack_uint64(&e->pk, v);
        return;
    }
    if (simple && v <= (uint64_t)INT64_MAX + 1) {
        msgpack_pack_int64(&e->pk, v ? (int64_t)(0 - v) : 0);
        return;
    }
    char *t = xstrndup(s, n);
    double d = strtod(t, NULL);
    free(t);
    if (isfinite(d) && floor(d) == d && d >= -9223372036854775808.0 && d < 18446744073709551616.0) {
        if (d >= 0)
            msgpack_pack_uint64(&e->pk, (uint64_t)d);
        else
            msgpack_pack_int64(&e->pk, (int64_t)d);
    } else {
        msgpack_pack_double(&e->pk, d);
    }
}

static int enc_value(enc_t *e, const char **pp, const char *end);

static int enc_object(enc_t *e, const char **pp, const char *end)
{
    const char *p = jws(*pp + 1, end);
    const char *start = p;
    uint32_t count = 0;
    int placeholder = 0;
    const char *num = NULL;
    size_t num_len = 0;
    /* First pass: count members and look for "_placeholder": true (last one wins). */
    while (p < end && *p != '}') {
        const char *k = p;
        p = jskip(p, end);
        size_t klen = (size_t)(p - k);
        int which = 0;
        if (klen <= 64) {
            char name[64];
            long n = jtext_string_decode(k, klen, name, sizeof name);
            if (n == 12 && !memcmp(name, "_placeholder", 12)) which = 1;
            if (n == 3 && !memcmp(name, "num", 3)) which = 2;
        }
        p = jws(jws(p, end) + 1, end); /* ':' */
        const char *v = p;
        p = jskip(p, end);
        size_t vlen = (size_t)(p - v);
        if (which == 1) placeholder = vlen == 4 && !memcmp(v, "true", 4);
        if (which == 2) num = v, num_len = vlen;
        count++;
        p = jws(p, end);
        if (p < end && *p == ',') p = jws(p + 1, end);
    }
    if (placeholder) {
        uint64_t x = 0;
        if (!num || num_len == 0 || num_len > 10) return AMSG_EPLACEHOLDER;
        for (size_t k = 0; k < num_len; k++) {
            if (num[k] < '0' || num[k] > '9') return AMSG_EPLACEHOLDER;
            x = x * 10 + (uint64_t)(num[k] - '0');
        }
        if (x >= e->natt) return AMSG_EPLACEHOLDER;
        msgpack_pack_bin(&e->pk, e->att[x].len);
        msgpack_pack_bin_body(&e->pk, e->att[x].data, e->att[x].len);
        *pp = p + 1;
        return 0;
    }
    msgpack_pack_map(&e->pk, count);
    p = start;
    while (p < end && *p != '}') {
        const char *k = p;
        p = jskip(p, end);
        size_t len = enc_decode_string(e, k, (size_t)(p - k));
        msgpack_pack_str(&e->pk, len);
        msgpack_pack_str_body(&e->pk, e->scratch, len);
        p = jws(jws(p, end) + 1, end);
        int rc = enc_value(e, &p, end);
        if (rc) return rc;
        p = jws(p, end);
        if (p < end && *p == ',') p = jws(p + 1, end);
    }
    *pp = p + 1;
    return 0;
}

static int enc_value(enc_t *e, const char **pp, const char *end)
{
    const char *p = *pp;
    switch (*p) {
    case '{': return enc_object(e, pp, end);
    case '[': {
        uint32_t count = 0;
        jtext_iter_t it;
        const char *close = jskip(p, end);
        jtext_iter_init(&it, p, (size_t)(close - p));
        const char *el;
        size_t elen;
        jtext_kind_t kind;
        while (jtext_array_next(&it, &el, &elen, &kind)) count++;
        msgpack_pack_array(&e->pk, count);
        jtext_iter_init(&it, p, (size_t)(close - p));
        while (jtext_array_next(&it, &el, &elen, &kind)) {
            const char *q = el;
            int rc = enc_value(e, &q, el + elen);
            if (rc) return rc;
        }
        *pp = close;
        return 0;
    }
    case '"': {
        const char *q = jskip(p, end);
        size_t len = enc_decode_string(e, p, (size_t)(q - p));
        msgpack_pack_str(&e->pk, len);
        msgpack_pack_str_body(&e->pk, e->scratch, len);
        *pp = q;
        return 0;
    }
    case 't': msgpack_pack_true(&e->pk); break;
    case 'f': msgpack_pack_false(&e->pk); break;
    case 'n': msgpack_pack_nil(&e->pk); break;
    default: {
        const char *q = jskip(p, end);
        enc_number(e, p, (size_t)(q - p));
        *pp = q;
        return 0;
    }
    }
    *pp = jskip(p, end);
    return 0;
}

/* Packs the JSON value json[0..len) into pk's buffer; want_kind JTEXT_INVALID: any kind. */
static int enc_json(msgpack_packer *pk, const char *json, size_t len, const sio_attachment_t *att,
                    unsigned natt, jtext_kind_t want_kind)
{
    if (!json) return AMSG_EJSON;
    jtext_kind_t kind = jtext_validate(json, len);
    if (kind == JTEXT_INVALID) return AMSG_EJSON;
    if (want_kind != JTEXT_INVALID && kind != want_kind) return AMSG_ESHAPE;
    enc_t e = {*pk, att, natt, NULL, 0};
    const char *end = json + len;
    const char *p = jws(json, end);
    int rc = enc_value(&e, &p, end);
    free(e.scratch);
    return rc;
}

static void truncate_to(sbuf_t *out, size_t len)
{
    if (out->data && out->len > len) {
        out->len = len;
        out->data[len] = 0;
    }
}

int amsg_value_encode(sbuf_t *out, const char *json, size_t len, const sio_attachment_t *att,
                      unsigned natt)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    int rc = enc_json(&pk, json, len, att, natt, JTEXT_INVALID);
    if (rc) truncate_to(out, start);
    return rc;
}

/* ---- message structure ---- */

static void str_copy(amsg_str_t *s, const char *p, size_t n)
{
    char *t = xmalloc(n + 1);
    memcpy(t, p, n);
    t[n] = 0;
    s->s = t;
    s->len = n;
}

static void str_free(amsg_str_t *s)
{
    free((char *)s->s);
    s->s = NULL;
    s->len = 0;
}

/* Reads a str value into an owned string (UTF-8 cleaned). */
static int read_str(rd_t *r, amsg_str_t *out)
{
    item_t it;
    int rc = rd_item(r, &it);
    if (rc) return rc;
    if (it.kind != K_STR) return AMSG_ESHAPE;
    sbuf_t tmp = SBUF_INIT;
    size_t len;
    const char *t = utf8_clean(it.b, it.len, &tmp, &len);
    str_copy(out, t, len);
    sbuf_free(&tmp);
    return 0;
}

/* Finds the last value of each wanted key of the map at r, validating the whole map (its
 * values' JSON nesting counted from vdepth). pos[k] is NULL when key k is absent or its value is
 * undefined. Returns 0, AMSG_ESHAPE when r holds no map, or a reader error. */
static int map_find(rd_t *r, int vdepth, const char *const *names, int nnames, const uint8_t **pos)
{
    item_t it;
    int rc = rd_item(r, &it);
    if (rc) return rc;
    if (it.kind != K_MAP) return AMSG_ESHAPE;
    for (int k = 0; k < nnames; k++) pos[k] = NULL;
    for (uint64_t m = 0; m < it.u; m++) {
        item_t key;
        if ((rc = rd_item(r, &key))) return rc;
        if (key.kind != K_STR && key.kind != K_UINT && key.kind != K_INT) return AMSG_EKEY;
        const uint8_t *v = r->p;
        if ((rc = mp_skip(r, vdepth))) return rc;
        if (key.kind != K_STR) continue;
        for (int k = 0; k < nnames; k++)
            if (key.len == strlen(names[k]) && !memcmp(key.b, names[k], key.len))
                pos[k] = is_undefined_at(v, r->end) ? NULL : v;
    }
    return 0;
}

/* Whether the value at v (NULL: absent) is the unsigned integer want. */
static int is_uint(const uint8_t *v, const uint8_t *end, uint64_t want)
{
    if (!v) return 0;
    rd_t r = {v, end};
    item_t it;
    return !rd_item(&r, &it) && it.kind == K_UINT && it.u == want;
}

/* JavaScript truthiness of a validated value. */
static int truthy(const uint8_t *v, const uint8_t *end)
{
    rd_t r = {v, end};
    item_t it;
    if (rd_item(&r, &it)) return 0;
    switch (it.kind) {
    case K_NIL: return 0;
    case K_BOOL:
    case K_UINT: return it.u != 0;
    case K_INT: return 1;
    case K_F32:
    case K_F64: return !(it.f == 0 || isnan(it.f));
    case K_STR: return it.len != 0;
    case K_EXT: return ext_class(&it) != X_UNDEF;
    default: return 1;
    }
}

static int read_flags(const uint8_t *v, const uint8_t *end, amsg_flags_t *f)
{
    f->is_volatile = f->compress = f->expect_single_response = AMSG_UNSET;
    f->timeout = AMSG_UNSET;
    if (!v || *v == 0xc0) return 0;
    static const char *const names[] = {"volatile", "compress", "timeout", "expectSingleResponse"};
    const uint8_t *pos[4];
    rd_t r = {v, end};
    int rc = map_find(&r, 0, names, 4, pos);
    if (rc) return rc;
    if (pos[0]) f->is_volatile = truthy(pos[0], end);
    if (pos[1]) f->compress = truthy(pos[1], end);
    if (pos[3]) f->expect_single_response = truthy(pos[3], end);
    if (pos[2]) {
        rd_t tr = {pos[2], end};
        item_t it;
        if ((rc = rd_item(&tr, &it))) return rc;
        if (it.kind == K_UINT)
            f->timeout = it.u > INT64_MAX ? INT64_MAX : (int64_t)it.u;
        else if (it.kind == K_INT)
            f->timeout = 0;
        else if ((it.kind == K_F32 || it.kind == K_F64) && !isnan(it.f))
            f->timeout = it.f <= 0 ? 0 : it.f >= 9.2e18 ? INT64_MAX : (int64_t)it.f;
        else if (it.kind != K_NIL)
            return AMSG_ESHAPE;
    }
    return 0;
}

/* Rooms: nil or an array of strings or numbers (numbers become String(n)). */
static int read_rooms(const uint8_t *v, const uint8_t *end, amsg_str_t **list, size_t *n)
{
    *list = NULL;
    *n = 0;
    if (!v) return 0;
    rd_t r = {v, end};
    item_t it;
    int rc = rd_item(&r, &it);
    if (rc) return rc;
    if (it.kind == K_NIL) return 0;
    if (it.kind != K_ARR) return AMSG_ESHAPE;
    if (!it.u) return 0;
    amsg_str_t *l = xcalloc((size_t)it.u, sizeof *l);
    *list = l;
    sbuf_t tmp = SBUF_INIT;
    for (uint64_t k = 0; k < it.u; k++) {
        item_t e;
        if ((rc = rd_item(&r, &e))) break;
        sbuf_reset(&tmp);
        if (e.kind == K_STR) {
            size_t len;
            sbuf_t clean = SBUF_INIT;
            const char *t = utf8_clean(e.b, e.len, &clean, &len);
            sbuf_append(&tmp, t, len);
            sbuf_free(&clean);
        } else if (e.kind == K_UINT || e.kind == K_INT) {
            int_key(&tmp, &e);
        } else if (e.kind == K_F32 || e.kind == K_F64) {
            if (isnan(e.f) || isinf(e.f)) { /* String(NaN) is "NaN", JSON's null is not */
                sbuf_append_str(&tmp, isnan(e.f) ? "NaN" : e.f > 0 ? "Infinity" : "-Infinity");
            } else {
                js_number(&tmp, e.f);
            }
        } else {
            rc = AMSG_ESHAPE;
            break;
        }
        if (!tmp.data) sbuf_append(&tmp, "", 0);
        str_copy(&l[k], tmp.data, tmp.len);
        (*n)++;
    }
    sbuf_free(&tmp);
    return rc;
}

static int read_opts(const uint8_t *v, const uint8_t *end, amsg_broadcast_t *b)
{
    static const char *const names[] = {"rooms", "except", "flags"};
    const uint8_t *pos[3];
    if (!v) return AMSG_ESHAPE;
    rd_t r = {v, end};
    int rc = map_find(&r, 0, names, 3, pos);
    if (rc) return rc;
    if ((rc = read_rooms(pos[0], end, &b->rooms, &b->nrooms))) return rc;
    if ((rc = read_rooms(pos[1], end, &b->except, &b->nexcept))) return rc;
    return read_flags(pos[2], end, &b->flags);
}

static int read_packet(const uint8_t *v, const uint8_t *end, amsg_broadcast_t *b)
{
    static const char *const names[] = {"type", "data", "nsp", "id"};
    const uint8_t *pos[4];
    if (!v) return AMSG_ESHAPE;
    rd_t r = {v, end};
    int rc = map_find(&r, 0, names, 4, pos);
    if (rc) return rc;
    item_t it;
    if (!pos[0] || !pos[1]) return AMSG_ESHAPE;
    rd_t tr = {pos[0], end};
    if ((rc = rd_item(&tr, &it))) return rc;
    if (it.kind != K_UINT || (it.u != SIO_EVENT && it.u != SIO_BINARY_EVENT)) return AMSG_ESHAPE;
    b->type = (int)it.u;
    if (*pos[1] != 0xdc && *pos[1] != 0xdd && (*pos[1] & 0xf0) != 0x90) return AMSG_ESHAPE;
    rd_t dr = {pos[1], end};
    if ((rc = value_from(&dr, &b->data))) return rc;
    if (pos[2]) {
        rd_t nr = {pos[2], end};
        if ((rc = read_str(&nr, &b->nsp))) return rc;
    } else {
        str_copy(&b->nsp, "/", 1);
    }
    b->id = -1;
    if (pos[3] && *pos[3] != 0xc0) {
        rd_t ir = {pos[3], end};
        if ((rc = rd_item(&ir, &it))) return rc;
        if (it.kind != K_UINT || it.u > (uint64_t)SIO_MAX_ACK_ID) return AMSG_ESHAPE;
        b->id = (int64_t)it.u;
    }
    return 0;
}

void amsg_broadcast_free(amsg_broadcast_t *b)
{
    if (!b) return;
    str_free(&b->uid);
    str_free(&b->request_id);
    str_free(&b->nsp);
    amsg_value_free(&b->data);
    for (size_t k = 0; k < b->nrooms; k++) str_free(&b->rooms[k]);
    for (size_t k = 0; k < b->nexcept; k++) str_free(&b->except[k]);
    free(b->rooms);
    free(b->except);
    memset(b, 0, sizeof *b);
}

int amsg_broadcast_decode(const uint8_t *buf, size_t len, amsg_broadcast_t *out)
{
    rd_t r = {buf, buf + len};
    memset(out, 0, sizeof *out);
    item_t it;
    int rc = rd_item(&r, &it);
    if (rc) return rc;
    if (it.kind != K_ARR || it.u < 3) return AMSG_ESHAPE;
    const uint8_t *elem[3];
    for (uint64_t k = 0; k < it.u; k++) {
        if (k < 3) elem[k] = r.p;
        if ((rc = mp_skip(&r, -1))) return rc; /* data arrays nest from 0 */
    }
    if (r.p != r.end) return AMSG_ETRAILING;
    rd_t ur = {elem[0], r.end};
    if ((rc = read_str(&ur, &out->uid)) || (rc = read_packet(elem[1], r.end, out)) ||
        (rc = read_opts(is_undefined_at(elem[2], r.end) ? NULL : elem[2], r.end, out))) {
        amsg_broadcast_free(out);
        return rc;
    }
    return 0;
}

int amsg_bcast_request_decode(const uint8_t *buf, size_t len, amsg_broadcast_t *out)
{
    static const char *const names[] = {"uid", "requestId", "type", "packet", "opts"};
    const uint8_t *pos[5];
    rd_t r = {buf, buf + len};
    memset(out, 0, sizeof *out);
    int rc = map_find(&r, -1, names, 5, pos); /* packet.data nests from 0 */
    if (rc) return rc;
    if (r.p != r.end) return AMSG_ETRAILING;
    if (!pos[0] || !pos[1] || !is_uint(pos[2], r.end, 7)) return AMSG_ESHAPE;
    rd_t ur = {pos[0], r.end}, qr = {pos[1], r.end};
    if ((rc = read_str(&ur, &out->uid)) || (rc = read_str(&qr, &out->request_id)) ||
        (rc = read_packet(pos[3], r.end, out)) || (rc = read_opts(pos[4], r.end, out))) {
        amsg_broadcast_free(out);
        return rc;
    }
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

#define PACK_LIT(pk, lit) pack_str(pk, lit, sizeof(lit) - 1)

static void pack_rooms(msgpack_packer *pk, const amsg_str_t *l, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t k = 0; k < n; k++) pack_str(pk, l[k].s, l[k].len);
}

static int pack_packet(msgpack_packer *pk, const amsg_broadcast_t *b)
{
    msgpack_pack_map(pk, b->id >= 0 ? 4 : 3);
    PACK_LIT(pk, "type");
    msgpack_pack_int(pk, b->type);
    PACK_LIT(pk, "data");
    int rc = enc_json(pk, b->data.json, b->data.json_len, b->data.att, b->data.natt, JTEXT_ARRAY);
    if (rc) return rc;
    PACK_LIT(pk, "nsp");
    if (b->nsp.s)
        pack_str(pk, b->nsp.s, b->nsp.len);
    else
        PACK_LIT(pk, "/");
    if (b->id >= 0) {
        PACK_LIT(pk, "id");
        msgpack_pack_int64(pk, b->id);
    }
    return 0;
}

static void pack_opts(msgpack_packer *pk, const amsg_broadcast_t *b)
{
    const amsg_flags_t *f = &b->flags;
    msgpack_pack_map(pk, 3);
    PACK_LIT(pk, "rooms");
    pack_rooms(pk, b->rooms, b->nrooms);
    PACK_LIT(pk, "except");
    pack_rooms(pk, b->except, b->nexcept);
    PACK_LIT(pk, "flags");
    msgpack_pack_map(pk, (f->is_volatile != AMSG_UNSET) + (f->compress != AMSG_UNSET) +
                             (f->timeout >= 0) + (f->expect_single_response != AMSG_UNSET));
    if (f->is_volatile != AMSG_UNSET) {
        PACK_LIT(pk, "volatile");
        f->is_volatile ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    if (f->compress != AMSG_UNSET) {
        PACK_LIT(pk, "compress");
        f->compress ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    if (f->timeout >= 0) {
        PACK_LIT(pk, "timeout");
        msgpack_pack_int64(pk, f->timeout);
    }
    if (f->expect_single_response != AMSG_UNSET) {
        PACK_LIT(pk, "expectSingleResponse");
        f->expect_single_response ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
}

int amsg_broadcast_encode(sbuf_t *out, const amsg_broadcast_t *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    msgpack_pack_array(&pk, 3);
    pack_str(&pk, b->uid.s ? b->uid.s : "", b->uid.len);
    int rc = pack_packet(&pk, b);
    if (rc) {
        truncate_to(out, start);
        return rc;
    }
    pack_opts(&pk, b);
    return 0;
}

int amsg_bcast_request_encode(sbuf_t *out, const amsg_broadcast_t *b)
{
    if (!b->request_id.s) return AMSG_ESHAPE;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    msgpack_pack_map(&pk, 5);
    PACK_LIT(&pk, "uid");
    pack_str(&pk, b->uid.s ? b->uid.s : "", b->uid.len);
    PACK_LIT(&pk, "requestId");
    pack_str(&pk, b->request_id.s, b->request_id.len);
    PACK_LIT(&pk, "type");
    msgpack_pack_int(&pk, 7);
    PACK_LIT(&pk, "packet");
    int rc = pack_packet(&pk, b);
    if (rc) {
        truncate_to(out, start);
        return rc;
    }
    PACK_LIT(&pk, "opts");
    pack_opts(&pk, b);
    return 0;
}

void amsg_ack_free(amsg_ack_t *a)
{
    if (!a) return;
    str_free(&a->request_id);
    amsg_value_free(&a->arg);
}

int amsg_ack_decode(const uint8_t *buf, size_t len, amsg_ack_t *out)
{
    static const char *const names[] = {"type", "requestId", "packet"};
    const uint8_t *pos[3];
    rd_t r = {buf, buf + len};
    memset(out, 0, sizeof *out);
    int rc = map_find(&r, 0, names, 3, pos);
    if (rc) return rc;
    if (r.p != r.end) return AMSG_ETRAILING;
    if (!is_uint(pos[0], r.end, 9) || !pos[1]) return AMSG_ESHAPE;
    rd_t qr = {pos[1], r.end};
    if ((rc = read_str(&qr, &out->request_id))) return rc;
    if (pos[2]) {
        rd_t vr = {pos[2], r.end};
        if ((rc = value_from(&vr, &out->arg))) {
            amsg_ack_free(out);
            return rc;
        }
    }
    return 0;
}

int amsg_ack_encode(sbuf_t *out, const amsg_ack_t *a)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, sbuf_write);
    size_t start = out->len;
    msgpack_pack_map(&pk, a->arg.json ? 3 : 2);
    PACK_LIT(&pk, "type");
    msgpack_pack_int(&pk, 9);
    PACK_LIT(&pk, "requestId");
    pack_str(&pk, a->request_id.s ? a->request_id.s : "", a->request_id.len);
    if (a->arg.json) {
        PACK_LIT(&pk, "packet");
        int rc =
            enc_json(&pk, a->arg.json, a->arg.json_len, a->arg.att, a->arg.natt, JTEXT_INVALID);
        if (rc) {
            truncate_to(out, start);
            return rc;
        }
    }
    return 0;
}

int amsg_peek_type(const uint8_t *buf, size_t len)
{
    static const char *const names[] = {"type"};
    const uint8_t *pos[1];
    rd_t r = {buf, buf + len};
    int rc = map_find(&r, 0, names, 1, pos);
    if (rc) return rc;
    if (r.p != r.end) return AMSG_ETRAILING;
    if (!pos[0]) return AMSG_ESHAPE;
    rd_t tr = {pos[0], r.end};
    item_t it;
    if ((rc = rd_item(&tr, &it))) return rc;
    if (it.kind != K_UINT || it.u > 0x7fffffff) return AMSG_ESHAPE;
    return (int)it.u;
}
