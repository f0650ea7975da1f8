/* floor: the least work any server could do for the fan-out and cross-node benchmarks, to
 * measure this machine's ceiling beside chatnode with the same load generator.
 *
 * It accepts WebSocket connections on one or more ports (epoll, non-blocking sockets, one
 * thread), completes the Engine.IO/Socket.IO handshake just enough for a client to count as
 * connected and joined (open packet, CONNECT answer, the join's ack), and for each chat
 * message a client sends builds the event chatnode would deliver (same JSON, same frame) once,
 * then gives that one frame to every member of the room in a tight loop, the sender included,
 * and answers the sender's ack. What a connection is given while one round of events is
 * handled goes out after it in one send() (several messages read in one round cost each
 * member one system call, as in chatnode). Nothing is stored, checked, logged or announced;
 * there is no bus: rooms span every port of the one process. What a socket does not take at
 * once is kept and sent when it drains, so nothing is dropped.
 *
 *   floor --host 127.0.0.1 --port P [--port Q ...]
 *
 * Prints msg="listening" on stderr once it listens; ends cleanly on SIGTERM or SIGINT. */
#define _GNU_SOURCE /* strcasestr, accept4 */
#include "sbuf.h"
#include "strmap.h"
#include "ws_frame.h"
#include "ws_header.h"
#include "ws_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS   16
#define MAX_HEAD    8192    /* largest HTTP request head */
#define MAX_PAYLOAD 1000000 /* largest client frame, as chatnode's maxPayload */

typedef struct room room_t;

typedef struct fconn {
    int fd;
    int ws;         /* past the upgrade */
    int sio;        /* Socket.IO CONNECT answered */
    int want_out;   /* EPOLLOUT asked for */
    int dead;       /* to be closed once the current event is handled */
    int corked;     /* in the list of connections to write after this round of events */
    char *user;     /* from CONNECT's auth {user} */
    room_t *room;   /* the one room joined, or NULL */
    size_t slot;    /* its index in room->members */
    sbuf_t in, out; /* bytes read and not handled; bytes the socket did not take yet */
    struct fconn *next_dead, *next_corked;
    struct fconn *prev, *next; /* every connection, for the end */
} fconn_t;

struct room {
    char *name;
    fconn_t **members;
    size_t n, cap;
};

static int ep = -1;
static volatile sig_atomic_t stop;
static strmap_t rooms = STRMAP_INIT;
static fconn_t *dead_list, *all, *corked;
static uint64_t next_sid, last_ms, seq;
static uint64_t deliveries;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* ---- rooms ---- */

static void room_leave(fconn_t *c)
{
    room_t *r = c->room;
    if (!r) return;
    fconn_t *last = r->members[--r->n];
    r->members[c->slot] = last;
    last->slot = c->slot;
    c->room = NULL;
    if (!r->n) {
        strmap_del(&rooms, r->name, strlen(r->name));
        free(r->members);
        free(r->name);
        free(r);
    }
}

static void room_join(fconn_t *c, const char *name, size_t len)
{
    room_leave(c);
    room_t *r = strmap_get(&rooms, name, len);
    if (!r) {
        r = xmalloc(sizeof *r);
        *r = (room_t){.name = xstrndup(name, len)};
        strmap_put(&rooms, r->name, len, r);
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        fconn_t **m = realloc(r->members, r->cap * sizeof *m);
        if (!m) abort();
        r->members = m;
    }
    c->slot = r->n;
    r->members[r->n++] = c;
    c->room = r;
}

/* ---- connections ---- */

static void kill_conn(fconn_t *c)
{
    if (c->dead) return;
    c->dead = 1;
    c->next_dead = dead_list;
    dead_list = c;
}

static void free_conn(fconn_t *c)
{
    room_leave(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        all = c->next;
    if (c->next) c->next->prev = c->prev;
    close(c->fd);
    sbuf_free(&c->in);
    sbuf_free(&c->out);
    free(c->user);
    free(c);
}

static void reap(void)
{
    while (dead_list) {
        fconn_t *c = dead_list;
        dead_list = c->next_dead;
        free_conn(c);
    }
}

static void want_out(fconn_t *c, int on)
{
    if (c->want_out == on) return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev)) kill_conn(c);
}

