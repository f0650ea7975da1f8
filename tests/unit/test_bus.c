/* Tests for proto/runtime/bus.c against a real redis-server started on free ports in a
 * temporary directory (redis_srv.h: stopped in teardown, and killed with this process if it
 * dies): pub/sub, patterns, the unsubscribe race, reconnect with the publish queue, AUTH
 * (password, ACL user, wrong password), SELECT, close while down or from a callback, commands
 * followed by WAIT with and without a replica. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bus.h"
#include "redis_srv.h"
#include "redis_url.h"

#include <hiredis/hiredis.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- redis-server processes --- */

static redis_srv_t shared;      /* for the tests that need no special server */
static redis_srv_t own;         /* started by one test, stopped by the per-test teardown */
static redis_srv_t own_replica; /* a replica of own, the same */

/* --- loop fixture --- */

typedef struct {
    char channel[64], pattern[64], payload[64];
    size_t clen, plen;
    int has_pattern;
} msg_t;

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop so WAIT can check its condition */
    bus_t *bus;
    int closed;
    msg_t msgs[32];
    int nmsgs;
    bus_state_t st[2];
    int auth_errors;
    int close_in_message; /* on_message calls bus_close */
    int cmd_status_at_close;
    int cmd_replies;
    int replies, reply_status, reply_type;
    long long reply_int;
    char reply_text[2048];
} fx_t;

static fx_t *fx;

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

#define WAIT(cond, ms)                                                                             \
    do {                                                                                           \
        uint64_t dl_ = now_ms() + (ms);                                                            \
        while (!(cond) && now_ms() < dl_) uv_run(&fx->loop, UV_RUN_ONCE);                          \
    } while (0)

static void pause_ms(int ms)
{
    WAIT(0, (uint64_t)ms);
}

static void on_tick(uv_timer_t *t)
{
}

static void on_message(void *ud, const char *ch, size_t clen, const char *pattern,
                       const char *payload, size_t plen)
{
    fx_t *f = ud;
    if (f->nmsgs < 32) {
        msg_t *m = &f->msgs[f->nmsgs];
        m->clen = clen < 63 ? clen : 63;
        memcpy(m->channel, ch, m->clen);
        m->plen = plen < 63 ? plen : 63;
        memcpy(m->payload, payload, m->plen);
        m->has_pattern = pattern != NULL;
        if (pattern) snprintf(m->pattern, sizeof m->pattern, "%s", pattern);
    }
    f->nmsgs++;
    if (f->close_in_message) {
        f->close_in_message = 0;
        assert_int_equal(bus_close(f->bus, NULL, NULL), 0);
        f->closed = 1; /* done callback tested elsewhere; here: nothing leaks */
        assert_int_equal(bus_publish(f->bus, "x", 1, "y", 1), BUS_ECLOSED);
    }
}

static void on_state(void *ud, bus_conn_t conn, bus_state_t state, int err)
{
    fx_t *f = ud;
    f->st[conn] = state;
    if (err == BUS_EAUTH) f->auth_errors++;
}

static void on_closed(void *ud)
{
    ((fx_t *)ud)->closed = 1;
}

static int setup(void **state)
{
    fx = calloc(1, sizeof *fx);
    uv_loop_init(&fx->loop);
    uv_timer_init(&fx->loop, &fx->tick);
    uv_timer_start(&fx->tick, on_tick, 2, 2);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    if (fx->bus && !fx->closed) {
        bus_close(fx->bus, on_closed, fx);
        WAIT(fx->closed, 2000);
    }
    uv_close((uv_handle_t *)&fx->tick, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&fx->loop);
    free(fx);
    fx = NULL;
    redis_srv_cleanup(&own_replica);
    redis_srv_cleanup(&own);
    return rc == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    return redis_srv_start(&shared, NULL);
}

static int group_teardown(void **state)
{
    redis_srv_cleanup(&shared);
    redis_srv_cleanup(&own_replica);
    redis_srv_cleanup(&own);
    return 0;
}

