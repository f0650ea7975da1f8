/* libwebsockets glue: one context on the process's libuv loop, one protocol handling both
 * HTTP (polling, /healthz, /metrics, CORS preflight) and WebSocket connections, routed to
 * eio_session; the connections' deadlines and the memory budget's drop. */
#include "server.h"

#include "alloc.h"
#include "log.h"
#include "origin.h"
#include "prom_text.h"
#include "static_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

/* What a WebSocket message may grow to is bounded by --max-payload; lws hands it to us in
 * pieces of this size, which is also all the per-connection receive buffer lws allocates.
 * lws also reads at most this much from a socket per loop turn (what is left waits for the
 * next turn), so a client's burst of small messages is taken in about one per turn. */
#define WS_RX_CHUNK 128

/* Answering a request before its body was read, the node reads and discards the rest of the
 * body before closing, as nginx's lingering close does: closing a socket with unread data
 * sends a reset, which makes a client that is still sending (Node's fetch among them) lose
 * the answer. Bounded in bytes (the body ends sooner when it announced less) and in time. */
#define LINGER_MAX_BYTES (4u << 20)
#define LINGER_MS        5000

/* The lws context's user data is the connections' shared part, the server's first member. */
static server_t *server_of(struct lws *wsi)
{
    return (server_t *)((char *)lws_context_user(lws_get_context(wsi)) - offsetof(server_t, conns));
}

/* ---- query and headers ---- */

static void parse_query(const server_t *srv, struct lws *wsi, eio_query_t *q)
{
    char frag[256];
    memset(q, 0, sizeof *q);
    for (int i = 0;; i++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (flen <= 0) break;
        /* a longer pair (an old client's token) is none of the Engine.IO parameters */
        if ((size_t)flen >= sizeof frag ||
            lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            continue;
        if (strncmp(frag, "EIO=", 4) == 0) {
            q->v3 = strcmp(frag + 4, "3") == 0;
            q->eio_ok = strcmp(frag + 4, "4") == 0 || (q->v3 && srv->cfg->allow_eio3);
        } else if (strncmp(frag, "b64=", 4) == 0) {
            q->b64 = 1;
        } else if (strncmp(frag, "j=", 2) == 0) {
            q->jsonp = 1;
        } else if (strncmp(frag, "transport=", 10) == 0) {
            q->has_transport = 1;
            if (strcmp(frag + 10, "polling") == 0) {
                q->transport = EIO_TR_POLLING;
                q->transport_ok = 1;
            } else if (strcmp(frag + 10, "websocket") == 0) {
                q->transport = EIO_TR_WEBSOCKET;
                q->transport_ok = 1;
            } else {
                q->transport_ok = 0;
            }
        } else if (strncmp(frag, "sid=", 4) == 0) {
            /* An over-long sid cannot be ours: keep a marker that no session has. */
            size_t n = strlen(frag + 4);
            if (n >= sizeof q->sid)
                strcpy(q->sid, "?");
            else
                memcpy(q->sid, frag + 4, n + 1);
        }
    }
}

/* Adds one response header; returns non-zero when the header buffer is full. */
static int add_header(struct lws *wsi, const char *name, const char *value, size_t len,
                      unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)len, p, end);
}

/* Adds the CORS response headers for this request, if CORS is configured and the origin is
 * allowed. Returns 1 when headers were added. */
static int add_cors(server_t *srv, struct lws *wsi, conn_t *c, unsigned char **p,
                    unsigned char *end)
{
    const char *list = srv->cfg->cors_origin;
    char origin[512];
    if (!list || !*list) return 0;
    int has_origin;
    if (c->headers_gone) {
        has_origin = c->origin != NULL;
        if (has_origin) snprintf(origin, sizeof origin, "%s", c->origin);
    } else {
        has_origin = conn_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) > 0;
    }
    int wildcard = strcmp(list, "*") == 0;
    const char *allow;
    if (wildcard && !srv->cfg->cors_credentials)
        allow = "*";
    else if (has_origin && origin_allowed(list, origin))
        allow = origin;
    else
        return 0;
    int bad = add_header(wsi, "access-control-allow-origin:", allow, strlen(allow), p, end);
    if (strcmp(allow, "*") != 0) bad |= add_header(wsi, "vary:", "Origin", 6, p, end);
    if (srv->cfg->cors_credentials)
        bad |= add_header(wsi, "access-control-allow-credentials:", "true", 4, p, end);
    return bad ? -1 : 1;
}

/* ---- connection deadlines and lingering ---- */

static conn_t *conn_of_node(deadline_node_t *node)
{
    return (conn_t *)((char *)node - offsetof(conn_t, idle));
}