/* Sends data[0..len) after this round of events (uncork), with all else given to c in it; the
 * rest when the socket drains. */
static void conn_send(fconn_t *c, const void *data, size_t len)
{
    if (c->dead) return;
    sbuf_append(&c->out, data, len);
    if (c->want_out || c->corked) return;
    c->corked = 1;
    c->next_corked = corked;
    corked = c;
}

static void on_writable(fconn_t *c)
{
    while (c->out.len) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            kill_conn(c);
            return;
        }
        memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
        c->out.len -= (size_t)n;
    }
    if (c->out.cap > 65536) sbuf_free(&c->out); /* else kept for the next round */
    want_out(c, 0);
}

/* Writes what each connection was given during the round of events just handled. */
static void uncork(void)
{
    while (corked) {
        fconn_t *c = corked;
        corked = c->next_corked;
        c->corked = 0;
        if (c->dead) continue;
        on_writable(c);
        if (!c->dead && c->out.len) want_out(c, 1);
    }
}

/* One text frame carrying s[0..len). */
static void send_text(fconn_t *c, const char *s, size_t len)
{
    sbuf_t f = SBUF_INIT;
    uint8_t h[WS_HEADER_MAX];
    sbuf_append(&f, h, ws_server_header(h, WS_OPCODE_TEXT, len));
    sbuf_append(&f, s, len);
    conn_send(c, f.data, f.len);
    sbuf_free(&f);
}

/* ---- the little Socket.IO it speaks ---- */

