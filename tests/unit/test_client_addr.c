/* Unit tests for proto/client_addr.c: address parsing and printing (IPv4, IPv6, mapped,
 * brackets, junk), CIDR lists (prefixes, host bits, errors), matching, the /64 limit key, and
 * picking the client from X-Forwarded-For (trusted hops skipped, spoofed left part ignored,
 * malformed values falling back to the peer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static client_addr_t A(const char *s)
{
    client_addr_t a;
    assert_int_equal(client_addr_parse(s, strlen(s), &a), 0);
    return a;
}

static const char *text(const client_addr_t *a)
{
    static char buf[CLIENT_ADDR_TEXT];
    return client_addr_format(a, buf, sizeof buf);
}

static int parses(const char *s)
{
    client_addr_t a;
    return client_addr_parse(s, strlen(s), &a) == 0;
}

static void test_parse_and_format(void **state)
{
    (void)state;
    client_addr_t a = A("192.0.2.7");
    assert_true(client_addr_is_v4(&a));
    assert_string_equal(text(&a), "192.0.2.7");
    a = A("2001:db8::1");
    assert_false(client_addr_is_v4(&a));
    assert_string_equal(text(&a), "2001:db8::1");
    a = A("[2001:DB8::1]");
    assert_string_equal(text(&a), "2001:db8::1");
    a = A("::ffff:10.1.2.3"); /* a mapped IPv4 address is that IPv4 address */
    assert_true(client_addr_is_v4(&a));
    assert_string_equal(text(&a), "10.1.2.3");
    a = A("::1");
    assert_string_equal(text(&a), "::1");

    assert_false(parses(""));
    assert_false(parses("1.2.3"));
    assert_false(parses("1.2.3.4.5"));
    assert_false(parses("256.1.1.1"));
    assert_false(parses("01.2.3.4"));
    assert_false(parses("1.2.3.4:80"));
    assert_false(parses(" 1.2.3.4"));
    assert_false(parses("[1.2.3.4]"));
    assert_false(parses("[::1"));
    assert_false(parses("fe80::1%eth0"));
    assert_false(parses("example.com"));
    assert_false(parses("unknown"));
    /* length-bounded: the bytes after len do not count */
    client_addr_t b;
    assert_int_equal(client_addr_parse("10.0.0.1junk", 8, &b), 0);
    /* a NUL inside the text is not the end of it */
    assert_int_equal(client_addr_parse("10.0.0.1\0junk", 13, &b), -1);
    assert_int_equal(client_addr_parse("10.0.0.1\0", 9, &b), -1);
    assert_string_equal(text(&b), "10.0.0.1");
    char big[200];
    memset(big, '1', sizeof big);
    assert_int_equal(client_addr_parse(big, sizeof big, &b), -1);

    char small[4];
    a = A("192.0.2.7");
    assert_string_equal(client_addr_format(&a, small, sizeof small), "");
}

static void test_from_sockaddr(void **state)
{
    (void)state;
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.9", &in.sin_addr);
    client_addr_t a;
    assert_int_equal(client_addr_from_sockaddr((struct sockaddr *)&in, &a), 0);
    assert_string_equal(text(&a), "127.0.0.9");
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "fd00::5", &in6.sin6_addr);
    assert_int_equal(client_addr_from_sockaddr((struct sockaddr *)&in6, &a), 0);
    assert_string_equal(text(&a), "fd00::5");
    /* a dual-stack socket's view of an IPv4 client is that client: one key, one count */
    client_addr_t v4, mapped;
    client_addr_from_sockaddr((struct sockaddr *)&in, &v4);
    inet_pton(AF_INET6, "::ffff:127.0.0.9", &in6.sin6_addr);
    client_addr_from_sockaddr((struct sockaddr *)&in6, &mapped);
    assert_memory_equal(v4.b, mapped.b, sizeof v4.b);
    struct sockaddr other = {.sa_family = AF_UNIX};
    assert_int_equal(client_addr_from_sockaddr(&other, &a), -1);
    assert_string_equal(text(&a), "::");
}

