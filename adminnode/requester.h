/* Requests adminnode makes to every server of the cluster in the redis-adapter format
 * (REMOTE_FETCH, ALL_ROOMS, REMOTE_JOIN/LEAVE/DISCONNECT) and the gathering of their answers:
 * the server count comes from PUBSUB NUMSUB of the request channel, answers from the shared
 * response channel, each request bounded by --requests-timeout. */
#ifndef CC_REQUESTER_H
#define CC_REQUESTER_H

#include "api.h"

#include <jansson.h>

typedef struct requester requester_t;

typedef struct {
    int complete;      /* every server answered in time */
    unsigned servers;  /* servers asked */
    unsigned answered; /* answers received */
    const char *error; /* why it is partial, or NULL */
    json_t *answers;   /* the answer documents (borrowed during the callback) */
} req_result_t;

typedef void (*req_cb)(void *ud, const req_result_t *r);

requester_t *requester_new(adminnode_t *an);
void requester_free(requester_t *rq);

/* Sends request (stolen, NULL included; uid and requestId are added) to the servers of
 * namespace nsp and gathers their answers. Returns 0 and cb runs exactly once, possibly before
 * this returns; or API_EINVAL (request is not an object, nsp is not a namespace) and cb never
 * runs. An empty opts.rooms asks about every socket, as the adapter's requests mean. */
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