/* idle_q's expiry: closes the connection. */
static void idle_expired(deadline_queue_t *q, deadline_node_t *node)
{
    (void)q;
    conn_expire_idle(conn_of_node(node));
}

/* body_q, linger_q and flush_q: a body not sent whole within --body-timeout, a lingering
 * connection whose time is up, a reply the client did not take within --keepalive-timeout. */
static void conn_expired(deadline_queue_t *q, deadline_node_t *node)
{
    server_t *srv = q->data;
    conn_t *c = conn_of_node(node);
    if (q == &srv->body_q)
        log_debug("request body too slow", "timeout_ms=%llu",
                  (unsigned long long)deadline_queue_delay_ms(q));
    if (q == &srv->flush_q)
        log_debug("reply not taken", "timeout_ms=%llu",
                  (unsigned long long)deadline_queue_delay_ms(q));
    conn_kill(c);
}

/* The answer is out but the request's body is not read yet: read and discard the rest
 * (LINGER_MAX_BYTES, LINGER_MS) before closing, so that the client gets to read the answer.
 * Returns 0. */
static int linger_start(server_t *srv, struct lws *wsi, conn_t *c)
{
    c->kind = CONN_LINGER;
    c->drain_left = LINGER_MAX_BYTES;
    deadline_queue_add(&srv->linger_q, &c->idle);
    /* nothing more comes from us: the client sees the end of the answer */
    shutdown(lws_get_socket_fd(wsi), SHUT_WR);
    return 0;
}

/* A body chunk for a lingering connection: discarded. Returns -1 once the byte bound is
 * reached (lws then closes the connection). */
static int linger_read(conn_t *c, size_t len)
{
    if (len >= c->drain_left) return -1;
    c->drain_left -= (uint32_t)len;
    return 0;
}

/* The reply is entirely with the kernel: close, linger, or wait for the next request.
 * Returns -1 when lws should close the connection. */
static int reply_done(server_t *srv, struct lws *wsi, conn_t *c)
{
    c->reply_len = 0;
    c->kind = CONN_NONE;
    if (c->has_body && !c->body_done) return linger_start(srv, wsi, c);
    if (c->close_after) return -1;
    if (lws_http_transaction_completed(wsi)) return -1;
    /* the idle timeout is ours (idle_q), not lws's */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    deadline_queue_add(&srv->idle_q, &c->idle);
    return 0;
}

/* What lws still holds of a reply it could not write at once (counted in the memory budget
 * while it does). */
static size_t flushing_bytes(const conn_t *c)
{
    return (size_t)c->reply_len + LWS_PRE;
}

static int write_reply(server_t *srv, struct lws *wsi, conn_t *c)
{
    if (c->kind == CONN_FLUSHING) {
        /* lws calls back only once it has written all it held */
        deadline_queue_remove(&srv->flush_q, &c->idle);
        mem_budget_sub(&srv->mem, flushing_bytes(c));
        return reply_done(srv, wsi, c);
    }
    if (c->kind != CONN_REPLY || !c->reply) return 0;
    /* Say so when the connection ends here, or a keep-alive client may reuse it. */
    if (conn_wants_close(wsi)) c->close_after = 1;
    /* an answer before the request's body was read ends the connection (after lingering) */
    if (c->has_body && !c->body_done) c->close_after = 1;
    unsigned char hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof hdr - 1;
    const char *ctype = c->content_type ? c->content_type : "text/plain; charset=UTF-8";
    if (lws_add_http_common_headers(wsi, c->status, ctype, c->reply_len, &p, end)) return -1;
    int bad = add_cors(srv, wsi, c, &p, end) < 0;
    if (c->status == 204) {
        char reqh[512];
        int n = conn_header(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, reqh, sizeof reqh);
        bad |= add_header(wsi, "access-control-allow-methods:", "GET,HEAD,PUT,PATCH,POST,DELETE",
                          30, &p, end);
        if (n > 0)
            bad |= add_header(wsi, "access-control-allow-headers:", reqh, (size_t)n, &p, end);
    }
    if (c->revalidate)
        bad |= add_header(wsi, "cache-control:", "no-cache", 8, &p, end);
    else
        bad |= add_header(wsi, "cache-control:", "no-store", 8, &p, end);
    if (c->status == 405) bad |= add_header(wsi, "allow:", "GET, HEAD", 9, &p, end);
    if (c->retry_after) {
        char ra[8];
        int n = snprintf(ra, sizeof ra, "%u", (unsigned)c->retry_after);
        bad |= add_header(wsi, "retry-after:", ra, (size_t)n, &p, end);
    }
    if (c->close_after) bad |= add_header(wsi, "connection:", "close", 5, &p, end);
    if (bad || lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (c->reply_len && !c->head_only &&
        lws_write(wsi, (unsigned char *)c->reply + LWS_PRE, c->reply_len, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    free(c->reply);
    c->reply = NULL;
    free(c->origin);
    c->origin = NULL;
    c->headers_gone = 0;
    if (c->head_only) c->reply_len = 0;
    if (lws_partial_buffered(wsi)) {
        /* The client does not take the reply as fast as it comes: lws keeps the rest. Count
         * it until written, and give the client --keepalive-timeout to take it. */
        c->kind = CONN_FLUSHING;
        mem_budget_add(&srv->mem, flushing_bytes(c));
        deadline_queue_add(&srv->flush_q, &c->idle);
        lws_callback_on_writable(wsi);
        return 0;
    }
    return reply_done(srv, wsi, c);
}

/* ---- HTTP requests ---- */

enum { M_OTHER, M_GET, M_POST, M_OPTIONS };

static int method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) return M_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) return M_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI)) return M_OPTIONS;
    return M_OTHER;
}

