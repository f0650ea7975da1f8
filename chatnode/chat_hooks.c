/* The chat's HTTP hooks (see chat_hooks.h): the client both hooks share, the auth hook's
 * requests and cache, the publish hook's per-sender order, the counters. */
#include "chat_hooks.h"
#include "alloc.h"
#include "cluster.h"
#include "http_client.h"
#include "log.h"
#include "server.h"
#include "sha256.h"
#include "strmap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Admitted sign-ins the cache keeps at most (each a few hundred bytes to a few KiB). */
#define CACHE_MAX 1024
/* The largest answer read; a larger one is no answer. */
#define ANSWER_MAX_BYTES (256 * 1024)
#define HEADERS_MAX      32

typedef struct {
    uint64_t requests, admitted, refused, rewritten, unavailable, timeouts, cache_hits, in_flight;
} counters_t;

/* An admitted answer kept for cache_s, under the hash of the request that got it. */
typedef struct cache_entry {
    char key[SHA256_HEX_SIZE];
    char *answer; /* hook_auth_encode's text */
    uint64_t expires_ms;
    struct cache_entry *prev, *next; /* oldest first */
} cache_entry_t;

typedef struct pub_queue pub_queue_t;

struct chat_hooks {
    server_t *srv;
    sio_server_t *sio;
    const chat_config_t *cfg;
    http_client_t *http;
    int auth_jwt, publish_accept;
    char **headers;
    size_t nheaders;
    counters_t auth, pub;
    strmap_t cache;
    cache_entry_t *oldest, *newest;
    size_t ncache;
    strmap_t queues; /* socket id -> pub_queue_t */
};

/* A request to the auth hook: a sign-in (s's socket data meanwhile), or a re-check (check
 * set: s is not held, ud finds it again). */
typedef struct {
    chat_hooks_t *h;
    sio_socket_t *s;
    chat_hooks_auth_cb cb;
    chat_hooks_check_cb check;
    void *ud;
    uint64_t id;
    int abandoned;
    char key[SHA256_HEX_SIZE];
} auth_req_t;

/* A message waiting for its verdict, in its sender's queue. */
typedef struct pub_item {
    struct pub_item *next;
    pub_queue_t *q;
    chat_hooks_publish_cb cb;
    void *ud;
    int done;
    hook_publish_t answer;
} pub_item_t;

struct pub_queue {
    chat_hooks_t *h;
    char sid[64];
    pub_item_t *head, *tail;
    int draining;
};

static const char *node_name(const chat_hooks_t *h)
{
    const cluster_t *c = sio_server_cluster(h->sio);
    return c ? cluster_uid(c) : h->srv->tag;
}

static int is_http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* --auth-hook-headers into h->headers: names of [A-Za-z0-9_-], lowercased. */
static int parse_headers(chat_hooks_t *h, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && end[-1] == ' ') end--;
        if (end == start) continue;
        for (const char *c = start; c < end; c++) {
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) {
                snprintf(err, errlen, "--auth-hook-headers: \"%.*s\" is not a header name",
                         (int)(end - start), start);
                return -1;
            }
        }
        if (h->nheaders == HEADERS_MAX) {
            snprintf(err, errlen, "--auth-hook-headers: at most %d names", HEADERS_MAX);
            return -1;
        }
        char *name = xstrndup(start, (size_t)(end - start));
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
        h->headers = xrealloc(h->headers, (h->nheaders + 1) * sizeof *h->headers);
        h->headers[h->nheaders++] = name;
    }
    return 0;
}

static void hooks_free(chat_hooks_t *h)
{
    for (size_t i = 0; i < h->nheaders; i++) free(h->headers[i]);
    free(h->headers);
    while (h->oldest) {
        cache_entry_t *e = h->oldest;
        h->oldest = e->next;
        free(e->answer);
        free(e);
    }
    strmap_free(&h->cache);
    strmap_free(&h->queues);
    free(h);
}

