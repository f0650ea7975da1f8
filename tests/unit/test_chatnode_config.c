/* Unit tests for chatnode/chatnode_config.c: the defaults match Node's socket.io, every
 * option has its CHATNODE_* variable and appears in --help, flags and environment apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chatnode_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(chatnode_config_t *cfg, int argc, char **argv)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    int rc = cfg_load(&chatnode_config_table, cfg, argc, argv, err, sizeof err);
    if (rc == CFG_ERR) print_message("%s\n", err);
    return rc;
}

static void test_defaults(void **state)
{
    (void)state;
    chatnode_config_t cfg;
    char *argv[] = {"chatnode", NULL};
    assert_int_equal(load(&cfg, 1, argv), CFG_OK);
    assert_int_equal(cfg.port, 3000);
    assert_string_equal(cfg.path, "/socket.io/");
    assert_string_equal(cfg.app, "chat");
    assert_int_equal(cfg.ping_interval, 25000);
    assert_int_equal(cfg.ping_timeout, 20000);
    assert_int_equal(cfg.max_payload, 1000000);
    assert_int_equal(cfg.connect_timeout, 45000);
    assert_string_equal(cfg.cors_origin, "");
    assert_int_equal(cfg.cors_credentials, 0);
    cfg_free(&chatnode_config_table, &cfg);
}

static void test_table(void **state)
{
    (void)state;
    char env[128];
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cfg_usage(&chatnode_config_table, out);
    fclose(out);
    for (size_t i = 0; i < chatnode_config_table.nopts; i++) {
        const cfg_opt_t *o = &chatnode_config_table.opts[i];
        cfg_env_name(&chatnode_config_table, o, env, sizeof env);
        assert_memory_equal(env, "CHATNODE_", 9);
        char flag[96];
        snprintf(flag, sizeof flag, "--%s", o->name);
        assert_non_null(strstr(buf, flag));
        assert_non_null(strstr(buf, env));
        assert_non_null(o->help);
        if (o->type == CFG_INT) {
            long long d = atoll(o->def);
            assert_true(d >= o->min && d <= o->max);
        }
    }
    free(buf);
}

static void test_flags_and_env(void **state)
{
    (void)state;
    chatnode_config_t cfg;
    setenv("CHATNODE_PING_TIMEOUT", "200", 1);
    setenv("CHATNODE_PING_INTERVAL", "999", 1);
    char *argv[] = {"chatnode",        "--ping-interval",    "300",
                    "--cors-origin=*", "--cors-credentials", NULL};
    assert_int_equal(load(&cfg, 5, argv), CFG_OK);
    assert_int_equal(cfg.ping_interval, 300); /* the flag wins over the environment */
    assert_int_equal(cfg.ping_timeout, 200);
    assert_string_equal(cfg.cors_origin, "*");
    assert_int_equal(cfg.cors_credentials, 1);
    cfg_free(&chatnode_config_table, &cfg);
    unsetenv("CHATNODE_PING_TIMEOUT");
    unsetenv("CHATNODE_PING_INTERVAL");

    char *bad[] = {"chatnode", "--max-payload", "1", NULL}; /* below its minimum */
    assert_int_equal(load(&cfg, 3, bad), CFG_ERR);
    cfg_free(&chatnode_config_table, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_flags_and_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