static void open_bus(const char *url_text, bus_options_t *o)
{
    redis_url_t url;
    char err[128];
    assert_int_equal(redis_url_parse(url_text, &url, err, sizeof err), 0);
    bus_options_t def;
    if (!o) {
        bus_options_init(&def);
        o = &def;
    }
    o->on_message = on_message;
    o->on_state = on_state;
    o->ud = fx;
    assert_int_equal(bus_open(&fx->bus, &fx->loop, &url, o), 0);
    redis_url_free(&url);
}

static void open_bus_port(int port, const char *userinfo, const char *path, bus_options_t *o)
{
    char url[256];
    snprintf(url, sizeof url, "redis://%s127.0.0.1:%d%s", userinfo ? userinfo : "", port,
             path ? path : "");
    open_bus(url, o);
}

#define UP() (fx->st[BUS_CONN_CMD] == BUS_CONNECTED && fx->st[BUS_CONN_SUB] == BUS_CONNECTED)

static void on_reply(void *ud, int status, const struct redisReply *r)
{
    fx_t *f = ud;
    f->replies++;
    f->reply_status = status;
    f->reply_text[0] = '\0';
    f->reply_int = -1;
    f->reply_type = r ? r->type : 0;
    if (!r) return;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR) {
        size_t n = r->len < sizeof f->reply_text - 1 ? r->len : sizeof f->reply_text - 1;
        memcpy(f->reply_text, r->str, n);
        f->reply_text[n] = '\0';
    } else if (r->type == REDIS_REPLY_INTEGER)
        f->reply_int = r->integer;
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[1]->type == REDIS_REPLY_INTEGER)
        f->reply_int = r->element[1]->integer; /* PUBSUB NUMSUB chan n */
}

/* Runs a command through the bus and waits for its reply (left in fx->reply_*). */
static void command(int argc, const char *const *argv, const size_t *lens)
{
    int before = fx->replies;
    assert_int_equal(bus_command(fx->bus, argc, argv, lens, on_reply, fx), 0);
    WAIT(fx->replies > before, 2000);
    assert_int_equal(fx->replies, before + 1);
    assert_int_equal(fx->reply_status, 0);
}

static long long numsub(const char *ch)
{
    const char *argv[3] = {"PUBSUB", "NUMSUB", ch};
    command(3, argv, NULL);
    return fx->reply_int;
}

/* Waits until Redis counts want subscribers of ch. */
static void wait_numsub(const char *ch, long long want)
{
    uint64_t dl = now_ms() + 2000;
    while (numsub(ch) != want && now_ms() < dl) pause_ms(5);
    assert_int_equal(numsub(ch), want);
}

/* Whether a message with this payload arrived (through a pattern or not). */
static int has_msg(const char *payload, int via_pattern)
{
    size_t n = strlen(payload);
    for (int i = 0; i < fx->nmsgs && i < 32; i++)
        if (fx->msgs[i].plen == n && memcmp(fx->msgs[i].payload, payload, n) == 0 &&
            fx->msgs[i].has_pattern == via_pattern)
            return 1;
    return 0;
}

/* --- tests --- */

static void test_names(void **state)
{
    assert_string_equal(bus_strerror(BUS_EAUTH), "Redis AUTH refused");
    assert_string_equal(bus_state_name(BUS_CONNECTING), "connecting");
}

