/* Gathering the answers to redis-adapter requests (see adapter_gather.h and docs/protocols.md,
 * section 2.6). Every ask of a gatherer waits the same delay, so one deadline queue (one libuv
 * timer) serves them all. */
#include "adapter_gather.h"
#include "adapter_sharded_classic.h"
#include "alloc.h"
#include "deadline.h"
#include "sbuf.h"
#include "strmap.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct adapter_gather {
    bus_t *bus;
    bus_listen_t *listen;
    char *key;
    size_t key_len;
    char uid[32];
    int self_subscribed, own_response_channel, sharded;
    uint64_t next_id;
    strmap_t asks;      /* request id -> adapter_ask_t: sent, awaiting answers */
    strmap_t listening; /* namespaces whose response channels are listened to (key: owned copy) */
    deadline_queue_t deadlines;
    unsigned refs; /* 1 until the timer is closed, plus NUMSUB commands in flight */
    int closed;
};

struct adapter_ask {
    adapter_gather_t *g; /* NULL: no cluster */
    char id[ADAPTER_REQUEST_ID_MAX];
    char *nsp; /* owned */
    size_t nsp_len;
    adapter_gather_answer_cb on_answer;
    adapter_gather_done_cb done;
    void *ud;
    unsigned servers, answered;
    long expected; /* answers expected beyond one per server */
    int counted;   /* the server count is known */
    int registered;
    int refused;   /* made on a closed gatherer: ends with ADAPTER_GATHER_ECLOSED when sent */
    int answering; /* inside on_answer: the ask is checked after it */
    json_t *items;
    char *payload; /* owned: what to publish once the servers are counted */
    size_t payload_len;
    deadline_node_t deadline;
};

const char *adapter_gather_strerror(int status)
{
    switch (status) {
    case ADAPTER_GATHER_ETIMEDOUT: return "timed out waiting for some servers";
    case ADAPTER_GATHER_ENOBUS: return "Redis is not available";
    case ADAPTER_GATHER_ECLOSED: return "shutting down";
    case ADAPTER_GATHER_EENCODE: return "the request cannot be encoded";
    default: return "unknown error";
    }
}

static void gather_unref(adapter_gather_t *g)
{
    if (--g->refs) return;
    void *v;
    for (size_t i = 0; strmap_next(&g->listening, &i, NULL, NULL, &v);) free(v);
    strmap_free(&g->listening);
    strmap_free(&g->asks);
    free(g->key);
    free(g);
}

/* Reports the result (once) and frees the ask. status 0: complete if everything came. */
static void finish(adapter_ask_t *a, int status)
{
    adapter_gather_t *g = a->g;
    if (a->registered) {
        strmap_del(&g->asks, a->id, strlen(a->id));
        deadline_queue_remove(&g->deadlines, &a->deadline);
    }
    int complete = status == 0 && a->counted && a->answered >= a->servers && a->expected <= 0;
    if (!complete && status == 0) status = ADAPTER_GATHER_ETIMEDOUT;
    adapter_gather_result_t r = {
        complete, a->servers, a->answered, status, status ? adapter_gather_strerror(status) : NULL,
        a->items};
    a->done(a->ud, &r);
    json_decref(a->items);
    free(a->payload);
    free(a->nsp);
    free(a);
}

/* Finishes a when nothing more is awaited. Returns 1 when it did (a is freed). */
static int check(adapter_ask_t *a)
{
    if (a->counted && a->answered >= a->servers && a->expected <= 0) {
        finish(a, 0);
        return 1;
    }
    return 0;
}

static void on_deadline(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    finish((adapter_ask_t *)(void *)((char *)n - offsetof(adapter_ask_t, deadline)), 0);
}

static int default_answer(void *ud, adapter_ask_t *a, const adapter_response_t *resp)
{
    (void)ud;
    return resp->doc && json_array_append(a->items, resp->doc) == 0;
}

/* A message on a response channel: an answer to one of our asks, or to someone else's. */
static void on_response(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    adapter_gather_t *g = ud;
    adapter_response_t resp;
    if (g->closed || adapter_response_parse(payload, plen, &resp) < 0) return;
    adapter_gather_feed(g, &resp);
    adapter_response_free(&resp);
}

