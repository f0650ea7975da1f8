/* The redis-adapter's request/response contract (docs/protocols.md, sections 2.1, 2.5 and
 * 2.6): the request and response types, the channel names K-request#N#, K-response#N# and
 * K-response#N#<uid>#, request ids, the JSON request documents and the reading of requests and
 * responses. Pure: chatnode and adminnode both build and read their requests here. */
#ifndef CC_ADAPTER_REQUEST_H
#define CC_ADAPTER_REQUEST_H

#include "adapter_msg.h"
#include "sbuf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The request types, with the numbers Node's adapter writes (section 2.5). The last two are
 * responses. */
typedef enum {
    ADAPTER_REQ_SOCKETS = 0, /* the 7.x form: answered with socket ids */
    ADAPTER_REQ_ALL_ROOMS = 1,
    ADAPTER_REQ_REMOTE_JOIN = 2,
    ADAPTER_REQ_REMOTE_LEAVE = 3,
    ADAPTER_REQ_REMOTE_DISCONNECT = 4,
    ADAPTER_REQ_REMOTE_FETCH = 5,
    ADAPTER_REQ_SERVER_SIDE_EMIT = 6,
    ADAPTER_REQ_BROADCAST = 7,               /* with acks; msgpack */
    ADAPTER_RESP_BROADCAST_CLIENT_COUNT = 8, /* JSON */
    ADAPTER_RESP_BROADCAST_ACK = 9,          /* msgpack */
} adapter_request_type_t;

/* ---- channels (section 2.1) ---- */

typedef enum {
    ADAPTER_CH_BROADCAST = 0, /* K#N#, K#N#<room># */
    ADAPTER_CH_REQUEST,       /* K-request#N# */
    ADAPTER_CH_RESPONSE,      /* K-response#N#, K-response#N#<uid># */
} adapter_channel_t;

/* Replaces b's content with the channel of kind for key K and namespace N (both len bytes,
 * copied as they are), with tail (a room, or a requester's uid; NULL for none) and its
 * closing '#'. */
void adapter_channel(sbuf_t *b, const char *key, size_t key_len, adapter_channel_t kind,
                     const char *nsp, size_t nsp_len, const char *tail, size_t tail_len);

/* Reads a request or response channel of key: returns 0 with the kind and the namespace
 * (borrowed from ch, between the kind's '#' and the last '#'), or -1 when ch is none of them
 * (a broadcast channel included). A K-response#N#<uid># channel reads as N#<uid>: names are
 * not escaped, so the namespace of a response channel is ambiguous; only request channels are
 * read back. */
int adapter_channel_parse(const char *ch, size_t len, const char *key, size_t key_len,
                          adapter_channel_t *kind, const char **nsp, size_t *nsp_len);

/* ---- request ids (section 2.6) ---- */

/* Longest request id this contract makes: a uid of up to 24 bytes, '-' and a counter. */
#define ADAPTER_REQUEST_ID_MAX 48

/* Writes "<uid>-<n>" into buf (ADAPTER_REQUEST_ID_MAX bytes). Returns its length, or -1 when
 * uid is too long (buf then holds ""). */
int adapter_request_id(char *buf, const char *uid, uint64_t n);

/* ---- building requests (sections 2.5, 2.7) ---- */

/* A new request object {uid, requestId, type}: uid or request_id NULL leaves that member out.
 * Returns a new reference, or NULL when a string is not UTF-8. */
json_t *adapter_request_new(adapter_request_type_t type, const char *uid, const char *request_id);
/* opts {rooms, except} of arrays of room names (each stolen; NULL: an empty array). Returns
 * a new reference, or NULL when an argument is not an array. */
json_t *adapter_request_opts(json_t *rooms, json_t *except);
/* Sets member name of req to value (stolen). Returns 0, or -1 when req is not an object or
 * value is NULL (value is released). */
int adapter_request_set(json_t *req, const char *name, json_t *value);

/* ---- reading requests ---- */

#define ADAPTER_REQ_MAX_ROOMS 64 /* rooms, and except, read from one request */

/* The sockets a request selects: those in rooms (all when none) minus those in except; the
 * first ADAPTER_REQ_MAX_ROOMS strings of each list, other elements skipped. */
typedef struct {
    amsg_str_t rooms[ADAPTER_REQ_MAX_ROOMS], except[ADAPTER_REQ_MAX_ROOMS];
    size_t nrooms, nexcept;
} adapter_select_t;

/* A JSON request on K-request#N# as a server reads it. */
typedef struct {
    json_t *doc;          /* owned: the request object; everything below borrows from it */
    int type;             /* "type", or -1 when it is not an integer in 0..INT_MAX */
    const char *uid;      /* "uid" when a string, else NULL */
    json_t *request_id;   /* "requestId", any JSON value, or NULL */
    adapter_select_t sel; /* opts.rooms and opts.except; for SOCKETS (type 0) the top-level rooms */
    json_t *targets;      /* "rooms" (the rooms a join or leave names), any JSON value, or NULL */
    int close;            /* "close" is true (a disconnect closes whole connections) */
    json_t *data;         /* "data" (a server-side emit's [event, ...args]), or NULL */
} adapter_request_t;

/* Decodes a JSON request payload (len bytes). Returns 0 with *out filled (free it with
 * adapter_request_free), or -1 when payload is not a JSON object, with the reason in err
 * (errlen bytes) and *out empty. Node's adapter compares types with ===: a type that is not a
 * JSON integer makes no request (type -1). */
int adapter_request_decode(const char *payload, size_t len, adapter_request_t *out, char *err,
                           size_t errlen);
/* Releases what out owns; an empty or zeroed out is fine, and so is a second call. */
void adapter_request_free(adapter_request_t *out);

/* ---- reading responses (sections 2.5, 2.6) ---- */

/* A response on K-response#N#: a JSON document, or a msgpack BROADCAST_ACK. */
typedef struct {
    json_t *doc;            /* owned JSON response, or NULL for an ack */
    int type;               /* "type" when an integer in 0..INT_MAX, else -1; 9 for an ack */
    const char *request_id; /* "requestId" (borrowed; NUL-terminated), or NULL */
    size_t request_id_len;
    const char *uid; /* the answering server's "uid" when a string, else NULL */
    amsg_ack_t ack;  /* an ack's content (owned); ack.arg.json NULL: no argument */
    int is_ack;      /* the response is a msgpack ack */
    char *ack_id;    /* owned: the ack's request id, NUL-terminated */
} adapter_response_t;

/* Reads a response payload (len bytes). A payload starting with '{' is JSON; anything else
 * is read as a msgpack BROADCAST_ACK. Returns 0 with *out filled (free with
 * adapter_response_free), or -1 when it is neither a JSON object nor an ack with a request id
 * (*out is then empty). A JSON response without a string requestId is still read (request_id
 * NULL): it answers no request. */
int adapter_response_parse(const char *payload, size_t len, adapter_response_t *out);
/* Releases what out owns; an empty or zeroed out is fine, and so is a second call. */
void adapter_response_free(adapter_response_t *out);

#endif