static void test_pubsub_roundtrip(void **state)
{
    static const char bin_ch[] = "bin\0chan"; /* 8 bytes */
    static const char bin_pl[] = {'a', 0, 'b', (char)0xff};
    open_bus_port(shared.port, NULL, NULL, NULL);
    assert_int_equal(bus_subscribe(fx->bus, "news", 4), 0);
    assert_int_equal(bus_subscribe(fx->bus, "news", 4), 0); /* already wanted: no-op */
    assert_int_equal(bus_subscribe(fx->bus, bin_ch, 8), 0);
    WAIT(UP(), 3000);
    assert_true(UP());

    assert_int_equal(bus_publish(fx->bus, "news", 4, "hello", 5), 0);
    assert_int_equal(bus_publish(fx->bus, bin_ch, 8, bin_pl, 4), 0);
    WAIT(fx->nmsgs >= 2, 2000);
    assert_int_equal(fx->nmsgs, 2);
    assert_int_equal(fx->msgs[0].clen, 4);
    assert_memory_equal(fx->msgs[0].channel, "news", 4);
    assert_memory_equal(fx->msgs[0].payload, "hello", 5);
    assert_false(fx->msgs[0].has_pattern);
    assert_int_equal(fx->msgs[1].clen, 8);
    assert_memory_equal(fx->msgs[1].channel, bin_ch, 8);
    assert_int_equal(fx->msgs[1].plen, 4);
    assert_memory_equal(fx->msgs[1].payload, bin_pl, 4);

    /* A subscription made while connected is sent at once. */
    assert_int_equal(bus_subscribe(fx->bus, "late", 4), 0);
    wait_numsub("late", 1);
    assert_int_equal(bus_publish(fx->bus, "late", 4, "", 0), 0);
    WAIT(fx->nmsgs >= 3, 2000);
    assert_int_equal(fx->nmsgs, 3);
    assert_int_equal(fx->msgs[2].plen, 0);

    bus_stats_t st;
    bus_stats(fx->bus, &st);
    assert_int_equal(st.cmd.state, BUS_CONNECTED);
    assert_int_equal(st.sub.state, BUS_CONNECTED);
    assert_int_equal(st.published, 3);
    assert_int_equal(st.received, 3);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.reconnects, 0);
    assert_string_equal(st.last_error, "");
}

static void test_pattern(void **state)
{
    open_bus_port(shared.port, NULL, NULL, NULL);
    assert_int_equal(bus_psubscribe(fx->bus, "room:*", 6), 0);
    assert_int_equal(bus_subscribe(fx->bus, "room:7", 6), 0);
    WAIT(UP(), 3000);
    assert_int_equal(bus_publish(fx->bus, "room:42", 7, "x", 1), 0);
    WAIT(fx->nmsgs >= 1, 2000);
    assert_int_equal(fx->nmsgs, 1);
    assert_true(fx->msgs[0].has_pattern);
    assert_string_equal(fx->msgs[0].pattern, "room:*");
    assert_memory_equal(fx->msgs[0].channel, "room:42", 7);

    /* Subscribed and matching a pattern: delivered once each way. */
    assert_int_equal(bus_publish(fx->bus, "room:7", 6, "y", 1), 0);
    WAIT(fx->nmsgs >= 3, 2000);
    assert_int_equal(fx->nmsgs, 3);
    assert_true(fx->msgs[1].has_pattern != fx->msgs[2].has_pattern);

    /* PUNSUBSCRIBE: only the channel subscription is left. */
    assert_int_equal(bus_punsubscribe(fx->bus, "room:*", 6), 0);
    assert_int_equal(bus_punsubscribe(fx->bus, "room:*", 6), 0); /* not wanted: no-op */
    const char *argv[2] = {"PUBSUB", "NUMPAT"};
    uint64_t dl = now_ms() + 2000;
    do {
        command(2, argv, NULL);
    } while (fx->reply_int != 0 && now_ms() < dl);
    assert_int_equal(fx->reply_int, 0);
    assert_int_equal(bus_publish(fx->bus, "room:7", 6, "z", 1), 0);
    WAIT(fx->nmsgs >= 4, 2000);
    pause_ms(30);
    assert_int_equal(fx->nmsgs, 4);
    assert_false(fx->msgs[3].has_pattern);
}

