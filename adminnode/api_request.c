/* The request object (see api_request.h): its lifecycle, what handlers read of it, and the
 * answer it stores until the HTTP server (http.c) hands it to MHD. A request lives until MHD's
 * completion notice and the last handler reference are both gone, so an answer that comes
 * after the client left finds a valid object. */
#include "api_request.h"
#include "alloc.h"
#include "http_request.h"
#include "log.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifecycle ---- */

api_request_t *api_request_new(const api_request_host_t *host, struct MHD_Connection *conn,
                               const char *method, const char *url)
{
    api_request_t *r = xcalloc(1, sizeof *r);
    r->host = host;
    r->conn = conn;
    r->refs = 1; /* MHD's, released on completion */
    r->method = method;
    r->path = xstrdup(url);
    return r;
}

static void request_free(api_request_t *r)
{
    http_router_match_free(&r->match);
    sbuf_free(&r->body);
    json_decref(r->json);
    for (size_t i = 0; i < 2 * r->nargs; i++) free(r->args[i]);
    free(r->args);
    free(r->resp);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r->path);
    free(r);
}

void api_request_ref(api_request_t *req)
{
    req->refs++;
}

void api_request_unref(api_request_t *req)
{
    if (--req->refs == 0) request_free(req);
}

int api_request_done(const api_request_t *req)
{
    return !req->conn || req->state >= API_REQ_ANSWERED;
}

/* ---- answers ---- */

void api_add_header(api_request_t *req, const char *name, const char *value)
{
    if (req->nheaders == API_REQUEST_MAX_HEADERS) return;
    req->hname[req->nheaders] = xstrdup(name);
    req->hvalue[req->nheaders++] = xstrdup(value);
}

void api_respond(api_request_t *req, int status, const char *content_type, char *body, size_t len)
{
    if (api_request_done(req)) {
        free(body);
        return;
    }
    req->status = status;
    req->ctype = content_type;
    req->resp = body;
    req->resp_len = body ? len : 0;
    req->state = API_REQ_ANSWERED;
    req->host->answered(req);
}

/* The last resort: an error body that needs no allocation that can fail. */
static void respond_internal(api_request_t *req)
{
    static const char body[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"cannot make the answer\"}}";
    api_respond(req, 500, "application/json", xmemdup(body, sizeof body - 1), sizeof body - 1);
}

void api_respond_json(api_request_t *req, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        log_error("cannot serialise an answer", "status=%d route=\"%s\"", status,
                  req->match.route ? req->match.route->pattern : "");
        api_respond_error(req, 500, "internal", "cannot serialise the answer");
        return;
    }
    api_respond(req, status, "application/json", text, strlen(text));
}

void api_respond_error(api_request_t *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    /* a message cut by the buffer ends at a character boundary */
    for (size_t back = 1; (size_t)n >= sizeof msg && back < 4 && !utf8_valid(msg, len); back++)
        if (utf8_valid(msg, len - back)) len -= back;
    msg[len] = '\0';
    json_t *doc =
        utf8_valid(msg, len)
            ? json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg)
            : json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", "(unprintable)");
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        respond_internal(req);
        return;
    }
    api_respond(req, status, "application/json", text, strlen(text));
}

/* ---- deferral ---- */

void api_defer(api_request_t *req, api_timeout_fn on_timeout)
{
    api_request_ref(req);
    if (api_request_done(req)) return;
    req->host->defer(req, on_timeout);
}

/* ---- accessors ---- */

void *api_app(const api_request_t *req)
{
    return req->host->app;
}

const char *api_method(const api_request_t *req)
{
    return req->match.route ? req->match.route->method : "";
}

const char *api_path(const api_request_t *req)
{
    return req->path;
}

const api_route_t *api_route(const api_request_t *req)
{
    return req->match.route;
}

const char *api_param(const api_request_t *req, const char *name)
{
    return http_router_param(&req->match, name);
}

const char *api_query(api_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nargs; i++)
        if (strcmp(req->args[2 * i], name) == 0) return req->args[2 * i + 1];
    return NULL;
}

json_t *api_body(const api_request_t *req)
{
    return req->json;
}

api_scope_t api_caller_scope(const api_request_t *req)
{
    return req->scope;
}
