/* adminnode's side of the cluster requests (REMOTE_FETCH, REMOTE_JOIN/LEAVE/DISCONNECT; see
 * docs/protocols.md, section 2.7): its uid on the bus, the checks that keep a request from
 * acting on every socket, and the asks, whose answers proto/runtime/adapter_gather gathers.
 * adminnode does not subscribe to the request channels, so every server NUMSUB counts is
 * awaited, for three quarters of --requests-timeout (its HTTP answer comes before the 504). */
#ifndef CC_REQUESTER_H
#define CC_REQUESTER_H

#include "adapter_gather.h"
#include "api.h"

#include <jansson.h>

typedef struct requester requester_t;

/* The result of an ask: items holds the answer documents (borrowed during the callback). */
typedef adapter_gather_result_t req_result_t;
typedef adapter_gather_done_cb req_cb;

/* A requester for an (whose bus, when there is one, must outlive it). Never fails. */
requester_t *requester_new(adminnode_t *an);
/* Pending asks end with "shutting down"; the rest is freed from the loop. NULL is a no-op. */
void requester_free(requester_t *rq);

/* Sends request (stolen, NULL included; uid and requestId are added) to the servers of
 * namespace nsp and gathers their answers. Returns 0 and cb runs exactly once, possibly before
 * this returns (without Redis: at once, with the error "Redis is not configured"); or
 * API_EINVAL (request is not an object, nsp is not a namespace) and cb never runs. An empty
 * opts.rooms asks about every socket, as the adapter's requests mean. */
int requester_ask(requester_t *rq, const char *nsp, json_t *request, req_cb cb, void *ud);
/* Publishes request (stolen, NULL included; uid added) with no answer expected. It acts on the
 * sockets of opts.rooms, which must be a non-empty array of non-empty names: a request whose
 * room list is missing or empty would act on every socket, and is refused. Returns 0,
 * API_EINVAL (nothing published), or API_ENOBUS. */
int requester_tell(requester_t *rq, const char *nsp, json_t *request);

/* Checks a request for requester_tell (need_rooms 1) or requester_ask (0): an object with an
 * integer type and, with need_rooms, opts.rooms a non-empty array of non-empty strings.
 * Returns 0 or API_EINVAL. Pure. */
int requester_check(const json_t *request, int need_rooms);

#endif
