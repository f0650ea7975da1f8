/* Unit tests for proto/control_msg.c: the control traffic's channel and key names, the
 * registry entry's lifetime, node ids, the heartbeat document (written byte for byte, read
 * back, its chat limits), commands and replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control_msg.h"

#include <stdlib.h>
#include <string.h>

static void test_names(void **st)
{
    (void)st;
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "left over");
    control_msg_heartbeat_channel(&b, "chatcluster");
    assert_string_equal(b.data, "chatcluster:heartbeat");
    control_msg_node_key(&b, "chatcluster", "Bm_cHL");
    assert_string_equal(b.data, "chatcluster:node:Bm_cHL");
    control_msg_node_pattern(&b, "chatcluster");
    assert_string_equal(b.data, "chatcluster:node:*");
    control_msg_command_channel(&b, "chatcluster", "Bm_cHL");
    assert_string_equal(b.data, "chatcluster:command:Bm_cHL");
    control_msg_command_channel(&b, "chatcluster", NULL);
    assert_string_equal(b.data, "chatcluster:command:all");
    control_msg_reply_channel(&b, "p");
    assert_string_equal(b.data, "p:reply");
    assert_int_equal(b.len, strlen("p:reply"));
    sbuf_free(&b);
}

static void test_node_ttl(void **st)
{
    (void)st;
    assert_int_equal(control_msg_node_ttl(1000), 10);
    assert_int_equal(control_msg_node_ttl(100), 5); /* at least 5 s */
    assert_int_equal(control_msg_node_ttl(499), 5);
    assert_int_equal(control_msg_node_ttl(600), 6);
    assert_int_equal(control_msg_node_ttl(60000), 600);
}

static void test_id_valid(void **st)
{
    (void)st;
    char id[CONTROL_MSG_MAX_ID + 2];
    memset(id, 'a', sizeof id);
    assert_true(control_msg_id_valid("Bm_cHL", 6));
    assert_true(control_msg_id_valid(id, CONTROL_MSG_MAX_ID));
    assert_false(control_msg_id_valid(id, CONTROL_MSG_MAX_ID + 1));
    assert_false(control_msg_id_valid("", 0));
    assert_false(control_msg_id_valid("a b", 3));
    assert_false(control_msg_id_valid("a\x7f", 2));
    assert_false(control_msg_id_valid("\xc3\xa9", 2));
    assert_false(control_msg_id_valid("a\0b", 3));
}

static control_msg_heartbeat_t sample(json_t *sockets, json_t *bus, const chat_store_limits_t *chat)
{
    control_msg_heartbeat_t hb = {
        .id = "Bm_cHL",
        .tag = "n1",
        .address = "127.0.0.1:17001",
        .version = "0.1.0",
        .pid = 28418,
        .started = 1796445600830LL,
        .polling = 1,
        .websocket = 2,
        .sockets = sockets,
        .rooms = 3,
        .events_in_per_s = 0,
        .events_out_per_s = 1.5,
        .bytes_in = 10,
        .bytes_out = 20,
        .ws_frames_out = 7,
        .ws_writes = 5,
        .rss = 15757312,
        .draining = 0,
        .bus = bus,
        .chat = chat,
    };
    return hb;
}

