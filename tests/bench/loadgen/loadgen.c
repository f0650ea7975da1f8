/* loadgen: a Socket.IO v5 client load generator on libuv, for the benchmarks.
 *
 * It opens many client sessions (WebSocket, or HTTP long-polling: in idle and storm on one
 * keep-alive connection per client, in fanout and chat on two, as a browser) from many source
 * addresses in 127.0.0.0/8, signs each in to the chat app with auth {user}, joins rooms, sends chat
 * messages whose text carries the send time, and measures what arrives: deliveries, latency (a
 * log-linear histogram), sessions lost. It prints `ready` on stderr once every client has connected
 * (or failed), and a JSON report on stdout at the end.
 *
 * Scenarios:
 *   idle    connect, join --rooms, hold (--hold seconds; 0: until SIGTERM/SIGINT). While
 *           holding it can time the heartbeat (the gap between the server's pings, less
 *           --ping-interval), send an event with an ack from every --probe-every'th client each
 *           --probe-interval seconds (the round trip), and on SIGUSR1 have the first member of
 *           each room send one chat message to it (a broadcast reaching every client). SIGUSR2
 *           starts both measures afresh: what came before (other processes' clients still
 *           connecting, say) is dropped
 *   storm   connect as fast as --concurrency allows; sessions accepted per second
 *   fanout  --clients subscribers and one publisher in one room; the publisher sends --rate
 *           messages per second for --duration seconds
 *   chat    clients spread over --connect-to servers and --rooms rooms, --rate messages per
 *           second in all, sent by the clients in turn
 *
 * One process, one thread: the times it compares all come from one monotonic clock. */
#define _GNU_SOURCE /* memmem */
#include "http_reply.h"
#include "sbuf.h"
#include "ws_frame.h"

#include <uv.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MAX_TARGETS     16
#define MAX_FRAME       (1 << 20) /* largest server frame or polling body accepted */
#define CONNECT_TIMEOUT 30000     /* ms for a client to get connected and joined */
#define DRAIN_MS        1000      /* after the last send: what has not arrived by then is backlog */
#define FINAL_WAIT_MS   5000      /* ... and how long stragglers are still counted */

/* ---- latency histogram: 32 buckets per power of two, microseconds ---- */

#define HIST_SUB     32
#define HIST_BUCKETS (HIST_SUB * 40)

typedef struct {
    uint64_t b[HIST_BUCKETS];
    uint64_t count, max;
} hist_t;

static hist_t lat_hist;   /* send to delivery */
static hist_t probe_hist; /* probe event to its ack */
static hist_t ping_hist;  /* how much later than --ping-interval a ping came after the last */

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 5 */
    unsigned m = (unsigned)(v >> (e - 5));           /* 32..63 */
    unsigned i = (e - 4) * HIST_SUB + (m - HIST_SUB);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned i) /* the bucket's lower bound */
{
    if (i < HIST_SUB) return i;
    unsigned e = i / HIST_SUB + 4, m = i % HIST_SUB + HIST_SUB;
    return (uint64_t)m << (e - 5);
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    if (v > h->max) h->max = v;
}

static uint64_t hist_quantile(const hist_t *h, double q)
{
    if (!h->count) return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.5), seen = 0;
    if (want < 1) want = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) return hist_value(i);
    }
    return h->max;
}

/* {"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"count":..} of h, in microseconds. */
static void hist_print(const hist_t *h)
{
    printf("{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
           ",\"max\":%" PRIu64 ",\"count\":%" PRIu64 "}",
           hist_quantile(h, 0.50), hist_quantile(h, 0.90), hist_quantile(h, 0.99),
           hist_quantile(h, 0.999), h->max, h->count);
}

/* ---- options ---- */

enum scenario { SC_IDLE, SC_STORM, SC_FANOUT, SC_CHAT };

static struct {
    struct sockaddr_in targets[MAX_TARGETS];
    char hosts[MAX_TARGETS][80]; /* "host:port", for the Host header */
    int ntargets;
    const char *path;
    enum scenario scenario;
    int polling;
    int post_conn; /* polling in chat and fanout: GETs and POSTs on two connections, as a browser */
    long clients, rooms, concurrency, sources;
    long user_base, room_base, source_base; /* added to user and room numbers, source index */
    long probe_every;                       /* 0: no probes */
    double rate, duration, hold, ping_interval, probe_interval;
    int quiet;
} opt = {
    .path = "/socket.io/",
    .clients = 100,
    .concurrency = 256,
    .sources = 32,
    .duration = 10,
    .ping_interval = 25,
    .probe_interval = 5,
};

/* ---- clients ---- */

enum state {
    ST_WAIT,      /* not started yet */
    ST_TCP,       /* connecting */
    ST_HANDSHAKE, /* HTTP upgrade, or the polling handshake */
    ST_SIO,       /* Engine.IO open: Socket.IO CONNECT sent */
    ST_JOINING,   /* join sent */
    ST_READY,     /* connected and joined */
    ST_DONE,      /* closed or failed */
};

struct client;

/* One TCP connection of a client: its handle's data points here. */
typedef struct conn {
    uv_tcp_t tcp;
    struct client *c;
    sbuf_t in;         /* bytes received and not yet consumed */
    uint8_t in_flight; /* polling: a request is out, 1 a GET, 2 a POST */
    uint8_t connected; /* the POST connection: past its connect */
    uint8_t reused;    /* the POST connection: a response came on it */
    sbuf_t body;       /* the POST connection: the body of the POST out */
} conn_t;

