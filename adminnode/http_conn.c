/* Connections and their head, body and idle deadlines (see http_conn.h). */
#include "http_conn.h"
#include "alloc.h"
#include "deadline.h"
#include "log.h"
#include "strmap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const phase_names[HC_NPHASES] = {"head", "body", "idle"};

/* The open connections of one client address. */
typedef struct {
    size_t count;
    client_addr_t key; /* the map's key */
} peer_t;

struct http_conn {
    deadline_node_t node; /* first: a list entry is its connection */
    http_conns_t *cs;
    int fd;
    int phase; /* hc_phase_t, or HC_NONE */
    int linger;
    peer_t *peer; /* its address's count; NULL when exempt or not IP */
};

struct http_conns {
    uv_loop_t *loop;
    uv_timer_t timer;
    deadline_list_t lists[HC_NPHASES];
    http_conns_options_t opt;
    size_t open;
    uint64_t started;
    uint64_t cut[HC_NPHASES];
    strmap_t peers; /* address key -> peer_t */
    uint64_t refused;
    int stopped;
    void (*done)(void *ud);
    void *done_ud;
};

static void on_timer(uv_timer_t *t);

static void arm(http_conns_t *cs)
{
    if (cs->stopped) return;
    uint64_t due = UINT64_MAX, now = uv_now(cs->loop);
    for (int p = 0; p < HC_NPHASES; p++) {
        uint64_t d = deadline_list_next_due(&cs->lists[p]);
        if (d < due) due = d;
    }
    if (due == UINT64_MAX)
        uv_timer_stop(&cs->timer);
    else
        uv_timer_start(&cs->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    http_conns_t *cs = t->data;
    uint64_t now = uv_now(cs->loop);
    size_t cut = 0;
    for (int p = 0; p < HC_NPHASES; p++) {
        deadline_node_t *n;
        while ((n = deadline_list_pop_due(&cs->lists[p], now)) != NULL) {
            http_conn_t *c = (http_conn_t *)n;
            c->phase = HC_NONE;
            cs->cut[p]++;
            cut++;
            /* MHD reads the end of the stream at its next run and closes the connection. */
            shutdown(c->fd, SHUT_RDWR);
            log_debug("connection cut", "phase=%s after_ms=%llu", phase_names[p],
                      (unsigned long long)cs->lists[p].delay);
        }
    }
    if (cut && cs->opt.kick) cs->opt.kick(cs->opt.ud);
    arm(cs);
}

http_conns_t *http_conns_new(uv_loop_t *loop, const http_conns_options_t *o)
{
    http_conns_t *cs = xcalloc(1, sizeof *cs);
    cs->loop = loop;
    cs->opt = *o;
    for (int p = 0; p < HC_NPHASES; p++) deadline_list_init(&cs->lists[p], o->delay_ms[p]);
    uv_timer_init(loop, &cs->timer);
    cs->timer.data = cs;
    return cs;
}

void http_conn_phase(http_conn_t *c, int phase)
{
    if (!c) return;
    http_conns_t *cs = c->cs;
    int was_head = 0;
    if (c->phase != HC_NONE) {
        was_head = deadline_list_first(&cs->lists[c->phase]) == &c->node;
        deadline_node_remove(&c->node);
    }
    c->phase = phase;
    int now_head = 0;
    if (phase != HC_NONE) {
        deadline_list_add(&cs->lists[phase], &c->node, uv_now(cs->loop));
        now_head = deadline_list_first(&cs->lists[phase]) == &c->node;
    }
    /* The timer follows the heads: it changes only when a head left or a list was empty. */
    if (was_head || now_head) arm(cs);
}

void http_conn_linger(http_conn_t *c)
{
    if (c) c->linger = 1;
}

/* The count of the address key (created when create is set), or NULL when the address is
 * exempt or not IP. */
static peer_t *peer_of(http_conns_t *cs, const struct sockaddr *sa, int create)
{
    client_addr_t key;
    if (!sa || client_addr_from_sockaddr(sa, &key) < 0 ||
        (cs->opt.exempt && client_cidrs_match(cs->opt.exempt, &key)))
        return NULL;
    peer_t *p = strmap_get(&cs->peers, (const char *)key.b, sizeof key.b);
    if (!p && create) {
        p = xcalloc(1, sizeof *p);
        p->key = key;
        strmap_put(&cs->peers, (const char *)p->key.b, sizeof p->key.b, p);
    }
    return p;
}

enum MHD_Result http_conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    http_conns_t *cs = cls;
    (void)addrlen;
    peer_t *p = peer_of(cs, addr, 0);
    if (p && p->count >= cs->opt.per_ip) {
        if (cs->refused++ % 1000 == 0)
            log_warn("connection refused", "reason=per_ip_limit limit=%u refused_total=%llu",
                     cs->opt.per_ip, (unsigned long long)cs->refused);
        return MHD_NO;
    }
    return MHD_YES;
}

http_conn_t *http_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    return ci ? ci->socket_context : NULL;
}

void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    http_conns_t *cs = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        http_conn_t *c = xcalloc(1, sizeof *c);
        c->cs = cs;
        c->fd = fi ? fi->connect_fd : -1;
        c->phase = HC_NONE;
        *socket_context = c;
        cs->open++;
        cs->started++;
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->peer = ai ? peer_of(cs, ai->client_addr, 1) : NULL;
        if (c->peer) c->peer->count++;
        if (c->fd >= 0 && !cs->stopped) http_conn_phase(c, HC_HEAD);
        return;
    }
    http_conn_t *c = *socket_context;
    if (!c) return;
    *socket_context = NULL;
    if (c->phase != HC_NONE) {
        deadline_node_remove(&c->node);
        c->phase = HC_NONE;
    }
    cs->open--;
    if (c->peer && --c->peer->count == 0) {
        strmap_del(&cs->peers, (const char *)c->peer->key.b, sizeof c->peer->key.b);
        free(c->peer);
    }
    /* MHD closes its descriptor right after this notice; a duplicate keeps the socket open. */
    if (c->linger && !cs->stopped && cs->opt.linger && c->fd >= 0) {
        int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0) http_linger_add(cs->opt.linger, fd);
    }
    free(c);
}

size_t http_conns_open(const http_conns_t *cs)
{
    return cs->open;
}

uint64_t http_conns_started(const http_conns_t *cs)
{
    return cs->started;
}

uint64_t http_conns_cut(const http_conns_t *cs, hc_phase_t p)
{
    return cs->cut[p];
}

uint64_t http_conns_refused(const http_conns_t *cs)
{
    return cs->refused;
}

void http_conns_stop(http_conns_t *cs)
{
    cs->stopped = 1;
    uv_timer_stop(&cs->timer);
}

static void on_closed(uv_handle_t *h)
{
    http_conns_t *cs = h->data;
    void (*done)(void *) = cs->done;
    void *ud = cs->done_ud;
    void *v;
    for (size_t i = 0; strmap_next(&cs->peers, &i, NULL, NULL, &v);) free(v);
    strmap_free(&cs->peers);
    free(cs);
    if (done) done(ud);
}

void http_conns_close(http_conns_t *cs, void (*done)(void *ud), void *ud)
{
    cs->stopped = 1;
    cs->done = done;
    cs->done_ud = ud;
    uv_close((uv_handle_t *)&cs->timer, on_closed);
}
