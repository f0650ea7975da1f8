/* Unit tests for proto/runtime/redis_url.c, no server needed: the parts of a URL, percent
 * escapes in the user info, IPv6 hosts, the sentinel and cluster forms with their address
 * lists, copies, and a message naming what is wrong with each malformed URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redis_url.h"

#include <stdio.h>
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
        {"redis://a:1,b:2", "names one server"},
        {"redis+sentinal://h:1/m", "must start with redis://, redis+sentinel://"},
        {"rediss+cluster://h:1", "TLS"},
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

static void expect_addr(const redis_url_t *u, size_t i, const char *host, int port)
{
    assert_true(i < u->n_addrs);
    assert_string_equal(u->addrs[i].host, host);
    assert_int_equal(u->addrs[i].port, port);
}

static void test_single_fields(void **state)
{
    (void)state;
    redis_url_t u;
    char err[160];
    assert_int_equal(redis_url_parse("redis://h:7/3", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, REDIS_URL_SINGLE);
    assert_int_equal(u.n_addrs, 1);
    expect_addr(&u, 0, "h", 7);
    assert_null(u.master);
    redis_url_free(&u);
}

static void test_sentinel(void **state)
{
    (void)state;
    redis_url_t u;
    char err[160];
    assert_int_equal(redis_url_parse("redis+sentinel://u:p%2Fw@s1:26380,[::1]:26381,s3/mymaster/2",
                                     &u, err, sizeof err),
                     0);
    assert_int_equal(u.kind, REDIS_URL_SENTINEL);
    assert_string_equal(u.user, "u");
    assert_string_equal(u.password, "p/w");
    assert_int_equal(u.n_addrs, 3);
    expect_addr(&u, 0, "s1", 26380);
    expect_addr(&u, 1, "::1", 26381);
    expect_addr(&u, 2, "s3", 26379);   /* a sentinel's default port */
    assert_string_equal(u.host, "s1"); /* the first address */
    assert_int_equal(u.port, 26380);
    assert_string_equal(u.master, "mymaster");
    assert_int_equal(u.db, 2);
    redis_url_t copy;
    redis_url_copy(&copy, &u);
    redis_url_free(&u);
    assert_int_equal(copy.kind, REDIS_URL_SENTINEL);
    assert_int_equal(copy.n_addrs, 3);
    expect_addr(&copy, 1, "::1", 26381);
    assert_string_equal(copy.master, "mymaster");
    assert_string_equal(copy.password, "p/w");
    redis_url_free(&copy);
    assert_null(copy.addrs);
    assert_int_equal(copy.n_addrs, 0);

    /* escapes in the master name; an empty db after it is 0 */
    assert_int_equal(
        redis_url_parse("redis+sentinel://10.0.0.1:5000/my-primary.A_1%2Bb/", &u, err, sizeof err),
        0);
    assert_string_equal(u.master, "my-primary.A_1+b");
    assert_int_equal(u.db, 0);
    expect_addr(&u, 0, "10.0.0.1", 5000);
    redis_url_free(&u);
    /* a UTF-8 master name, escaped */
    assert_int_equal(redis_url_parse("redis+sentinel://h/%C3%A9t%C3%A9", &u, err, sizeof err), 0);
    assert_string_equal(u.master, "\xc3\xa9t\xc3\xa9");
    redis_url_free(&u);

    static const struct {
        const char *url, *says;
    } bad[] = {
        {"redis+sentinel://h:1", "needs the master name"},
        {"redis+sentinel://h:1/", "needs the master name"},
        {"redis+sentinel://h:1//0", "needs the master name"},
        {"redis+sentinel://h:1?m", "needs the master name"},
        {"redis+sentinel://", "no host"},
        {"redis+sentinel://h:1,/m", "no host (address 2)"},
        {"redis+sentinel://h:1,,h:2/m", "no host (address 2)"},
        {"redis+sentinel://h:1,h:0/m", "port \"0\" (address 2) is not a number in 1..65535"},
        {"redis+sentinel://h:1,[::1/m", "unterminated IPv6 address '[' (address 2)"},
        {"redis+sentinel://h:1,b d/m", "host \"b d\" has characters not allowed"},
        {"redis+sentinel://h:1/m/x", "database \"x\""},
        {"redis+sentinel://h:1/m/1/2", "database"},
        {"redis+sentinel://h:1/m+n", "master name \"m+n\" has characters not allowed"},
        {"redis+sentinel://h:1/m%2", "master name has a bad %-escape"},
        {"redis+sentinel://h:1/m%FFn", "master name is not UTF-8 once decoded"},
        {"redis+sentinel://h:1/%C3", "master name is not UTF-8 once decoded"}, /* cut character */
        {"redis+sentinel://h:1/\xc3\xa9t\xc3\xa9",
         "master name \"\xc3\xa9t\xc3\xa9\" has characters"},
        {"redis+sentinel://h:1/a\xff"
         "b",
         "master name has characters not allowed"}, /* not quoted */
        {"redis+sentinel://h:1/m%00", "bad %-escape"},
        {"redis+sentinel://h:1/m%20n", "space or a control character"},
        {"redis+sentinel://h:1/m%0A", "space or a control character"},
        {"redis+sentinel://h:1/m#x", "query or fragment"},
        {"redis+sentinel://u@h:1/m", "user:password"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (redis_url_parse(bad[i].url, &u, err, sizeof err) != -1 || !strstr(err, bad[i].says))
            fail_msg("url \"%s\": got \"%s\", want a message with \"%s\"", bad[i].url, err,
                     bad[i].says);
        assert_null(u.host);
        assert_null(u.addrs);
        assert_null(u.master);
        assert_null(u.password);
    }
}