void adapter_gather_feed(adapter_gather_t *g, const adapter_response_t *resp)
{
    if (g->closed) return;
    adapter_ask_t *a =
        resp->request_id ? strmap_get(&g->asks, resp->request_id, resp->request_id_len) : NULL;
    if (a) {
        adapter_gather_answer_cb fn = a->on_answer ? a->on_answer : default_answer;
        a->answering = 1;
        if (fn(a->ud, a, resp) == 1) a->answered++;
        a->answering = 0;
        check(a);
    }
}

int adapter_gather_new(adapter_gather_t **out, const adapter_gather_options_t *o)
{
    adapter_gather_t *g = xcalloc(1, sizeof *g);
    int rc = deadline_queue_init(&g->deadlines, o->loop, o->timeout_ms, on_deadline, g);
    if (rc < 0) {
        free(g);
        return rc;
    }
    g->bus = o->bus;
    g->listen = o->listen;
    g->key_len = strlen(o->key);
    g->key = xstrdup(o->key);
    snprintf(g->uid, sizeof g->uid, "%s", o->uid);
    g->self_subscribed = o->self_subscribed;
    g->own_response_channel = o->own_response_channel;
    g->sharded = o->sharded;
    g->refs = 1;
    *out = g;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    gather_unref(((deadline_queue_t *)h->data)->data);
}

void adapter_gather_close(adapter_gather_t *g)
{
    if (!g || g->closed) return;
    g->closed = 1;
    void *v;
    for (size_t i = 0; strmap_next(&g->asks, &i, NULL, NULL, &v);)
        finish(v, ADAPTER_GATHER_ECLOSED);
    deadline_queue_close(&g->deadlines, timer_closed);
}

uint64_t adapter_gather_timeout(const adapter_gather_t *g)
{
    return deadline_queue_delay_ms(&g->deadlines);
}

int adapter_gather_listen(adapter_gather_t *g, const char *nsp, size_t nsp_len)
{
    if (g->sharded || strmap_get(&g->listening, nsp, nsp_len)) return 0;
    sbuf_t ch = SBUF_INIT;
    adapter_channel(&ch, g->key, g->key_len, ADAPTER_CH_RESPONSE, nsp, nsp_len, NULL, 0);
    int rc = bus_listen_add(g->listen, ch.data, ch.len, on_response, g);
    if (rc == 0 && g->own_response_channel) {
        adapter_channel(&ch, g->key, g->key_len, ADAPTER_CH_RESPONSE, nsp, nsp_len, g->uid,
                        strlen(g->uid));
        rc = bus_listen_add(g->listen, ch.data, ch.len, on_response, g);
    }
    sbuf_free(&ch);
    if (rc == 0) {
        char *key = xmemdup(nsp, nsp_len);
        strmap_put(&g->listening, key, nsp_len, key);
    }
    return rc;
}

adapter_ask_t *adapter_ask_new(adapter_gather_t *g, const char *nsp, size_t nsp_len,
                               adapter_gather_answer_cb on_answer, adapter_gather_done_cb done,
                               void *ud)
{
    adapter_ask_t *a = xcalloc(1, sizeof *a);
    a->g = g && !g->closed ? g : NULL;
    a->refused = g && g->closed;
    a->nsp = xmemdup(nsp, nsp_len);
    a->nsp_len = nsp_len;
    a->on_answer = on_answer;
    a->done = done;
    a->ud = ud;
    a->items = json_array();
    if (a->g) adapter_request_id(a->id, a->g->uid, ++a->g->next_id);
    return a;
}

const char *adapter_ask_id(const adapter_ask_t *a)
{
    return a->id;
}

json_t *adapter_ask_items(adapter_ask_t *a)
{
    return a->items;
}

void adapter_ask_expect(adapter_ask_t *a, long delta)
{
    a->expected += delta;
    if (!a->answering) check(a);
}

typedef struct {
    adapter_gather_t *g;
    char id[ADAPTER_REQUEST_ID_MAX];
} numsub_t;

