/* Unit tests for chatnode/hangup.c on a real libuv loop with socket pairs: a peer's FIN is
 * reported once, with the pointer given; bytes from the peer are not; an unwatched socket
 * reports nothing; more sockets than one epoll batch each report their own; after close,
 * watching fails and unwatching is harmless. "Nothing reported" is checked behind a marker: a
 * second socket closed afterwards whose report arrives through the same set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hangup.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX = 200 };

static void *seen[MAX];
static int nseen;

static void on_hangup(void *ud, void *conn)
{
    assert_ptr_equal(ud, &nseen);
    assert_true(nseen < MAX);
    seen[nseen++] = conn;
}

static int count(void *conn)
{
    int n = 0;
    for (int i = 0; i < nseen; i++) n += seen[i] == conn;
    return n;
}

/* Runs the loop until conn has been reported (a bounded number of turns). */
static void run_until(uv_loop_t *loop, void *conn)
{
    for (int i = 0; i < 1000 && !count(conn); i++) uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(count(conn), 1);
}

/* Each test gets a loop and a set on it; teardown closes the set and checks that the loop
 * ends with no handle left. */
typedef struct {
    uv_loop_t loop;
    hangup_t h;
} fixture_t;

static fixture_t fx;

static int setup(void **state)
{
    nseen = 0;
    uv_loop_init(&fx.loop);
    assert_int_equal(hangup_init(&fx.h, &fx.loop, on_hangup, &nseen), 0);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hangup_close(&fx.h);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx.loop), 0);
    return 0;
}

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_fin_once_data_never(void **state)
{
    fixture_t *f = *state;
    int a[2], m[2];
    pair(a);
    pair(m);
    char conn_a, marker;
    assert_int_equal(hangup_watch(&f->h, a[0], &conn_a), 0);
    assert_int_equal(hangup_watch(&f->h, m[0], &marker), 0);
    assert_int_equal(f->h.watched, 2);

    /* the client sends bytes (a request behind its GET): not news */
    assert_int_equal(write(a[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
    close(m[1]);
    run_until(&f->loop, &marker);
    assert_int_equal(count(&conn_a), 0);

    /* the client closes: reported once, and only once however long the loop runs */
    shutdown(a[1], SHUT_WR);
    run_until(&f->loop, &conn_a);
    int b[2];
    pair(b);
    char marker2;
    assert_int_equal(hangup_watch(&f->h, b[0], &marker2), 0);
    close(b[1]);
    run_until(&f->loop, &marker2);
    assert_int_equal(count(&conn_a), 1);
    assert_int_equal(count(&marker), 1);

    hangup_unwatch(&f->h, a[0]);
    hangup_unwatch(&f->h, m[0]);
    hangup_unwatch(&f->h, b[0]);
    assert_int_equal(f->h.watched, 0);
    close(a[0]);
    close(a[1]);
    close(m[0]);
    close(b[0]);
}

static void test_unwatched_reports_nothing(void **state)
{
    fixture_t *f = *state;
    int a[2], m[2];
    pair(a);
    pair(m);
    char conn_a, marker;
    assert_int_equal(hangup_watch(&f->h, a[0], &conn_a), 0);
    assert_int_equal(hangup_watch(&f->h, m[0], &marker), 0);
    hangup_unwatch(&f->h, a[0]); /* answered: read again by its owner */
    close(a[1]);
    close(m[1]);
    run_until(&f->loop, &marker);
    assert_int_equal(count(&conn_a), 0);
    hangup_unwatch(&f->h, m[0]);
    close(a[0]);
    close(m[0]);
}

static void test_more_than_one_batch(void **state)
{
    fixture_t *f = *state;
    enum { N = 150 };
    int s[N][2];
    char conns[N];
    for (int i = 0; i < N; i++) {
        pair(s[i]);
        assert_int_equal(hangup_watch(&f->h, s[i][0], &conns[i]), 0);
    }
    for (int i = 0; i < N; i++) close(s[i][1]);
    for (int t = 0; t < 1000 && nseen < N; t++) uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(nseen, N);
    for (int i = 0; i < N; i++) assert_int_equal(count(&conns[i]), 1);
    for (int i = 0; i < N; i++) {
        hangup_unwatch(&f->h, s[i][0]);
        close(s[i][0]);
    }
}

static void test_after_close(void **state)
{
    fixture_t *f = *state;
    int a[2];
    pair(a);
    char conn_a;
    assert_int_equal(hangup_watch(&f->h, a[0], &conn_a), 0);
    assert_int_equal(hangup_watch(&f->h, -1, &conn_a), -1);
    hangup_close(&f->h);
    assert_int_equal(hangup_watch(&f->h, a[0], &conn_a), -1);
    hangup_unwatch(&f->h, a[0]); /* harmless once closed */
    hangup_close(&f->h);         /* so is a second close (teardown makes a third) */
    close(a[0]);
    close(a[1]);
    assert_int_equal(nseen, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fin_once_data_never, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatched_reports_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_than_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
