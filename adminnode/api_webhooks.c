/* The webhook endpoints of the REST API: list, add, delete and test endpoints, list and
 * replay dead letters. Endpoints added here live in the P:webhooks hash, which every
 * adminnode reads (webhooks.c delivers); those of --webhooks-file are listed but read-only. */
#include "api.h"
#include "alloc.h"
#include "webhooks.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    api_request_t *req;
    webhook_endpoint_t ep;
    char *doc;
    char id[WEBHOOK_ID_MAX + 1];
    char entry[48];
    char *endpoint_filter;
    long limit;
    json_t *events;
} op_t;

static op_t *op_new(api_request_t *req)
{
    op_t *op = xcalloc(1, sizeof *op);
    op->req = req;
    api_defer(req, NULL);
    return op;
}

static void op_free(op_t *op)
{
    api_request_unref(op->req);
    webhook_endpoint_free(&op->ep);
    free(op->doc);
    free(op->endpoint_filter);
    json_decref(op->events);
    free(op);
}

static webhooks_t *engine(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    return an->webhooks;
}

/* Sends a command about key for op (answered 503 and freed when it cannot be sent). */
static void op_command(op_t *op, const sbuf_t *key, int argc, const char **argv, bus_reply_cb cb)
{
    adminnode_t *an = api_app(op->req);
    size_t lens[8];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    if (!an->bus || bus_command_key(an->bus, key->data, key->len, argc, argv, lens, cb, op) < 0) {
        api_respond_error(op->req, 503, "unavailable", "Redis is not available");
        op_free(op);
    }
}

/* 1 when the reply can be used; otherwise op is answered (503) and freed. */
static int op_ok(op_t *op, int status, const redisReply *r)
{
    if (api_request_done(op->req) || status != 0 || !r || r->type == REDIS_REPLY_ERROR) {
        api_respond_error(op->req, 503, "unavailable", "Redis did not answer: %s",
                          r && r->type == REDIS_REPLY_ERROR ? r->str : "connection lost");
        op_free(op);
        return 0;
    }
    return 1;
}

static void key_of(api_request_t *req, sbuf_t *b, int which)
{
    adminnode_t *an = api_app(req);
    if (which == 0)
        webhook_key_endpoints(b, an->cfg->control_prefix);
    else if (which == 1)
        webhook_key_dead(b, an->cfg->control_prefix);
    else
        cluster_event_key(b, an->cfg->control_prefix);
}

/* An endpoint as the API shows it: no secret, its source and this adminnode's figures. */
static json_t *endpoint_view(api_request_t *req, const webhook_endpoint_t *e, const char *source)
{
    json_t *doc = webhook_endpoint_json(e, 0);
    if (!doc) return NULL;
    json_object_set_new(doc, "source", json_string(source));
    json_t *st = webhooks_stats_json(engine(req), e->id);
    if (st) json_object_set_new(doc, "stats", st);
    return doc;
}

/* ---- GET /api/v1/webhooks ---- */

static void on_list(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    if (!op_ok(op, status, r)) return;
    webhooks_t *wh = engine(op->req);
    json_t *list = json_array();
    size_t nfile;
    const webhook_endpoint_t *file = webhooks_file_endpoints(wh, &nfile);
    for (size_t i = 0; i < nfile; i++) {
        json_t *v = endpoint_view(op->req, &file[i], "file");
        if (v) json_array_append_new(list, v);
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *v = r->element[i + 1];
        webhook_endpoint_t e;
        if (!v || v->type != REDIS_REPLY_STRING ||
            webhook_endpoint_parse_text(v->str, v->len, &e, NULL, 0) < 0)
            continue;
        if (!webhooks_file_endpoint(wh, e.id)) {
            json_t *doc = endpoint_view(op->req, &e, "api");
            if (doc) json_array_append_new(list, doc);
        }
        webhook_endpoint_free(&e);
    }
    api_respond_json(op->req, 200, json_pack("{s:o}", "webhooks", list));
    op_free(op);
}

void api_webhooks_list(api_request_t *req)
{
    op_t *op = op_new(req);
    sbuf_t key = SBUF_INIT;
    key_of(req, &key, 0);
    const char *argv[] = {"HGETALL", key.data};
    op_command(op, &key, 2, argv, on_list);
    sbuf_free(&key);
}

/* ---- POST /api/v1/webhooks ---- */

