/* The route table of adminnode: every endpoint, its scope and its OpenAPI description. The
 * API document (GET /api/v1/openapi.json) is generated from this table (openapi.c). */
#include "api.h"

#define ERROR_SCHEMA "{\"$ref\":\"#/components/schemas/Error\"}"

static const char healthz_schema[] =
    "{\"type\":\"object\",\"required\":[\"status\",\"redis\",\"uptime_s\"],\"properties\":{"
    "\"status\":{\"type\":\"string\",\"enum\":[\"ok\"]},"
    "\"redis\":{\"type\":\"string\",\"enum\":[\"connected\",\"disconnected\",\"none\"]},"
    "\"redis_latency_ms\":{\"type\":\"integer\",\"description\":\"round trip of a PING, when "
    "connected\"},"
    "\"uptime_s\":{\"type\":\"integer\"}}}";

static const char emit_schema[] =
    "{\"type\":\"object\",\"required\":[\"event\",\"args\"],\"additionalProperties\":false,"
    "\"properties\":{"
    "\"namespace\":{\"type\":\"string\",\"pattern\":\"^/\",\"default\":\"/\"},"
    "\"event\":{\"type\":\"string\",\"minLength\":1},"
    "\"args\":{\"type\":\"array\",\"description\":\"the event's arguments\"},"
    "\"rooms\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1},"
    "\"description\":\"only sockets in one of these rooms (default: all)\"},"
    "\"except\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1},"
    "\"description\":\"not sockets in any of these rooms\"},"
    "\"volatile\":{\"type\":\"boolean\",\"default\":false}}}";

/* A node as the registry knows it: its last heartbeat's figures, and its state. */
#define NODE_SCHEMA                                                                                \
    "{\"type\":\"object\",\"required\":[\"id\",\"state\",\"last_seen\",\"draining\"],"             \
    "\"properties\":{"                                                                             \
    "\"id\":{\"type\":\"string\",\"description\":\"the node's uid on the bus (6 characters)\"},"   \
    "\"tag\":{\"type\":\"string\",\"description\":\"prefix of its Engine.IO session ids\"},"       \
    "\"address\":{\"type\":\"string\",\"description\":\"host:port it announces\"},"                \
    "\"state\":{\"type\":\"string\",\"enum\":[\"up\",\"draining\",\"down\"],\"description\":"      \
    "\"down after 3 heartbeat intervals without a heartbeat; forgotten --forget-after "            \
    "later\"},"                                                                                    \
    "\"last_seen\":{\"type\":\"integer\",\"description\":\"ms since the epoch of its last "        \
    "heartbeat\"},"                                                                                \
    "\"pid\":{\"type\":\"integer\"},"                                                              \
    "\"version\":{\"type\":\"string\"},"                                                           \
    "\"started\":{\"type\":\"integer\",\"description\":\"ms since the epoch\"},"                   \
    "\"connections\":{\"type\":\"object\",\"properties\":{\"polling\":{\"type\":\"integer\"},"     \
    "\"websocket\":{\"type\":\"integer\"}}},"                                                      \
    "\"sockets\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"},"            \
    "\"description\":\"sockets per namespace\"},"                                                  \
    "\"rooms\":{\"type\":\"integer\"},"                                                            \
    "\"events_in_per_s\":{\"type\":\"number\"},"                                                   \
    "\"events_out_per_s\":{\"type\":\"number\"},"                                                  \
    "\"bytes_in\":{\"type\":\"integer\"},"                                                         \
    "\"bytes_out\":{\"type\":\"integer\"},"                                                        \
    "\"ws_frames_out\":{\"type\":\"integer\",\"description\":\"WebSocket frames sent\"},"          \
    "\"ws_writes\":{\"type\":\"integer\",\"description\":\"writes that sent them\"},"              \
    "\"rss\":{\"type\":\"integer\",\"description\":\"resident set size, bytes\"},"                 \
    "\"draining\":{\"type\":\"boolean\"}}}"

static const char nodes_schema[] =
    "{\"type\":\"object\",\"required\":[\"nodes\"],\"properties\":{\"nodes\":{\"type\":"
    "\"array\",\"description\":\"sorted by id\",\"items\":" NODE_SCHEMA "}}}";

