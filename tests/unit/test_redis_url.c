/* Unit tests for proto/runtime/redis_url.c, no server needed: the parts of a URL, percent
 * escapes in the user info, IPv6 hosts, copies, and a message naming what is wrong with each
 * malformed URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redis_url.h"

#include <string.h>

static void test_parse(void **state)
{
    redis_url_t u;
    char err[160];
    assert_int_equal(redis_url_parse("redis://localhost", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_null(u.user);
    assert_null(u.password);
    redis_url_free(&u);

    assert_int_equal(redis_url_parse("redis://10.0.0.5:7000/2", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 2);
    redis_url_free(&u);

    assert_int_equal(redis_url_parse("redis://:pw@h", &u, err, sizeof err), 0);
    assert_null(u.user);
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.port, 6379);
    redis_url_free(&u);

    assert_int_equal(redis_url_parse("redis://alice:p%40ss@redis.local:1/15", &u, err, sizeof err),
                     0);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "redis.local");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 15);
    redis_url_free(&u);

    assert_int_equal(redis_url_parse("redis://u:a@b/c@h:2", &u, err, sizeof err), 0);
    assert_string_equal(u.password, "a@b/c"); /* the last '@' ends the user info */
    assert_string_equal(u.host, "h");
    redis_url_free(&u);

    assert_int_equal(redis_url_parse("redis://[::1]:6380/", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 0);
    redis_url_t copy;
    redis_url_copy(&copy, &u);
    assert_string_equal(copy.host, "::1");
    redis_url_free(&copy);
    redis_url_free(&u);
    redis_url_free(&u); /* twice is fine */

    static const struct {
        const char *url, *says;
    } bad[] = {
        {"", "empty"},
        {"http://h", "must start with redis://"},
        {"rediss://h", "TLS"},
        {"redis://", "no host"},
        {"redis://:6379", "no host"},
        {"redis://h:0", "1..65535"},
        {"redis://h:65536", "1..65535"},
        {"redis://h:", "1..65535"},
        {"redis://h:6x", "1..65535"},
        {"redis://h/abc", "database"},
        {"redis://h/-1", "database"},
        {"redis://h/99999999999", "database"},
        {"redis://user@h", "user:password"},
        {"redis://h?db=1", "query"},
        {"redis://[::1", "unterminated"},
        {"redis://[zz]:1", "IPv6"},
        {"redis://ho st", "not allowed"},
        {"redis://u:%zz@h", "escape"},
        {"redis://u:%00@h", "escape"},
        {"redis://h:1/2/3", "database"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (redis_url_parse(bad[i].url, &u, err, sizeof err) != -1 || !strstr(err, bad[i].says))
            fail_msg("url \"%s\": got \"%s\", want a message with \"%s\"", bad[i].url, err,
                     bad[i].says);
        assert_null(u.host);
        assert_null(u.password);
    }
    assert_int_equal(redis_url_parse("redis://h:x", &u, NULL, 0), -1); /* no message buffer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
