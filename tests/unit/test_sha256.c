/* Unit tests for proto/sha256.c: the FIPS 180-4 examples, padding boundaries against coreutils
 * sha256sum, the incremental form against the one-buffer form at every length up to 200, RFC
 * 4231's HMAC-SHA256 cases, HMAC over pieces against the definition, hex, and comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sha256.h"

#include <stdlib.h>
#include <string.h>

/* xorshift32: the same "random" messages and piece sizes on every run */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
    uint32_t x = rnd_state;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return rnd_state = x;
}

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
}

static void check_hex(const uint8_t d[SHA256_DIGEST_LEN], const char *hex)
{
    char got[SHA256_HEX_SIZE];
    sha256_hex(d, got);
    assert_string_equal(got, hex);
}

/* The digest by the one-buffer form, and by the incremental form fed in pieces of at most
 * `piece` bytes, both must be hex. */
static void check_sha256(const void *data, size_t len, size_t piece, const char *hex)
{
    uint8_t d[SHA256_DIGEST_LEN];
    sha256(data, len, d);
    check_hex(d, hex);
    sha256_ctx_t c;
    sha256_init(&c);
    for (size_t off = 0; off < len; off += piece)
        sha256_update(&c, (const uint8_t *)data + off, len - off < piece ? len - off : piece);
    sha256_final(&c, d);
    check_hex(d, hex);
}

