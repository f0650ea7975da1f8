#include "metrics.h"

#include "prom_text.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

long long metrics_rss_bytes(void)
{
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* The standard process_* families every exporter has. */
static void process_metrics(const server_t *srv, sbuf_t *out)
{
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    prom_family(out, "process_cpu_seconds_total", "counter",
                "User and system CPU time spent, in seconds.");
    sbuf_printf(out, "process_cpu_seconds_total %.3f\n", cpu);
    prom_single(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                (uint64_t)metrics_rss_bytes());
    prom_family(out, "process_start_time_seconds", "gauge",
                "Start time of the process since the Unix epoch, in seconds.");
    sbuf_printf(out, "process_start_time_seconds %.3f\n", (double)srv->started_epoch_ms / 1000.0);
    /* not process_open_fds: counting them walks /proc/self/fd, a stall of the loop that grows
     * with the connections; chatnode_connections says as much */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        prom_single(out, "process_max_fds", "gauge", "The limit on open file descriptors.",
                    (uint64_t)rl.rlim_cur);
    }
}

/* Connections, sessions, refusals, bytes and the memory budget: the transport's figures. */
static void server_metrics(const metrics_src_t *m, sbuf_t *out)
{
    const server_t *srv = m->srv;
    eio_server_t *es = server_eio(srv);
    prom_family(out, "chatnode_info", "gauge",
                "The node: its version, app, tag and cluster id (always 1).");
    sbuf_append_str(out, "chatnode_info{");
    prom_label(out, "version", CHATCLUSTER_VERSION, strlen(CHATCLUSTER_VERSION));
    sbuf_append_char(out, ',');
    prom_label(out, "app", m->app, strlen(m->app));
    sbuf_append_char(out, ',');
    prom_label(out, "tag", srv->tag, strlen(srv->tag));
    sbuf_append_char(out, ',');
    const char *uid = m->cluster ? cluster_uid(m->cluster) : "";
    prom_label(out, "node", uid, strlen(uid));
    sbuf_append_str(out, "} 1\n");
    size_t polling = 0, websocket = 0;
    if (es) eio_count(es, &polling, &websocket);
    prom_family(out, "chatnode_connections", "gauge",
                "Engine.IO sessions open, by their current transport.");
    prom_value1(out, "chatnode_connections", "transport", "polling", polling);
    prom_value1(out, "chatnode_connections", "transport", "websocket", websocket);
    if (!es) return;
    prom_single(out, "chatnode_sessions_opened_total", "counter",
                "Engine.IO sessions opened (handshakes accepted).", eio_server_sessions_opened(es));
    prom_family(out, "chatnode_refusals_total", "counter",
                "Engine.IO requests and WebSocket upgrades refused, by reason.");
    for (int r = 0; r < EIO_REFUSE_COUNT; r++)
        prom_value1(out, "chatnode_refusals_total", "reason", eio_refuse_name((eio_refuse_t)r),
                    eio_server_refusals(es, (eio_refuse_t)r));
    prom_single(out, "chatnode_draining", "gauge",
                "1 while the node refuses new sessions (draining), else 0.",
                eio_server_draining(es) != 0);
    prom_single(out, "chatnode_received_bytes_total", "counter",
                "Engine.IO payload bytes received from clients, all transports.",
                eio_server_bytes_in(es));
    prom_single(out, "chatnode_sent_bytes_total", "counter",
                "Engine.IO payload bytes sent to clients, all transports.",
                eio_server_bytes_out(es));
    uint64_t frames, writes;
    eio_server_ws_out(es, &frames, &writes);
    prom_single(out, "chatnode_websocket_frames_sent_total", "counter",
                "WebSocket frames sent to clients.", frames);
    prom_single(out, "chatnode_websocket_writes_total", "counter",
                "Socket writes that sent those frames (several frames go in one write).", writes);
    prom_single(out, "chatnode_memory_queued_bytes", "gauge",
                "Bytes held for clients: queued output, messages and bodies being received.",
                mem_budget_queued(&srv->mem));
    prom_single(out, "chatnode_memory_queued_peak_bytes", "gauge",
                "The most bytes held for clients at once since the start.",
                mem_budget_peak(&srv->mem));
    prom_family(out, "chatnode_memory_budget_bytes", "gauge",
                "--max-memory-queued: the bytes held for clients at which the greediest are "
                "dropped.");
    prom_value(out, "chatnode_memory_budget_bytes",
               srv->cfg->max_memory_queued > 0 ? (uint64_t)srv->cfg->max_memory_queued : 0);
    prom_single(out, "chatnode_memory_dropped_total", "counter",
                "Sessions dropped to keep within --max-memory-queued.",
                mem_budget_dropped(&srv->mem));
    prom_single(out, "chatnode_client_addresses", "gauge",
                "Client addresses the per-address limits are tracking.",
                addr_limit_count(&srv->limits));
}

