/* msgpack <-> JSON text (see msgpack_json.h). Decoding uses its own bounds-checked msgpack
 * reader rather than msgpack_unpack(): notepack gives fixext and ext 8 of the same type
 * different meanings (d4 00 00 is undefined, c7 01 00 xx a 1-byte ArrayBuffer), which
 * msgpack_object cannot tell apart, and a reader that never allocates by declared counts
 * cannot be made to reserve gigabytes by a five-byte message. Encoding uses msgpack-c's
 * packer, which picks the smallest forms as notepack does. */
#include "msgpack_json.h"

#include "alloc.h"
#include "utf8.h"

#include <msgpack.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mpjson_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case MPJSON_EMSGPACK: return "malformed msgpack";
    case MPJSON_ETRAILING: return "trailing bytes after the msgpack value";
    case MPJSON_EDEPTH: return "nesting too deep";
    case MPJSON_EKEY: return "map key is neither a string nor an integer";
    case MPJSON_EJSON: return "invalid JSON";
    case MPJSON_EPLACEHOLDER: return "invalid attachment placeholder";
    case MPJSON_EKIND: return "JSON value of an unexpected kind";
    default: return "unknown error";
    }
}

/* ---- msgpack reader ---- */

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) v = v << 8 | p[k];
    return v;
}