/* The request's Content-Length, or -1 when it has none. */
static long long content_length(struct lws *wsi)
{
    char cl[32];
    return conn_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl) > 0 ? atoll(cl) : -1;
}

/* Will lws read a body after this request's head? It does for a Content-Length above 0, and
 * for a POST, PUT or PATCH without one (up to 100 MiB, its own rule). */
static int has_body(struct lws *wsi, long long len)
{
    if (len >= 0) return len > 0;
    return lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) ||
           lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) ||
           lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI);
}

/* ---- client addresses and per-address limits ---- */

/* The client address of the request on wsi: the TCP peer, or, when the peer is one of
 * --trusted-proxies, the client its X-Forwarded-For names (see client_addr.h). Needs the
 * request headers. */
static void client_addr_of(server_t *srv, struct lws *wsi, client_addr_t *out)
{
    client_addr_t peer;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    lws_sockfd_type fd = lws_get_socket_fd(wsi);
    memset(&peer, 0, sizeof peer);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        client_addr_from_sockaddr((struct sockaddr *)&ss, &peer);
    *out = peer;
    if (!srv->trusted.n || !client_cidrs_match(&srv->trusted, &peer)) return;
    char xff[4096]; /* lws keeps at most info.max_http_header_data of headers */
    int n = lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR);
    if (n > 0) client_addr_resolve(&srv->trusted, &peer, xff, (size_t)n, out);
}

/* May the handshake on wsi open a new session (--max-sessions-per-ip, --handshake-rate)?
 * Fills *addr with its client. Returns 0, or -1 with the reason and the Retry-After seconds
 * to refuse it with. */
static int admit(server_t *srv, struct lws *wsi, client_addr_t *addr, const char **why,
                 unsigned *retry)
{
    client_addr_of(srv, wsi, addr);
    addr_verdict_t v = addr_limit_admit(&srv->limits, addr, uv_now(srv->loop), retry);
    if (v == ADDR_OK) return 0;
    *why = v == ADDR_TOO_MANY_SESSIONS ? "Too many sessions from this address"
                                       : "Too many new sessions from this address";
    eio_server_refused(srv->eio, v == ADDR_TOO_MANY_SESSIONS ? EIO_REFUSE_SESSIONS_PER_IP
                                                             : EIO_REFUSE_HANDSHAKE_RATE);
    char text[CLIENT_ADDR_TEXT];
    log_debug("handshake refused", "address=%s reason=\"%s\"",
              client_addr_format(addr, text, sizeof text), *why);
    return -1;
}

/* 429 with an Engine.IO error body and Retry-After. */
static void reply_limited(struct lws *wsi, conn_t *c, const char *why, unsigned retry)
{
    char body[160];
    int n =
        snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", EIO_ERR_BAD_REQUEST, why);
    conn_reply(wsi, c, 429, "application/json", body, (size_t)n);
    c->retry_after = (uint8_t)(retry > 255 ? 255 : retry ? retry : 1);
}

static int path_matches(const server_t *srv, const char *uri)
{
    const char *path = srv->cfg->path;
    size_t n = strlen(path);
    if (strncmp(uri, path, n) == 0) return 1;
    /* "/socket.io" also reaches "/socket.io/" */
    return n > 1 && path[n - 1] == '/' && strlen(uri) == n - 1 && strncmp(uri, path, n - 1) == 0;
}

