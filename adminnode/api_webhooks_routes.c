/* Routes of the webhook endpoints (api_webhooks.c), with their OpenAPI descriptions. */
#include "api.h"
#include "webhook.h"

#include <stdio.h>

static int check_webhook_id(const char *v, size_t len, char *why, size_t whylen)
{
    if (webhook_id_valid(v, len) == 0) return 0;
    snprintf(why, whylen, "must be 1-%d characters of A-Z a-z 0-9 _ -", WEBHOOK_ID_MAX);
    return -1;
}

#define WEBHOOK_ID_PARAM                                                                           \
    {                                                                                              \
        "id", "path", 1, "{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\"}",            \
            "the endpoint's id", check_webhook_id                                                  \
    }

#define EVENTS_SCHEMA                                                                              \
    "{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\",\"enum\":[\"*\","           \
    "\"user_online\",\"user_offline\",\"member_joined\",\"member_left\",\"room_occupied\","        \
    "\"room_vacated\",\"message\",\"private_message\",\"node_up\",\"node_draining\","              \
    "\"node_down\"]},\"description\":\"the event types delivered, or [\\\"*\\\"] for all\"}"

static const char endpoint_in_schema[] =
    "{\"type\":\"object\",\"required\":[\"url\",\"events\",\"secret\"],"
    "\"additionalProperties\":false,\"properties\":{"
    "\"id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\",\"description\":\"made "
    "up when absent\"},"
    "\"url\":{\"type\":\"string\",\"maxLength\":2048,\"description\":\"http:// or https://\"},"
    "\"events\":" EVENTS_SCHEMA ","
    "\"secret\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":512,\"description\":\"the "
    "HMAC key of the signatures; never shown again\"},"
    "\"batch_max\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},"
    "\"timeout_ms\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":60000,\"default\":10000}}}";

#define ENDPOINT_OUT_SCHEMA                                                                        \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"                           \
    "\"url\":{\"type\":\"string\"},\"events\":" EVENTS_SCHEMA ","                                  \
    "\"batch_max\":{\"type\":\"integer\"},\"timeout_ms\":{\"type\":\"integer\"},"                  \
    "\"source\":{\"type\":\"string\",\"enum\":[\"file\",\"api\"]},"                                \
    "\"stats\":{\"type\":\"object\",\"description\":\"this adminnode's delivery figures\","        \
    "\"properties\":{\"delivered\":{\"type\":\"integer\"},\"failed\":{\"type\":\"integer\"},"      \
    "\"dead\":{\"type\":\"integer\"},\"retrying\":{\"type\":\"boolean\"},"                         \
    "\"pending\":{\"type\":\"integer\"},\"oldest_pending_s\":{\"type\":\"integer\"},"              \
    "\"attempts\":{\"type\":\"integer\"},\"latency_ms_avg\":{\"type\":\"integer\"},"               \
    "\"last_error\":{\"type\":\"string\"}}}}}"

static const char list_schema[] = "{\"type\":\"object\",\"properties\":{\"webhooks\":{\"type\":"
                                  "\"array\",\"items\":" ENDPOINT_OUT_SCHEMA "}}}";

static const char result_schema[] =
    "{\"type\":\"object\",\"properties\":{\"delivered\":{\"type\":\"boolean\"},"
    "\"status\":{\"type\":\"integer\",\"description\":\"the receiver's HTTP status (0: none)\"},"
    "\"latency_ms\":{\"type\":\"number\"},\"error\":{\"type\":\"string\"}}}";

static const char dead_schema[] =
    "{\"type\":\"object\",\"properties\":{\"dead\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"endpoint\":{\"type\":\"string\"},"
    "\"events\":{\"type\":\"array\"},\"error\":{\"type\":\"string\"},"
    "\"status\":{\"type\":\"integer\"},\"attempts\":{\"type\":\"integer\"},"
    "\"first_attempt\":{\"type\":\"integer\"},\"last_attempt\":{\"type\":\"integer\"}}}}}}";

const api_route_t api_webhooks_routes[] = {
    {
        .method = "GET",
        .pattern = "/api/v1/webhooks",
        .scope = API_SCOPE_ADMIN,
        .handler = api_webhooks_list,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listWebhooks",
        .tag = "webhooks",
        .summary = "The webhook endpoints (secrets never shown), with delivery figures",
        .description = "Endpoints of --webhooks-file (source file) and those added through the "
                       "API (source api, kept in Redis and shared by every adminnode). The "
                       "figures are this adminnode's own.",
        .responses = {{200, "the endpoints", list_schema}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/webhooks",
        .scope = API_SCOPE_ADMIN,
        .handler = api_webhooks_add,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "addWebhook",
        .tag = "webhooks",
        .summary = "Add a webhook endpoint",
        .description = "Events recorded after the answer are delivered to it.",
        .request_schema = endpoint_in_schema,
        .responses = {{201, "added", ENDPOINT_OUT_SCHEMA},
                      {400, "a bad document: JSON, url, event type, secret", NULL},
                      {409, "an endpoint of that id exists", NULL}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/webhooks/dead",
        .scope = API_SCOPE_ADMIN,
        .handler = api_webhooks_dead,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listWebhookDeadLetters",
        .tag = "webhooks",
        .summary = "Batches given up after --webhooks-give-up-ms, newest first",
        .params = {{"endpoint", "query", 0, "{\"type\":\"string\"}", "only this endpoint's",
                    check_webhook_id},
                   {"limit", "query", 0,
                    "{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
                    "\"default\":50}",
                    "at most this many", api_check_count}},
        .responses = {{200, "the dead letters", dead_schema}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/webhooks/dead/{entry}/replay",
        .scope = API_SCOPE_ADMIN,
        .handler = api_webhooks_replay,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "replayWebhookDeadLetter",
        .tag = "webhooks",
        .summary = "Deliver a dead letter again, now",
        .description = "Sent to its endpoint at once, signed afresh; removed from the dead "
                       "letters only when the receiver answers 2xx (then 200), else kept (502).",
        .params = {{"entry", "path", 1, "{\"type\":\"string\"}", "the dead letter's id",
                    api_check_message_id}},
        .responses = {{200, "delivered and removed", "{\"type\":\"object\"}"},
                      {404, "no such dead letter, or its endpoint is gone", NULL},
                      {502, "the receiver failed; the dead letter is kept", result_schema}},
    },
    {
        .method = "DELETE",
        .pattern = "/api/v1/webhooks/{id}",
        .scope = API_SCOPE_ADMIN,
        .handler = api_webhooks_delete,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "deleteWebhook",
        .tag = "webhooks",
        .summary = "Remove a webhook endpoint added through the API",
        .params = {WEBHOOK_ID_PARAM},
        .responses = {{200, "removed", "{\"type\":\"object\"}"},
                      {404, "no endpoint of that id", NULL},
                      {409, "an endpoint of --webhooks-file (read-only)", NULL}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/webhooks/{id}/test",
        .scope = API_SCOPE_ADMIN,
        .handler = api_webhooks_test,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "testWebhook",
        .tag = "webhooks",
        .summary = "Send a signed test delivery (one webhook_test event) and report the answer",
        .params = {WEBHOOK_ID_PARAM},
        .responses = {{200, "what the receiver answered, or the error", result_schema},
                      {404, "no endpoint of that id", NULL}},
    },
};

const size_t api_webhooks_nroutes = sizeof api_webhooks_routes / sizeof api_webhooks_routes[0];
