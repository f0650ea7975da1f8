/* The request object handlers see: routed, authenticated, its path and query parameters
 * checked, its JSON body parsed, and answered now or later (api_defer). The HTTP server
 * (http.h) makes it and hands the stored answer to the client. */
#ifndef CC_API_REQUEST_H
#define CC_API_REQUEST_H

#include "http_router.h"

#include <jansson.h>
#include <stddef.h>

/* What a handler gets: valid during the handler call, and after it only while the handler
 * holds a reference (api_defer takes one). */
void *api_app(const api_request_t *req);
const char *api_method(const api_request_t *req);
const char *api_path(const api_request_t *req);
const api_route_t *api_route(const api_request_t *req);
/* The percent-decoded value of path parameter name ({name} in the pattern), or NULL. */
const char *api_param(const api_request_t *req, const char *name);
/* The decoded value of query argument name ('+' is a space), or NULL (owned by req). Every
 * query value was checked before the handler ran (see api_param_doc_t). */
const char *api_query(api_request_t *req, const char *name);
/* The parsed JSON body of a route with API_ROUTE_BODY (borrowed; never NULL for such a
 * route), else NULL. */
json_t *api_body(const api_request_t *req);
/* The scope of the key presented (API_SCOPE_NONE when none was needed or given). */
api_scope_t api_caller_scope(const api_request_t *req);

/* Answers with status and body (len bytes, steals a malloc'ed body; NULL for none) of
 * content_type (a static string). The first answer wins: answering a request that is already
 * answered (timed out, shutting down) or whose client is gone only frees body. */
void api_respond(api_request_t *req, int status, const char *content_type, char *body, size_t len);
/* Answers with doc serialised as JSON (steals doc). */
void api_respond_json(api_request_t *req, int status, json_t *doc);
/* Answers {"error":{"code":code,"message":...}} with status. */
void api_respond_error(api_request_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds a response header (both copied) to the answer; call before answering. */
void api_add_header(api_request_t *req, const char *name, const char *value);

/* Called when a deferred request reaches --requests-timeout unanswered; it must answer. */
typedef void (*api_timeout_fn)(api_request_t *req);

/* Makes the answer come later, from outside the handler: the connection is suspended until
 * api_respond*. Takes a reference for the handler, which it releases with api_request_unref
 * after answering (or when giving up). If nobody answers within --requests-timeout,
 * on_timeout answers (NULL: 504 {"error":{"code":"timeout"}}) and a later answer is dropped. */
void api_defer(api_request_t *req, api_timeout_fn on_timeout);
void api_request_ref(api_request_t *req);
void api_request_unref(api_request_t *req);
/* 1 once the request needs no answer any more: answered, or its connection closed. */
int api_request_done(const api_request_t *req);

#endif