typedef struct client {
    conn_t conn;  /* the WebSocket, or the polling connection (the long-poll GET's) */
    conn_t *post; /* polling with --scenario chat or fanout: the POSTs' connection, or NULL */
    uint32_t idx;
    uint8_t state;
    uint8_t target;
    uint8_t ws_open;   /* WebSocket: past the 101 */
    uint8_t publisher; /* fanout: the one that sends */
    uint8_t closing;
    uint32_t room;       /* room number (chat), or 0 */
    uint64_t started_ms; /* when the TCP connect began */
    uint64_t ping_us;    /* when the last server ping came, or 0 */
    uint64_t probe_us;   /* when the probe waiting for its ack was sent, or 0 */
    int64_t probe_ack;   /* its ack id */
    char *sid;           /* polling: the Engine.IO session id */
    sbuf_t outq;         /* polling: records waiting for the next POST */
    int64_t next_ack;
} client_t;

static uv_loop_t *loop;
static client_t *clients; /* opt.clients subscribers/senders, +1 for the fanout publisher */
static long nclients;
static long next_start, establishing, ready_count;
static uv_timer_t tick_timer, send_timer, end_timer, probe_timer;
static uv_signal_t sig_term, sig_int, sig_usr1, sig_usr2;
static uint64_t measure_from_us; /* pings and probes before this are not counted */
static uint64_t t_first_connect, t_last_ready;
static int announced, ending;

static struct {
    uint64_t connect_fail, closed, protocol, timeouts, ack_errors;
    uint64_t post_connects; /* polling: POST connections opened (again when a server closed one) */
    uint64_t lost;          /* sessions that ended after they were connected and joined */
    uint64_t probes_sent, probes_answered;
    uint64_t sent, acked, delivered, expected, backlog;
    uint64_t send_start, send_end, last_delivery;
} st;

