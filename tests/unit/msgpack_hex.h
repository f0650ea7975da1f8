/* Test helpers shared by the msgpack codec tests: msgpack bytes written as hex with ASCII
 * runs ("a4\"type\""), and comparisons of encoder output with such hex. Include after
 * cmocka.h. */
#ifndef CC_TEST_MSGPACK_HEX_H
#define CC_TEST_MSGPACK_HEX_H

#include "sbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes hex (whitespace and '"x"' ASCII runs allowed: "a4\"type\"") into a new buffer. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) + 1, n = 0;
    uint8_t *b = malloc(cap);
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
        } else if (*p == '"') {
            for (p++; *p && *p != '"'; p++) b[n++] = (uint8_t)*p;
            if (*p) p++;
        } else {
            unsigned v;
            if (sscanf(p, "%2x", &v) != 1) fail_msg("bad hex at %s", p);
            b[n++] = (uint8_t)v;
            p += 2;
        }
    }
    *len = n;
    return b;
}

static char *tohex(const void *data, size_t len)
{
    char *s = malloc(2 * len + 1);
    for (size_t k = 0; k < len; k++) sprintf(s + 2 * k, "%02x", ((const uint8_t *)data)[k]);
    s[2 * len] = 0;
    return s;
}

static void assert_hex(const sbuf_t *b, const char *want_hex)
{
    size_t n;
    uint8_t *want = unhex(want_hex, &n);
    char *got = tohex(b->data, b->len), *exp = tohex(want, n);
    assert_string_equal(got, exp);
    free(got);
    free(exp);
    free(want);
}

#endif
