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
};

const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