static long *room_members;        /* chat: clients per room */
static char first_ack_error[201]; /* the first error answer, quotes and backslashes made ' */

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
    if (opt.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static void start_more(void);
static void client_fail(client_t *c, uint64_t *counter, const char *why);
static void send_eio(client_t *c, const char *data, size_t len);
static void polling_next(client_t *c);
static void bind_and_connect(conn_t *k, client_t *c);
static void maybe_ready(void);
static void finish(void);

/* ---- writing ---- */

typedef struct {
    uv_write_t req;
    size_t len;
    char data[];
} wreq_t;

static void on_written(uv_write_t *req, int status)
{
    free(req);
}

static void tcp_send(conn_t *k, const void *data, size_t len)
{
    client_t *c = k->c;
    if (c->state == ST_DONE || c->closing) return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (n == (int)len) return;
    if (n < 0 && n != UV_EAGAIN) {
        client_fail(c, &st.closed, uv_strerror(n));
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    wreq_t *w = malloc(sizeof *w + len - done);
    if (!w) abort();
    w->len = len - done;
    memcpy(w->data, (const char *)data + done, w->len);
    b = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&k->tcp, &b, 1, on_written);
    if (rc) {
        free(w);
        client_fail(c, &st.closed, uv_strerror(rc));
    }
}

/* Sends one Engine.IO packet (type digit included in data): a WebSocket text frame, or a
 * polling record for the next POST. */
static void send_eio(client_t *c, const char *data, size_t len)
{
    if (!opt.polling) {
        sbuf_t f = SBUF_INIT;
        ws_frame_append(&f, WS_OP_TEXT, data, len, (uint32_t)rand());
        tcp_send(&c->conn, f.data, f.len);
        sbuf_free(&f);
        return;
    }
    if (c->outq.len) sbuf_append_char(&c->outq, '\x1e');
    sbuf_append(&c->outq, data, len);
    polling_next(c);
}

static void send_event(client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_event(client_t *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof buf) send_eio(c, buf, (size_t)n);
}

/* ---- closing ---- */

static void on_closed(uv_handle_t *h)
{
    client_t *c = ((conn_t *)h->data)->c;
    sbuf_free(&c->conn.in);
    sbuf_free(&c->outq);
    free(c->sid);
    c->sid = NULL;
}

static void on_post_closed(uv_handle_t *h)
{
    conn_t *k = h->data;
    sbuf_free(&k->in);
    sbuf_free(&k->body);
    free(k);
}

/* Closes the client's POST connection, if it has one. */
static void post_close(client_t *c)
{
    if (!c->post) return;
    uv_close((uv_handle_t *)&c->post->tcp, on_post_closed);
    c->post = NULL;
}

/* Opens the client's POST connection, from its own source address to its server. */
static void post_open(client_t *c)
{
    conn_t *k = calloc(1, sizeof *k);
    if (!k) abort();
    k->c = c;
    c->post = k;
    st.post_connects++;
    bind_and_connect(k, c);
}

static void close_handles(client_t *c)
{
    c->closing = 1;
    c->state = ST_DONE;
    uv_close((uv_handle_t *)&c->conn.tcp, on_closed);
    post_close(c);
}

static void client_close(client_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    if (c->state == ST_TCP || c->state == ST_HANDSHAKE || c->state == ST_SIO ||
        c->state == ST_JOINING)
        establishing--;
    if (c->state == ST_READY) ready_count--;
    close_handles(c);
}

static void client_fail(client_t *c, uint64_t *counter, const char *why)
{
    if (c->closing) return;
    int was_ready = c->state == ST_READY;
    (*counter)++;
    if (was_ready) st.lost++;
    if (*counter <= 5)
        info("client %u: %s (%s)", c->idx, why, was_ready ? "was connected" : "connecting");
    client_close(c);
    if (!ending) {
        start_more();
        maybe_ready();
    }
}

/* ---- what arrives ---- */

static void became_ready(client_t *c)
{
    establishing--;
    c->state = ST_READY;
    ready_count++;
    t_last_ready = now_us();
    start_more();
    maybe_ready();
}

/* The idle scenario's broadcast: told once, when every member had it and every send was
 * acknowledged. */
static void bcast_check(void)
{
    static int told;
    if (opt.scenario != SC_IDLE || told || !st.sent) return;
    if (st.delivered < st.expected || st.acked < st.sent) return;
    told = 1;
    fprintf(stderr, "broadcast delivered %" PRIu64 "\n", st.delivered);
}

/* The time a message's text carries: "t<microseconds>...". */
static void delivered(const char *p, size_t len)
{
    static const char key[] = "\"text\":\"t";
    const char *end = p + len;
    const char *k = memmem(p, len, key, sizeof key - 1);
    st.delivered++;
    if (!k) return;
    uint64_t ts = 0;
    for (const char *d = k + sizeof key - 1; d < end && *d >= '0' && *d <= '9'; d++)
        ts = ts * 10 + (uint64_t)(*d - '0');
    uint64_t now = now_us();
    hist_add(&lat_hist, now > ts ? now - ts : 0);
    st.last_delivery = now;
    bcast_check();
}

static void join_room(client_t *c)
{
    c->state = ST_JOINING;
    if (opt.scenario == SC_FANOUT)
        send_event(c, "42%" PRId64 "[\"join\",{\"room\":\"fanout\"}]", c->next_ack++);
    else
        send_event(c, "42%" PRId64 "[\"join\",{\"room\":\"r%ld\"}]", c->next_ack++,
                   opt.room_base + (long)c->room);
}

static int needs_join(void)
{
    return opt.scenario == SC_FANOUT || opt.rooms > 0;
}

/* One Socket.IO packet (after the Engine.IO '4'). */
static void on_sio(client_t *c, const char *p, size_t len)
{
    if (!len) goto bad;
    switch (p[0]) {
    case '0': /* CONNECT answered */
        if (c->state != ST_SIO) goto bad;
        if (needs_join())
            join_room(c);
        else
            became_ready(c);
        return;
    case '4': client_fail(c, &st.protocol, "CONNECT refused"); return;
    case '1': client_fail(c, &st.closed, "disconnected by the server"); return;
    case '2':
        if (len > 11 && !memcmp(p + 1, "[\"message\",", 11)) {
            if (c->state != ST_READY || c->publisher) return;
            delivered(p, len);
        }
        return; /* joined, left, typing...: not counted */
    case '3': {
        int err = memmem(p, len, "\"error\":", 8) != NULL;
        if (c->state == ST_JOINING) {
            if (err) {
                client_fail(c, &st.protocol, "join refused");
                return;
            }
            became_ready(c);
            return;
        }
        if (c->probe_us && strtoll(p + 1, NULL, 10) == c->probe_ack) {
            /* the probe's answer: an error (an event the chat does not know) is expected */
            uint64_t now = now_us();
            if (c->probe_us >= measure_from_us) {
                hist_add(&probe_hist, now > c->probe_us ? now - c->probe_us : 0);
                st.probes_answered++;
            }
            c->probe_us = 0;
            return;
        }
        st.acked++;
        bcast_check();
        if (err) {
            st.ack_errors++;
            if (!first_ack_error[0]) {
                size_t n = len < sizeof first_ack_error - 1 ? len : sizeof first_ack_error - 1;
                for (size_t i = 0; i < n; i++)
                    first_ack_error[i] =
                        p[i] == '"' || p[i] == '\\' || (unsigned char)p[i] < 0x20 ? '\'' : p[i];
            }
            if (st.ack_errors <= 5)
                info("client %u: error answer %.*s", c->idx, (int)(len > 200 ? 200 : len), p);
        }
        return;
    }
    default: goto bad;
    }
bad:
    client_fail(c, &st.protocol, "unexpected Socket.IO packet");
}

/* One Engine.IO packet. */
static void on_eio(client_t *c, const char *p, size_t len)
{
    if (!len) {
        client_fail(c, &st.protocol, "empty Engine.IO packet");
        return;
    }
    switch (p[0]) {
    case '0': { /* open */
        if (c->state != ST_HANDSHAKE) break;
        if (opt.polling) {
            static const char key[] = "\"sid\":\"";
            const char *s = memmem(p, len, key, sizeof key - 1);
            const char *e =
                s ? memchr(s + sizeof key - 1, '"', len - (size_t)(s + sizeof key - 1 - p)) : NULL;
            if (!e) break;
            s += sizeof key - 1;
            c->sid = strndup(s, (size_t)(e - s));
        }
        c->state = ST_SIO;
        if (opt.post_conn) post_open(c);
        if (opt.scenario == SC_FANOUT) /* one user: a join announces nobody new to the room */
            send_event(c, "40{\"user\":\"%s\"}", c->publisher ? "publisher" : "subscriber");
        else
            send_event(c, "40{\"user\":\"u%ld\"}", opt.user_base + (long)c->idx);
        return;
    }
    case '2': { /* ping: answered at once; its gap from the last one timed */
        uint64_t now = now_us(), want = (uint64_t)(opt.ping_interval * 1e6);
        if (c->ping_us && c->ping_us >= measure_from_us && c->state == ST_READY) {
            uint64_t gap = now - c->ping_us;
            hist_add(&ping_hist, gap > want ? gap - want : 0);
        }
        c->ping_us = now;
        send_eio(c, "3", 1);
        return;
    }
    case '4': on_sio(c, p + 1, len - 1); return;
    case '6': return;
    case '1': client_fail(c, &st.closed, "Engine.IO close"); return;
    default: break;
    }
    client_fail(c, &st.protocol, "unexpected Engine.IO packet");
}

/* ---- WebSocket ---- */

static void ws_request(client_t *c)
{
    uint8_t nonce[16];
    for (int i = 0; i < 16; i++) nonce[i] = (uint8_t)rand();
    char key[25];
    ws_key_encode(nonce, key);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.hosts[c->target], key);
    tcp_send(&c->conn, req, (size_t)n);
}