static void test_cluster(void **state)
{
    (void)state;
    redis_url_t u;
    char err[160];
    assert_int_equal(redis_url_parse("redis+cluster://:secret@127.0.0.1:37001,127.0.0.1:37002,"
                                     "[2001:db8::1]:37003,node4",
                                     &u, err, sizeof err),
                     0);
    assert_int_equal(u.kind, REDIS_URL_CLUSTER);
    assert_null(u.user);
    assert_string_equal(u.password, "secret");
    assert_int_equal(u.n_addrs, 4);
    expect_addr(&u, 0, "127.0.0.1", 37001);
    expect_addr(&u, 1, "127.0.0.1", 37002);
    expect_addr(&u, 2, "2001:db8::1", 37003);
    expect_addr(&u, 3, "node4", 6379);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 37001);
    assert_int_equal(u.db, 0);
    assert_null(u.master);
    redis_url_free(&u);

    /* one seed; "/" and "/0" name the only database a cluster has */
    const char *ok[] = {"redis+cluster://h:1", "redis+cluster://h:1/", "redis+cluster://h:1/0"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(redis_url_parse(ok[i], &u, err, sizeof err), 0);
        assert_int_equal(u.n_addrs, 1);
        assert_int_equal(u.db, 0);
        redis_url_free(&u);
    }

    /* as many addresses as allowed, and one more */
    char many[2048] = "redis+cluster://";
    for (int i = 0; i < REDIS_URL_MAX_ADDRS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sh%d:%d", i ? "," : "", i,
                 7000 + i);
    assert_int_equal(redis_url_parse(many, &u, err, sizeof err), 0);
    assert_int_equal(u.n_addrs, REDIS_URL_MAX_ADDRS);
    expect_addr(&u, REDIS_URL_MAX_ADDRS - 1, "h63", 7063);
    redis_url_free(&u);
    strcat(many, ",x:1");
    assert_int_equal(redis_url_parse(many, &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 64 addresses"));
    assert_null(u.addrs);

    static const struct {
        const char *url, *says;
    } bad[] = {
        {"redis+cluster://h:1/1", "Redis Cluster has only database 0: remove \"/1\""},
        {"redis+cluster://h:1,h:2/15", "only database 0"},
        {"redis+cluster://h:1/mymaster", "database \"mymaster\" is not a number"},
        {"redis+cluster://h:1/0/0", "database"},
        {"redis+cluster://", "no host"},
        {"redis+cluster://h:1,", "no host (address 2)"},
        {"redis+cluster://h:1,:2", "no host (address 2)"},
        {"redis+cluster://h:1,h:65536", "(address 2) is not a number in 1..65535"},
        {"redis+cluster://h:1,h:x", "(address 2) is not a number"},
        {"redis+cluster://h:1,[zz]:1", "bad IPv6 address (address 2)"},
        {"redis+cluster://h:1,[::1]x", "unexpected text \"x\" after the host (address 2)"},
        {"redis+cluster://h:1 ,h:2", "1..65535"},
        {"redis+cluster://h:1?x=1", "query"},
        {"redis+cluster://u:%zz@h:1", "escape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (redis_url_parse(bad[i].url, &u, err, sizeof err) != -1 || !strstr(err, bad[i].says))
            fail_msg("url \"%s\": got \"%s\", want a message with \"%s\"", bad[i].url, err,
                     bad[i].says);
        assert_null(u.host);
        assert_null(u.addrs);
        assert_int_equal(u.n_addrs, 0);
        assert_null(u.password);
    }
    assert_string_equal(redis_url_scheme(REDIS_URL_CLUSTER), "redis+cluster://");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_single_fields),
        cmocka_unit_test(test_sentinel),
        cmocka_unit_test(test_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