static const char command_schema[] =
    "{\"type\":\"object\",\"required\":[\"ok\",\"node\",\"draining\"],\"properties\":{"
    "\"ok\":{\"type\":\"boolean\",\"enum\":[true]},"
    "\"node\":{\"type\":\"string\"},"
    "\"draining\":{\"type\":\"boolean\",\"description\":\"the node's state after the "
    "command\"}}}";

#define NODE_ID_PARAM                                                                              \
    {                                                                                              \
        .name = "id", .in = "path", .required = 1,                                                 \
        .schema = "{\"type\":\"string\",\"minLength\":1,\"maxLength\":64}",                        \
        .description = "the node's id (GET /api/v1/nodes): printable ASCII, no spaces",            \
        .check = api_check_node_id                                                                 \
    }

const api_route_t api_routes[] = {
    {
        .method = "GET",
        .pattern = "/healthz",
        .scope = API_SCOPE_NONE,
        .handler = api_healthz,
        .operation_id = "getHealth",
        .tag = "system",
        .summary = "Liveness and the state of the Redis connection",
        .description = "No key needed. With Redis connected, the answer waits for a PING.",
        .responses = {{200, "adminnode is up", healthz_schema}},
    },
    {
        .method = "GET",
        .pattern = "/metrics",
        .scope = API_SCOPE_NONE,
        .handler = api_metrics,
        .flags = API_ROUTE_TEXT,
        .operation_id = "getMetrics",
        .tag = "system",
        .summary = "Prometheus metrics (text exposition format 0.0.4)",
        .responses = {{200, "requests by route and status, uptime, Redis state",
                       "{\"type\":\"string\"}"}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/openapi.json",
        .scope = API_SCOPE_NONE,
        .handler = api_openapi,
        .operation_id = "getOpenApi",
        .tag = "system",
        .summary = "This document (OpenAPI 3)",
        .responses = {{200, "the OpenAPI document", "{\"type\":\"object\"}"}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/emit",
        .scope = API_SCOPE_ADMIN,
        .handler = api_emit,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "emit",
        .tag = "messages",
        .summary = "Emit an event to every socket of a namespace, or to some rooms",
        .description = "Delivered through Redis to every node of the cluster, as "
                       "@socket.io/redis-emitter does.",
        .request_schema = emit_schema,
        .responses = {{202, "accepted for delivery",
                       "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}"}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/nodes",
        .scope = API_SCOPE_READ,
        .handler = api_nodes_list,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listNodes",
        .tag = "nodes",
        .summary = "The cluster's chatnodes, with their state and figures",
        .description = "From the nodes' heartbeats on Redis. A node is up, draining, or down "
                       "once 3 heartbeat intervals passed without one; a down node is listed "
                       "for --forget-after, then forgotten. Right after adminnode starts, the "
                       "answer waits until the registry is loaded from Redis.",
        .responses = {{200, "the nodes, sorted by id", nodes_schema}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/nodes/{id}",
        .scope = API_SCOPE_READ,
        .handler = api_node_get,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "getNode",
        .tag = "nodes",
        .summary = "One chatnode",
        .params = {NODE_ID_PARAM},
        .responses = {{200, "the node", NODE_SCHEMA}, {404, "no node of that id", NULL}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/nodes/{id}/drain",
        .scope = API_SCOPE_ADMIN,
        .handler = api_node_drain,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "drainNode",
        .tag = "nodes",
        .summary = "Drain a chatnode: it refuses new sessions and closes the open ones",
        .description = "Sent on the node's command channel; the answer comes when the node "
                       "confirms. Its clients are closed in batches with a transport close, so "
                       "socket.io-client reconnects (elsewhere behind a balancer).",
        .params = {NODE_ID_PARAM},
        .responses = {{200, "the node is draining", command_schema},
                      {404, "no node of that id", NULL},
                      {502, "the node refused the command", NULL},
                      {504, "the node did not answer within --requests-timeout", NULL}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/nodes/{id}/undrain",
        .scope = API_SCOPE_ADMIN,
        .handler = api_node_undrain,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "undrainNode",
        .tag = "nodes",
        .summary = "Stop draining a chatnode: it accepts new sessions again",
        .params = {NODE_ID_PARAM},
        .responses = {{200, "the node is no longer draining", command_schema},
                      {404, "no node of that id", NULL},
                      {502, "the node refused the command", NULL},
                      {504, "the node did not answer within --requests-timeout", NULL}},
    },
};

const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