/* Handles the first complete unit of buf[0..len): the upgrade answer, then one frame.
 * Returns the bytes it used, 0 when more are needed (or the client failed). */
static size_t ws_input(client_t *c, char *buf, size_t len)
{
    if (!c->ws_open) {
        http_reply_t r;
        long h = http_reply_parse(buf, len, &r);
        if (h == 0) return 0;
        if (h < 0 || r.status != 101 || !r.upgrade_websocket) {
            client_fail(c, &st.protocol, h < 0 ? http_reply_strerror((int)h) : "upgrade refused");
            return 0;
        }
        c->ws_open = 1;
        return (size_t)h;
    }
    ws_frame_t f;
    long n = ws_frame_parse((const uint8_t *)buf, len, MAX_FRAME, &f);
    if (n <= 0) {
        if (n < 0) client_fail(c, &st.protocol, ws_frame_strerror((int)n));
        return 0;
    }
    switch (f.opcode) {
    case WS_OP_TEXT:
        if (f.fin)
            on_eio(c, (const char *)f.payload, f.len);
        else
            client_fail(c, &st.protocol, "fragmented message");
        break;
    case WS_OP_PING: {
        sbuf_t o = SBUF_INIT;
        ws_frame_append(&o, WS_OP_PONG, f.payload, f.len, (uint32_t)rand());
        tcp_send(&c->conn, o.data, o.len);
        sbuf_free(&o);
        break;
    }
    case WS_OP_CLOSE: client_fail(c, &st.closed, "WebSocket closed by the server"); break;
    case WS_OP_PONG: break;
    default: client_fail(c, &st.protocol, "unexpected WebSocket frame"); break;
    }
    return (size_t)n;
}

/* ---- long-polling ----
 *
 * idle and storm: one request at a time on one keep-alive connection (a POST waits for the
 * parked GET to come back). chat and fanout, as a browser: the long-poll GET parked on one
 * connection, re-issued as soon as it returns, and the POSTs on a second one beside it, one at
 * a time, what is sent meanwhile queued for the next. A POST connection the server closes
 * between requests is opened again when there is something to post. */

static void polling_request(client_t *c, conn_t *k, int post)
{
    sbuf_t r = SBUF_INIT;
    sbuf_printf(&r, "%s %s?EIO=4&transport=polling%s%s HTTP/1.1\r\nHost: %s\r\n",
                post ? "POST" : "GET", opt.path, c->sid ? "&sid=" : "", c->sid ? c->sid : "",
                opt.hosts[c->target]);
    if (post)
        sbuf_printf(&r, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                    c->outq.len);
    else
        sbuf_append_str(&r, "\r\n");
    if (post) {
        sbuf_append(&r, c->outq.data, c->outq.len);
        if (k == c->post) { /* kept until answered, to be sent again (post_dropped) */
            sbuf_reset(&k->body);
            sbuf_append(&k->body, c->outq.data, c->outq.len);
        }
        sbuf_reset(&c->outq);
    }
    k->in_flight = post ? 2 : 1;
    tcp_send(k, r.data, r.len);
    sbuf_free(&r);
}

static void polling_next(client_t *c)
{
    if (c->closing) return;
    if (!opt.post_conn) {
        if (!c->conn.in_flight) polling_request(c, &c->conn, c->outq.len > 0);
        return;
    }
    if (c->outq.len && c->sid) {
        if (!c->post)
            post_open(c);
        else if (c->post->connected && !c->post->in_flight)
            polling_request(c, c->post, 1);
    }
    if (!c->conn.in_flight && c->sid && !c->closing) polling_request(c, &c->conn, 0);
}

/* The POST connection ended between requests (the server's keep-alive timeout): it is opened
 * again for the next POST. If it ended as a POST went out on it, reused and with no byte of
 * the answer come, the server closed it first, and as a browser that POST is sent again.
 * Returns 1 when that is what happened. */
static int post_dropped(conn_t *k)
{
    client_t *c = k->c;
    if (k != c->post || c->closing) return 0;
    if (k->in_flight) {
        if (!k->reused || k->in.len) return 0;
        if (c->outq.len) sbuf_append_char(&k->body, '\x1e');
        sbuf_append(&k->body, c->outq.data, c->outq.len);
        sbuf_t q = c->outq;
        c->outq = k->body;
        k->body = q;
    }
    post_close(c);
    polling_next(c);
    return 1;
}

/* Handles the first complete response in buf[0..len) (its body is decoded in place). Returns
 * the bytes it used, 0 when more are needed (or the client failed). Both servers answer
 * polling requests with a Content-Length; a chunked answer is refused. */
static size_t polling_input(conn_t *k, char *buf, size_t len)
{
    client_t *c = k->c;
    http_reply_t r;
    long h = http_reply_parse(buf, len, &r);
    if (h == 0) return 0;
    if (h < 0) {
        client_fail(c, &st.protocol, http_reply_strerror((int)h));
        return 0;
    }
    if (!k->in_flight) {
        client_fail(c, &st.protocol, "a response nobody asked for");
        return 0;
    }
    if (r.chunked || r.content_length < 0 || r.content_length > MAX_FRAME) {
        client_fail(c, &st.protocol, "response without a usable Content-Length");
        return 0;
    }
    char *body = buf + h;
    size_t blen = (size_t)r.content_length;
    if (len - (size_t)h < blen) return 0;
    int was_post = k->in_flight == 2;
    k->in_flight = 0;
    if (k == c->post) {
        k->reused = 1;
        sbuf_free(&k->body);
    }
    if (r.status != 200) {
        client_fail(c, &st.protocol, "HTTP error status");
    } else if (r.close && k != c->post) {
        client_fail(c, &st.protocol, "the server closes the polling connection");
    } else {
        /* a GET's body: Engine.IO packets separated by 0x1e */
        for (size_t i = 0; !was_post && i < blen && !c->closing;) {
            char *e = memchr(body + i, '\x1e', blen - i);
            size_t n = e ? (size_t)(e - (body + i)) : blen - i;
            on_eio(c, body + i, n);
            i += n + 1;
        }
        if (r.close && k == c->post) {
            post_dropped(k); /* closes k: nothing after this response is read */
            return 0;
        }
        if (!c->closing) polling_next(c);
    }
    return (size_t)h + blen;
}