static void reply_healthz(server_t *srv, struct lws *wsi, conn_t *c)
{
    sbuf_t body = SBUF_INIT;
    uint64_t up = (uv_now(srv->loop) - srv->started_ms) / 1000;
    size_t polling, websocket;
    eio_count(srv->eio, &polling, &websocket);
    sbuf_printf(&body,
                "{\"status\":\"%s\",\"connections\":%zu,\"polling\":%zu,\"websocket\":%zu,"
                "\"uptime_s\":%llu,\"draining\":%s,\"memory_queued\":%zu,"
                "\"memory_queued_peak\":%zu,\"memory_budget\":%lld,\"memory_dropped\":%llu,"
                "\"handshakes_refused\":%llu,\"client_addresses\":%zu",
                srv->stopping ? "stopping" : "ok", eio_server_session_count(srv->eio), polling,
                websocket, (unsigned long long)up, eio_server_draining(srv->eio) ? "true" : "false",
                mem_budget_queued(&srv->mem), mem_budget_peak(&srv->mem),
                srv->cfg->max_memory_queued, (unsigned long long)mem_budget_dropped(&srv->mem),
                (unsigned long long)(eio_server_refusals(srv->eio, EIO_REFUSE_SESSIONS_PER_IP) +
                                     eio_server_refusals(srv->eio, EIO_REFUSE_HANDSHAKE_RATE)),
                addr_limit_count(&srv->limits));
    if (srv->health) srv->health(srv->health_ctx, &body);
    sbuf_append_char(&body, '}');
    conn_reply(wsi, c, srv->stopping ? 503 : 200, "application/json", body.data, body.len);
    sbuf_free(&body);
}

static void reply_metrics(server_t *srv, struct lws *wsi, conn_t *c)
{
    sbuf_t text = SBUF_INIT;
    srv->metrics(srv->metrics_ctx, &text);
    conn_reply(wsi, c, 200, PROM_CONTENT_TYPE, text.data, text.len);
    sbuf_free(&text);
}

