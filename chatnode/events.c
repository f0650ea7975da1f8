/* Recording the cluster's events (see events.h). */
#include "events.h"
#include "cluster.h"
#include "log.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Adds between two trims by age. */
#define EVENTS_TRIM_EVERY 1000

static void on_written(void *ud, int status, const struct redisReply *r)
{
    (void)ud;
    if (status != 0 || (r && r->type == REDIS_REPLY_ERROR))
        log_warn("event not recorded", "error=\"%s\"",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "connection lost");
}

void events_record(sio_server_t *sio, const chatnode_config_t *cfg, cluster_event_type_t type,
                   json_t *data)
{
    static unsigned adds;
    cluster_t *c = sio_server_cluster(sio);
    if (!c) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    cluster_event_cmd_t cmd;
    if (cluster_event_cmd(&cmd, cfg->control_prefix, cfg->events_max_len, type, ms, cluster_uid(c),
                          data) < 0)
        return;
    cluster_command_key(c, cmd.key.data, cmd.key.len, cmd.argc, cmd.argv, cmd.lens, on_written,
                        NULL);
    if (++adds % EVENTS_TRIM_EVERY == 0) {
        char minid[32];
        snprintf(minid, sizeof minid, "%lld-0", ms - cfg->events_ttl * 1000);
        const char *tv[] = {"XTRIM", cmd.key.data, "MINID", "~", minid};
        size_t tl[] = {5, cmd.key.len, 5, 1, strlen(minid)};
        cluster_command_key(c, cmd.key.data, cmd.key.len, 5, tv, tl, on_written, NULL);
    }
    cluster_event_cmd_free(&cmd);
}