/* Where requests of a's namespace go: K-request#N#, or K#N# in the sharded format. */
static void request_channel(sbuf_t *ch, const adapter_gather_t *g, const adapter_ask_t *a)
{
    if (g->sharded)
        adapter_sharded_channel(ch, (amsg_str_t){g->key, g->key_len},
                                (amsg_str_t){a->nsp, a->nsp_len}, (amsg_str_t){NULL, 0});
    else
        adapter_channel(ch, g->key, g->key_len, ADAPTER_CH_REQUEST, a->nsp, a->nsp_len, NULL, 0);
}

/* The server count is known: publish the request, or finish when no server is there. */
static void on_numsub(void *ud, int status, const redisReply *reply)
{
    numsub_t *q = ud;
    adapter_gather_t *g = q->g;
    adapter_ask_t *a = g->closed ? NULL : strmap_get(&g->asks, q->id, strlen(q->id));
    free(q);
    if (a) {
        if (status != 0 || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[1]->type != REDIS_REPLY_INTEGER) {
            finish(a, ADAPTER_GATHER_ENOBUS);
        } else {
            long long n = reply->element[1]->integer;
            if (g->self_subscribed) n--; /* we count ourselves: we do not answer */
            a->servers = n > 0 ? (unsigned)n : 0;
            a->counted = 1;
            sbuf_t ch = SBUF_INIT;
            request_channel(&ch, g, a);
            if (a->servers && (g->sharded ? bus_spublish : bus_publish)(
                                  g->bus, ch.data, ch.len, a->payload, a->payload_len) < 0)
                finish(a, ADAPTER_GATHER_ENOBUS);
            else
                check(a);
            sbuf_free(&ch);
        }
    }
    gather_unref(g);
}

void adapter_ask_send(adapter_ask_t *a, const char *payload, size_t len)
{
    adapter_gather_t *g = a->g;
    if (a->refused) {
        finish(a, ADAPTER_GATHER_ECLOSED);
        return;
    }
    if (!g || !payload) { /* no one to ask: the local part is the whole answer */
        a->counted = 1;
        check(a);
        return;
    }
    a->payload = xmemdup(payload, len);
    a->payload_len = len;
    adapter_gather_listen(g, a->nsp, a->nsp_len);
    strmap_put(&g->asks, a->id, strlen(a->id), a);
    a->registered = 1;
    deadline_queue_add(&g->deadlines, &a->deadline);
    sbuf_t ch = SBUF_INIT;
    request_channel(&ch, g, a);
    /* SHARDNUMSUB counts the subscribers of the node asked: the channel's own primary, where
     * every server subscribes it */
    const char *argv[] = {"PUBSUB", g->sharded ? "SHARDNUMSUB" : "NUMSUB", ch.data};
    size_t lens[] = {6, g->sharded ? 11 : 6, ch.len};
    numsub_t *q = xcalloc(1, sizeof *q);
    q->g = g;
    memcpy(q->id, a->id, sizeof q->id);
    int rc = bus_command_key(g->bus, ch.data, ch.len, 3, argv, lens, on_numsub, q);
    sbuf_free(&ch);
    if (rc < 0) {
        free(q);
        finish(a, ADAPTER_GATHER_ENOBUS);
    } else {
        g->refs++;
    }
}

void adapter_ask_send_json(adapter_ask_t *a, json_t *req)
{
    if (a->g && a->g->sharded) {
        sbuf_t msg = SBUF_INIT;
        int rc = req ? adapter_sharded_request_write(&msg, req,
                                                     (amsg_str_t){a->g->uid, strlen(a->g->uid)},
                                                     (amsg_str_t){a->nsp, a->nsp_len})
                     : -1;
        json_decref(req);
        if (rc < 0)
            finish(a, ADAPTER_GATHER_EENCODE);
        else
            adapter_ask_send(a, msg.data, msg.len);
        sbuf_free(&msg);
        return;
    }
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text) {
        finish(a, ADAPTER_GATHER_EENCODE);
        return;
    }
    adapter_ask_send(a, text, strlen(text));
    free(text);
}