int chat_hooks_new(chat_hooks_t **out, server_t *srv, sio_server_t *sio, const chat_config_t *cfg,
                   char *err, size_t errlen)
{
    *out = NULL;
    int auth = cfg->auth_hook && *cfg->auth_hook, pub = cfg->publish_hook && *cfg->publish_hook;
    if (!auth && !pub) return 0;
    if ((auth && !is_http_url(cfg->auth_hook)) || (pub && !is_http_url(cfg->publish_hook))) {
        snprintf(err, errlen, "hook URLs must be http:// or https://");
        return -1;
    }
    const char *af = cfg->auth_hook_fallback, *pf = cfg->publish_hook_fallback;
    if (strcmp(af, "refuse") != 0 && strcmp(af, "jwt") != 0) {
        snprintf(err, errlen, "--auth-hook-fallback must be refuse or jwt");
        return -1;
    }
    if (strcmp(pf, "refuse") != 0 && strcmp(pf, "accept") != 0) {
        snprintf(err, errlen, "--publish-hook-fallback must be refuse or accept");
        return -1;
    }
    chat_hooks_t *h = xcalloc(1, sizeof *h);
    h->srv = srv;
    h->sio = sio;
    h->cfg = cfg;
    h->auth_jwt = strcmp(af, "jwt") == 0;
    h->publish_accept = strcmp(pf, "accept") == 0;
    if (parse_headers(h, cfg->auth_hook_headers, err, errlen) < 0) {
        hooks_free(h);
        return -1;
    }
    http_client_options_t o;
    http_client_options_init(&o);
    o.max_inflight = (size_t)(cfg->auth_hook_max_inflight + cfg->publish_hook_max_inflight);
    o.max_connections = 128;
    o.max_host_connections = 64; /* a node and its application: keep answers flowing */
    o.max_body_bytes = ANSWER_MAX_BYTES;
    o.ca_file = cfg->hook_ca_file && *cfg->hook_ca_file ? cfg->hook_ca_file : NULL;
    h->http = http_client_new(sio_server_loop(sio), &o);
    if (!h->http) {
        snprintf(err, errlen, "the HTTP client cannot start");
        hooks_free(h);
        return -1;
    }
    *out = h;
    return 0;
}

int chat_hooks_has_auth(const chat_hooks_t *h)
{
    return h && h->cfg->auth_hook && *h->cfg->auth_hook;
}

int chat_hooks_has_publish(const chat_hooks_t *h)
{
    return h && h->cfg->publish_hook && *h->cfg->publish_hook;
}

int chat_hooks_auth_fallback_jwt(const chat_hooks_t *h)
{
    return h && h->auth_jwt;
}

int chat_hooks_publish_fallback_accept(const chat_hooks_t *h)
{
    return h && h->publish_accept;
}

size_t chat_hooks_header_names(const chat_hooks_t *h, const char *const **names)
{
    *names = h ? (const char *const *)h->headers : NULL;
    return h ? h->nheaders : 0;
}

static int post(chat_hooks_t *h, const char *url, uint32_t timeout_ms, const sbuf_t *body,
                http_client_done_cb cb, void *ud, uint64_t *id)
{
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json"};
    http_client_request_t req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .nheaders = 2,
        .body = body->data,
        .body_len = body->len,
        .timeout_ms = timeout_ms,
    };
    return http_client_request(h->http, &req, cb, ud, id);
}

/* ---- the auth hook ---- */

static uint64_t now_ms(const chat_hooks_t *h)
{
    return uv_now(sio_server_loop(h->sio));
}

static void cache_unlink(chat_hooks_t *h, cache_entry_t *e)
{
    strmap_del(&h->cache, e->key, SHA256_HEX_SIZE - 1);
    if (e->prev)
        e->prev->next = e->next;
    else
        h->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        h->newest = e->prev;
    h->ncache--;
    free(e->answer);
    free(e);
}

/* A cached answer for key, read into *a: 1, else 0 (an expired one is dropped). */
static int cache_get(chat_hooks_t *h, const char *key, hook_auth_t *a)
{
    cache_entry_t *e = strmap_get(&h->cache, key, SHA256_HEX_SIZE - 1);
    if (!e) return 0;
    if (e->expires_ms <= now_ms(h) ||
        hook_auth_parse(200, e->answer, strlen(e->answer), SIZE_MAX, a) != HOOK_ADMIT) {
        hook_auth_free(a);
        cache_unlink(h, e);
        return 0;
    }
    return 1;
}

