/* One connection to one Redis server, on libuv, speaking RESP2 through hiredis's reader and
 * command formatter only (hiredis 0.14's async client cannot carry sharded pub/sub: it takes
 * the reply to SSUBSCRIBE for an ordinary command's and then asserts on the first smessage).
 *
 * A connection resolves, connects, sends AUTH and SELECT when asked, then is ready. Commands
 * may be sent from the start: they are written, pipelined, behind the handshake. Replies go to
 * the commands' callbacks in order; on a subscriber connection every reply after the
 * handshake goes to on_push instead (subscribe confirmations, messages, and the errors of
 * subscribe commands, in the order Redis sends them). It never reconnects: once lost it
 * reports so and stays dead, and its owner opens another. */
#ifndef CC_RCONN_H
#define CC_RCONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct redisReply; /* <hiredis/hiredis.h> */

typedef struct rconn rconn_t;

/* A command's reply: status 0 and the reply (borrowed for the call; may be an error reply), or
 * BUS_ECONNLOST (the connection broke first) or BUS_ECLOSED (rconn_close) with NULL. */
typedef void (*rconn_reply_cb)(void *ud, int status, const struct redisReply *r);
/* A reply on a subscriber connection (borrowed for the call). */
typedef void (*rconn_push_cb)(void *ud, rconn_t *c, const struct redisReply *r);
/* The connection became ready (err 0) or was lost (err: a BUS_E* code; BUS_EAUTH or
 * BUS_ESELECT when the handshake was refused); lost comes once and nothing comes after it. */
typedef void (*rconn_event_cb)(void *ud, rconn_t *c, int err);

typedef struct {
    const char *host; /* copied */
    int port;
    const char *user, *password; /* AUTH [user] password first when password is not NULL */
    int db;                      /* SELECT db when > 0 */
    uint32_t timeout_ms;         /* resolve + connect + handshake must finish within */
    int subscriber;              /* 1: replies after the handshake go to on_push */
    rconn_push_cb on_push;
    rconn_event_cb on_event;    /* may be NULL */
    void (*on_freed)(void *ud); /* may be NULL: the memory and every handle are released, after
                                   rconn_close (an owner closing its loop waits for this) */
    void *ud;
} rconn_options_t;

/* Starts a connection; never blocks. Returns NULL only on bad options. */
rconn_t *rconn_open(uv_loop_t *loop, const rconn_options_t *o);

/* Sends a command (argv binary-safe, copied). cb may be NULL: the reply is dropped; on a
 * subscriber connection cb must be NULL. Returns 0, or BUS_ECONNLOST (the connection is
 * lost; cb never fires) or BUS_EINVAL. */
int rconn_command(rconn_t *c, int argc, const char *const *argv, const size_t *lens,
                  rconn_reply_cb cb, void *ud);

/* 1 once the handshake is done and until the connection is lost. */
int rconn_ready(const rconn_t *c);
/* 1 once the connection is lost (or closed). */
int rconn_lost(const rconn_t *c);
/* Commands sent whose replies have not come yet. */
size_t rconn_pending(const rconn_t *c);
/* The server's address as opened ("host:port"). */
const char *rconn_addr(const rconn_t *c);
/* The last error's text, "" if none. */
const char *rconn_error(const rconn_t *c);

/* Closes the connection: the callbacks of commands still pending fire with BUS_ECLOSED before
 * this returns; no event or push comes after; memory is freed from the loop. Safe from inside
 * any of its callbacks. NULL is a no-op. */
void rconn_close(rconn_t *c);

#endif
