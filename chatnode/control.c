/* Heartbeats, the registry entry and drain commands (see control.h). */
#include "control.h"
#include "alloc.h"
#include "eio_session.h"
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTROL_VERSION 1

struct control {
    server_t *srv;
    sio_server_t *sio;
    cluster_t *cluster;
    uv_timer_t heartbeat;
    drain_t *drain; /* borrowed */
    uint64_t last_ms, last_events_in, last_events_out;
    double events_in_per_s, events_out_per_s;
};

static const char *prefix(const control_t *ctl)
{
    return ctl->srv->cfg->control_prefix;
}

/* Resident set size in bytes, from /proc/self/statm. */
static long long rss_bytes(void)
{
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void count_nsp(sio_nsp_t *nsp, void *arg)
{
    size_t len, rooms = 0;
    const char *name = sio_nsp_name(nsp, &len);
    sio_socket_t **all;
    size_t n = sio_select(nsp, NULL, 0, NULL, 0, &all);
    free(all);
    json_t *sockets = json_object_get(arg, "sockets");
    json_object_set_new(sockets, name, json_integer((json_int_t)n));
    (void)rooms;
}

static void add_room_count(const char *room, size_t len, size_t members, void *arg)
{
    (void)room;
    (void)len;
    (void)members;
    (*(size_t *)arg)++;
}

static void count_rooms(sio_nsp_t *nsp, void *arg)
{
    sio_nsp_rooms(nsp, add_room_count, arg);
}

void control_heartbeat_json(control_t *ctl, sbuf_t *json)
{
    server_t *srv = ctl->srv;
    size_t polling, websocket, rooms = 0;
    eio_count(server_eio(srv), &polling, &websocket);
    sio_foreach_nsp(ctl->sio, count_rooms, &rooms);
    char address[300];
    if (srv->cfg->advertise && *srv->cfg->advertise)
        snprintf(address, sizeof address, "%s", srv->cfg->advertise);
    else
        snprintf(address, sizeof address, "%s:%d", srv->cfg->host, srv->port);
    json_t *doc = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:i,s:s,s:I,s:{s:I,s:I},s:{},s:I,s:f,s:f,s:I,s:I,s:I,s:b}", "v",
        CONTROL_VERSION, "type", "heartbeat", "id", cluster_uid(ctl->cluster), "tag", srv->tag,
        "address", address, "pid", (int)getpid(), "version", CHATCLUSTER_VERSION, "started",
        (json_int_t)srv->started_epoch_ms, "connections", "polling", (json_int_t)polling,
        "websocket", (json_int_t)websocket, "sockets", "rooms", (json_int_t)rooms,
        "events_in_per_s", ctl->events_in_per_s, "events_out_per_s", ctl->events_out_per_s,
        "bytes_in", (json_int_t)eio_server_bytes_in(server_eio(srv)), "bytes_out",
        (json_int_t)eio_server_bytes_out(server_eio(srv)), "rss", (json_int_t)rss_bytes(),
        "draining", drain_active(ctl->drain));
    sio_foreach_nsp(ctl->sio, count_nsp, doc);
    sbuf_t bus = SBUF_INIT;
    cluster_health(ctl->cluster, &bus); /* ,"bus":{...} */
    json_t *b = bus.len > 7 ? json_loadb(bus.data + 7, bus.len - 7, 0, NULL) : NULL;
    if (b) json_object_set_new(doc, "bus", b);
    sbuf_free(&bus);
    char *text = json_dumps(doc, JSON_COMPACT);
    sbuf_append_str(json, text);
    free(text);
    json_decref(doc);
}

static void ignore_reply(void *ud, int status, const struct redisReply *r)
{
    (void)ud;
    (void)status;
    (void)r;
}

