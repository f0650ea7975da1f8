/* Draining a node (see drain.h). */
#include "drain.h"
#include "alloc.h"
#include "log.h"

#include <stdlib.h>

struct drain {
    eio_server_t *es; /* borrowed */
    const chatnode_config_t *cfg;
    uv_timer_t step, deadline;
    int open_handles;
    drain_done_cb done;
    void *done_ud;
};

static void finish(drain_t *d, const char *why)
{
    drain_done_cb cb = d->done;
    if (!cb) return;
    d->done = NULL;
    uv_timer_stop(&d->deadline);
    log_info("drained", "reason=%s sessions=%zu", why, eio_server_session_count(d->es));
    cb(d->done_ud);
}

static void on_step(uv_timer_t *t)
{
    drain_t *d = t->data;
    eio_close_some(d->es, (size_t)d->cfg->drain_batch, "server draining");
    if (d->done) {
        /* stopping: wait until closed sessions are gone too (a polling client takes its
         * close packet with its next GET) */
        if (eio_server_session_count(d->es) == 0) finish(d, "empty");
    } else if (eio_count_open(d->es) == 0) {
        uv_timer_stop(&d->step); /* everyone went; new ones are refused */
    }
}

static void on_deadline(uv_timer_t *t)
{
    finish(t->data, "drain-timeout");
}

drain_t *drain_new(uv_loop_t *loop, const chatnode_config_t *cfg, eio_server_t *es)
{
    drain_t *d = xcalloc(1, sizeof *d);
    d->es = es;
    d->cfg = cfg;
    uv_timer_init(loop, &d->step);
    uv_timer_init(loop, &d->deadline);
    d->step.data = d->deadline.data = d;
    d->open_handles = 2;
    return d;
}

void drain_set(drain_t *d, int on)
{
    if (eio_server_draining(d->es) == on) return;
    eio_server_set_draining(d->es, on);
    log_info(on ? "draining" : "drain stopped", "sessions=%zu", eio_server_session_count(d->es));
    if (on)
        uv_timer_start(&d->step, on_step, 0, (uint64_t)d->cfg->drain_interval);
    else
        uv_timer_stop(&d->step);
}

int drain_active(const drain_t *d)
{
    return eio_server_draining(d->es);
}

void drain_then(drain_t *d, uint64_t timeout_ms, drain_done_cb cb, void *ud)
{
    d->done = cb;
    d->done_ud = ud;
    uv_timer_start(&d->deadline, on_deadline, timeout_ms, 0);
    if (eio_server_draining(d->es))
        uv_timer_start(&d->step, on_step, 0, (uint64_t)d->cfg->drain_interval);
    else
        drain_set(d, 1);
}

static void closed(uv_handle_t *h)
{
    drain_t *d = h->data;
    if (--d->open_handles == 0) free(d);
}

void drain_free(drain_t *d)
{
    if (!d) return;
    d->done = NULL;
    uv_close((uv_handle_t *)&d->step, closed);
    uv_close((uv_handle_t *)&d->deadline, closed);
}
