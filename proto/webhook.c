/* Webhooks' wire rules (see webhook.h). */
#include "webhook.h"
#include "alloc.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int webhook_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > WEBHOOK_ID_MAX) return -1;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return -1;
    }
    return 0;
}

int webhook_url_valid(const char *url)
{
    size_t len = strlen(url), skip;
    if (len > WEBHOOK_URL_MAX) return -1;
    if (strncmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f) return -1;
    }
    /* a host: something before the first '/', '?' or '#', not only userinfo or a port */
    const char *host = url + skip;
    size_t hlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hlen);
    if (at) {
        hlen -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    if (hlen == 0 || host[0] == ':') return -1;
    return 0;
}

static int get_uint(const json_t *doc, const char *key, unsigned def, unsigned min, unsigned max,
                    unsigned *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(doc, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
        json_integer_value(v) > (json_int_t)max)
        return fail(err, errlen, "%s must be an integer from %u to %u", key, min, max);
    *out = (unsigned)json_integer_value(v);
    return 0;
}

int webhook_endpoint_parse(const json_t *doc, webhook_endpoint_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(doc)) return fail(err, errlen, "an endpoint must be a JSON object");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)doc, key, v)
    {
        if (strcmp(key, "id") && strcmp(key, "url") && strcmp(key, "events") &&
            strcmp(key, "secret") && strcmp(key, "batch_max") && strcmp(key, "timeout_ms"))
            return fail(err, errlen, "unknown member \"%.40s\"",
                        utf8_valid(key, strlen(key)) ? key : "?");
    }
    v = json_object_get(doc, "id");
    if (v &&
        (!json_is_string(v) || webhook_id_valid(json_string_value(v), json_string_length(v)) < 0))
        return fail(err, errlen, "id must be 1-%d characters of A-Z a-z 0-9 _ -", WEBHOOK_ID_MAX);
    const json_t *url = json_object_get(doc, "url");
    if (!json_is_string(url) || strlen(json_string_value(url)) != json_string_length(url) ||
        webhook_url_valid(json_string_value(url)) < 0)
        return fail(err, errlen,
                    "url must be an http:// or https:// URL with a host, at most %d bytes, "
                    "no spaces",
                    WEBHOOK_URL_MAX);
    const json_t *secret = json_object_get(doc, "secret");
    if (!json_is_string(secret) || json_string_length(secret) == 0 ||
        json_string_length(secret) > WEBHOOK_SECRET_MAX ||
        strlen(json_string_value(secret)) != json_string_length(secret))
        return fail(err, errlen, "secret must be a string of 1-%d bytes", WEBHOOK_SECRET_MAX);
    const json_t *events = json_object_get(doc, "events");
    if (!json_is_array(events) || json_array_size(events) == 0)
        return fail(err, errlen, "events must be a non-empty array of event types, or [\"*\"]");
    uint32_t types = 0;
    int all = 0;
    size_t i;
    json_array_foreach(events, i, v)
    {
        if (!json_is_string(v)) return fail(err, errlen, "events must hold strings");
        const char *name = json_string_value(v);
        size_t nlen = json_string_length(v);
        if (nlen == 1 && name[0] == '*') {
            all = 1;
            continue;
        }
        int t = cluster_event_parse_name(name, nlen);
        if (t < 0)
            return fail(err, errlen, "unknown event type \"%.40s\"",
                        utf8_valid(name, nlen) && strlen(name) == nlen ? name : "?");
        types |= 1u << t;
    }
    if (all) types = (1u << CLUSTER_EVENT_COUNT) - 1;
    unsigned batch, timeout;
    if (get_uint(doc, "batch_max", WEBHOOK_BATCH_DEFAULT, 1, WEBHOOK_BATCH_MAX, &batch, err,
                 errlen) < 0 ||
        get_uint(doc, "timeout_ms", WEBHOOK_TIMEOUT_DEFAULT_MS, WEBHOOK_TIMEOUT_MIN_MS,
                 WEBHOOK_TIMEOUT_MAX_MS, &timeout, err, errlen) < 0)
        return -1;
    const json_t *id = json_object_get(doc, "id");
    if (id) memcpy(out->id, json_string_value(id), json_string_length(id) + 1);
    out->url = xstrdup(json_string_value(url));
    out->secret = xstrdup(json_string_value(secret));
    out->types = types;
    out->all = all;
    out->batch_max = batch;
    out->timeout_ms = timeout;
    return 0;
}