static void test_unsubscribe_stops_delivery(void **state)
{
    open_bus_port(shared.port, NULL, NULL, NULL);
    assert_int_equal(bus_subscribe(fx->bus, "ua", 2), 0);
    assert_int_equal(bus_subscribe(fx->bus, "ub", 2), 0);
    WAIT(UP(), 3000);
    assert_int_equal(bus_unsubscribe(fx->bus, "ua", 2), 0);
    /* Even if Redis still delivers "ua" before it reads UNSUBSCRIBE, the bus drops it. */
    assert_int_equal(bus_publish(fx->bus, "ua", 2, "1", 1), 0);
    assert_int_equal(bus_publish(fx->bus, "ub", 2, "2", 1), 0);
    WAIT(fx->nmsgs >= 1, 2000);
    pause_ms(30);
    assert_int_equal(fx->nmsgs, 1);
    assert_memory_equal(fx->msgs[0].channel, "ub", 2);
    wait_numsub("ua", 0);
    assert_int_equal(bus_unsubscribe(fx->bus, "ua", 2), 0); /* not wanted: no-op */
    assert_int_equal(bus_unsubscribe(fx->bus, "never", 5), 0);

    /* Unsubscribing the last channel then subscribing another, pipelined. */
    assert_int_equal(bus_unsubscribe(fx->bus, "ub", 2), 0);
    assert_int_equal(bus_subscribe(fx->bus, "uc", 2), 0);
    wait_numsub("uc", 1);
    wait_numsub("ub", 0);
    assert_int_equal(bus_publish(fx->bus, "uc", 2, "3", 1), 0);
    WAIT(fx->nmsgs >= 2, 2000);
    assert_int_equal(fx->nmsgs, 2);
    assert_memory_equal(fx->msgs[1].channel, "uc", 2);
}

static void test_resubscribe_race(void **state)
{
    open_bus_port(shared.port, NULL, NULL, NULL);
    assert_int_equal(bus_subscribe(fx->bus, "race", 4), 0);
    assert_int_equal(bus_psubscribe(fx->bus, "prace:*", 7), 0);
    WAIT(UP(), 3000);
    /* UNSUBSCRIBE then SUBSCRIBE before the first reply: must end subscribed and delivering. */
    assert_int_equal(bus_unsubscribe(fx->bus, "race", 4), 0);
    assert_int_equal(bus_subscribe(fx->bus, "race", 4), 0);
    assert_int_equal(bus_punsubscribe(fx->bus, "prace:*", 7), 0);
    assert_int_equal(bus_psubscribe(fx->bus, "prace:*", 7), 0);
    /* Many flips, ending subscribed, and ending unsubscribed. */
    for (int i = 0; i < 9; i++) {
        assert_int_equal(bus_unsubscribe(fx->bus, "flip", 4), 0);
        assert_int_equal(bus_subscribe(fx->bus, "flip", 4), 0);
        assert_int_equal(bus_subscribe(fx->bus, "flop", 4), 0);
        assert_int_equal(bus_unsubscribe(fx->bus, "flop", 4), 0);
    }
    pause_ms(50); /* every reply read */
    wait_numsub("race", 1);
    wait_numsub("flip", 1);
    wait_numsub("flop", 0);
    assert_int_equal(bus_publish(fx->bus, "race", 4, "r", 1), 0);
    assert_int_equal(bus_publish(fx->bus, "flip", 4, "f", 1), 0);
    assert_int_equal(bus_publish(fx->bus, "prace:1", 7, "p", 1), 0);
    assert_int_equal(bus_publish(fx->bus, "flop", 4, "-", 1), 0);
    WAIT(fx->nmsgs >= 3, 2000);
    pause_ms(30);
    assert_int_equal(fx->nmsgs, 3);
    assert_memory_equal(fx->msgs[0].payload, "r", 1);
    assert_memory_equal(fx->msgs[1].payload, "f", 1);
    assert_memory_equal(fx->msgs[2].payload, "p", 1);
    assert_string_equal(fx->msgs[2].pattern, "prace:*");
}

