/* Tests for proto/runtime/bus_cluster.c and rconn.c, through bus.h, against a real Redis
 * Cluster: six redis-server processes (three primaries, three replicas, cluster-node-timeout
 * 1000) on free ports (redis_srv.h), joined by redis-cli --cluster create once for the file and
 * stopped at its end. Routing by slot, MOVED after a slot migration, ASK during one, sharded and
 * classic pub/sub, a subscribed shard channel whose slot moves, commands followed by WAIT, close
 * with commands in flight, a primary's failover (last: it leaves a node dead); then sharded
 * pub/sub on one redis-server. The tests read the cluster's layout with blocking hiredis calls
 * and never assume which node redis-cli made a primary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bus.h"
#include "redis_cluster.h"
#include "redis_srv.h"
#include "redis_url.h"

#include <hiredis/hiredis.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES 6

static redis_srv_t nodes[NODES]; /* the cluster, for the whole file */
static redis_srv_t single;       /* one server, started by a test, stopped by its teardown */

/* --- loop fixture --- */

typedef struct {
    char channel[64], payload[64];
} msg_t;

typedef struct {
    bus_t *bus;
    int close_in_message; /* on_message calls bus_close */
    int closed;           /* times its done callback fired */
    bus_state_t st[2];
    msg_t msgs[64];
    int nmsgs;
} peer_t;

typedef struct {
    int n; /* times the callback fired */
    int status, type;
    long long integer;
    char text[256];
} reply_t;

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop so WAIT can check its condition */
    peer_t a, b;
    reply_t r;               /* the reply of the command last waited for */
    reply_t many[32];        /* replies of commands in flight together */
    pid_t paused;            /* a node stopped with SIGSTOP, resumed by teardown */
    int migrating;           /* a slot in MIGRATING/IMPORTING, made stable by teardown */
    unsigned migrating_slot; /* that slot */
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

/* Lets time pass: the loop runs when there is one, so the buses keep working meanwhile. */
static void pause_ms(int ms)
{
    if (fx)
        WAIT(0, (uint64_t)ms);
    else
        usleep((useconds_t)ms * 1000);
}

static void on_tick(uv_timer_t *t)
{
}

static void on_closed(void *ud);

static void on_message(void *ud, const char *ch, size_t clen, const char *pattern,
                       const char *payload, size_t plen)
{
    peer_t *p = ud;
    if (p->nmsgs < 64) {
        msg_t *m = &p->msgs[p->nmsgs];
        snprintf(m->channel, sizeof m->channel, "%.*s", (int)(clen < 63 ? clen : 63), ch);
        snprintf(m->payload, sizeof m->payload, "%.*s", (int)(plen < 63 ? plen : 63), payload);
    }
    p->nmsgs++;
    if (p->close_in_message) {
        p->close_in_message = 0;
        assert_int_equal(bus_close(p->bus, on_closed, p), 0);
        assert_int_equal(bus_spublish(p->bus, "x", 1, "y", 1), BUS_ECLOSED);
    }
}

static void on_state(void *ud, bus_conn_t conn, bus_state_t state, int err)
{
    ((peer_t *)ud)->st[conn] = state;
}

static void on_closed(void *ud)
{
    ((peer_t *)ud)->closed++;
}

static void on_reply(void *ud, int status, const struct redisReply *r)
{
    reply_t *o = ud;
    o->n++;
    o->status = status;
    o->type = r ? r->type : 0;
    o->integer = -1;
    o->text[0] = '\0';
    if (!r) return;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR)
        snprintf(o->text, sizeof o->text, "%.*s", (int)r->len, r->str);
    else if (r->type == REDIS_REPLY_INTEGER)
        o->integer = r->integer;
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[1]->type == REDIS_REPLY_INTEGER)
        o->integer = r->element[1]->integer; /* PUBSUB (SHARD)NUMSUB chan n */
}

#define UP(p) ((p)->st[BUS_CONN_CMD] == BUS_CONNECTED && (p)->st[BUS_CONN_SUB] == BUS_CONNECTED)

static void peer_open(peer_t *p, const char *url_text, int sharded)
{
    redis_url_t url;
    char err[128];
    assert_int_equal(redis_url_parse(url_text, &url, err, sizeof err), 0);
    bus_options_t o;
    bus_options_init(&o);
    o.backoff_initial_ms = 20;
    o.backoff_max_ms = 200;
    o.sharded = sharded;
    o.on_message = on_message;
    o.on_state = on_state;
    o.ud = p;
    assert_int_equal(bus_open(&p->bus, &fx->loop, &url, &o), 0);
    redis_url_free(&url);
}

/* A bus on the cluster, every live node a seed. */
static void cluster_open(peer_t *p)
{
    char url[512] = "redis+cluster://";
    size_t n = strlen(url);
    for (int i = 0; i < NODES; i++)
        if (nodes[i].pid > 0)
            n += (size_t)snprintf(url + n, sizeof url - n, "%s127.0.0.1:%d",
                                  url[n - 1] == '/' ? "" : ",", nodes[i].port);
    peer_open(p, url, 0);
}

static void peer_close(peer_t *p)
{
    if (!p->bus) return;
    int before = p->closed;
    bus_close(p->bus, on_closed, p);
    WAIT(p->closed > before, 3000);
    p->bus = NULL;
}

/* Runs a command about key through the bus and waits for its callback (left in fx->r). */
static void key_cmd(peer_t *p, const char *key, int argc, const char *const *argv)
{
    memset(&fx->r, 0, sizeof fx->r);
    assert_int_equal(bus_command_key(p->bus, key, strlen(key), argc, argv, NULL, on_reply, &fx->r),
                     0);
    WAIT(fx->r.n > 0, 5000);
    assert_int_equal(fx->r.n, 1);
}

static void shard_cmd(peer_t *p, size_t shard, int argc, const char *const *argv)
{
    memset(&fx->r, 0, sizeof fx->r);
    assert_int_equal(bus_command_shard(p->bus, shard, argc, argv, NULL, on_reply, &fx->r), 0);
    WAIT(fx->r.n > 0, 5000);
    assert_int_equal(fx->r.n, 1);
    assert_int_equal(fx->r.status, 0);
}