/* The JSON string value of "key": in p[0..len), escapes kept: its start and length, or NULL. */
static const char *json_str(const char *p, size_t len, const char *key, size_t *out)
{
    char pat[32];
    int k = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *s = memmem(p, len, pat, (size_t)k);
    if (!s) return NULL;
    s += k;
    for (const char *e = s; e < p + len; e++) {
        if (*e == '\\') {
            e++;
            continue;
        }
        if (*e == '"') {
            *out = (size_t)(e - s);
            return s;
        }
    }
    return NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The room's message event, as chatnode delivers it, encoded once and sent to every member;
 * then the sender's ack. */
static void publish(fconn_t *c, const char *ack, size_t acklen, const char *p, size_t len)
{
    size_t rlen, tlen;
    const char *room = json_str(p, len, "room", &rlen), *text = json_str(p, len, "text", &tlen);
    if (!room || !text) {
        kill_conn(c);
        return;
    }
    uint64_t ms = now_ms();
    seq = ms == last_ms ? seq + 1 : 0;
    last_ms = ms;
    char id[48];
    snprintf(id, sizeof id, "%" PRIu64 "-%" PRIu64, ms, seq);
    const char *user = c->user ? c->user : "anonymous";
    sbuf_t ev = SBUF_INIT;
    uint8_t h[WS_HEADER_MAX] = {0};
    sbuf_append(&ev, h, sizeof h); /* the header goes at the end of this room */
    sbuf_printf(&ev,
                "42[\"message\",{\"id\":\"%s\",\"from\":{\"id\":\"guest:%s\",\"name\":\"%s\"},"
                "\"text\":\"%.*s\",\"ts\":%" PRIu64 ",\"room\":\"%.*s\"},\"%s\"]",
                id, user, user, (int)tlen, text, ms, (int)rlen, room, id);
    size_t plen = ev.len - sizeof h;
    size_t hl = ws_server_header(h, WS_OPCODE_TEXT, plen);
    uint8_t *frame = (uint8_t *)ev.data + sizeof h - hl;
    memcpy(frame, h, hl);
    room_t *r = strmap_get(&rooms, room, rlen);
    if (r) {
        for (size_t i = 0; i < r->n; i++) conn_send(r->members[i], frame, hl + plen);
        deliveries += r->n;
    }
    sbuf_free(&ev);
    if (acklen) {
        char a[160];
        int n = snprintf(a, sizeof a, "43%.*s[{\"id\":\"%s\",\"ts\":%" PRIu64 ",\"ok\":true}]",
                         (int)acklen, ack, id, ms);
        send_text(c, a, (size_t)n);
    }
}

/* One Socket.IO packet (after the Engine.IO '4'). */
static void on_sio(fconn_t *c, const char *p, size_t len)
{
    if (len >= 1 && p[0] == '0') {
        size_t ul;
        const char *u = json_str(p, len, "user", &ul);
        free(c->user);
        c->user = u ? xstrndup(u, ul) : NULL;
        char a[64];
        int n = snprintf(a, sizeof a, "40{\"sid\":\"f%019" PRIu64 "\"}", ++next_sid);
        c->sio = 1;
        send_text(c, a, (size_t)n);
        return;
    }
    if (len < 2 || p[0] != '2' || !c->sio) {
        kill_conn(c);
        return;
    }
    const char *ack = p + 1, *e = ack;
    while (e < p + len && *e >= '0' && *e <= '9') e++;
    size_t acklen = (size_t)(e - ack), rest = len - (size_t)(e - p);
    if (rest > 10 && !memcmp(e, "[\"message\",", 11)) {
        publish(c, ack, acklen, e, rest);
    } else if (rest > 7 && !memcmp(e, "[\"join\",", 8)) {
        size_t rl;
        const char *room = json_str(e, rest, "room", &rl);
        if (!room) {
            kill_conn(c);
            return;
        }
        room_join(c, room, rl);
        if (acklen) {
            sbuf_t a = SBUF_INIT;
            sbuf_printf(&a, "43%.*s[{\"history\":[],\"room\":\"%.*s\",\"members\":[],\"ok\":true}]",
                        (int)acklen, ack, (int)rl, room);
            send_text(c, a.data, a.len);
            sbuf_free(&a);
        }
    }
}

/* One Engine.IO packet. */
static void on_eio(fconn_t *c, const char *p, size_t len)
{
    if (!len) return;
    switch (p[0]) {
    case '4': on_sio(c, p + 1, len - 1); return;
    case '2': send_text(c, "3", 1); return;
    case '3': return;
    default: kill_conn(c); return;
    }
}

/* The upgrade request at buf[0..len): answers 101 and the Engine.IO open packet. Returns the
 * bytes used, 0 when more are needed. */
static size_t on_head(fconn_t *c, char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > MAX_HEAD) kill_conn(c);
        return 0;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    buf[hlen - 1] = 0; /* the head as a string, for strcasestr */
    const char *k = strcasestr(buf, "\r\nsec-websocket-key:");
    if (!k) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        conn_send(c, bad, sizeof bad - 1);
        kill_conn(c);
        return hlen;
    }
    k += 20;
    while (*k == ' ') k++;
    size_t kl = strcspn(k, " \r");
    char accept[29];
    ws_accept_for_key(k, kl, accept);
    char reply[256];
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    conn_send(c, reply, (size_t)n);
    c->ws = 1;
    char open[160];
    n = snprintf(open, sizeof open,
                 "0{\"sid\":\"e%019" PRIu64 "\",\"upgrades\":[],\"pingInterval\":25000,"
                 "\"pingTimeout\":20000,\"maxPayload\":%d}",
                 ++next_sid, MAX_PAYLOAD);
    send_text(c, open, (size_t)n);
    return hlen;
}

/* Handles every complete unit (the upgrade request, then frames) of buf[0..len), which it may
 * change (frames are unmasked in place); returns the bytes used. */
