/* Unit tests for proto/runtime/config.c: defaults, config file, environment and flags in that order
 * of precedence, flag syntaxes, bounds and syntax errors, --help/--version, generated usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    long long port;
    long long ping;
    char *name;
    char *redis;
    int verbose;
    int tls;
} conf_t;

static const cfg_opt_t opts[] = {
    {"port", CFG_INT, "3000", 1, 65535, offsetof(conf_t, port), "PORT", "listen port"},
    {"ping-interval", CFG_INT, "25000", 1, 600000, offsetof(conf_t, ping), "MS", "ping interval"},
    {"name", CFG_STR, "node", 0, 0, offsetof(conf_t, name), "NAME", "node name"},
    {"redis", CFG_STR, NULL, 0, 0, offsetof(conf_t, redis), "URL", "redis address"},
    {"verbose", CFG_BOOL, "false", 0, 0, offsetof(conf_t, verbose), NULL, "log more"},
    {"tls", CFG_BOOL, "true", 0, 0, offsetof(conf_t, tls), NULL, "use TLS"},
};

static const cfg_table_t table = {"testnode", "A test node.", "TESTNODE_", opts,
                                  sizeof opts / sizeof *opts};

static const char *const env_names[] = {
    "TESTNODE_PORT",    "TESTNODE_PING_INTERVAL", "TESTNODE_NAME",   "TESTNODE_REDIS",
    "TESTNODE_VERBOSE", "TESTNODE_TLS",           "TESTNODE_CONFIG",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++) unsetenv(env_names[i]);
    return 0;
}

/* Runs cfg_load over a NULL-terminated argument list (argv[0] added). */
static int load(conf_t *c, char *err, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"testnode";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    memset(c, 0, sizeof *c);
    err[0] = '\0';
    return cfg_load(&table, c, argc, argv, err, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    assert_int_equal(load(&c, err, NULL), CFG_OK);
    assert_int_equal(c.port, 3000);
    assert_int_equal(c.ping, 25000);
    assert_string_equal(c.name, "node");
    assert_null(c.redis);
    assert_int_equal(c.verbose, 0);
    assert_int_equal(c.tls, 1);
    cfg_free(&table, &c);
    assert_null(c.name);
}

static void test_flags(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    assert_int_equal(load(&c, err, "--port", "8080", "--name=alpha", "--redis", "redis://x:1",
                          "--verbose", "--no-tls", "--ping-interval=100", NULL),
                     CFG_OK);
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.ping, 100);
    assert_string_equal(c.name, "alpha");
    assert_string_equal(c.redis, "redis://x:1");
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.tls, 0);
    cfg_free(&table, &c);

    /* Booleans with explicit values, and the last flag wins. */
    assert_int_equal(load(&c, err, "--verbose=off", "--tls=YES", "--port=1", "--port=2", NULL),
                     CFG_OK);
    assert_int_equal(c.verbose, 0);
    assert_int_equal(c.tls, 1);
    assert_int_equal(c.port, 2);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--verbose=1", "--tls=false", "--name=", NULL), CFG_OK);
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.tls, 0);
    assert_string_equal(c.name, "");
    cfg_free(&table, &c);
}

static void test_env_override(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    setenv("TESTNODE_PORT", "4000", 1);
    setenv("TESTNODE_PING_INTERVAL", "5000", 1);
    setenv("TESTNODE_NAME", "fromenv", 1);
    setenv("TESTNODE_VERBOSE", "on", 1);
    assert_int_equal(load(&c, err, NULL), CFG_OK);
    assert_int_equal(c.port, 4000);
    assert_int_equal(c.ping, 5000);
    assert_string_equal(c.name, "fromenv");
    assert_int_equal(c.verbose, 1);
    cfg_free(&table, &c);
    /* Flags win over the environment. */
    assert_int_equal(load(&c, err, "--port", "5000", "--name", "flag", NULL), CFG_OK);
    assert_int_equal(c.port, 5000);
    assert_string_equal(c.name, "flag");
    assert_int_equal(c.ping, 5000);
    cfg_free(&table, &c);
    /* A bad environment value is an error naming the variable. */
    setenv("TESTNODE_PORT", "lots", 1);
    assert_int_equal(load(&c, err, NULL), CFG_ERR);
    assert_non_null(strstr(err, "TESTNODE_PORT"));
    cfg_free(&table, &c);
}

static void test_env_name(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(cfg_env_name(&table, &opts[1], buf, sizeof buf), "TESTNODE_PING_INTERVAL");
    char small[8];
    assert_string_equal(cfg_env_name(&table, &opts[1], small, sizeof small), "TESTNOD");
}

static void test_bounds_errors(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    assert_int_equal(load(&c, err, "--port", "0", NULL), CFG_ERR);
    assert_non_null(strstr(err, "port"));
    assert_non_null(strstr(err, "between 1 and 65535"));
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--port=65536", NULL), CFG_ERR);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--port=65535", NULL), CFG_OK);
    assert_int_equal(c.port, 65535);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--port=1", NULL), CFG_OK);
    cfg_free(&table, &c);
    static const char *const bad_ints[] = {"--port=", "--port=12x", "--port=x", "--port=1.5",
                                           "--port=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_ints / sizeof *bad_ints; i++) {
        assert_int_equal(load(&c, err, bad_ints[i], NULL), CFG_ERR);
        assert_true(strlen(err) > 0);
        cfg_free(&table, &c);
    }
    assert_int_equal(load(&c, err, "--verbose=maybe", NULL), CFG_ERR);
    assert_non_null(strstr(err, "verbose"));
    cfg_free(&table, &c);
}