static void test_command(void **state)
{
    open_bus_port(shared.port, NULL, NULL, NULL);
    WAIT(UP(), 3000);
    const char *set[3] = {"SET", "bus:key", "v\0w"};
    size_t set_len[3] = {3, 7, 3};
    command(3, set, set_len);
    assert_string_equal(fx->reply_text, "OK");
    const char *get[2] = {"GET", "bus:key"};
    command(2, get, NULL);
    assert_int_equal(fx->reply_type, REDIS_REPLY_STRING);
    assert_memory_equal(fx->reply_text, "v\0w", 3);
    const char *bad[1] = {"NOSUCHCOMMAND"};
    command(1, bad, NULL);
    assert_int_equal(fx->reply_type, REDIS_REPLY_ERROR);
    assert_int_equal(bus_command(fx->bus, 0, get, NULL, on_reply, fx), BUS_EINVAL);
}

static void test_command_when_down(void **state)
{
    int port = redis_srv_free_port(); /* nothing listens there */
    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 10;
    o.backoff_max_ms = 40;
    open_bus_port(port, NULL, NULL, &o);
    const char *ping[1] = {"PING"};
    assert_int_equal(bus_command(fx->bus, 1, ping, NULL, on_reply, fx), BUS_ENOTCONN);
    pause_ms(150);
    assert_int_equal(bus_command(fx->bus, 1, ping, NULL, on_reply, fx), BUS_ENOTCONN);
    pause_ms(20);
    assert_int_equal(fx->replies, 0); /* a refused call's callback never fires */
    bus_stats_t st;
    bus_stats(fx->bus, &st);
    assert_true(st.cmd.attempts >= 3); /* retried with backoff */
    assert_true(st.sub.attempts >= 3);
    assert_int_equal(st.cmd.connects, 0);
    assert_non_null(strstr(st.last_error, "failed"));
}

static void test_reconnect_and_queue(void **state)
{
    assert_int_equal(redis_srv_start(&own, NULL), 0);
    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 10;
    o.backoff_max_ms = 100;
    o.queue_max_msgs = 5;
    open_bus_port(own.port, NULL, NULL, &o);
    assert_int_equal(bus_subscribe(fx->bus, "rc", 2), 0);
    assert_int_equal(bus_psubscribe(fx->bus, "rp:*", 4), 0);
    WAIT(UP(), 3000);
    assert_true(UP());

    redis_srv_stop(&own);
    WAIT(fx->st[0] != BUS_CONNECTED && fx->st[1] != BUS_CONNECTED, 2000);
    assert_int_not_equal(fx->st[0], BUS_CONNECTED);
    assert_int_not_equal(fx->st[1], BUS_CONNECTED);
    pause_ms(50); /* a few failed attempts */
    char pl[8];
    for (int i = 1; i <= 7; i++) {
        snprintf(pl, sizeof pl, "q%d", i);
        assert_int_equal(bus_publish(fx->bus, "rc", 2, pl, strlen(pl)),
                         i <= 5 ? 0 : BUS_EQUEUEFULL);
    }
    bus_stats_t st;
    bus_stats(fx->bus, &st);
    assert_int_equal(st.queued, 5);
    assert_int_equal(st.queued_bytes, 5 * 4);
    assert_int_equal(st.dropped, 2);
    assert_true(st.last_error[0] != '\0'); /* "connection lost", then "connect ... failed" */

    /* Restart on the same port while the loop is paused, so an observer is subscribed before
     * the bus can reconnect and flush its queue. */
    assert_int_equal(redis_srv_start(&own, NULL), 0);
    redisContext *obs = redis_srv_connect(own.port);
    assert_non_null(obs);
    redisReply *r = redisCommand(obs, "SUBSCRIBE rc");
    assert_non_null(r);
    freeReplyObject(r);

    WAIT(UP(), 3000);
    assert_true(UP());
    const char *ping[1] = {"PING"}; /* its reply comes after those of the flushed PUBLISHes */
    command(1, ping, NULL);
    for (int i = 1; i <= 5; i++) {
        r = NULL;
        if (redisGetReply(obs, (void **)&r) != REDIS_OK || !r) {
            redisFree(obs);
            fail_msg("queued publish %d not delivered", i);
        }
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        snprintf(pl, sizeof pl, "q%d", i);
        assert_string_equal(r->element[2]->str, pl); /* in order */
        freeReplyObject(r);
    }
    redisFree(obs);

    /* The subscriber restored the channel and the pattern. */
    wait_numsub("rc", 1);
    assert_int_equal(bus_publish(fx->bus, "rc", 2, "after", 5), 0);
    assert_int_equal(bus_publish(fx->bus, "rp:1", 4, "pafter", 6), 0);
    /* Our own subscriber may also see some q* late, depending on which connection won. */
    WAIT(has_msg("after", 0) && has_msg("pafter", 1), 2000);
    assert_true(has_msg("after", 0));
    assert_true(has_msg("pafter", 1));

    bus_stats(fx->bus, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.reconnects, 2); /* each connection once */
    assert_int_equal(st.cmd.connects, 2);
    assert_int_equal(st.sub.connects, 2);
    assert_int_equal(st.dropped, 2);
}