/* ---- the connections ---- */

/* Reads land in one shared buffer and are handled from there; only the tail of an unfinished
 * unit is copied into the connection's own buffer, which is freed again once empty. */
static char rbuf[1 << 16];

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    conn_t *k = h->data;
    if (k->in.len == 0) {
        *buf = uv_buf_init(rbuf, sizeof rbuf);
        return;
    }
    sbuf_reserve(&k->in, 16384);
    *buf = uv_buf_init(k->in.data + k->in.len, (unsigned)(k->in.cap - k->in.len - 1));
}

/* Is k still open: its client's, and not being closed? */
static int conn_live(conn_t *k)
{
    return !k->c->closing && (k == &k->c->conn || k == k->c->post);
}

/* Handles every complete unit of buf[0..len); returns the bytes used. */
static size_t consume(conn_t *k, char *buf, size_t len)
{
    size_t used = 0, u = 1;
    while (u && used < len && conn_live(k)) {
        u = opt.polling ? polling_input(k, buf + used, len - used)
                        : ws_input(k->c, buf + used, len - used);
        used += u;
    }
    return used;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *k = s->data;
    if (!conn_live(k)) return;
    if (n < 0 && !post_dropped(k))
        client_fail(k->c, &st.closed,
                    n == UV_EOF ? "connection closed by the server" : uv_strerror((int)n));
    if (n <= 0) return;
    if (buf->base == rbuf) {
        size_t used = consume(k, rbuf, (size_t)n);
        if (conn_live(k) && used < (size_t)n) sbuf_append(&k->in, rbuf + used, (size_t)n - used);
        return;
    }
    k->in.len += (size_t)n;
    size_t used = consume(k, k->in.data, k->in.len);
    if (!conn_live(k)) return;
    memmove(k->in.data, k->in.data + used, k->in.len - used);
    k->in.len -= used;
    if (!k->in.len) sbuf_free(&k->in);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *k = req->data;
    client_t *c = k->c;
    free(req);
    if (!conn_live(k)) return;
    if (status) {
        client_fail(c, &st.connect_fail, uv_strerror(status));
        return;
    }
    uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (k == c->post) { /* the session is open: what waits is posted */
        k->connected = 1;
        polling_next(c);
        return;
    }
    c->state = ST_HANDSHAKE;
    if (opt.polling)
        polling_request(c, &c->conn, 0);
    else
        ws_request(c);
}

/* Starts k's TCP connect from the client's source address 127.1.x.y to its server. */
static void bind_and_connect(conn_t *k, client_t *c)
{
    uv_tcp_init_ex(loop, &k->tcp, AF_INET);
    k->tcp.data = k;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&k->tcp, &fd) == 0) {
#ifdef IP_BIND_ADDRESS_NO_PORT
        int one = 1; /* the port is chosen at connect(), per destination */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    uint32_t n =
        (uint32_t)((opt.source_base + (long)(c->idx % (uint32_t)opt.sources)) % (250 * 250));
    src.sin_addr.s_addr =
        htonl((127u << 24) | (1u << 16) | ((n / 250) << 8) | (n % 250 + 1)); /* 127.1.x.y */
    int rc = uv_tcp_bind(&k->tcp, (const struct sockaddr *)&src, 0);
    uv_tcp_nodelay(&k->tcp, 1);
    uv_connect_t *req = malloc(sizeof *req);
    if (!req) abort();
    req->data = k;
    if (!rc)
        rc = uv_tcp_connect(req, &k->tcp, (const struct sockaddr *)&opt.targets[c->target],
                            on_connect);
    if (rc) {
        free(req);
        client_fail(c, &st.connect_fail, uv_strerror(rc));
    }
}

static void client_start(client_t *c)
{
    c->conn.c = c;
    c->state = ST_TCP;
    c->started_ms = uv_now(loop);
    establishing++;
    if (!t_first_connect) t_first_connect = now_us();
    bind_and_connect(&c->conn, c);
}

static void start_more(void)
{
    while (!ending && next_start < nclients && establishing < opt.concurrency) {
        client_t *c = &clients[next_start++];
        client_start(c);
    }
}

/* ---- while holding: probes and the broadcast ---- */

#define PROBE_TICK_MS 50

static long probe_cursor; /* the next sampled client, counted in samples */

/* Every PROBE_TICK_MS a slice of the sampled clients sends its probe, so that each sends one
 * per --probe-interval, spread evenly. A probe still unanswered is not sent again. */
static void on_probe_tick(uv_timer_t *t)
{
    long samples = (nclients + opt.probe_every - 1) / opt.probe_every;
    double per_tick = (double)samples * PROBE_TICK_MS / (opt.probe_interval * 1000.0);
    long n = (long)per_tick + ((double)rand() / RAND_MAX < per_tick - (long)per_tick ? 1 : 0);
    for (long i = 0; i < n && samples > 0; i++) {
        client_t *c = &clients[(probe_cursor++ % samples) * opt.probe_every];
        if (c->state != ST_READY || c->closing || c->probe_us) continue;
        c->probe_ack = c->next_ack++;
        c->probe_us = now_us();
        if (c->probe_us >= measure_from_us) st.probes_sent++;
        send_event(c, "42%" PRId64 "[\"probe\",{}]", c->probe_ack);
    }
}