static void replicated(peer_t *p, const char *key, unsigned replicas, uint32_t timeout_ms, int argc,
                       const char *const *argv)
{
    memset(&fx->r, 0, sizeof fx->r);
    assert_int_equal(bus_command_replicated(p->bus, key, strlen(key), replicas, timeout_ms, argc,
                                            argv, NULL, on_reply, &fx->r),
                     0);
    WAIT(fx->r.n > 0, 5000);
    assert_int_equal(fx->r.n, 1);
}

/* How many messages with this channel and payload p received. */
static int count_msg(const peer_t *p, const char *ch, const char *payload)
{
    int n = 0;
    for (int i = 0; i < p->nmsgs && i < 64; i++)
        n += strcmp(p->msgs[i].channel, ch) == 0 && strcmp(p->msgs[i].payload, payload) == 0;
    return n;
}

/* --- the cluster's layout, read with blocking calls --- */

typedef struct {
    char id[41];
    int port;
    int master;  /* flagged master */
    int failing; /* flagged fail or fail? */
    char master_id[41];
} topo_node_t;

typedef struct {
    topo_node_t n[NODES + 2];
    int count;        /* nodes known */
    int unstable;     /* a node in handshake, or a slot migrating or importing */
    int owner[16384]; /* the port of the slot's primary, 0 when none */
} topo_t;

static topo_t topo_ref, topo_tmp; /* 64 KiB each: not on the stack */

static int live_port(int port)
{
    for (int i = 0; i < NODES; i++)
        if (nodes[i].pid > 0 && nodes[i].port == port) return 1;
    return 0;
}

