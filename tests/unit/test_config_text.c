/* Unit tests for cfg_load_text (proto/runtime/config.c): a config file's text read from a buffer,
 * as cfg_load reads a file. A line is read whole however long it is (its tail never becomes a
 * setting of its own), a NUL byte is refused, and the lines before a bad one stay applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long long port;
    char *name;
    int verbose;
} conf_t;

static const cfg_opt_t opts[] = {
    {"port", CFG_INT, "3000", 1, 65535, offsetof(conf_t, port), "PORT", "listen port"},
    {"name", CFG_STR, "node", 0, 0, offsetof(conf_t, name), "NAME", "node name"},
    {"verbose", CFG_BOOL, "false", 0, 0, offsetof(conf_t, verbose), NULL, "log more"},
};

static const cfg_table_t table = {"t", "A test.", "T_", opts, sizeof opts / sizeof *opts};

static int load(conf_t *c, const char *text, size_t len, char *err)
{
    return cfg_load_text(&table, c, text, len, "t.conf", err, 256);
}

static void test_settings(void **state)
{
    (void)state;
    conf_t c = {0};
    char err[256] = "";
    const char text[] = "# comment\n\n  port = 8080 \r\nname=  a = b\t\nverbose\n";
    assert_int_equal(load(&c, text, sizeof text - 1, err), CFG_OK);
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.name, "a = b");
    assert_int_equal(c.verbose, 1);
    /* the last line needs no newline; an empty value is an empty string */
    assert_int_equal(load(&c, "name =", 6, err), CFG_OK);
    assert_string_equal(c.name, "");
    assert_int_equal(load(&c, "", 0, err), CFG_OK);
    cfg_free(&table, &c);
}

static void test_errors(void **state)
{
    (void)state;
    conf_t c = {0};
    char err[256] = "";
    const char bad[] = "port = 1\nport = 2\ncolour = red\nport = 3\n";
    assert_int_equal(load(&c, bad, sizeof bad - 1, err), CFG_ERR);
    assert_string_equal(err, "t.conf:3: unknown setting \"colour\"");
    assert_int_equal(c.port, 2); /* applied up to the bad line, not after it */
    assert_int_equal(load(&c, "port\n", 5, err), CFG_ERR);
    assert_string_equal(err, "t.conf:1: setting \"port\" needs a value");
    assert_int_equal(load(&c, "port = 0x10", 11, err), CFG_ERR);
    assert_int_equal(load(&c, "verbose = maybe", 15, err), CFG_ERR);
    /* a NUL byte is refused, not read as the end of the line */
    const char nul[] = "name = ab\0port = 9\n";
    assert_int_equal(load(&c, nul, sizeof nul - 1, err), CFG_ERR);
    assert_string_equal(err, "t.conf:1: NUL byte in the line");
    assert_int_equal(c.port, 2);
    cfg_free(&table, &c);
}

/* A value longer than a line buffer stays one value: its tail is not a line of its own. (Read
 * 4095 bytes at a time, "port = 9" here would start a line and set the port.) */
static void test_long_line(void **state)
{
    (void)state;
    conf_t c = {0};
    char err[256] = "";
    size_t pad = 4095 - strlen("name = ");
    char *text = malloc(pad + 64);
    int n = snprintf(text, 64, "name = ");
    memset(text + n, 'x', pad);
    n += (int)pad;
    n += snprintf(text + n, 64, "port = 9\n");
    assert_int_equal(load(&c, text, (size_t)n, err), CFG_OK);
    assert_int_equal(c.port, 0); /* "port = 9" is the end of the name, not a setting */
    assert_int_equal(strlen(c.name), pad + strlen("port = 9"));
    free(text);
    cfg_free(&table, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