/* SIGUSR1: the first connected member of each room sends one chat message to it (the chat
 * sends it to every member, the sender included), all in this tick. */
static void on_broadcast(uv_signal_t *s, int signum)
{
    if (ending || !room_members || opt.scenario != SC_IDLE) return;
    long *present = calloc((size_t)opt.rooms, sizeof *present);
    uint8_t *sent = calloc((size_t)opt.rooms, 1);
    if (!present || !sent) abort();
    for (long i = 0; i < nclients; i++)
        if (clients[i].state == ST_READY) present[clients[i].room]++;
    uint64_t ts = now_us();
    if (!st.send_start) st.send_start = ts;
    for (long i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (c->state != ST_READY || sent[c->room]) continue;
        sent[c->room] = 1;
        st.expected += (uint64_t)present[c->room];
        st.sent++;
        send_event(
            c, "42%" PRId64 "[\"message\",{\"room\":\"r%ld\",\"text\":\"t%" PRIu64 " broadcast\"}]",
            c->next_ack++, opt.room_base + (long)c->room, ts);
    }
    st.send_end = now_us();
    free(present);
    free(sent);
}

/* SIGUSR2: the ping gaps and the probes are measured from now on. */
static void on_measure(uv_signal_t *s, int signum)
{
    measure_from_us = now_us();
    memset(&ping_hist, 0, sizeof ping_hist);
    memset(&probe_hist, 0, sizeof probe_hist);
    st.probes_sent = st.probes_answered = 0;
}

/* ---- phases ---- */

static void print_report(void);

static void begin_sending(void);

static void maybe_ready(void)
{
    if (announced || ending || next_start < nclients || establishing > 0) return;
    announced = 1;
    fprintf(stderr, "ready %ld of %ld connected\n", ready_count, nclients);
    fflush(stderr);
    switch (opt.scenario) {
    case SC_STORM: finish(); break;
    case SC_IDLE:
        if (opt.probe_every > 0)
            uv_timer_start(&probe_timer, on_probe_tick, PROBE_TICK_MS, PROBE_TICK_MS);
        if (opt.hold > 0)
            uv_timer_start(&end_timer, (uv_timer_cb)finish, (uint64_t)(opt.hold * 1000), 0);
        break;
    default: begin_sending(); break;
    }
}

static long sender_next;

static client_t *next_sender(void)
{
    if (opt.scenario == SC_FANOUT) {
        client_t *p = &clients[nclients - 1];
        return p->state == ST_READY ? p : NULL;
    }
    for (long tries = 0; tries < nclients; tries++) {
        client_t *c = &clients[sender_next++ % nclients];
        if (c->state == ST_READY) return c;
    }
    return NULL;
}

/* Sends the next message; returns 0 when no client is left to send it. */
static int send_one(void)
{
    client_t *c = next_sender();
    if (!c) return 0;
    char buf[512];
    uint64_t ts = now_us();
    int n;
    if (opt.scenario == SC_FANOUT) {
        n = snprintf(buf, sizeof buf,
                     "42%" PRId64 "[\"message\",{\"room\":\"fanout\",\"text\":\"t%" PRIu64
                     " fan-out\"}]",
                     c->next_ack++, ts);
        st.expected += (uint64_t)opt.clients;
    } else {
        n = snprintf(buf, sizeof buf,
                     "42%" PRId64 "[\"message\",{\"room\":\"r%ld\",\"text\":\"t%" PRIu64
                     " chat\"}]",
                     c->next_ack++, opt.room_base + (long)c->room, ts);
        st.expected += (uint64_t)room_members[c->room];
    }
    st.sent++;
    send_eio(c, buf, (size_t)n);
    return 1;
}

static void on_send_tick(uv_timer_t *t)
{
    uint64_t now = now_us();
    double elapsed = (double)(now - st.send_start) / 1e6;
    if (elapsed >= opt.duration) {
        uv_timer_stop(t);
        st.send_end = now;
        uv_timer_start(&end_timer, (uv_timer_cb)finish, DRAIN_MS, 0);
        return;
    }
    uint64_t due = (uint64_t)(elapsed * opt.rate) + 1;
    while (st.sent < due && send_one()) continue;
}

static void begin_sending(void)
{
    if (ready_count == 0) {
        finish();
        return;
    }
    st.send_start = now_us();
    uv_timer_start(&send_timer, on_send_tick, 0, 1);
}

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_now(loop);
    long limit = next_start; /* only started clients can time out */
    for (long i = 0; i < limit; i++) {
        client_t *c = &clients[i];
        if (c->state >= ST_TCP && c->state < ST_READY && !c->closing &&
            now - c->started_ms > CONNECT_TIMEOUT)
            client_fail(c, &st.timeouts, "no session within the connect timeout");
    }
    if (!opt.quiet && !announced)
        info("connecting: %ld ready, %ld in progress, %ld to go", ready_count, establishing,
             nclients - next_start);
}

/* ---- the end ---- */

static uint64_t final_deadline;

static void close_everything(void);

static void on_final(uv_timer_t *t)
{
    if (st.delivered < st.expected && now_us() < final_deadline) return;
    uv_timer_stop(t);
    print_report();
    close_everything();
}

/* Sending (if any) is over and DRAIN_MS passed: what is missing now is backlog; stragglers
 * are counted for FINAL_WAIT_MS more, then the report. */
static void finish(void)
{
    if (ending) return;
    ending = 1;
    uv_timer_stop(&send_timer);
    uv_timer_stop(&tick_timer);
    uv_timer_stop(&probe_timer);
    if (!st.send_end && st.send_start) st.send_end = now_us();
    st.backlog = st.expected > st.delivered ? st.expected - st.delivered : 0;
    final_deadline = now_us() + FINAL_WAIT_MS * 1000ull;
    uv_timer_start(&end_timer, on_final, 0, 50);
}