static void test_auth_password(void **state)
{
    static const char *const extra[] = {"--requirepass", "s3cret", NULL};
    assert_int_equal(redis_srv_start(&own, extra), 0);

    /* Wrong password: an error state, retried, never a crash. */
    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 10;
    o.backoff_max_ms = 30;
    open_bus_port(own.port, ":wrong@", NULL, &o);
    WAIT(fx->auth_errors >= 4, 3000);
    assert_true(fx->auth_errors >= 4);
    assert_int_not_equal(fx->st[BUS_CONN_CMD], BUS_CONNECTED);
    bus_stats_t st;
    bus_stats(fx->bus, &st);
    assert_non_null(strstr(st.last_error, "AUTH refused"));
    assert_non_null(strstr(st.last_error, "WRONGPASS"));
    const char *ping[1] = {"PING"};
    assert_int_equal(bus_command(fx->bus, 1, ping, NULL, on_reply, fx), BUS_ENOTCONN);
    bus_close(fx->bus, on_closed, fx);
    WAIT(fx->closed, 2000);
    assert_true(fx->closed);

    /* The right one. */
    fx->closed = 0;
    fx->st[0] = fx->st[1] = BUS_DISCONNECTED;
    open_bus_port(own.port, ":s3cret@", NULL, NULL);
    assert_int_equal(bus_subscribe(fx->bus, "authed", 6), 0);
    WAIT(UP(), 3000);
    assert_true(UP());
    assert_int_equal(bus_publish(fx->bus, "authed", 6, "ok", 2), 0);
    WAIT(fx->nmsgs >= 1, 2000);
    assert_int_equal(fx->nmsgs, 1);
}

static void test_auth_acl_user(void **state)
{
    assert_int_equal(redis_srv_start(&own, NULL), 0);
    redisContext *c = redis_srv_connect(own.port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "ACL SETUSER alice on >w0nder ~* &* +@all");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);

    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 10;
    o.backoff_max_ms = 30;
    open_bus_port(own.port, "alice:nope@", NULL, &o);
    WAIT(fx->auth_errors >= 2, 3000);
    assert_true(fx->auth_errors >= 2);
    bus_close(fx->bus, on_closed, fx);
    WAIT(fx->closed, 2000);

    fx->closed = 0;
    fx->st[0] = fx->st[1] = BUS_DISCONNECTED;
    open_bus_port(own.port, "alice:w0nder@", NULL, NULL);
    assert_int_equal(bus_subscribe(fx->bus, "acl", 3), 0);
    WAIT(UP(), 3000);
    assert_true(UP());
    const char *argv[2] = {"ACL", "WHOAMI"};
    command(2, argv, NULL);
    assert_string_equal(fx->reply_text, "alice");
    assert_int_equal(bus_publish(fx->bus, "acl", 3, "hi", 2), 0);
    WAIT(fx->nmsgs >= 1, 2000);
    assert_int_equal(fx->nmsgs, 1);
}