/* A blocking command; the reply (NULL when the node did not answer) is the caller's. */
static redisReply *sync_cmd(int port, const char *fmt, ...)
{
    redisContext *c = redis_srv_connect(port);
    if (!c) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

#define SYNC_OK(port, ...)                                                                         \
    do {                                                                                           \
        redisReply *r_ = sync_cmd(port, __VA_ARGS__);                                              \
        assert_non_null(r_);                                                                       \
        if (r_->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", #__VA_ARGS__, r_->str);              \
        freeReplyObject(r_);                                                                       \
    } while (0)

/* CLUSTER NODES as the node on port sees it. Returns 0, or -1 when it did not answer. */
static int topo_read_from(int port, topo_t *t)
{
    memset(t, 0, sizeof *t);
    redisReply *r = sync_cmd(port, "CLUSTER NODES");
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }
    char *save_line = NULL;
    for (char *line = strtok_r(r->str, "\n", &save_line); line;
         line = strtok_r(NULL, "\n", &save_line)) {
        if (t->count == NODES + 2) break;
        topo_node_t *n = &t->n[t->count++];
        char *save = NULL, *tok;
        int field = 0;
        for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
            if (field == 0) {
                snprintf(n->id, sizeof n->id, "%s", tok);
            } else if (field == 1) {
                char *at = strchr(tok, '@');
                if (at) *at = '\0';
                char *colon = strrchr(tok, ':');
                n->port = colon ? atoi(colon + 1) : 0;
            } else if (field == 2) {
                n->master = strstr(tok, "master") != NULL;
                n->failing = strstr(tok, "fail") != NULL;
                if (strstr(tok, "handshake") || strstr(tok, "noaddr")) t->unstable = 1;
            } else if (field == 3) {
                snprintf(n->master_id, sizeof n->master_id, "%s", tok);
            } else if (field >= 8) {
                if (tok[0] == '[') {
                    t->unstable = 1;
                    continue;
                }
                int lo = atoi(tok), hi = lo;
                char *dash = strchr(tok, '-');
                if (dash) hi = atoi(dash + 1);
                for (int s = lo; s <= hi && s < 16384; s++) t->owner[s] = n->port;
            }
        }
    }
    freeReplyObject(r);
    return 0;
}

/* 1 when every live node says cluster_state:ok, knows every node, sees no live node failing
 * and no slot unowned or migrating, agrees with the others on every slot's owner, and (for a
 * replica) has its link to its primary up. The first live node's view is left in topo_ref. */
static int cluster_healthy(void)
{
    int have_ref = 0;
    for (int i = 0; i < NODES; i++) {
        if (nodes[i].pid <= 0) continue;
        redisReply *r = sync_cmd(nodes[i].port, "CLUSTER INFO");
        int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
        freeReplyObject(r);
        if (!ok) return 0;
        r = sync_cmd(nodes[i].port, "INFO replication");
        ok = r && r->type == REDIS_REPLY_STRING &&
             (strstr(r->str, "role:master") || strstr(r->str, "master_link_status:up"));
        freeReplyObject(r);
        if (!ok) return 0;
        topo_t *v = have_ref ? &topo_tmp : &topo_ref;
        if (topo_read_from(nodes[i].port, v) != 0 || v->count != NODES || v->unstable) return 0;
        for (int k = 0; k < v->count; k++)
            if (v->n[k].failing && live_port(v->n[k].port)) return 0;
        for (int s = 0; s < 16384; s++)
            if (!v->owner[s] || (have_ref && v->owner[s] != topo_ref.owner[s])) return 0;
        have_ref = 1;
    }
    return have_ref;
}

/* Waits (up to ms) for cluster_healthy; returns its last answer. */
static int wait_healthy(int ms)
{
    uint64_t dl = now_ms() + (uint64_t)ms;
    for (;;) {
        if (cluster_healthy()) return 1;
        if (now_ms() >= dl) return 0;
        pause_ms(50);
    }
}

static const topo_node_t *topo_node(const topo_t *t, int port)
{
    for (int k = 0; k < t->count; k++)
        if (t->n[k].port == port) return &t->n[k];
    return NULL;
}

/* The ports of the primaries owning slots, in ascending order; returns how many. */
static int primaries(const topo_t *t, int out[NODES])
{
    int n = 0;
    for (int k = 0; k < t->count; k++) {
        int owns = 0;
        for (int s = 0; s < 16384 && !owns; s++) owns = t->owner[s] == t->n[k].port;
        if (!owns) continue;
        int j = n++;
        while (j > 0 && out[j - 1] > t->n[k].port) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = t->n[k].port;
    }
    return n;
}

/* The port of a live replica of the primary on port, or 0. */
static int replica_of(const topo_t *t, int port)
{
    const topo_node_t *p = topo_node(t, port);
    for (int k = 0; p && k < t->count; k++)
        if (strcmp(t->n[k].master_id, p->id) == 0 && live_port(t->n[k].port)) return t->n[k].port;
    return 0;
}

static redis_srv_t *node_on(int port)
{
    for (int i = 0; i < NODES; i++)
        if (nodes[i].port == port) return &nodes[i];
    return NULL;
}

/* Writes to out a name "<prefix><n>" whose slot the primary on port owns. */
static void name_on(const topo_t *t, int port, const char *prefix, char *out, size_t size)
{
    for (int n = 0; n < 100000; n++) {
        snprintf(out, size, "%s%d", prefix, n);
        if (t->owner[redis_cluster_slot(out, strlen(out))] == port) return;
    }
    fail_msg("no name with prefix %s on port %d", prefix, port);
}

/* A primary other than the one on port. */
static int other_primary(const topo_t *t, int port)
{
    int p[NODES];
    int n = primaries(t, p);
    for (int i = 0; i < n; i++)
        if (p[i] != port) return p[i];
    fail_msg("no other primary");
    return 0;
}

/* The bus's shard index of the primary on port, or -1. */
static long shard_of(const peer_t *p, int port)
{
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    for (size_t i = 0; i < bus_shards(p->bus); i++) {
        const char *a = bus_shard_addr(p->bus, i);
        if (a && strcmp(a, want) == 0) return (long)i;
    }
    return -1;
}

/* PUBSUB SHARDNUMSUB ch asked of the node on port, or -1. */
static long long shardnumsub(int port, const char *ch)
{
    redisReply *r = sync_cmd(port, "PUBSUB SHARDNUMSUB %s", ch);
    long long n = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                          r->element[1]->type == REDIS_REPLY_INTEGER
                      ? r->element[1]->integer
                      : -1;
    freeReplyObject(r);
    return n;
}

/* Waits until the node on port counts want shard subscribers of ch. */
static void wait_shardnumsub(int port, const char *ch, long long want)
{
    uint64_t dl = now_ms() + 10000;
    while (shardnumsub(port, ch) != want && now_ms() < dl) pause_ms(20);
    assert_int_equal(shardnumsub(port, ch), want);
}

/* Starts moving slot to the primary on port to (Redis Cluster specification, "Cluster live
 * reconfiguration"): IMPORTING on the target, then MIGRATING on the source. */
static void migration_start(unsigned slot, int from, int to)
{
    char from_id[41], to_id[41];
    snprintf(from_id, sizeof from_id, "%s", topo_node(&topo_ref, from)->id);
    snprintf(to_id, sizeof to_id, "%s", topo_node(&topo_ref, to)->id);
    fx->migrating = 1;
    fx->migrating_slot = slot;
    SYNC_OK(to, "CLUSTER SETSLOT %u IMPORTING %s", slot, from_id);
    SYNC_OK(from, "CLUSTER SETSLOT %u MIGRATING %s", slot, to_id);
}

/* Moves slot with its keys to the primary on port to, and waits until every node agrees. */
static void move_slot(unsigned slot, int to)
{
    assert_true(wait_healthy(10000));
    int from = topo_ref.owner[slot];
    assert_int_not_equal(from, to);
    char to_id[41];
    snprintf(to_id, sizeof to_id, "%s", topo_node(&topo_ref, to)->id);
    int masters[NODES];
    int n_masters = primaries(&topo_ref, masters);
    migration_start(slot, from, to);
    for (;;) {
        redisReply *r = sync_cmd(from, "CLUSTER GETKEYSINSLOT %u 100", slot);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++)
            SYNC_OK(from, "MIGRATE 127.0.0.1 %d %b 0 5000", to, r->element[i]->str,
                    r->element[i]->len);
        freeReplyObject(r);
        if (n == 0) break;
    }
    SYNC_OK(to, "CLUSTER SETSLOT %u NODE %s", slot, to_id);
    SYNC_OK(from, "CLUSTER SETSLOT %u NODE %s", slot, to_id);
    for (int i = 0; i < n_masters; i++)
        if (masters[i] != from && masters[i] != to)
            SYNC_OK(masters[i], "CLUSTER SETSLOT %u NODE %s", slot, to_id);
    fx->migrating = 0;
    assert_true(wait_healthy(10000));
    assert_int_equal(topo_ref.owner[slot], to);
}

/* --- fixtures --- */

static int setup(void **state)
{
    fx = calloc(1, sizeof *fx);
    uv_loop_init(&fx->loop);
    uv_timer_init(&fx->loop, &fx->tick);
    uv_timer_start(&fx->tick, on_tick, 2, 2);
    *state = fx;
    return 0;
}

/* A cluster test starts on a healthy cluster, its layout in topo_ref. */
static int setup_cluster(void **state)
{
    setup(state);
    return wait_healthy(20000) ? 0 : -1;
}

static int teardown(void **state)
{
    if (fx->paused > 0) kill(fx->paused, SIGCONT);
    if (fx->migrating)
        for (int i = 0; i < NODES; i++)
            if (nodes[i].pid > 0) {
                redisReply *r =
                    sync_cmd(nodes[i].port, "CLUSTER SETSLOT %u STABLE", fx->migrating_slot);
                freeReplyObject(r);
            }
    peer_close(&fx->a);
    peer_close(&fx->b);
    uv_close((uv_handle_t *)&fx->tick, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&fx->loop);
    free(fx);
    fx = NULL;
    redis_srv_cleanup(&single);
    return rc == 0 ? 0 : -1;
}

