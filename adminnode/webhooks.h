/* Webhook delivery: the endpoints (--webhooks-file and the P:webhooks hash, reread every
 * --webhooks-refresh-ms), one consumer group per endpoint on P:events, a batch at a time per
 * endpoint signed and POSTed through the HTTP client, retries with capped, jittered backoff,
 * dead letters, and the figures /metrics and the API show. Each endpoint's group advances
 * only when its batch is delivered or dead-lettered, so a slow endpoint holds only itself. */
#ifndef CC_WEBHOOKS_H
#define CC_WEBHOOKS_H

#include "http_client.h"
#include "sbuf.h"
#include "webhook.h"

#include <jansson.h>

typedef struct webhooks webhooks_t;

/* What webhooks_start needs (borrowed for the engine's life). */
typedef struct {
    const char *prefix;   /* --control-prefix */
    const char *file;     /* --webhooks-file, "" for none */
    const char *consumer; /* this process's consumer name in the groups */
    uint64_t poll_ms, refresh_ms, retry_min_ms, retry_max_ms, give_up_ms, claim_idle_ms;
    long long dead_max_len;
} webhooks_options_t;

struct bus;

/* Reads the file endpoints and, with bus (may be NULL: nothing is delivered then, the API
 * answers 503), starts delivering. Returns the engine, or NULL with a reason in err (the
 * file cannot be read or holds a bad endpoint). */
webhooks_t *webhooks_start(uv_loop_t *loop, struct bus *bus, const webhooks_options_t *o, char *err,
                           size_t errlen);

/* Stops delivering: requests in flight are cancelled, the HTTP client closed; the engine is
 * freed from the loop once its last bus reply came back (call before bus_close, whose
 * cancellations deliver those). NULL is a no-op. */
void webhooks_stop(webhooks_t *wh);

/* New events were added (a message on P:events:new): every endpoint waiting for events reads
 * now instead of at its next poll. */
void webhooks_wake(webhooks_t *wh);

/* Rereads P:webhooks now (after the API changed it). */
void webhooks_refresh(webhooks_t *wh);

/* The file endpoint of that id, or NULL (borrowed). */
const webhook_endpoint_t *webhooks_file_endpoint(const webhooks_t *wh, const char *id);
/* The file endpoints, in the file's order (borrowed), and their count. */
const webhook_endpoint_t *webhooks_file_endpoints(const webhooks_t *wh, size_t *n);
/* An endpoint known to this engine (file, or from the hash at its last reading), or NULL. */
const webhook_endpoint_t *webhooks_endpoint(const webhooks_t *wh, const char *id);

/* This process's delivery figures for endpoint id as a new object (zeros when unknown). */
json_t *webhooks_stats_json(const webhooks_t *wh, const char *id);

/* Appends the chatcluster_webhook_* metrics (Prometheus text). */
void webhooks_metrics(const webhooks_t *wh, sbuf_t *out);

/* The result of webhooks_send: the HTTP client's result (borrowed for the call); delivered is
 * 1 when the receiver answered 2xx. */
typedef void (*webhooks_send_cb)(void *ud, int delivered, const http_client_result_t *r);

/* POSTs events (a JSON array, borrowed) to e signed, as a delivery does. Returns 0 and cb fires
 * once later (*id, when id is not NULL, is the request's id for http_client_cancel), or a
 * negative HTTP_CLIENT_E* code (cb never fires). */
int webhooks_send(webhooks_t *wh, const webhook_endpoint_t *e, const json_t *events,
                  webhooks_send_cb cb, void *ud, uint64_t *id);

/* The engine's bus (NULL when there is none or it is stopping) and options. */
struct bus *webhooks_bus(const webhooks_t *wh);
const webhooks_options_t *webhooks_options(const webhooks_t *wh);

/* A new random 32-hex-digit id (delivery ids, endpoint ids the API names). */
void webhooks_random_id(char out[33]);

#endif