static void test_heartbeat_text(void **st)
{
    (void)st;
    json_t *sockets = json_pack("{s:i}", "/", 3), *bus = json_pack("{s:s}", "command", "connected");
    chat_store_limits_t chat = {1000, 2592000, 4096};
    control_msg_heartbeat_t hb = sample(sockets, bus, &chat);
    sbuf_t out = SBUF_INIT;
    assert_int_equal(control_msg_heartbeat_text(&hb, &out), 0);
    assert_string_equal(
        out.data,
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"Bm_cHL\",\"tag\":\"n1\",\"address\":"
        "\"127.0.0.1:17001\",\"pid\":28418,\"version\":\"0.1.0\",\"started\":1796445600830,"
        "\"connections\":{\"polling\":1,\"websocket\":2},\"sockets\":{\"/\":3},\"rooms\":3,"
        "\"events_in_per_s\":0.0,\"events_out_per_s\":1.5,\"bytes_in\":10,\"bytes_out\":20,"
        "\"ws_frames_out\":7,\"ws_writes\":5,\"rss\":15757312,\"draining\":false,\"bus\":{"
        "\"command\":\"connected\"},\"chat\":{"
        "\"history_size\":1000,\"history_ttl\":2592000,\"max_text\":4096}}");

    /* read back */
    json_t *doc = control_msg_heartbeat_parse(out.data, out.len);
    assert_non_null(doc);
    size_t len;
    assert_string_equal(control_msg_heartbeat_id(doc, &len), "Bm_cHL");
    assert_int_equal(len, 6);
    assert_false(control_msg_heartbeat_draining(doc));
    chat_store_limits_t got = {0, 0, 0};
    assert_int_equal(control_msg_heartbeat_chat(doc, &got), 0);
    assert_memory_equal(&got, &chat, sizeof got);
    json_decref(doc);

    /* no sockets: {}; no bus, no chat: left out; draining */
    hb = sample(NULL, NULL, NULL);
    hb.draining = 1;
    sbuf_reset(&out);
    assert_int_equal(control_msg_heartbeat_text(&hb, &out), 0);
    assert_non_null(strstr(out.data, "\"sockets\":{},"));
    assert_null(strstr(out.data, "\"bus\""));
    assert_null(strstr(out.data, "\"chat\""));
    doc = control_msg_heartbeat_parse(out.data, out.len);
    assert_non_null(doc);
    assert_true(control_msg_heartbeat_draining(doc));
    got.max_text = 7;
    assert_int_equal(control_msg_heartbeat_chat(doc, &got), -1);
    assert_int_equal(got.max_text, 7);
    json_decref(doc);

    /* a string that is not UTF-8: nothing written */
    hb.tag = "\xff";
    sbuf_reset(&out);
    sbuf_append_str(&out, "kept");
    assert_int_equal(control_msg_heartbeat_text(&hb, &out), -1);
    assert_string_equal(out.data, "kept");
    sbuf_free(&out);
    json_decref(sockets);
    json_decref(bus);
}

static void test_heartbeat_parse_rejects(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "",
        "[]",
        "not json",
        "{\"type\":\"heartbeat\",\"id\":\"a\"}",
        "{\"v\":2,\"type\":\"heartbeat\",\"id\":\"a\"}",
        "{\"v\":\"1\",\"type\":\"heartbeat\",\"id\":\"a\"}",
        "{\"v\":1.0,\"type\":\"heartbeat\",\"id\":\"a\"}",
        "{\"v\":1,\"type\":\"reply\",\"id\":\"a\"}",
        "{\"v\":1,\"id\":\"a\"}",
        "{\"v\":1,\"type\":\"heartbeat\"}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":7}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"\"}",
        "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"a b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(control_msg_heartbeat_parse(bad[i], strlen(bad[i])));
    const char *ok = "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"a\"}";
    json_t *doc = control_msg_heartbeat_parse(ok, strlen(ok));
    assert_non_null(doc);
    json_decref(doc);
}

/* The chat limits of a heartbeat whose "chat" member is chat (text). */
static int chat_of(const char *chat, chat_store_limits_t *out)
{
    char text[256];
    snprintf(text, sizeof text, "{\"v\":1,\"type\":\"heartbeat\",\"id\":\"a\",\"chat\":%s}", chat);
    json_t *doc = control_msg_heartbeat_parse(text, strlen(text));
    assert_non_null(doc);
    int rc = control_msg_heartbeat_chat(doc, out);
    json_decref(doc);
    return rc;
}

static void test_heartbeat_chat(void **st)
{
    (void)st;
    chat_store_limits_t l = {0, 0, 0};
    assert_int_equal(chat_of("{\"history_size\":1,\"history_ttl\":1,\"max_text\":1}", &l), 0);
    assert_int_equal(l.history_size, 1);
    assert_int_equal(
        chat_of("{\"history_size\":10000000,\"history_ttl\":315360000,\"max_text\":1048576}", &l),
        0);
    assert_int_equal(l.history_size, CHAT_STORE_HISTORY_SIZE_MAX);
    assert_int_equal(l.history_ttl, CHAT_STORE_HISTORY_TTL_MAX);
    assert_int_equal(l.max_text, CHAT_STORE_MAX_TEXT_MAX);
    static const char *const bad[] = {
        "null",
        "{}",
        "[1,1,1]",
        "{\"history_size\":0,\"history_ttl\":1,\"max_text\":1}",
        "{\"history_size\":1,\"history_ttl\":0,\"max_text\":1}",
        "{\"history_size\":1,\"history_ttl\":1,\"max_text\":0}",
        "{\"history_size\":10000001,\"history_ttl\":1,\"max_text\":1}",
        "{\"history_size\":1,\"history_ttl\":315360001,\"max_text\":1}",
        "{\"history_size\":1,\"history_ttl\":1,\"max_text\":1048577}",
        "{\"history_size\":1,\"history_ttl\":1,\"max_text\":-5}",
        "{\"history_size\":1.0,\"history_ttl\":1,\"max_text\":1}",
        "{\"history_size\":1,\"history_ttl\":\"1\",\"max_text\":1}",
        "{\"history_size\":1,\"history_ttl\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_store_limits_t keep = {5, 6, 7};
        assert_int_equal(chat_of(bad[i], &keep), -1);
        assert_int_equal(keep.history_size, 5);
        assert_int_equal(keep.history_ttl, 6);
        assert_int_equal(keep.max_text, 7);
    }
}

