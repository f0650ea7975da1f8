/* The REST API: adminnode's state as handlers see it, the route table (api_routes.c) and the
 * handlers, one file per group of endpoints. */
#ifndef CC_API_H
#define CC_API_H

#include "adminnode_config.h"
#include "api_request.h"
#include "auth.h"
#include "bus.h"
#include "bus_listen.h"
#include "http.h"
#include "http_router.h"
#include "node_events.h"
#include "registry.h"

#include "strmap.h"

#include <stdint.h>
#include <uv.h>

typedef struct {
    uv_loop_t *loop;
    const adminnode_config_t *cfg;
    const char *version;
    http_server_t *http;
    bus_t *bus;  /* NULL without --redis */
    int sharded; /* the bus speaks the sharded adapter's format */
    int mode;    /* then its adapter_sharded_mode_t */
    auth_t auth;
    api_router_t router;
    uint64_t started_ms;
    char *openapi; /* the generated document, JSON text (owned) */
    size_t openapi_len;
    bus_listen_t *listeners;    /* who gets the messages of a subscribed channel (listen.c) */
    registry_t *registry;       /* nodes: the chatnodes and their states (api_nodes.c) */
    node_events_t *node_events; /* what their state changes record (api_nodes.c) */
    struct webhooks *webhooks;  /* webhook delivery (webhooks.c); NULL without Redis */
    char consumer[320];         /* its consumer name in the webhook groups */
} adminnode_t;

/* Subscribes to channel and hands its messages to fn (channel, payload borrowed for the call).
 * Returns 0 or a bus error; without --redis, BUS_EINVAL. */
typedef void (*listen_cb)(void *ud, const char *channel, size_t len, const char *payload,
                          size_t plen);
int listen_on(adminnode_t *an, const char *channel, listen_cb fn, void *ud);
/* The listener registry on an's bus, made at the first call; NULL without --redis. */
bus_listen_t *listen_registry(adminnode_t *an);
/* The bus's message callback (main.c installs it). */
void listen_dispatch(void *ud, const char *channel, size_t len, const char *pattern,
                     const char *payload, size_t plen);
/* Frees the listeners. */
void listen_free(adminnode_t *an);

/* The route table, in matching order. */
extern const api_route_t api_routes[];
extern const size_t api_nroutes;

/* "connected", "disconnected" (configured, command connection not up) or "none". */
const char *api_redis_state(const adminnode_t *an);

/* For handlers that need Redis: returns the bus when its command connection is up; otherwise
 * answers 503 {"error":{"code":"unavailable",...}} and returns NULL (the handler then just
 * returns). */
bus_t *api_need_bus(api_request_t *req);

/* Handlers. */
void api_healthz(api_request_t *req); /* api_system.c */
void api_metrics(api_request_t *req); /* api_system.c */
void api_openapi(api_request_t *req); /* api_system.c */
void api_emit(api_request_t *req);    /* api_emit.c */

/* ---- nodes (api_nodes.c, registry.h) ---- */
/* Creates an->registry and, with Redis, subscribes it to P:heartbeat and P:reply (call after
 * the bus is opened). */
void api_nodes_start(adminnode_t *an);
/* Stops the registry (call after bus_close): requests still waiting on it are released. */
void api_nodes_stop(adminnode_t *an);
/* Returns the registry when it can answer req now. Otherwise req is answered (503 without
 * Redis) or waits for the registry's first load from Redis (504 after --requests-timeout),
 * then runs its handler again; NULL is returned. */
registry_t *api_nodes_ready(api_request_t *req);
void api_nodes_list(api_request_t *req);   /* GET /api/v1/nodes */
void api_node_get(api_request_t *req);     /* GET /api/v1/nodes/{id} */
void api_node_drain(api_request_t *req);   /* POST /api/v1/nodes/{id}/drain */
void api_node_undrain(api_request_t *req); /* POST /api/v1/nodes/{id}/undrain */

/* Errors of api_publish_emit and the requester (requester.h); see api_strerror. */
#define API_EINVAL  (-101) /* a NULL or malformed argument */
#define API_EENCODE (-102) /* the message cannot be encoded */
#define API_ENOBUS  (-103) /* no Redis, or the bus refused the publish */
/* A short English phrase for an API_E* code. */
const char *api_strerror(int rc);

/* Flags of api_publish_emit. */
#define API_EMIT_VOLATILE 0x1 /* the emitter's volatile flag */
#define API_EMIT_EVERYONE 0x2 /* an empty rooms list means every socket of the namespace */
/* In the sharded format, on the namespace's channel whatever the rooms: the channel of the
 * requests (requester_tell), so a request published after it comes after it at every node. */
#define API_EMIT_NSP_CHANNEL 0x4

/* Publishes event(...args) to the sockets of nsp in rooms minus those in except, in the
 * emitter's format. rooms and except are JSON arrays of non-empty names (except may be NULL).
 * rooms must not be empty unless flags has API_EMIT_EVERYONE: a room list that failed to be
 * built can never widen into a broadcast. args is a JSON array (borrowed, as rooms and
 * except). Returns 0, or API_EINVAL (a NULL, empty or malformed argument), API_EENCODE or
 * API_ENOBUS; nothing is published then. */
int api_publish_emit(adminnode_t *an, const char *nsp, json_t *rooms, json_t *except,
                     const char *event, json_t *args, int flags);

/* ---- webhooks (api_webhooks.c, webhooks.h) ---- */
extern const api_route_t api_webhooks_routes[];
extern const size_t api_webhooks_nroutes;
void api_webhooks_list(api_request_t *req);   /* GET /api/v1/webhooks */
void api_webhooks_add(api_request_t *req);    /* POST /api/v1/webhooks */
void api_webhooks_delete(api_request_t *req); /* DELETE /api/v1/webhooks/{id} */
void api_webhooks_test(api_request_t *req);   /* POST /api/v1/webhooks/{id}/test */
void api_webhooks_dead(api_request_t *req);   /* GET /api/v1/webhooks/dead */
void api_webhooks_replay(api_request_t *req); /* POST /api/v1/webhooks/dead/{entry}/replay */

/* Checks the body of POST /api/v1/emit; returns NULL or what is wrong (a static string, or
 * written into buf). Pure, for tests too. */
const char *api_emit_check(const json_t *body, char *buf, size_t len);

#endif
