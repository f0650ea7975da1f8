/* The nodes endpoints: GET /api/v1/nodes and /api/v1/nodes/{id} from the registry, and
 * POST /api/v1/nodes/{id}/drain and /undrain, published on P:command:<id> and answered when
 * the node's reply comes on P:reply. A request that comes before the registry's first load
 * from Redis waits for it (api_nodes_ready), so a restarted adminnode answers with the whole
 * cluster. */
#include "api.h"
#include "control_msg.h"
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long the last recorded state of a node is kept: a node up longer than this may have a
 * second node_up recorded when an adminnode starts. */
#define NODE_STATE_TTL_S (7 * 86400)

void api_nodes_start(adminnode_t *an)
{
    const adminnode_config_t *cfg = an->cfg;
    if (an->bus) {
        /* this adminnode's id as the recorder of its events: random, like a chatnode's uid */
        unsigned char rnd[8] = {0};
        if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) < 0) {
            uint64_t h = uv_hrtime();
            memcpy(rnd, &h, sizeof rnd);
        }
        char id[32] = "adminnode-";
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(id + 10 + 2 * i, sizeof id - 10 - 2 * i, "%02x", rnd[i]);
        node_events_options_t no = {
            .control_prefix = cfg->control_prefix,
            .redis_key = cfg->redis_key,
            .recorder = id,
            .max_len = cfg->events_max_len,
            .state_ttl = NODE_STATE_TTL_S,
        };
        an->node_events = node_events_new(an->bus, &no);
    }
    registry_options_t o = {
        .prefix = cfg->control_prefix,
        .interval_ms = (uint64_t)cfg->heartbeat_interval,
        .forget_after_ms = (uint64_t)cfg->forget_after,
        .on_change = an->node_events ? node_events_changed : NULL,
        .ud = an->node_events,
    };
    an->registry = registry_new(an->loop, an->bus, &o);
    if (!an->bus) return;
    sbuf_t ch = SBUF_INIT;
    control_msg_heartbeat_channel(&ch, cfg->control_prefix);
    listen_on(an, ch.data, registry_on_heartbeat, an->registry);
    control_msg_reply_channel(&ch, cfg->control_prefix);
    listen_on(an, ch.data, registry_on_reply, an->registry);
    sbuf_free(&ch);
}

void api_nodes_stop(adminnode_t *an)
{
    registry_stop(an->registry);
    an->registry = NULL;
    node_events_free(an->node_events);
    an->node_events = NULL;
}

/* --requests-timeout passed while the request waited on the registry: for its first load, or
 * for a node's reply; or, for a request that waited for the load and then for Redis (a
 * system message), for Redis. */
static void on_timeout(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    size_t waits = registry_cancel(an->registry, req);
    if (!registry_loaded(an->registry)) {
        if (strcmp(api_redis_state(an), "connected") != 0)
            api_respond_error(req, 503, "unavailable", "Redis is not reachable");
        else
            api_respond_error(req, 504, "timeout", "the node registry did not load within %lld ms",
                              an->cfg->requests_timeout);
    } else if (!api_param(req, "id")) {
        api_respond_error(req, 504, "timeout", "the cluster did not answer within %lld ms",
                          an->cfg->requests_timeout);
    } else {
        api_respond_error(req, 504, "timeout", "node %s did not answer within %lld ms",
                          api_param(req, "id"), an->cfg->requests_timeout);
    }
    while (waits--) api_request_unref(req);
}

/* The registry loaded: the request runs its handler again, now with the nodes. */
static void on_loaded(void *ud, int status)
{
    api_request_t *req = ud;
    if (status == 0 && !api_request_done(req)) api_route(req)->handler(req);
    api_request_unref(req);
}

registry_t *api_nodes_ready(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    if (!an->bus) {
        api_need_bus(req);
        return NULL;
    }
    if (!registry_loaded(an->registry)) {
        api_defer(req, on_timeout);
        registry_when_loaded(an->registry, on_loaded, req);
        return NULL;
    }
    return api_need_bus(req) ? an->registry : NULL;
}

static void not_found(api_request_t *req, const char *id)
{
    api_respond_error(req, 404, "not_found", "no node %s in the registry", id);
}

void api_nodes_list(api_request_t *req)
{
    registry_t *reg = api_nodes_ready(req);
    if (!reg) return;
    size_t n;
    const reg_node_t **all = reg_sorted(registry_nodes(reg), &n);
    int64_t offset = registry_epoch_offset(reg);
    json_t *nodes = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(nodes, reg_node_json(all[i], offset));
    free(all);
    api_respond_json(req, 200, json_pack("{s:o}", "nodes", nodes));
}

void api_node_get(api_request_t *req)
{
    registry_t *reg = api_nodes_ready(req);
    if (!reg) return;
    const char *id = api_param(req, "id");
    const reg_node_t *n = reg_get(registry_nodes(reg), id);
    if (!n)
        not_found(req, id);
    else
        api_respond_json(req, 200, reg_node_json(n, registry_epoch_offset(reg)));
}

static void on_reply(void *ud, int status, const control_msg_reply_t *reply)
{
    api_request_t *req = ud;
    if (status == 0) {
        const char *node = reply->node ? reply->node : api_param(req, "id");
        if (reply->ok)
            api_respond_json(
                req, 200,
                json_pack("{s:b,s:s,s:b}", "ok", 1, "node", node, "draining", reply->draining));
        else
            api_respond_error(req, 502, "command_failed", "node %s refused the command", node);
    }
    api_request_unref(req);
}

static void command(api_request_t *req, control_msg_cmd_t cmd)
{
    registry_t *reg = api_nodes_ready(req);
    if (!reg) return;
    const char *id = api_param(req, "id");
    if (!reg_get(registry_nodes(reg), id)) {
        not_found(req, id);
        return;
    }
    api_defer(req, on_timeout);
    int rc = registry_command(reg, id, cmd, on_reply, req);
    if (rc < 0) {
        if (rc == REG_EUNKNOWN)
            not_found(req, id);
        else if (rc == REG_EINVAL)
            api_respond_error(req, 500, "internal", "the command cannot be encoded");
        else
            api_respond_error(req, 503, "unavailable", "Redis is not reachable");
        api_request_unref(req);
    }
}

void api_node_drain(api_request_t *req)
{
    command(req, CONTROL_MSG_CMD_DRAIN);
}

void api_node_undrain(api_request_t *req)
{
    command(req, CONTROL_MSG_CMD_UNDRAIN);
}
