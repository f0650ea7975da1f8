/* libwebsockets glue: one context on the process's libuv loop, one protocol handling both
 * HTTP (polling, /healthz, CORS preflight) and WebSocket connections, routed to eio_session. */
#include "server.h"
#include "alloc.h"
#include "eio_session.h"
#include "log.h"
#include "sid.h"
#include "static_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a WebSocket message may grow to is bounded by --max-payload; lws hands it to us in
 * pieces of this size, which is also all the per-connection receive buffer lws allocates. */
#define WS_RX_CHUNK 128

static server_t *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- query and headers ---- */

static void parse_query(struct lws *wsi, eio_query_t *q)
{
    char frag[256];
    memset(q, 0, sizeof *q);
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++) {
        if (strncmp(frag, "EIO=", 4) == 0) {
            q->eio_ok = strcmp(frag + 4, "4") == 0;
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

static int header(struct lws *wsi, enum lws_token_indexes tok, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, tok) <= 0) return -1;
    return lws_hdr_copy(wsi, buf, len, tok);
}

/* Does the configured allow-list accept origin? "*" accepts every origin. */
static int origin_allowed(const char *list, const char *origin)
{
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        size_t n = (size_t)(t - p);
        if ((n == 1 && *p == '*') || (n == olen && n && memcmp(p, origin, n) == 0)) return 1;
        p = e;
    }
    return 0;
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
        has_origin = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) > 0;
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

/* ---- connection state ---- */

sbuf_t *conn_body(conn_t *c)
{
    if (!c->body) c->body = xcalloc(1, sizeof *c->body);
    return c->body;
}

sbuf_t *conn_take_body(conn_t *c)
{
    sbuf_t *b = c->body;
    c->body = NULL;
    return b;
}

void conn_drop_body(conn_t *c)
{
    if (!c->body) return;
    sbuf_free(c->body);
    free(c->body);
    c->body = NULL;
}

/* ---- replies ---- */

void server_reply(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                  const char *body, size_t len)
{
    free(c->reply);
    c->reply = xmalloc(LWS_PRE + len + 1);
    if (len) memcpy(c->reply + LWS_PRE, body, len);
    c->reply_len = (uint32_t)len;
    c->status = (uint16_t)status;
    c->content_type = content_type;
    c->kind = CONN_REPLY;
    lws_callback_on_writable(wsi);
}

void server_reply_head(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                       size_t len)
{
    server_reply(wsi, c, status, content_type, NULL, 0);
    c->reply_len = (uint32_t)len;
    c->head_only = 1;
}

void server_reply_eio_error(struct lws *wsi, conn_t *c, int code)
{
    char body[128];
    int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code,
                     eio_error_message(code));
    server_reply(wsi, c, code == EIO_ERR_FORBIDDEN ? 403 : 400, "application/json", body,
                 (size_t)n);
}

/* Did the client ask for the connection to end with this request? */
static int client_wants_close(struct lws *wsi)
{
    char v[64];
    if (header(wsi, WSI_TOKEN_CONNECTION, v, sizeof v) <= 0) return 0;
    for (char *p = v; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    return strstr(v, "close") != NULL;
}

void server_release_headers(struct lws *wsi, conn_t *c)
{
    if (c->headers_gone) return;
    char origin[512];
    if (header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) > 0) c->origin = xstrdup(origin);
    if (client_wants_close(wsi)) c->close_after = 1;
    c->headers_gone = 1;
    lws_http_headers_detach(wsi);
}

