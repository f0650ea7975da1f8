/* Unit tests for proto/webhook.c: endpoint documents read and refused, written back with and
 * without the secret, the Redis names, the signature (checked against a value computed
 * independently with Node's crypto) and its verification, the body, and the retry delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "webhook.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *text, webhook_endpoint_t *e, char *err, size_t len)
{
    return webhook_endpoint_parse_text(text, strlen(text), e, err, len);
}

static void test_parse_ok(void **state)
{
    (void)state;
    webhook_endpoint_t e;
    char err[200];
    assert_int_equal(parse("{\"id\":\"a-1_B\",\"url\":\"https://h.example/x?y=1\","
                           "\"events\":[\"message\",\"node_down\"],\"secret\":\"k\","
                           "\"batch_max\":5,\"timeout_ms\":250}",
                           &e, err, sizeof err),
                     0);
    assert_string_equal(e.id, "a-1_B");
    assert_string_equal(e.url, "https://h.example/x?y=1");
    assert_string_equal(e.secret, "k");
    assert_int_equal(e.batch_max, 5);
    assert_int_equal(e.timeout_ms, 250);
    assert_int_equal(webhook_endpoint_wants(&e, CLUSTER_EVENT_MESSAGE), 1);
    assert_int_equal(webhook_endpoint_wants(&e, CLUSTER_EVENT_NODE_DOWN), 1);
    assert_int_equal(webhook_endpoint_wants(&e, CLUSTER_EVENT_NODE_UP), 0);
    assert_int_equal(webhook_endpoint_wants(&e, -1), 0);
    assert_int_equal(webhook_endpoint_wants(&e, CLUSTER_EVENT_COUNT), 0);
    json_t *doc = webhook_endpoint_json(&e, 0);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"batch_max\":5,\"events\":[\"message\",\"node_down\"],\"id\":"
                              "\"a-1_B\",\"timeout_ms\":250,\"url\":\"https://h.example/x?y=1\"}");
    free(text);
    json_decref(doc);
    doc = webhook_endpoint_json(&e, 1);
    assert_string_equal(json_string_value(json_object_get(doc, "secret")), "k");
    json_decref(doc);
    webhook_endpoint_free(&e);

    /* defaults, no id, every type */
    assert_int_equal(parse("{\"url\":\"http://127.0.0.1:9/\",\"events\":[\"*\"],\"secret\":\"s\"}",
                           &e, err, sizeof err),
                     0);
    assert_string_equal(e.id, "");
    assert_int_equal(e.batch_max, WEBHOOK_BATCH_DEFAULT);
    assert_int_equal(e.timeout_ms, WEBHOOK_TIMEOUT_DEFAULT_MS);
    for (int t = 0; t < CLUSTER_EVENT_COUNT; t++)
        assert_int_equal(webhook_endpoint_wants(&e, t), 1);
    doc = webhook_endpoint_json(&e, 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "events"), 0)), "*");
    json_decref(doc);
    webhook_endpoint_free(&e);
    webhook_endpoint_free(NULL);
}

static void test_parse_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"[]", "object"},
        {"{", "not JSON"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\",\"url\":\"http://h/\"}",
         "not JSON"},
        {"{\"url\":\"ftp://h/\",\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":\"http:///x\",\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":\"http://a b/\",\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":\"http://h\\u00e9/\",\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":\"http://u@/\",\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":\"http://:80/\",\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":7,\"events\":[\"*\"],\"secret\":\"s\"}", "url"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"]}", "secret"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"\"}", "secret"},
        {"{\"url\":\"http://h/\",\"events\":[],\"secret\":\"s\"}", "events"},
        {"{\"url\":\"http://h/\",\"events\":\"*\",\"secret\":\"s\"}", "events"},
        {"{\"url\":\"http://h/\",\"events\":[1],\"secret\":\"s\"}", "strings"},
        {"{\"url\":\"http://h/\",\"events\":[\"nope\"],\"secret\":\"s\"}", "unknown event type"},
        {"{\"url\":\"http://h/\",\"events\":[\"webhook_test\"],\"secret\":\"s\"}", "unknown"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\",\"batch_max\":0}",
         "batch_max"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\",\"batch_max\":1001}",
         "batch_max"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\",\"timeout_ms\":99}",
         "timeout"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\",\"timeout_ms\":1.5}",
         "timeout"},
        {"{\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\",\"x\":1}", "unknown member"},
        {"{\"id\":\"a/b\",\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\"}", "id"},
        {"{\"id\":\"\",\"url\":\"http://h/\",\"events\":[\"*\"],\"secret\":\"s\"}", "id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        webhook_endpoint_t e;
        char err[200] = "";
        if (parse(bad[i].text, &e, err, sizeof err) != -1) fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].why)) fail_msg("%s: %s", bad[i].text, err);
        assert_null(e.url);
    }
    /* too long a document */
    char *big = malloc(WEBHOOK_DOC_MAX + 2);
    memset(big, ' ', WEBHOOK_DOC_MAX + 1);
    big[WEBHOOK_DOC_MAX + 1] = '\0';
    webhook_endpoint_t e;
    assert_int_equal(webhook_endpoint_parse_text(big, WEBHOOK_DOC_MAX + 1, &e, NULL, 0), -1);
    free(big);
}

