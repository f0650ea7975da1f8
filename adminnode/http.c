/* libmicrohttpd on the libuv loop (see http.h), and the request's way through it: routed,
 * checked, its body read, its handler run, its answer queued (api_request.c holds the request).
 *
 * MHD runs with MHD_USE_EPOLL and no thread: its epoll fd (listen socket, connections, and the
 * inter-thread channel MHD_resume_connection signals) is watched by one uv_poll_t, and one
 * uv_timer_t is set from MHD_get_timeout after every MHD_run. */
#include "http.h"
#include "alloc.h"
#include "dashboard.h"
#include "deadline.h"
#include "http_conn.h"
#include "http_linger.h"
#include "http_request.h"
#include "log.h"
#include "prom_text.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int status;
    uint64_t count;
} status_count_t;

typedef struct route_stats {
    const char *method; /* borrowed from the route table, or a static string */
    const char *route;
    status_count_t *counts; /* owned */
    size_t n;
} route_stats_t;

struct http_server {
    uv_loop_t *loop;
    http_options_t opt;
    struct MHD_Daemon *mhd;
    int port;
    uv_poll_t poll;
    uv_timer_t mhd_timer; /* MHD_get_timeout */
    int handles_open;
    int stopping;
    void (*done)(void *ud);
    void *done_ud;
    deadline_queue_t deferred_q; /* the deferred requests (--requests-timeout for all) */
    size_t in_flight, deferred;
    route_stats_t *stats; /* one per route, then "static" and "unmatched" */
    size_t nstats;
    http_conns_t *conns;     /* the connections and their deadlines */
    client_cidrs_t exempt;   /* addresses without the per-address limit */
    http_linger_t *linger;   /* sockets answered early, read and dropped before closing */
    api_request_host_t host; /* what its requests ask of it */
};

/* ---- the loop side of MHD ---- */

static void run_mhd(http_server_t *s);

static void on_mhd_timer(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(p->data);
}

/* Sets the timer from MHD_get_timeout: MHD needs a call when that many ms have passed (0 when
 * it has work pending that no fd will announce, such as a resumed connection). */
static void schedule(http_server_t *s)
{
    if (!s->mhd || s->stopping) return;
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(s->mhd, &to) == MHD_YES)
        uv_timer_start(&s->mhd_timer, on_mhd_timer, (uint64_t)to, 0);
    else
        uv_timer_stop(&s->mhd_timer);
}

/* MHD accepts at most this many connections in one run (MHD_accept_connection's series). */
#define MHD_ACCEPTS_PER_RUN 10

static void run_mhd(http_server_t *s)
{
    if (!s->mhd || s->stopping) return;
    /* While a run accepted a full series, more may wait in the listen queue: run again (a
     * bounded number of times) rather than one loop turn per ten, so that a request behind a
     * burst of connections (clients reconnecting after a wave of cuts) is not kept waiting. */
    for (int i = 0; i < 32; i++) {
        uint64_t before = http_conns_started(s->conns);
        MHD_run(s->mhd);
        if (s->stopping || http_conns_started(s->conns) - before < MHD_ACCEPTS_PER_RUN) break;
    }
    schedule(s);
}

/* MHD has work no fd may announce yet (a connection was cut): run it from the loop soon. */
static void kick(void *ud)
{
    http_server_t *s = ud;
    if (!s->stopping) uv_timer_start(&s->mhd_timer, on_mhd_timer, 0, 0);
}

/* ---- metrics ---- */

static void count(http_server_t *s, route_stats_t *rs, int status)
{
    if (!rs) rs = &s->stats[s->nstats - 1];
    for (size_t i = 0; i < rs->n; i++)
        if (rs->counts[i].status == status) {
            rs->counts[i].count++;
            return;
        }
    rs->counts = xrealloc(rs->counts, (rs->n + 1) * sizeof *rs->counts);
    rs->counts[rs->n++] = (status_count_t){status, 1};
}

