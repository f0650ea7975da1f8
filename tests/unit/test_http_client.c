/* Tests for proto/runtime/http_client.c against a small HTTP/1.1 server of the test's own on
 * the same libuv loop (a free port, closed in teardown; it counts the connections it accepts
 * and answers by path), and against `openssl s_server` for TLS: methods, bodies and headers,
 * 200 concurrent requests, keep-alive reuse, timeouts, refused connections, the caps on the
 * response, redirects not followed, cancel and close with requests in flight, certificates. */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_client.h"
#include "redis_srv.h"
#include "sbuf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- the test server --- */

typedef struct sconn {
    uv_tcp_t tcp;
    struct srv *srv;
    sbuf_t in;
    struct sconn *prev, *next;
} sconn_t;

typedef struct srv {
    uv_tcp_t tcp;
    int port;
    int accepted; /* connections accepted */
    int open;     /* open now */
    int max_open; /* most open at once */
    int requests; /* requests read */
    sconn_t *conns;
    char last_head[8192]; /* the last request's head */
    char last_body[4096];
    size_t last_body_len;
    size_t last_clen; /* its whole Content-Length */
} srv_t;

typedef struct {
    uv_write_t req;
    char *data;
} wreq_t;

static void on_sconn_closed(uv_handle_t *h)
{
    sconn_t *sc = h->data;
    sbuf_free(&sc->in);
    free(sc);
}

static void sconn_close(sconn_t *sc)
{
    if (uv_is_closing((uv_handle_t *)&sc->tcp)) return;
    srv_t *s = sc->srv;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next) sc->next->prev = sc->prev;
    s->open--;
    uv_close((uv_handle_t *)&sc->tcp, on_sconn_closed);
}

static void on_wrote(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    free(w->data);
    free(w);
}

static void sconn_send(sconn_t *sc, sbuf_t *b)
{
    wreq_t *w = calloc(1, sizeof *w);
    size_t len = 0;
    w->data = sbuf_steal(b, &len);
    uv_buf_t ub = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&sc->tcp, &ub, 1, on_wrote) < 0) {
        free(w->data);
        free(w);
    }
}

/* The value of header name in head ("" when absent), at most cap-1 bytes. */
static void head_value(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) != 0 || p[2 + n] != ':') continue;
        const char *v = p + 3 + n;
        while (*v == ' ') v++;
        size_t len = strcspn(v, "\r");
        if (len >= cap) len = cap - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        return;
    }
}

