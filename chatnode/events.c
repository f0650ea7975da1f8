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
    const char *name = cluster_event_name(type);
    if (!c || !name || cfg->events_max_len <= 0 || cluster_event_check(type, data) < 0) return;
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    char ts[24], max[24];
    snprintf(ts, sizeof ts, "%lld", ms);
    snprintf(max, sizeof max, "%lld", cfg->events_max_len);
    sbuf_t key = SBUF_INIT;
    cluster_event_key(&key, cfg->control_prefix);
    const char *argv[] = {"XADD", key.data, "MAXLEN",       "~",    max, "*", "type", name, "ts",
                          ts,     "node",   cluster_uid(c), "data", text};
    size_t lens[sizeof argv / sizeof argv[0]];
    for (size_t i = 0; i < sizeof argv / sizeof argv[0]; i++) lens[i] = strlen(argv[i]);
    cluster_command_key(c, key.data, key.len, (int)(sizeof argv / sizeof argv[0]), argv, lens,
                        on_written, NULL);
    if (++adds % EVENTS_TRIM_EVERY == 0) {
        char minid[32];
        snprintf(minid, sizeof minid, "%lld-0", ms - cfg->events_ttl * 1000);
        const char *tv[] = {"XTRIM", key.data, "MINID", "~", minid};
        size_t tl[] = {5, key.len, 5, 1, strlen(minid)};
        cluster_command_key(c, key.data, key.len, 5, tv, tl, on_written, NULL);
    }
    sbuf_free(&key);
    free(text);
}