static void print_report(void)
{
    const char *names[] = {"idle", "storm", "fanout", "chat"};
    double send_s = st.send_end > st.send_start ? (double)(st.send_end - st.send_start) / 1e6 : 0;
    double conn_s =
        t_last_ready > t_first_connect ? (double)(t_last_ready - t_first_connect) / 1e6 : 0;
    long connected = ready_count;
    /* from the first send to the last delivery: a server that falls behind takes longer than
     * the sending, and delivered / this is what it managed */
    double last_s = st.last_delivery > st.send_start && st.send_start
                        ? (double)(st.last_delivery - st.send_start) / 1e6
                        : 0;
    if (last_s < send_s) last_s = send_s;
    printf("{\"scenario\":\"%s\",\"transport\":\"%s\",\"clients\":%ld,\"connected\":%ld,"
           "\"errors\":{\"connect\":%" PRIu64 ",\"timeout\":%" PRIu64 ",\"closed\":%" PRIu64
           ",\"protocol\":%" PRIu64 ",\"ack\":%" PRIu64 "},\"post_connects\":%" PRIu64
           ",\"lost\":%" PRIu64 ","
           "\"connect_s\":%.3f,\"connects_per_s\":%.1f,"
           "\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"expected\":%" PRIu64
           ",\"delivered\":%" PRIu64 ",\"backlog\":%" PRIu64
           ",\"send_s\":%.3f,\"delivered_per_s\":%.1f,\"until_last_s\":%.3f,"
           "\"throughput_per_s\":%.1f,\"send_start_us\":%" PRIu64 ",\"last_delivery_us\":%" PRIu64
           ",\"probes\":{\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 "},",
           names[opt.scenario], opt.polling ? "polling" : "websocket", opt.clients, connected,
           st.connect_fail, st.timeouts, st.closed, st.protocol, st.ack_errors, st.post_connects,
           st.lost, conn_s, conn_s > 0 ? (double)connected / conn_s : 0, st.sent, st.acked,
           st.expected, st.delivered, st.backlog, send_s,
           send_s > 0 ? (double)st.delivered / send_s : 0, last_s,
           last_s > 0 ? (double)st.delivered / last_s : 0, st.send_start, st.last_delivery,
           st.probes_sent, st.probes_answered);
    printf("\"first_ack_error\":\"%s\",\"latency_us\":", first_ack_error);
    hist_print(&lat_hist);
    printf(",\"probe_rtt_us\":");
    hist_print(&probe_hist);
    printf(",\"ping_late_us\":");
    hist_print(&ping_hist);
    printf("}\n");
    fflush(stdout);
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (!ending) {
        finish();
        return;
    }
    /* a second signal: report what there is and stop at once */
    uv_timer_stop(&end_timer);
    print_report();
    close_everything();
}

static void close_everything(void)
{
    uv_close((uv_handle_t *)&tick_timer, NULL);
    uv_close((uv_handle_t *)&send_timer, NULL);
    uv_close((uv_handle_t *)&end_timer, NULL);
    uv_close((uv_handle_t *)&probe_timer, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_usr1, NULL);
    uv_close((uv_handle_t *)&sig_usr2, NULL);
    for (long i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (c->state != ST_WAIT && !c->closing) close_handles(c);
    }
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: loadgen [options]\n"
        "  --host H --port P       the server (default 127.0.0.1:3000)\n"
        "  --connect-to H:P,H:P    several servers; clients are spread over them in turn\n"
        "  --path P                Engine.IO path (default /socket.io/)\n"
        "  --scenario S            idle | storm | fanout | chat (default idle)\n"
        "  --transport T           websocket | polling (default websocket; polling in idle and\n"
        "                          storm: one connection per client; in fanout and chat: two,\n"
        "                          the long-poll GET's and the POSTs')\n"
        "  --clients N             client sessions (default 100)\n"
        "  --rooms N               chat: rooms the clients are spread over; idle: join rooms too\n"
        "  --rate R                messages per second: fanout's publisher, chat's clients in all\n"
        "  --duration S            seconds of sending (default 10)\n"
        "  --hold S                idle: seconds to stay connected once ready (0: until a signal)\n"
        "  --concurrency N         sessions being opened at once (default 256)\n"
        "  --sources N             source addresses 127.1.x.y to connect from (default 32)\n"
        "  --source-base N         the first of them, counted from 127.1.0.1 (default 0)\n"
        "  --user-base N           the first user number (users u<N>, u<N+1>...; default 0)\n"
        "  --room-base N           the first room number (rooms r<N>...; default 0)\n"
        "  --ping-interval S       idle: the server's ping interval, for the ping gaps (default "
        "25)\n"
        "  --probe-every N         idle: every Nth client sends an event with an ack (0: none)\n"
        "  --probe-interval S      ... once per S seconds each (default 5)\n"
        "                          idle: SIGUSR1 has each room's first member message its room\n"
        "                          (\"broadcast delivered N\" on stderr: all had it, all acked);\n"
        "                          SIGUSR2 restarts the ping gaps and probes from then on\n"
        "  --quiet                 no progress lines, only `ready` and the report\n");
}

static int add_target(const char *hostport)
{
    if (opt.ntargets == MAX_TARGETS) return -1;
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) return -1;
    if (uv_ip4_addr(host, (int)port, &opt.targets[opt.ntargets])) return -1;
    snprintf(opt.hosts[opt.ntargets], sizeof opt.hosts[0], "%s:%ld", host, port);
    opt.ntargets++;
    return 0;
}