static void cache_put(chat_hooks_t *h, const char *key, const hook_auth_t *a)
{
    sbuf_t text = SBUF_INIT;
    if (hook_auth_encode(a, &text) < 0) {
        sbuf_free(&text);
        return;
    }
    cache_entry_t *old = strmap_get(&h->cache, key, SHA256_HEX_SIZE - 1);
    if (old) cache_unlink(h, old);
    while (h->ncache >= CACHE_MAX) cache_unlink(h, h->oldest);
    cache_entry_t *e = xcalloc(1, sizeof *e);
    memcpy(e->key, key, SHA256_HEX_SIZE);
    e->answer = text.data;
    e->expires_ms = now_ms(h) + (uint64_t)a->cache_s * 1000;
    e->prev = h->newest;
    if (h->newest)
        h->newest->next = e;
    else
        h->oldest = e;
    h->newest = e;
    h->ncache++;
    strmap_put(&h->cache, e->key, SHA256_HEX_SIZE - 1, e);
}

static void auth_unavailable(chat_hooks_t *h, hook_auth_t *a, const char *reason)
{
    memset(a, 0, sizeof *a);
    a->verdict = HOOK_UNAVAILABLE;
    a->reason = reason;
    h->auth.unavailable++;
    log_info("auth hook unavailable", "reason=\"%s\"", reason);
}

static void count_auth(chat_hooks_t *h, const hook_auth_t *a)
{
    if (a->verdict == HOOK_ADMIT) h->auth.admitted++;
    if (a->verdict == HOOK_REFUSE) h->auth.refused++;
    if (a->verdict == HOOK_UNAVAILABLE) {
        h->auth.unavailable++;
        log_info("auth hook unavailable", "reason=\"%s\"", a->reason ? a->reason : "-");
    }
}

static void on_auth_done(void *ud, const http_client_result_t *r)
{
    auth_req_t *req = ud;
    chat_hooks_t *h = req->h;
    sio_socket_t *s = req->s;
    h->auth.in_flight--;
    if (req->check && r->err == HTTP_CLIENT_ECANCELED) { /* the hooks are closing */
        req->check(req->ud, NULL);
        free(req);
        return;
    }
    if (req->abandoned || r->err == HTTP_CLIENT_ECANCELED) {
        /* abandoned (its data is cleared already), or the hooks are closing */
        if (!req->abandoned) sio_socket_set_data(s, NULL);
        free(req);
        return;
    }
    hook_auth_t a;
    if (r->err) {
        if (r->err == HTTP_CLIENT_ETIMEDOUT) h->auth.timeouts++;
        memset(&a, 0, sizeof a);
        a.verdict = HOOK_UNAVAILABLE;
        a.reason = http_client_strerror(r->err);
    } else {
        hook_auth_parse(r->status, r->body, r->body_len, (size_t)h->cfg->max_rooms, &a);
    }
    count_auth(h, &a);
    if (a.verdict == HOOK_ADMIT && a.cache_s > 0) cache_put(h, req->key, &a);
    if (req->check) {
        chat_hooks_check_cb check = req->check;
        void *cud = req->ud;
        free(req);
        check(cud, &a);
        hook_auth_free(&a);
        return;
    }
    chat_hooks_auth_cb cb = req->cb;
    sio_socket_set_data(s, NULL);
    free(req);
    cb(s, &a);
    hook_auth_free(&a);
}

/* Asks the auth hook about s's auth for req (a template: h, s and the callback set; copied when
 * the request starts). Returns as chat_hooks_auth does. */
