/* Recording the cluster's events (see events.h). */
#include "events.h"
#include "alloc.h"
#include "cluster.h"
#include "log.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Adds between two trims by age. */
#define EVENTS_TRIM_EVERY 1000
/* The wake-up follows the first add by this long, covering the adds that come meanwhile. */
#define EVENTS_WAKE_MS 2

struct events {
    uv_timer_t wake;
    sio_server_t *sio;
    const chatnode_config_t *cfg;
    unsigned adds;
    int pending; /* a wake-up is due */
};

events_t *events_new(uv_loop_t *loop, sio_server_t *sio, const chatnode_config_t *cfg)
{
    events_t *ev = xcalloc(1, sizeof *ev);
    ev->sio = sio;
    ev->cfg = cfg;
    uv_timer_init(loop, &ev->wake);
    ev->wake.data = ev;
    return ev;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void events_free(events_t *ev)
{
    if (ev) uv_close((uv_handle_t *)&ev->wake, on_closed);
}

static void on_written(void *ud, int status, const struct redisReply *r)
{
    (void)ud;
    if (status != 0 || (r && r->type == REDIS_REPLY_ERROR))
        log_warn("event not recorded", "error=\"%s\"",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "connection lost");
}

static void on_wake(uv_timer_t *t)
{
    events_t *ev = t->data;
    ev->pending = 0;
    cluster_t *c = sio_server_cluster(ev->sio);
    if (!c) return;
    sbuf_t ch = SBUF_INIT;
    cluster_event_wake_channel(&ch, ev->cfg->control_prefix);
    cluster_publish(c, ch.data, ch.len, "", 0);
    sbuf_free(&ch);
}

void events_record(events_t *ev, cluster_event_type_t type, json_t *data)
{
    cluster_t *c = ev ? sio_server_cluster(ev->sio) : NULL;
    if (!c) return;
    const chatnode_config_t *cfg = ev->cfg;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    cluster_event_cmd_t cmd;
    if (cluster_event_cmd(&cmd, cfg->control_prefix, cfg->events_max_len, type, ms, cluster_uid(c),
                          data) < 0)
        return;
    cluster_command_key(c, cmd.key.data, cmd.key.len, cmd.argc, cmd.argv, cmd.lens, on_written,
                        NULL);
    if (++ev->adds % EVENTS_TRIM_EVERY == 0) {
        char minid[32];
        snprintf(minid, sizeof minid, "%lld-0", ms - cfg->events_ttl * 1000);
        const char *tv[] = {"XTRIM", cmd.key.data, "MINID", "~", minid};
        size_t tl[] = {5, cmd.key.len, 5, 1, strlen(minid)};
        cluster_command_key(c, cmd.key.data, cmd.key.len, 5, tv, tl, on_written, NULL);
    }
    cluster_event_cmd_free(&cmd);
    if (!ev->pending) {
        ev->pending = 1;
        uv_timer_start(&ev->wake, on_wake, EVENTS_WAKE_MS, 0);
    }
}