static void test_limit_key(void **state)
{
    (void)state;
    client_addr_t k;
    client_addr_t a = A("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
    client_addr_limit_key(&a, &k);
    assert_string_equal(text(&k), "2001:db8:1:2::");
    client_addr_t b = A("2001:db8:1:2::9");
    client_addr_t kb;
    client_addr_limit_key(&b, &kb);
    assert_memory_equal(k.b, kb.b, 16); /* one /64, one key */
    a = A("198.51.100.4");
    client_addr_limit_key(&a, &k);
    assert_string_equal(text(&k), "198.51.100.4"); /* IPv4: the address itself */
}

static void test_cidrs(void **state)
{
    (void)state;
    client_cidrs_t l;
    char err[128];
    assert_int_equal(
        client_cidrs_parse(" 10.0.0.0/8, 192.168.1.5 ,,fd00::/8,::1 ", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 4);
    client_addr_t a = A("10.200.3.4");
    assert_true(client_cidrs_match(&l, &a));
    a = A("11.0.0.1");
    assert_false(client_cidrs_match(&l, &a));
    a = A("192.168.1.5");
    assert_true(client_cidrs_match(&l, &a));
    a = A("192.168.1.6");
    assert_false(client_cidrs_match(&l, &a));
    a = A("fdab::1");
    assert_true(client_cidrs_match(&l, &a));
    a = A("fe00::1");
    assert_false(client_cidrs_match(&l, &a));
    a = A("::1");
    assert_true(client_cidrs_match(&l, &a));
    a = A("::2");
    assert_false(client_cidrs_match(&l, &a));
    client_cidrs_free(&l);
    client_cidrs_free(&l); /* twice is harmless */

    /* host bits are cleared; /0 is everything; odd prefixes */
    assert_int_equal(client_cidrs_parse("172.16.5.9/12", &l, err, sizeof err), 0);
    a = A("172.31.255.255");
    assert_true(client_cidrs_match(&l, &a));
    a = A("172.32.0.0");
    assert_false(client_cidrs_match(&l, &a));
    a = A("2001:db8::1"); /* an IPv4 network holds no IPv6 address */
    assert_false(client_cidrs_match(&l, &a));
    client_cidrs_free(&l);
    assert_int_equal(client_cidrs_parse("0.0.0.0/0", &l, err, sizeof err), 0);
    a = A("203.0.113.1");
    assert_true(client_cidrs_match(&l, &a));
    a = A("2001:db8::1");
    assert_false(client_cidrs_match(&l, &a));
    client_cidrs_free(&l);
    assert_int_equal(client_cidrs_parse("2001:db8::/33", &l, err, sizeof err), 0);
    a = A("2001:db8:7fff::1");
    assert_true(client_cidrs_match(&l, &a));
    a = A("2001:db8:8000::1");
    assert_false(client_cidrs_match(&l, &a));
    client_cidrs_free(&l);

    /* empty is valid and matches nothing */
    assert_int_equal(client_cidrs_parse("", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_false(client_cidrs_match(&l, &a));
    assert_int_equal(client_cidrs_parse(NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);

    const char *bad[] = {"10.0.0.0/33",    "::/129",       "10.0.0.0/",
                         "10.0.0.0/8x",    "10.0.0.0/-1",  "localhost",
                         "10.0.0.1, nope", "1.2.3.4/0008", "[::1]/200"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(client_cidrs_parse(bad[i], &l, err, sizeof err), -1);
        assert_null(l.v);
        assert_int_equal(l.n, 0);
        assert_true(strlen(err) > 0);
    }
}

static int pick(const client_cidrs_t *t, const char *xff, char *out)
{
    client_addr_t a = A("0.0.0.0");
    int rc = client_addr_from_xff(t, xff, strlen(xff), &a);
    strcpy(out, text(&a));
    return rc;
}

static void test_xff(void **state)
{
    (void)state;
    client_cidrs_t t;
    char err[64], got[CLIENT_ADDR_TEXT];
    assert_int_equal(client_cidrs_parse("10.0.0.0/8,2001:db8::1", &t, err, sizeof err), 0);

    assert_int_equal(pick(&t, "203.0.113.5", got), 0);
    assert_string_equal(got, "203.0.113.5");
    /* the right-most untrusted one; what the client wrote to its left does not count */
    assert_int_equal(pick(&t, "1.1.1.1, 203.0.113.5, 10.0.0.2, 10.9.9.9", got), 0);
    assert_string_equal(got, "203.0.113.5");
    assert_int_equal(pick(&t, "garbage, 203.0.113.5", got), 0);
    assert_string_equal(got, "203.0.113.5");
    assert_int_equal(pick(&t, "\t198.51.100.1 ,2001:db8::1", got), 0);
    assert_string_equal(got, "198.51.100.1");
    assert_int_equal(pick(&t, "[2001:db8::77]", got), 0);
    assert_string_equal(got, "2001:db8::77");
    /* all trusted: the left-most */
    assert_int_equal(pick(&t, "10.1.1.1, 10.2.2.2", got), 0);
    assert_string_equal(got, "10.1.1.1");

    /* malformed where the walk goes: nothing picked */
    assert_int_equal(pick(&t, "", got), -1);
    assert_int_equal(pick(&t, "   ", got), -1);
    assert_int_equal(pick(&t, "203.0.113.5,", got), -1);
    assert_int_equal(pick(&t, "203.0.113.5, unknown", got), -1);
    assert_int_equal(pick(&t, "1.2.3.4, 10.0.0.1, ", got), -1);
    assert_int_equal(pick(&t, ",10.0.0.1", got), -1);
    assert_int_equal(pick(&t, "203.0.113.5:4711", got), -1);
    assert_string_equal(got, "0.0.0.0"); /* untouched */

    /* resolve: only a trusted peer's header counts */
    client_addr_t peer = A("10.0.0.3"), out;
    client_addr_resolve(&t, &peer, "198.51.100.9", 12, &out);
    assert_string_equal(text(&out), "198.51.100.9");
    client_addr_resolve(&t, &peer, "nonsense", 8, &out);
    assert_string_equal(text(&out), "10.0.0.3");
    client_addr_resolve(&t, &peer, NULL, 0, &out);
    assert_string_equal(text(&out), "10.0.0.3");
    peer = A("192.0.2.50"); /* not a proxy of ours: its header is the client's own claim */
    client_addr_resolve(&t, &peer, "198.51.100.9", 12, &out);
    assert_string_equal(text(&out), "192.0.2.50");
    client_cidrs_free(&t);
    peer = A("10.0.0.3"); /* no trusted proxies at all */
    client_addr_resolve(&t, &peer, "198.51.100.9", 12, &out);
    assert_string_equal(text(&out), "10.0.0.3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_from_sockaddr),
        cmocka_unit_test(test_limit_key),
        cmocka_unit_test(test_cidrs),
        cmocka_unit_test(test_xff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
