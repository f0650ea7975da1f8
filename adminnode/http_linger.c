/* Lingering close (see http_linger.h): one uv_poll_t per socket, and one deadline list (every
 * socket lingers the same max_ms) driven by one timer. */
#include "http_linger.h"
#include "alloc.h"
#include "deadline.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    deadline_node_t node; /* first: the list links to it */
    uv_poll_t poll;
    http_linger_t *l;
    int fd;
    int in_list;
    size_t dropped;
} lsock_t;

struct http_linger {
    uv_loop_t *loop;
    uv_timer_t timer;
    deadline_list_t list;
    size_t lingering; /* sockets in list */
    size_t max_bytes, max_sockets;
    size_t open; /* sockets not yet closed (lingering or closing) */
    uint64_t total;
    int closing;
    void (*done)(void *ud);
    void *done_ud;
    char scratch[16384];
};

static void maybe_free(http_linger_t *l)
{
    if (!l->closing || l->open || l->timer.data) return;
    void (*done)(void *) = l->done;
    void *ud = l->done_ud;
    free(l);
    if (done) done(ud);
}

static void on_sock_closed(uv_handle_t *h)
{
    lsock_t *s = h->data;
    http_linger_t *l = s->l;
    close(s->fd);
    free(s);
    l->open--;
    maybe_free(l);
}

static void arm(http_linger_t *l);

static void end_sock(lsock_t *s)
{
    if (s->in_list) {
        deadline_node_remove(&s->node);
        s->l->lingering--;
    }
    s->in_list = 0;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
    arm(s->l);
}

static void on_timer(uv_timer_t *t)
{
    http_linger_t *l = t->data;
    deadline_node_t *n;
    while ((n = deadline_list_pop_due(&l->list, uv_now(l->loop))) != NULL) {
        lsock_t *s = (lsock_t *)n;
        s->in_list = 0;
        l->lingering--;
        log_debug("lingering close timed out", "dropped=%zu", s->dropped);
        uv_close((uv_handle_t *)&s->poll, on_sock_closed);
    }
    arm(l);
}

static void arm(http_linger_t *l)
{
    if (l->closing) return;
    uint64_t due = deadline_list_next_due(&l->list), now = uv_now(l->loop);
    if (due == UINT64_MAX)
        uv_timer_stop(&l->timer);
    else
        uv_timer_start(&l->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    lsock_t *s = p->data;
    http_linger_t *l = s->l;
    if (status < 0) {
        end_sock(s);
        return;
    }
    for (;;) {
        ssize_t n = recv(s->fd, l->scratch, sizeof l->scratch, 0);
        if (n > 0) {
            s->dropped += (size_t)n;
            if (s->dropped > l->max_bytes) break;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        break; /* the client closed, or an error */
    }
    end_sock(s);
}

http_linger_t *http_linger_new(uv_loop_t *loop, uint64_t max_ms, size_t max_bytes,
                               size_t max_sockets)
{
    http_linger_t *l = xcalloc(1, sizeof *l);
    l->loop = loop;
    l->max_bytes = max_bytes;
    l->max_sockets = max_sockets;
    deadline_list_init(&l->list, max_ms);
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    return l;
}

int http_linger_add(http_linger_t *l, int fd)
{
    if (l->closing || l->lingering >= l->max_sockets) {
        close(fd);
        return -1;
    }
    lsock_t *s = xcalloc(1, sizeof *s);
    s->l = l;
    s->fd = fd;
    if (uv_poll_init(l->loop, &s->poll, fd) != 0) {
        close(fd);
        free(s);
        return -1;
    }
    s->poll.data = s;
    l->open++;
    l->total++;
    deadline_list_add(&l->list, &s->node, uv_now(l->loop));
    s->in_list = 1;
    l->lingering++;
    uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, on_readable);
    if (deadline_list_first(&l->list) == &s->node) arm(l);
    return 0;
}

size_t http_linger_count(const http_linger_t *l)
{
    return l->lingering;
}

uint64_t http_linger_total(const http_linger_t *l)
{
    return l->total;
}

static void on_timer_closed(uv_handle_t *h)
{
    http_linger_t *l = h->data;
    l->timer.data = NULL;
    maybe_free(l);
}

void http_linger_close(http_linger_t *l, void (*done)(void *ud), void *ud)
{
    if (!l) return;
    l->closing = 1;
    l->done = done;
    l->done_ud = ud;
    deadline_node_t *n;
    while ((n = deadline_list_first(&l->list)) != NULL) {
        lsock_t *s = (lsock_t *)n;
        deadline_node_remove(n);
        s->in_list = 0;
        l->lingering--;
        uv_close((uv_handle_t *)&s->poll, on_sock_closed);
    }
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}