void http_metrics(const http_server_t *s, sbuf_t *out)
{
    prom_family(out, "adminnode_http_requests_total", "counter",
                "HTTP requests answered, by route pattern and status.");
    for (size_t i = 0; i < s->nstats; i++) {
        const route_stats_t *rs = &s->stats[i];
        for (size_t j = 0; j < rs->n; j++) {
            sbuf_printf(out, "adminnode_http_requests_total{method=\"%s\",", rs->method);
            prom_label(out, "route", rs->route, strlen(rs->route));
            sbuf_printf(out, ",status=\"%d\"} %llu\n", rs->counts[j].status,
                        (unsigned long long)rs->counts[j].count);
        }
    }
    prom_single(out, "adminnode_http_requests_in_flight", "gauge",
                "Requests received and not yet completed.", s->in_flight);
    prom_single(out, "adminnode_http_requests_deferred", "gauge",
                "Requests waiting for an answer from the cluster.", s->deferred);
    prom_single(out, "adminnode_http_connections", "gauge", "Open HTTP connections.",
                http_conns_open(s->conns));
    prom_single(out, "adminnode_http_connections_refused_total", "counter",
                "Connections refused at accept: their address had --max-connections-per-ip "
                "open.",
                http_conns_refused(s->conns));
    prom_family(out, "adminnode_http_connections_cut_total", "counter",
                "Connections closed for missing a deadline: head (--header-timeout), body "
                "(--body-timeout), idle (the next request's head).");
    static const char *const phases[HC_NPHASES] = {"head", "body", "idle"};
    for (int p = 0; p < HC_NPHASES; p++)
        sbuf_printf(out, "adminnode_http_connections_cut_total{phase=\"%s\"} %llu\n", phases[p],
                    (unsigned long long)http_conns_cut(s->conns, (hc_phase_t)p));
    prom_single(out, "adminnode_http_lingering", "gauge",
                "Connections answered before their body was read, whose rest is read and "
                "dropped before closing.",
                http_linger_count(s->linger));
    prom_single(out, "adminnode_http_lingered_total", "counter",
                "Lingering closes since the start.", http_linger_total(s->linger));
}

/* ---- queueing the answer ---- */

