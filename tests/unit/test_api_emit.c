/* Unit tests for api_emit_check (adminnode/api_emit.c), the rule of POST /api/v1/emit's body:
 * what is accepted, and for each refusal a message that names the field at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api.h"

#include <jansson.h>
#include <string.h>

static const char *check(const char *body, char *buf, size_t len)
{
    json_t *j = json_loads(body, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    assert_non_null(j);
    const char *why = api_emit_check(j, buf, len);
    json_decref(j);
    return why;
}

static void test_accepted(void **state)
{
    char buf[160];
    static const char *const ok[] = {
        "{\"event\":\"e\",\"args\":[]}",
        "{\"namespace\":\"/chat\",\"event\":\"e\",\"args\":[1,{}],\"rooms\":[\"a\"],"
        "\"except\":[\"b\"],\"volatile\":true}",
        "{\"event\":\"\xe2\x9c\x93\",\"args\":[\"x\"],\"rooms\":[]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *why = check(ok[i], buf, sizeof buf);
        if (why) fail_msg("%s: refused: %s", ok[i], why);
    }
}

static void test_refused(void **state)
{
    char buf[160];
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"[]", "JSON object"},
        {"\"x\"", "JSON object"},
        {"{\"args\":[]}", "event is required"},
        {"{\"event\":\"e\"}", "args is required"},
        {"{\"event\":\"\",\"args\":[]}", "event must be a non-empty string"},
        {"{\"event\":\"a\\u0000b\",\"args\":[]}", "without NUL"},
        {"{\"event\":1,\"args\":[]}", "event must be"},
        {"{\"event\":\"e\",\"args\":{}}", "args must be an array"},
        {"{\"event\":\"e\",\"args\":[],\"namespace\":\"chat\"}", "namespace must"},
        {"{\"event\":\"e\",\"args\":[],\"namespace\":\"/a#b\"}", "namespace must"},
        {"{\"event\":\"e\",\"args\":[],\"rooms\":\"a\"}", "rooms must be an array"},
        {"{\"event\":\"e\",\"args\":[],\"rooms\":[\"\"]}", "rooms[0] must be a room name"},
        {"{\"event\":\"e\",\"args\":[],\"rooms\":[\"a\",\"b\\u0007\"]}",
         "rooms[1] must be a room name"},
        {"{\"event\":\"e\",\"args\":[],\"except\":[1]}", "except[0] must be a room name"},
        {"{\"event\":\"e\",\"args\":[],\"volatile\":1}", "volatile must be true or false"},
        {"{\"event\":\"e\",\"args\":[],\"extra\":1}", "unknown field extra"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = check(bad[i].body, buf, sizeof buf);
        if (!why || !strstr(why, bad[i].says))
            fail_msg("%s: got \"%s\", want a message with \"%s\"", bad[i].body,
                     why ? why : "(accepted)", bad[i].says);
    }
}

static void test_unknown_field_quoted_whole_characters(void **state)
{
    /* a long unknown key is quoted up to 64 bytes, never cut inside a character */
    char body[512], buf[160];
    char key[200] = "";
    for (int i = 0; i < 40; i++) strcat(key, "\xc3\xa9"); /* 80 bytes of U+00E9 */
    snprintf(body, sizeof body, "{\"event\":\"e\",\"args\":[],\"%s\":1}", key);
    const char *why = check(body, buf, sizeof buf);
    assert_non_null(why);
    const char *quoted = strstr(why, "unknown field ");
    assert_non_null(quoted);
    quoted += strlen("unknown field ");
    assert_int_equal(strlen(quoted), 64);
    assert_int_equal(strncmp(quoted, key, 64), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_unknown_field_quoted_whole_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