static void test_select(void **state)
{
    open_bus_port(shared.port, NULL, "/3", NULL);
    assert_int_equal(bus_subscribe(fx->bus, "db3", 3), 0);
    WAIT(UP(), 3000);
    assert_true(UP());
    const char *info[2] = {"CLIENT", "INFO"};
    command(2, info, NULL);
    assert_non_null(strstr(fx->reply_text, " db=3 "));
    /* The subscriber selected it too. */
    const char *list[2] = {"CLIENT", "LIST"};
    command(2, list, NULL);
    int sub_in_db3 = 0;
    for (char *line = strtok(fx->reply_text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, " db=3 ") && strstr(line, "cmd=subscribe")) sub_in_db3 = 1;
    assert_true(sub_in_db3);

    const char *set[3] = {"SET", "bus:selected", "three"};
    command(3, set, NULL);
    redisContext *c = redis_srv_connect(shared.port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET bus:selected");
    assert_int_equal(r->type, REDIS_REPLY_NIL); /* not in db 0 */
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "SELECT 3"));
    r = redisCommand(c, "GET bus:selected");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "three");
    freeReplyObject(r);
    redisFree(c);
}

static void test_hostname(void **state)
{
    char url[64];
    snprintf(url, sizeof url, "redis://localhost:%d", shared.port);
    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 10;
    open_bus(url, &o);
    WAIT(UP(), 3000);
    assert_true(UP());
}

