/* libFuzzer driver: proto/webhook.c. An endpoint document from any bytes: refused with a
 * reason, or read into an endpoint whose every field obeys its rule, whose document (secret
 * included) reads back into the same endpoint, and whose signature verifies. */
#include "webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    webhook_endpoint_t e, again;
    char err[256];
    if (webhook_endpoint_parse_text((const char *)data, size, &e, err, sizeof err) < 0) {
        if (!err[0] || e.url || e.secret) abort();
        return 0;
    }
    if (!e.url || !e.secret || webhook_url_valid(e.url) < 0 || !e.secret[0] || e.batch_max < 1 ||
        e.batch_max > WEBHOOK_BATCH_MAX || e.timeout_ms < WEBHOOK_TIMEOUT_MIN_MS ||
        e.timeout_ms > WEBHOOK_TIMEOUT_MAX_MS || e.types == 0 ||
        (e.id[0] && webhook_id_valid(e.id, strlen(e.id)) < 0))
        abort();
    json_t *doc = webhook_endpoint_json(&e, 1);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!text) abort();
    if (webhook_endpoint_parse_text(text, strlen(text), &again, err, sizeof err) < 0) abort();
    if (strcmp(again.id, e.id) || strcmp(again.url, e.url) || strcmp(again.secret, e.secret) ||
        again.types != e.types || again.all != e.all || again.batch_max != e.batch_max ||
        again.timeout_ms != e.timeout_ms)
        abort();
    char sig[WEBHOOK_SIG_SIZE];
    webhook_sign(e.secret, strlen(e.secret), 1, text, strlen(text), sig);
    if (!webhook_verify(again.secret, strlen(again.secret), 1, text, strlen(text), sig)) abort();
    free(text);
    json_decref(doc);
    webhook_endpoint_free(&e);
    webhook_endpoint_free(&again);
    return 0;
}