static void test_commands(void **st)
{
    (void)st;
    assert_string_equal(control_msg_cmd_name(CONTROL_MSG_CMD_DRAIN), "drain");
    assert_string_equal(control_msg_cmd_name(CONTROL_MSG_CMD_UNDRAIN), "undrain");
    assert_null(control_msg_cmd_name(CONTROL_MSG_CMD_UNKNOWN));

    sbuf_t out = SBUF_INIT;
    assert_int_equal(control_msg_command_text(CONTROL_MSG_CMD_DRAIN, "adm-1", &out), 0);
    assert_string_equal(out.data, "{\"v\":1,\"type\":\"drain\",\"id\":\"adm-1\"}");
    json_t *id = NULL;
    assert_int_equal(control_msg_command_parse(out.data, out.len, &id), CONTROL_MSG_CMD_DRAIN);
    assert_string_equal(json_string_value(id), "adm-1");
    json_decref(id);
    sbuf_reset(&out);
    assert_int_equal(control_msg_command_text(CONTROL_MSG_CMD_UNKNOWN, "x", &out), -1);
    assert_int_equal(control_msg_command_text(CONTROL_MSG_CMD_UNDRAIN, "\xff", &out), -1);
    assert_int_equal(out.len, 0);

    const char *un = "{\"type\":\"undrain\",\"id\":[1]}";
    assert_int_equal(control_msg_command_parse(un, strlen(un), &id), CONTROL_MSG_CMD_UNDRAIN);
    assert_true(json_is_array(id));
    json_decref(id);
    const char *other = "{\"type\":\"reboot\"}";
    assert_int_equal(control_msg_command_parse(other, strlen(other), &id), CONTROL_MSG_CMD_UNKNOWN);
    assert_null(id);
    assert_int_equal(control_msg_command_parse("drain", 5, &id), CONTROL_MSG_CMD_UNKNOWN);
    assert_null(id);
    sbuf_free(&out);
}

static void test_replies(void **st)
{
    (void)st;
    sbuf_t out = SBUF_INIT;
    json_t *id = json_string("adm-706b8fb762c16bde-1");
    assert_int_equal(control_msg_reply_text(id, "A2OvXA", 1, 1, &out), 0);
    assert_string_equal(out.data, "{\"v\":1,\"type\":\"reply\",\"id\":\"adm-706b8fb762c16bde-1\","
                                  "\"node\":\"A2OvXA\",\"ok\":true,\"draining\":true}");
    control_msg_reply_t r;
    json_t *doc = control_msg_reply_parse(out.data, out.len, &r);
    assert_non_null(doc);
    assert_string_equal(r.id, "adm-706b8fb762c16bde-1");
    assert_string_equal(r.node, "A2OvXA");
    assert_true(r.ok);
    assert_true(r.draining);
    json_decref(doc);
    json_decref(id);

    /* no id: null, which no one waits for */
    sbuf_reset(&out);
    assert_int_equal(control_msg_reply_text(NULL, "A2OvXA", 0, 0, &out), 0);
    assert_non_null(strstr(out.data, "\"id\":null"));
    assert_null(control_msg_reply_parse(out.data, out.len, &r));

    static const char *const bad[] = {
        "",
        "{\"type\":\"reply\"}",
        "{\"type\":\"heartbeat\",\"id\":\"a\"}",
        "{\"type\":\"reply\",\"id\":1}",
        "[\"reply\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(control_msg_reply_parse(bad[i], strlen(bad[i]), &r));
    const char *bare = "{\"type\":\"reply\",\"id\":\"x\",\"node\":5,\"ok\":1}";
    doc = control_msg_reply_parse(bare, strlen(bare), &r);
    assert_non_null(doc);
    assert_null(r.node);
    assert_false(r.ok); /* only true is true */
    assert_false(r.draining);
    json_decref(doc);
    sbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_node_ttl),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_heartbeat_text),
        cmocka_unit_test(test_heartbeat_parse_rejects),
        cmocka_unit_test(test_heartbeat_chat),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