/* One namespace's sample of chatnode_sockets or chatnode_rooms. */
typedef struct {
    sbuf_t *out;
    int rooms;
} nsp_walk_t;

static void nsp_sample(sio_nsp_t *nsp, void *arg)
{
    const nsp_walk_t *w = arg;
    size_t len, sockets, rooms;
    const char *name = sio_nsp_name(nsp, &len);
    sio_nsp_counts(nsp, &sockets, &rooms);
    prom_value1n(w->out, w->rooms ? "chatnode_rooms" : "chatnode_sockets", "namespace", name, len,
                 w->rooms ? rooms : sockets);
}

static void sio_metrics(const sio_server_t *sio, sbuf_t *out)
{
    sio_server_t *mut = (sio_server_t *)sio; /* the walk changes nothing */
    prom_family(out, "chatnode_sockets", "gauge", "Socket.IO sockets connected, by namespace.");
    sio_foreach_nsp(mut, nsp_sample, &(nsp_walk_t){out, 0});
    prom_family(out, "chatnode_rooms", "gauge",
                "Rooms with a member here, by namespace (the sockets' own rooms not counted).");
    sio_foreach_nsp(mut, nsp_sample, &(nsp_walk_t){out, 1});
    sio_connect_stats_t cs;
    sio_server_connects(sio, &cs);
    prom_family(out, "chatnode_connects_total", "counter",
                "Socket.IO CONNECTs to a namespace, by result: admitted, refused for an unknown "
                "namespace, or refused by the app (its sign-in).");
    prom_value1(out, "chatnode_connects_total", "result", "admitted", cs.admitted);
    prom_value1(out, "chatnode_connects_total", "result", "bad_namespace", cs.bad_namespace);
    prom_value1(out, "chatnode_connects_total", "result", "refused", cs.refused);
    prom_single(out, "chatnode_events_received_total", "counter",
                "Socket.IO events received from clients.", sio_server_events_in(sio));
    prom_single(out, "chatnode_packets_sent_total", "counter",
                "Socket.IO packets sent to clients (one per client reached).",
                sio_server_events_out(sio));
    prom_family(out, "chatnode_event_handling_seconds", "histogram",
                "Time the app took to handle an event received (what it does at once; work it "
                "waits for, such as a Redis write, is not in it).");
    prom_hist_write(out, "chatnode_event_handling_seconds", sio_server_event_handling(sio));

    sio_rec_stats_t rs;
    sio_recovery_stats(sio, &rs);
    if (!rs.on) return;
    prom_single(out, "chatnode_recovery_sessions_kept", "gauge",
                "Sessions kept for their clients to come back.", rs.kept);
    prom_single(out, "chatnode_recovery_log_packets", "gauge",
                "Packets in the recovery log kept in memory (0 when Redis keeps it).",
                rs.log_packets);
    prom_single(out, "chatnode_recovery_kept_total", "counter",
                "Sessions kept after their connection went.", rs.kept_total);
    prom_single(out, "chatnode_recovery_restores_total", "counter",
                "Sessions given back to reconnecting clients.", rs.restored);
    prom_single(out, "chatnode_recovery_expired_total", "counter",
                "Kept sessions whose client did not come back in time.", rs.expired);
    prom_single(out, "chatnode_recovery_ended_total", "counter",
                "Kept sessions ended for good (their client left, or a restore of them failed).",
                rs.ended);
    prom_single(out, "chatnode_recovery_moved_total", "counter",
                "Sessions resumed on another node.", rs.moved);
    prom_family(out, "chatnode_recovery_failures_total", "counter",
                "Reconnecting clients that got a new session instead, by reason.");
    for (int i = 0; i < SIO_REC_FAIL_COUNT; i++)
        prom_value1(out, "chatnode_recovery_failures_total", "reason",
                    sio_rec_fail_name((sio_rec_fail_t)i), rs.failed[i]);
}

