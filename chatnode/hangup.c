/* Watching held connections for their peer going away: see hangup.h. */
#include "hangup.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { BATCH = 64 };

static void on_ready(uv_poll_t *p, int status, int events)
{
    hangup_t *h = p->data;
    (void)status;
    (void)events;
    struct epoll_event ev[BATCH];
    int n;
    do {
        n = epoll_wait(h->epfd, ev, BATCH, 0);
        /* EPOLLONESHOT: each socket reports once; its owner unwatches it as it closes */
        for (int i = 0; i < n && h->epfd >= 0; i++) h->cb(h->ud, ev[i].data.ptr);
    } while (n == BATCH && h->epfd >= 0);
}

int hangup_init(hangup_t *h, uv_loop_t *loop, hangup_cb cb, void *ud)
{
    h->watched = 0;
    h->cb = cb;
    h->ud = ud;
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->epfd < 0) return -1;
    if (uv_poll_init(loop, &h->poll, h->epfd) || uv_poll_start(&h->poll, UV_READABLE, on_ready)) {
        close(h->epfd);
        h->epfd = -1;
        errno = EINVAL;
        return -1;
    }
    h->poll.data = h;
    return 0;
}

int hangup_watch(hangup_t *h, int fd, void *conn)
{
    if (h->epfd < 0 || fd < 0) return -1;
    /* no EPOLLIN: data the client sends is not news; the peer's FIN (EPOLLRDHUP), a reset or
     * an error (EPOLLHUP, EPOLLERR, always reported) are */
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.ptr = conn};
    if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
    h->watched++;
    return 0;
}

void hangup_unwatch(hangup_t *h, int fd)
{
    if (h->epfd < 0 || fd < 0) return;
    if (epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL) == 0 && h->watched) h->watched--;
}

void hangup_close(hangup_t *h)
{
    if (h->epfd < 0) return;
    uv_close((uv_handle_t *)&h->poll, NULL);
    close(h->epfd);
    h->epfd = -1;
    h->watched = 0;
}
