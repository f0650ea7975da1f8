/* msgpack values as the JSON text chatnode keeps Socket.IO payloads in, both ways, as Node's
 * notepack.io 3.x and JSON.stringify see them: a bounds-checked msgpack reader, the
 * conversion of one value to JSON text plus binary attachments and back, and JavaScript's
 * String() of the scalars. The adapter messages (adapter_msg.h) are built on it. Pure: no
 * I/O. */
#ifndef CC_MSGPACK_JSON_H
#define CC_MSGPACK_JSON_H

#include "jtext.h"
#include "sbuf.h"
#include "sio_packet.h"

#include <stddef.h>
#include <stdint.h>

#define MPJSON_MAX_DEPTH 64 /* JSON nesting a msgpack value may open; deeper is MPJSON_EDEPTH */

/* Error codes (negative); mpjson_strerror() names them. */
enum {
    MPJSON_EMSGPACK = -1,     /* malformed or truncated msgpack (incl. a bad Timestamp length) */
    MPJSON_ETRAILING = -2,    /* bytes after the single msgpack value */
    MPJSON_EDEPTH = -3,       /* nesting deeper than MPJSON_MAX_DEPTH */
    MPJSON_EKEY = -4,         /* map key that is neither a string nor an integer */
    MPJSON_EJSON = -5,        /* invalid JSON text (or nested deeper than JTEXT_MAX_DEPTH) */
    MPJSON_EPLACEHOLDER = -6, /* "_placeholder": true object whose num is no attachment index */
    MPJSON_EKIND = -7,        /* valid JSON of another kind than the caller wants */
};

const char *mpjson_strerror(int err);

/* ---- reading msgpack ---- */

/* A cursor over msgpack bytes [p, end). */
typedef struct {
    const uint8_t *p, *end;
} mpjson_reader_t;

typedef enum {
    MPJSON_NIL,
    MPJSON_BOOL,
    MPJSON_UINT,
    MPJSON_INT,
    MPJSON_F32,
    MPJSON_F64,
    MPJSON_STR,
    MPJSON_BIN,
    MPJSON_ARR,
    MPJSON_MAP,
    MPJSON_EXT,
} mpjson_type_t;

/* One msgpack item; b borrows from the reader's bytes. */
typedef struct {
    mpjson_type_t kind;
    uint8_t hdr;      /* first byte */
    int8_t ext;       /* MPJSON_EXT: the ext type */
    uint64_t u;       /* MPJSON_BOOL, MPJSON_UINT; MPJSON_ARR / MPJSON_MAP: element / pair count */
    int64_t i;        /* MPJSON_INT (always negative) */
    double f;         /* MPJSON_F32, MPJSON_F64 */
    const uint8_t *b; /* MPJSON_STR, MPJSON_BIN, MPJSON_EXT payload */
    size_t len;
} mpjson_item_t;

/* Reads one item at r and moves past it: scalars whole, str/bin/ext with their payload,
 * arrays and maps as their header only (their elements follow). A count that the remaining
 * bytes cannot hold is an error, so nothing is ever sized by a declared count. Returns 0 or
 * MPJSON_EMSGPACK (r then undefined). */
int mpjson_read_item(mpjson_reader_t *r, mpjson_item_t *it);

/* Validates and skips one whole value whose JSON nesting starts at depth: well-formed,
 * opening no more than MPJSON_MAX_DEPTH levels in all, map keys strings or integers,
 * Timestamps of a valid length. Everything mpjson_read_value accepts, this accepts.
 * Returns 0 or a negative MPJSON_E* code. */
int mpjson_skip(mpjson_reader_t *r, int depth);

/* Finds the last value of each of the nnames keys names[] in the map at r, validating the
 * whole map as mpjson_skip does (its values' JSON nesting counted from vdepth) and moving past
 * it. pos[k] gets the position of key k's value, or NULL when the key is absent or its value
 * is the legacy undefined; integer keys match no name. Returns 0, MPJSON_EKIND when r holds
 * no map, or another negative MPJSON_E* code. */
