/* adminnode's cluster requests (see requester.h). */
#include "requester.h"
#include "adapter_request.h"
#include "adapter_sharded_classic.h"
#include "alloc.h"
#include "api_params.h"
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct requester {
    adminnode_t *an;
    char uid[24];
    adapter_gather_t *gather; /* NULL without Redis */
};

/* K#N#, or K#N#<uid># with uid: the sharded format's channels. */
static void sh_channel(sbuf_t *ch, const requester_t *rq, const char *nsp, const char *uid)
{
    const char *key = rq->an->cfg->redis_key;
    adapter_sharded_channel(ch, (amsg_str_t){key, strlen(key)}, (amsg_str_t){nsp, strlen(nsp)},
                            (amsg_str_t){uid, uid ? strlen(uid) : 0});
}

/* A message on this requester's private channel: a response to one of its asks. */
static void on_private(void *ud, const char *channel, size_t len, const char *payload, size_t plen)
{
    (void)channel;
    (void)len;
    requester_t *rq = ud;
    adapter_sharded_msg_t m;
    if (!rq->gather || adapter_sharded_decode((const uint8_t *)payload, plen, &m) < 0) return;
    adapter_response_t resp;
    if (adapter_sharded_response_read(&m, &resp) == 0) adapter_gather_feed(rq->gather, &resp);
    adapter_response_free(&resp);
    adapter_sharded_msg_free(&m);
}

static void listen_private(requester_t *rq, const char *nsp)
{
    sbuf_t ch = SBUF_INIT;
    sh_channel(&ch, rq, nsp, rq->uid);
    bus_listen_sadd(listen_registry(rq->an), ch.data, ch.len, on_private, rq);
    sbuf_free(&ch);
}

requester_t *requester_new(adminnode_t *an)
{
    requester_t *rq = xcalloc(1, sizeof *rq);
    rq->an = an;
    /* "admin-" and 8 characters of a-z 0-9 (docs/protocols.md, section 1) */
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[8];
    char tail[9];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0) memset(rnd, 7, sizeof rnd);
    for (int i = 0; i < 8; i++) tail[i] = alphabet[rnd[i] % 36];
    tail[8] = '\0';
    snprintf(rq->uid, sizeof rq->uid, "admin-%s", tail);
    bus_listen_t *listen = an->bus ? listen_registry(an) : NULL;
    if (listen) {
        uint64_t wait = (uint64_t)an->cfg->requests_timeout;
        adapter_gather_options_t o = {
            .loop = an->loop,
            .bus = an->bus,
            .listen = listen,
            .key = an->cfg->redis_key,
            .uid = rq->uid,
            .timeout_ms = wait - wait / 4, /* answer before the HTTP layer gives up (504) */
            .self_subscribed = 0,
            .own_response_channel = 0,
            .sharded = an->sharded,
        };
        if (adapter_gather_new(&rq->gather, &o) < 0) rq->gather = NULL;
        /* the default namespace's answers channel is listened to from the start, so that the
         * first ask does not race its own subscription */
        if (rq->gather && an->sharded) listen_private(rq, "/");
    }
    return rq;
}

void requester_free(requester_t *rq)
{
    if (!rq) return;
    adapter_gather_close(rq->gather);
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
    if (!rq->gather) {
        json_decref(request);
        req_result_t r = {0, 0, 0, ADAPTER_GATHER_ENOBUS, "Redis is not configured", json_array()};
        cb(ud, &r);
        json_decref(r.items);
        return 0;
    }
    if (rq->an->sharded) listen_private(rq, nsp);
    adapter_ask_t *a = adapter_ask_new(rq->gather, nsp, strlen(nsp), NULL, cb, ud);
    if (adapter_request_set(request, "uid", json_string(rq->uid)) < 0 ||
        adapter_request_set(request, "requestId", json_string(adapter_ask_id(a))) < 0) {
        json_decref(request);
        request = NULL; /* the ask ends with "the request cannot be encoded" */
    }
    adapter_ask_send_json(a, request);
    return 0;
}

int requester_tell(requester_t *rq, const char *nsp, json_t *request)
{
    if (rq && rq->an->sharded) {
        sbuf_t msg = SBUF_INIT, ch = SBUF_INIT;
        int rc = nsp_ok(nsp) && requester_check(request, 1) == 0 &&
                         adapter_sharded_request_write(&msg, request,
                                                       (amsg_str_t){rq->uid, strlen(rq->uid)},
                                                       (amsg_str_t){nsp, strlen(nsp)}) == 0
                     ? 0
                     : API_EINVAL;
        json_decref(request);
        if (rc == 0) {
            sh_channel(&ch, rq, nsp, NULL);
            if (!rq->an->bus || bus_spublish(rq->an->bus, ch.data, ch.len, msg.data, msg.len) < 0)
                rc = API_ENOBUS;
        }
        sbuf_free(&msg);
        sbuf_free(&ch);
        return rc;
    }
    char *text = NULL;
    if (rq && nsp_ok(nsp) && requester_check(request, 1) == 0 &&
        adapter_request_set(request, "uid", json_string(rq->uid)) == 0)
        text = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (!text) return API_EINVAL;
    sbuf_t ch = SBUF_INIT;
    adapter_channel(&ch, rq->an->cfg->redis_key, strlen(rq->an->cfg->redis_key), ADAPTER_CH_REQUEST,
                    nsp, strlen(nsp), NULL, 0);
    int rc = rq->an->bus && bus_publish(rq->an->bus, ch.data, ch.len, text, strlen(text)) == 0
                 ? 0
                 : API_ENOBUS;
    sbuf_free(&ch);
    free(text);
    return rc;
}