/* An HTTP-date delay seconds from now. */
static void http_date(char *out, size_t cap, int delay)
{
    time_t t = time(NULL) + delay;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Answers one request by its path:
 *   /hello          200 "hello", Retry-After: 7, X-Method: the method
 *   /echo           200, the request's body and Content-Type; X-Test-Echo: its X-Test
 *   /sink           204, the body read and dropped
 *   /busy           503, Retry-After: a date two minutes from now
 *   /redirect       302 to /hello
 *   /dup            X-Dup twice ("a" then "b")
 *   /hang           no answer at all
 *   /big/N          N bytes with a Content-Length
 *   /chunked/N      N bytes, chunked (no length known up front)
 *   /headers/N      about N bytes of headers */
static void respond(sconn_t *sc, const char *method, const char *path, const char *head,
                    const char *body, size_t body_len)
{
    sbuf_t b = SBUF_INIT;
    int is_head = strcmp(method, "HEAD") == 0;
    char v[256];
    if (strcmp(path, "/hello") == 0) {
        sbuf_printf(&b,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nRetry-After: 7\r\n"
                    "X-Method: %s\r\nContent-Length: 5\r\n\r\n%s",
                    method, is_head ? "" : "hello");
    } else if (strcmp(path, "/echo") == 0) {
        char ctype[128], test[128];
        head_value(head, "Content-Type", ctype, sizeof ctype);
        head_value(head, "X-Test", test, sizeof test);
        sbuf_printf(&b,
                    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nX-Test-Echo: %s\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    ctype[0] ? ctype : "application/octet-stream", test, body_len);
        sbuf_append(&b, body, body_len);
    } else if (strcmp(path, "/sink") == 0) {
        sbuf_printf(&b, "HTTP/1.1 204 No Content\r\n\r\n");
    } else if (strcmp(path, "/busy") == 0) {
        http_date(v, sizeof v, 120);
        sbuf_printf(&b, "HTTP/1.1 503 Busy\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n", v);
    } else if (strcmp(path, "/redirect") == 0) {
        sbuf_printf(&b, "HTTP/1.1 302 Found\r\nLocation: /hello\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/dup") == 0) {
        sbuf_printf(&b, "HTTP/1.1 200 OK\r\nX-Dup: a\r\nX-Dup: b\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/hang") == 0) {
        return;
    } else if (strncmp(path, "/big/", 5) == 0) {
        size_t n = strtoul(path + 5, NULL, 10);
        sbuf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
        for (size_t i = 0; i < n; i++) sbuf_append_char(&b, 'x');
    } else if (strncmp(path, "/chunked/", 9) == 0) {
        size_t n = strtoul(path + 9, NULL, 10);
        sbuf_printf(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        while (n > 0) {
            size_t k = n < 1000 ? n : 1000;
            sbuf_printf(&b, "%zx\r\n", k);
            for (size_t i = 0; i < k; i++) sbuf_append_char(&b, 'y');
            sbuf_append_str(&b, "\r\n");
            n -= k;
        }
        sbuf_append_str(&b, "0\r\n\r\n");
    } else if (strncmp(path, "/headers/", 9) == 0) {
        size_t n = strtoul(path + 9, NULL, 10);
        sbuf_printf(&b, "HTTP/1.1 200 OK\r\n");
        for (size_t i = 0; i < n / 100 + 1; i++) {
            sbuf_printf(&b, "X-Pad-%zu: ", i);
            for (int k = 0; k < 88; k++) sbuf_append_char(&b, 'p');
            sbuf_append_str(&b, "\r\n");
        }
        sbuf_append_str(&b, "Content-Length: 0\r\n\r\n");
    } else {
        sbuf_printf(&b, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
    sconn_send(sc, &b);
}

/* Answers every complete request in sc's input. */
static void serve(sconn_t *sc)
{
    srv_t *s = sc->srv;
    for (;;) {
        char *end = sc->in.len ? memmem(sc->in.data, sc->in.len, "\r\n\r\n", 4) : NULL;
        if (!end) return;
        size_t hlen = (size_t)(end - sc->in.data) + 4;
        char *head = strndup(sc->in.data, hlen);
        char clen_text[32];
        head_value(head, "Content-Length", clen_text, sizeof clen_text);
        size_t clen = strtoul(clen_text, NULL, 10);
        if (sc->in.len < hlen + clen) {
            free(head);
            return;
        }
        char method[16] = "", path[256] = "";
        if (sscanf(head, "%15s %255s", method, path) != 2) {
            free(head);
            sconn_close(sc);
            return;
        }
        s->requests++;
        snprintf(s->last_head, sizeof s->last_head, "%s", head);
        s->last_clen = clen;
        s->last_body_len = clen < sizeof s->last_body ? clen : sizeof s->last_body;
        memcpy(s->last_body, sc->in.data + hlen, s->last_body_len);
        respond(sc, method, path, head, sc->in.data + hlen, clen);
        free(head);
        size_t used = hlen + clen;
        memmove(sc->in.data, sc->in.data + used, sc->in.len - used);
        sc->in.len -= used;
        sc->in.data[sc->in.len] = '\0';
    }
}

static void on_salloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char chunk[65536];
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_sread(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    sconn_t *sc = st->data;
    if (n < 0) {
        sconn_close(sc);
        return;
    }
    sbuf_append(&sc->in, buf->base, (size_t)n);
    serve(sc);
}

static void on_sconnection(uv_stream_t *l, int status)
{
    srv_t *s = l->data;
    if (status < 0) return;
    sconn_t *sc = calloc(1, sizeof *sc);
    sc->srv = s;
    sc->in = (sbuf_t)SBUF_INIT;
    uv_tcp_init(l->loop, &sc->tcp);
    sc->tcp.data = sc;
    if (uv_accept(l, (uv_stream_t *)&sc->tcp) < 0) {
        uv_close((uv_handle_t *)&sc->tcp, on_sconn_closed);
        return;
    }
    sc->next = s->conns;
    if (s->conns) s->conns->prev = sc;
    s->conns = sc;
    s->accepted++;
    if (++s->open > s->max_open) s->max_open = s->open;
    uv_read_start((uv_stream_t *)&sc->tcp, on_salloc, on_sread);
}

static void srv_start(srv_t *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(uv_tcp_init(loop, &s->tcp), 0);
    s->tcp.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 512, on_sconnection), 0);
    int len = sizeof a;
    assert_int_equal(uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
}

static void srv_stop(srv_t *s)
{
    while (s->conns) sconn_close(s->conns);
    if (!uv_is_closing((uv_handle_t *)&s->tcp)) uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* --- openssl s_server for TLS --- */

static pid_t tls_pid;
static char tls_dir[64];

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static void tls_stop(void)
{
    if (tls_pid > 0) {
        kill(tls_pid, SIGKILL);
        waitpid(tls_pid, NULL, 0);
        tls_pid = 0;
    }
    if (tls_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tls_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tls_dir);
        tls_dir[0] = '\0';
    }
}

/* A self-signed certificate for 127.0.0.1 (tls_dir/cert.pem) and `openssl s_server -www` with
 * it on a free port, returned; -1 when openssl is missing or would not start. */
static int tls_start(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/http_client_tls.XXXXXX");
    if (!mkdtemp(tls_dir)) {
        tls_dir[0] = '\0';
        return -1;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout '%s/key.pem' -out '%s/cert.pem' -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             tls_dir, tls_dir);
    if (system(cmd) != 0) return -1;
    int port = redis_srv_free_port();
    char accept[32], cert[96], key[96];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    snprintf(cert, sizeof cert, "%s/cert.pem", tls_dir);
    snprintf(key, sizeof key, "%s/key.pem", tls_dir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept, "-cert", cert,
               "-key", key, (char *)NULL);
        _exit(127);
    }
    tls_pid = pid;
    for (int i = 0; i < 500; i++) {
        if (port_open(port)) return port;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            tls_pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

/* --- loop fixture --- */

typedef struct {
    int n; /* times called back */
    int err;
    long status;
    char error[256];
    char content_type[128];
    int64_t retry_after;
    char headers[HTTP_CLIENT_MAX_WANT][128];
    int has_header[HTTP_CLIENT_MAX_WANT];
    sbuf_t body;
    uint64_t elapsed_us;
    /* what the callback does */
    uint64_t cancel_id; /* http_client_cancel this one */
    int close_client;   /* http_client_close */
    int cancel_rc;
    int close_rc;
} call_t;

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop so WAIT checks its condition */
    srv_t srv;
    http_client_t *c;
    int closed;
    size_t nwant; /* of the requests made through request() */
    call_t calls[256];
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

static void on_tick(uv_timer_t *t)
{
}

static void on_closed(void *ud)
{
    ((fx_t *)ud)->closed++;
}

static void on_done(void *ud, const http_client_result_t *r)
{
    call_t *k = ud;
    k->n++;
    k->err = r->err;
    k->status = r->status;
    assert_non_null(r->error);
    assert_true((r->err == 0) == (r->error[0] == '\0'));
    snprintf(k->error, sizeof k->error, "%s", r->error);
    snprintf(k->content_type, sizeof k->content_type, "%s", r->content_type ? r->content_type : "");
    k->retry_after = r->retry_after_s;
    for (size_t i = 0; i < fx->nwant; i++) {
        k->has_header[i] = r->headers[i] != NULL;
        snprintf(k->headers[i], sizeof k->headers[i], "%s", r->headers[i] ? r->headers[i] : "");
    }
    assert_non_null(r->body);
    assert_int_equal(r->body[r->body_len], '\0');
    sbuf_append(&k->body, r->body, r->body_len);
    k->elapsed_us = r->elapsed_us;
    if (k->cancel_id) k->cancel_rc = http_client_cancel(fx->c, k->cancel_id);
    if (k->close_client) k->close_rc = http_client_close(fx->c, on_closed, fx);
}

static int setup(void **state)
{
    fx = calloc(1, sizeof *fx);
    uv_loop_init(&fx->loop);
    uv_timer_init(&fx->loop, &fx->tick);
    uv_timer_start(&fx->tick, on_tick, 5, 5);
    srv_start(&fx->srv, &fx->loop);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    if (fx->c && !fx->closed) {
        http_client_close(fx->c, on_closed, fx);
        WAIT(fx->closed, 2000);
    }
    srv_stop(&fx->srv);
    uv_close((uv_handle_t *)&fx->tick, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&fx->loop);
    for (size_t i = 0; i < sizeof fx->calls / sizeof fx->calls[0]; i++)
        sbuf_free(&fx->calls[i].body);
    free(fx);
    fx = NULL;
    tls_stop();
    return rc == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void open_client(http_client_options_t *o)
{
    fx->c = http_client_new(&fx->loop, o);
    assert_non_null(fx->c);
}

static void url_of(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", fx->srv.port, path);
}

/* Starts req on path of the test server, answered into fx->calls[i]. Returns the id. */
static uint64_t start(int i, http_client_request_t *req, const char *path)
{
    char url[128];
    url_of(url, sizeof url, path);
    req->url = url;
    fx->nwant = req->nwant;
    uint64_t id = 0;
    assert_int_equal(http_client_request(fx->c, req, on_done, &fx->calls[i], &id), 0);
    assert_true(id != 0);
    return id;
}

static void get(int i, const char *path)
{
    http_client_request_t req = {0};
    start(i, &req, path);
}

/* Runs request i to its answer. */
static void run(int i)
{
    WAIT(fx->calls[i].n > 0, 5000);
    assert_int_equal(fx->calls[i].n, 1);
}

static http_client_stats_t stats(void)
{
    http_client_stats_t st;
    http_client_stats(fx->c, &st);
    return st;
}

/* --- tests --- */

static void test_names(void **state)
{
    assert_string_equal(http_client_strerror(HTTP_CLIENT_ETIMEDOUT), "HTTP request timed out");
    assert_string_equal(http_client_strerror(1), "unknown error");
    http_client_options_t o;
    http_client_options_init(&o);
    assert_int_equal(o.max_body_bytes, 1u << 20);
    assert_null(o.ca_file);
}

static void test_get(void **state)
{
    open_client(NULL);
    const char *want[2] = {"X-Method", "X-Absent"};
    http_client_request_t req = {.want_headers = want, .nwant = 2};
    start(0, &req, "/hello");
    run(0);
    call_t *k = &fx->calls[0];
    assert_int_equal(k->err, 0);
    assert_int_equal(k->status, 200);
    assert_string_equal(k->body.data, "hello");
    assert_string_equal(k->content_type, "text/plain");
    assert_int_equal(k->retry_after, 7);
    assert_true(k->has_header[0]);
    assert_string_equal(k->headers[0], "GET");
    assert_false(k->has_header[1]);
    assert_true(k->elapsed_us > 0);
    /* what the server saw */
    assert_non_null(strstr(fx->srv.last_head, "GET /hello HTTP/1.1\r\n"));
    assert_non_null(strstr(fx->srv.last_head, "\r\nUser-Agent: chatcluster/"));
    assert_null(strcasestr(fx->srv.last_head, "Content-Type"));
    http_client_stats_t st = stats();
    assert_int_equal(st.started, 1);
    assert_int_equal(st.ok, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.connects, 1);
}

static void test_post_body_headers(void **state)
{
    http_client_options_t o;
    http_client_options_init(&o);
    o.user_agent = "hook-test/1";
    open_client(&o);
    char body[] = {'{', '"', 'a', '"', ':', '1', '}', 0, (char)0xff, 'z'};
    const char *headers[2] = {"Content-Type: application/json", "X-Test:  abc def"};
    const char *want[1] = {"x-test-echo"}; /* any case */
    http_client_request_t req = {.method = "POST",
                                 .headers = headers,
                                 .nheaders = 2,
                                 .body = body,
                                 .body_len = sizeof body,
                                 .want_headers = want,
                                 .nwant = 1};
    start(0, &req, "/echo");
    memset(body, '!', sizeof body); /* the client has its own copy */
    run(0);
    call_t *k = &fx->calls[0];
    assert_int_equal(k->err, 0);
    assert_int_equal(k->status, 200);
    assert_int_equal(k->body.len, 10);
    assert_memory_equal(k->body.data, "{\"a\":1}\0\xffz", 10);
    assert_string_equal(k->content_type, "application/json");
    assert_string_equal(k->headers[0], "abc def");
    assert_int_equal(k->retry_after, -1);
    assert_non_null(strstr(fx->srv.last_head, "POST /echo HTTP/1.1\r\n"));
    assert_non_null(strstr(fx->srv.last_head, "\r\nContent-Length: 10\r\n"));
    assert_non_null(strstr(fx->srv.last_head, "\r\nUser-Agent: hook-test/1\r\n"));
    assert_null(strcasestr(fx->srv.last_head, "Expect:"));

    /* A body of 1.5 MB: no Expect: 100-continue round trip; no Content-Type when none given. */
    size_t large_len = 1500000;
    char *large = malloc(large_len);
    memset(large, 'q', large_len);
    http_client_request_t big = {.method = "POST", .body = large, .body_len = large_len};
    start(1, &big, "/sink");
    free(large);
    run(1);
    assert_int_equal(fx->calls[1].err, 0);
    assert_int_equal(fx->calls[1].status, 204);
    assert_int_equal(fx->srv.last_clen, large_len);
    assert_null(strcasestr(fx->srv.last_head, "Expect:"));
    assert_null(strcasestr(fx->srv.last_head, "Content-Type:"));
}

static void test_methods(void **state)
{
    open_client(NULL);
    const char *want[1] = {"X-Method"};
    const char *methods[5] = {"PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (int i = 0; i < 5; i++) {
        http_client_request_t req = {.method = methods[i], .want_headers = want, .nwant = 1};
        start(i, &req, "/hello");
        run(i);
        assert_int_equal(fx->calls[i].err, 0);
        assert_int_equal(fx->calls[i].status, 200);
        assert_string_equal(fx->calls[i].headers[0], methods[i]);
        char line[64];
        snprintf(line, sizeof line, "%s /hello HTTP/1.1\r\n", methods[i]);
        assert_non_null(strstr(fx->srv.last_head, line));
        /* PUT and PATCH without a body still say so; the others send no length */
        int with_length = i == 0 || i == 2;
        assert_true((strstr(fx->srv.last_head, "\r\nContent-Length: 0\r\n") != NULL) ==
                    with_length);
        assert_null(strcasestr(fx->srv.last_head, "Content-Type:"));
    }
    assert_int_equal(fx->calls[3].body.len, 0); /* HEAD */
    assert_string_equal(fx->calls[0].body.data, "hello");
    assert_int_equal(fx->srv.requests, 5);
    assert_int_equal(stats().connects, 1);
}

static void test_invalid(void **state)
{
    open_client(NULL);
    call_t *k = &fx->calls[0];
    char url[128];
    url_of(url, sizeof url, "/hello");
    const char *bad_urls[] = {
        "file:///etc/passwd", "ftp://127.0.0.1/", "not a url", "", "gopher://127.0.0.1/", "/hello"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        http_client_request_t req = {.url = bad_urls[i]};
        assert_int_equal(http_client_request(fx->c, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    }
    const char *bad_headers[] = {"X-A: b\r\nX-Evil: 1", "NoColon", ": empty name",
                                 "X A: space in name", "X-A: nul\x01"};
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        http_client_request_t req = {.url = url, .headers = &bad_headers[i], .nheaders = 1};
        assert_int_equal(http_client_request(fx->c, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    }
    const char *bad_methods[] = {"GE T", "", "GET\r\n", "POST/1"};
    for (size_t i = 0; i < sizeof bad_methods / sizeof bad_methods[0]; i++) {
        http_client_request_t req = {.url = url, .method = bad_methods[i]};
        assert_int_equal(http_client_request(fx->c, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    }
    const char *bad_want[1] = {"X Y"};
    http_client_request_t req = {.url = url, .want_headers = bad_want, .nwant = 1};
    assert_int_equal(http_client_request(fx->c, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    const char *many[HTTP_CLIENT_MAX_WANT + 1];
    for (int i = 0; i <= HTTP_CLIENT_MAX_WANT; i++) many[i] = "X-A";
    req = (http_client_request_t){.url = url, .want_headers = many, .nwant = 9};
    assert_int_equal(http_client_request(fx->c, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    req = (http_client_request_t){.url = url, .body_len = 3};
    assert_int_equal(http_client_request(fx->c, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    req = (http_client_request_t){.url = url};
    assert_int_equal(http_client_request(fx->c, &req, NULL, k, NULL), HTTP_CLIENT_EINVAL);
    assert_int_equal(http_client_request(NULL, &req, on_done, k, NULL), HTTP_CLIENT_EINVAL);
    assert_int_equal(http_client_cancel(fx->c, 12345), HTTP_CLIENT_ENOENT);
    assert_int_equal(http_client_close(NULL, NULL, NULL), HTTP_CLIENT_EINVAL);
    /* options */
    http_client_options_t o;
    http_client_options_init(&o);
    o.max_body_bytes = 0;
    assert_null(http_client_new(&fx->loop, &o));
    assert_null(http_client_new(NULL, NULL));

    WAIT(0, 50);
    assert_int_equal(k->n, 0); /* refused: never called back */
    assert_int_equal(stats().started, 0);
    assert_int_equal(fx->srv.accepted, 0);
}

static void test_concurrent(void **state)
{
    http_client_options_t o;
    http_client_options_init(&o);
    o.max_connections = 8;
    o.max_host_connections = 8;
    open_client(&o);
    for (int i = 0; i < 200; i++) get(i, i % 2 ? "/hello" : "/big/3000");
    assert_int_equal(stats().in_flight, 200);
    int all = 0;
    WAIT((all = (int)stats().ok) == 200, 20000);
    WAIT(0, 50); /* nothing more comes */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(fx->calls[i].n, 1);
        assert_int_equal(fx->calls[i].err, 0);
        assert_int_equal(fx->calls[i].status, 200);
        assert_int_equal(fx->calls[i].body.len, i % 2 ? 5 : 3000);
    }
    assert_int_equal(fx->srv.requests, 200);
    assert_true(fx->srv.accepted <= 8);
    assert_true(fx->srv.max_open <= 8);
    http_client_stats_t st = stats();
    assert_int_equal(st.started, 200);
    assert_int_equal(st.ok, 200);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.connects, (uint64_t)fx->srv.accepted);
}

static void test_keepalive(void **state)
{
    open_client(NULL);
    for (int i = 0; i < 20; i++) {
        get(i, "/hello");
        run(i);
        assert_int_equal(fx->calls[i].status, 200);
    }
    assert_int_equal(fx->srv.requests, 20);
    assert_int_equal(fx->srv.accepted, 1);
    assert_int_equal(stats().connects, 1);
}

static void test_timeout(void **state)
{
    open_client(NULL);
    http_client_request_t req = {.timeout_ms = 300};
    start(0, &req, "/hang");
    run(0);
    call_t *k = &fx->calls[0];
    assert_int_equal(k->err, HTTP_CLIENT_ETIMEDOUT);
    assert_int_equal(k->status, 0);
    assert_non_null(strstr(k->error, "timed out"));
    assert_true(k->elapsed_us >= 290000);
    assert_true(k->elapsed_us < 3000000);
    http_client_stats_t st = stats();
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.in_flight, 0);

    /* the client's default timeout */
    http_client_request_t plain = {0};
    http_client_close(fx->c, on_closed, fx);
    WAIT(fx->closed, 2000);
    fx->closed = 0;
    http_client_options_t o;
    http_client_options_init(&o);
    o.timeout_ms = 200;
    open_client(&o);
    start(1, &plain, "/hang");
    run(1);
    assert_int_equal(fx->calls[1].err, HTTP_CLIENT_ETIMEDOUT);
}

static void test_refused(void **state)
{
    open_client(NULL);
    int port = redis_srv_free_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    http_client_request_t req = {.url = url};
    assert_int_equal(http_client_request(fx->c, &req, on_done, &fx->calls[0], NULL), 0);
    run(0);
    assert_int_equal(fx->calls[0].err, HTTP_CLIENT_ECONNECT);
    assert_int_equal(fx->calls[0].status, 0);
    assert_true(fx->calls[0].error[0] != '\0');
    assert_int_equal(stats().failed, 1);
}

static void test_too_large(void **state)
{
    http_client_options_t o;
    http_client_options_init(&o);
    o.max_body_bytes = 1000;
    o.max_header_bytes = 2000;
    open_client(&o);
    get(0, "/big/1000"); /* at the cap */
    get(1, "/big/1001"); /* one over, known from Content-Length */
    get(2, "/chunked/1000");
    get(3, "/chunked/5000"); /* over, found while reading */
    get(4, "/headers/1000");
    get(5, "/headers/4000");
    for (int i = 0; i < 6; i++) run(i);
    assert_int_equal(fx->calls[0].err, 0);
    assert_int_equal(fx->calls[0].body.len, 1000);
    assert_int_equal(fx->calls[1].err, HTTP_CLIENT_ETOOLARGE);
    assert_non_null(strstr(fx->calls[1].error, "over 1000 bytes"));
    assert_int_equal(fx->calls[2].err, 0);
    assert_int_equal(fx->calls[2].body.len, 1000);
    assert_int_equal(fx->calls[3].err, HTTP_CLIENT_ETOOLARGE);
    assert_string_equal(fx->calls[3].error, "response body over 1000 bytes");
    assert_int_equal(fx->calls[3].status, 200);
    assert_true(fx->calls[3].body.len <= 1000);
    assert_int_equal(fx->calls[4].err, 0);
    assert_int_equal(fx->calls[5].err, HTTP_CLIENT_ETOOLARGE);
    assert_string_equal(fx->calls[5].error, "response head over 2000 bytes");
    http_client_stats_t st = stats();
    assert_int_equal(st.ok, 3);
    assert_int_equal(st.failed, 3);
}

static void test_no_redirect(void **state)
{
    open_client(NULL);
    const char *want[1] = {"Location"};
    http_client_request_t req = {.want_headers = want, .nwant = 1};
    start(0, &req, "/redirect");
    run(0);
    WAIT(0, 50);
    assert_int_equal(fx->calls[0].err, 0);
    assert_int_equal(fx->calls[0].status, 302);
    assert_string_equal(fx->calls[0].headers[0], "/hello");
    assert_int_equal(fx->srv.requests, 1); /* not followed */
}

static void test_response_headers(void **state)
{
    open_client(NULL);
    get(0, "/busy");
    run(0);
    assert_int_equal(fx->calls[0].status, 503);
    assert_true(fx->calls[0].retry_after >= 100 && fx->calls[0].retry_after <= 121);
    const char *want[1] = {"X-Dup"};
    http_client_request_t req = {.want_headers = want, .nwant = 1};
    start(1, &req, "/dup");
    run(1);
    assert_string_equal(fx->calls[1].headers[0], "b"); /* the last one */
    assert_string_equal(fx->calls[1].content_type, "");
    assert_int_equal(fx->calls[1].retry_after, -1);
    get(2, "/nowhere");
    run(2);
    assert_int_equal(fx->calls[2].err, 0);
    assert_int_equal(fx->calls[2].status, 404);
}

static void test_max_inflight(void **state)
{
    http_client_options_t o;
    http_client_options_init(&o);
    o.max_inflight = 2;
    open_client(&o);
    get(0, "/hello");
    get(1, "/hello");
    char url[128];
    url_of(url, sizeof url, "/hello");
    http_client_request_t req = {.url = url};
    assert_int_equal(http_client_request(fx->c, &req, on_done, &fx->calls[2], NULL),
                     HTTP_CLIENT_EFULL);
    assert_int_equal(stats().refused, 1);
    run(0);
    run(1);
    get(2, "/hello"); /* room again */
    run(2);
    assert_int_equal(fx->calls[2].status, 200);
}

static void test_cancel(void **state)
{
    open_client(NULL);
    uint64_t id;
    {
        http_client_request_t req = {0};
        id = start(0, &req, "/hang");
    }
    WAIT(fx->srv.requests == 1, 2000); /* the request is on the wire */
    assert_int_equal(http_client_cancel(fx->c, id), 0);
    assert_int_equal(fx->calls[0].n, 1); /* before cancel returned */
    assert_int_equal(fx->calls[0].err, HTTP_CLIENT_ECANCELED);
    assert_string_equal(fx->calls[0].error, "cancelled");
    assert_int_equal(http_client_cancel(fx->c, id), HTTP_CLIENT_ENOENT);
    WAIT(fx->srv.open == 0, 2000); /* its connection is closed: a response half-way cannot be
                                      reused */
    assert_int_equal(fx->srv.open, 0);

    /* cancelled from another request's callback */
    http_client_request_t hang = {0};
    uint64_t hang_id = start(1, &hang, "/hang");
    fx->calls[2].cancel_id = hang_id;
    get(2, "/hello");
    run(2);
    assert_int_equal(fx->calls[2].cancel_rc, 0);
    assert_int_equal(fx->calls[1].n, 1);
    assert_int_equal(fx->calls[1].err, HTTP_CLIENT_ECANCELED);

    /* the client still works */
    get(3, "/hello");
    run(3);
    assert_int_equal(fx->calls[3].status, 200);
    WAIT(0, 50);
    for (int i = 0; i < 4; i++) assert_int_equal(fx->calls[i].n, 1);
    http_client_stats_t st = stats();
    assert_int_equal(st.cancelled, 2);
    assert_int_equal(st.ok, 2);
    assert_int_equal(st.in_flight, 0);
}

static void test_close_in_flight(void **state)
{
    http_client_options_t o;
    http_client_options_init(&o);
    o.max_connections = 4; /* some wait for a connection, some are on the wire */
    open_client(&o);
    for (int i = 0; i < 10; i++) get(i, "/hang");
    for (int i = 10; i < 15; i++) get(i, "/hello");
    WAIT(fx->srv.requests >= 4, 2000);
    assert_int_equal(http_client_close(fx->c, on_closed, fx), 0);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(fx->calls[i].n, 1);
        assert_int_equal(fx->calls[i].err, HTTP_CLIENT_ECANCELED);
    }
    assert_int_equal(fx->closed, 0); /* freed from the loop */
    assert_int_equal(http_client_close(fx->c, on_closed, fx), HTTP_CLIENT_ECLOSED);
    char url[128];
    url_of(url, sizeof url, "/hello");
    http_client_request_t req = {.url = url};
    assert_int_equal(http_client_request(fx->c, &req, on_done, &fx->calls[20], NULL),
                     HTTP_CLIENT_ECLOSED);
    WAIT(fx->closed, 2000);
    assert_int_equal(fx->closed, 1);
    WAIT(fx->srv.open == 0, 2000);
    assert_int_equal(fx->srv.open, 0);
    for (int i = 0; i < 15; i++) assert_int_equal(fx->calls[i].n, 1);
    assert_int_equal(fx->calls[20].n, 0);
}

static void test_close_from_callback(void **state)
{
    open_client(NULL);
    get(0, "/hello");
    for (int i = 1; i < 5; i++) get(i, "/hang");
    fx->calls[0].close_client = 1;
    run(0);
    assert_int_equal(fx->calls[0].close_rc, 0);
    assert_int_equal(fx->calls[0].err, 0);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(fx->calls[i].n, 1);
        assert_int_equal(fx->calls[i].err, HTTP_CLIENT_ECANCELED);
    }
    WAIT(fx->closed, 2000);
    assert_int_equal(fx->closed, 1);
}

static void test_close_idle(void **state)
{
    /* closing with kept-alive connections and nothing in flight */
    open_client(NULL);
    get(0, "/hello");
    run(0);
    assert_int_equal(fx->srv.open, 1);
    assert_int_equal(http_client_close(fx->c, on_closed, fx), 0);
    WAIT(fx->closed && fx->srv.open == 0, 2000);
    assert_int_equal(fx->closed, 1);
    assert_int_equal(fx->srv.open, 0);
}

static void test_tls(void **state)
{
    int port = tls_start();
    if (port < 0) {
        tls_stop();
        skip(); /* no openssl to be the server */
    }
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);

    /* verified by default: a self-signed certificate is refused */
    open_client(NULL);
    http_client_request_t req = {.url = url};
    assert_int_equal(http_client_request(fx->c, &req, on_done, &fx->calls[0], NULL), 0);
    run(0);
    assert_int_equal(fx->calls[0].err, HTTP_CLIENT_ETLS);
    assert_int_equal(fx->calls[0].status, 0);
    http_client_close(fx->c, on_closed, fx);
    WAIT(fx->closed, 2000);
    fx->closed = 0;

    /* trusted through ca_file */
    char ca[96];
    snprintf(ca, sizeof ca, "%s/cert.pem", tls_dir);
    http_client_options_t o;
    http_client_options_init(&o);
    o.ca_file = ca;
    open_client(&o);
    assert_int_equal(http_client_request(fx->c, &req, on_done, &fx->calls[1], NULL), 0);
    run(1);
    assert_int_equal(fx->calls[1].err, 0);
    assert_int_equal(fx->calls[1].status, 200);
    assert_true(fx->calls[1].body.len > 0);

    /* the same certificate under a name it does not carry */
    snprintf(url, sizeof url, "https://localhost:%d/", port);
    req.url = url;
    assert_int_equal(http_client_request(fx->c, &req, on_done, &fx->calls[2], NULL), 0);
    run(2);
    assert_int_equal(fx->calls[2].err, HTTP_CLIENT_ETLS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_redirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