static void on_group_made(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    if (status == 0 && r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0)
        r = NULL, status = 0; /* there already: fine */
    else if (!op_ok(op, status, r))
        return;
    webhooks_refresh(engine(op->req));
    api_respond_json(op->req, 201, endpoint_view(op->req, &op->ep, "api"));
    op_free(op);
}

/* Stored: its group next, from the stream's end, so that events after the answer are
 * delivered (an adminnode that reads the hash first makes the same group). */
static void on_added(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    if (!op_ok(op, status, r)) return;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        api_respond_error(op->req, 409, "conflict", "an endpoint of id %s exists", op->ep.id);
        op_free(op);
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer < 0) {
        api_respond_error(op->req, 409, "conflict", "there are %d endpoints already, the most kept",
                          WEBHOOK_ENDPOINTS_MAX);
        op_free(op);
        return;
    }
    sbuf_t key = SBUF_INIT, group = SBUF_INIT;
    key_of(op->req, &key, 2);
    adminnode_t *an = api_app(op->req);
    webhook_group(&group, an->cfg->control_prefix, op->ep.id);
    const char *argv[] = {"XGROUP", "CREATE", key.data, group.data, "$", "MKSTREAM"};
    op_command(op, &key, 6, argv, on_group_made);
    sbuf_free(&key);
    sbuf_free(&group);
}

void api_webhooks_add(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    webhook_endpoint_t e;
    char err[256];
    if (webhook_endpoint_parse(api_body(req), &e, err, sizeof err) < 0) {
        api_respond_error(req, 400, "bad_request", "%s", err);
        return;
    }
    if (!e.id[0]) {
        char rnd[33];
        webhooks_random_id(rnd);
        memcpy(e.id, rnd, 16);
        e.id[16] = '\0';
    }
    if (webhooks_file_endpoint(an->webhooks, e.id)) {
        api_respond_error(req, 409, "conflict", "endpoint %s is defined by --webhooks-file", e.id);
        webhook_endpoint_free(&e);
        return;
    }
    json_t *doc = webhook_endpoint_json(&e, 1);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        api_respond_error(req, 500, "internal", "the endpoint cannot be stored");
        webhook_endpoint_free(&e);
        return;
    }
    op_t *op = op_new(req);
    op->ep = e;
    op->doc = text;
    /* stored only while the hash holds fewer than the most endpoints kept, in one step */
    static const char lua[] =
        "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end "
        "if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end "
        "return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])";
    char max[16];
    snprintf(max, sizeof max, "%d", WEBHOOK_ENDPOINTS_MAX);
    sbuf_t key = SBUF_INIT;
    key_of(req, &key, 0);
    const char *argv[] = {"EVAL", lua, "1", key.data, op->ep.id, op->doc, max};
    op_command(op, &key, 7, argv, on_added);
    sbuf_free(&key);
}

/* ---- DELETE /api/v1/webhooks/{id} ---- */

static void on_destroyed(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    (void)status;
    (void)r; /* the endpoint is gone from the hash already; a missing group is fine */
    webhooks_refresh(engine(op->req));
    api_respond_json(op->req, 200, json_pack("{s:b,s:s}", "ok", 1, "id", op->id));
    op_free(op);
}

static void on_deleted(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    if (!op_ok(op, status, r)) return;
    if (r->type != REDIS_REPLY_INTEGER || r->integer == 0) {
        api_respond_error(op->req, 404, "not_found", "no endpoint of id %s", op->id);
        op_free(op);
        return;
    }
    adminnode_t *an = api_app(op->req);
    sbuf_t key = SBUF_INIT, group = SBUF_INIT;
    key_of(op->req, &key, 2);
    webhook_group(&group, an->cfg->control_prefix, op->id);
    const char *argv[] = {"XGROUP", "DESTROY", key.data, group.data};
    op_command(op, &key, 4, argv, on_destroyed);
    sbuf_free(&key);
    sbuf_free(&group);
}

void api_webhooks_delete(api_request_t *req)
{
    const char *id = api_param(req, "id");
    if (webhooks_file_endpoint(engine(req), id)) {
        api_respond_error(req, 409, "read_only",
                          "endpoint %s is defined by --webhooks-file: change the file", id);
        return;
    }
    op_t *op = op_new(req);
    snprintf(op->id, sizeof op->id, "%s", id);
    sbuf_t key = SBUF_INIT;
    key_of(req, &key, 0);
    const char *argv[] = {"HDEL", key.data, id};
    op_command(op, &key, 3, argv, on_deleted);
    sbuf_free(&key);
}

/* ---- sending: the test delivery and a replay ---- */