/* redis-cli --cluster create over the six nodes; returns its exit status (-1: it did not end
 * within 30 s). */
static int cluster_create(void)
{
    char addrs[NODES][32];
    const char *argv[NODES + 8] = {"redis-cli", "--cluster", "create"};
    int n = 3;
    for (int i = 0; i < NODES; i++) {
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", nodes[i].port);
        argv[n++] = addrs[i];
    }
    argv[n++] = "--cluster-replicas";
    argv[n++] = "1";
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp("redis-cli", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 3000; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    static const char *const extra[] = {"--cluster-node-timeout", "1000",
                                        "--cluster-allow-replica-migration", "no", NULL};
    for (int i = 0; i < NODES; i++) {
        nodes[i].cluster = 1;
        if (redis_srv_start(&nodes[i], extra) != 0) return -1;
    }
    if (cluster_create() != 0) return -1;
    return wait_healthy(20000) ? 0 : -1;
}

static int group_teardown(void **state)
{
    for (int i = 0; i < NODES; i++) redis_srv_cleanup(&nodes[i]);
    redis_srv_cleanup(&single);
    return 0;
}

/* --- tests --- */

/* Both connections come up; the shards are the cluster's three primaries. */
static void test_connect_and_shards(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    cluster_open(&fx->a);
    WAIT(UP(&fx->a), 5000);
    assert_true(UP(&fx->a));
    assert_int_equal(bus_state(fx->a.bus, BUS_CONN_CMD), BUS_CONNECTED);
    assert_int_equal(bus_state(fx->a.bus, BUS_CONN_SUB), BUS_CONNECTED);
    assert_int_equal(bus_shards(fx->a.bus), 3);
    int seen[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        long s = shard_of(&fx->a, p[i]);
        assert_true(s >= 0);
        assert_false(seen[s]);
        seen[s] = 1;
    }
    assert_null(bus_shard_addr(fx->a.bus, 3));
    bus_stats_t st;
    bus_stats(fx->a.bus, &st);
    assert_int_equal(st.shards, 3);
    assert_true(st.map_refreshes >= 1);
    assert_int_equal(st.cmd.state, BUS_CONNECTED);
    assert_int_equal(st.sub.state, BUS_CONNECTED);
}

/* A key of each primary's slots goes straight to that primary: no redirect. */
static void test_routes_by_slot(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    cluster_open(&fx->a);
    WAIT(UP(&fx->a), 5000);
    for (int i = 0; i < 3; i++) {
        char key[32], val[32];
        name_on(&topo_ref, p[i], "route:", key, sizeof key);
        snprintf(val, sizeof val, "on %d", p[i]);
        const char *set[3] = {"SET", key, val};
        key_cmd(&fx->a, key, 3, set);
        assert_int_equal(fx->r.status, 0);
        assert_string_equal(fx->r.text, "OK");
        const char *get[2] = {"GET", key};
        key_cmd(&fx->a, key, 2, get);
        assert_int_equal(fx->r.status, 0);
        assert_int_equal(fx->r.type, REDIS_REPLY_STRING);
        assert_string_equal(fx->r.text, val);
        redisReply *r = sync_cmd(p[i], "GET %s", key); /* the owner has it */
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, val);
        freeReplyObject(r);
    }
    bus_stats_t st;
    bus_stats(fx->a.bus, &st);
    assert_int_equal(st.moved, 0);
    assert_int_equal(st.asked, 0);
    assert_int_equal(st.retried, 0);
}

/* After a slot moves, the first command is redirected (MOVED) and the map is read again; the
 * next command goes straight to the new owner. */
static void test_moved(void **state)
{
    const char *key = "{moved}k";
    unsigned slot = redis_cluster_slot(key, strlen(key));
    int from = topo_ref.owner[slot];
    int to = other_primary(&topo_ref, from);
    cluster_open(&fx->a);
    WAIT(UP(&fx->a), 5000);
    const char *set[3] = {"SET", key, "kept"};
    key_cmd(&fx->a, key, 3, set);
    assert_string_equal(fx->r.text, "OK");

    move_slot(slot, to);
    bus_stats_t st;
    bus_stats(fx->a.bus, &st);
    assert_int_equal(st.moved, 0);
    uint64_t refreshes = st.map_refreshes;

    const char *get[2] = {"GET", key};
    key_cmd(&fx->a, key, 2, get);
    assert_int_equal(fx->r.status, 0);
    assert_int_equal(fx->r.type, REDIS_REPLY_STRING);
    assert_string_equal(fx->r.text, "kept"); /* migrated with its slot */
    bus_stats(fx->a.bus, &st);
    assert_true(st.moved >= 1);
    uint64_t moved = st.moved;

    WAIT((bus_stats(fx->a.bus, &st), st.map_refreshes > refreshes), 5000);
    assert_true(st.map_refreshes > refreshes);
    key_cmd(&fx->a, key, 2, get);
    assert_int_equal(fx->r.status, 0);
    assert_string_equal(fx->r.text, "kept");
    bus_stats(fx->a.bus, &st);
    assert_int_equal(st.moved, moved);
}

/* While a slot migrates, a key still on the source is served there; a key that is not gets
 * ASK and is answered by the target. */
