/* Unit tests for proto/prom_text.c: family lines, label and HELP escaping, histograms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "prom_text.h"

#include <string.h>

static void test_family(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    prom_family(&b, "x_total", "counter", "Things, with a \\ and a\nnewline.");
    assert_string_equal(b.data, "# HELP x_total Things, with a \\\\ and a\\nnewline.\n"
                                "# TYPE x_total counter\n");
    sbuf_free(&b);
}

static void test_labels(void **state)
{
    (void)state;
    sbuf_t b = SBUF_INIT;
    static const char v[] = "a\"b\\c\nd\xf0\x9f\x98\x80";
    prom_label(&b, "namespace", v, sizeof v - 1);
    assert_string_equal(b.data, "namespace=\"a\\\"b\\\\c\\nd\xf0\x9f\x98\x80\"");
    sbuf_reset(&b);
    /* an embedded NUL is a byte like any other: the length decides */
    prom_label(&b, "l", "a\0b", 3);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "l=\"a\0b\"", 7);
    sbuf_reset(&b);
    prom_single(&b, "x_total", "counter", "X.", 7);
    assert_string_equal(b.data, "# HELP x_total X.\n# TYPE x_total counter\nx_total 7\n");
    sbuf_reset(&b);
    prom_value(&b, "up", 1);
    prom_value1(&b, "conns", "transport", "websocket", 18446744073709551615ull);
    assert_string_equal(b.data, "up 1\nconns{transport=\"websocket\"} 18446744073709551615\n");
    sbuf_free(&b);
}

static void test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = {0.001, 0.01, 0.1};
    prom_hist_t h;
    prom_hist_init(&h, bounds, 3);
    prom_hist_observe(&h, 0.0005);
    prom_hist_observe(&h, 0.001); /* le: a value on the bound is in that bucket */
    prom_hist_observe(&h, 0.05);
    prom_hist_observe(&h, 3);
    sbuf_t b = SBUF_INIT;
    prom_hist_write(&b, "lat_seconds", &h);
    assert_string_equal(b.data, "lat_seconds_bucket{le=\"0.001\"} 2\n"
                                "lat_seconds_bucket{le=\"0.01\"} 2\n"
                                "lat_seconds_bucket{le=\"0.1\"} 3\n"
                                "lat_seconds_bucket{le=\"+Inf\"} 4\n"
                                "lat_seconds_sum 3.0515\n"
                                "lat_seconds_count 4\n");
    sbuf_free(&b);
    /* more bounds than it holds: the first PROM_HIST_MAX are kept */
    double many[PROM_HIST_MAX + 4];
    for (size_t i = 0; i < PROM_HIST_MAX + 4; i++) many[i] = (double)(i + 1);
    prom_hist_init(&h, many, PROM_HIST_MAX + 4);
    assert_int_equal(h.nbounds, PROM_HIST_MAX);
    prom_hist_observe(&h, 1000);
    assert_int_equal(h.counts[PROM_HIST_MAX], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