int mpjson_map_find(mpjson_reader_t *r, int vdepth, const char *const *names, int nnames,
                    const uint8_t **pos);

/* 1 when the bytes at v are notepack's legacy undefined (d4 00 xx), else 0. */
int mpjson_is_undefined(const uint8_t *v, const uint8_t *end);

/* JavaScript truthiness of the value an item starts (containers and buffers are truthy). */
int mpjson_truthy(const mpjson_item_t *it);

/* Appends String(x) of a str item (invalid UTF-8 replaced by U+FFFD, as Node decodes it) or
 * a number item (integers beyond 2^53 as the double Node reads; "NaN", "Infinity").
 * Returns 0, or MPJSON_EKIND for any other item (out unchanged). */
int mpjson_string_of(sbuf_t *out, const mpjson_item_t *it);

/* ---- values as JSON text ---- */

/* A value as JSON text plus the binary attachments its placeholders
 * {"_placeholder":true,"num":N} refer to (N = index into att). */
typedef struct {
    const char *json; /* NUL-terminated; NULL for JavaScript's undefined (no value) */
    size_t json_len;
    sio_attachment_t *att; /* array of natt entries */
    unsigned natt;
} mpjson_value_t;

/* Frees what a decoder put in v; v is then empty. Zeroed v: no-op. */
void mpjson_value_free(mpjson_value_t *v);

/* Converts the value at r (moving past it; its JSON nesting counted from 0) as Node's
 * notepack decode followed by JSON.stringify would see it:
 * str -> string (invalid UTF-8 replaced), integers -> exact decimal, floats -> JavaScript's
 * String(number) (NaN, Infinity -> null), nil -> null, map -> object with string or integer
 * keys (in JavaScript's own key order: array-index keys ascending first, then the others as
 * inserted; a repeated key keeps its first place and last value; "__proto__" keys and
 * undefined values are dropped), bin and ext type 0 (ext 8/16/32) -> a placeholder with the
 * bytes as the next attachment, Timestamp (ext -1) and the legacy Date (d7 00) ->
 * Date.toJSON() text (null when out of Date's range), legacy undefined (d4 00 xx) -> null in
 * arrays, any other ext -> [type, bin].
 * Returns 0 with out owning its memory (out->json NULL when the value is the legacy
 * undefined), or a negative MPJSON_E* code (out untouched). */
int mpjson_read_value(mpjson_reader_t *r, mpjson_value_t *out);

/* mpjson_read_value over the single msgpack value in buf[0..len); bytes after it are
 * MPJSON_ETRAILING. Same ownership. */
int mpjson_decode(const uint8_t *buf, size_t len, mpjson_value_t *out);

/* JSON -> msgpack: appends to out the msgpack that notepack.io writes for the JavaScript value
 * JSON.parse(json) gives, with placeholders {"_placeholder":true,"num":N} (N plain digits,
 * N < natt) written as bin with att[N]'s bytes. Strings -> str; an integer literal that fits
 * int64/uint64 -> the smallest int form (exact); any other number -> its double, written in
 * the smallest int form when integral and within [-2^63, 2^64) (as notepack does), else
 * float64 (notepack would wrap such integers modulo 2^64; we keep their value). Object keys
 * in text order. Returns 0, or MPJSON_EJSON / MPJSON_EPLACEHOLDER with out unchanged. */
int mpjson_encode(sbuf_t *out, const char *json, size_t len, const sio_attachment_t *att,
                  unsigned natt);

/* mpjson_encode of a value that must be of kind want: MPJSON_EKIND (out unchanged) when the
 * valid JSON is of another kind. */
int mpjson_encode_kind(sbuf_t *out, const char *json, size_t len, const sio_attachment_t *att,
                       unsigned natt, jtext_kind_t want);

#endif
