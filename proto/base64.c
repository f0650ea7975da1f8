/* Standard base64 (see base64.h). Table driven; the decoder works in place, because output
 * position 3k never passes input position 4k. */
#include "base64.h"

static const char enc_tab[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 0xff for everything else ('=' included). */
static const uint8_t dec_tab[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,
    ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15,
    ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
    ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31,
    ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
    ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63,
};

/* dec_tab is zero-initialised except for the alphabet, so membership needs a second test:
 * 'A' is the only character whose value is 0. */
static inline int val(unsigned char c, uint32_t *v)
{
    uint8_t d = dec_tab[c];
    if (d == 0 && c != 'A') return -1;
    *v = d;
    return 0;
}

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = enc_tab[w >> 18];
        *out++ = enc_tab[(w >> 12) & 63];
        *out++ = enc_tab[(w >> 6) & 63];
        *out++ = enc_tab[w & 63];
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)in[i] << 16;
        *out++ = enc_tab[w >> 18];
        *out++ = enc_tab[(w >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = enc_tab[w >> 18];
        *out++ = enc_tab[(w >> 12) & 63];
        *out++ = enc_tab[(w >> 6) & 63];
        *out++ = '=';
    }
}

long base64_decode(const char *in, size_t n, uint8_t *out)
{
    const unsigned char *s = (const unsigned char *)in;
    /* Padding is only legal as the last one or two characters of a multiple of four. */
    if (n > 0 && s[n - 1] == '=') {
        if (n % 4 != 0) return -1;
        n--;
        if (s[n - 1] == '=') n--;
    }
    if (n % 4 == 1) return -1;

    size_t o = 0, i = 0;
    uint32_t a, b, c, d;
    for (; i + 4 <= n; i += 4) {
        if (val(s[i], &a) || val(s[i + 1], &b) || val(s[i + 2], &c) || val(s[i + 3], &d)) return -1;
        uint32_t w = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    /* A tail of 2 or 3 characters; its unused low bits must be zero (canonical encoding),
     * so every accepted input has exactly one decoding and re-encodes to itself. */
    if (n - i == 2) {
        if (val(s[i], &a) || val(s[i + 1], &b) || (b & 15)) return -1;
        out[o++] = (uint8_t)(a << 2 | b >> 4);
    } else if (n - i == 3) {
        if (val(s[i], &a) || val(s[i + 1], &b) || val(s[i + 2], &c) || (c & 3)) return -1;
        uint32_t w = a << 18 | b << 12 | c << 6;
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
    }
    return (long)o;
}