static json_t *result_doc(int delivered, const http_client_result_t *r)
{
    json_t *doc = json_pack("{s:b,s:i,s:f}", "delivered", delivered, "status", (int)r->status,
                            "latency_ms", (double)r->elapsed_us / 1000.0);
    if (doc && r->err) json_object_set_new(doc, "error", json_string(r->error));
    return doc;
}

static void on_test_sent(void *ud, int delivered, const http_client_result_t *r)
{
    op_t *op = ud;
    api_respond_json(op->req, 200, result_doc(delivered, r));
    op_free(op);
}

/* Sends op->events to op->ep; cb answers. */
static void op_send(op_t *op, webhooks_send_cb cb)
{
    webhooks_t *wh = engine(op->req);
    int rc = wh ? webhooks_send(wh, &op->ep, op->events, cb, op, NULL) : HTTP_CLIENT_ECLOSED;
    if (rc < 0) {
        api_respond_error(op->req, 503, "unavailable", "cannot send: %s", http_client_strerror(rc));
        op_free(op);
    }
}

/* The endpoint of op->id: a file one, or read from the hash; then next(op). */
static void with_endpoint(op_t *op, void (*next)(op_t *op));

typedef struct {
    op_t *op;
    void (*next)(op_t *op);
} lookup_t;

static void on_endpoint(void *ud, int status, const redisReply *r)
{
    lookup_t *l = ud;
    op_t *op = l->op;
    void (*next)(op_t *) = l->next;
    free(l);
    if (!op_ok(op, status, r)) return;
    char err[200];
    if (r->type != REDIS_REPLY_STRING) {
        api_respond_error(op->req, 404, "not_found", "no endpoint of id %s", op->id);
        op_free(op);
        return;
    }
    if (webhook_endpoint_parse_text(r->str, r->len, &op->ep, err, sizeof err) < 0) {
        api_respond_error(op->req, 500, "internal", "endpoint %s is stored malformed: %s", op->id,
                          err);
        op_free(op);
        return;
    }
    next(op);
}

static void with_endpoint(op_t *op, void (*next)(op_t *op))
{
    const webhook_endpoint_t *f = webhooks_file_endpoint(engine(op->req), op->id);
    if (f) {
        op->ep = *f;
        op->ep.url = xstrdup(f->url);
        op->ep.secret = xstrdup(f->secret);
        next(op);
        return;
    }
    adminnode_t *an = api_app(op->req);
    sbuf_t key = SBUF_INIT;
    key_of(op->req, &key, 0);
    const char *argv[] = {"HGET", key.data, op->id};
    size_t lens[] = {4, key.len, strlen(op->id)};
    lookup_t *l = xmalloc(sizeof *l);
    *l = (lookup_t){op, next};
    if (!an->bus ||
        bus_command_key(an->bus, key.data, key.len, 3, argv, lens, on_endpoint, l) < 0) {
        free(l);
        api_respond_error(op->req, 503, "unavailable", "Redis is not available");
        op_free(op);
    }
    sbuf_free(&key);
}

