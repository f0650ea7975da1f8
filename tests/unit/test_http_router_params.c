/* Unit tests for the parameter checks of adminnode/http_router.c over adminnode's real route
 * tables: a malformed escape or a NUL in a {param} is ROUTE_BAD_PARAM naming it, every path
 * parameter passes the text rule and its own (room, user, socket id, node id), every query
 * value the text rule and its documented one; empty query values count as absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api.h"
#include "api_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static api_route_t *all;
static api_router_t router;

static int setup(void **state)
{
    (void)state;
    all = malloc((api_nroutes + api_cluster_nroutes) * sizeof *all);
    memcpy(all, api_routes, api_nroutes * sizeof *all);
    memcpy(all + api_nroutes, api_cluster_routes, api_cluster_nroutes * sizeof *all);
    router = (api_router_t){all, api_nroutes + api_cluster_nroutes};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(all);
    return 0;
}

/* Matches method path; expects rr, and (for a found route) the check's verdict ok and, when
 * refused, the parameter named want. */
static void path_case(const char *method, const char *path, route_result_t want_rr, int ok,
                      const char *want_name)
{
    route_match_t m;
    route_result_t rr = http_router_match(&router, method, path, &m);
    if (rr != want_rr) fail_msg("%s %s: result %d, want %d", method, path, rr, want_rr);
    if (rr == ROUTE_BAD_PARAM) {
        assert_true(m.bad >= 0 && (size_t)m.bad < m.nparams);
        assert_string_equal(m.names[m.bad], want_name);
    } else if (rr == ROUTE_FOUND) {
        const char *name = NULL;
        char why[160] = "";
        int rc = http_router_check_params(&m, &name, why, sizeof why);
        if ((rc == 0) != ok) fail_msg("%s %s: %s", method, path, ok ? why : "accepted");
        if (rc < 0) assert_string_equal(name, want_name);
    }
    http_router_match_free(&m);
}

static void test_path_params(void **state)
{
    (void)state;
    path_case("POST", "/api/v1/rooms/lobby/join", ROUTE_FOUND, 1, NULL);
    path_case("POST", "/api/v1/rooms/%FF/join", ROUTE_FOUND, 0, "room");
    path_case("POST", "/api/v1/rooms/%C0%AF/join", ROUTE_FOUND, 0, "room");
    path_case("POST", "/api/v1/rooms/%ED%A0%80/join", ROUTE_FOUND, 0, "room");
    path_case("POST", "/api/v1/rooms/a%00b/join", ROUTE_BAD_PARAM, 0, "room");
    path_case("POST", "/api/v1/rooms/a%zzb/join", ROUTE_BAD_PARAM, 0, "room");
    path_case("POST", "/api/v1/rooms/a%E2%80%AEb/join", ROUTE_FOUND, 0, "room");
    path_case("POST", "/api/v1/rooms/user%3Aalice/join", ROUTE_FOUND, 1, NULL);
    path_case("GET", "/api/v1/rooms/a%3Ab%23c%2Fd/members", ROUTE_FOUND, 1, NULL);
    path_case("DELETE", "/api/v1/sockets/%FF", ROUTE_FOUND, 0, "sid");
    path_case("DELETE", "/api/v1/sockets/abc-_DEF123", ROUTE_FOUND, 1, NULL);
    path_case("DELETE", "/api/v1/sockets/a%3Ab", ROUTE_FOUND, 0, "sid");
    path_case("POST", "/api/v1/users/%FF/emit", ROUTE_FOUND, 0, "user");
    path_case("POST", "/api/v1/users/guest%3Aalice/emit", ROUTE_FOUND, 1, NULL);
    path_case("POST", "/api/v1/users/a%0Ab/disconnect", ROUTE_FOUND, 0, "user");
    path_case("GET", "/api/v1/nodes/a%20b", ROUTE_FOUND, 1, NULL);
    path_case("GET", "/api/v1/nodes/%C3%A9", ROUTE_FOUND, 0, "id");
    path_case("POST", "/api/v1/nodes/%00/drain", ROUTE_BAD_PARAM, 0, "id");

    /* a room of 128 characters, then 129 */
    char path[1200];
    char room[600];
    memset(room, 'r', 129);
    room[128] = '\0';
    snprintf(path, sizeof path, "/api/v1/rooms/%s/members", room);
    path_case("GET", path, ROUTE_FOUND, 1, NULL);
    room[128] = 'r';
    room[129] = '\0';
    snprintf(path, sizeof path, "/api/v1/rooms/%s/members", room);
    path_case("GET", path, ROUTE_FOUND, 0, "room");
    /* 65 emoji and "ab" is a user id of 262 bytes; one more byte is too long */
    size_t o = (size_t)snprintf(path, sizeof path, "/api/v1/users/");
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "%%F0%%9F%%98%%80");
    snprintf(path + o, sizeof path - o, "ab/emit");
    path_case("POST", path, ROUTE_FOUND, 1, NULL);
    snprintf(path + o, sizeof path - o, "abc/emit");
    path_case("POST", path, ROUTE_FOUND, 0, "user");
    /* the same route without a rule for its parameter still gets the text rule */
    path_case("GET", "/api/v1/nosuch/%FF", ROUTE_NOT_FOUND, 0, NULL);
}

static const api_route_t *route_of(const char *method, const char *path)
{
    route_match_t m;
    assert_int_equal(http_router_match(&router, method, path, &m), ROUTE_FOUND);
    const api_route_t *rt = m.route;
    http_router_match_free(&m);
    return rt;
}

static void query_case(const api_route_t *rt, const char *name, const char *value, size_t len,
                       int ok)
{
    char why[160] = "";
    int rc = http_router_check_query(rt, name, value, len, why, sizeof why);
    if ((rc == 0) != ok) fail_msg("%s %s=%.40s: %s", rt->pattern, name, value, ok ? why : "ok");
}
#define Q(rt, n, v, ok) query_case(rt, n, v, strlen(v), ok)

static void test_query(void **state)
{
    (void)state;
    const api_route_t *sockets = route_of("GET", "/api/v1/sockets");
    const api_route_t *users = route_of("GET", "/api/v1/users");
    const api_route_t *history = route_of("GET", "/api/v1/rooms/r/history");
    Q(sockets, "namespace", "/", 1);
    Q(sockets, "namespace", "", 1); /* empty: the default */
    Q(sockets, "namespace", "nope", 0);
    Q(sockets, "namespace", "/a#b", 0);
    Q(sockets, "namespace", "/\xff", 0);
    Q(sockets, "room", "lobby", 1);
    Q(sockets, "room", "a\xe2\x80\xae", 0);
    Q(sockets, "room", "\xed\xa0\x80", 0);
    query_case(sockets, "room", "a\0b", 3, 0);
    Q(users, "limit", "10", 1);
    Q(users, "limit", "1e3", 0);
    Q(users, "offset", "-1", 0);
    Q(history, "before", "1700000000000-0", 1);
    Q(history, "before", "\xc0\xaf", 0);
    Q(history, "before", "1-0; DROP", 0);
    Q(history, "limit", " 5", 0);
    /* parameters a route does not document only get the text rule */
    Q(sockets, "cachebuster", "123", 1);
    Q(sockets, "cachebuster", "\xff", 0);
    Q(sockets, "cachebuster", "a\nb", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_params),
        cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
