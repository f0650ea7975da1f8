/* Unit tests for adminnode/http_router.c (path matching, {param} decoding, 405 with Allow,
 * pattern checks) and for the API document generated from adminnode's real route table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api.h"
#include "openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void h(api_request_t *r)
{
    (void)r;
}

static const api_route_t routes[] = {
    {.method = "GET", .pattern = "/api/v1/rooms", .handler = h},
    {.method = "GET", .pattern = "/api/v1/rooms/{room}", .handler = h},
    {.method = "POST", .pattern = "/api/v1/rooms/{room}/messages", .handler = h},
    {.method = "GET", .pattern = "/api/v1/rooms/{room}/messages", .handler = h},
    {.method = "POST", .pattern = "/api/v1/nodes/{id}/drain", .handler = h},
    {.method = "GET", .pattern = "/api/v1/a/{x}/b/{y}", .handler = h},
    {.method = "GET", .pattern = "/", .handler = h},
};
static const api_router_t router = {routes, sizeof routes / sizeof routes[0]};

static route_result_t match(const char *method, const char *path, route_match_t *m)
{
    return http_router_match(&router, method, path, m);
}

static void test_literal(void **state)
{
    (void)state;
    route_match_t m;
    assert_int_equal(match("GET", "/api/v1/rooms", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route, &routes[0]);
    assert_int_equal(m.nparams, 0);
    http_router_match_free(&m);
    assert_int_equal(match("HEAD", "/api/v1/rooms", &m), ROUTE_FOUND);
    http_router_match_free(&m);
    assert_int_equal(match("GET", "/", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route, &routes[6]);
    http_router_match_free(&m);
    const char *missing[] = {"/api/v1/room",      "/api/v1/rooms/", "/api/v1",
                             "/api/v1/roomsx",    "//api/v1/rooms", "",
                             "/api/v1/rooms/a/b", "/API/v1/rooms",  "/api/v1/nodes/x/drain/"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        if (match("GET", missing[i], &m) != ROUTE_NOT_FOUND) fail_msg("%s matched", missing[i]);
        http_router_match_free(&m);
    }
}

static void test_params(void **state)
{
    (void)state;
    route_match_t m;
    assert_int_equal(match("POST", "/api/v1/rooms/lobby/messages", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route, &routes[2]);
    assert_string_equal(http_router_param(&m, "room"), "lobby");
    assert_null(http_router_param(&m, "id"));
    http_router_match_free(&m);
    /* escapes decode, '/' included, inside one segment */
    assert_int_equal(match("GET", "/api/v1/rooms/a%2Fb%20c%C3%A9", &m), ROUTE_FOUND);
    assert_string_equal(http_router_param(&m, "room"), "a/b c\xc3\xa9");
    http_router_match_free(&m);
    assert_int_equal(match("GET", "/api/v1/a/1/b/%7E2", &m), ROUTE_FOUND);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(http_router_param(&m, "x"), "1");
    assert_string_equal(http_router_param(&m, "y"), "~2");
    http_router_match_free(&m);
    /* malformed escapes, NUL and empty segments do not match */
    const char *bad[] = {"/api/v1/rooms/%", "/api/v1/rooms/%4", "/api/v1/rooms/%zz",
                         "/api/v1/rooms/a%00b", "/api/v1/rooms//messages"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        route_result_t rr = match("GET", bad[i], &m);
        if (rr == ROUTE_FOUND) fail_msg("%s matched", bad[i]);
        http_router_match_free(&m);
    }
}

static void test_methods(void **state)
{
    (void)state;
    route_match_t m;
    assert_int_equal(match("DELETE", "/api/v1/rooms/x/messages", &m), ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "POST, GET");
    http_router_match_free(&m);
    assert_int_equal(match("GET", "/api/v1/nodes/n1/drain", &m), ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "POST");
    http_router_match_free(&m);
    assert_int_equal(match("get", "/api/v1/rooms", &m), ROUTE_BAD_METHOD);
    http_router_match_free(&m);
}

