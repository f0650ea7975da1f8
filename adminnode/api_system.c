/* The endpoints about adminnode itself: GET /healthz, GET /metrics, GET /api/v1/openapi.json;
 * and the helpers every handler shares about the Redis connection. */
#include "api.h"
#include "alloc.h"
#include "prom_text.h"
#include "sbuf.h"
#include "webhooks.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

const char *api_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case API_EINVAL: return "invalid argument";
    case API_EENCODE: return "cannot be encoded";
    case API_ENOBUS: return "Redis is not available";
    }
    return "unknown error";
}

const char *api_redis_state(const adminnode_t *an)
{
    if (!an->bus) return "none";
    /* both connections: the subscriber carries the answers to cluster-wide requests (on a
     * cluster, its subscriptions are all in place only then) */
    return bus_state(an->bus, BUS_CONN_CMD) == BUS_CONNECTED &&
                   bus_state(an->bus, BUS_CONN_SUB) == BUS_CONNECTED
               ? "connected"
               : "disconnected";
}

bus_t *api_need_bus(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    if (!an->bus) {
        api_respond_error(req, 503, "unavailable", "no Redis is configured (--redis)");
        return NULL;
    }
    if (bus_state(an->bus, BUS_CONN_CMD) != BUS_CONNECTED) {
        api_respond_error(req, 503, "unavailable", "Redis is not reachable");
        return NULL;
    }
    return an->bus;
}

static json_t *health_doc(const adminnode_t *an, const char *redis)
{
    return json_pack("{s:s,s:s,s:I}", "status", "ok", "redis", redis, "uptime_s",
                     (json_int_t)((uv_now(an->loop) - an->started_ms) / 1000));
}

typedef struct {
    api_request_t *req;
    uint64_t sent;
} ping_t;

static void on_pong(void *ud, int status, const struct redisReply *reply)
{
    ping_t *p = ud;
    adminnode_t *an = api_app(p->req);
    int ok = status == 0 && reply && reply->type == REDIS_REPLY_STATUS;
    json_t *doc = health_doc(an, ok ? "connected" : "disconnected");
    if (ok)
        json_object_set_new(doc, "redis_latency_ms",
                            json_integer((json_int_t)(uv_now(an->loop) - p->sent)));
    api_respond_json(p->req, 200, doc);
    api_request_unref(p->req);
    free(p);
}

static void on_ping_timeout(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    json_t *doc = health_doc(an, "disconnected");
    json_object_set_new(doc, "redis_error", json_string("PING timed out"));
    api_respond_json(req, 200, doc);
}

void api_healthz(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    const char *state = api_redis_state(an);
    if (strcmp(state, "connected") != 0) {
        api_respond_json(req, 200, health_doc(an, state));
        return;
    }
    /* Connected as far as the socket knows: a PING shows Redis really answers. */
    ping_t *p = xmalloc(sizeof *p);
    p->req = req;
    p->sent = uv_now(an->loop);
    static const char *const argv[] = {"PING"};
    static const size_t lens[] = {4};
    api_defer(req, on_ping_timeout);
    if (bus_command(an->bus, 1, argv, lens, on_pong, p) < 0) on_pong(p, BUS_ENOTCONN, NULL);
}

/* A counter or gauge of the "recovery" object of a heartbeat (0 when absent). */
static unsigned long long rec_num(json_t *rec, const char *key, const char *sub)
{
    json_t *v = json_object_get(rec, key);
    if (sub) v = json_object_get(v, sub);
    return json_is_integer(v) && json_integer_value(v) > 0
               ? (unsigned long long)json_integer_value(v)
               : 0;
}

/* A family of one figure of each live chatnode's heartbeat "recovery" object, by node. */
static void per_node(sbuf_t *out, const reg_node_t **nodes, size_t n, const char *name,
                     const char *type, const char *help, const char *key)
{
    prom_family(out, name, type, help);
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_object_get(nodes[i]->hb, "recovery");
        if (nodes[i]->state == REG_DOWN || !rec) continue;
        prom_value1(out, name, "node", nodes[i]->id, rec_num(rec, key, NULL));
    }
}