static void send_test(op_t *op)
{
    adminnode_t *an = api_app(op->req);
    char id[40], rnd[33];
    webhooks_random_id(rnd);
    snprintf(id, sizeof id, "test-%.16s", rnd);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_int_t ms = (json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    const char *node = an->webhooks ? webhooks_options(an->webhooks)->consumer : "adminnode";
    op->events = json_pack("[{s:s,s:s,s:I,s:s,s:{s:s}}]", "id", id, "type", WEBHOOK_TEST_EVENT,
                           "ts", ms, "node", node, "data", "webhook", op->id);
    if (!op->events) {
        api_respond_error(op->req, 500, "internal", "the test event cannot be made");
        op_free(op);
        return;
    }
    op_send(op, on_test_sent);
}

void api_webhooks_test(api_request_t *req)
{
    op_t *op = op_new(req);
    snprintf(op->id, sizeof op->id, "%s", api_param(req, "id"));
    with_endpoint(op, send_test);
}

/* ---- dead letters ---- */

/* A dead-letter entry [id, [field, value...]] as the API shows it, or NULL. */
static json_t *dead_view(const redisReply *e, const char *only)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element[0] ||
        e->element[0]->type != REDIS_REPLY_STRING || !e->element[1] ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    json_t *doc = json_object();
    json_object_set_new(doc, "id", json_stringn(e->element[0]->str, e->element[0]->len));
    const redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (!k || !v || k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        json_t *val;
        if (strcmp(k->str, "events") == 0)
            val = json_loadb(v->str, v->len, 0, NULL);
        else if (strcmp(k->str, "status") == 0 || strcmp(k->str, "attempts") == 0 ||
                 strcmp(k->str, "first_attempt") == 0 || strcmp(k->str, "last_attempt") == 0)
            val = json_integer(strtoll(v->str, NULL, 10));
        else
            val = json_stringn(v->str, v->len);
        if (val) json_object_set_new(doc, k->str, val);
    }
    const char *ep = json_string_value(json_object_get(doc, "endpoint"));
    if (!ep || !json_is_array(json_object_get(doc, "events")) || (only && strcmp(ep, only) != 0)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static void on_dead_list(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    if (!op_ok(op, status, r)) return;
    json_t *list = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if ((long)json_array_size(list) >= op->limit) break;
        json_t *d = dead_view(r->element[i], op->endpoint_filter);
        if (d) json_array_append_new(list, d);
    }
    api_respond_json(op->req, 200, json_pack("{s:o}", "dead", list));
    op_free(op);
}

void api_webhooks_dead(api_request_t *req)
{
    adminnode_t *an = api_app(req);
    const char *lim = api_query(req, "limit"), *only = api_query(req, "endpoint");
    long limit = 50;
    if (lim && *lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit < 1 || limit > 1000) {
            api_respond_error(req, 400, "bad_request", "limit is 1-1000");
            return;
        }
    }
    op_t *op = op_new(req);
    op->limit = limit;
    if (only && *only) op->endpoint_filter = xstrdup(only);
    /* with a filter, the whole (bounded) stream is looked through */
    char count[24];
    long long n = op->endpoint_filter ? an->cfg->webhooks_dead_max_len : limit;
    if (n > 10000) n = 10000;
    snprintf(count, sizeof count, "%lld", n);
    sbuf_t key = SBUF_INIT;
    key_of(req, &key, 1);
    const char *argv[] = {"XREVRANGE", key.data, "+", "-", "COUNT", count};
    op_command(op, &key, 6, argv, on_dead_list);
    sbuf_free(&key);
}

static void on_replay_removed(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    (void)status;
    (void)r;
    api_respond_json(op->req, 200,
                     json_pack("{s:b,s:s,s:s,s:i}", "delivered", 1, "id", op->entry, "endpoint",
                               op->id, "events", (int)json_array_size(op->events)));
    op_free(op);
}

static void on_replayed(void *ud, int delivered, const http_client_result_t *r)
{
    op_t *op = ud;
    if (!delivered) {
        json_t *doc = result_doc(0, r);
        json_t *err = json_pack("{s:s,s:s}", "code", "delivery_failed", "message",
                                r->err ? r->error : "the receiver did not answer 2xx");
        if (doc && err) json_object_set_new(doc, "error", err);
        api_respond_json(op->req, 502, doc);
        op_free(op);
        return;
    }
    sbuf_t key = SBUF_INIT;
    key_of(op->req, &key, 1);
    const char *argv[] = {"XDEL", key.data, op->entry};
    op_command(op, &key, 3, argv, on_replay_removed);
    sbuf_free(&key);
}

static void send_replay(op_t *op)
{
    op_send(op, on_replayed);
}

static void on_dead_entry(void *ud, int status, const redisReply *r)
{
    op_t *op = ud;
    if (!op_ok(op, status, r)) return;
    json_t *d =
        r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? dead_view(r->element[0], NULL) : NULL;
    if (!d) {
        api_respond_error(op->req, 404, "not_found", "no dead letter %s", op->entry);
        op_free(op);
        return;
    }
    const char *ep = json_string_value(json_object_get(d, "endpoint"));
    if (webhook_id_valid(ep, strlen(ep)) < 0) {
        api_respond_error(op->req, 404, "not_found", "dead letter %s names no endpoint", op->entry);
        json_decref(d);
        op_free(op);
        return;
    }
    snprintf(op->id, sizeof op->id, "%s", ep);
    op->events = json_incref(json_object_get(d, "events"));
    json_decref(d);
    with_endpoint(op, send_replay);
}

void api_webhooks_replay(api_request_t *req)
{
    op_t *op = op_new(req);
    snprintf(op->entry, sizeof op->entry, "%s", api_param(req, "entry"));
    sbuf_t key = SBUF_INIT;
    key_of(req, &key, 1);
    const char *argv[] = {"XRANGE", key.data, op->entry, op->entry};
    op_command(op, &key, 4, argv, on_dead_entry);
    sbuf_free(&key);
}