static int on_http(server_t *srv, struct lws *wsi, conn_t *c, const char *uri)
{
    int method = method_of(wsi);
    long long clen = content_length(wsi);
    memset(c, 0, sizeof *c); /* a dequeued idle node is all zeroes too */
    c->wsi = wsi;
    /* the whole body has --body-timeout: lws's own timeout restarts with every piece */
    c->has_body = has_body(wsi, clen) != 0;
    if (c->has_body) deadline_queue_add(&srv->body_q, &c->idle);
    if (strcmp(uri, "/healthz") == 0 && method == M_GET) {
        reply_healthz(srv, wsi, c);
        return 0;
    }
    if (strcmp(uri, "/metrics") == 0 && method == M_GET && srv->metrics) {
        reply_metrics(srv, wsi, c);
        return 0;
    }
    if (!path_matches(srv, uri)) {
        if (srv->cfg->static_dir && *srv->cfg->static_dir && strcmp(uri, "/healthz") != 0)
            static_files_serve(wsi, c, srv->cfg->static_dir, uri);
        else
            conn_reply(wsi, c, 404, NULL, "Not Found", 9);
        return 0;
    }
    if (method == M_OPTIONS && srv->cfg->cors_origin && *srv->cfg->cors_origin) {
        conn_reply(wsi, c, 204, NULL, NULL, 0);
        return 0;
    }
    eio_query_t q;
    parse_query(srv, wsi, &q);
    if (!q.eio_ok) {
        c->close_after = method == M_POST;
        eio_reply_error(srv->eio, wsi, c, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
        return 0;
    }
    if (q.jsonp) {
        /* JSONP polling (for browsers without XMLHttpRequest) is not served */
        static const char body[] = "{\"code\":3,\"message\":\"JSONP polling is not supported\"}";
        c->close_after = method == M_POST;
        eio_server_refused(srv->eio, EIO_REFUSE_BAD_REQUEST);
        conn_reply(wsi, c, 400, "application/json", body, sizeof body - 1);
        return 0;
    }
    if (!q.transport_ok || q.transport != EIO_TR_POLLING) {
        /* A websocket transport without an Upgrade header is not a valid request either. */
        c->close_after = method == M_POST;
        eio_reply_error(srv->eio, wsi, c,
                        q.transport_ok ? EIO_ERR_BAD_REQUEST : EIO_ERR_TRANSPORT_UNKNOWN);
        return 0;
    }
    if (srv->stopping || (eio_server_draining(srv->eio) && !q.sid[0])) {
        /* stopping, or draining: no new sessions here; existing ones go on until closed */
        eio_server_refused(srv->eio, EIO_REFUSE_DRAINING);
        conn_reply(wsi, c, 503, "application/json", "{\"code\":3,\"message\":\"Server draining\"}",
                   38);
        c->close_after = 1;
        return 0;
    }
    switch (method) {
    case M_GET:
        if (!q.sid[0]) {
            /* a handshake */
            client_addr_t addr;
            const char *why;
            unsigned retry;
            if (admit(srv, wsi, &addr, &why, &retry) < 0)
                reply_limited(wsi, c, why, retry);
            else
                eio_on_poll_get(srv->eio, wsi, c, &q, &addr);
        } else {
            eio_on_poll_get(srv->eio, wsi, c, &q, NULL);
        }
        break;
    case M_POST: eio_on_poll_post(srv->eio, wsi, c, &q, clen); break;
    default:
        c->close_after = 1;
        eio_reply_error(srv->eio, wsi, c,
                        q.sid[0] ? EIO_ERR_BAD_REQUEST : EIO_ERR_BAD_HANDSHAKE_METHOD);
        break;
    }
    return 0;
}

/* ---- WebSocket ---- */

/* Refuses a WebSocket upgrade for why (EIO_REFUSE_COUNT: already counted) with status and an
 * Engine.IO error body, and Retry-After when retry_after is not 0. Returns -1: lws closes the
 * connection. */
static int refuse_upgrade(server_t *srv, struct lws *wsi, eio_refuse_t why, unsigned status,
                          int code, const char *message, unsigned retry_after)
{
    eio_server_refused(srv->eio, why);
    char body[160], ra[16];
    int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
    int ran = snprintf(ra, sizeof ra, "%u", retry_after);
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
                                      *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, "application/json", (lws_filepos_t)n, &p, end) ||
        (retry_after && add_header(wsi, "retry-after:", ra, (size_t)ran, &p, end)) ||
        add_header(wsi, "connection:", "close", 5, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(hdr + LWS_PRE, body, (size_t)n);
    lws_write(wsi, hdr + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL);
    return -1;
}

/* May a page from the request's Origin open a WebSocket here? A request without Origin is not
 * from a browser: yes. Otherwise --cors-origin decides as it does for polling, and when it is
 * empty only a page of this very host may (Origin against the Host header). */
static int ws_origin_ok(server_t *srv, struct lws *wsi)
{
    char origin[512], host[512];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n <= 0) return 1;
    if (conn_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) <= 0) return 0; /* too long */
    const char *list = srv->cfg->cors_origin;
    if (list && *list) return origin_allowed(list, origin);
    return conn_header(wsi, WSI_TOKEN_HOST, host, sizeof host) > 0 &&
           origin_same_host(origin, host);
}

static int ws_filter(server_t *srv, struct lws *wsi)
{
    char uri[512];
    if (conn_header(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri) <= 0 || !path_matches(srv, uri))
        return -1;
    if (srv->stopping) return -1;
    /* RFC 6455 is version 13; lws would take any other version as 13. */
    char version[8];
    if (conn_header(wsi, WSI_TOKEN_VERSION, version, sizeof version) <= 0 ||
        strcmp(version, "13") != 0)
        return -1;
    eio_query_t q;
    parse_query(srv, wsi, &q);
    int err;
    /* no new sessions while draining: the same 503 as a polling handshake, which a proxy can
     * retry on another node */
    if (eio_server_draining(srv->eio) && !q.sid[0])
        return refuse_upgrade(srv, wsi, EIO_REFUSE_DRAINING, 503, EIO_ERR_BAD_REQUEST,
                              "Server draining", 0);
    if (eio_ws_filter(srv->eio, &q, &err) < 0) {
        log_debug("websocket refused", "error=\"%s\"", eio_error_message(err));
        /* Refused upgrades get the same 400 and JSON body as refused polling requests. */
        return refuse_upgrade(srv, wsi, (eio_refuse_t)err, 400, err, eio_error_message(err), 0);
    }
    if (!ws_origin_ok(srv, wsi)) {
        log_debug("websocket refused", "error=\"origin not allowed\"");
        return refuse_upgrade(srv, wsi, EIO_REFUSE_ORIGIN, 403, EIO_ERR_FORBIDDEN,
                              eio_error_message(EIO_ERR_FORBIDDEN), 0);
    }
    if (!q.sid[0]) {
        client_addr_t addr;
        const char *why;
        unsigned retry;
        if (admit(srv, wsi, &addr, &why, &retry) < 0)
            return refuse_upgrade(srv, wsi, EIO_REFUSE_COUNT /* counted by admit */, 429,
                                  EIO_ERR_BAD_REQUEST, why, retry);
    }
    return 0;
}