/* Connection-state recovery on each chatnode that is up or draining, from its heartbeat. */
static void recovery_metrics(const reg_t *reg, sbuf_t *out)
{
    static const char *const reasons[] = {"unknown", "owner",    "offset",
                                          "trimmed", "too_many", "unavailable"};
    size_t n;
    const reg_node_t **nodes = reg_sorted(reg, &n);
    per_node(out, nodes, n, "chatcluster_recovery_sessions_kept", "gauge",
             "Sessions a chatnode keeps for their clients to come back.", "kept");
    per_node(out, nodes, n, "chatcluster_recovery_restores_total", "counter",
             "Sessions a chatnode gave back to reconnecting clients.", "restored");
    prom_family(out, "chatcluster_recovery_failures_total", "counter",
                "Reconnecting clients that got a new session instead, by reason.");
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_object_get(nodes[i]->hb, "recovery");
        if (nodes[i]->state == REG_DOWN || !rec) continue;
        for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++) {
            sbuf_append_str(out, "chatcluster_recovery_failures_total{");
            prom_label(out, "node", nodes[i]->id, strlen(nodes[i]->id));
            sbuf_printf(out, ",reason=\"%s\"} %llu\n", reasons[k],
                        rec_num(rec, "failed", reasons[k]));
        }
    }
    free((void *)nodes);
}

void api_metrics(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    sbuf_t out = SBUF_INIT;
    http_metrics(an->http, &out);
    prom_single(&out, "adminnode_uptime_seconds", "gauge", "Seconds since adminnode started.",
                (uv_now(an->loop) - an->started_ms) / 1000);
    const char *state = api_redis_state(an);
    prom_family(&out, "adminnode_redis_state", "gauge",
                "State of the Redis connection (1 for the current one).");
    static const char *const states[] = {"none", "disconnected", "connected"};
    for (size_t i = 0; i < 3; i++)
        sbuf_printf(&out, "adminnode_redis_state{state=\"%s\"} %d\n", states[i],
                    strcmp(states[i], state) == 0);
    if (an->registry) {
        const reg_t *reg = registry_nodes(an->registry);
        prom_family(&out, "adminnode_nodes", "gauge", "Chatnodes in the registry, by state.");
        for (int s = 0; s < REG_NSTATES; s++)
            sbuf_printf(&out, "adminnode_nodes{state=\"%s\"} %zu\n", reg_state_name((reg_state_t)s),
                        reg_count(reg, (reg_state_t)s));
        recovery_metrics(reg, &out);
    }
    if (an->bus) {
        bus_stats_t st;
        bus_stats(an->bus, &st);
        prom_single(&out, "adminnode_redis_reconnects_total", "counter",
                    "Redis connections re-established after a loss.", st.reconnects);
        prom_single(&out, "adminnode_redis_published_total", "counter",
                    "PUBLISH commands sent to Redis.", st.published);
        prom_single(&out, "adminnode_redis_dropped_total", "counter",
                    "Publishes dropped while Redis was unreachable.", st.dropped);
        const redis_url_t *u = bus_url(an->bus);
        prom_family(&out, "adminnode_redis_topology", "gauge",
                    "The Redis deployment of --redis (1 for the one in use).");
        sbuf_printf(&out, "adminnode_redis_topology{topology=\"%s\"} 1\n",
                    redis_url_kind_name(u->kind));
        if (u->kind == REDIS_URL_SENTINEL) {
            prom_single(&out, "adminnode_redis_failovers_total", "counter",
                        "New primaries announced by the sentinels.", st.failovers);
            prom_single(&out, "adminnode_redis_role_refusals_total", "counter",
                        "Connections dropped because the server a sentinel named was not the "
                        "primary.",
                        st.role_refusals);
        }
        if (u->kind == REDIS_URL_CLUSTER || an->sharded) {
            prom_family(&out, "adminnode_redis_primary", "gauge",
                        "The primaries of the slot map (1 each).");
            for (size_t i = 0; i < bus_shards(an->bus); i++) {
                const char *addr = bus_shard_addr(an->bus, i);
                if (addr) prom_value1(&out, "adminnode_redis_primary", "addr", addr, 1);
            }
            prom_family(&out, "adminnode_redis_redirects_total", "counter",
                        "Commands sent again to the node a MOVED or ASK named.");
            sbuf_printf(&out,
                        "adminnode_redis_redirects_total{kind=\"moved\"} %llu\n"
                        "adminnode_redis_redirects_total{kind=\"ask\"} %llu\n",
                        (unsigned long long)st.moved, (unsigned long long)st.asked);
            prom_single(&out, "adminnode_redis_retries_total", "counter",
                        "Commands sent again after TRYAGAIN, CLUSTERDOWN and the like.",
                        st.retried);
            prom_single(&out, "adminnode_redis_map_refreshes_total", "counter",
                        "Slot maps read from the cluster.", st.map_refreshes);
            prom_single(&out, "adminnode_redis_failovers_total", "counter",
                        "Primaries replaced in the slot map.", st.failovers);
        }
    }
    webhooks_metrics(an->webhooks, &out);
    size_t len;
    char *text = sbuf_steal(&out, &len);
    api_respond(req, 200, PROM_CONTENT_TYPE, text, len);
}

void api_openapi(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    api_respond(req, 200, "application/json", xmemdup(an->openapi, an->openapi_len),
                an->openapi_len);
}