static void test_close_while_down(void **state)
{
    int port = redis_srv_free_port();
    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 5;
    open_bus_port(port, ":pw@", "/1", &o);
    assert_int_equal(bus_subscribe(fx->bus, "a", 1), 0);
    assert_int_equal(bus_psubscribe(fx->bus, "b*", 2), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(bus_publish(fx->bus, "a", 1, "queued", 6), 0);
    pause_ms(40);
    assert_int_equal(bus_close(fx->bus, on_closed, fx), 0);
    assert_false(fx->closed); /* done comes from the loop */
    assert_int_equal(bus_close(fx->bus, on_closed, fx), BUS_ECLOSED);
    WAIT(fx->closed, 2000);
    assert_true(fx->closed);

    /* Closed right after opening, before any attempt ran. */
    fx->closed = 0;
    open_bus_port(port, NULL, NULL, NULL);
    assert_int_equal(bus_close(fx->bus, on_closed, fx), 0);
    WAIT(fx->closed, 2000);
    assert_true(fx->closed);

    /* Closed while resolving a host name. */
    fx->closed = 0;
    open_bus("redis://localhost:1", NULL);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(bus_close(fx->bus, on_closed, fx), 0);
    WAIT(fx->closed, 2000);
    assert_true(fx->closed);
}

static void cmd_at_close(void *ud, int status, const struct redisReply *r)
{
    fx_t *f = ud;
    f->cmd_replies++;
    f->cmd_status_at_close = status;
    assert_null(r);
}

static void test_close_from_callback(void **state)
{
    open_bus_port(shared.port, NULL, NULL, NULL);
    assert_int_equal(bus_subscribe(fx->bus, "bye", 3), 0);
    WAIT(UP(), 3000);
    const char *argv[3] = {"BLPOP", "bus:nothing", "1"}; /* still pending at close */
    assert_int_equal(bus_command(fx->bus, 3, argv, NULL, cmd_at_close, fx), 0);
    fx->close_in_message = 1;
    assert_int_equal(bus_publish(fx->bus, "bye", 3, "now", 3), 0);
    WAIT(fx->closed, 2000);
    assert_true(fx->closed);
    assert_int_equal(fx->cmd_replies, 1);
    assert_int_equal(fx->cmd_status_at_close, BUS_ECLOSED);
    /* teardown runs the loop until the bus's handles are closed and freed */
}

/* Runs bus_command_replicated and waits for its callback (left in fx->reply_*). */
static void replicated(const char *key, unsigned replicas, uint32_t timeout_ms, int argc,
                       const char *const *argv)
{
    int before = fx->replies;
    assert_int_equal(bus_command_replicated(fx->bus, key, strlen(key), replicas, timeout_ms, argc,
                                            argv, NULL, on_reply, fx),
                     0);
    WAIT(fx->replies > before, 3000);
    assert_int_equal(fx->replies, before + 1);
}

/* A write no replica acknowledges: BUS_EREPLICAS, with the command's own reply (it ran). */
static void test_replicated_without_replica(void **state)
{
    assert_int_equal(redis_srv_start(&own, NULL), 0);
    open_bus_port(own.port, NULL, NULL, NULL);
    WAIT(UP(), 3000);
    const char *set[3] = {"SET", "bus:w", "1"};
    replicated("bus:w", 1, 50, 3, set);
    assert_int_equal(fx->reply_status, BUS_EREPLICAS);
    assert_int_equal(fx->reply_type, REDIS_REPLY_STATUS);
    assert_string_equal(fx->reply_text, "OK");
    const char *get[2] = {"GET", "bus:w"};
    command(2, get, NULL);
    assert_string_equal(fx->reply_text, "1"); /* stored on the primary all the same */
    /* 0 replicas is bus_command_key: no WAIT */
    replicated("bus:w", 0, 50, 3, set);
    assert_int_equal(fx->reply_status, 0);
    assert_string_equal(fx->reply_text, "OK");
}

/* An error reply of the command comes back at once, status 0: nothing was written, so its
 * WAIT is not waited for. That WAIT has timeout 0 (Redis: forever) and no replica exists,
 * so a callback that waited for it would never fire; bus_close ends it in teardown. */
static void test_replicated_error_reply(void **state)
{
    assert_int_equal(redis_srv_start(&own, NULL), 0);
    open_bus_port(own.port, NULL, NULL, NULL);
    WAIT(UP(), 3000);
    const char *push[3] = {"RPUSH", "bus:list", "x"};
    command(3, push, NULL);
    const char *set[4] = {"SETRANGE", "bus:list", "0", "y"}; /* a string command on a list */
    replicated("bus:list", 1, 0, 4, set);
    assert_int_equal(fx->reply_status, 0);
    assert_int_equal(fx->reply_type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(fx->reply_text, "WRONGTYPE"));
}

/* With a replica attached the same write is acknowledged: status 0 and the command's reply. */
static void test_replicated_with_replica(void **state)
{
    assert_int_equal(redis_srv_start(&own, NULL), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", own.port);
    const char *extra[] = {"--replicaof", "127.0.0.1", port, NULL};
    assert_int_equal(redis_srv_start(&own_replica, extra), 0);
    redisContext *c = redis_srv_connect(own.port);
    assert_non_null(c);
    int online = 0;
    for (int i = 0; i < 3000 && !online; i++) { /* up to 30 s: a first sync on a loaded machine */
        redisReply *r = redisCommand(c, "INFO replication");
        online = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "slave0:") &&
                 strstr(r->str, "state=online");
        freeReplyObject(r);
        if (!online) usleep(10000);
    }
    redisFree(c);
    assert_true(online);
    open_bus_port(own.port, NULL, NULL, NULL);
    WAIT(UP(), 3000);
    const char *set[3] = {"SET", "bus:w", "2"};
    replicated("bus:w", 1, 2000, 3, set);
    assert_int_equal(fx->reply_status, 0);
    assert_string_equal(fx->reply_text, "OK");
    /* more replicas than there are: too few acknowledged */
    replicated("bus:w", 2, 50, 3, set);
    assert_int_equal(fx->reply_status, BUS_EREPLICAS);
    assert_string_equal(fx->reply_text, "OK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_pubsub_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe_stops_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubscribe_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_when_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_and_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_acl_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostname, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicated_without_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicated_error_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicated_with_replica, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
