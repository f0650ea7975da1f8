/* Unit tests for chatnode/chatnode_config.c and the app modules' settings read with it
 * (app.c, chat_config.c): the defaults match Node's socket.io, every option has its
 * CHATNODE_* variable and appears in --help, flags, environment and config file apply, and
 * no name is declared twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "app.h"
#include "chat_config.h"
#include "chatnode_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* chatnode's table and every app's, as main reads them. */
static int load_all(chatnode_config_t *cfg, cfg_section_t **sec, size_t *nsec, int argc,
                    char **argv)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    *nsec = app_settings_sections(&chatnode_config_table, cfg, sec);
    int rc = cfg_load_sections(&chatnode_config_table, *sec, *nsec, argc, argv, err, sizeof err);
    if (rc == CFG_ERR) print_message("%s\n", err);
    return rc;
}

static const chat_config_t *chat_settings(const cfg_section_t *sec, size_t nsec)
{
    const app_module_t *chat = app_find("chat");
    assert_non_null(chat);
    const chat_config_t *cc = app_settings_of(sec, nsec, chat);
    assert_non_null(cc);
    return cc;
}

static void test_chat_defaults(void **state)
{
    (void)state;
    chatnode_config_t cfg;
    cfg_section_t *sec;
    size_t nsec;
    char *argv[] = {"chatnode", NULL};
    assert_int_equal(load_all(&cfg, &sec, &nsec, 1, argv), CFG_OK);
    const chat_config_t *cc = chat_settings(sec, nsec);
    assert_string_equal(cc->jwt_secret_file, "");
    assert_int_equal(cc->allow_anonymous, 0);
    assert_string_equal(cc->jwt_audience, "");
    assert_string_equal(cc->jwt_issuer, "");
    assert_int_equal(cc->jwt_leeway, 30);
    assert_int_equal(cc->jwt_allow_no_exp, 0);
    assert_int_equal(cc->history_size, 1000);
    assert_int_equal(cc->history_ttl, 2592000);
    assert_int_equal(cc->history_page, 50);
    assert_int_equal(cc->max_text, 4096);
    assert_int_equal(cc->rate, 20);
    assert_int_equal(cc->burst, 40);
    assert_int_equal(cc->max_rooms, 100);
    assert_int_equal(cc->max_members, 1000);
    assert_int_equal(cc->presence_ttl, 30);
    assert_int_equal(cfg.port, 3000); /* and chatnode's own beside them */
    app_settings_free(sec, nsec);
}

static void test_chat_sources(void **state)
{
    (void)state;
    chatnode_config_t cfg;
    cfg_section_t *sec;
    size_t nsec;
    char path[] = "/tmp/test_chatnode_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "max-text = 100\njwt-issuer = iss\nport = 4000\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    setenv("CHATNODE_HISTORY_SIZE", "7", 1);
    setenv("CHATNODE_MAX_TEXT", "200", 1);
    char *argv[] = {"chatnode", "--config", path, "--allow-anonymous", "--max-text=300", NULL};
    assert_int_equal(load_all(&cfg, &sec, &nsec, 5, argv), CFG_OK);
    const chat_config_t *cc = chat_settings(sec, nsec);
    assert_int_equal(cc->history_size, 7);
    assert_int_equal(cc->max_text, 300); /* the flag wins over the environment and the file */
    assert_string_equal(cc->jwt_issuer, "iss");
    assert_int_equal(cc->allow_anonymous, 1);
    assert_int_equal(cfg.port, 4000);
    app_settings_free(sec, nsec);
    unsetenv("CHATNODE_HISTORY_SIZE");
    unsetenv("CHATNODE_MAX_TEXT");
    unlink(path);

    char *bad[] = {"chatnode", "--history-page", "101", NULL}; /* above its maximum */
    assert_int_equal(load_all(&cfg, &sec, &nsec, 3, bad), CFG_ERR);
    app_settings_free(sec, nsec);
}

/* Every app's options are in --help with their variables, and no name is declared twice. */
static void test_app_tables(void **state)
{
    (void)state;
    chatnode_config_t cfg;
    cfg_section_t *sec;
    size_t nsec;
    char env[128], flag[96];
    char *argv[] = {"chatnode", NULL};
    assert_int_equal(load_all(&cfg, &sec, &nsec, 1, argv), CFG_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cfg_usage_sections(&chatnode_config_table, sec, nsec, out);
    fclose(out);
    size_t napps = 0;
    for (size_t s = 1; s < nsec; s++, napps++) {
        for (size_t i = 0; i < sec[s].nopts; i++) {
            const cfg_opt_t *o = &sec[s].opts[i];
            cfg_env_name(&chatnode_config_table, o, env, sizeof env);
            snprintf(flag, sizeof flag, "--%s", o->name);
            assert_non_null(strstr(buf, flag));
            assert_non_null(strstr(buf, env));
            assert_non_null(o->help);
            if (o->type == CFG_INT) {
                long long d = atoll(o->def);
                assert_true(d >= o->min && d <= o->max);
            }
        }
    }
    assert_true(napps >= 1);
    for (size_t a = 0; a < nsec; a++)
        for (size_t i = 0; i < sec[a].nopts; i++)
            for (size_t b = a; b < nsec; b++)
                for (size_t j = b == a ? i + 1 : 0; j < sec[b].nopts; j++)
                    assert_string_not_equal(sec[a].opts[i].name, sec[b].opts[j].name);
    free(buf);
    app_settings_free(sec, nsec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_table),
        cmocka_unit_test(test_flags_and_env), cmocka_unit_test(test_chat_defaults),
        cmocka_unit_test(test_chat_sources),  cmocka_unit_test(test_app_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