static void test_unknown_and_missing(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    assert_int_equal(load(&c, err, "--bogus", NULL), CFG_ERR);
    assert_non_null(strstr(err, "bogus"));
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--bogus=1", NULL), CFG_ERR);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--no-port", NULL), CFG_ERR); /* --no- is for booleans */
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--no-bogus", NULL), CFG_ERR);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "stray", NULL), CFG_ERR);
    assert_non_null(strstr(err, "stray"));
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "-p", NULL), CFG_ERR);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--port", NULL), CFG_ERR);
    assert_non_null(strstr(err, "needs a value"));
    cfg_free(&table, &c);
}

static void test_help_version(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    assert_int_equal(load(&c, err, "--help", NULL), CFG_HELP);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "-h", NULL), CFG_HELP);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "--port=2", "--version", NULL), CFG_VERSION);
    cfg_free(&table, &c);
    assert_int_equal(load(&c, err, "-V", NULL), CFG_VERSION);
    cfg_free(&table, &c);
}

static char *write_file(const char *text)
{
    char *path = strdup("/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_config_file(void **state)
{
    (void)state;
    conf_t c;
    char err[256];
    char *path = write_file("# comment\n\n  port = 7000\nname=filename  \nverbose\n"
                            "ping-interval = 1234\n");
    char flag[300];
    snprintf(flag, sizeof flag, "--config=%s", path);
    assert_int_equal(load(&c, err, flag, NULL), CFG_OK);
    assert_int_equal(c.port, 7000);
    assert_string_equal(c.name, "filename");
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.ping, 1234);
    cfg_free(&table, &c);

    /* The environment and flags override the file; --config FILE form; PREFIX_CONFIG. */
    setenv("TESTNODE_PORT", "7001", 1);
    assert_int_equal(load(&c, err, "--config", path, "--name", "flag", NULL), CFG_OK);
    assert_int_equal(c.port, 7001);
    assert_string_equal(c.name, "flag");
    assert_int_equal(c.ping, 1234);
    cfg_free(&table, &c);
    unsetenv("TESTNODE_PORT");
    setenv("TESTNODE_CONFIG", path, 1);
    assert_int_equal(load(&c, err, NULL), CFG_OK);
    assert_int_equal(c.port, 7000);
    cfg_free(&table, &c);
    unsetenv("TESTNODE_CONFIG");
    unlink(path);
    free(path);

    /* Errors carry the file name and line. */
    path = write_file("port = 7000\nnope = 1\n");
    snprintf(flag, sizeof flag, "--config=%s", path);
    assert_int_equal(load(&c, err, flag, NULL), CFG_ERR);
    assert_non_null(strstr(err, ":2"));
    assert_non_null(strstr(err, "nope"));
    cfg_free(&table, &c);
    unlink(path);
    free(path);

    path = write_file("port = 0\n");
    snprintf(flag, sizeof flag, "--config=%s", path);
    assert_int_equal(load(&c, err, flag, NULL), CFG_ERR);
    cfg_free(&table, &c);
    unlink(path);
    free(path);

    path = write_file("name\n");
    snprintf(flag, sizeof flag, "--config=%s", path);
    assert_int_equal(load(&c, err, flag, NULL), CFG_ERR);
    assert_non_null(strstr(err, "needs a value"));
    cfg_free(&table, &c);
    unlink(path);
    free(path);

    assert_int_equal(load(&c, err, "--config=/nonexistent/chatcluster.conf", NULL), CFG_ERR);
    assert_non_null(strstr(err, "/nonexistent/chatcluster.conf"));
    cfg_free(&table, &c);
}

static void test_usage(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_usage(&table, f);
    fclose(f);
    assert_non_null(strstr(text, "Usage: testnode"));
    assert_non_null(strstr(text, "A test node."));
    assert_non_null(strstr(text, "--port PORT"));
    assert_non_null(strstr(text, "--ping-interval MS"));
    assert_non_null(strstr(text, "(default: 25000)"));
    assert_non_null(strstr(text, "[TESTNODE_PING_INTERVAL]"));
    assert_non_null(strstr(text, "--verbose"));
    assert_null(strstr(text, "--verbose VALUE"));
    assert_non_null(strstr(text, "--config FILE"));
    assert_non_null(strstr(text, "--help"));
    assert_non_null(strstr(text, "--version"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_flags, clear_env),
        cmocka_unit_test_setup(test_env_override, clear_env),
        cmocka_unit_test_setup(test_env_name, clear_env),
        cmocka_unit_test_setup(test_bounds_errors, clear_env),
        cmocka_unit_test_setup(test_unknown_and_missing, clear_env),
        cmocka_unit_test_setup(test_help_version, clear_env),
        cmocka_unit_test_setup(test_config_file, clear_env),
        cmocka_unit_test_setup(test_usage, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