/* ---- the protocol callback ---- */

/* An HTTP connection's state lives in its lws opaque user data (no per-connection user space
 * is allocated by lws, which keeps idle WebSockets small). */
static conn_t *http_conn(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

/* Releases what the connection's last request left behind. */
static void conn_reset(server_t *srv, conn_t *c)
{
    conn_unpark(c->wsi, c, 0);                     /* closing, or already answered */
    deadline_queue_remove(&srv->idle_q, &c->idle); /* whichever queue it is in */
    if (c->kind == CONN_FLUSHING) mem_budget_sub(&srv->mem, flushing_bytes(c));
    c->kind = CONN_NONE;
    free(c->origin);
    c->origin = NULL;
    free(c->reply);
    c->reply = NULL;
    conn_drop_body(c);
}

static void http_conn_free(struct lws *wsi)
{
    conn_t *c = http_conn(wsi);
    if (!c) return;
    eio_on_http_closed(wsi, c);
    conn_reset(server_of(wsi), c);
    free(c);
    lws_set_opaque_user_data(wsi, NULL);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    conn_t *c;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        /* A keep-alive connection's next request starts from a clean state. */
        c = http_conn(wsi);
        if (c) {
            conn_reset(server_of(wsi), c);
        } else {
            c = xmalloc(sizeof *c);
            c->idle = (deadline_node_t){0};
            c->kind = CONN_NONE;
            lws_set_opaque_user_data(wsi, c);
        }
        return on_http(server_of(wsi), wsi, c, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        c = http_conn(wsi);
        if (!c || c->killed) return -1;
        if (c->kind == CONN_LINGER) return linger_read(c, len);
        return eio_on_post_body(wsi, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Once per request: lws 4.1 can report the end of a body again when another request
         * was pipelined behind a deferred reply; that connection is dropped. */
        c = http_conn(wsi);
        if (!c || c->body_done || c->killed) return -1;
        c->body_done = 1;
        if (c->kind == CONN_LINGER) return -1; /* all of it read after the answer: close */
        /* body_q holds it until now (flush_q once its reply is being written) */
        if (c->has_body && c->kind != CONN_FLUSHING)
            deadline_queue_remove(&server_of(wsi)->body_q, &c->idle);
        return eio_on_post_done(wsi, c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        c = http_conn(wsi);
        if (c && c->killed) return -1;
        return c ? write_reply(server_of(wsi), wsi, c) : 0;
    case LWS_CALLBACK_CLOSED_HTTP: http_conn_free(wsi); return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        http_conn_free(wsi); /* an earlier request on this connection is over */
        return ws_filter(server_of(wsi), wsi);
    case LWS_CALLBACK_ESTABLISHED: {
        eio_query_t q;
        client_addr_t addr;
        parse_query(server_of(wsi), wsi, &q);
        client_addr_of(server_of(wsi), wsi, &addr);
        return eio_on_ws_open(server_of(wsi)->eio, wsi, &q, &addr);
    }
    case LWS_CALLBACK_RECEIVE: return eio_on_ws_receive(wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return eio_on_ws_writable(wsi);
    case LWS_CALLBACK_CLOSED: eio_on_ws_closed(wsi); return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: conn_shared_woken(&server_of(wsi)->conns); return 0;
    default: return 0;
    }
}

/* ---- the memory budget ---- */

enum { HOLD_SESSION, HOLD_REPLY };

/* The budget's drop (mem_budget_shed_cb): the greediest sessions and unread replies go until
 * need bytes are on their way out. Returns how many went. */
static size_t mem_shed(void *ud, size_t need)
{
    server_t *srv = ud;
    size_t n = 0, cap = 16;
    mem_holder_t *h = xmalloc(cap * sizeof *h);
    eio_session_t *s;
    for (size_t i = 0; eio_server_next(srv->eio, &i, &s);) {
        size_t held = eio_session_held(s);
        if (!held) continue;
        if (n == cap) h = xrealloc(h, (cap *= 2) * sizeof *h);
        h[n++] = (mem_holder_t){held, s, HOLD_SESSION};
    }
    for (deadline_node_t *d = deadline_list_first(&srv->flush_q.list); d;
         d = deadline_list_next(&srv->flush_q.list, d)) {
        if (n == cap) h = xrealloc(h, (cap *= 2) * sizeof *h);
        h[n++] = (mem_holder_t){flushing_bytes(conn_of_node(d)), conn_of_node(d), HOLD_REPLY};
    }
    size_t k = mem_budget_pick(h, n, need), freed = 0;
    for (size_t i = 0; i < k; i++) {
        freed += h[i].size;
        if (h[i].kind == HOLD_SESSION) {
            eio_drop(h[i].item, "memory budget");
        } else {
            conn_t *c = h[i].item;
            deadline_queue_remove(&srv->flush_q, &c->idle); /* its bytes count until it is closed */
            conn_kill(c);
        }
    }
    log_warn("memory budget exceeded", "queued=%zu budget=%zu dropped=%zu releasing=%zu",
             mem_budget_queued(&srv->mem), (size_t)srv->cfg->max_memory_queued, k, freed);
    free(h);
    return k;
}

void server_mem_add(server_t *srv, size_t n)
{
    mem_budget_add(&srv->mem, n);
}

void server_mem_sub(server_t *srv, size_t n)
{
    mem_budget_sub(&srv->mem, n);
}

static const struct lws_protocols protocols[] = {
    {"chatnode", callback, 0, WS_RX_CHUNK, 0, NULL, 65536},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws logs go through our logfmt logger: errors as errors, warnings (refused upgrades and
 * the like, which we log ourselves) at debug level. */
static void lws_log(int level, const char *line)
{
    char msg[512];
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    snprintf(msg, sizeof msg, "%.*s", (int)n, line);
    log_write(level == LLL_ERR ? LOG_ERROR : LOG_DEBUG, "libwebsockets", "detail=\"%s\"", msg);
}

/* Sets up what the server owns besides sessions and the lws context: the trusted proxies,
 * the per-address limits, the connection queues and the memory budget. Returns 0, or -1
 * (logged; nothing is left to close). */
static int own_init(server_t *srv)
{
    const chatnode_config_t *cfg = srv->cfg;
    char err[256];
    if (client_cidrs_parse(cfg->trusted_proxies, &srv->trusted, err, sizeof err) < 0) {
        log_error("bad --trusted-proxies", "error=\"%s\"", err);
        return -1;
    }
    if (mem_budget_init(&srv->mem, srv->loop, (size_t)cfg->max_memory_queued, mem_shed, srv) ||
        addr_limit_init(&srv->limits, srv->loop, cfg->max_sessions_per_ip, cfg->handshake_rate,
                        cfg->handshake_burst) ||
        deadline_queue_init(&srv->idle_q, srv->loop, (uint64_t)cfg->keepalive_timeout, idle_expired,
                            srv) ||
        deadline_queue_init(&srv->body_q, srv->loop, (uint64_t)cfg->body_timeout, conn_expired,
                            srv) ||
        deadline_queue_init(&srv->linger_q, srv->loop, LINGER_MS, conn_expired, srv) ||
        deadline_queue_init(&srv->flush_q, srv->loop, (uint64_t)cfg->keepalive_timeout,
                            conn_expired, srv) ||
        conn_shared_init(&srv->conns, srv->loop, &srv->mem)) {
        log_error("cannot start timers", NULL); /* libuv timers do not fail to initialise */
        client_cidrs_free(&srv->trusted);
        return -1;
    }
    return 0;
}

/* Closes what own_init set up (the loop then finishes closing the handles). */
static void own_close(server_t *srv)
{
    mem_budget_close(&srv->mem);
    addr_limit_close(&srv->limits);
    deadline_queue_close(&srv->idle_q, NULL);
    deadline_queue_close(&srv->body_q, NULL);
    deadline_queue_close(&srv->linger_q, NULL);
    deadline_queue_close(&srv->flush_q, NULL);
    conn_shared_close(&srv->conns);
    client_cidrs_free(&srv->trusted);
}

/* Is host:port free to listen on? libwebsockets 4.1 logs a port in use and then runs on with
 * no listener (or, told to fail, with a context it cannot destroy cleanly), so the bind is
 * tried here first. Unknown hosts and interface names are left for lws to judge. */
static int can_listen(const char *host, long long port)
{
    if (port == 0) return 1;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    hints.ai_family = host && strchr(host, ':') ? AF_INET6 : AF_INET;
    char service[24];
    snprintf(service, sizeof service, "%lld", port);
    struct addrinfo *ai;
    if (getaddrinfo(host && *host ? host : NULL, service, &hints, &ai) != 0) return 1;
    int ok = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno == EADDRINUSE) ok = 0;
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

void server_init(server_t *srv, uv_loop_t *loop, const chatnode_config_t *cfg)
{
    srv->loop = loop;
    srv->cfg = cfg;
}

int server_start(server_t *srv, const eio_handler_t *handler)
{
    uv_loop_t *loop = srv->loop;
    const chatnode_config_t *cfg = srv->cfg;
    srv->started_ms = uv_now(loop);
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    srv->started_epoch_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_usec / 1000;
    if (!can_listen(cfg->host, cfg->port)) {
        log_error("cannot listen", "host=%s port=%lld error=\"%s\"", cfg->host, cfg->port,
                  strerror(EADDRINUSE));
        return -1;
    }
    if (own_init(srv)) return -1;
    srv->eio = eio_server_new(loop, cfg, handler, &srv->mem, &srv->limits);
    if (srv->nkeep_headers)
        eio_server_keep_headers(srv->eio, (const char *const *)srv->keep_headers,
                                srv->nkeep_headers);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign_loops[1] = {loop};
    info.port = (int)cfg->port;
    info.iface = cfg->host && *cfg->host ? cfg->host : NULL;
    info.protocols = protocols;
    info.options =
        LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (cfg->host && strchr(cfg->host, ':'))
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign_loops;
    info.user = &srv->conns;
    info.pcontext = &srv->lws;
    info.timeout_secs = 20;
    /* lws's own keep-alive timeout covers the moment between a reply and the idle_q */
    info.keepalive_timeout = (int)((cfg->keepalive_timeout + 999) / 1000);
    /* --header-timeout: lws gives a connection this long, from its first byte (or from its
     * accept), to send a whole request head, and does not restart the clock as bytes arrive.
     * It counts whole seconds. */
    info.timeout_secs_ah_idle = (unsigned int)((cfg->header_timeout + 999) / 1000);
    info.ka_time = 0;
    info.pt_serv_buf_size = 16384;
    info.max_http_header_data = 4096;
    info.server_string = "chatnode";
    /* No lws validity pings: Engine.IO's heartbeat proves a connection alive. lws keeps one
     * time-sorted list of timers per thread and inserts by walking it from the soonest; a
     * validity timer re-armed 5 minutes out walks past every connection's, so at tens of
     * thousands of connections each re-arm costs milliseconds. */
    static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    info.retry_and_idle_policy = &no_validity;
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        log_error("cannot listen", "host=%s port=%lld", cfg->host, cfg->port);
        eio_server_close(srv->eio); /* freed by server_finish */
        own_close(srv);
        return -1;
    }
    srv->vhost = lws_get_vhost_by_name(srv->lws, "default");
    srv->port = srv->vhost ? lws_get_vhost_listen_port(srv->vhost) : (int)cfg->port;
    if (cfg->node_tag && *cfg->node_tag)
        snprintf(srv->tag, sizeof srv->tag, "%s", cfg->node_tag);
    else
        snprintf(srv->tag, sizeof srv->tag, "n%d", srv->port);
    eio_server_set_tag(srv->eio, srv->tag);
    return 0;
}

void server_stop(server_t *srv)
{
    if (srv->stopping) return;
    srv->stopping = 1;
    mem_budget_close(&srv->mem); /* everything goes now: no drop */
    eio_server_close(srv->eio);  /* sessions first: they leave the per-address counts */
    own_close(srv);
    if (srv->lws) lws_context_destroy(srv->lws);
}

eio_server_t *server_eio(const server_t *srv)
{
    return srv->eio;
}

void server_set_metrics(server_t *srv, void (*metrics)(void *ctx, sbuf_t *text), void *ctx)
{
    srv->metrics = metrics;
    srv->metrics_ctx = ctx;
}

void server_set_health(server_t *srv, void (*health)(void *ctx, sbuf_t *json), void *ctx)
{
    srv->health = health;
    srv->health_ctx = ctx;
}

void server_finish(server_t *srv)
{
    /* With a foreign loop, lws frees the context in steps; each call advances one. */
    for (int i = 0; srv->lws && i < 4; i++) lws_context_destroy(srv->lws);
    eio_server_free(srv->eio); /* its queues are closed now */
    srv->eio = NULL;
    for (size_t i = 0; i < srv->nkeep_headers; i++) free(srv->keep_headers[i]);
    free(srv->keep_headers);
    srv->keep_headers = NULL;
    srv->nkeep_headers = 0;
}

void server_keep_headers(server_t *srv, const char *const *names, size_t n)
{
    for (size_t i = 0; i < srv->nkeep_headers; i++) free(srv->keep_headers[i]);
    free(srv->keep_headers);
    srv->keep_headers = n ? xcalloc(n, sizeof *srv->keep_headers) : NULL;
    for (size_t i = 0; i < n; i++) srv->keep_headers[i] = xstrdup(names[i]);
    srv->nkeep_headers = n;
}
