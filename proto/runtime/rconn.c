/* A Redis connection on libuv with hiredis's reader: the life cycle (resolve, connect,
 * handshake, loss, close), a write buffer flushed once per loop turn, and the FIFO of reply
 * callbacks. */
#include "rconn.h"

#include "alloc.h"
#include "bus.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK 65536

typedef struct pending {
    struct pending *next;
    rconn_reply_cb cb; /* NULL: the reply is dropped */
    void *ud;
    int handshake; /* AUTH or SELECT: a refusal fails the connection */
} pending_t;

typedef struct {
    uv_getaddrinfo_t req;
    rconn_t *conn; /* NULL once the connection no longer waits for it */
} gai_req_t;

typedef struct {
    uv_write_t req;
    rconn_t *conn;
    sbuf_t buf;
} write_req_t;

struct rconn {
    uv_loop_t *loop;
    rconn_options_t o;
    char *host;
    char addr[300];
    char error[160];
    uv_tcp_t tcp;
    uv_timer_t timer; /* the handshake deadline */
    int tcp_open;     /* tcp initialised (must be closed) */
    int handles;      /* handles not yet closed */
    gai_req_t *gai;
    int connected; /* TCP is up: writes may start */
    int ready;     /* handshake done */
    int lost;      /* dead: lost or closed */
    int closing;
    int handshake_left;
    int has_auth;     /* the handshake starts with AUTH */
    int deferred_err; /* a failure found in rconn_open, reported from the loop */
    redisReader *reader;
    sbuf_t out;  /* commands not yet handed to uv_write */
    int writing; /* a uv_write is in flight */
    pending_t *phead, *ptail;
    size_t npending;
    char *rbuf;
};

/* "what: detail" as the last error. */
static void set_error(rconn_t *c, const char *what, const char *detail)
{
    snprintf(c->error, sizeof c->error, "%s: %s", what, detail);
}

static void maybe_free(rconn_t *c)
{
    if (!c->closing || c->handles > 0 || c->gai || c->writing) return;
    void (*freed)(void *) = c->o.on_freed;
    void *ud = c->o.ud;
    if (c->reader) redisReaderFree(c->reader);
    sbuf_free(&c->out);
    free(c->rbuf);
    free(c->host);
    free(c);
    if (freed) freed(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    rconn_t *c = h->data;
    c->handles--;
    maybe_free(c);
}

static void fail_pending(rconn_t *c, int status)
{
    while (c->phead) {
        pending_t *p = c->phead;
        c->phead = p->next;
        if (!c->phead) c->ptail = NULL;
        c->npending--;
        if (p->cb) p->cb(p->ud, status, NULL);
        free(p);
    }
}

static void close_handles(rconn_t *c)
{
    uv_timer_stop(&c->timer);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    else if (!c->tcp_open)
        c->handles--; /* tcp was never initialised: nothing to close */
    c->tcp_open = 0;
}

/* The connection is dead: pending commands fail, the owner hears of it once. */
static void lose(rconn_t *c, int err)
{
    if (c->lost) return;
    c->lost = 1;
    c->ready = 0;
    if (c->gai) {
        c->gai->conn = NULL;
        c->gai = NULL;
    }
    if (c->tcp_open) uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    fail_pending(c, BUS_ECONNLOST);
    if (!c->closing && c->o.on_event) c->o.on_event(c->o.ud, c, err);
}

static void flush(rconn_t *c);
static void on_deadline(uv_timer_t *t);

static void on_written(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    rconn_t *c = w->conn;
    sbuf_free(&w->buf);
    free(w);
    c->writing = 0;
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (status < 0) {
        set_error(c, "write", uv_strerror(status));
        lose(c, BUS_ECONNECT);
        return;
    }
    flush(c);
}

static void flush(rconn_t *c)
{
    if (!c->connected || c->lost || c->writing || c->out.len == 0) return;
    write_req_t *w = xmalloc(sizeof *w);
    w->conn = c;
    w->buf = c->out;
    c->out = (sbuf_t)SBUF_INIT;
    uv_buf_t b = uv_buf_init(w->buf.data, (unsigned)w->buf.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0) {
        sbuf_free(&w->buf);
        free(w);
        set_error(c, "write", uv_strerror(rc));
        lose(c, BUS_ECONNECT);
        return;
    }
    c->writing = 1;
}

static int queue_command(rconn_t *c, int argc, const char *const *argv, const size_t *lens,
                         rconn_reply_cb cb, void *ud, int handshake)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, (const char **)argv, lens);
    if (n < 0 || !cmd) return BUS_EINVAL;
    sbuf_append(&c->out, cmd, (size_t)n);
    redisFreeCommand(cmd);
    if (!c->o.subscriber || handshake) {
        pending_t *p = xcalloc(1, sizeof *p);
        p->cb = cb;
        p->ud = ud;
        p->handshake = handshake;
        if (c->ptail)
            c->ptail->next = p;
        else
            c->phead = p;
        c->ptail = p;
        c->npending++;
    }
    return 0;
}

