/* Heartbeats, the registry entry and drain commands (see control.h). */
#include "control.h"
#include "alloc.h"
#include "app.h"
#include "control_msg.h"
#include "eio_session.h"
#include "log.h"
#include "metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void count_nsp(sio_nsp_t *nsp, void *arg)
{
    size_t len, sockets, rooms;
    const char *name = sio_nsp_name(nsp, &len);
    sio_nsp_counts(nsp, &sockets, &rooms);
    json_object_set_new(arg, name, json_integer((json_int_t)sockets));
}

/* The heartbeat's rooms: named ones and the sockets' own, as Node's adapter counts them. */
static void count_rooms(sio_nsp_t *nsp, void *arg)
{
    size_t sockets, rooms;
    sio_nsp_counts(nsp, &sockets, &rooms);
    *(size_t *)arg += sockets + rooms;
}

/* The chat limits this node announces in its heartbeats: 1 with *out set when its app keeps
 * chat history, else 0. */
static int chat_limits(const control_t *ctl, chat_store_limits_t *out)
{
    const app_module_t *app = ctl->sio ? sio_server_app(ctl->sio) : NULL;
    return app && app->store_limits && app->store_limits(sio_server_app_state(ctl->sio), out);
}

void control_heartbeat_json(control_t *ctl, sbuf_t *json)
{
    server_t *srv = ctl->srv;
    size_t polling, websocket, rooms = 0;
    eio_count(server_eio(srv), &polling, &websocket);
    uint64_t ws_frames, ws_writes;
    eio_server_ws_out(server_eio(srv), &ws_frames, &ws_writes);
    sio_foreach_nsp(ctl->sio, count_rooms, &rooms);
    char address[300];
    if (srv->cfg->advertise && *srv->cfg->advertise)
        snprintf(address, sizeof address, "%s", srv->cfg->advertise);
    else
        snprintf(address, sizeof address, "%s:%d", srv->cfg->host, srv->port);
    json_t *sockets = json_object();
    sio_foreach_nsp(ctl->sio, count_nsp, sockets);
    sbuf_t bus = SBUF_INIT;
    cluster_health(ctl->cluster, &bus); /* ,"bus":{...} */
    json_t *b = bus.len > 7 ? json_loadb(bus.data + 7, bus.len - 7, 0, NULL) : NULL;
    sbuf_free(&bus);
    sbuf_t rec = SBUF_INIT;
    sio_recovery_health(ctl->sio, &rec); /* ,"recovery":{...} */
    json_t *r = rec.len > 12 ? json_loadb(rec.data + 12, rec.len - 12, 0, NULL) : NULL;
    sbuf_free(&rec);
    chat_store_limits_t chat;
    control_msg_heartbeat_t hb = {
        .id = cluster_uid(ctl->cluster),
        .tag = srv->tag,
        .address = address,
        .version = CHATCLUSTER_VERSION,
        .pid = (long long)getpid(),
        .started = (long long)srv->started_epoch_ms,
        .polling = polling,
        .websocket = websocket,
        .sockets = sockets,
        .rooms = rooms,
        .events_in_per_s = ctl->events_in_per_s,
        .events_out_per_s = ctl->events_out_per_s,
        .bytes_in = (unsigned long long)eio_server_bytes_in(server_eio(srv)),
        .bytes_out = (unsigned long long)eio_server_bytes_out(server_eio(srv)),
        .ws_frames_out = (unsigned long long)ws_frames,
        .ws_writes = (unsigned long long)ws_writes,
        .rss = metrics_rss_bytes(),
        .draining = drain_active(ctl->drain),
        .bus = b,
        .recovery = r,
        .chat = chat_limits(ctl, &chat) ? &chat : NULL,
    };
    if (control_msg_heartbeat_text(&hb, json) < 0)
        log_warn("heartbeat not encoded", "detail=\"a string of it is not UTF-8\"");
    json_decref(sockets);
    json_decref(b);
    json_decref(r);
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
    if (hb.len == 0) goto out;
    control_msg_heartbeat_channel(&ch, prefix(ctl));
    cluster_publish(ctl->cluster, ch.data, ch.len, hb.data, hb.len);
    /* the registry entry outlives a few missed heartbeats, then goes by itself */
    control_msg_node_key(&key, prefix(ctl), cluster_uid(ctl->cluster));
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", control_msg_node_ttl(srv->cfg->heartbeat_interval));
    const char *argv[] = {"SET", key.data, hb.data, "EX", ttl};
    size_t lens[] = {3, key.len, hb.len, 2, strlen(ttl)};
    cluster_command_key(ctl->cluster, key.data, key.len, 5, argv, lens, ignore_reply, NULL);
out:
    sbuf_free(&hb);
    sbuf_free(&ch);
    sbuf_free(&key);
}

static void set_draining(control_t *ctl, int on)
{
    drain_set(ctl->drain, on);
    on_heartbeat(&ctl->heartbeat); /* tell the cluster at once */
}

/* A command on <P>:command:<id> or <P>:command:all; answered on <P>:reply. */
static void on_command(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    control_t *ctl = ud;
    json_t *id;
    control_msg_cmd_t cmd = control_msg_command_parse(payload, plen, &id);
    if (cmd != CONTROL_MSG_CMD_UNKNOWN) set_draining(ctl, cmd == CONTROL_MSG_CMD_DRAIN);
    sbuf_t text = SBUF_INIT, ch = SBUF_INIT;
    if (control_msg_reply_text(id, cluster_uid(ctl->cluster), cmd != CONTROL_MSG_CMD_UNKNOWN,
                               drain_active(ctl->drain), &text) == 0) {
        control_msg_reply_channel(&ch, prefix(ctl));
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
    control_msg_command_channel(&ch, prefix(ctl), cluster_uid(c));
    cluster_listen(c, ch.data, ch.len, on_command, ctl);
    control_msg_command_channel(&ch, prefix(ctl), NULL);
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
