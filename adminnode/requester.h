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

/* Sends request (stolen; uid and requestId are added) to the servers of namespace nsp and
 * gathers their answers; cb runs exactly once, possibly before this returns. */
void requester_ask(requester_t *rq, const char *nsp, json_t *request, req_cb cb, void *ud);
/* Publishes request (stolen; uid added) with no answer expected. Returns 0 or a bus error. */
int requester_tell(requester_t *rq, const char *nsp, json_t *request);

#endif
