/* Unit tests for adminnode/http_peer.c: address keys (IPv4, IPv6, IPv4-mapped IPv6 equal to
 * IPv4, other families refused) and the lists of exempt addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

static size_t key_of(const char *lit, unsigned char key[HTTP_PEER_KEY])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, lit, &in->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, lit, &in6->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        fail_msg("bad literal %s", lit);
    return http_peer_key((struct sockaddr *)&ss, key);
}

static void test_keys(void **state)
{
    (void)state;
    unsigned char a[HTTP_PEER_KEY], b[HTTP_PEER_KEY];
    assert_int_equal(key_of("127.0.0.2", a), 5);
    assert_int_equal(key_of("::ffff:127.0.0.2", b), 5);
    assert_memory_equal(a, b, 5);
    assert_int_equal(key_of("127.0.0.3", b), 5);
    assert_memory_not_equal(a, b, 5);
    assert_int_equal(key_of("::1", a), 17);
    assert_int_equal(key_of("2001:db8::1", b), 17);
    assert_memory_not_equal(a, b, 17);
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    assert_int_equal(http_peer_key((struct sockaddr *)&un, a), 0);
    assert_int_equal(http_peer_key(NULL, a), 0);
}

static void test_lists(void **state)
{
    (void)state;
    http_peer_list_t l;
    char err[128];
    unsigned char k[HTTP_PEER_KEY];
    size_t n;
    assert_int_equal(http_peer_list_parse(&l, " 127.0.0.1 , ::1,10.0.0.7 ", err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    n = key_of("127.0.0.1", k);
    assert_true(http_peer_list_has(&l, k, n));
    n = key_of("::ffff:10.0.0.7", k);
    assert_true(http_peer_list_has(&l, k, n));
    n = key_of("::1", k);
    assert_true(http_peer_list_has(&l, k, n));
    n = key_of("127.0.0.2", k);
    assert_false(http_peer_list_has(&l, k, n));
    http_peer_list_free(&l);

    assert_int_equal(http_peer_list_parse(&l, "", err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(http_peer_list_parse(&l, NULL, err, sizeof err), 0);
    assert_int_equal(http_peer_list_parse(&l, ",,", err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(http_peer_list_parse(&l, "127.0.0.1,localhost", err, sizeof err), -1);
    assert_non_null(strstr(err, "localhost"));
    assert_int_equal(l.n, 0);
    assert_int_equal(http_peer_list_parse(&l, "127.0.0.1/8", err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
