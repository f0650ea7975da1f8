/* The sharded adapter's messages (adapter_sharded.h) read into, and written from, the forms
 * the classic adapter's request code speaks (adapter_msg.h, adapter_request.h), so that each
 * node keeps one body of request code for both bus formats. The correspondence
 * (docs/protocols.md, section 2.8):
 *
 *   sharded message                 classic form
 *   3  BROADCAST                    a broadcast (amsg_broadcast_t); with "requestId": the
 *                                   BROADCAST request with acks
 *   4  SOCKETS_JOIN                 REMOTE_JOIN      {opts, rooms}
 *   5  SOCKETS_LEAVE                REMOTE_LEAVE     {opts, rooms}
 *   6  DISCONNECT_SOCKETS           REMOTE_DISCONNECT {opts, close}
 *   7  FETCH_SOCKETS                REMOTE_FETCH     {opts, requestId}; ALL_ROOMS and SOCKETS
 *                                   are asked this way too (the sharded adapter has no
 *                                   request of their own: the rooms and ids are read from the
 *                                   sockets answered)
 *   8  FETCH_SOCKETS_RESPONSE       {requestId, sockets}
 *   9  SERVER_SIDE_EMIT             SERVER_SIDE_EMIT {requestId?, data: packet}
 *   10 SERVER_SIDE_EMIT_RESPONSE    {type 6, requestId, data: packet}
 *   11 BROADCAST_CLIENT_COUNT       {type 8, requestId, clientCount}
 *   12 BROADCAST_ACK                an ack: request id and the packet as its argument
 *
 * Pure: no I/O. */
#ifndef CC_ADAPTER_SHARDED_CLASSIC_H
#define CC_ADAPTER_SHARDED_CLASSIC_H

#include "adapter_msg.h"
#include "adapter_request.h"
#include "adapter_sharded.h"
#include "sbuf.h"

#include <jansson.h>

/* A request message (4, 5, 6, 7, 9) as the classic request it stands for, its uid the
 * message's. Returns 0 with out filled (free with adapter_request_free), or -1 when m is no
 * such request or its data is not an object (out empty). */
int adapter_sharded_request_read(const adapter_sharded_msg_t *m, adapter_request_t *out);

/* A BROADCAST (3): the packet's data array with its attachments, opts.rooms, opts.except,
 * opts.flags (volatile, timeout) and requestId when a string. uid and nsp are the message's;
 * type is SIO_EVENT, id -1. Returns 0 with out owning its memory (free with
 * amsg_broadcast_free), or -1 when m is not a broadcast whose packet data is an array. */
int adapter_sharded_broadcast_read(const adapter_sharded_msg_t *m, amsg_broadcast_t *out);

/* A response message (8, 10, 11, 12) as the classic response. Returns 0 with out filled (free
 * with adapter_response_free), or -1 when m is none or has no string requestId. */
int adapter_sharded_response_read(const adapter_sharded_msg_t *m, adapter_response_t *out);

/* Appends the message for the classic request document req (as adapter_request_new and
 * adapter_request_set build it) sent by uid in nsp. Returns 0, or -1 when req is not a
 * request the sharded adapter can carry (out unchanged). */
int adapter_sharded_request_write(sbuf_t *out, const json_t *req, amsg_str_t uid, amsg_str_t nsp);

/* Appends the BROADCAST message for b (uid, nsp, data with its attachments, rooms, except,
 * flags volatile and timeout, request_id when b->request_id.s is set). msgpack when the data
 * carries attachments, JSON otherwise. Returns 0 or a negative ADAPTER_SHARDED_E* code. */
int adapter_sharded_broadcast_write(sbuf_t *out, const amsg_broadcast_t *b);

/* Appends a response message of type (8, 10, 11 or 12) from uid in nsp:
 * data {"requestId": request_id, <member>: value}, value the JSON text with attachments
 * (value->json NULL: member left out). Returns 0 or a negative ADAPTER_SHARDED_E* code. */
int adapter_sharded_response_write(sbuf_t *out, int type, const char *request_id,
                                   const char *member, const mpjson_value_t *value, amsg_str_t uid,
                                   amsg_str_t nsp);

#endif