static void test_ask(void **state)
{
    const char *here = "{ask}here", *gone = "{ask}gone";
    unsigned slot = redis_cluster_slot(here, strlen(here));
    int from = topo_ref.owner[slot];
    int to = other_primary(&topo_ref, from);
    cluster_open(&fx->a);
    WAIT(UP(&fx->a), 5000);
    const char *set[3] = {"SET", here, "v"};
    key_cmd(&fx->a, here, 3, set);
    assert_string_equal(fx->r.text, "OK");

    migration_start(slot, from, to);
    const char *get_here[2] = {"GET", here};
    key_cmd(&fx->a, here, 2, get_here);
    assert_int_equal(fx->r.status, 0);
    assert_string_equal(fx->r.text, "v");
    bus_stats_t st;
    bus_stats(fx->a.bus, &st);
    assert_int_equal(st.asked, 0);

    const char *get_gone[2] = {"GET", gone};
    key_cmd(&fx->a, gone, 2, get_gone);
    assert_int_equal(fx->r.status, 0);
    assert_int_equal(fx->r.type, REDIS_REPLY_NIL);
    bus_stats(fx->a.bus, &st);
    assert_true(st.asked >= 1);
    assert_int_equal(st.moved, 0);
    /* the map did not change: the next command for the source's key goes there again */
    key_cmd(&fx->a, here, 2, get_here);
    assert_string_equal(fx->r.text, "v");
    bus_stats_t st2;
    bus_stats(fx->a.bus, &st2);
    assert_int_equal(st2.asked, st.asked);
    assert_int_equal(st2.moved, 0);
    /* both keys in one command: TRYAGAIN while the slot migrates, retried for a while, then
     * BUS_ECLUSTER */
    const char *mget[3] = {"MGET", here, gone};
    key_cmd(&fx->a, here, 3, mget);
    assert_int_equal(fx->r.status, BUS_ECLUSTER);
    assert_int_equal(fx->r.type, 0);
    bus_stats(fx->a.bus, &st2);
    assert_true(st2.retried >= 1);
    /* teardown makes the slot stable again */
}

/* Shard channels on each of the three shards: each message once, counted by the owning
 * primary, none after SUNSUBSCRIBE; classic pub/sub on the cluster too. */
static void test_sharded_pubsub(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    cluster_open(&fx->a);
    cluster_open(&fx->b);
    char ch[3][32];
    for (int i = 0; i < 3; i++) {
        name_on(&topo_ref, p[i], "sch:", ch[i], sizeof ch[i]);
        assert_int_equal(bus_ssubscribe(fx->a.bus, ch[i], strlen(ch[i])), 0);
    }
    WAIT(UP(&fx->a) && UP(&fx->b), 5000);
    assert_true(UP(&fx->a));
    assert_true(UP(&fx->b));

    for (int i = 0; i < 3; i++) {
        long own = shard_of(&fx->a, p[i]);
        assert_true(own >= 0);
        for (size_t s = 0; s < bus_shards(fx->a.bus); s++) {
            const char *argv[3] = {"PUBSUB", "SHARDNUMSUB", ch[i]};
            shard_cmd(&fx->b, s, 3, argv);
            /* the buses agree on the shard order only by chance: ask by address */
            long bs = shard_of(&fx->b, p[i]);
            assert_int_equal(fx->r.integer, (long)s == bs ? 1 : 0);
        }
        assert_int_equal(shardnumsub(p[i], ch[i]), 1);
    }

    for (int i = 0; i < 3; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "m%d", i);
        assert_int_equal(bus_spublish(fx->b.bus, ch[i], strlen(ch[i]), pl, strlen(pl)), 0);
    }
    WAIT(fx->a.nmsgs >= 3, 3000);
    pause_ms(50);
    assert_int_equal(fx->a.nmsgs, 3);
    assert_int_equal(fx->b.nmsgs, 0);
    for (int i = 0; i < 3; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "m%d", i);
        assert_int_equal(count_msg(&fx->a, ch[i], pl), 1);
    }

    assert_int_equal(bus_sunsubscribe(fx->a.bus, ch[0], strlen(ch[0])), 0);
    wait_shardnumsub(p[0], ch[0], 0);
    assert_int_equal(bus_spublish(fx->b.bus, ch[0], strlen(ch[0]), "after0", 6), 0);
    assert_int_equal(bus_spublish(fx->b.bus, ch[1], strlen(ch[1]), "after1", 6), 0);
    WAIT(count_msg(&fx->a, ch[1], "after1") == 1, 3000);
    pause_ms(50);
    assert_int_equal(count_msg(&fx->a, ch[1], "after1"), 1);
    assert_int_equal(count_msg(&fx->a, ch[0], "after0"), 0);
    assert_int_equal(fx->a.nmsgs, 4);

    /* Classic: the subscriber sits on one node; PUBLISH on any node reaches it. */
    assert_int_equal(bus_subscribe(fx->a.bus, "classic", 7), 0);
    uint64_t dl = now_ms() + 5000;
    long long subs = 0;
    do {
        subs = 0;
        for (int i = 0; i < NODES; i++) {
            redisReply *r = sync_cmd(nodes[i].port, "PUBSUB NUMSUB classic");
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
                subs += r->element[1]->integer;
            freeReplyObject(r);
        }
        if (subs != 1) pause_ms(20);
    } while (subs != 1 && now_ms() < dl);
    assert_int_equal(subs, 1);
    assert_int_equal(bus_publish(fx->b.bus, "classic", 7, "c-bus", 5), 0);
    for (int i = 0; i < NODES; i++) SYNC_OK(nodes[i].port, "PUBLISH classic c-%d", i);
    WAIT(fx->a.nmsgs >= 4 + 1 + NODES, 3000);
    pause_ms(50);
    assert_int_equal(fx->a.nmsgs, 4 + 1 + NODES);
    assert_int_equal(count_msg(&fx->a, "classic", "c-bus"), 1);
    for (int i = 0; i < NODES; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "c-%d", i);
        assert_int_equal(count_msg(&fx->a, "classic", pl), 1);
    }
}

/* The slot of a subscribed shard channel moves: the old owner unsubscribes the bus; the bus
 * subscribes on the new owner and messages arrive again. */