static void state_samples(sbuf_t *out, const char *conn, bus_state_t state)
{
    static const bus_state_t all[] = {BUS_DISCONNECTED, BUS_CONNECTING, BUS_CONNECTED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sbuf_printf(out, "chatnode_redis_state{connection=\"%s\",state=\"%s\"} %d\n", conn,
                    bus_state_name(all[i]), all[i] == state);
}

static void cluster_metrics(const cluster_t *c, sbuf_t *out)
{
    cluster_stats_t st;
    cluster_stats(c, &st);
    prom_family(out, "chatnode_redis_state", "gauge",
                "State of each Redis connection (1 for the current one).");
    state_samples(out, "command", st.bus.cmd.state);
    state_samples(out, "subscriber", st.bus.sub.state);
    prom_single(out, "chatnode_redis_reconnects_total", "counter",
                "Redis connections re-established after a loss.", st.bus.reconnects);
    prom_single(out, "chatnode_redis_published_total", "counter",
                "Messages published to the cluster (PUBLISH and SPUBLISH written).",
                st.bus.published);
    prom_single(out, "chatnode_redis_received_total", "counter",
                "Messages received from the cluster's channels.", st.bus.received);
    prom_single(out, "chatnode_redis_queued", "gauge",
                "Publishes waiting for the Redis connection.", st.bus.queued);
    prom_single(out, "chatnode_redis_queued_bytes", "gauge", "The bytes of those publishes.",
                st.bus.queued_bytes);
    prom_single(out, "chatnode_redis_dropped_total", "counter",
                "Publishes dropped: the queue was full or Redis unreachable for too long.",
                st.bus.dropped);
    prom_single(out, "chatnode_redis_lost_total", "counter",
                "Publishes written whose connection broke before Redis answered.", st.bus.lost);
    prom_single(out, "chatnode_redis_failovers_total", "counter",
                "New primaries (announced by the sentinels, or in a cluster's slot map).",
                st.bus.failovers);
    prom_family(out, "chatnode_redis_redirects_total", "counter",
                "Commands sent again to the node a MOVED or ASK named (Redis Cluster).");
    prom_value1(out, "chatnode_redis_redirects_total", "kind", "moved", st.bus.moved);
    prom_value1(out, "chatnode_redis_redirects_total", "kind", "ask", st.bus.asked);
    prom_family(out, "chatnode_cluster_broadcasts_total", "counter",
                "Broadcasts this node published to the cluster (out) and heard from it (in).");
    prom_value1(out, "chatnode_cluster_broadcasts_total", "direction", "out", st.broadcasts_out);
    prom_value1(out, "chatnode_cluster_broadcasts_total", "direction", "in", st.broadcasts_in);
    prom_single(out, "chatnode_cluster_requests_total", "counter",
                "Requests from other servers of the cluster this node answered.", st.requests_in);
}

void metrics_write(const metrics_src_t *m, sbuf_t *out)
{
    process_metrics(m->srv, out);
    server_metrics(m, out);
    if (m->sio) sio_metrics(m->sio, out);
    if (m->cluster) cluster_metrics(m->cluster, out);
}
