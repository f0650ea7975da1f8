/* Unit tests for chatnode/origin.c: the --cors-origin allow-list (exact items, spaces, the
 * wildcard) and the same-host rule for WebSocket upgrades (default ports, case, IPv6
 * literals, a Host without a port, malformed origins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "origin.h"

static void test_allowed(void **state)
{
    (void)state;
    const char *list = "https://a.example, https://b.example:8443 ,http://c.example";
    assert_true(origin_allowed(list, "https://a.example"));
    assert_true(origin_allowed(list, "https://b.example:8443"));
    assert_true(origin_allowed(list, "http://c.example"));
    assert_false(origin_allowed(list, "https://b.example"));
    assert_false(origin_allowed(list, "https://a.example.evil"));
    assert_false(origin_allowed(list, "https://a.exampl"));
    assert_false(origin_allowed(list, ""));
    assert_false(origin_allowed(list, "null"));
    assert_true(origin_allowed("*", "https://anything.example"));
    assert_true(origin_allowed("https://a.example, *", "null"));
    assert_false(origin_allowed("", "https://a.example"));
    assert_false(origin_allowed(NULL, "https://a.example"));

    assert_true(origin_list_has_wildcard("*"));
    assert_true(origin_list_has_wildcard(" https://a.example , * "));
    assert_false(origin_list_has_wildcard("https://a.example"));
    assert_false(origin_list_has_wildcard("https://*.example"));
    assert_false(origin_list_has_wildcard(""));
    assert_false(origin_list_has_wildcard(NULL));
}

static void test_same_host(void **state)
{
    (void)state;
    assert_true(origin_same_host("http://127.0.0.1:3000", "127.0.0.1:3000"));
    assert_true(origin_same_host("http://Chat.Example", "chat.example"));
    assert_true(origin_same_host("http://chat.example", "chat.example:80"));
    assert_true(origin_same_host("https://chat.example", "chat.example:443"));
    assert_true(origin_same_host("https://chat.example:443", "chat.example:443"));
    assert_true(origin_same_host("http://[::1]:8080", "[::1]:8080"));
    assert_true(origin_same_host("http://chat.example:3000/", "chat.example:3000"));
    /* a Host without a port (nginx's $host) is compared by name */
    assert_true(origin_same_host("http://chat.example:8930", "chat.example"));

    assert_false(origin_same_host("http://chat.example", "chat.example:3000"));
    assert_false(origin_same_host("https://chat.example", "chat.example:80"));
    assert_false(origin_same_host("http://127.0.0.1:3001", "127.0.0.1:3000"));
    assert_false(origin_same_host("http://evil.example:3000", "chat.example:3000"));
    assert_false(origin_same_host("http://chat.example.evil", "chat.example"));
    assert_false(origin_same_host("http://chat.exampl", "chat.example"));
    assert_false(origin_same_host("null", "chat.example"));
    assert_false(origin_same_host("chat.example", "chat.example"));
    assert_false(origin_same_host("http://", "chat.example"));
    assert_false(origin_same_host("http://chat.example/path", "chat.example"));
    assert_false(origin_same_host("http://user@chat.example", "chat.example"));
    assert_false(origin_same_host("http://chat.example:99999", "chat.example:99999"));
    assert_false(origin_same_host("http://chat.example:", "chat.example"));
    assert_false(origin_same_host("http://[::1", "[::1]"));
    assert_false(origin_same_host("http://chat.example", ""));
    assert_false(origin_same_host("http://chat.example", NULL));
    /* an unknown scheme has no default port: only explicit ports compare */
    assert_false(origin_same_host("foo://chat.example", "chat.example:80"));
    assert_true(origin_same_host("foo://chat.example:80", "chat.example:80"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_same_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
