/* The OpenAPI 3 document of the REST API, generated from the route table, so that the
 * document and the routes cannot disagree. */
#ifndef CC_OPENAPI_H
#define CC_OPENAPI_H

#include "http_router.h"

#include <jansson.h>
#include <stddef.h>

/* Builds the document for the routes of r that are documented. The common answers are added
 * to each operation from its scope and flags (401/403 for a scope, 400/413 for a body, 503 for
 * API_ROUTE_NEEDS_BUS). Returns a new reference, or NULL with the route and the reason in err
 * when a schema text of the table is not valid JSON or a path parameter is undocumented. */
json_t *openapi_document(const api_router_t *r, const char *version, char *err, size_t errlen);

#endif
