/* Unit tests for proto/static_mime.c: the Content-Type of every kind of file the chat page and
 * the dashboard ship, case-insensitive extensions, and the fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "static_mime.h"

static void test_shipped_types(void **state)
{
    (void)state;
    static const struct {
        const char *name, *type;
    } want[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"page.htm", "text/html; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"socket.io.min.js", "text/javascript; charset=utf-8"},
        {"module.mjs", "text/javascript; charset=utf-8"},
        {"style.css", "text/css; charset=utf-8"},
        {"favicon.svg", "image/svg+xml"},
        {"pic.png", "image/png"},
        {"favicon.ico", "image/x-icon"},
        {"data.json", "application/json"},
        {"socket.io.min.js.map", "application/json"},
        {"font.woff2", "font/woff2"},
        {"font.woff", "font/woff"},
        {"notes.txt", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(static_mime_type(want[i].name), want[i].type);
}

static void test_names(void **state)
{
    (void)state;
    /* the extension of the last segment, whatever its case */
    assert_string_equal(static_mime_type("/srv/web/chat/INDEX.HTML"), "text/html; charset=utf-8");
    assert_string_equal(static_mime_type("a.b/App.Js"), "text/javascript; charset=utf-8");
    /* unknown, none, a dot only in a directory, a trailing dot, a hidden name alone */
    assert_string_equal(static_mime_type("blob.bin"), "application/octet-stream");
    assert_string_equal(static_mime_type("LICENSE"), "application/octet-stream");
    assert_string_equal(static_mime_type("a.js/readme"), "application/octet-stream");
    assert_string_equal(static_mime_type("file."), "application/octet-stream");
    assert_string_equal(static_mime_type(""), "application/octet-stream");
    assert_string_equal(static_mime_type(".css"), "text/css; charset=utf-8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_types),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