/* Hands the stored answer to MHD. Called from the access handler only. */
static enum MHD_Result queue_answer(api_request_t *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->resp_len, r->resp ? r->resp : (void *)"",
                                        r->resp ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    r->resp = NULL; /* MHD frees it now */
    if (r->ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->state = API_REQ_QUEUED;
    count(r->srv, r->stats, r->status);
    if (log_enabled(LOG_DEBUG)) {
        char safe[128];
        size_t i = 0;
        for (; r->path[i] && i + 1 < sizeof safe; i++) {
            unsigned char c = (unsigned char)r->path[i];
            safe[i] = (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
        }
        safe[i] = '\0';
        log_debug("request", "method=%s path=\"%s\" status=%d ms=%llu", r->method, safe, r->status,
                  (unsigned long long)(uv_now(r->srv->loop) - r->started));
    }
    return rc;
}

/* ---- deferred requests ---- */

static void list_remove(http_server_t *s, api_request_t *r)
{
    if (!r->in_list) return;
    deadline_queue_remove(&s->deferred_q, &r->deadline);
    r->in_list = 0;
    s->deferred--;
}

static api_request_t *request_of(deadline_node_t *n)
{
    return (api_request_t *)((char *)n - offsetof(api_request_t, deadline));
}

static void on_deadline(deadline_queue_t *q, deadline_node_t *n)
{
    http_server_t *s = q->data;
    api_request_t *r = request_of(n);
    r->in_list = 0; /* the queue unlinked it */
    s->deferred--;
    api_request_ref(r);
    if (r->on_timeout) r->on_timeout(r);
    if (!api_request_done(r))
        api_respond_error(r, 504, "timeout", "the cluster did not answer within %llu ms",
                          (unsigned long long)s->opt.requests_timeout_ms);
    api_request_unref(r);
}

static void request_defer(api_request_t *r, api_timeout_fn on_timeout)
{
    http_server_t *s = r->srv;
    if (r->in_list) return;
    r->on_timeout = on_timeout;
    deadline_queue_add(&s->deferred_q, &r->deadline);
    r->in_list = 1;
    s->deferred++;
}

static void request_answered(api_request_t *r)
{
    http_server_t *s = r->srv;
    list_remove(s, r);
    if (r->suspended) {
        /* Answered from outside the access handler: MHD calls it again once resumed, and it
         * queues the answer there. */
        r->suspended = 0;
        MHD_resume_connection(r->conn);
        if (!s->stopping) uv_timer_start(&s->mhd_timer, on_mhd_timer, 0, 0);
    }
}

/* ---- the access handler ---- */

/* Bytes of a refused body read and dropped, so that its client can read the answer. */
static size_t drain_limit(const http_server_t *s)
{
    size_t b = s->opt.max_body;
    return b * 4 > b + (1u << 20) ? b * 4 : b + (1u << 20);
}

static int is_get(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* The query of a request being read: every argument decoded and checked, in order. */
typedef struct {
    api_request_t *r;
    int bad;
    char msg[256];
} query_ctx_t;

/* A name fit to quote in an error message, or NULL. */
static const char *quotable(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32 ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") != n)
        return NULL;
    return name;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    query_ctx_t *q = cls;
    api_request_t *r = q->r;
    (void)kind;
    char why[160];
    /* decoded in place: the escapes shorten the text, '+' is a space */
    char *name = xstrdup(key), *val = xstrdup(value ? value : "");
    for (char *p = val; *p; p++)
        if (*p == '+') *p = ' ';
    for (char *p = name; *p; p++)
        if (*p == '+') *p = ' ';
    long nlen = http_router_percent_decode(name, strlen(name), name);
    long vlen = http_router_percent_decode(val, strlen(val), val);
    const char *shown = nlen >= 0 ? quotable(name) : NULL;
    const api_route_t *rt = r->match.route;
    if (nlen < 0 || api_check_text(name, (size_t)nlen, why, sizeof why) < 0) {
        snprintf(q->msg, sizeof q->msg, "a query parameter name is malformed");
    } else if (vlen < 0) {
        snprintf(q->msg, sizeof q->msg,
                 "query parameter %s is malformed (a bad %%-escape or a NUL)",
                 shown ? shown : "(unnamed)");
    } else if (http_router_check_query(rt, name, val, (size_t)vlen, why, sizeof why) < 0) {
        snprintf(q->msg, sizeof q->msg, "query parameter %s %s", shown ? shown : "(unnamed)", why);
    } else if (http_router_param_check(rt, "query", name) && api_query(r, name)) {
        snprintf(q->msg, sizeof q->msg, "query parameter %s is given twice", name);
    } else {
        r->args = xrealloc(r->args, (r->nargs + 1) * 2 * sizeof *r->args);
        r->args[2 * r->nargs] = name;
        r->args[2 * r->nargs + 1] = val;
        r->nargs++;
        return MHD_YES;
    }
    free(name);
    free(val);
    q->bad = 1;
    return MHD_NO;
}

/* Checks the path parameters and the query of a found route before its handler runs, so that
 * no handler sees a value that is not text or breaks its parameter's rule. Returns 0, or -1
 * after answering 400. */
static int check_params(api_request_t *r, route_result_t rr)
{
    char why[160];
    const char *name;
    if (rr == ROUTE_BAD_PARAM) {
        api_respond_error(r, 400, "bad_request",
                          "path parameter %s is malformed (a bad %%-escape or a NUL)",
                          r->match.names[r->match.bad]);
        return -1;
    }
    if (http_router_check_params(&r->match, &name, why, sizeof why) < 0) {
        api_respond_error(r, 400, "bad_request", "path parameter %s %s", name, why);
        return -1;
    }
    query_ctx_t q = {r, 0, ""};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (q.bad) {
        api_respond_error(r, 400, "bad_request", "%s", q.msg);
        return -1;
    }
    return 0;
}

/* Whether the request announces a body (a length above 0, or a transfer coding). */
static int announces_body(const api_request_t *r)
{
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strspn(cl, "0 \t") != strlen(cl)) return 1;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* Routing, authentication, the parameters and the announced body size, before any body byte
 * is read. May answer (404, 405, 401, 403, 400, 413, or a dashboard file). */
static void begin(api_request_t *r)
{
    http_server_t *s = r->srv;
    route_result_t rr = http_router_match(s->opt.router, r->method, r->path, &r->match);
    if (rr == ROUTE_FOUND || rr == ROUTE_BAD_PARAM) {
        r->stats = &s->stats[(size_t)(r->match.route - s->opt.router->routes)];
    } else if (rr == ROUTE_BAD_METHOD) {
        api_add_header(r, "Allow", r->match.allow);
        api_respond_error(r, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
                          r->method, r->match.allow);
        return;
    } else if (is_get(r->method) && strncmp(r->path, "/api/", 5) != 0 && s->opt.static_dir &&
               s->opt.static_dir[0]) {
        char *body = NULL;
        size_t len = 0;
        const char *ctype = NULL;
        r->stats = &s->stats[s->nstats - 2];
        int rc = dashboard_read(s->opt.static_dir, r->path, &body, &len, &ctype);
        if (rc == 0)
            api_respond(r, 200, ctype, body, len);
        else if (rc == 400)
            api_respond_error(r, 400, "bad_request", "malformed path");
        else if (rc == 500)
            api_respond_error(r, 500, "internal", "cannot read file");
        else
            api_respond_error(r, 404, "not_found", "no such file");
        return;
    } else {
        api_respond_error(r, 404, "not_found", "no such endpoint");
        return;
    }

    const api_route_t *rt = r->match.route;
    if (rt->scope > API_SCOPE_NONE) {
        const char *h =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *key;
        size_t klen;
        int scope = -1;
        if (h && auth_bearer(h, &key, &klen) == 0) scope = auth_lookup(s->opt.auth, key, klen);
        if (scope < 0) {
            api_add_header(r, "WWW-Authenticate", "Bearer");
            api_respond_error(r, 401, "unauthorized",
                              h ? "unknown API key"
                                : "an API key is required (Authorization: "
                                  "Bearer <key>)");
            return;
        }
        r->scope = (api_scope_t)scope;
        if (r->scope < rt->scope) {
            api_respond_error(r, 403, "forbidden", "this endpoint needs a key of scope %s",
                              http_router_scope_name(rt->scope));
            return;
        }
    }
    if (check_params(r, rr) < 0) return;

    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > s->opt.max_body) {
            api_respond_error(r, 413, "payload_too_large", "the body is larger than %zu bytes",
                              s->opt.max_body);
            return;
        }
    }
}

/* The whole body is in: checks its size, parses it, runs the handler. */
static void dispatch(api_request_t *r)
{
    http_server_t *s = r->srv;
    const api_route_t *rt = r->match.route;
    if (r->too_large) {
        api_respond_error(r, 413, "payload_too_large", "the body is larger than %zu bytes",
                          s->opt.max_body);
        return;
    }
    if (rt->flags & API_ROUTE_BODY) {
        if (r->body.len == 0) {
            api_respond_error(r, 400, "bad_request", "a JSON body is required");
            return;
        }
        /* a raw NUL is never JSON (jansson would take "{}\0x" as {}) */
        const char *nul = memchr(r->body.data, '\0', r->body.len);
        if (nul) {
            api_respond_error(r, 400, "bad_json", "invalid JSON at byte %zu: a NUL byte",
                              (size_t)(nul - r->body.data));
            return;
        }
        json_error_t e;
        r->json = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &e);
        if (!r->json) {
            api_respond_error(r, 400, "bad_json", "invalid JSON at line %d column %d (byte %d): %s",
                              e.line, e.column, e.position, e.text);
            return;
        }
    }
    sbuf_free(&r->body);
    rt->handler(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    http_server_t *s = cls;
    api_request_t *r = *con_cls;
    (void)version;
    if (!r) {
        r = api_request_new(&s->host, conn, method, url);
        r->srv = s;
        r->started = uv_now(s->loop);
        s->in_flight++;
        *con_cls = r;
        r->cx = http_conn_of(conn);
        http_conn_phase(r->cx, HC_BODY); /* the head is in: the body's deadline starts */
        begin(r);
        if (r->state == API_REQ_ANSWERED) {
            /* Answered before the body was read: MHD will not read it and closes after the
             * answer, so the socket lingers to let the client read the answer. */
            if (announces_body(r)) http_conn_linger(r->cx);
            http_conn_phase(r->cx, HC_NONE);
            return queue_answer(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        r->body_seen += n;
        if (r->state != API_REQ_BODY) return MHD_YES;
        if (!r->too_large && r->body.len + n <= s->opt.max_body) {
            sbuf_append(&r->body, upload_data, n);
        } else {
            r->too_large = 1;
            sbuf_free(&r->body);
            /* Read and drop a moderately oversized body to answer 413 once it is all in (MHD
             * takes an answer only then); beyond that, drop the connection. */
            if (r->body_seen > drain_limit(s)) return MHD_NO;
        }
        return MHD_YES;
    }
    http_conn_phase(r->cx, HC_NONE); /* the whole request is in */
    if (r->state == API_REQ_BODY) {
        r->state = API_REQ_HANDLER;
        dispatch(r);
    }
    if (r->state == API_REQ_ANSWERED) return queue_answer(r);
    if (r->state == API_REQ_HANDLER && !r->suspended) {
        if (!r->in_list) {
            /* The handler neither answered nor deferred. */
            log_error("handler did not answer", "route=\"%s\"",
                      r->match.route ? r->match.route->pattern : "");
            api_respond_error(r, 500, "internal", "no answer");
            return queue_answer(r);
        }
        r->suspended = 1;
        MHD_suspend_connection(conn);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server_t *s = cls;
    api_request_t *r = *con_cls;
    (void)conn;
    if (!r) return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->state < API_REQ_QUEUED)
        log_debug("request abandoned", "code=%d", (int)toe);
    list_remove(s, r);
    /* the connection waits for its next request (or is closing, and leaves the list then) */
    http_conn_phase(r->cx, HC_IDLE);
    r->cx = NULL;
    r->conn = NULL;
    r->suspended = 0;
    s->in_flight--;
    api_request_unref(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    for (char *p = line; *p; p++)
        if (*p == '"' || *p == '\n' || *p == '\r' || *p == '\\') *p = ' ';
    log_debug("microhttpd", "detail=\"%s\"", line);
}

/* Keeps the URL as sent: path parameters are decoded segment by segment by the router, so an
 * escaped '/' stays inside its segment. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    return strlen(uri);
}

/* ---- start and stop ---- */

int http_start(http_server_t **out, uv_loop_t *loop, const http_options_t *o, char *err,
               size_t errlen)
{
    struct sockaddr_storage addr;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    memset(&addr, 0, sizeof addr);
    if (uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&addr) != 0) {
        if (uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&addr) != 0) {
            snprintf(err, errlen, "--host must be an IPv4 or IPv6 address, not \"%s\"", o->host);
            return -1;
        }
        flags |= MHD_USE_IPv6;
    }
    for (size_t i = 0; i < o->router->nroutes; i++)
        if (http_router_pattern_valid(o->router->routes[i].pattern) < 0) {
            snprintf(err, errlen, "bad route pattern %s", o->router->routes[i].pattern);
            return -1;
        }

    client_cidrs_t exempt;
    char why[128];
    if (client_cidrs_parse(o->per_ip_exempt ? o->per_ip_exempt : "", &exempt, why, sizeof why) <
        0) {
        snprintf(err, errlen, "--per-ip-exempt: %s", why);
        return -1;
    }
    http_server_t *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->opt = *o;
    s->host = (api_request_host_t){o->app, request_defer, request_answered};
    s->exempt = exempt;
    /* lingering sockets: a refused body's worth of bytes each, for at most --body-timeout, and
     * an eighth of --max-connections at once (more are closed at once) */
    s->linger = http_linger_new(loop, o->body_timeout_ms, drain_limit(s),
                                o->max_connections > 64 ? o->max_connections / 8 : 8);
    http_conns_options_t co = {
        .delay_ms = {o->header_timeout_ms, o->body_timeout_ms,
                     (uint64_t)o->connection_timeout_s * 1000 + o->header_timeout_ms},
        .linger = s->linger,
        .per_ip = o->max_connections_per_ip,
        .exempt = &s->exempt,
        .kick = kick,
        .ud = s,
    };
    s->conns = http_conns_new(loop, &co);
    s->nstats = o->router->nroutes + 2;
    s->stats = xcalloc(s->nstats, sizeof *s->stats);
    for (size_t i = 0; i < o->router->nroutes; i++) {
        s->stats[i].method = o->router->routes[i].method;
        s->stats[i].route = o->router->routes[i].pattern;
    }
    s->stats[s->nstats - 2] = (route_stats_t){"GET", "static", NULL, 0};
    s->stats[s->nstats - 1] = (route_stats_t){"any", "unmatched", NULL, 0};

    s->mhd = MHD_start_daemon(
        flags, (uint16_t)o->port, http_conns_accept, s->conns, on_access, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->connection_timeout_s,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_CONNECTION_LIMIT,
        o->max_connections, MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, s->conns,
        MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on %s port %d", o->host, o->port);
        http_conns_close(s->conns, NULL, NULL);
        http_linger_close(s->linger, NULL, NULL);
        client_cidrs_free(&s->exempt);
        free(s->stats);
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    const union MHD_DaemonInfo *efd = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    s->port = port ? port->port : o->port;
    uv_poll_init(loop, &s->poll, efd->epoll_fd);
    uv_timer_init(loop, &s->mhd_timer);
    deadline_queue_init(&s->deferred_q, loop, s->opt.requests_timeout_ms, on_deadline, s);
    s->poll.data = s->mhd_timer.data = s;
    s->handles_open = 5; /* the three handles, the connections' timer, the lingerer */
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    schedule(s);
    *out = s;
    return 0;
}

int http_port(const http_server_t *s)
{
    return s->port;
}

static void part_closed(http_server_t *s)
{
    if (--s->handles_open) return;
    client_cidrs_free(&s->exempt);
    for (size_t i = 0; i < s->nstats; i++) free(s->stats[i].counts);
    free(s->stats);
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    free(s);
    if (done) done(ud);
}

static void on_handle_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void on_deferred_closed(uv_handle_t *h)
{
    deadline_queue_t *q = h->data;
    part_closed(q->data);
}

static void on_part_closed(void *ud)
{
    part_closed(ud);
}

void http_stop(http_server_t *s, void (*done)(void *ud), void *ud)
{
    s->done = done;
    s->done_ud = ud;
    deadline_node_t *n;
    while ((n = deadline_list_first(&s->deferred_q.list)) != NULL)
        api_respond_error(request_of(n), 503, "shutting_down", "adminnode is stopping");
    s->stopping = 1;
    /* The poll handle goes before MHD closes the epoll fd it watches. */
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    uv_close((uv_handle_t *)&s->mhd_timer, on_handle_closed);
    deadline_queue_close(&s->deferred_q, on_deferred_closed);
    /* no cut and no lingering while MHD closes every connection */
    http_conns_stop(s->conns);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    http_conns_close(s->conns, on_part_closed, s);
    http_linger_close(s->linger, on_part_closed, s);
}
