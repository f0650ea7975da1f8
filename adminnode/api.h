/* The REST API: adminnode's state as handlers see it, the route table (api_routes.c) and the
 * handlers, one file per group of endpoints. */
#ifndef CC_API_H
#define CC_API_H

#include "adminnode_config.h"
#include "auth.h"
#include "bus.h"
#include "http.h"
#include "http_router.h"

#include <stdint.h>
#include <uv.h>

typedef struct {
    uv_loop_t *loop;
    const adminnode_config_t *cfg;
    const char *version;
    http_server_t *http;
    bus_t *bus; /* NULL without --redis */
    auth_t auth;
    api_router_t router;
    uint64_t started_ms;
    char *openapi; /* the generated document, JSON text (owned) */
    size_t openapi_len;
} adminnode_t;

/* The route table, in matching order. */
extern const api_route_t api_routes[];
extern const size_t api_nroutes;

/* "connected", "disconnected" (configured, command connection not up) or "none". */
const char *adminnode_redis_state(const adminnode_t *an);

/* For handlers that need Redis: returns the bus when its command connection is up; otherwise
 * answers 503 {"error":{"code":"unavailable",...}} and returns NULL (the handler then just
 * returns). */
bus_t *api_need_bus(api_request_t *req);

/* Handlers. */
void api_healthz(api_request_t *req); /* api_system.c */
void api_metrics(api_request_t *req); /* api_system.c */
void api_openapi(api_request_t *req); /* api_system.c */
void api_emit(api_request_t *req);    /* api_emit.c */

/* Checks the body of POST /api/v1/emit; returns NULL or what is wrong (a static string, or
 * written into buf). Pure, for tests too. */
const char *api_emit_check(const json_t *body, char *buf, size_t len);

#endif
