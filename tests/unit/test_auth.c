/* Unit tests for adminnode/auth.c: keys file and ADMINNODE_API_KEYS parsing (comments, bad
 * lines with their number, duplicates, key bounds), lookups by scope, Bearer headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K1 "0123456789abcdef-read"
#define K2 "0123456789abcdef-admin"

static void test_file_text(void **state)
{
    (void)state;
    auth_t a = AUTH_INIT;
    char err[200];
    const char *text = "# keys\n\n" K1 " read\n  \t" K2 "\tadmin  \r\n# end";
    assert_int_equal(auth_parse_file_text(&a, text, strlen(text), err, sizeof err), 2);
    assert_int_equal(a.nkeys, 2);
    assert_int_equal(auth_lookup(&a, K1, strlen(K1)), API_SCOPE_READ);
    assert_int_equal(auth_lookup(&a, K2, strlen(K2)), API_SCOPE_ADMIN);
    assert_int_equal(auth_lookup(&a, "0123456789abcdef", 16), -1);
    assert_int_equal(auth_lookup(&a, K1 "x", strlen(K1) + 1), -1);
    assert_int_equal(auth_lookup(&a, K1, strlen(K1) - 1), -1);
    assert_int_equal(auth_lookup(&a, "", 0), -1);
    char huge[1000];
    memset(huge, 'a', sizeof huge);
    assert_int_equal(auth_lookup(&a, huge, sizeof huge), -1);
    auth_free(&a);
    auth_free(&a);
}

static void expect_bad(const char *text, const char *want)
{
    auth_t a = AUTH_INIT;
    char err[200] = "";
    assert_int_equal(auth_parse_file_text(&a, text, strlen(text), err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_null(strstr(err, "0123456789abcdef")); /* never the key itself */
    assert_int_equal(a.nkeys, 0);
    auth_free(&a);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_bad("# c\n" K1 "\n", "line 2: expected");
    expect_bad(K1 " read\n" K2 " superuser\n", "line 2: scope must be read or admin");
    expect_bad(K1 " read extra\n", "line 1: unexpected text");
    expect_bad("short read\n", "line 1: key too short");
    expect_bad(K1 " read\n\n" K1 " admin\n", "line 3: duplicate key");
    expect_bad("0123456789abcdef\x01xx read\n", "not printable");
    char big[400];
    memset(big, 'k', 300);
    strcpy(big + 300, " read\n");
    expect_bad(big, "key too long");
}

static void test_env(void **state)
{
    (void)state;
    auth_t a = AUTH_INIT;
    char err[200];
    assert_int_equal(auth_parse_env(&a, " " K1 ":read , " K2 ":admin,", err, sizeof err), 2);
    assert_int_equal(auth_lookup(&a, K2, strlen(K2)), API_SCOPE_ADMIN);
    /* keys from both sources add up; a duplicate across them is refused */
    const char *more = "another-key-0123456789 read\n";
    assert_int_equal(auth_parse_file_text(&a, more, strlen(more), err, sizeof err), 1);
    assert_int_equal(auth_parse_file_text(&a, K1 " read", strlen(K1) + 5, err, sizeof err), -1);
    assert_int_equal(a.nkeys, 3);
    assert_int_equal(auth_parse_env(&a, "x-0123456789abcdef:read,nocolon", err, sizeof err), -1);
    assert_non_null(strstr(err, "entry 2"));
    assert_int_equal(auth_parse_env(&a, "x-0123456789abcdef:write", err, sizeof err), -1);
    assert_non_null(strstr(err, "entry 1: scope"));
    assert_int_equal(auth_parse_env(&a, ",", err, sizeof err), -1);
    assert_int_equal(a.nkeys, 3);
    auth_free(&a);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_auth_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = K1 " read\nbroken\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    auth_t a = AUTH_INIT;
    char err[300];
    assert_int_equal(auth_load_file(&a, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line 2"));
    unlink(path);
    assert_int_equal(auth_load_file(&a, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    auth_free(&a);
}

static void test_bearer(void **state)
{
    (void)state;
    const char *k;
    size_t n;
    assert_int_equal(auth_bearer("Bearer abc", &k, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(k, "abc", 3);
    assert_int_equal(auth_bearer("bearer   abc  ", &k, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(auth_bearer("Basic abc", &k, &n), -1);
    assert_int_equal(auth_bearer("Bearer", &k, &n), -1);
    assert_int_equal(auth_bearer("Bearer   ", &k, &n), -1);
    assert_int_equal(auth_bearer("Bearerabc", &k, &n), -1);
    assert_int_equal(auth_bearer(NULL, &k, &n), -1);
}

static void test_no_keys(void **state)
{
    (void)state;
    auth_t a = AUTH_INIT;
    assert_int_equal(auth_lookup(&a, K1, strlen(K1)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_text), cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_env),       cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_bearer),    cmocka_unit_test(test_no_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
