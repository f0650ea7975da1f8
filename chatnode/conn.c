/* An HTTP connection's state, body, reply, hold and kill (see conn.h). */
#include "conn.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static conn_shared_t *shared_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- the body ---- */

void conn_body_append(conn_t *c, const void *data, size_t len)
{
    if (!c->body) c->body = xcalloc(1, sizeof *c->body);
    size_t before = c->body->cap;
    sbuf_append(c->body, data, len);
    if (c->body->cap > before) mem_budget_add(shared_of(c->wsi)->mem, c->body->cap - before);
}

size_t conn_body_len(const conn_t *c)
{
    return c->body ? c->body->len : 0;
}

sbuf_t *conn_take_body(conn_t *c)
{
    sbuf_t *b = c->body;
    c->body = NULL;
    if (b) mem_budget_sub(shared_of(c->wsi)->mem, b->cap);
    return b;
}

void conn_drop_body(conn_t *c)
{
    sbuf_t *b = conn_take_body(c);
    if (!b) return;
    sbuf_free(b);
    free(b);
}

/* ---- headers ---- */

int conn_header(struct lws *wsi, enum lws_token_indexes tok, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, tok) <= 0) return -1;
    return lws_hdr_copy(wsi, buf, len, tok);
}

int conn_wants_close(struct lws *wsi)
{
    char v[64];
    if (conn_header(wsi, WSI_TOKEN_CONNECTION, v, sizeof v) <= 0) return 0;
    for (char *p = v; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    return strstr(v, "close") != NULL;
}

void conn_release_headers(struct lws *wsi, conn_t *c)
{
    if (c->headers_gone) return;
    char origin[512];
    if (conn_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) > 0) c->origin = xstrdup(origin);
    if (conn_wants_close(wsi)) c->close_after = 1;
    c->headers_gone = 1;
    lws_http_headers_detach(wsi);
}

/* ---- closing at once ---- */

/* lws looks at its timeouts after its own events only: wake it once for all the kills of this
 * loop turn. */
static void wake(struct lws *wsi)
{
    conn_shared_t *sh = shared_of(wsi);
    if (sh->kill_wake) return;
    sh->kill_wake = 1;
    lws_cancel_service(lws_get_context(wsi));
}

void conn_shared_woken(conn_shared_t *sh)
{
    sh->kill_wake = 0;
}

void conn_kill_wsi(struct lws *wsi)
{
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    wake(wsi);
}

void conn_kill(conn_t *c)
{
    c->killed = 1;
    conn_kill_wsi(c->wsi);
}

void conn_expire_idle(conn_t *c)
{
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
    wake(c->wsi);
}

/* ---- holding a GET ---- */

void conn_unpark(struct lws *wsi, conn_t *c, int read_again)
{
    if (!c->parked) return;
    c->parked = 0;
    hangup_unwatch(&shared_of(wsi)->hangup, lws_get_socket_fd(wsi));
    if (read_again) lws_rx_flow_control(wsi, 1);
}

void conn_park(struct lws *wsi, conn_t *c)
{
    if (c->parked) return;
    c->parked = 1;
    lws_rx_flow_control(wsi, 0);
    /* without the watch (no memory for it) the close is noticed at the next write, the ping */
    if (hangup_watch(&shared_of(wsi)->hangup, lws_get_socket_fd(wsi), c) < 0)
        log_warn("cannot watch a held GET", "error=\"%s\"", strerror(errno));
}

/* The client closed or reset a held GET's connection. */
static void on_hangup(void *ud, void *conn)
{
    (void)ud;
    conn_t *c = conn;
    if (!c->parked) return;
    conn_unpark(c->wsi, c, 0);
    log_debug("poll connection closed by the client", NULL);
    conn_kill(c); /* its session ends with it (eio_on_http_closed) */
}

int conn_shared_init(conn_shared_t *sh, uv_loop_t *loop, mem_budget_t *mem)
{
    sh->mem = mem;
    sh->kill_wake = 0;
    return hangup_init(&sh->hangup, loop, on_hangup, sh);
}

void conn_shared_close(conn_shared_t *sh)
{
    hangup_close(&sh->hangup);
}

/* ---- replies ---- */

void conn_reply(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                const char *body, size_t len)
{
    conn_unpark(wsi, c, 1);
    free(c->reply);
    c->reply = xmalloc(LWS_PRE + len + 1);
    if (len) memcpy(c->reply + LWS_PRE, body, len);
    c->reply_len = (uint32_t)len;
    c->status = (uint16_t)status;
    c->content_type = content_type;
    c->kind = CONN_REPLY;
    lws_callback_on_writable(wsi);
}

void conn_reply_head(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                     size_t len)
{
    conn_reply(wsi, c, status, content_type, NULL, 0);
    c->reply_len = (uint32_t)len;
    c->head_only = 1;
}
