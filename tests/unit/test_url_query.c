/* Unit tests for proto/url_query.c: percent-decoding as forms do, and query pairs as a JSON
 * object of strings (last value wins, names skipped, pairs that are not UTF-8 left out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "url_query.h"

#include <string.h>

static void test_decode(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    static const char in[] = "a+b%20c%2Bd%e2%82%ac%zz%4";
    url_decode(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "a b c+d\xe2\x82\xac%zz%4");
    sbuf_free(&b);
}

static void test_query_json(void **state)
{
    (void)state;
    static const char *const skip[] = {"EIO", "transport", NULL};
    sbuf_t b = SBUF_INIT;
    static const char q[] = "token=a.b%2Ec&EIO=3&user=J%C3%BCrgen+M&flag&token=last&&=x&bad=%ff"
                            "&q=%22%5C%0A";
    url_query_json(&b, q, sizeof q - 1, skip);
    assert_string_equal(b.data, "{\"user\":\"J\xc3\xbcrgen M\",\"flag\":\"\",\"token\":\"last\","
                                "\"q\":\"\\\"\\\\\\n\"}");
    sbuf_reset(&b);
    url_query_json(&b, "", 0, NULL);
    assert_string_equal(b.data, "{}");
    sbuf_reset(&b);
    /* pairs already decoded (as libwebsockets gives a request's arguments) are taken as they are */
    const char *pairs[] = {"token=a%41", "transport=polling", "n=1"};
    size_t lens[] = {10, 17, 3};
    url_pairs_json(&b, pairs, lens, 3, 0, skip);
    assert_string_equal(b.data, "{\"token\":\"a%41\",\"n\":\"1\"}");
    sbuf_reset(&b);
    /* no more than URL_QUERY_MAX_PAIRS pairs are read */
    sbuf_t q2 = SBUF_INIT;
    for (int i = 0; i < URL_QUERY_MAX_PAIRS + 5; i++)
        sbuf_printf(&q2, "%sk%d=%d", i ? "&" : "", i, i);
    url_query_json(&b, q2.data, q2.len, NULL);
    assert_non_null(strstr(b.data, "\"k31\":\"31\""));
    assert_null(strstr(b.data, "\"k32\""));
    sbuf_free(&q2);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_query_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