int webhook_endpoint_parse_text(const char *text, size_t len, webhook_endpoint_t *out, char *err,
                                size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > WEBHOOK_DOC_MAX) return fail(err, errlen, "the endpoint's document is too long");
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) return fail(err, errlen, "not JSON: %s", je.text);
    int rc = webhook_endpoint_parse(doc, out, err, errlen);
    json_decref(doc);
    return rc;
}

void webhook_endpoint_free(webhook_endpoint_t *e)
{
    if (!e) return;
    free(e->url);
    free(e->secret);
    e->url = e->secret = NULL;
}

json_t *webhook_endpoint_json(const webhook_endpoint_t *e, int with_secret)
{
    json_t *events = json_array();
    if (!events) return NULL;
    if (e->all)
        json_array_append_new(events, json_string("*"));
    else
        for (int t = 0; t < CLUSTER_EVENT_COUNT; t++)
            if (e->types & (1u << t))
                json_array_append_new(events,
                                      json_string(cluster_event_name((cluster_event_type_t)t)));
    json_t *doc =
        json_pack("{s:s,s:s,s:o,s:i,s:i}", "id", e->id, "url", e->url ? e->url : "", "events",
                  events, "batch_max", (int)e->batch_max, "timeout_ms", (int)e->timeout_ms);
    if (doc && !e->id[0]) json_object_del(doc, "id"); /* not named yet */
    if (doc && with_secret && json_object_set_new(doc, "secret", json_string(e->secret)) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int webhook_endpoint_wants(const webhook_endpoint_t *e, int t)
{
    return t >= 0 && t < CLUSTER_EVENT_COUNT && (e->types & (1u << t)) ? 1 : 0;
}

void webhook_key_endpoints(sbuf_t *b, const char *prefix)
{
    sbuf_reset(b);
    sbuf_append_str(b, prefix);
    sbuf_append_str(b, ":webhooks");
}

void webhook_key_dead(sbuf_t *b, const char *prefix)
{
    sbuf_reset(b);
    sbuf_append_str(b, prefix);
    sbuf_append_str(b, ":webhooks:dead");
}

void webhook_group(sbuf_t *b, const char *prefix, const char *id)
{
    sbuf_reset(b);
    sbuf_append_str(b, prefix);
    sbuf_append_str(b, ":wh:");
    sbuf_append_str(b, id);
}

static void mac(const char *secret, size_t secret_len, int64_t ts, const char *body,
                size_t body_len, uint8_t out[SHA256_DIGEST_LEN])
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64 ".", ts);
    hmac_sha256_ctx_t c;
    hmac_sha256_init(&c, secret, secret_len);
    hmac_sha256_update(&c, t, (size_t)n);
    hmac_sha256_update(&c, body, body_len);
    hmac_sha256_final(&c, out);
}

void webhook_sign(const char *secret, size_t secret_len, int64_t ts, const char *body,
                  size_t body_len, char out[WEBHOOK_SIG_SIZE])
{
    uint8_t d[SHA256_DIGEST_LEN];
    mac(secret, secret_len, ts, body, body_len, d);
    memcpy(out, "v1=", 3);
    sha256_hex(d, out + 3);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int webhook_verify(const char *secret, size_t secret_len, int64_t ts, const char *body,
                   size_t body_len, const char *sig)
{
    if (!sig || strncmp(sig, "v1=", 3) != 0 || strlen(sig) != 3 + 2 * SHA256_DIGEST_LEN) return 0;
    uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
    for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) {
        int hi = hexval(sig[3 + 2 * i]), lo = hexval(sig[4 + 2 * i]);
        if (hi < 0 || lo < 0) return 0;
        got[i] = (uint8_t)(hi << 4 | lo);
    }
    mac(secret, secret_len, ts, body, body_len, want);
    return sha256_equal(want, got);
}

char *webhook_body(const char *id, const json_t *events, size_t *len)
{
    json_t *doc = json_pack("{s:s,s:O}", "webhook", id, "events", (json_t *)events);
    if (!doc) return NULL;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text && len) *len = strlen(text);
    return text;
}

uint64_t webhook_backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms, uint64_t rnd,
                            int64_t retry_after_s)
{
    if (attempt == 0) attempt = 1;
    uint64_t cap = min_ms;
    for (unsigned i = 1; i < attempt && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    if (cap > max_ms) cap = max_ms;
    uint64_t d = cap == UINT64_MAX ? rnd : rnd % (cap + 1);
    if (retry_after_s > 0) {
        uint64_t ra = (uint64_t)retry_after_s > UINT64_MAX / 1000 ? UINT64_MAX
                                                                  : (uint64_t)retry_after_s * 1000;
        if (ra > d) d = ra;
    }
    return d > max_ms ? max_ms : d;
}
