/* Per-client-address limits: how many Engine.IO sessions one address holds
 * (--max-sessions-per-ip) and how fast it may open new ones (a token bucket of
 * --handshake-burst tokens refilled at --handshake-rate per second). An IPv6 client is counted
 * by its /64. An address's state exists while it has a session or its bucket is refilling, so
 * the table stays as small as the set of recent clients. */
#ifndef CC_ADDR_LIMIT_H
#define CC_ADDR_LIMIT_H

#include "client_addr.h"
#include "strmap.h"

#include <stdint.h>
#include <uv.h>

typedef enum {
    ADDR_OK = 0,            /* admitted: a token was taken */
    ADDR_TOO_MANY_SESSIONS, /* the address holds --max-sessions-per-ip sessions */
    ADDR_TOO_FAST,          /* the address's bucket is empty */
} addr_verdict_t;

typedef struct {
    strmap_t map;     /* limit key -> entry (private to addr_limit.c) */
    uv_timer_t sweep; /* frees entries whose bucket has refilled */
    uint64_t max_sessions, rate, burst;
    uint64_t sweep_ms;
    size_t idle; /* entries without a session, waiting for their bucket to refill */
} addr_limit_t;

/* Sets al up on loop with the limits (max_sessions 0: no session limit; rate 0: no rate
 * limit). Returns 0 or a libuv error. */
int addr_limit_init(addr_limit_t *al, uv_loop_t *loop, long long max_sessions, long long rate,
                    long long burst);
/* Frees every entry and starts closing the timer (the loop must run to finish it). */
void addr_limit_close(addr_limit_t *al);

/* May a new session from a start at loop time now_ms? On ADDR_OK a token is taken; otherwise
 * *retry_after_s (when not NULL) gets the seconds after which to try again (at least 1). */
addr_verdict_t addr_limit_admit(addr_limit_t *al, const client_addr_t *a, uint64_t now_ms,
                                unsigned *retry_after_s);
/* A session from a opened, or closed (each opened one closes exactly once). */
void addr_limit_opened(addr_limit_t *al, const client_addr_t *a);
void addr_limit_closed(addr_limit_t *al, const client_addr_t *a, uint64_t now_ms);
/* Sessions a's key holds now. */
uint64_t addr_limit_sessions(const addr_limit_t *al, const client_addr_t *a);
/* Number of addresses (keys) with state. */
size_t addr_limit_count(const addr_limit_t *al);

#endif
