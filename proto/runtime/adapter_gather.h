/* Gathering the answers to a redis-adapter request (docs/protocols.md, section 2.6): the
 * request is published on K-request#N# once PUBSUB NUMSUB of that channel has counted the
 * servers, their answers on K-response#N# are collected until each server answered or the
 * deadline passed, and the result {complete, servers, answered} is handed back exactly once.
 * Both nodes make their requests through it. */
#ifndef CC_ADAPTER_GATHER_H
#define CC_ADAPTER_GATHER_H

#include "adapter_request.h"
#include "bus.h"
#include "bus_listen.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* Why a result is partial (0: it is not). */
#define ADAPTER_GATHER_ETIMEDOUT (-1) /* some servers did not answer in time */
#define ADAPTER_GATHER_ENOBUS    (-2) /* Redis is not available (NUMSUB or the publish failed) */
#define ADAPTER_GATHER_ECLOSED   (-3) /* the gatherer was closed */
#define ADAPTER_GATHER_EENCODE   (-4) /* the request cannot be encoded */
/* A static description of an ADAPTER_GATHER_E* code (or "unknown error"). */
const char *adapter_gather_strerror(int status);

typedef struct adapter_gather adapter_gather_t;
typedef struct adapter_ask adapter_ask_t; /* one request awaiting answers */

typedef struct {
    int complete;      /* every server answered in time (and nothing more is expected) */
    unsigned servers;  /* servers that were to answer */
    unsigned answered; /* of those, how many answered */
    int status;        /* 0, or why it is partial: an ADAPTER_GATHER_E* code */
    const char *error; /* adapter_gather_strerror(status), or NULL when status is 0 */
    json_t *items;     /* what was gathered (a JSON array, borrowed during the callback) */
} adapter_gather_result_t;

/* The result, exactly once; the ask is freed when it returns. */
typedef void (*adapter_gather_done_cb)(void *ud, const adapter_gather_result_t *r);
/* A response with the ask's request id (resp borrowed for the call). Returns 1 when it is one
 * server's answer, 0 when it is not (an ack, or a response that does not count). It may add to
 * the ask's items and call adapter_ask_expect; the ask is checked for completion after it
 * returns. */
typedef int (*adapter_gather_answer_cb)(void *ud, adapter_ask_t *a, const adapter_response_t *resp);

typedef struct {
    uv_loop_t *loop;
    bus_t *bus;           /* borrowed; not used by adapter_gather_close */
    bus_listen_t *listen; /* the bus's listener registry (borrowed) */
    const char *key;      /* K (copied) */
    const char *uid;      /* the requester's uid (copied; at most 24 bytes) */
    uint64_t timeout_ms;  /* how long an ask waits for its answers, from adapter_ask_send */
    /* The requester itself subscribes to K-request#N# (a chatnode does, adminnode does not):
     * NUMSUB counts it, and one answer fewer is awaited. */
    int self_subscribed;
    /* Also listen on K-response#N#<uid>#, where Node's publishOnSpecificResponseChannel
     * answers. */
    int own_response_channel;
    /* The sharded format (section 2.8): servers are counted with PUBSUB SHARDNUMSUB of the
     * namespace channel K#N#, requests go there with SPUBLISH (JSON requests written as the
     * sharded messages they stand for), and no response channel is listened to: the node's
     * handler of its private channel K#N#<uid># hands each response to adapter_gather_feed. */
    int sharded;
} adapter_gather_options_t;

/* Creates a gatherer. Returns 0 and *out (closed with adapter_gather_close), or a negative
 * libuv error (the timer could not be made; nothing to close). */
int adapter_gather_new(adapter_gather_t **out, const adapter_gather_options_t *o);
/* Finishes every pending ask with ADAPTER_GATHER_ECLOSED and closes the gatherer; its memory
 * is freed from the loop once its timer is closed and the NUMSUB commands it sent have been
 * answered or cancelled. Its response listeners stay in the registry (the bus may be closed
 * already): free the registry after. NULL is a no-op. */
void adapter_gather_close(adapter_gather_t *g);
/* A response that came (the sharded format's, read into the classic form): counted for the
 * ask with its request id, if any. */
void adapter_gather_feed(adapter_gather_t *g, const adapter_response_t *resp);

/* The delay asks wait (options.timeout_ms). */
uint64_t adapter_gather_timeout(const adapter_gather_t *g);

/* Listens on the response channels of namespace nsp (nsp_len bytes): K-response#N#, and
 * K-response#N#<uid># with own_response_channel. A second call for the same namespace is a
 * no-op; adapter_ask_send makes it too. Returns 0 or a bus error. */
int adapter_gather_listen(adapter_gather_t *g, const char *nsp, size_t nsp_len);

/* A new ask in namespace nsp. on_answer NULL: every JSON response with the request id is one
 * server's answer and is appended whole to the items; msgpack acks are ignored. g NULL: there
 * is no cluster, no server will answer (see adapter_ask_send) and the ask has no request id.
 * Never fails; the ask belongs to the gatherer and ends with done. */
adapter_ask_t *adapter_ask_new(adapter_gather_t *g, const char *nsp, size_t nsp_len,
                               adapter_gather_answer_cb on_answer, adapter_gather_done_cb done,
                               void *ud);
/* The ask's request id, "<uid>-<n>" (section 2.6); "" without a gatherer. Valid until done. */
const char *adapter_ask_id(const adapter_ask_t *a);
/* The items gathered so far (borrowed; a JSON array the caller may add to). */
json_t *adapter_ask_items(adapter_ask_t *a);
/* Answers expected beyond one per server (a broadcast's acks: + the clients announced, - each
 * ack received). The ask is complete only when this count is back to 0 or below; a call that
 * brings it there after the send may finish the ask (done runs before this returns). */
void adapter_ask_expect(adapter_ask_t *a, long delta);
/* Sends the request (payload, len bytes, copied: a JSON document, or msgpack for a broadcast
 * with acks) once NUMSUB has counted the servers, and starts the deadline. payload NULL or no
 * gatherer: no server is asked (servers 0). When there is nothing to wait for, done runs
 * before this returns. */
void adapter_ask_send(adapter_ask_t *a, const char *payload, size_t len);
/* adapter_ask_send of req (stolen) written as compact JSON; a req that cannot be written
 * (NULL included) finishes the ask with ADAPTER_GATHER_EENCODE. */
void adapter_ask_send_json(adapter_ask_t *a, json_t *req);

#endif
