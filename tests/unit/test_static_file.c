/* Unit tests for proto/runtime/static_file.c: opening under a root in a temporary directory:
 * a regular file with its size and type, missing files, directories, FIFOs, symlinks out of
 * the root refused and those inside followed, the size cap, an unusable root, reading whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "static_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64];   /* the temporary directory */
static char root[128]; /* top/root, the served directory */

static void put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", top, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void at(char *p, size_t cap, const char *rel)
{
    snprintf(p, cap, "%s/%s", top, rel);
}

static int setup(void **state)
{
    (void)state;
    strcpy(top, "/tmp/test_static_file.XXXXXX");
    if (!mkdtemp(top)) return -1;
    snprintf(root, sizeof root, "%s/root", top);
    char p[256], q[256];
    mkdir(root, 0700);
    at(p, sizeof p, "root/sub");
    mkdir(p, 0700);
    put("root/index.html", "<p>hi</p>");
    put("root/sub/app.js", "x");
    put("root/empty.txt", "");
    put("secret.txt", "SECRET");
    at(p, sizeof p, "root/escape.txt");
    at(q, sizeof q, "secret.txt");
    if (symlink(q, p) != 0) return -1;
    at(p, sizeof p, "root/inside.js");
    if (symlink("sub/app.js", p) != 0) return -1;
    at(p, sizeof p, "root/fifo");
    if (mkfifo(p, 0600) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const rels[] = {"root/index.html", "root/sub/app.js", "root/empty.txt",
                                       "secret.txt",      "root/escape.txt", "root/inside.js",
                                       "root/fifo",       "root/sub",        "root"};
    char p[256];
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
        at(p, sizeof p, rels[i]);
        remove(p);
    }
    return rmdir(top);
}

static void test_open_and_read(void **state)
{
    (void)state;
    static_file_t f;
    assert_int_equal(static_file_open(root, "index.html", 1024, &f), 0);
    assert_true(f.fd >= 0);
    assert_int_equal(f.size, 9);
    assert_true(f.mtime > 0);
    assert_string_equal(f.type, "text/html; charset=utf-8");
    char *body = static_file_read(&f);
    assert_non_null(body);
    assert_memory_equal(body, "<p>hi</p>", 9);
    free(body);
    static_file_close(&f);
    assert_int_equal(f.fd, -1);
    static_file_close(&f); /* twice is harmless */

    assert_int_equal(static_file_open(root, "empty.txt", 1024, &f), 0);
    body = static_file_read(&f);
    assert_non_null(body);
    free(body);
    static_file_close(&f);

    /* a symlink inside the root is followed; the type is the target's */
    assert_int_equal(static_file_open(root, "inside.js", 1024, &f), 0);
    assert_string_equal(f.type, "text/javascript; charset=utf-8");
    static_file_close(&f);
}

static void test_refused(void **state)
{
    (void)state;
    static_file_t f;
    const char *const missing[] = {
        "nope.html", "sub", "sub/", "escape.txt", "fifo", "../secret.txt", "sub/../../secret.txt"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        assert_int_equal(static_file_open(root, missing[i], 1024, &f), STATIC_FILE_NOT_FOUND);
        assert_int_equal(f.fd, -1);
    }
    assert_int_equal(static_file_open(root, "index.html", 8, &f), STATIC_FILE_TOO_LARGE);
    assert_int_equal(f.fd, -1);
    assert_int_equal(f.size, 9);
    assert_non_null(strstr(f.path, "index.html"));
    assert_int_equal(static_file_open(root, "index.html", 9, &f), 0);
    static_file_close(&f);
    char gone[256];
    at(gone, sizeof gone, "no-such-root");
    assert_int_equal(static_file_open(gone, "index.html", 1024, &f), STATIC_FILE_NO_ROOT);
    assert_int_equal(f.fd, -1);
    assert_string_equal(static_file_strerror(STATIC_FILE_TOO_LARGE), "file too large to serve");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_read),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