static void test_fips_vectors(void **state)
{
    (void)state;
    check_sha256("abc", 3, 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha256(m448, strlen(m448), 7,
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        "klmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_int_equal(strlen(m896) * 8, 896);
    check_sha256(m896, strlen(m896), 13,
                 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    const char *hex = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    check_sha256(million, 1000000, 1000000, hex);
    check_sha256(million, 1000000, 1000, hex);
    check_sha256(million, 1000000, 999, hex); /* never on a block boundary */
    free(million);
}

static void test_empty(void **state)
{
    (void)state;
    const char *hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    uint8_t d[SHA256_DIGEST_LEN];
    sha256("", 0, d);
    check_hex(d, hex);
    sha256(NULL, 0, d);
    check_hex(d, hex);
    sha256_ctx_t c;
    sha256_init(&c);
    sha256_final(&c, d);
    check_hex(d, hex);
    sha256_init(&c);
    sha256_update(&c, NULL, 0);
    sha256_update(&c, "", 0);
    sha256_final(&c, d);
    check_hex(d, hex);
}

/* Messages of 'a' around the padding boundaries (55/56 bytes: the length still fits in the
 * last block or not; 64: exactly one block). Digests from coreutils sha256sum. */
static void test_padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char m[128];
        memset(m, 'a', v[i].n);
        for (size_t piece = 1; piece <= v[i].n; piece++) check_sha256(m, v[i].n, piece, v[i].hex);
    }
}

/* Every length 0..200: the incremental form fed in random-size pieces (empty ones included)
 * gives the one-buffer digest. */
static void test_every_length_in_pieces(void **state)
{
    (void)state;
    uint8_t m[200];
    for (size_t n = 0; n <= sizeof m; n++) {
        fill(m, n);
        uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
        sha256(m, n, want);
        for (int round = 0; round < 20; round++) {
            sha256_ctx_t c;
            sha256_init(&c);
            size_t off = 0;
            while (off < n) {
                /* mostly short pieces, now and then up to two blocks */
                size_t max = rnd() % 4 ? 9 : 130;
                size_t piece = rnd() % (max + 1);
                if (piece > n - off) piece = n - off;
                sha256_update(&c, m + off, piece);
                off += piece;
            }
            sha256_final(&c, got);
            assert_memory_equal(got, want, SHA256_DIGEST_LEN);
        }
        /* and one byte at a time */
        sha256_ctx_t c;
        sha256_init(&c);
        for (size_t i = 0; i < n; i++) sha256_update(&c, m + i, 1);
        sha256_final(&c, got);
        assert_memory_equal(got, want, SHA256_DIGEST_LEN);
        /* a different message of the same length gives a different digest */
        if (n) {
            m[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
            sha256(m, n, got);
            assert_false(sha256_equal(got, want));
        }
    }
}

/* A context is plain data: a copy taken half-way goes on by itself. */
static void test_context_copy(void **state)
{
    (void)state;
    uint8_t a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
    sha256_ctx_t c, fork;
    sha256_init(&c);
    sha256_update(&c, "ab", 2);
    fork = c;
    sha256_update(&c, "c", 1);
    sha256_final(&c, a);
    check_hex(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_final(&fork, b);
    sha256("ab", 2, a);
    assert_memory_equal(a, b, SHA256_DIGEST_LEN);
}

/* final leaves nothing of the message or the key behind in the context */
static void test_final_wipes(void **state)
{
    (void)state;
    static const uint8_t zero[sizeof(hmac_sha256_ctx_t)];
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_ctx_t c;
    sha256_init(&c);
    sha256_update(&c, "secret", 6);
    sha256_final(&c, d);
    assert_memory_equal(&c, zero, sizeof c);
    hmac_sha256_ctx_t h;
    hmac_sha256_init(&h, "key", 3);
    hmac_sha256_update(&h, "secret", 6);
    hmac_sha256_final(&h, d);
    assert_memory_equal(&h, zero, sizeof h);
}

/* ---- HMAC ---- */

/* HMAC-SHA256 from RFC 2104's definition, with the one-buffer hash over copies put together:
 * H((K' ^ opad) || H((K' ^ ipad) || msg)), K' the key (hashed when longer than a block)
 * padded with zeros to a block. */
static void ref_hmac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
                     uint8_t out[SHA256_DIGEST_LEN])
{
    uint8_t k0[SHA256_BLOCK_LEN] = {0};
    if (keylen > SHA256_BLOCK_LEN)
        sha256(key, keylen, k0);
    else if (keylen)
        memcpy(k0, key, keylen);
    uint8_t *in = malloc(SHA256_BLOCK_LEN + msglen);
    assert_non_null(in);
    for (int i = 0; i < SHA256_BLOCK_LEN; i++) in[i] = k0[i] ^ 0x36;
    if (msglen) memcpy(in + SHA256_BLOCK_LEN, msg, msglen);
    uint8_t outer[SHA256_BLOCK_LEN + SHA256_DIGEST_LEN];
    for (int i = 0; i < SHA256_BLOCK_LEN; i++) outer[i] = k0[i] ^ 0x5c;
    sha256(in, SHA256_BLOCK_LEN + msglen, outer + SHA256_BLOCK_LEN);
    sha256(outer, sizeof outer, out);
    free(in);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t key4[25], key131[131];
    for (int i = 0; i < 25; i++) key4[i] = (uint8_t)(i + 1);
    memset(key131, 0xaa, sizeof key131);
    uint8_t dd[50], cd[50];
    memset(dd, 0xdd, sizeof dd);
    memset(cd, 0xcd, sizeof cd);
    static const char m7[] = "This is a test using a larger than block-size key and a larger than "
                             "block-size data. The key needs to be hashed before being used by "
                             "the HMAC algorithm.";
    const struct {
        const void *key;
        size_t keylen;
        const void *msg;
        size_t msglen;
        const char *hex; /* case 5: the first 128 bits only */
    } v[] = {
        {"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", 20,
         "Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", 4, "what do ya want for nothing?", 28,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa", 20, dd,
         sizeof dd, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {key4, sizeof key4, cd, sizeof cd,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {"\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c", 20,
         "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b"},
        {key131, sizeof key131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {key131, sizeof key131, m7, sizeof m7 - 1,
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    assert_int_equal(sizeof m7 - 1, 152);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        uint8_t d[SHA256_DIGEST_LEN], r[SHA256_DIGEST_LEN];
        char hex[SHA256_HEX_SIZE];
        hmac_sha256(v[i].key, v[i].keylen, v[i].msg, v[i].msglen, d);
        sha256_hex(d, hex);
        assert_memory_equal(hex, v[i].hex, strlen(v[i].hex));
        ref_hmac(v[i].key, v[i].keylen, v[i].msg, v[i].msglen, r);
        assert_memory_equal(d, r, SHA256_DIGEST_LEN);
        /* the same through the context, a byte at a time */
        hmac_sha256_ctx_t c;
        hmac_sha256_init(&c, v[i].key, v[i].keylen);
        for (size_t k = 0; k < v[i].msglen; k++)
            hmac_sha256_update(&c, (const uint8_t *)v[i].msg + k, 1);
        hmac_sha256_final(&c, r);
        assert_memory_equal(d, r, SHA256_DIGEST_LEN);
    }
}

/* A message in two parts, split at every point, MACs as the two put together, for keys below,
 * at and above the block size, the empty key included. */
static void test_hmac_two_parts(void **state)
{
    (void)state;
    static const size_t keylens[] = {0, 1, 20, 63, 64, 65, 131, 200};
    uint8_t key[200], msg[150];
    for (size_t k = 0; k < sizeof keylens / sizeof *keylens; k++) {
        fill(key, keylens[k]);
        fill(msg, sizeof msg);
        for (size_t n = 0; n <= sizeof msg; n += 1 + n / 4) {
            uint8_t want[SHA256_DIGEST_LEN], ref[SHA256_DIGEST_LEN];
            hmac_sha256(key, keylens[k], msg, n, want);
            ref_hmac(key, keylens[k], msg, n, ref);
            assert_memory_equal(want, ref, SHA256_DIGEST_LEN);
            for (size_t split = 0; split <= n; split++) {
                uint8_t got[SHA256_DIGEST_LEN];
                hmac_sha256_ctx_t c;
                hmac_sha256_init(&c, key, keylens[k]);
                hmac_sha256_update(&c, msg, split);
                hmac_sha256_update(&c, msg + split, n - split);
                hmac_sha256_final(&c, got);
                assert_memory_equal(got, want, SHA256_DIGEST_LEN);
            }
        }
    }
}

/* The webhook form: timestamp, ".", body as three pieces, and one keyed context copied to sign
 * two messages. */
static void test_hmac_webhook_form(void **state)
{
    (void)state;
    const char *secret = "whsec_0123456789abcdef";
    const char *ts = "1796465017";
    const char *body = "{\"event\":\"message\",\"room\":\"lobby\",\"text\":\"h\xc3\xa9llo\"}";
    const char *whole =
        "1796465017.{\"event\":\"message\",\"room\":\"lobby\",\"text\":\"h\xc3\xa9llo\"}";
    uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
    hmac_sha256(secret, strlen(secret), whole, strlen(whole), want);

    hmac_sha256_ctx_t keyed, c;
    hmac_sha256_init(&keyed, secret, strlen(secret));
    c = keyed;
    hmac_sha256_update(&c, ts, strlen(ts));
    hmac_sha256_update(&c, ".", 1);
    hmac_sha256_update(&c, body, strlen(body));
    hmac_sha256_final(&c, got);
    assert_true(sha256_equal(got, want));

    /* the keyed context again, for a second message */
    c = keyed;
    hmac_sha256_update(&c, "x", 1);
    hmac_sha256_final(&c, got);
    hmac_sha256(secret, strlen(secret), "x", 1, want);
    assert_true(sha256_equal(got, want));

    /* another key or another timestamp: another MAC */
    hmac_sha256(secret, strlen(secret) - 1, whole, strlen(whole), got);
    hmac_sha256(secret, strlen(secret), whole, strlen(whole), want);
    assert_false(sha256_equal(got, want));
    hmac_sha256(secret, strlen(secret), "1796465018", 10, got);
    hmac_sha256(secret, strlen(secret), ts, strlen(ts), want);
    assert_false(sha256_equal(got, want));
}

/* RFC 2104: a key longer than a block is replaced by its hash. */
static void test_hmac_long_key_is_hashed(void **state)
{
    (void)state;
    uint8_t key[100], hk[SHA256_DIGEST_LEN], a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
    fill(key, sizeof key);
    sha256(key, sizeof key, hk);
    hmac_sha256(key, sizeof key, "m", 1, a);
    hmac_sha256(hk, sizeof hk, "m", 1, b);
    assert_memory_equal(a, b, SHA256_DIGEST_LEN);
    /* a key of exactly a block is used as it is */
    sha256(key, 64, hk);
    hmac_sha256(key, 64, "m", 1, a);
    hmac_sha256(hk, sizeof hk, "m", 1, b);
    assert_memory_not_equal(a, b, SHA256_DIGEST_LEN);
}

/* ---- hex and comparison ---- */

static void test_hex(void **state)
{
    (void)state;
    uint8_t d[SHA256_DIGEST_LEN];
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) d[i] = (uint8_t)(i * 0x11 + (i >> 4));
    d[0] = 0x00, d[31] = 0xff;
    char hex[SHA256_HEX_SIZE];
    memset(hex, 'X', sizeof hex);
    sha256_hex(d, hex);
    assert_int_equal(hex[64], '\0');
    assert_string_equal(hex, "00112233445566778899aabbccddeeff"
                             "112233445566778899aabbccddeeffff");
}

static void test_equal(void **state)
{
    (void)state;
    /* any length: a session id's 16 characters, nothing at all */
    assert_int_equal(ct_equal("0123456789abcdef", "0123456789abcdef", 16), 1);
    assert_int_equal(ct_equal("0123456789abcdef", "0123456789abcdeg", 16), 0);
    assert_int_equal(ct_equal("x123456789abcdef", "0123456789abcdef", 16), 0);
    assert_int_equal(ct_equal("a", "b", 0), 1);
    uint8_t a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
    sha256("abc", 3, a);
    sha256("abc", 3, b);
    assert_int_equal(sha256_equal(a, b), 1);
    assert_int_equal(sha256_equal(a, a), 1);
    /* every single bit flipped, first byte to last */
    for (int bit = 0; bit < 8 * SHA256_DIGEST_LEN; bit++) {
        memcpy(b, a, sizeof b);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(sha256_equal(a, b), 0);
        assert_int_equal(sha256_equal(b, a), 0);
    }
    memset(b, 0, sizeof b);
    uint8_t z[SHA256_DIGEST_LEN] = {0};
    assert_int_equal(sha256_equal(b, z), 1);
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) b[i] = (uint8_t)~a[i];
    assert_int_equal(sha256_equal(a, b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_every_length_in_pieces),
        cmocka_unit_test(test_context_copy),
        cmocka_unit_test(test_final_wipes),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_two_parts),
        cmocka_unit_test(test_hmac_webhook_form),
        cmocka_unit_test(test_hmac_long_key_is_hashed),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