static void on_heartbeat(uv_timer_t *t)
{
    control_t *ctl = t->data;
    server_t *srv = ctl->srv;
    uint64_t now = uv_now(srv->loop);
    if (ctl->last_ms && now > ctl->last_ms) {
        double secs = (double)(now - ctl->last_ms) / 1000.0;
        ctl->events_in_per_s =
            (double)(sio_server_events_in(ctl->sio) - ctl->last_events_in) / secs;
        ctl->events_out_per_s =
            (double)(sio_server_events_out(ctl->sio) - ctl->last_events_out) / secs;
    }
    ctl->last_ms = now;
    ctl->last_events_in = sio_server_events_in(ctl->sio);
    ctl->last_events_out = sio_server_events_out(ctl->sio);

    sbuf_t hb = SBUF_INIT, ch = SBUF_INIT, key = SBUF_INIT;
    control_heartbeat_json(ctl, &hb);
    sbuf_printf(&ch, "%s:heartbeat", prefix(ctl));
    cluster_publish(ctl->cluster, ch.data, ch.len, hb.data, hb.len);
    /* the registry entry outlives a few missed heartbeats, then goes by itself */
    sbuf_printf(&key, "%s:node:%s", prefix(ctl), cluster_uid(ctl->cluster));
    char ttl[24];
    long long secs = srv->cfg->heartbeat_interval * 10 / 1000;
    snprintf(ttl, sizeof ttl, "%lld", secs < 5 ? 5 : secs);
    const char *argv[] = {"SET", key.data, hb.data, "EX", ttl};
    size_t lens[] = {3, key.len, hb.len, 2, strlen(ttl)};
    cluster_command(ctl->cluster, 5, argv, lens, ignore_reply, NULL);
    sbuf_free(&hb);
    sbuf_free(&ch);
    sbuf_free(&key);
}

static void set_draining(control_t *ctl, int on)
{
    drain_set(ctl->drain, on);
    on_heartbeat(&ctl->heartbeat); /* tell the cluster at once */
}

control_cmd_t control_command_parse(const char *payload, size_t len, json_t **id)
{
    json_t *cmd = json_loadb(payload, len, 0, NULL);
    const char *type = json_string_value(json_object_get(cmd, "type"));
    control_cmd_t what = CONTROL_CMD_UNKNOWN;
    if (type && strcmp(type, "drain") == 0)
        what = CONTROL_CMD_DRAIN;
    else if (type && strcmp(type, "undrain") == 0)
        what = CONTROL_CMD_UNDRAIN;
    *id = json_incref(json_object_get(cmd, "id"));
    json_decref(cmd);
    return what;
}

int control_reply_text(const json_t *id, const char *node, int ok, int draining, sbuf_t *out)
{
    json_t *reply = json_pack("{s:i,s:s,s:O?,s:s,s:b,s:b}", "v", CONTROL_VERSION, "type", "reply",
                              "id", (json_t *)id, "node", node, "ok", ok, "draining", draining);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    if (!text) return -1;
    sbuf_append_str(out, text);
    free(text);
    return 0;
}

/* A command on <P>:command:<id> or <P>:command:all; answered on <P>:reply. */
static void on_command(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    control_t *ctl = ud;
    json_t *id;
    control_cmd_t cmd = control_command_parse(payload, plen, &id);
    if (cmd != CONTROL_CMD_UNKNOWN) set_draining(ctl, cmd == CONTROL_CMD_DRAIN);
    sbuf_t text = SBUF_INIT, ch = SBUF_INIT;
    if (control_reply_text(id, cluster_uid(ctl->cluster), cmd != CONTROL_CMD_UNKNOWN,
                           drain_active(ctl->drain), &text) == 0) {
        sbuf_printf(&ch, "%s:reply", prefix(ctl));
        cluster_publish(ctl->cluster, ch.data, ch.len, text.data, text.len);
    }
    sbuf_free(&ch);
    sbuf_free(&text);
    json_decref(id);
}

int control_start(control_t **out, server_t *srv, sio_server_t *sio, cluster_t *c, drain_t *drain)
{
    control_t *ctl = xcalloc(1, sizeof *ctl);
    ctl->srv = srv;
    ctl->sio = sio;
    ctl->cluster = c;
    ctl->drain = drain;
    uv_timer_init(srv->loop, &ctl->heartbeat);
    ctl->heartbeat.data = ctl;
    uv_timer_start(&ctl->heartbeat, on_heartbeat, 0, (uint64_t)srv->cfg->heartbeat_interval);
    sbuf_t ch = SBUF_INIT;
    sbuf_printf(&ch, "%s:command:%s", prefix(ctl), cluster_uid(c));
    cluster_listen(c, ch.data, ch.len, on_command, ctl);
    sbuf_reset(&ch);
    sbuf_printf(&ch, "%s:command:all", prefix(ctl));
    cluster_listen(c, ch.data, ch.len, on_command, ctl);
    sbuf_free(&ch);
    *out = ctl;
    return 0;
}

static void closed(uv_handle_t *h)
{
    free(h->data);
}

void control_stop(control_t *ctl)
{
    if (!ctl) return;
    uv_close((uv_handle_t *)&ctl->heartbeat, closed);
}