static int write_reply(server_t *srv, struct lws *wsi, conn_t *c)
{
    if (c->kind != CONN_REPLY || !c->reply) return 0;
    /* Say so when the connection ends here, or a keep-alive client may reuse it. */
    if (client_wants_close(wsi)) c->close_after = 1;
    unsigned char hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof hdr - 1;
    const char *ctype = c->content_type ? c->content_type : "text/plain; charset=UTF-8";
    if (lws_add_http_common_headers(wsi, c->status, ctype, c->reply_len, &p, end)) return -1;
    int bad = add_cors(srv, wsi, c, &p, end) < 0;
    if (c->status == 204) {
        char reqh[512];
        int n = header(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, reqh, sizeof reqh);
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
    if (c->close_after) bad |= add_header(wsi, "connection:", "close", 5, &p, end);
    if (bad || lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (c->reply_len && !c->head_only &&
        lws_write(wsi, (unsigned char *)c->reply + LWS_PRE, c->reply_len, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    free(c->reply);
    c->reply = NULL;
    c->reply_len = 0;
    c->kind = CONN_NONE;
    free(c->origin);
    c->origin = NULL;
    c->headers_gone = 0;
    if (c->close_after) return -1;
    if (lws_http_transaction_completed(wsi)) return -1;
    /* the idle timeout is ours (idle_q), not lws's */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    dl_add(&srv->idle_q, &c->idle);
    return 0;
}

void server_idle_expired(dl_queue_t *q, dl_node_t *node)
{
    conn_t *c = (conn_t *)((char *)node - offsetof(conn_t, idle));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
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
    eio_count(srv, &polling, &websocket);
    sbuf_printf(&body,
                "{\"status\":\"%s\",\"connections\":%zu,\"polling\":%zu,\"websocket\":%zu,"
                "\"uptime_s\":%llu,\"draining\":%s",
                srv->stopping ? "stopping" : "ok", srv->sessions.count, polling, websocket,
                (unsigned long long)up, srv->draining ? "true" : "false");
    if (srv->health) srv->health(srv->health_ctx, &body);
    sbuf_append_char(&body, '}');
    server_reply(wsi, c, srv->stopping ? 503 : 200, "application/json", body.data, body.len);
    sbuf_free(&body);
}

static int on_http(server_t *srv, struct lws *wsi, conn_t *c, const char *uri)
{
    int method = method_of(wsi);
    memset(c, 0, sizeof *c); /* a dequeued idle node is all zeroes too */
    c->wsi = wsi;
    if (strcmp(uri, "/healthz") == 0 && method == M_GET) {
        reply_healthz(srv, wsi, c);
        return 0;
    }
    if (!path_matches(srv, uri)) {
        if (srv->cfg->static_dir && *srv->cfg->static_dir && strcmp(uri, "/healthz") != 0)
            static_files_serve(wsi, c, srv->cfg->static_dir, uri);
        else
            server_reply(wsi, c, 404, NULL, "Not Found", 9);
        return 0;
    }
    if (method == M_OPTIONS && srv->cfg->cors_origin && *srv->cfg->cors_origin) {
        server_reply(wsi, c, 204, NULL, NULL, 0);
        return 0;
    }
    eio_query_t q;
    parse_query(wsi, &q);
    if (!q.eio_ok) {
        c->close_after = method == M_POST;
        server_reply_eio_error(wsi, c, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
        return 0;
    }
    if (!q.transport_ok || q.transport != EIO_TR_POLLING) {
        /* A websocket transport without an Upgrade header is not a valid request either. */
        c->close_after = method == M_POST;
        server_reply_eio_error(wsi, c,
                               q.transport_ok ? EIO_ERR_BAD_REQUEST : EIO_ERR_TRANSPORT_UNKNOWN);
        return 0;
    }
    if (srv->stopping || (srv->draining && !q.sid[0])) {
        /* stopping, or draining: no new sessions here; existing ones go on until closed */
        server_reply(wsi, c, 503, "application/json",
                     "{\"code\":3,\"message\":\"Server draining\"}", 38);
        c->close_after = 1;
        return 0;
    }
    switch (method) {
    case M_GET: eio_on_poll_get(srv, wsi, c, &q); break;
    case M_POST: {
        char cl[32];
        long long len = -1;
        if (header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl) > 0) len = atoll(cl);
        eio_on_poll_post(srv, wsi, c, &q, len);
        break;
    }
    default:
        c->close_after = 1;
        server_reply_eio_error(wsi, c,
                               q.sid[0] ? EIO_ERR_BAD_REQUEST : EIO_ERR_BAD_HANDSHAKE_METHOD);
        break;
    }
    return 0;
}

/* ---- WebSocket ---- */

static int ws_filter(server_t *srv, struct lws *wsi)
{
    char uri[512];
    if (header(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri) <= 0 || !path_matches(srv, uri)) return -1;
    if (srv->stopping) return -1;
    /* RFC 6455 is version 13; lws would take any other version as 13. */
    char version[8];
    if (header(wsi, WSI_TOKEN_VERSION, version, sizeof version) <= 0 || strcmp(version, "13") != 0)
        return -1;
    eio_query_t q;
    parse_query(wsi, &q);
    int err, status = 400;
    char body[128];
    int n;
    if (srv->draining && !q.sid[0]) {
        /* no new sessions while draining: the same 503 as a polling handshake, which a proxy
         * can retry on another node */
        status = 503;
        n = snprintf(body, sizeof body, "{\"code\":3,\"message\":\"Server draining\"}");
    } else {
        if (eio_ws_filter(srv, &q, &err) == 0) return 0;
        log_debug("websocket refused", "error=\"%s\"", eio_error_message(err));
        /* Refused upgrades get the same 400 and JSON body as refused polling requests. */
        n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", err,
                     eio_error_message(err));
    }
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
                                      *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", (lws_filepos_t)n, &p,
                                    end) ||
        add_header(wsi, "connection:", "close", 5, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(hdr + LWS_PRE, body, (size_t)n);
    lws_write(wsi, hdr + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL);
    return -1;
}

/* ---- the protocol callback ---- */

/* An HTTP connection's state lives in its lws opaque user data (no per-connection user space
 * is allocated by lws, which keeps idle WebSockets small). */
static conn_t *http_conn(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

static void http_conn_free(struct lws *wsi)
{
    conn_t *c = http_conn(wsi);
    if (!c) return;
    dl_remove(&server_of(wsi)->idle_q, &c->idle);
    eio_on_http_closed(wsi, c);
    free(c->origin);
    free(c->reply);
    conn_drop_body(c);
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
            dl_remove(&server_of(wsi)->idle_q, &c->idle);
            free(c->origin);
            free(c->reply);
            conn_drop_body(c);
        } else {
            c = xmalloc(sizeof *c);
            c->idle = (dl_node_t){0};
            lws_set_opaque_user_data(wsi, c);
        }
        return on_http(server_of(wsi), wsi, c, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        c = http_conn(wsi);
        return c ? eio_on_post_body(wsi, c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Once per request: lws 4.1 can report the end of a body again when another request
         * was pipelined behind a deferred reply; that connection is dropped. */
        c = http_conn(wsi);
        if (!c || c->body_done) return -1;
        c->body_done = 1;
        return eio_on_post_done(wsi, c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        c = http_conn(wsi);
        return c ? write_reply(server_of(wsi), wsi, c) : 0;
    case LWS_CALLBACK_CLOSED_HTTP: http_conn_free(wsi); return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        http_conn_free(wsi); /* an earlier request on this connection is over */
        return ws_filter(server_of(wsi), wsi);
    case LWS_CALLBACK_ESTABLISHED: {
        eio_query_t q;
        parse_query(wsi, &q);
        return eio_on_ws_open(server_of(wsi), wsi, &q);
    }
    case LWS_CALLBACK_RECEIVE: return eio_on_ws_receive(wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return eio_on_ws_writable(wsi);
    case LWS_CALLBACK_CLOSED: eio_on_ws_closed(wsi); return 0;
    default: return 0;
    }
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

int server_start(server_t *srv, uv_loop_t *loop, const chatnode_config_t *cfg,
                 const eio_handler_t *handler)
{
    srv->loop = loop;
    srv->cfg = cfg;
    srv->handler = *handler;
    srv->started_ms = uv_now(loop);
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    srv->started_epoch_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_usec / 1000;
    if (eio_init(srv)) {
        log_error("cannot start timers", NULL);
        return -1;
    }

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
    info.user = srv;
    info.pcontext = &srv->lws;
    info.timeout_secs = 20;
    /* lws's own keep-alive timeout covers the moment between a reply and the idle_q */
    info.keepalive_timeout = (int)((cfg->keepalive_timeout + 999) / 1000);
    info.ka_time = 0;
    info.pt_serv_buf_size = 16384;
    info.max_http_header_data = 4096;
    info.server_string = "chatnode";
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        log_error("cannot listen", "host=%s port=%lld", cfg->host, cfg->port);
        eio_shutdown(srv);
        return -1;
    }
    srv->vhost = lws_get_vhost_by_name(srv->lws, "default");
    srv->port = srv->vhost ? lws_get_vhost_listen_port(srv->vhost) : (int)cfg->port;
    if (cfg->node_tag && *cfg->node_tag)
        snprintf(srv->tag, sizeof srv->tag, "%s", cfg->node_tag);
    else
        snprintf(srv->tag, sizeof srv->tag, "n%d", srv->port);
    return 0;
}

void server_stop(server_t *srv)
{
    if (srv->stopping) return;
    srv->stopping = 1;
    eio_shutdown(srv);
    if (srv->lws) lws_context_destroy(srv->lws);
}

void server_finish(server_t *srv)
{
    /* With a foreign loop, lws frees the context in steps; each call advances one. */
    for (int i = 0; srv->lws && i < 4; i++) lws_context_destroy(srv->lws);
}