static void test_shard_channel_slot_moves(void **state)
{
    const char *ch = "{mvsub}ch";
    unsigned slot = redis_cluster_slot(ch, strlen(ch));
    int from = topo_ref.owner[slot];
    int to = other_primary(&topo_ref, from);
    cluster_open(&fx->a);
    cluster_open(&fx->b);
    assert_int_equal(bus_ssubscribe(fx->a.bus, ch, strlen(ch)), 0);
    WAIT(UP(&fx->a) && UP(&fx->b), 5000);
    assert_true(UP(&fx->a));
    assert_int_equal(shardnumsub(from, ch), 1);
    assert_int_equal(bus_spublish(fx->b.bus, ch, strlen(ch), "before", 6), 0);
    WAIT(fx->a.nmsgs >= 1, 3000);
    assert_int_equal(count_msg(&fx->a, ch, "before"), 1);

    move_slot(slot, to);
    wait_shardnumsub(to, ch, 1);
    assert_int_equal(shardnumsub(from, ch), 0);
    WAIT(UP(&fx->a), 5000);
    assert_true(UP(&fx->a));
    assert_int_equal(bus_spublish(fx->b.bus, ch, strlen(ch), "after", 5), 0);
    WAIT(count_msg(&fx->a, ch, "after") >= 1, 3000);
    pause_ms(50);
    assert_int_equal(count_msg(&fx->a, ch, "after"), 1);
    assert_int_equal(fx->a.nmsgs, 2);
}

/* WAIT behind a write: acknowledged by the primary's replica, BUS_EREPLICAS while that replica
 * is stopped. */
static void test_replicated(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    int replica = replica_of(&topo_ref, p[0]);
    assert_true(replica > 0);
    char key[32];
    name_on(&topo_ref, p[0], "wait:", key, sizeof key);
    cluster_open(&fx->a);
    WAIT(UP(&fx->a), 5000);
    const char *set[3] = {"SET", key, "1"};
    replicated(&fx->a, key, 1, 3000, 3, set);
    assert_int_equal(fx->r.status, 0);
    assert_string_equal(fx->r.text, "OK");

    fx->paused = node_on(replica)->pid;
    assert_int_equal(kill(fx->paused, SIGSTOP), 0);
    const char *set2[3] = {"SET", key, "2"};
    replicated(&fx->a, key, 1, 200, 3, set2);
    assert_int_equal(fx->r.status, BUS_EREPLICAS);
    assert_int_equal(fx->r.type, REDIS_REPLY_STATUS);
    assert_string_equal(fx->r.text, "OK"); /* the write ran on the primary */
    kill(fx->paused, SIGCONT);
    fx->paused = 0;
    redisReply *r = sync_cmd(p[0], "GET %s", key);
    assert_non_null(r);
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
}

/* bus_close with commands in flight on every shard: each callback once with BUS_ECLOSED, done
 * once, nothing leaked (the sanitizer build checks that at exit). */
static void test_close_in_flight(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    cluster_open(&fx->a);
    assert_int_equal(bus_ssubscribe(fx->a.bus, "closing", 7), 0);
    assert_int_equal(bus_subscribe(fx->a.bus, "closing", 7), 0);
    WAIT(UP(&fx->a), 5000);
    int n = 0;
    const char *here = "{close}here";
    unsigned slot = redis_cluster_slot(here, strlen(here));
    int owner = topo_ref.owner[slot];
    const char *set_here[3] = {"SET", here, "v"};
    key_cmd(&fx->a, here, 3, set_here);
    assert_string_equal(fx->r.text, "OK");
    migration_start(slot, owner, other_primary(&topo_ref, owner));

    /* the other two primaries: commands blocked on the server until the close */
    char keys[3][32];
    int other = 0;
    for (int i = 0; i < 3; i++) {
        if (p[i] == owner) continue;
        other = p[i];
        name_on(&topo_ref, p[i], "blpop:", keys[i], sizeof keys[i]);
        const char *argv[3] = {"BLPOP", keys[i], "5"};
        assert_int_equal(bus_command_key(fx->a.bus, keys[i], strlen(keys[i]), 3, argv, NULL,
                                         on_reply, &fx->many[n++]),
                         0);
    }
    /* a write whose WAIT cannot be satisfied (no 5 replicas) and waits forever */
    char wkey[32];
    name_on(&topo_ref, other, "wait:", wkey, sizeof wkey);
    const char *set[3] = {"SET", wkey, "x"};
    assert_int_equal(bus_command_replicated(fx->a.bus, wkey, strlen(wkey), 5, 0, 3, set, NULL,
                                            on_reply, &fx->many[n++]),
                     0);
    pause_ms(50); /* all of them reach the servers */

    /* a command waiting in the retry list: TRYAGAIN while its slot migrates; the loop does not
     * run again before the close, so it is still waiting there */
    const char *mget[3] = {"MGET", here, "{close}gone"};
    assert_int_equal(
        bus_command_key(fx->a.bus, here, strlen(here), 3, mget, NULL, on_reply, &fx->many[n++]), 0);
    bus_stats_t st;
    WAIT((bus_stats(fx->a.bus, &st), st.retried >= 1), 3000);
    assert_true(st.retried >= 1);

    /* written, or queued behind a blocked command, and not answered yet */
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "get:%d", i);
        const char *get[2] = {"GET", key};
        assert_int_equal(
            bus_command_key(fx->a.bus, key, strlen(key), 2, get, NULL, on_reply, &fx->many[n++]),
            0);
        assert_int_equal(bus_spublish(fx->a.bus, "closing", 7, "x", 1), 0);
        assert_int_equal(bus_publish(fx->a.bus, "closing", 7, "x", 1), 0);
    }
    for (int i = 0; i < n; i++) assert_int_equal(fx->many[i].n, 0);
    assert_int_equal(bus_close(fx->a.bus, on_closed, &fx->a), 0);
    assert_int_equal(bus_close(fx->a.bus, on_closed, &fx->a), BUS_ECLOSED);
    assert_int_equal(fx->a.closed, 0); /* done comes from the loop */
    WAIT(fx->a.closed > 0, 10000);
    pause_ms(50);
    if (fx->a.closed) fx->a.bus = NULL; /* else teardown waits for its close */
    assert_int_equal(fx->a.closed, 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(fx->many[i].n, 1);
        assert_int_equal(fx->many[i].status, BUS_ECLOSED);
        assert_int_equal(fx->many[i].type, 0); /* no reply */
    }
}

