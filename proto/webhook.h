/* Webhooks' wire rules: an endpoint's document (from --webhooks-file, the REST API and the
 * P:webhooks hash) and its checks, the Redis names of the endpoints, their consumer groups
 * and the dead letters, the delivery body, the signature and its headers, and the retry
 * delay. Pure: no I/O, no clock (callers pass the time and the randomness).
 *
 *   P:webhooks        hash     endpoint id -> the endpoint's document (secret included)
 *   P:wh:<id>         group    the endpoint's consumer group on P:events
 *   P:webhooks:dead   stream   batches given up: endpoint, events, error, attempts, times
 */
#ifndef CC_WEBHOOK_H
#define CC_WEBHOOK_H

#include "cluster_event.h"
#include "sbuf.h"
#include "sha256.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_ID_MAX             64   /* an endpoint id: 1..64 of [A-Za-z0-9_-] */
#define WEBHOOK_URL_MAX            2048 /* bytes of an endpoint's URL */
#define WEBHOOK_SECRET_MAX         512  /* bytes of a secret (at least 1) */
#define WEBHOOK_BATCH_DEFAULT      100
#define WEBHOOK_BATCH_MAX          1000
#define WEBHOOK_TIMEOUT_DEFAULT_MS 10000
#define WEBHOOK_TIMEOUT_MIN_MS     100
#define WEBHOOK_TIMEOUT_MAX_MS     60000
#define WEBHOOK_DOC_MAX            8192 /* bytes of an endpoint's JSON document */
#define WEBHOOK_ENDPOINTS_MAX      100 /* endpoints P:webhooks holds at most (the API refuses more) */

/* The event type of a test delivery (POST /api/v1/webhooks/{id}/test); never in P:events. */
#define WEBHOOK_TEST_EVENT "webhook_test"

/* The headers of a delivery. */
#define WEBHOOK_HDR_TIMESTAMP "X-Chatcluster-Timestamp"
#define WEBHOOK_HDR_SIGNATURE "X-Chatcluster-Signature"
#define WEBHOOK_HDR_ID        "X-Chatcluster-Webhook-Id"
#define WEBHOOK_HDR_DELIVERY  "X-Chatcluster-Delivery"

/* "v1=" and 64 hex digits and a NUL */
#define WEBHOOK_SIG_SIZE (3 + SHA256_HEX_SIZE)

typedef struct {
    char id[WEBHOOK_ID_MAX + 1];
    char *url;      /* owned */
    char *secret;   /* owned */
    uint32_t types; /* bit (1 << cluster_event_type_t) per wanted type */
    int all;        /* events: ["*"] (then types has every bit) */
    unsigned batch_max;
    unsigned timeout_ms;
} webhook_endpoint_t;

/* 0 when id[0..len) is 1..WEBHOOK_ID_MAX characters of A-Z a-z 0-9 _ -, else -1. */
int webhook_id_valid(const char *id, size_t len);

/* 0 when url is http:// or https://, a host follows, at most WEBHOOK_URL_MAX bytes, no space,
 * control character or non-ASCII byte; else -1. */
int webhook_url_valid(const char *url);

/* Reads an endpoint document: {id?, url, events, secret, batch_max?, timeout_ms?}, no other
 * member. Without an id, out->id is "" (the caller names it). Returns 0 with *out filled
 * (free with webhook_endpoint_free), or -1 with a one-line reason in err (out is then empty
 * and needs no freeing). */
int webhook_endpoint_parse(const json_t *doc, webhook_endpoint_t *out, char *err, size_t errlen);
/* The same from JSON text text[0..len) (at most WEBHOOK_DOC_MAX bytes, UTF-8, no duplicate
 * keys), as the P:webhooks hash holds it. */
int webhook_endpoint_parse_text(const char *text, size_t len, webhook_endpoint_t *out, char *err,
                                size_t errlen);
void webhook_endpoint_free(webhook_endpoint_t *e);

/* The endpoint as a new JSON object: id (unless ""), url, events, batch_max, timeout_ms, and the
 * secret when with_secret (what P:webhooks stores) - never in an answer of the API. NULL only when
 * it cannot be made. */
json_t *webhook_endpoint_json(const webhook_endpoint_t *e, int with_secret);

/* 1 when the endpoint wants events of type t (a cluster_event_type_t), else 0. */
int webhook_endpoint_wants(const webhook_endpoint_t *e, int t);

/* Resets b to P:webhooks, P:webhooks:dead, or P:wh:<id> (the endpoint's consumer group). */
void webhook_key_endpoints(sbuf_t *b, const char *prefix);
void webhook_key_dead(sbuf_t *b, const char *prefix);
void webhook_group(sbuf_t *b, const char *prefix, const char *id);

/* Writes "v1=<hex of HMAC-SHA256(secret, "<ts>.<body>")>" to out. */
void webhook_sign(const char *secret, size_t secret_len, int64_t ts, const char *body,
                  size_t body_len, char out[WEBHOOK_SIG_SIZE]);

/* 1 when sig (a header's value) is a v1 signature of "<ts>.<body>" under secret, compared in
 * constant time; else 0. For receivers and tests. */
int webhook_verify(const char *secret, size_t secret_len, int64_t ts, const char *body,
                   size_t body_len, const char *sig);

/* The delivery body {"webhook": id, "events": events} as compact JSON text (a new string to
 * free), or NULL when it cannot be made. events is borrowed. */
char *webhook_body(const char *id, const json_t *events, size_t *len);

/* The delay before retry number attempt (1 for the first retry) with full jitter: uniform in
 * [0, cap] where cap = min(max_ms, min_ms * 2^(attempt-1)), drawn from rnd; then at least
 * retry_after_s seconds when the receiver asked for them (>= 0), still at most max_ms. */
uint64_t webhook_backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms, uint64_t rnd,
                            int64_t retry_after_s);

#endif
