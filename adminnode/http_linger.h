/* The lingering close of connections answered before their request body was read (nginx's
 * lingering close): the answer is out and the write side shut down, and the socket stays open
 * while everything the client still sends is read and dropped, until the client closes, or
 * max_bytes were dropped, or max_ms passed. Closing a socket with unread data makes the kernel
 * send a reset, which can destroy the answer before the client has read it (a client that is
 * still writing its body then sees EPIPE or ECONNRESET instead of the error). */
#ifndef CC_HTTP_LINGER_H
#define CC_HTTP_LINGER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_linger http_linger_t;

/* A lingerer on loop: at most max_sockets at once, each for at most max_ms and max_bytes.
 * Never fails. */
http_linger_t *http_linger_new(uv_loop_t *loop, uint64_t max_ms, size_t max_bytes,
                               size_t max_sockets);

/* Takes fd (owned from now on: this module closes it) of a socket whose answer was sent.
 * Returns 0, or -1 when max_sockets linger already or the socket cannot be watched (fd is then
 * closed at once). */
int http_linger_add(http_linger_t *l, int fd);

/* Sockets lingering now, and in all. */
size_t http_linger_count(const http_linger_t *l);
uint64_t http_linger_total(const http_linger_t *l);

/* Closes every lingering socket and the timer; l is freed from the loop, then done (may be
 * NULL) fires. NULL is a no-op. */
void http_linger_close(http_linger_t *l, void (*done)(void *ud), void *ud);

#endif