static void close_in_reply(void *ud, int status, const struct redisReply *r)
{
    on_reply(ud, status, r);
    assert_int_equal(bus_close(fx->a.bus, on_closed, &fx->a), 0);
}

/* bus_close from inside a reply callback, with other commands pending, and from inside
 * on_message for a shard channel. */
static void test_close_from_callbacks(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    cluster_open(&fx->a);
    WAIT(UP(&fx->a), 5000);
    char key[32];
    name_on(&topo_ref, p[0], "blpop:", key, sizeof key);
    const char *blpop[3] = {"BLPOP", key, "5"};
    assert_int_equal(
        bus_command_key(fx->a.bus, key, strlen(key), 3, blpop, NULL, on_reply, &fx->many[0]), 0);
    const char *ping[1] = {"PING"}; /* to another primary: its reply comes first */
    long other = shard_of(&fx->a, p[1]);
    assert_true(other >= 0);
    assert_int_equal(
        bus_command_shard(fx->a.bus, (size_t)other, 1, ping, NULL, close_in_reply, &fx->many[1]),
        0);
    WAIT(fx->a.closed > 0, 10000);
    if (fx->a.closed) fx->a.bus = NULL; /* else teardown closes it */
    assert_int_equal(fx->a.closed, 1);
    assert_int_equal(fx->many[1].n, 1);
    assert_int_equal(fx->many[1].status, 0);
    assert_string_equal(fx->many[1].text, "PONG");
    assert_int_equal(fx->many[0].n, 1);
    assert_int_equal(fx->many[0].status, BUS_ECLOSED);

    fx->a.closed = 0;
    cluster_open(&fx->a);
    cluster_open(&fx->b);
    char ch[32];
    name_on(&topo_ref, p[2], "bye:", ch, sizeof ch);
    assert_int_equal(bus_ssubscribe(fx->a.bus, ch, strlen(ch)), 0);
    assert_int_equal(bus_ssubscribe(fx->a.bus, "bye:other", 9), 0);
    WAIT(UP(&fx->a) && UP(&fx->b), 10000);
    assert_true(UP(&fx->a));
    wait_shardnumsub(p[2], ch, 1); /* a hears the channel before b publishes on it */
    fx->a.close_in_message = 1;
    assert_int_equal(bus_spublish(fx->b.bus, ch, strlen(ch), "now", 3), 0);
    assert_int_equal(bus_spublish(fx->b.bus, ch, strlen(ch), "later", 5), 0);
    WAIT(fx->a.closed > 0, 10000);
    if (fx->a.closed) fx->a.bus = NULL; /* else teardown closes it */
    assert_int_equal(fx->a.closed, 1);
    pause_ms(50);
    assert_int_equal(fx->a.nmsgs, 1); /* nothing after the close */
}

/* SIGKILL of a primary: commands for its slots fail or succeed, never hang, until its replica
 * is promoted; then the bus is up again on the new primary, and a shard channel of that shard
 * delivers again. Runs last among the cluster tests: the killed node stays dead. */
static void test_failover(void **state)
{
    int p[NODES];
    assert_int_equal(primaries(&topo_ref, p), 3);
    int victim = p[1];
    int heir = replica_of(&topo_ref, victim);
    assert_true(heir > 0);
    char key[32], ch[32];
    name_on(&topo_ref, victim, "fo:", key, sizeof key);
    name_on(&topo_ref, victim, "foch:", ch, sizeof ch);
    cluster_open(&fx->a);
    cluster_open(&fx->b);
    assert_int_equal(bus_ssubscribe(fx->a.bus, ch, strlen(ch)), 0);
    WAIT(UP(&fx->a) && UP(&fx->b), 5000);
    assert_true(UP(&fx->a));
    const char *set[3] = {"SET", key, "v"};
    key_cmd(&fx->a, key, 3, set);
    assert_string_equal(fx->r.text, "OK");

    redis_srv_stop(node_on(victim));
    uint64_t dl = now_ms() + 20000;
    int done = 0, failures = 0;
    while (!done && now_ms() < dl) {
        memset(&fx->r, 0, sizeof fx->r);
        int rc = bus_command_key(fx->a.bus, key, strlen(key), 3, set, NULL, on_reply, &fx->r);
        if (rc == 0) {
            WAIT(fx->r.n > 0, 10000);
            assert_int_equal(fx->r.n, 1); /* never hangs */
            if (fx->r.status == 0) {
                assert_int_equal(fx->r.type, REDIS_REPLY_STATUS); /* no error passed as ok */
                assert_string_equal(fx->r.text, "OK");
            } else {
                assert_true(fx->r.status < 0);
                failures++;
            }
        } else {
            assert_int_equal(rc, BUS_ENOTCONN);
            failures++;
        }
        int heir_in = shard_of(&fx->a, heir) >= 0, victim_in = shard_of(&fx->a, victim) >= 0;
        done = rc == 0 && fx->r.status == 0 && UP(&fx->a) && heir_in && !victim_in;
        if (!done) pause_ms(50);
    }
    assert_true(done);
    assert_int_equal(bus_shards(fx->a.bus), 3);
    const char *get[2] = {"GET", key};
    key_cmd(&fx->a, key, 2, get);
    assert_int_equal(fx->r.status, 0);
    assert_string_equal(fx->r.text, "v");
    redisReply *r = sync_cmd(heir, "ROLE");
    assert_non_null(r);
    assert_string_equal(r->element[0]->str, "master");
    freeReplyObject(r);

    /* the shard channel: published until one arrives (publishes are at most once) */
    dl = now_ms() + 15000;
    int got = 0;
    for (int i = 0; !got && now_ms() < dl; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "fo-%d", i);
        bus_spublish(fx->b.bus, ch, strlen(ch), pl, strlen(pl));
        WAIT(count_msg(&fx->a, ch, pl) > 0, 200);
        got = count_msg(&fx->a, ch, pl);
    }
    assert_int_equal(got, 1);
    assert_int_equal(shardnumsub(heir, ch), 1);
    bus_stats_t st;
    bus_stats(fx->a.bus, &st);
    assert_true(st.map_refreshes >= 2);
}

