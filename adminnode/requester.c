/* Cluster requests made by adminnode and the gathering of their answers (see requester.h). */
#include "requester.h"
#include "alloc.h"
#include "api_params.h"
#include "log.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending {
    requester_t *rq;
    char id[48];
    char *nsp; /* owned */
    req_cb cb;
    void *ud;
    unsigned servers, answered;
    int counted, done;
    json_t *answers;
    json_t *request;
    uv_timer_t timer;
} pending_t;

struct requester {
    adminnode_t *an;
    char uid[24];
    uint64_t next;
    strmap_t pending;   /* requestId -> pending_t */
    strmap_t listening; /* namespaces whose response channel is subscribed */
};

static void request_channel(sbuf_t *b, const requester_t *rq, const char *kind, const char *nsp)
{
    sbuf_reset(b);
    sbuf_printf(b, "%s%s#%s#", rq->an->cfg->redis_key, kind, nsp);
}

static void timer_closed(uv_handle_t *h)
{
    pending_t *p = h->data;
    json_decref(p->answers);
    json_decref(p->request);
    free(p->nsp);
    free(p);
}

static void finish(pending_t *p, const char *error)
{
    if (p->done) return;
    p->done = 1;
    strmap_del(&p->rq->pending, p->id, strlen(p->id));
    req_result_t r = {!error && p->answered >= p->servers, p->servers, p->answered, error,
                      p->answers};
    if (!r.complete && !r.error) r.error = "timed out waiting for some servers";
    p->cb(p->ud, &r);
    uv_close((uv_handle_t *)&p->timer, timer_closed);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, NULL);
}

static void on_response(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    requester_t *rq = ud;
    if (!plen || payload[0] != '{') return; /* broadcast acks (msgpack) are not ours */
    json_t *resp = json_loadb(payload, plen, 0, NULL);
    const char *id = json_string_value(json_object_get(resp, "requestId"));
    pending_t *p = id ? strmap_get(&rq->pending, id, strlen(id)) : NULL;
    if (p && !p->done && json_array_append(p->answers, resp) == 0) {
        if (++p->answered >= p->servers && p->counted) finish(p, NULL);
    }
    json_decref(resp);
}

static void listen_nsp(requester_t *rq, const char *nsp)
{
    if (strmap_get(&rq->listening, nsp, strlen(nsp))) return;
    char *key = xstrdup(nsp);
    strmap_put(&rq->listening, key, strlen(key), key);
    sbuf_t ch = SBUF_INIT;
    request_channel(&ch, rq, "-response", nsp);
    adminnode_listen(rq->an, ch.data, on_response, rq);
    sbuf_free(&ch);
}

typedef struct {
    requester_t *rq;
    char id[48];
} numsub_t;

static void on_numsub(void *ud, int status, const redisReply *r)
{
    numsub_t *q = ud;
    pending_t *p = strmap_get(&q->rq->pending, q->id, strlen(q->id));
    free(q);
    if (!p || p->done) return;
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        finish(p, "Redis is not available");
        return;
    }
    p->servers = (unsigned)r->element[1]->integer;
    p->counted = 1;
    if (p->servers == 0) {
        finish(p, NULL);
        return;
    }
    char *text = json_dumps(p->request, JSON_COMPACT);
    if (!text) {
        finish(p, "the request cannot be encoded");
        return;
    }
    sbuf_t ch = SBUF_INIT;
    request_channel(&ch, p->rq, "-request", p->nsp);
    int rc = bus_publish(p->rq->an->bus, ch.data, ch.len, text, strlen(text));
    sbuf_free(&ch);
    free(text);
    if (rc < 0) finish(p, "Redis is not available");
}

requester_t *requester_new(adminnode_t *an)
{
    requester_t *rq = xcalloc(1, sizeof *rq);
    rq->an = an;
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[8];
    char tail[9];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0) memset(rnd, 7, sizeof rnd);
    for (int i = 0; i < 8; i++) tail[i] = alphabet[rnd[i] % 36];
    tail[8] = '\0';
    snprintf(rq->uid, sizeof rq->uid, "admin-%s", tail);
    return rq;
}