int rconn_command(rconn_t *c, int argc, const char *const *argv, const size_t *lens,
                  rconn_reply_cb cb, void *ud)
{
    if (!c || argc < 1 || !argv || (c->o.subscriber && cb)) return BUS_EINVAL;
    if (c->lost || c->closing) return BUS_ECONNLOST;
    int rc = queue_command(c, argc, argv, lens, cb, ud, 0);
    if (rc == 0) flush(c);
    return rc;
}

static void became_ready(rconn_t *c)
{
    c->ready = 1;
    uv_timer_stop(&c->timer);
    if (c->o.on_event) c->o.on_event(c->o.ud, c, 0);
}

static void dispatch(rconn_t *c, redisReply *r)
{
    pending_t *p = c->phead;
    if (!p) {
        if (c->o.subscriber && c->o.on_push)
            c->o.on_push(c->o.ud, c, r);
        else {
            set_error(c, "read", "a reply no command asked for");
            lose(c, BUS_ECONNECT);
        }
        return;
    }
    c->phead = p->next;
    if (!c->phead) c->ptail = NULL;
    c->npending--;
    if (p->handshake) {
        free(p);
        if (r->type == REDIS_REPLY_ERROR) {
            int auth = c->has_auth && c->handshake_left == (c->o.db > 0 ? 2 : 1);
            snprintf(c->error, sizeof c->error, "%s: %.*s", auth ? "AUTH" : "SELECT",
                     (int)(r->len < 120 ? r->len : 120), r->str);
            lose(c, auth ? BUS_EAUTH : BUS_ESELECT);
            return;
        }
        if (--c->handshake_left == 0) became_ready(c);
        return;
    }
    rconn_reply_cb cb = p->cb;
    void *ud = p->ud;
    free(p);
    if (cb) cb(ud, 0, r);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    rconn_t *c = h->data;
    if (!c->rbuf) c->rbuf = xmalloc(READ_CHUNK);
    *buf = uv_buf_init(c->rbuf, READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    rconn_t *c = s->data;
    if (c->lost || c->closing) return;
    if (n < 0) {
        set_error(c, "read",
                  n == UV_EOF ? "the server closed the connection" : uv_strerror((int)n));
        lose(c, BUS_ECONNECT);
        return;
    }
    if (n == 0) return;
    if (redisReaderFeed(c->reader, c->rbuf, (size_t)n) != REDIS_OK) {
        set_error(c, "read", "reader refused the input");
        lose(c, BUS_ECONNECT);
        return;
    }
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            set_error(c, "protocol error", c->reader->errstr);
            lose(c, BUS_ECONNECT);
            return;
        }
        if (!reply) break;
        dispatch(c, reply);
        freeReplyObject(reply);
        if (c->lost || c->closing) return;
    }
}

static void on_connected(uv_connect_t *req, int status)
{
    rconn_t *c = req->data;
    free(req);
    if (c->lost || c->closing) {
        maybe_free(c);
        return;
    }
    if (status < 0) {
        set_error(c, "connect", uv_strerror(status));
        lose(c, BUS_ECONNECT);
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 30); /* notices a peer that vanished without a reset */
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        set_error(c, "read", uv_strerror(rc));
        lose(c, BUS_ECONNECT);
        return;
    }
    if (c->handshake_left == 0) became_ready(c);
    if (!c->lost) flush(c);
}

