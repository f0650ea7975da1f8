/* OpenAPI document generation from the route table (see openapi.h). */
#include "openapi.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static json_t *schema_of(const char *text, const api_route_t *rt, const char *what, char *err,
                         size_t errlen)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        snprintf(err, errlen, "%s %s: %s schema: %s at column %d", rt->method, rt->pattern, what,
                 e.text, e.column);
    return j;
}

static json_t *error_response(const char *description)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", description, "content",
                     "application/json", "schema", "$ref", "#/components/schemas/Error");
}

static void add_default(json_t *responses, int status, const char *description)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    if (!json_object_get(responses, code))
        json_object_set_new(responses, code, error_response(description));
}

/* Whether the pattern has a {name} segment for every path parameter documented, and the
 * reverse. Returns 0 or -1 with the reason in err. */
static int check_params(const api_route_t *rt, char *err, size_t errlen)
{
    const char *p = rt->pattern;
    while ((p = strchr(p, '{')) != NULL) {
        const char *e = strchr(p, '}');
        size_t n = (size_t)(e - p - 1);
        int found = 0;
        for (size_t i = 0; i < API_MAX_DOCS && rt->params[i].name; i++)
            if (strcmp(rt->params[i].in, "path") == 0 && strlen(rt->params[i].name) == n &&
                memcmp(rt->params[i].name, p + 1, n) == 0)
                found = 1;
        if (!found) {
            snprintf(err, errlen, "%s %s: path parameter %.*s is not documented", rt->method,
                     rt->pattern, (int)n, p + 1);
            return -1;
        }
        p = e;
    }
    for (size_t i = 0; i < API_MAX_DOCS && rt->params[i].name; i++) {
        char want[64];
        snprintf(want, sizeof want, "{%s}", rt->params[i].name);
        if (strcmp(rt->params[i].in, "path") == 0 && !strstr(rt->pattern, want)) {
            snprintf(err, errlen, "%s %s: documented parameter %s is not in the path", rt->method,
                     rt->pattern, rt->params[i].name);
            return -1;
        }
    }
    return 0;
}

static json_t *operation(const api_route_t *rt, char *err, size_t errlen)
{
    if (check_params(rt, err, errlen) < 0) return NULL;
    json_t *op = json_object();
    json_object_set_new(op, "operationId", json_string(rt->operation_id));
    if (rt->summary) json_object_set_new(op, "summary", json_string(rt->summary));
    if (rt->description) json_object_set_new(op, "description", json_string(rt->description));
    if (rt->tag) json_object_set_new(op, "tags", json_pack("[s]", rt->tag));
    json_object_set_new(op, "x-required-scope", json_string(http_router_scope_name(rt->scope)));
    json_object_set_new(op, "security",
                        rt->scope == API_SCOPE_NONE ? json_array()
                                                    : json_pack("[{s:[]}]", "bearerAuth"));
    json_t *params = json_array();
    for (size_t i = 0; i < API_MAX_DOCS && rt->params[i].name; i++) {
        const api_param_doc_t *pd = &rt->params[i];
        json_t *schema =
            schema_of(pd->schema ? pd->schema : "{\"type\":\"string\"}", rt, pd->name, err, errlen);
        if (!schema) goto fail_params;
        json_t *pj = json_pack("{s:s,s:s,s:b,s:o}", "name", pd->name, "in", pd->in, "required",
                               pd->required || strcmp(pd->in, "path") == 0, "schema", schema);
        if (pd->description) json_object_set_new(pj, "description", json_string(pd->description));
        json_array_append_new(params, pj);
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    if (rt->flags & API_ROUTE_BODY) {
        json_t *schema = schema_of(rt->request_schema ? rt->request_schema : "{}", rt,
                                   "request body", err, errlen);
        if (!schema) goto fail;
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                      "application/json", "schema", schema));
    }
    json_t *responses = json_object();
    json_object_set_new(op, "responses", responses);
    for (size_t i = 0; i < API_MAX_DOCS && rt->responses[i].status; i++) {
        const api_response_doc_t *rd = &rt->responses[i];
        char code[8];
        snprintf(code, sizeof code, "%d", rd->status);
        if (!rd->schema) {
            json_object_set_new(responses, code, error_response(rd->description));
            continue;
        }
        json_t *schema = schema_of(rd->schema, rt, code, err, errlen);
        if (!schema) goto fail;
        const char *ctype = (rt->flags & API_ROUTE_TEXT) ? "text/plain" : "application/json";
        json_object_set_new(responses, code,
                            json_pack("{s:s,s:{s:{s:o}}}", "description", rd->description,
                                      "content", ctype, "schema", schema));
    }
    if (rt->flags & API_ROUTE_BODY) {
        add_default(responses, 400, "the body is not valid JSON, or a field is wrong");
        add_default(responses, 413, "the body is larger than --max-body");
    }
    if (rt->params[0].name)
        add_default(responses, 400, "a path or query parameter is malformed or breaks its rule");
    if (rt->scope != API_SCOPE_NONE) {
        add_default(responses, 401, "no API key, or an unknown one");
        add_default(responses, 403, "the key's scope is too low");
    }
    if (rt->flags & API_ROUTE_NEEDS_BUS) {
        add_default(responses, 503, "Redis is not configured or not reachable");
        add_default(responses, 504, "the cluster did not answer in time");
    }
    return op;
fail_params:
    json_decref(params);
fail:
    json_decref(op);
    return NULL;
}

json_t *openapi_document(const api_router_t *r, const char *version, char *err, size_t errlen)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < r->nroutes; i++) {
        const api_route_t *rt = &r->routes[i];
        json_t *item = json_object_get(paths, rt->pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, rt->pattern, item);
        }
        json_t *op = operation(rt, err, errlen);
        if (!op) {
            json_decref(paths);
            return NULL;
        }
        char m[16];
        size_t k = 0;
        for (; rt->method[k] && k + 1 < sizeof m; k++) m[k] = (char)tolower(rt->method[k]);
        m[k] = '\0';
        json_object_set_new(item, m, op);
    }
    const char *error_schema =
        "{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{\"type\":"
        "\"object\",\"required\":[\"code\",\"message\"],\"properties\":{\"code\":{\"type\":"
        "\"string\"},\"message\":{\"type\":\"string\"}}}}}";
    return json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:{s:{s:s,s:s,s:s}},s:{s:o}}}", "openapi", "3.0.3",
        "info", "title", "chatcluster adminnode", "version", version, "description",
        "REST API of a chatcluster: `Authorization: Bearer <key>`, keys of scope read or admin. "
        "Errors are {\"error\":{\"code\",\"message\"}}.",
        "servers", "url", "/", "paths", paths, "components", "securitySchemes", "bearerAuth",
        "type", "http", "scheme", "bearer", "description", "an API key of --api-keys-file",
        "schemas", "Error", json_loads(error_schema, 0, NULL));
}
