/* Unit tests for proto/static_path.c's static_path_check: what a decoded request path
 * names under the static root, index.html for a directory, and the refusals (not absolute,
 * "." and ".." segments, backslashes, too long for the buffer, hidden names). Pure: no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "static_path.h"

#include <string.h>

static int check(const char *uri, char *rel, size_t cap)
{
    memset(rel, 'x', cap);
    return static_path_check(uri, rel, cap);
}

static void test_names(void **state)
{
    (void)state;
    char rel[64];
    assert_int_equal(check("/", rel, sizeof rel), 0);
    assert_string_equal(rel, "index.html");
    assert_int_equal(check("/app.js", rel, sizeof rel), 0);
    assert_string_equal(rel, "app.js");
    assert_int_equal(check("/a/b/c.css", rel, sizeof rel), 0);
    assert_string_equal(rel, "a/b/c.css");
    assert_int_equal(check("/docs/", rel, sizeof rel), 0);
    assert_string_equal(rel, "docs/index.html");
    /* repeated slashes name the same file; dots inside a name are names */
    assert_int_equal(check("//a//b.js", rel, sizeof rel), 0);
    assert_string_equal(rel, "a//b.js");
    assert_int_equal(check("/a.b/c..d/e...", rel, sizeof rel), 0);
    assert_string_equal(rel, "a.b/c..d/e...");
}

static void test_malformed(void **state)
{
    (void)state;
    char rel[64];
    assert_int_equal(check("", rel, sizeof rel), -1);
    assert_int_equal(check("app.js", rel, sizeof rel), -1);
    assert_int_equal(check("/..", rel, sizeof rel), -1);
    assert_int_equal(check("/../etc/passwd", rel, sizeof rel), -1);
    assert_int_equal(check("/a/../../b", rel, sizeof rel), -1);
    assert_int_equal(check("/a/./b", rel, sizeof rel), -1);
    assert_int_equal(check("/a/.", rel, sizeof rel), -1);
    assert_int_equal(check("/a\\..\\b", rel, sizeof rel), -1);
    assert_int_equal(check("/a\\b", rel, sizeof rel), -1);
}

static void test_hidden(void **state)
{
    (void)state;
    char rel[64];
    assert_int_equal(check("/.env", rel, sizeof rel), -2);
    assert_int_equal(check("/a/...e", rel, sizeof rel), -2);
    assert_int_equal(check("/.git/config", rel, sizeof rel), -2);
    assert_int_equal(check("/a/.hidden/", rel, sizeof rel), -2);
    /* a malformed path says so even when it is hidden too */
    assert_int_equal(check("/.git/../x", rel, sizeof rel), -1);
}

static void test_bounds(void **state)
{
    (void)state;
    char rel[16];
    /* 15 bytes and the NUL fit; one more does not, nor does index.html after a long dir */
    assert_int_equal(check("/aaaaaaaaaaaaaaa", rel, sizeof rel), 0);
    assert_string_equal(rel, "aaaaaaaaaaaaaaa");
    assert_int_equal(check("/aaaaaaaaaaaaaaaa", rel, sizeof rel), -1);
    assert_int_equal(check("/abcdef/", rel, sizeof rel), -1); /* abcdef/index.html: 17 */
    assert_int_equal(check("/abcd/", rel, sizeof rel), 0);    /* abcd/index.html: 15 */
    assert_string_equal(rel, "abcd/index.html");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_hidden),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