static int auth_ask(chat_hooks_t *h, const auth_req_t *tmpl, const char *auth, size_t auth_len,
                    hook_auth_t *answer)
{
    sio_socket_t *s = tmpl->s;
    sio_handshake_t hs;
    sio_socket_handshake(s, &hs);
    size_t nsp_len;
    const char *nsp = sio_nsp_name(sio_socket_nsp(s), &nsp_len);
    sbuf_t body = SBUF_INIT;
    if (hook_auth_request(&body, auth, auth_len, hs.address, sio_socket_headers(s), nsp, nsp_len,
                          node_name(h)) < 0) {
        sbuf_free(&body);
        auth_unavailable(h, answer, "the request cannot be encoded");
        return 1;
    }
    uint8_t digest[SHA256_DIGEST_LEN];
    char key[SHA256_HEX_SIZE];
    sha256(body.data, body.len, digest);
    sha256_hex(digest, key);
    if (cache_get(h, key, answer)) {
        sbuf_free(&body);
        h->auth.cache_hits++;
        h->auth.admitted++;
        return 1;
    }
    if (h->auth.in_flight >= (uint64_t)h->cfg->auth_hook_max_inflight) {
        sbuf_free(&body);
        auth_unavailable(h, answer, "too many sign-ins wait for the hook");
        return 1;
    }
    auth_req_t *req = xmemdup(tmpl, sizeof *tmpl);
    memcpy(req->key, key, sizeof key);
    int rc = post(h, h->cfg->auth_hook, (uint32_t)h->cfg->auth_hook_timeout_ms, &body, on_auth_done,
                  req, &req->id);
    sbuf_free(&body);
    if (rc < 0) {
        free(req);
        auth_unavailable(h, answer, http_client_strerror(rc));
        return 1;
    }
    h->auth.requests++;
    h->auth.in_flight++;
    if (!tmpl->check) sio_socket_set_data(s, req);
    return 0;
}

int chat_hooks_auth(chat_hooks_t *h, sio_socket_t *s, const char *auth, size_t auth_len,
                    chat_hooks_auth_cb cb, hook_auth_t *answer)
{
    auth_req_t tmpl = {.h = h, .s = s, .cb = cb};
    return auth_ask(h, &tmpl, auth, auth_len, answer);
}

int chat_hooks_auth_check(chat_hooks_t *h, sio_socket_t *s, const char *auth, size_t auth_len,
                          chat_hooks_check_cb cb, void *ud, hook_auth_t *answer)
{
    auth_req_t tmpl = {.h = h, .s = s, .check = cb, .ud = ud};
    return auth_ask(h, &tmpl, auth, auth_len, answer);
}

void chat_hooks_auth_abandon(chat_hooks_t *h, sio_socket_t *s)
{
    auth_req_t *req = sio_socket_data(s);
    if (!h || !req) return;
    sio_socket_set_data(s, NULL);
    req->abandoned = 1;
    /* its callback fires (and frees req) before this returns */
    if (http_client_cancel(h->http, req->id) != 0) log_error("auth hook request lost", NULL);
}

/* ---- the publish hook ---- */

static void count_pub(chat_hooks_t *h, const hook_publish_t *a)
{
    switch (a->verdict) {
    case HOOK_ACCEPT: h->pub.admitted++; break;
    case HOOK_REWRITE: h->pub.rewritten++; break;
    case HOOK_REFUSE: h->pub.refused++; break;
    default:
        h->pub.unavailable++;
        log_info("publish hook unavailable", "reason=\"%s\"", a->reason ? a->reason : "-");
        break;
    }
}

/* Hands out the verdicts at the head of q that are in, in order; frees q once empty. */
static void drain(pub_queue_t *q)
{
    if (q->draining) return;
    q->draining = 1;
    chat_hooks_t *h = q->h;
    while (q->head && q->head->done) {
        pub_item_t *it = q->head;
        q->head = it->next;
        if (!q->head) q->tail = NULL;
        count_pub(h, &it->answer);
        it->cb(it->ud, &it->answer);
        hook_publish_free(&it->answer);
        free(it);
    }
    q->draining = 0;
    if (!q->head) {
        strmap_del(&h->queues, q->sid, strlen(q->sid));
        free(q);
    }
}