static void test_ids_and_keys(void **state)
{
    (void)state;
    assert_int_equal(webhook_id_valid("abc", 3), 0);
    assert_int_equal(webhook_id_valid("", 0), -1);
    assert_int_equal(webhook_id_valid("a:b", 3), -1);
    char id[WEBHOOK_ID_MAX + 2];
    memset(id, 'x', sizeof id);
    assert_int_equal(webhook_id_valid(id, WEBHOOK_ID_MAX), 0);
    assert_int_equal(webhook_id_valid(id, WEBHOOK_ID_MAX + 1), -1);
    sbuf_t b = SBUF_INIT;
    webhook_key_endpoints(&b, "P");
    assert_string_equal(b.data, "P:webhooks");
    webhook_key_dead(&b, "P");
    assert_string_equal(b.data, "P:webhooks:dead");
    webhook_group(&b, "P", "e1");
    assert_string_equal(b.data, "P:wh:e1");
    sbuf_free(&b);
}

static void test_sign(void **state)
{
    (void)state;
    /* node -e 'console.log(require("crypto").createHmac("sha256","k").update("1700000000.{}")
     * .digest("hex"))' */
    char sig[WEBHOOK_SIG_SIZE];
    webhook_sign("k", 1, 1700000000, "{}", 2, sig);
    assert_string_equal(sig, "v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146");
}

static void test_verify(void **state)
{
    (void)state;
    char sig[WEBHOOK_SIG_SIZE];
    const char *body = "{\"webhook\":\"a\",\"events\":[]}";
    webhook_sign("secret", 6, 42, body, strlen(body), sig);
    assert_int_equal(strlen(sig), 3 + 64);
    assert_int_equal(webhook_verify("secret", 6, 42, body, strlen(body), sig), 1);
    assert_int_equal(webhook_verify("secret", 6, 43, body, strlen(body), sig), 0);
    assert_int_equal(webhook_verify("secreT", 6, 42, body, strlen(body), sig), 0);
    assert_int_equal(webhook_verify("secret", 6, 42, body, strlen(body) - 1, sig), 0);
    char upper[WEBHOOK_SIG_SIZE];
    strcpy(upper, sig);
    for (char *p = upper + 3; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    assert_int_equal(webhook_verify("secret", 6, 42, body, strlen(body), upper), 1);
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_int_equal(webhook_verify("secret", 6, 42, body, strlen(body), sig), 0);
    assert_int_equal(webhook_verify("secret", 6, 42, body, strlen(body), "v1=zz"), 0);
    assert_int_equal(webhook_verify("secret", 6, 42, body, strlen(body), NULL), 0);
    assert_int_equal(webhook_verify("secret", 6, -5, body, strlen(body), "v2=00"), 0);
}

static void test_body(void **state)
{
    (void)state;
    json_t *events = json_pack("[{s:s}]", "id", "1-0");
    size_t len;
    char *body = webhook_body("w", events, &len);
    assert_string_equal(body, "{\"webhook\":\"w\",\"events\":[{\"id\":\"1-0\"}]}");
    assert_int_equal(len, strlen(body));
    free(body);
    assert_null(webhook_body("\xff", events, &len));
    json_decref(events);
}

static void test_backoff(void **state)
{
    (void)state;
    /* the cap doubles from min to max; the delay is rnd modulo cap+1 */
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, UINT64_MAX, -1), UINT64_MAX % 501);
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, 500, -1), 500);
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, 501, -1), 0);
    assert_int_equal(webhook_backoff_ms(2, 500, 60000, 1000, -1), 1000);
    assert_int_equal(webhook_backoff_ms(3, 500, 60000, 2000, -1), 2000);
    assert_int_equal(webhook_backoff_ms(3, 500, 60000, 2001, -1), 0);
    assert_int_equal(webhook_backoff_ms(0, 500, 60000, 500, -1), 500); /* as attempt 1 */
    for (unsigned a = 1; a < 200; a += 7)
        for (uint64_t r = 0; r < 100000; r += 9973)
            assert_true(webhook_backoff_ms(a, 500, 60000, r * 7919, -1) <= 60000);
    assert_int_equal(webhook_backoff_ms(1000, 500, 60000, 60000, -1), 60000);
    assert_int_equal(webhook_backoff_ms(1000, 500, 60000, 60001, -1), 0);
    /* Retry-After: at least that, still capped */
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, 0, 3), 3000);
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, 0, 3600), 60000);
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, 0, INT64_MAX), 60000);
    assert_int_equal(webhook_backoff_ms(1, 500, 60000, 400, 0), 400);
    assert_int_equal(webhook_backoff_ms(1, 0, 0, 12345, -1), 0);
    assert_true(webhook_backoff_ms(64, 1, UINT64_MAX, 77, -1) == 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),     cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_ids_and_keys), cmocka_unit_test(test_sign),
        cmocka_unit_test(test_verify),       cmocka_unit_test(test_body),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
