/* One HTTP connection of the server as the layers on it see it: its state (conn_t, kept as
 * the lws opaque user data of its wsi), its request body, the reply prepared for it, holding a
 * long-poll GET and closing a connection at once. The transport (server.c) writes the replies
 * and runs the connections' deadlines; the Engine.IO layer answers its requests through here. */
#ifndef CC_CONN_H
#define CC_CONN_H

#include "deadline.h"
#include "hangup.h"
#include "mem_budget.h"
#include "sbuf.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

struct eio_session;

/* What one HTTP connection (wsi) is to us. (A WebSocket's opaque user data is its Engine.IO
 * session instead.) */
typedef enum {
    CONN_NONE = 0,
    CONN_POLL_GET,  /* long-poll GET waiting for packets */
    CONN_POLL_POST, /* POST whose body is being read */
    CONN_REPLY,     /* a plain HTTP reply is waiting to be written */
    CONN_FLUSHING,  /* the reply is written but lws still holds part of it for the client */
    CONN_LINGER,    /* answered before its body was read: discarding the rest, then closing */
} conn_kind_t;

typedef struct conn {
    struct lws *wsi;
    /* In at most one of the transport's connection queues: idle between requests, body while
     * the request's body is read, flush while lws writes the reply, linger while the
     * connection lingers. */
    deadline_node_t idle;
    struct eio_session *session; /* NULL when detached */
    char *reply;                 /* owned; LWS_PRE bytes of headroom before the body */
    const char *content_type;
    sbuf_t *body; /* owned, or NULL: a POST body being read */
    char *origin; /* owned: the Origin header kept when the headers were released, or NULL */
    union {
        uint32_t reply_len;  /* CONN_REPLY, CONN_FLUSHING: replies are far smaller than 4 GiB */
        uint32_t drain_left; /* CONN_LINGER: body bytes still to discard before closing */
    };
    uint16_t status;          /* reply status */
    uint8_t kind;             /* conn_kind_t */
    uint8_t close_after : 1;  /* close the connection after the reply */
    uint8_t body_done : 1;    /* the request's body has ended (lws may report the end again) */
    uint8_t head_only : 1;    /* a HEAD reply: reply_len is announced, no body is sent */
    uint8_t revalidate : 1;   /* cache-control: no-cache (a static file) instead of no-store */
    uint8_t headers_gone : 1; /* the request headers were released (conn_release_headers) */
    uint8_t has_body : 1;     /* the request announced a body */
    uint8_t killed : 1;       /* being closed at once (conn_kill): nothing more is read */
    uint8_t parked : 1;       /* a GET waiting for packets: not read, watched (conn_park) */
    uint8_t retry_after;      /* seconds for a Retry-After header, or 0 */
    uint8_t octets : 1;       /* a POST of application/octet-stream (v3 binary framing) */
} conn_t;

/* What the connections of one lws context share; it is the context's user data (the
 * transport embeds it in its server). */
typedef struct {
    mem_budget_t *mem; /* borrowed: bodies and replies count in it */
    hangup_t hangup;   /* parked GETs whose client may close them (conn_park) */
    int kill_wake;     /* lws was asked to run its timers (conn_kill_wsi) */
} conn_shared_t;

/* Sets up sh on loop, counting in mem. Returns 0, or -1 (errno set). */
int conn_shared_init(conn_shared_t *sh, uv_loop_t *loop, mem_budget_t *mem);
/* Closes what conn_shared_init opened (the loop finishes closing it). */
void conn_shared_close(conn_shared_t *sh);
/* lws ran its timers after a wake-up (LWS_CALLBACK_EVENT_WAIT_CANCELLED): the next kill wakes
 * it again. */
void conn_shared_woken(conn_shared_t *sh);

/* Appends to the connection's body buffer (created on first use); its growth counts in the
 * memory budget until the buffer is taken or dropped. */
void conn_body_append(conn_t *c, const void *data, size_t len);
/* Bytes in the body buffer. */
size_t conn_body_len(const conn_t *c);
/* Hands the body buffer over (the caller frees it with sbuf_free and free), or NULL. */
sbuf_t *conn_take_body(conn_t *c);
/* Frees the body buffer, if any. */
void conn_drop_body(conn_t *c);

/* Prepares an HTTP reply on wsi (written when lws says it is writable). body is copied;
 * content_type NULL means text/plain; charset=UTF-8. */
void conn_reply(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                const char *body, size_t len);
/* The same reply to a HEAD request: headers only, with len as its Content-Length. */
void conn_reply_head(struct lws *wsi, conn_t *c, unsigned status, const char *content_type,
                     size_t len);
/* Releases the request's header storage (lws keeps ~5 KB per request until it is answered)
 * for a reply that may wait long, such as a held long-poll GET; what the reply needs of the
 * headers (Origin) is kept in c. */
void conn_release_headers(struct lws *wsi, conn_t *c);

/* The GET on wsi waits for packets to send: its connection is not read until the answer
 * (conn_reply) and a client closing it is noticed at once, which ends the connection and so
 * its session. See hangup.h. */
void conn_park(struct lws *wsi, conn_t *c);
/* Ends conn_park (a no-op for a connection not parked); read_again: the connection is read
 * again (a request behind the GET, or its end). */
void conn_unpark(struct lws *wsi, conn_t *c, int read_again);

/* Closes wsi (an HTTP connection or a WebSocket) on the next loop turn, dropping what lws
 * still holds to write on it. (lws runs the timeout that does it only when woken, which this
 * does too.) */
void conn_kill_wsi(struct lws *wsi);
/* The same for c, which also refuses what comes until it is closed (lws restarts its timeout
 * with every piece of a body it reads). */
void conn_kill(conn_t *c);
/* Closes an idle keep-alive connection on the next loop turn. */
void conn_expire_idle(conn_t *c);

/* Copies request header tok into buf (len bytes). Returns its length, or -1 when the request
 * has none or it does not fit. */
int conn_header(struct lws *wsi, enum lws_token_indexes tok, char *buf, int len);
/* Did the client ask for the connection to end with this request (Connection: close)? */
int conn_wants_close(struct lws *wsi);

#endif