static size_t consume(fconn_t *c, char *buf, size_t len)
{
    size_t used = 0;
    while (!c->dead && used < len) {
        if (!c->ws) {
            size_t n = on_head(c, buf + used, len - used);
            if (!n) break;
            used += n;
            continue;
        }
        wss_frame_t f;
        long n = wss_frame_parse((uint8_t *)buf + used, len - used, MAX_PAYLOAD, &f);
        if (n <= 0) {
            if (n < 0) kill_conn(c);
            break;
        }
        used += (size_t)n;
        switch (f.opcode) {
        case WS_OP_TEXT:
            if (f.fin)
                on_eio(c, (const char *)f.payload, f.len);
            else
                kill_conn(c);
            break;
        case WS_OP_PING: {
            uint8_t h[WS_HEADER_MAX];
            sbuf_t o = SBUF_INIT;
            sbuf_append(&o, h, ws_server_header(h, WS_OPCODE_PONG, f.len));
            sbuf_append(&o, f.payload, f.len);
            conn_send(c, o.data, o.len);
            sbuf_free(&o);
            break;
        }
        case WS_OP_PONG: break;
        default: kill_conn(c); break; /* close, binary, fragments: not for this program */
        }
    }
    return used;
}

/* Reads land in one shared buffer and are handled there; only the tail of an unfinished unit
 * is kept in the connection's own buffer. */
static char rbuf[1 << 16];

static void on_readable(fconn_t *c)
{
    ssize_t n;
    do n = recv(c->fd, rbuf, sizeof rbuf, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
        kill_conn(c);
        return;
    }
    char *buf = rbuf;
    size_t len = (size_t)n;
    if (c->in.len) {
        sbuf_append(&c->in, rbuf, len);
        buf = c->in.data;
        len = c->in.len;
    }
    size_t used = consume(c, buf, len);
    if (c->dead) return;
    if (buf == rbuf) {
        if (used < len) sbuf_append(&c->in, rbuf + used, len - used);
        return;
    }
    memmove(c->in.data, c->in.data + used, len - used);
    c->in.len = len - used;
    if (!c->in.len) sbuf_free(&c->in);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "level=warn msg=\"accept failed\" err=\"%s\"\n", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fconn_t *c = xmalloc(sizeof *c);
        *c = (fconn_t){.fd = fd, .in = SBUF_INIT, .out = SBUF_INIT};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            free(c);
            continue;
        }
        c->next = all;
        if (all) all->prev = c;
        all = c;
    }
}

/* ---- main ---- */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int listen_on(const char *host, const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4096)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *ports[MAX_PORTS];
    int nports = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc && nports < MAX_PORTS)
            ports[nports++] = argv[++i];
        else {
            fprintf(stderr, "usage: floor [--host H] --port P [--port Q ...]\n");
            return 2;
        }
    }
    if (!nports) ports[nports++] = "3000";
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    int lfds[MAX_PORTS];
    for (int i = 0; i < nports; i++) {
        lfds[i] = listen_on(host, ports[i]);
        if (lfds[i] < 0) {
            fprintf(stderr, "level=error msg=\"cannot listen\" port=%s err=\"%s\"\n", ports[i],
                    strerror(errno));
            return 1;
        }
        /* a listening socket is told apart from a connection by its data: the fd, tagged */
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)lfds[i] << 1 | 1};
        epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev);
        fprintf(stderr, "level=info msg=\"listening\" host=%s port=%s\n", host, ports[i]);
    }
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 & 1) {
                on_accept((int)(evs[i].data.u64 >> 1));
                continue;
            }
            fconn_t *c = evs[i].data.ptr;
            if (c->dead) continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) kill_conn(c);
            if (!c->dead && (evs[i].events & EPOLLOUT)) on_writable(c);
            if (!c->dead && (evs[i].events & EPOLLIN)) on_readable(c);
        }
        uncork();
        /* connections die only here, after the batch: none is freed while a room is walked,
         * nor while a later event of the batch still points at it */
        reap();
    }
    /* closing: every connection (the last one out of a room frees it) */
    reap();
    while (all) free_conn(all);
    strmap_free(&rooms);
    for (int i = 0; i < nports; i++) close(lfds[i]);
    close(ep);
    fprintf(stderr, "level=info msg=\"stopped\" deliveries=%" PRIu64 "\n", deliveries);
    return 0;
}