static void dial(rconn_t *c, const struct sockaddr *sa)
{
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = 1;
    uv_connect_t *req = xmalloc(sizeof *req);
    req->data = c;
    int rc = uv_tcp_connect(req, &c->tcp, sa, on_connected);
    if (rc < 0) {
        free(req);
        set_error(c, "connect", uv_strerror(rc));
        c->deferred_err = BUS_ECONNECT; /* reported from the loop, as every other loss */
        uv_timer_start(&c->timer, on_deadline, 0, 0);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    gai_req_t *g = (gai_req_t *)req;
    rconn_t *c = g->conn;
    if (c) c->gai = NULL;
    if (!c || c->lost || c->closing) {
        uv_freeaddrinfo(res);
        free(g);
        if (c) maybe_free(c);
        return;
    }
    free(g);
    if (status != 0 || !res) {
        set_error(c, "resolve", status ? uv_strerror(status) : "no address");
        uv_freeaddrinfo(res);
        lose(c, BUS_ERESOLVE);
        return;
    }
    dial(c, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void on_deadline(uv_timer_t *t)
{
    rconn_t *c = t->data;
    if (c->deferred_err) {
        lose(c, c->deferred_err);
        return;
    }
    set_error(c, "connect", "connect and handshake timed out");
    lose(c, BUS_ETIMEDOUT);
}

rconn_t *rconn_open(uv_loop_t *loop, const rconn_options_t *o)
{
    if (!loop || !o || !o->host || o->port < 1 || o->port > 65535) return NULL;
    rconn_t *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->o = *o;
    c->host = xstrdup(o->host);
    c->o.host = c->host;
    c->o.user = c->o.password = NULL; /* not kept: only the handshake below uses them */
    snprintf(c->addr, sizeof c->addr, strchr(o->host, ':') ? "[%s]:%d" : "%s:%d", o->host, o->port);
    c->reader = redisReaderCreate();
    c->out = (sbuf_t)SBUF_INIT;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    uv_timer_start(&c->timer, on_deadline, o->timeout_ms ? o->timeout_ms : 3000, 0);
    if (o->password) {
        const char *argv[3] = {"AUTH", o->user, o->password};
        size_t lens[3] = {4, o->user ? strlen(o->user) : 0, strlen(o->password)};
        if (o->user)
            queue_command(c, 3, argv, lens, NULL, NULL, 1);
        else {
            argv[1] = o->password;
            lens[1] = lens[2];
            queue_command(c, 2, argv, lens, NULL, NULL, 1);
        }
        c->handshake_left++;
        c->has_auth = 1;
    }
    if (o->db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", o->db);
        const char *argv[2] = {"SELECT", db};
        queue_command(c, 2, argv, NULL, NULL, NULL, 1);
        c->handshake_left++;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&ss) == 0) {
        dial(c, (const struct sockaddr *)&ss);
        return c;
    }
    gai_req_t *g = xcalloc(1, sizeof *g);
    g->conn = c;
    char port[8];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop, &g->req, on_resolved, o->host, port, &hints);
    if (rc != 0) {
        free(g);
        set_error(c, "resolve", uv_strerror(rc));
        c->deferred_err = BUS_ERESOLVE; /* reported from the loop, as every other loss */
        uv_timer_start(&c->timer, on_deadline, 0, 0);
        return c;
    }
    c->gai = g;
    return c;
}

int rconn_ready(const rconn_t *c)
{
    return c && c->ready && !c->lost;
}

int rconn_lost(const rconn_t *c)
{
    return !c || c->lost;
}

size_t rconn_pending(const rconn_t *c)
{
    return c ? c->npending : 0;
}

const char *rconn_addr(const rconn_t *c)
{
    return c->addr;
}

const char *rconn_error(const rconn_t *c)
{
    return c->error;
}

void rconn_close(rconn_t *c)
{
    if (!c || c->closing) return;
    c->closing = 1;
    if (c->gai) {
        c->gai->conn = NULL;
        c->gai = NULL;
    }
    if (!c->lost) {
        c->lost = 1;
        c->ready = 0;
        if (c->tcp_open) uv_read_stop((uv_stream_t *)&c->tcp);
    }
    fail_pending(c, BUS_ECLOSED);
    close_handles(c);
    maybe_free(c);
}
