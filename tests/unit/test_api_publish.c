/* Unit tests for what adminnode sends to the cluster refusing bad arguments: api_publish_emit
 * never turns a NULL, empty or malformed room list into a broadcast (only with
 * API_EMIT_EVERYONE does an empty list mean every socket), and refuses NULL or malformed
 * events and arguments; requester_tell refuses a request that would act on every socket;
 * requester_ask refuses a NULL request or a bad namespace without calling back. Without a bus,
 * a valid call ends in API_ENOBUS (for a publish) or a "not configured" result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api.h"
#include "requester.h"

#include <string.h>

static adminnode_config_t cfg;
static adminnode_t an;

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    cfg.redis_key = "socket.io";
    cfg.requests_timeout = 1000;
    memset(&an, 0, sizeof an);
    an.cfg = &cfg;
    an.loop = uv_default_loop();
    return 0;
}

static void test_publish_rooms(void **state)
{
    (void)state;
    json_t *args = json_pack("[i,{s:s}]", 1, "a", "b");
    json_t *empty = json_array(), *one = json_pack("[s]", "user:alice");
    json_t *blank = json_pack("[s]", ""), *notstr = json_pack("[i]", 5), *obj = json_object();
    /* a room list that failed to be built never widens the audience */
    assert_int_equal(api_publish_emit(&an, "/", NULL, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", empty, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", empty, NULL, "e", args, API_EMIT_VOLATILE),
                     API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", blank, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", notstr, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", obj, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", NULL, NULL, "e", args, API_EMIT_EVERYONE),
                     API_EINVAL);
    /* bad except lists, events, arguments and namespaces */
    assert_int_equal(api_publish_emit(&an, "/", one, notstr, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", one, NULL, NULL, args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", one, NULL, "", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", one, NULL, "e", NULL, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "/", one, NULL, "e", obj, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, NULL, one, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(&an, "chat", one, NULL, "e", args, 0), API_EINVAL);
    assert_int_equal(api_publish_emit(NULL, "/", one, NULL, "e", args, 0), API_EINVAL);
    /* an event name that is not UTF-8 cannot be encoded */
    assert_int_equal(api_publish_emit(&an, "/", one, NULL, "\xff", args, 0), API_EENCODE);
    /* valid: only the missing bus stops it */
    assert_int_equal(api_publish_emit(&an, "/", one, NULL, "e", args, 0), API_ENOBUS);
    assert_int_equal(api_publish_emit(&an, "/", empty, NULL, "e", args, API_EMIT_EVERYONE),
                     API_ENOBUS);
    assert_string_equal(api_strerror(API_EINVAL), "invalid argument");
    json_decref(args);
    json_decref(empty);
    json_decref(one);
    json_decref(blank);
    json_decref(notstr);
    json_decref(obj);
}

static void test_tell(void **state)
{
    (void)state;
    requester_t *rq = requester_new(&an);
    assert_int_equal(requester_tell(rq, "/", NULL), API_EINVAL);
    /* no rooms, empty rooms, a blank room: it would act on every socket */
    assert_int_equal(requester_tell(rq, "/",
                                    json_pack("{s:i,s:{s:[],s:[]},s:b}", "type", 4, "opts", "rooms",
                                              "except", "close", 0)),
                     API_EINVAL);
    assert_int_equal(requester_tell(rq, "/", json_pack("{s:i,s:{}}", "type", 4, "opts")),
                     API_EINVAL);
    assert_int_equal(
        requester_tell(rq, "/", json_pack("{s:i,s:{s:[s]}}", "type", 4, "opts", "rooms", "")),
        API_EINVAL);
    assert_int_equal(requester_tell(rq, "/", json_pack("{s:{s:[s]}}", "opts", "rooms", "r")),
                     API_EINVAL);
    assert_int_equal(
        requester_tell(rq, "/a#b", json_pack("{s:i,s:{s:[s]}}", "type", 4, "opts", "rooms", "r")),
        API_EINVAL);
    assert_int_equal(
        requester_tell(rq, NULL, json_pack("{s:i,s:{s:[s]}}", "type", 4, "opts", "rooms", "r")),
        API_EINVAL);
    assert_int_equal(
        requester_tell(rq, "/",
                       json_pack("{s:i,s:{s:[s]}}", "type", 4, "opts", "rooms", "user:alice")),
        API_ENOBUS);
    assert_int_equal(requester_check(NULL, 0), API_EINVAL);
    requester_free(rq);
}

static int calls;
static const char *last_error;

static void on_result(void *ud, const req_result_t *r)
{
    (void)ud;
    calls++;
    last_error = r->error;
}

static void test_ask(void **state)
{
    (void)state;
    requester_t *rq = requester_new(&an);
    calls = 0;
    assert_int_equal(requester_ask(rq, "/", NULL, on_result, NULL), API_EINVAL);
    assert_int_equal(requester_ask(rq, "nope", json_pack("{s:i}", "type", 5), on_result, NULL),
                     API_EINVAL);
    assert_int_equal(requester_ask(rq, "/", json_pack("[]"), on_result, NULL), API_EINVAL);
    assert_int_equal(calls, 0);
    /* an empty room list asks about every socket: allowed for a fetch */
    assert_int_equal(
        requester_ask(rq, "/",
                      json_pack("{s:i,s:{s:[],s:[]}}", "type", 5, "opts", "rooms", "except"),
                      on_result, NULL),
        0);
    assert_int_equal(calls, 1);
    assert_string_equal(last_error, "Redis is not configured");
    requester_free(rq);
    uv_run(an.loop, UV_RUN_DEFAULT); /* the request's timer closes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_rooms),
        cmocka_unit_test(test_tell),
        cmocka_unit_test(test_ask),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    uv_loop_close(uv_default_loop());
    return rc;
}