static double num(const char *name, const char *v, double min)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || end == v || d < min) {
        fprintf(stderr, "loadgen: --%s: %s is not a valid value\n", name, v);
        exit(2);
    }
    return d;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", 1, 0, 'h'},        {"port", 1, 0, 'p'},
        {"connect-to", 1, 0, 't'},  {"path", 1, 0, 'P'},
        {"scenario", 1, 0, 's'},    {"transport", 1, 0, 'T'},
        {"clients", 1, 0, 'n'},     {"rooms", 1, 0, 'r'},
        {"rate", 1, 0, 'R'},        {"duration", 1, 0, 'd'},
        {"hold", 1, 0, 'H'},        {"concurrency", 1, 0, 'c'},
        {"sources", 1, 0, 'S'},     {"quiet", 0, 0, 'q'},
        {"source-base", 1, 0, 'b'}, {"user-base", 1, 0, 'U'},
        {"room-base", 1, 0, 'B'},   {"ping-interval", 1, 0, 'i'},
        {"probe-every", 1, 0, 'e'}, {"probe-interval", 1, 0, 'I'},
        {"help", 0, 0, 'u'},        {0, 0, 0, 0},
    };
    const char *host = "127.0.0.1", *port = "3000", *list = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 't': list = optarg; break;
        case 'P': opt.path = optarg; break;
        case 's':
            if (!strcmp(optarg, "idle"))
                opt.scenario = SC_IDLE;
            else if (!strcmp(optarg, "storm"))
                opt.scenario = SC_STORM;
            else if (!strcmp(optarg, "fanout"))
                opt.scenario = SC_FANOUT;
            else if (!strcmp(optarg, "chat"))
                opt.scenario = SC_CHAT;
            else {
                fprintf(stderr, "loadgen: unknown scenario %s\n", optarg);
                exit(2);
            }
            break;
        case 'T':
            if (!strcmp(optarg, "polling"))
                opt.polling = 1;
            else if (strcmp(optarg, "websocket")) {
                fprintf(stderr, "loadgen: unknown transport %s\n", optarg);
                exit(2);
            }
            break;
        case 'n': opt.clients = (long)num("clients", optarg, 1); break;
        case 'r': opt.rooms = (long)num("rooms", optarg, 0); break;
        case 'R': opt.rate = num("rate", optarg, 0); break;
        case 'd': opt.duration = num("duration", optarg, 0.1); break;
        case 'H': opt.hold = num("hold", optarg, 0); break;
        case 'c': opt.concurrency = (long)num("concurrency", optarg, 1); break;
        case 'S': opt.sources = (long)num("sources", optarg, 1); break;
        case 'q': opt.quiet = 1; break;
        case 'b': opt.source_base = (long)num("source-base", optarg, 0); break;
        case 'U': opt.user_base = (long)num("user-base", optarg, 0); break;
        case 'B': opt.room_base = (long)num("room-base", optarg, 0); break;
        case 'i': opt.ping_interval = num("ping-interval", optarg, 0.001); break;
        case 'e': opt.probe_every = (long)num("probe-every", optarg, 0); break;
        case 'I': opt.probe_interval = num("probe-interval", optarg, 0.05); break;
        case 'u': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loadgen: unexpected argument %s\n", argv[optind]);
        exit(2);
    }
    if (list) {
        char *copy = strdup(list), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (add_target(tok)) {
                fprintf(stderr, "loadgen: bad --connect-to entry %s\n", tok);
                exit(2);
            }
        free(copy);
    } else {
        char hp[128];
        snprintf(hp, sizeof hp, "%s:%s", host, port);
        if (add_target(hp)) {
            fprintf(stderr, "loadgen: bad --host/--port %s\n", hp);
            exit(2);
        }
    }
    opt.post_conn = opt.polling && (opt.scenario == SC_FANOUT || opt.scenario == SC_CHAT);
    if (opt.scenario == SC_CHAT && opt.rooms < 1) opt.rooms = 1;
    if ((opt.scenario == SC_FANOUT || opt.scenario == SC_CHAT) && opt.rate <= 0) {
        fprintf(stderr, "loadgen: --rate is needed for %s\n",
                opt.scenario == SC_FANOUT ? "fanout" : "chat");
        exit(2);
    }
    if (opt.sources > 250 * 250) opt.sources = 250 * 250;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    srand((unsigned)uv_hrtime());
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    loop = uv_default_loop();
    nclients = opt.clients + (opt.scenario == SC_FANOUT ? 1 : 0);
    clients = calloc((size_t)nclients, sizeof *clients);
    if (!clients) abort();
    if (opt.scenario == SC_CHAT || opt.rooms > 0) {
        room_members = calloc((size_t)opt.rooms, sizeof *room_members);
        if (!room_members) abort();
    }
    for (long i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        c->idx = (uint32_t)i;
        c->target = (uint8_t)(i % opt.ntargets);
        c->next_ack = 1;
        if (room_members) {
            c->room = (uint32_t)((i / opt.ntargets) % opt.rooms);
            room_members[c->room]++;
        }
    }
    if (opt.scenario == SC_FANOUT) clients[nclients - 1].publisher = 1;

    uv_timer_init(loop, &tick_timer);
    uv_timer_init(loop, &send_timer);
    uv_timer_init(loop, &end_timer);
    uv_timer_init(loop, &probe_timer);
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_usr1);
    uv_signal_start(&sig_usr1, on_broadcast, SIGUSR1);
    uv_signal_init(loop, &sig_usr2);
    uv_signal_start(&sig_usr2, on_measure, SIGUSR2);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_start(&tick_timer, on_tick, 1000, 1000);
    start_more();
    uv_run(loop, UV_RUN_DEFAULT);
    /* every client handle is closed; let the timers' and signals' closes finish */
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    free(clients);
    free(room_members);
    return rc == 0 ? 0 : 1;
}
