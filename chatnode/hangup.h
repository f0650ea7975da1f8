/* Notices a client closing a connection that nobody reads: a held long-poll GET.
 *
 * Between a request and its answer libwebsockets reads nothing from an HTTP connection, yet
 * keeps asking for readable events, so a client that closes a held GET (a browser leaving the
 * page) would make the loop spin until the next write there. The server pauses reading such
 * a connection instead (lws_rx_flow_control) and watches its socket here, in an epoll set of
 * its own that the loop polls as one descriptor, for the peer's FIN or reset only: bytes a
 * client sends behind its GET stay in the socket for lws to read after the answer.
 * Linux only (epoll, EPOLLRDHUP). */
#ifndef CHATNODE_HANGUP_H
#define CHATNODE_HANGUP_H

#include <stddef.h>
#include <uv.h>

/* conn is the pointer given to hangup_watch; its watch is over (hangup_unwatch is harmless). */
typedef void (*hangup_cb)(void *ud, void *conn);

typedef struct {
    uv_poll_t poll; /* readable when a watched socket has news */
    int epfd;       /* -1 once closed */
    size_t watched;
    hangup_cb cb;
    void *ud;
} hangup_t;

/* Returns 0, or -1 (errno set). */
int hangup_init(hangup_t *h, uv_loop_t *loop, hangup_cb cb, void *ud);
/* Reports the peer of fd closing or resetting, once, through cb(ud, conn). Returns 0 or -1. */
int hangup_watch(hangup_t *h, int fd, void *conn);
/* Stops watching fd (before it is closed or read again). */
void hangup_unwatch(hangup_t *h, int fd);
/* Closes the set; the loop finishes closing the handle. Watches end with it. */
void hangup_close(hangup_t *h);

#endif
