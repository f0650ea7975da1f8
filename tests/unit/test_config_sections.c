/* Unit tests for the section calls of proto/config.c: a program's table and a module's table
 * read in one pass, each into its own struct, from defaults, a config file, the environment
 * and flags; one --help lists both; the strings of both are released. */
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
    char *name;
} core_t;

typedef struct {
    long long size;
    char *secret;
    int guests;
} module_t;

static const cfg_opt_t core_opts[] = {
    {"port", CFG_INT, "3000", 1, 65535, offsetof(core_t, port), "PORT", "listen port"},
    {"name", CFG_STR, "node", 0, 0, offsetof(core_t, name), "NAME", "node name"},
};

static const cfg_opt_t module_opts[] = {
    {"history-size", CFG_INT, "1000", 1, 100000, offsetof(module_t, size), "N", "mod: kept"},
    {"secret", CFG_STR, "", 0, 0, offsetof(module_t, secret), "KEY", "mod: the key"},
    {"guests", CFG_BOOL, "true", 0, 0, offsetof(module_t, guests), NULL, "mod: let guests in"},
};

static const cfg_table_t table = {"testnode", "A test node.", "TESTNODE_", core_opts,
                                  sizeof core_opts / sizeof *core_opts};

static const char *const env_names[] = {"TESTNODE_PORT",         "TESTNODE_NAME",
                                        "TESTNODE_HISTORY_SIZE", "TESTNODE_SECRET",
                                        "TESTNODE_GUESTS",       "TESTNODE_CONFIG"};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++) unsetenv(env_names[i]);
    return 0;
}

static void sections(cfg_section_t sec[2], core_t *core, module_t *mod)
{
    memset(core, 0, sizeof *core);
    memset(mod, 0, sizeof *mod);
    sec[0] = (cfg_section_t){core_opts, sizeof core_opts / sizeof *core_opts, core};
    sec[1] = (cfg_section_t){module_opts, sizeof module_opts / sizeof *module_opts, mod};
}

static void test_defaults_and_flags(void **state)
{
    (void)state;
    core_t core;
    module_t mod;
    cfg_section_t sec[2];
    char err[256] = "";
    sections(sec, &core, &mod);
    char *none[] = {"testnode", NULL};
    assert_int_equal(cfg_load_sections(&table, sec, 2, 1, none, err, sizeof err), CFG_OK);
    assert_int_equal(core.port, 3000);
    assert_string_equal(core.name, "node");
    assert_int_equal(mod.size, 1000);
    assert_string_equal(mod.secret, "");
    assert_int_equal(mod.guests, 1);
    cfg_free_sections(sec, 2);
    assert_null(core.name);
    assert_null(mod.secret);

    sections(sec, &core, &mod);
    setenv("TESTNODE_HISTORY_SIZE", "7", 1);
    setenv("TESTNODE_PORT", "4000", 1);
    char *argv[] = {"testnode", "--secret", "k", "--no-guests", "--port=5000", "--name", "x", NULL};
    assert_int_equal(cfg_load_sections(&table, sec, 2, 7, argv, err, sizeof err), CFG_OK);
    assert_int_equal(core.port, 5000); /* the flag wins over the environment */
    assert_string_equal(core.name, "x");
    assert_int_equal(mod.size, 7);
    assert_string_equal(mod.secret, "k");
    assert_int_equal(mod.guests, 0);
    cfg_free_sections(sec, 2);
}

static void test_errors(void **state)
{
    (void)state;
    core_t core;
    module_t mod;
    cfg_section_t sec[2];
    char err[256] = "";
    sections(sec, &core, &mod);
    char *big[] = {"testnode", "--history-size", "100001", NULL};
    assert_int_equal(cfg_load_sections(&table, sec, 2, 3, big, err, sizeof err), CFG_ERR);
    assert_non_null(strstr(err, "--history-size must be between 1 and 100000"));
    cfg_free_sections(sec, 2);

    sections(sec, &core, &mod);
    char *unknown[] = {"testnode", "--bogus", NULL};
    assert_int_equal(cfg_load_sections(&table, sec, 2, 2, unknown, err, sizeof err), CFG_ERR);
    assert_non_null(strstr(err, "unknown option --bogus"));
    cfg_free_sections(sec, 2);

    /* one section alone does not know the other's options */
    sections(sec, &core, &mod);
    char *other[] = {"testnode", "--secret", "k", NULL};
    assert_int_equal(cfg_load_sections(&table, sec, 1, 3, other, err, sizeof err), CFG_ERR);
    assert_non_null(strstr(err, "unknown option --secret"));
    cfg_free_sections(sec, 1);
}

static void test_config_file(void **state)
{
    (void)state;
    core_t core;
    module_t mod;
    cfg_section_t sec[2];
    char err[256] = "";
    char path[] = "/tmp/test_config_sections.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "port = 6000\nhistory-size = 9\nsecret = fromfile\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    sections(sec, &core, &mod);
    char *argv[] = {"testnode", "--config", path, "--history-size", "10", NULL};
    assert_int_equal(cfg_load_sections(&table, sec, 2, 5, argv, err, sizeof err), CFG_OK);
    assert_int_equal(core.port, 6000);
    assert_int_equal(mod.size, 10); /* the flag wins over the file */
    assert_string_equal(mod.secret, "fromfile");
    cfg_free_sections(sec, 2);
    unlink(path);

    sections(sec, &core, &mod);
    const char lines[] = "guests = off\nname = n\nnope = 1\n";
    assert_int_equal(
        cfg_load_text_sections(sec, 2, lines, sizeof lines - 1, "t.conf", err, sizeof err),
        CFG_ERR);
    assert_non_null(strstr(err, "t.conf:3: unknown setting \"nope\""));
    assert_int_equal(mod.guests, 0); /* the lines before the bad one stay applied */
    assert_string_equal(core.name, "n");
    cfg_free_sections(sec, 2);
}

static void test_usage(void **state)
{
    (void)state;
    core_t core;
    module_t mod;
    cfg_section_t sec[2];
    sections(sec, &core, &mod);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfg_usage_sections(&table, sec, 2, f);
    fclose(f);
    assert_non_null(strstr(text, "Usage: testnode"));
    const char *port = strstr(text, "--port PORT"), *size = strstr(text, "--history-size N");
    assert_non_null(port);
    assert_non_null(size);
    assert_true(port < size); /* the sections in order */
    assert_non_null(strstr(text, "mod: kept (default: 1000) [TESTNODE_HISTORY_SIZE]"));
    assert_non_null(strstr(text, "--guests"));
    assert_null(strstr(text, "--guests VALUE"));
    assert_non_null(strstr(text, "[TESTNODE_CONFIG]"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_and_flags, clear_env),
        cmocka_unit_test_setup(test_errors, clear_env),
        cmocka_unit_test_setup(test_config_file, clear_env),
        cmocka_unit_test_setup(test_usage, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
