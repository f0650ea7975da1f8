/* The route table of the REST API: (method, path pattern with {param} segments) -> handler,
 * each route with its required scope and its OpenAPI description. Matching is pure (no I/O),
 * and openapi.c generates the API document from the same table, so the two cannot disagree. */
#ifndef CC_HTTP_ROUTER_H
#define CC_HTTP_ROUTER_H

#include "api_params.h"

#include <stddef.h>

/* Scopes, ordered: a key of scope S may call every route needing S or less. */
typedef enum { API_SCOPE_NONE = 0, API_SCOPE_READ = 1, API_SCOPE_ADMIN = 2 } api_scope_t;

/* "none", "read" or "admin". */
const char *http_router_scope_name(api_scope_t s);

typedef struct api_request api_request_t; /* api_request.h */

/* A route's handler: answers req now (api_respond*) or defers it (api_defer). */
typedef void (*api_handler_fn)(api_request_t *req);

/* One parameter of a route: its OpenAPI documentation ("parameters") and its rule. Before a
 * handler runs, every path parameter and query value passes api_check_text, and the value of a
 * parameter documented here passes check too (a query value only when not empty). */
typedef struct {
    const char *name;
    const char *in;     /* "path" or "query" */
    int required;       /* path parameters always are */
    const char *schema; /* JSON text of its schema, e.g. {"type":"string"} */
    const char *description;
    api_param_check_fn check; /* NULL: api_check_text alone */
} api_param_doc_t;

/* One documented answer of a route (OpenAPI "responses"). */
typedef struct {
    int status;
    const char *description;
    const char *schema; /* JSON text of the body's schema; NULL: the common error object */
} api_response_doc_t;

/* Route flags. */
#define API_ROUTE_BODY      0x1 /* takes a JSON request body (parsed before the handler runs) */
#define API_ROUTE_NEEDS_BUS 0x2 /* answers 503 while Redis is not connected */
#define API_ROUTE_TEXT      0x4 /* answers text, not JSON (documentation only) */

#define API_MAX_PARAMS 4 /* {param} segments in one pattern */
#define API_MAX_DOCS   8 /* parameters, and responses, documented per route */

typedef struct {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/rooms/{room}/messages": literal and {name} segments */
    api_scope_t scope;
    api_handler_fn handler;
    unsigned flags;
    /* OpenAPI */
    const char *operation_id;
    const char *tag;
    const char *summary;
    const char *description;
    const char *request_schema;           /* JSON text of the body schema (with API_ROUTE_BODY) */
    api_param_doc_t params[API_MAX_DOCS]; /* ends at the first without a name */
    api_response_doc_t responses[API_MAX_DOCS]; /* ends at the first with status 0 */
} api_route_t;

typedef struct {
    const api_route_t *routes;
    size_t nroutes;
} api_router_t;

/* The outcome of matching a request line against the table. ROUTE_BAD_PARAM: the route of
 * the path and method is found, but a {param} value is malformed (a bad escape or a NUL). */
typedef enum {
    ROUTE_FOUND = 0,
    ROUTE_NOT_FOUND = 1,
    ROUTE_BAD_METHOD = 2,
    ROUTE_BAD_PARAM = 3
} route_result_t;

typedef struct {
    const api_route_t *route; /* ROUTE_FOUND, ROUTE_BAD_PARAM: the route */
    size_t nparams;
    int bad; /* ROUTE_BAD_PARAM: index of the malformed parameter (its value is "") */
    /* Path parameters in pattern order: names without braces, values percent-decoded and
     * NUL-terminated, pointing into buf. */
    char names[API_MAX_PARAMS][32];
    const char *values[API_MAX_PARAMS];
    char allow[64]; /* ROUTE_BAD_METHOD: methods the path has, "GET, POST" */
    char *buf;      /* owned: the decoded values; free with http_router_match_free */
} route_match_t;

/* Matches method and path (the raw request path, still percent-encoded, no query) against the
 * table in order. The first route whose pattern matches the path and whose method is method
 * wins; a {param} segment matches one non-empty segment, whose percent-decoded value must not
 * contain a NUL or be malformed (else ROUTE_BAD_PARAM, naming it in m->bad). ROUTE_BAD_METHOD
 * when some route has the path but none the method (allow lists them; HEAD is never added).
 * Fills *m, which the caller frees with http_router_match_free (always, whatever the result). */
route_result_t http_router_match(const api_router_t *r, const char *method, const char *path,
                                 route_match_t *m);

/* Value of path parameter name, or NULL (borrowed from m). */
const char *http_router_param(const route_match_t *m, const char *name);

void http_router_match_free(route_match_t *m);

/* The rule of parameter name, in ("path" or "query"), documented for route rt, or NULL. */
api_param_check_fn http_router_param_check(const api_route_t *rt, const char *in, const char *name);

/* Checks every path parameter of a found route: api_check_text, then the rule documented for
 * it. Returns 0, or -1 with *name (borrowed from m) and the reason phrase in why. */
int http_router_check_params(const route_match_t *m, const char **name, char *why, size_t whylen);

/* Checks one query value (decoded) of route rt: api_check_text, then, when the parameter is
 * documented with a rule and value is not empty, the rule. Returns 0, or -1 with why. */
int http_router_check_query(const api_route_t *rt, const char *name, const char *value, size_t len,
                            char *why, size_t whylen);

/* Decodes %XX escapes of src[0..n) into dst (n + 1 bytes); '+' stays '+'. Returns the decoded
 * length, or -1 when an escape is malformed or decodes to a NUL. */
long http_router_percent_decode(const char *src, size_t n, char *dst);

/* Checks a pattern: starts with '/', {name} segments are whole segments with [a-z_]+ names,
 * each of at most 31 characters, at most API_MAX_PARAMS of them. Returns 0 or -1. */
int http_router_pattern_valid(const char *pattern);

#endif