static void on_pub_done(void *ud, const http_client_result_t *r)
{
    pub_item_t *it = ud;
    chat_hooks_t *h = it->q->h;
    h->pub.in_flight--;
    if (r->err == HTTP_CLIENT_ECANCELED) { /* closing: chat_hooks_close answers it */
        it->answer.verdict = HOOK_UNAVAILABLE;
        it->answer.reason = "closing";
        it->done = 1;
        return;
    }
    if (r->err) {
        if (r->err == HTTP_CLIENT_ETIMEDOUT) h->pub.timeouts++;
        it->answer.verdict = HOOK_UNAVAILABLE;
        it->answer.reason = http_client_strerror(r->err);
    } else {
        hook_publish_parse(r->status, r->body, r->body_len, (size_t)h->cfg->max_text, &it->answer);
    }
    it->done = 1;
    drain(it->q);
}

void chat_hooks_publish(chat_hooks_t *h, const chat_hooks_msg_t *m, chat_hooks_publish_cb cb,
                        void *ud)
{
    size_t sid_len = strlen(m->sid);
    pub_queue_t *q = strmap_get(&h->queues, m->sid, sid_len);
    if (!q) {
        q = xcalloc(1, sizeof *q);
        q->h = h;
        snprintf(q->sid, sizeof q->sid, "%s", m->sid);
        strmap_put(&h->queues, q->sid, strlen(q->sid), q);
    }
    pub_item_t *it = xcalloc(1, sizeof *it);
    it->q = q;
    it->cb = cb;
    it->ud = ud;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    sbuf_t body = SBUF_INIT;
    const char *why = NULL;
    uint64_t id;
    if (hook_publish_request(&body, m->private_msg, m->target, m->from_id, m->from_name, m->text,
                             m->text_len, node_name(h)) < 0) {
        why = "the request cannot be encoded";
    } else if (h->pub.in_flight >= (uint64_t)h->cfg->publish_hook_max_inflight) {
        why = "too many messages wait for the hook";
    } else {
        int rc = post(h, h->cfg->publish_hook, (uint32_t)h->cfg->publish_hook_timeout_ms, &body,
                      on_pub_done, it, &id);
        if (rc < 0) why = http_client_strerror(rc);
    }
    sbuf_free(&body);
    if (why) {
        it->answer.verdict = HOOK_UNAVAILABLE;
        it->answer.reason = why;
        it->done = 1;
        drain(q);
        return;
    }
    h->pub.requests++;
    h->pub.in_flight++;
}

/* ---- the rest ---- */

void chat_hooks_close(chat_hooks_t *h)
{
    if (!h) return;
    /* every request's callback fires (cancelled) before this returns */
    http_client_close(h->http, NULL, NULL);
    h->http = NULL;
    void *v;
    for (size_t i = 0; strmap_next(&h->queues, &i, NULL, NULL, &v);) {
        pub_queue_t *q = v;
        while (q->head) {
            pub_item_t *it = q->head;
            q->head = it->next;
            it->cb(it->ud, NULL);
            hook_publish_free(&it->answer);
            free(it);
        }
        free(q);
    }
    hooks_free(h);
}

static void health_counters(sbuf_t *json, const char *name, const counters_t *c, int auth,
                            size_t cached)
{
    sbuf_printf(json,
                "\"%s\":{\"requests\":%llu,\"%s\":%llu,\"refused\":%llu,\"unavailable\":%llu,"
                "\"timeouts\":%llu,\"in_flight\":%llu",
                name, (unsigned long long)c->requests, auth ? "admitted" : "accepted",
                (unsigned long long)c->admitted, (unsigned long long)c->refused,
                (unsigned long long)c->unavailable, (unsigned long long)c->timeouts,
                (unsigned long long)c->in_flight);
    if (auth)
        sbuf_printf(json, ",\"cache_hits\":%llu,\"cached\":%zu}", (unsigned long long)c->cache_hits,
                    cached);
    else
        sbuf_printf(json, ",\"rewritten\":%llu}", (unsigned long long)c->rewritten);
}

void chat_hooks_health(const chat_hooks_t *h, sbuf_t *json)
{
    if (!h) return;
    sbuf_append_str(json, ",\"hooks\":{");
    int auth = chat_hooks_has_auth(h), pub = chat_hooks_has_publish(h);
    if (auth) health_counters(json, "auth", &h->auth, 1, h->ncache);
    if (auth && pub) sbuf_append_char(json, ',');
    if (pub) health_counters(json, "publish", &h->pub, 0, 0);
    sbuf_append_char(json, '}');
}