static void test_decode(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(http_router_percent_decode("a%41+", 5, out), 3);
    assert_string_equal(out, "aA+");
    assert_int_equal(http_router_percent_decode("%", 1, out), -1);
    assert_int_equal(http_router_percent_decode("%0", 2, out), -1);
    assert_int_equal(http_router_percent_decode("%00", 3, out), -1);
    assert_int_equal(http_router_percent_decode("", 0, out), 0);
}

static void test_patterns(void **state)
{
    (void)state;
    assert_int_equal(http_router_pattern_valid("/"), 0);
    assert_int_equal(http_router_pattern_valid("/a/{b}/c"), 0);
    assert_int_equal(http_router_pattern_valid("a"), -1);
    assert_int_equal(http_router_pattern_valid("/a//b"), -1);
    assert_int_equal(http_router_pattern_valid("/a/{B}"), -1);
    assert_int_equal(http_router_pattern_valid("/a/x{b}"), -1);
    assert_int_equal(http_router_pattern_valid("/a/{}"), -1);
    assert_int_equal(http_router_pattern_valid("/{a}/{b}/{c}/{d}/{e}"), -1);
    /* a name is kept whole or refused: 31 characters fit, 32 do not */
    assert_int_equal(http_router_pattern_valid("/x/{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}"), 0);
    assert_int_equal(http_router_pattern_valid("/x/{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}"), -1);
    for (size_t i = 0; i < api_nroutes; i++)
        assert_int_equal(http_router_pattern_valid(api_routes[i].pattern), 0);
}

/* The document of the real table: every route appears with its method, scope and answers. */
static void test_openapi(void **state)
{
    (void)state;
    api_router_t r = {api_routes, api_nroutes};
    char err[256] = "";
    json_t *doc = openapi_document(&r, "1.2.3", err, sizeof err);
    if (!doc) fail_msg("%s", err);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    size_t nops = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) nops += json_object_size(item);
    assert_int_equal(nops, api_nroutes);
    for (size_t i = 0; i < api_nroutes; i++) {
        const api_route_t *rt = &api_routes[i];
        char m[8];
        size_t k = 0;
        for (; rt->method[k]; k++) m[k] = (char)(rt->method[k] - 'A' + 'a');
        m[k] = '\0';
        json_t *op = json_object_get(json_object_get(paths, rt->pattern), m);
        assert_non_null(op);
        assert_string_equal(json_string_value(json_object_get(op, "x-required-scope")),
                            http_router_scope_name(rt->scope));
        json_t *responses = json_object_get(op, "responses");
        if (rt->scope != API_SCOPE_NONE) {
            assert_non_null(json_object_get(responses, "401"));
            assert_non_null(json_object_get(responses, "403"));
        }
        if (rt->flags & API_ROUTE_BODY) {
            assert_non_null(json_object_get(op, "requestBody"));
            assert_non_null(json_object_get(responses, "413"));
        }
    }
    json_decref(doc);

    /* a bad schema text or an undocumented path parameter is refused */
    api_route_t bad[] = {{.method = "GET",
                          .pattern = "/x/{id}",
                          .handler = h,
                          .operation_id = "x",
                          .params = {{"id", "path", 1, NULL, NULL, NULL}},
                          .responses = {{200, "ok", "{nope"}}}};
    api_router_t br = {bad, 1};
    assert_null(openapi_document(&br, "1", err, sizeof err));
    assert_non_null(strstr(err, "/x/{id}"));
    bad[0].responses[0].schema = NULL;
    bad[0].params[0].name = NULL;
    assert_null(openapi_document(&br, "1", err, sizeof err));
    assert_non_null(strstr(err, "not documented"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal),  cmocka_unit_test(test_params),
        cmocka_unit_test(test_methods),  cmocka_unit_test(test_decode),
        cmocka_unit_test(test_patterns), cmocka_unit_test(test_openapi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