/* Sharded pub/sub on one redis-server (options.sharded): SSUBSCRIBE, SPUBLISH, commands. */
static void test_sharded_single(void **state)
{
    assert_int_equal(redis_srv_start(&single, NULL), 0);
    char url[64], addr[32];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", single.port);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", single.port);
    peer_open(&fx->a, url, 1);
    peer_open(&fx->b, url, 1);
    assert_int_equal(bus_ssubscribe(fx->a.bus, "s1", 2), 0);
    assert_int_equal(bus_ssubscribe(fx->a.bus, "{x}s2", 5), 0);
    WAIT(UP(&fx->a) && UP(&fx->b), 5000);
    assert_true(UP(&fx->a));
    assert_true(UP(&fx->b));
    assert_int_equal(bus_shards(fx->a.bus), 1);
    assert_string_equal(bus_shard_addr(fx->a.bus, 0), addr);
    assert_null(bus_shard_addr(fx->a.bus, 1));

    const char *numsub[4] = {"PUBSUB", "SHARDNUMSUB", "s1", "{x}s2"};
    memset(&fx->r, 0, sizeof fx->r);
    assert_int_equal(bus_command(fx->b.bus, 3, numsub, NULL, on_reply, &fx->r), 0);
    WAIT(fx->r.n > 0, 3000);
    assert_int_equal(fx->r.status, 0);
    assert_int_equal(fx->r.integer, 1);

    assert_int_equal(bus_spublish(fx->b.bus, "s1", 2, "one", 3), 0);
    assert_int_equal(bus_spublish(fx->b.bus, "{x}s2", 5, "two", 3), 0);
    assert_int_equal(bus_spublish(fx->b.bus, "s3", 2, "none", 4), 0);
    WAIT(fx->a.nmsgs >= 2, 3000);
    pause_ms(50);
    assert_int_equal(fx->a.nmsgs, 2);
    assert_int_equal(count_msg(&fx->a, "s1", "one"), 1);
    assert_int_equal(count_msg(&fx->a, "{x}s2", "two"), 1);

    assert_int_equal(bus_sunsubscribe(fx->a.bus, "s1", 2), 0);
    memset(&fx->r, 0, sizeof fx->r);
    uint64_t dl = now_ms() + 3000;
    do {
        memset(&fx->r, 0, sizeof fx->r);
        assert_int_equal(bus_command(fx->b.bus, 3, numsub, NULL, on_reply, &fx->r), 0);
        WAIT(fx->r.n > 0, 3000);
    } while (fx->r.integer != 0 && now_ms() < dl);
    assert_int_equal(fx->r.integer, 0);

    const char *set[3] = {"SET", "single:k", "v"};
    memset(&fx->r, 0, sizeof fx->r);
    assert_int_equal(bus_command(fx->a.bus, 3, set, NULL, on_reply, &fx->r), 0);
    WAIT(fx->r.n > 0, 3000);
    assert_int_equal(fx->r.status, 0);
    assert_string_equal(fx->r.text, "OK");
    const char *get[2] = {"GET", "single:k"};
    key_cmd(&fx->a, "single:k", 2, get);
    assert_int_equal(fx->r.status, 0);
    assert_string_equal(fx->r.text, "v");
    const char *info[2] = {"INFO", "server"};
    shard_cmd(&fx->a, 0, 2, info);
    assert_non_null(strstr(fx->r.text, "redis_version:"));
    memset(&fx->r, 0, sizeof fx->r);
    assert_int_equal(bus_command_shard(fx->a.bus, 1, 2, info, NULL, on_reply, &fx->r), BUS_EINVAL);
    bus_stats_t st;
    bus_stats(fx->a.bus, &st);
    assert_int_equal(st.shards, 1);
    assert_int_equal(st.received, 2);

    /* SUNSUBSCRIBE then SSUBSCRIBE before the first reply: the answer to the first is not a
     * sign that the server dropped the channel; it stays subscribed, and a later
     * SUNSUBSCRIBE still reaches the server. */
    assert_int_equal(bus_ssubscribe(fx->a.bus, "flip", 4), 0);
    wait_shardnumsub(single.port, "flip", 1);
    WAIT(UP(&fx->a), 3000);
    assert_int_equal(bus_sunsubscribe(fx->a.bus, "flip", 4), 0);
    assert_int_equal(bus_ssubscribe(fx->a.bus, "flip", 4), 0);
    pause_ms(100); /* both answers read */
    assert_int_equal(shardnumsub(single.port, "flip"), 1);
    WAIT(UP(&fx->a), 3000);
    assert_true(UP(&fx->a));
    assert_int_equal(bus_state(fx->a.bus, BUS_CONN_SUB), BUS_CONNECTED);
    assert_int_equal(bus_sunsubscribe(fx->a.bus, "flip", 4), 0);
    wait_shardnumsub(single.port, "flip", 0);

    /* The server restarts: the shard subscription is restored. */
    redis_srv_stop(&single);
    WAIT(!UP(&fx->a), 3000);
    assert_false(UP(&fx->a));
    assert_int_equal(redis_srv_start(&single, NULL), 0);
    WAIT(UP(&fx->a) && UP(&fx->b), 5000);
    assert_true(UP(&fx->a));
    assert_int_equal(shardnumsub(single.port, "{x}s2"), 1);
    assert_int_equal(shardnumsub(single.port, "s1"), 0);
    assert_int_equal(bus_spublish(fx->b.bus, "{x}s2", 5, "again", 5), 0);
    WAIT(fx->a.nmsgs >= 3, 3000);
    assert_int_equal(count_msg(&fx->a, "{x}s2", "again"), 1);
    bus_stats(fx->a.bus, &st);
    assert_true(st.reconnects >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_and_shards, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_routes_by_slot, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_moved, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_ask, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_sharded_pubsub, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_shard_channel_slot_moves, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_replicated, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_flight, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callbacks, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_failover, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_sharded_single, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