static size_t rd_left(const mpjson_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

static int rd_take(mpjson_reader_t *r, size_t n, const uint8_t **out)
{
    if (rd_left(r) < n) return MPJSON_EMSGPACK;
    *out = r->p;
    r->p += n;
    return 0;
}

int mpjson_read_item(mpjson_reader_t *r, mpjson_item_t *it)
{
    const uint8_t *h, *q;
    if (rd_take(r, 1, &h)) return MPJSON_EMSGPACK;
    uint8_t c = h[0];
    size_t lenbytes = 0, n = 0;
    it->hdr = c;
    if (c <= 0x7f) {
        it->kind = MPJSON_UINT;
        it->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        it->kind = MPJSON_INT;
        it->i = (int8_t)c;
        return 0;
    }
    if (c <= 0x9f) {
        it->kind = c <= 0x8f ? MPJSON_MAP : MPJSON_ARR;
        it->u = c & 0x0f;
        goto count;
    }
    if (c <= 0xbf) {
        it->kind = MPJSON_STR;
        n = c & 0x1f;
        goto payload;
    }
    switch (c) {
    case 0xc0: it->kind = MPJSON_NIL; return 0;
    case 0xc2:
    case 0xc3:
        it->kind = MPJSON_BOOL;
        it->u = c == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        it->kind = MPJSON_BIN;
        lenbytes = (size_t)1 << (c - 0xc4);
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        it->kind = MPJSON_EXT;
        lenbytes = (size_t)1 << (c - 0xc7);
        break;
    case 0xca:
    case 0xcb: {
        if (rd_take(r, c == 0xca ? 4 : 8, &q)) return MPJSON_EMSGPACK;
        if (c == 0xca) {
            uint32_t w = (uint32_t)be(q, 4);
            float fl;
            memcpy(&fl, &w, 4);
            it->kind = MPJSON_F32;
            it->f = fl;
        } else {
            uint64_t w = be(q, 8);
            memcpy(&it->f, &w, 8);
            it->kind = MPJSON_F64;
        }
        return 0;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        n = (size_t)1 << (c - 0xcc);
        if (rd_take(r, n, &q)) return MPJSON_EMSGPACK;
        it->kind = MPJSON_UINT;
        it->u = be(q, n);
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        n = (size_t)1 << (c - 0xd0);
        if (rd_take(r, n, &q)) return MPJSON_EMSGPACK;
        uint64_t w = be(q, n);
        if (n < 8 && (w >> (8 * n - 1)) & 1) w |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        int64_t v;
        memcpy(&v, &w, 8);
        if (v >= 0) {
            it->kind = MPJSON_UINT;
            it->u = (uint64_t)v;
        } else {
            it->kind = MPJSON_INT;
            it->i = v;
        }
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        it->kind = MPJSON_EXT;
        if (rd_take(r, 1, &q)) return MPJSON_EMSGPACK;
        it->ext = (int8_t)q[0];
        n = (size_t)1 << (c - 0xd4);
        goto payload;
    case 0xd9:
    case 0xda:
    case 0xdb:
        it->kind = MPJSON_STR;
        lenbytes = (size_t)1 << (c - 0xd9);
        break;
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
        it->kind = c <= 0xdd ? MPJSON_ARR : MPJSON_MAP;
        n = c == 0xdc || c == 0xde ? 2 : 4;
        if (rd_take(r, n, &q)) return MPJSON_EMSGPACK;
        it->u = be(q, n);
        goto count;
    default: return MPJSON_EMSGPACK; /* 0xc1 */
    }
    if (rd_take(r, lenbytes, &q)) return MPJSON_EMSGPACK;
    n = (size_t)be(q, lenbytes);
    if (it->kind == MPJSON_EXT) {
        if (rd_take(r, 1, &q)) return MPJSON_EMSGPACK;
        it->ext = (int8_t)q[0];
    }
payload:
    if (rd_take(r, n, &it->b)) return MPJSON_EMSGPACK;
    it->len = n;
    return 0;
count:
    /* Every element takes at least one byte. */
    if (it->u > rd_left(r) / (it->kind == MPJSON_MAP ? 2 : 1)) return MPJSON_EMSGPACK;
    return 0;
}

/* What an ext item means to notepack's decoder. */
enum { X_TS32, X_TS64, X_TS96, X_DATE, X_UNDEF, X_BIN, X_PAIR, X_BAD };

static int ext_class(const mpjson_item_t *it)
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
static int json_levels(const mpjson_item_t *it)
{
    switch (it->kind) {
    case MPJSON_ARR:
    case MPJSON_MAP:
    case MPJSON_BIN: return 1;
    case MPJSON_EXT:
        switch (ext_class(it)) {
        case X_BIN: return 1;
        case X_PAIR: return 2;
        default: return 0;
        }
    default: return 0;
    }
}

int mpjson_is_undefined(const uint8_t *v, const uint8_t *end)
{
    return end - v >= 3 && v[0] == 0xd4 && v[1] == 0x00;
}

int mpjson_skip(mpjson_reader_t *r, int depth)
{
    mpjson_item_t it;
    int rc = mpjson_read_item(r, &it);
    if (rc) return rc;
    int lv = json_levels(&it);
    if (lv && depth + lv > MPJSON_MAX_DEPTH) return MPJSON_EDEPTH;
    if (it.kind == MPJSON_EXT && ext_class(&it) == X_BAD) return MPJSON_EMSGPACK;
    if (it.kind == MPJSON_ARR) {
        for (uint64_t k = 0; k < it.u; k++)
            if ((rc = mpjson_skip(r, depth + 1))) return rc;
    } else if (it.kind == MPJSON_MAP) {
        for (uint64_t k = 0; k < it.u; k++) {
            mpjson_item_t key;
            if ((rc = mpjson_read_item(r, &key))) return rc;
            if (key.kind != MPJSON_STR && key.kind != MPJSON_UINT && key.kind != MPJSON_INT)
                return MPJSON_EKEY;
            if ((rc = mpjson_skip(r, depth + 1))) return rc;
        }
    }
    return 0;
}

int mpjson_map_find(mpjson_reader_t *r, int vdepth, const char *const *names, int nnames,
                    const uint8_t **pos)
{
    mpjson_item_t it;
    int rc = mpjson_read_item(r, &it);
    if (rc) return rc;
    if (it.kind != MPJSON_MAP) return MPJSON_EKIND;
    for (int k = 0; k < nnames; k++) pos[k] = NULL;
    for (uint64_t m = 0; m < it.u; m++) {
        mpjson_item_t key;
        if ((rc = mpjson_read_item(r, &key))) return rc;
        if (key.kind != MPJSON_STR && key.kind != MPJSON_UINT && key.kind != MPJSON_INT)
            return MPJSON_EKEY;
        const uint8_t *v = r->p;
        if ((rc = mpjson_skip(r, vdepth))) return rc;
        if (key.kind != MPJSON_STR) continue;
        for (int k = 0; k < nnames; k++)
            if (key.len == strlen(names[k]) && !memcmp(key.b, names[k], key.len))
                pos[k] = mpjson_is_undefined(v, r->end) ? NULL : v;
    }
    return 0;
}

int mpjson_truthy(const mpjson_item_t *it)
{
    switch (it->kind) {
    case MPJSON_NIL: return 0;
    case MPJSON_BOOL:
    case MPJSON_UINT: return it->u != 0;
    case MPJSON_INT: return 1;
    case MPJSON_F32:
    case MPJSON_F64: return !(it->f == 0 || isnan(it->f));
    case MPJSON_STR: return it->len != 0;
    case MPJSON_EXT: return ext_class(it) != X_UNDEF;
    default: return 1;
    }
}

/* ---- text helpers: UTF-8 as Node reads it, JavaScript numbers and dates ---- */

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
static double ext_time(const mpjson_item_t *it, int cls)
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
static void int_key(sbuf_t *keys, const mpjson_item_t *key)
{
    if (key->kind == MPJSON_UINT && key->u <= (1ULL << 53))
        sbuf_printf(keys, "%" PRIu64, key->u);
    else if (key->kind == MPJSON_INT && key->i >= -(1LL << 53))
        sbuf_printf(keys, "%" PRId64, key->i);
    else
        js_number(keys, key->kind == MPJSON_UINT ? (double)key->u : (double)key->i);
}

int mpjson_string_of(sbuf_t *out, const mpjson_item_t *it)
{
    sbuf_t clean = SBUF_INIT;
    size_t len;
    const char *t;
    switch (it->kind) {
    case MPJSON_STR:
        t = utf8_clean(it->b, it->len, &clean, &len);
        sbuf_append(out, t, len);
        sbuf_free(&clean);
        return 0;
    case MPJSON_UINT:
    case MPJSON_INT: int_key(out, it); return 0;
    case MPJSON_F32:
    case MPJSON_F64:
        if (isnan(it->f) || isinf(it->f)) /* String(NaN) is "NaN", JSON's null is not */
            sbuf_append_str(out, isnan(it->f) ? "NaN" : it->f > 0 ? "Infinity" : "-Infinity");
        else
            js_number(out, it->f);
        return 0;
    default: return MPJSON_EKIND;
    }
}

static int conv_value(conv_t *c, mpjson_reader_t *r, int depth);

static int conv_map(conv_t *c, mpjson_reader_t *r, uint64_t count, int depth)
{
    ent_t *e = count ? xmalloc(count * sizeof *e) : NULL;
    sbuf_t keys = SBUF_INIT;
    int rc = 0;
    for (uint64_t k = 0; k < count; k++) {
        mpjson_item_t key;
        if ((rc = mpjson_read_item(r, &key))) goto out;
        e[k].koff = keys.len;
        if (key.kind == MPJSON_STR) {
            size_t len;
            const char *t = utf8_clean(key.b, key.len, &c->tmp, &len);
            sbuf_append(&keys, t, len);
        } else if (key.kind == MPJSON_UINT || key.kind == MPJSON_INT) {
            int_key(&keys, &key);
        } else {
            rc = MPJSON_EKEY;
            goto out;
        }
        e[k].klen = keys.len - e[k].koff;
        e[k].order = (size_t)k;
        e[k].v = r->p;
        e[k].drop = 0;
        if ((rc = mpjson_skip(r, depth + 1))) goto out;
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
        if (e[k].drop || mpjson_is_undefined(e[k].v, r->end)) continue;
        if (!first) sbuf_append_char(&c->out, ',');
        first = 0;
        jtext_append_string(&c->out, e[k].k, e[k].klen);
        sbuf_append_char(&c->out, ':');
        mpjson_reader_t vr = {e[k].v, r->end};
        if ((rc = conv_value(c, &vr, depth + 1))) goto out;
    }
    sbuf_append_char(&c->out, '}');
out:
    free(e);
    sbuf_free(&keys);
    return rc;
}

/* Writes the JSON for the value at r (its nesting starting at depth). */
static int conv_value(conv_t *c, mpjson_reader_t *r, int depth)
{
    mpjson_item_t it;
    int rc = mpjson_read_item(r, &it);
    if (rc) return rc;
    int lv = json_levels(&it);
    if (lv && depth + lv > MPJSON_MAX_DEPTH) return MPJSON_EDEPTH;
    switch (it.kind) {
    case MPJSON_NIL: sbuf_append(&c->out, "null", 4); return 0;
    case MPJSON_BOOL: sbuf_append_str(&c->out, it.u ? "true" : "false"); return 0;
    case MPJSON_UINT: sbuf_printf(&c->out, "%" PRIu64, it.u); return 0;
    case MPJSON_INT: sbuf_printf(&c->out, "%" PRId64, it.i); return 0;
    case MPJSON_F32:
    case MPJSON_F64: js_number(&c->out, it.f); return 0;
    case MPJSON_STR: conv_string(c, it.b, it.len); return 0;
    case MPJSON_BIN: conv_placeholder(c, it.b, it.len); return 0;
    case MPJSON_ARR:
        sbuf_append_char(&c->out, '[');
        for (uint64_t k = 0; k < it.u; k++) {
            if (k) sbuf_append_char(&c->out, ',');
            if (mpjson_is_undefined(r->p, r->end)) {
                r->p += 3;
                sbuf_append(&c->out, "null", 4);
            } else if ((rc = conv_value(c, r, depth + 1))) {
                return rc;
            }
        }
        sbuf_append_char(&c->out, ']');
        return 0;
    case MPJSON_MAP: return conv_map(c, r, it.u, depth);
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
    default: return MPJSON_EMSGPACK;
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

int mpjson_read_value(mpjson_reader_t *r, mpjson_value_t *out)
{
    conv_t c;
    memset(&c, 0, sizeof c);
    if (mpjson_is_undefined(r->p, r->end)) {
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

void mpjson_value_free(mpjson_value_t *v)
{
    if (!v) return;
    for (unsigned k = 0; k < v->natt; k++) free(v->att[k].data);
    free(v->att);
    free((char *)v->json);
    memset(v, 0, sizeof *v);
}

int mpjson_decode(const uint8_t *buf, size_t len, mpjson_value_t *out)
{
    mpjson_reader_t r = {buf, buf + len};
    mpjson_value_t v;
    int rc = mpjson_read_value(&r, &v);
    if (rc) return rc;
    if (r.p != r.end) {
        mpjson_value_free(&v);
        return MPJSON_ETRAILING;
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
    const char *obj = *pp, *close = jtext_skip(obj, end);
    jtext_iter_t it;
    const char *k, *v;
    size_t klen, vlen;
    jtext_kind_t kind;
    uint32_t count = 0;
    int placeholder = 0;
    const char *num = NULL;
    size_t num_len = 0;
    /* First pass: count members and look for "_placeholder": true (the last one wins). */
    jtext_iter_init(&it, obj, (size_t)(close - obj));
    while (jtext_object_next(&it, &k, &klen, &v, &vlen, &kind)) {
        if (jtext_string_is(k, klen, "_placeholder"))
            placeholder = kind == JTEXT_TRUE;
        else if (jtext_string_is(k, klen, "num"))
            num = v, num_len = vlen;
        count++;
    }
    *pp = close;
    if (placeholder) {
        int x = sio_placeholder_num(num, num_len, e->natt);
        if (x < 0) return MPJSON_EPLACEHOLDER;
        msgpack_pack_bin(&e->pk, e->att[x].len);
        msgpack_pack_bin_body(&e->pk, e->att[x].data, e->att[x].len);
        return 0;
    }
    msgpack_pack_map(&e->pk, count);
    jtext_iter_init(&it, obj, (size_t)(close - obj));
    while (jtext_object_next(&it, &k, &klen, &v, &vlen, &kind)) {
        size_t len = enc_decode_string(e, k, klen);
        msgpack_pack_str(&e->pk, len);
        msgpack_pack_str_body(&e->pk, e->scratch, len);
        const char *q = v;
        int rc = enc_value(e, &q, v + vlen);
        if (rc) return rc;
    }
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
        const char *close = jtext_skip(p, end);
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
        const char *q = jtext_skip(p, end);
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
        const char *q = jtext_skip(p, end);
        enc_number(e, p, (size_t)(q - p));
        *pp = q;
        return 0;
    }
    }
    *pp = jtext_skip(p, end);
    return 0;
}

int mpjson_encode_kind(sbuf_t *out, const char *json, size_t len, const sio_attachment_t *att,
                       unsigned natt, jtext_kind_t want)
{
    if (!json) return MPJSON_EJSON;
    jtext_kind_t kind = jtext_validate(json, len);
    if (kind == JTEXT_INVALID) return MPJSON_EJSON;
    if (want != JTEXT_INVALID && kind != want) return MPJSON_EKIND;
    enc_t e = {.att = att, .natt = natt};
    msgpack_packer_init(&e.pk, out, sbuf_write);
    size_t start = out->len;
    const char *end = json + len;
    const char *p = jtext_skip_ws(json, end);
    int rc = enc_value(&e, &p, end);
    free(e.scratch);
    /* Drop what was packed before the error: out is unchanged. */
    if (rc && out->data && out->len > start) {
        out->len = start;
        out->data[start] = 0;
    }
    return rc;
}

int mpjson_encode(sbuf_t *out, const char *json, size_t len, const sio_attachment_t *att,
                  unsigned natt)
{
    return mpjson_encode_kind(out, json, len, att, natt, JTEXT_INVALID);
}