void requester_free(requester_t *rq)
{
    if (!rq) return;
    void *v;
    for (size_t i = 0; strmap_next(&rq->pending, &i, NULL, NULL, &v);) finish(v, "shutting down");
    strmap_free(&rq->pending);
    for (size_t i = 0; strmap_next(&rq->listening, &i, NULL, NULL, &v);) free(v);
    strmap_free(&rq->listening);
    free(rq);
}

int requester_check(const json_t *request, int need_rooms)
{
    if (!json_is_object(request) || !json_is_integer(json_object_get(request, "type")))
        return API_EINVAL;
    if (!need_rooms) return 0;
    json_t *rooms = json_object_get(json_object_get(request, "opts"), "rooms"), *r;
    size_t i;
    if (!json_is_array(rooms) || json_array_size(rooms) == 0) return API_EINVAL;
    json_array_foreach(rooms, i, r)
    {
        if (!json_is_string(r) || json_string_length(r) == 0) return API_EINVAL;
    }
    return 0;
}

/* 1 when nsp can name a namespace on the bus. */
static int nsp_ok(const char *nsp)
{
    char why[96];
    return nsp && api_check_namespace(nsp, strlen(nsp), why, sizeof why) == 0;
}

int requester_ask(requester_t *rq, const char *nsp, json_t *request, req_cb cb, void *ud)
{
    if (!rq || !cb || !nsp_ok(nsp) || requester_check(request, 0) < 0) {
        json_decref(request);
        return API_EINVAL;
    }
    char id[48];
    snprintf(id, sizeof id, "%s-%llu", rq->uid, (unsigned long long)++rq->next);
    if (json_object_set_new(request, "uid", json_string(rq->uid)) < 0 ||
        json_object_set_new(request, "requestId", json_string(id)) < 0) {
        json_decref(request);
        return API_EINVAL;
    }
    pending_t *p = xcalloc(1, sizeof *p);
    p->rq = rq;
    p->cb = cb;
    p->ud = ud;
    p->answers = json_array();
    memcpy(p->id, id, sizeof p->id);
    p->nsp = xstrdup(nsp);
    p->request = request;
    uv_timer_init(rq->an->loop, &p->timer);
    p->timer.data = p;
    strmap_put(&rq->pending, p->id, strlen(p->id), p);
    if (!rq->an->bus) {
        finish(p, "Redis is not configured");
        return 0;
    }
    listen_nsp(rq, nsp);
    /* answer with what came before the HTTP layer gives up on the request (504) */
    uint64_t wait = (uint64_t)rq->an->cfg->requests_timeout;
    uv_timer_start(&p->timer, on_timeout, wait - wait / 4, 0);
    sbuf_t ch = SBUF_INIT;
    request_channel(&ch, rq, "-request", nsp);
    const char *argv[] = {"PUBSUB", "NUMSUB", ch.data};
    size_t lens[] = {6, 6, ch.len};
    numsub_t *q = xcalloc(1, sizeof *q);
    q->rq = rq;
    memcpy(q->id, p->id, sizeof q->id);
    if (bus_command(rq->an->bus, 3, argv, lens, on_numsub, q) < 0) {
        free(q);
        finish(p, "Redis is not available");
    }
    sbuf_free(&ch);
    return 0;
}

int requester_tell(requester_t *rq, const char *nsp, json_t *request)
{
    char *text = NULL;
    if (rq && nsp_ok(nsp) && requester_check(request, 1) == 0 &&
        json_object_set_new(request, "uid", json_string(rq->uid)) == 0)
        text = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (!text) return API_EINVAL;
    sbuf_t ch = SBUF_INIT;
    request_channel(&ch, rq, "-request", nsp);
    int rc = rq->an->bus && bus_publish(rq->an->bus, ch.data, ch.len, text, strlen(text)) == 0
                 ? 0
                 : API_ENOBUS;
    sbuf_free(&ch);
    free(text);
    return rc;
}
