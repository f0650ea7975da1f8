/* libFuzzer driver: the node registry of adminnode fed what Redis brings back: heartbeats and
 * P:node:* documents (reg_heartbeat, with ages and a fake clock), then command replies and
 * heartbeats through a running registry without Redis. Records are separated by NUL bytes
 * (never part of JSON text): two bytes of time step and age, then the document. After every
 * step the counts, the states, the API view and the sorted list must agree with each other. */
#include "registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    long counts[REG_NSTATES];
    size_t size;
} model_t;

/* Follows every change the registry reports. */
static void on_change(void *ud, const reg_node_t *n, int from, int to)
{
    model_t *m = ud;
    if (!control_msg_id_valid(n->id, strlen(n->id))) abort();
    if (from == to || from < -1 || from >= REG_NSTATES || to < -1 || to >= REG_NSTATES) abort();
    if (from >= 0)
        m->counts[from]--;
    else
        m->size++;
    if (to >= 0)
        m->counts[to]++;
    else
        m->size--;
}

/* Checks n; with timed, also that its state is the one the clock gives at now (true right
 * after a tick, or for the node a heartbeat just updated: the others keep the state of their
 * last update until the next tick). */
static void check_node(const reg_t *r, const reg_node_t *n, uint64_t now, int timed)
{
    if (!control_msg_id_valid(n->id, strlen(n->id)) || reg_get(r, n->id) != n) abort();
    json_t *v = json_object_get(n->hb, "v"), *id = json_object_get(n->hb, "id");
    if (!json_is_integer(v) || json_integer_value(v) != 1 || !json_is_string(id) ||
        strcmp(json_string_value(id), n->id) != 0 ||
        strcmp(json_string_value(json_object_get(n->hb, "type")), "heartbeat") != 0)
        abort();
    chat_store_limits_t l;
    if (n->has_chat != (control_msg_heartbeat_chat(n->hb, &l) == 0) ||
        (n->has_chat && !chat_store_limits_valid(&n->chat)))
        abort();
    if (timed) {
        uint64_t age = now > n->last_seen ? now - n->last_seen : 0;
        uint64_t down = REG_MISSED_HEARTBEATS * r->interval_ms;
        int draining = json_is_true(json_object_get(n->hb, "draining"));
        reg_state_t want = age < down ? (draining ? REG_DRAINING : REG_UP) : REG_DOWN;
        if (n->state != want || (want == REG_DOWN && age >= down + r->forget_after_ms)) abort();
        if (reg_node_deadline(r, n) <= now) abort();
    }

    /* the API's view of it */
    json_t *o = reg_node_json(n, 1000);
    if (!json_is_object(o) || strcmp(json_string_value(json_object_get(o, "id")), n->id) != 0 ||
        strcmp(json_string_value(json_object_get(o, "state")), reg_state_name(n->state)) != 0 ||
        json_integer_value(json_object_get(o, "last_seen")) != (json_int_t)n->last_seen + 1000 ||
        !json_is_boolean(json_object_get(o, "draining")))
        abort();
    char *text = json_dumps(o, JSON_COMPACT);
    if (!text) abort();
    free(text);
    json_decref(o);
}

static void check_all(const reg_t *r, const model_t *m, uint64_t now, int timed)
{
    size_t total = 0;
    for (int s = 0; s < REG_NSTATES; s++) {
        if ((long)reg_count(r, (reg_state_t)s) != m->counts[s]) abort();
        total += reg_count(r, (reg_state_t)s);
    }
    if (total != reg_size(r) || m->size != reg_size(r)) abort();
    /* the cluster's chat limits are some node's each, and within bounds */
    chat_store_limits_t l = {0, 0, 0};
    size_t announced = reg_chat_limits(r, &l);
    if (announced > reg_size(r) - reg_count(r, REG_DOWN) ||
        (announced && !chat_store_limits_valid(&l)) || (!announced && l.max_text != 0))
        abort();
    size_t n;
    const reg_node_t **all = reg_sorted(r, &n);
    if (n != reg_size(r) || (!all) != (n == 0)) abort();
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(all[i - 1]->id, all[i]->id) >= 0) abort();
        check_node(r, all[i], now, timed);
    }
    free(all);
}

/* Is text a heartbeat reg_heartbeat may take: a v1 heartbeat object with a usable id? */
static int usable(const char *text, size_t len)
{
    json_t *hb = json_loadb(text, len, 0, NULL);
    json_t *v = json_object_get(hb, "v"), *id = json_object_get(hb, "id");
    const char *type = json_string_value(json_object_get(hb, "type"));
    int ok = json_is_integer(v) && json_integer_value(v) == 1 && type &&
             strcmp(type, "heartbeat") == 0 && json_is_string(id) &&
             control_msg_id_valid(json_string_value(id), json_string_length(id));
    json_decref(hb);
    return ok;
}

static void ignore_reply(void *ud, int status, const control_msg_reply_t *reply)
{
    (void)ud;
    (void)status;
    (void)reply;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    reg_t r;
    model_t m;
    memset(&m, 0, sizeof m);
    reg_init(&r, 1 + data[0] * 10u, data[1] * 100u);
    r.on_change = on_change;
    r.ud = &m;
    uint64_t now = 1000000;

    /* a running registry on its own loop, without Redis: loaded at once, commands refused */
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) abort();
    registry_options_t o = {"fz", 1000, 5000, NULL, NULL};
    registry_t *reg = registry_new(&loop, NULL, &o);
    if (!registry_loaded(reg) ||
        registry_command(reg, "x", CONTROL_MSG_CMD_DRAIN, ignore_reply, NULL) != REG_ENOBUS)
        abort();

    const char *p = (const char *)data + 2, *end = (const char *)data + size;
    while (p < end) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
        if (n < 2) {
            /* time passes: due changes happen, the next one is later */
            now += n ? (uint64_t)(unsigned char)p[0] * 997 : 1;
            uint64_t next = reg_tick(&r, now);
            if (next <= now || (next == UINT64_MAX) != (reg_size(&r) == 0)) abort();
            check_all(&r, &m, now, 1);
        } else {
            now += (unsigned char)p[0] * 97u;
            uint64_t age = (unsigned char)p[1] == 0xff ? UINT64_MAX : (unsigned char)p[1] * 53u;
            const char *text = p + 2;
            size_t tlen = n - 2;
            const reg_node_t *before = NULL;
            uint64_t seen = 0;
            json_t *doc = json_loadb(text, tlen, 0, NULL);
            const char *id = json_string_value(json_object_get(doc, "id"));
            if (id && (before = reg_get(&r, id)) != NULL) seen = before->last_seen;
            const reg_node_t *got = reg_heartbeat(&r, text, tlen, now, age);
            uint64_t sent = age < now ? now - age : 0;
            if (got) {
                if (!usable(text, tlen) || strcmp(got->id, id) != 0) abort();
                /* an older document than the one kept changes nothing */
                if (before && sent < seen && (got != before || got->last_seen != seen)) abort();
                if (!(before && sent < seen) && got->last_seen != sent) abort();
                if (!(before && sent < seen)) check_node(&r, got, now, 1);
            } else if (usable(text, tlen) && sent + 3 * r.interval_ms + r.forget_after_ms > now) {
                abort(); /* only a document already past forgetting is dropped */
            }
            json_decref(doc);
            /* the same text through the running registry, as a heartbeat and as a reply */
            registry_on_heartbeat(reg, "fz:heartbeat", 12, text, tlen);
            registry_on_reply(reg, "fz:reply", 8, text, tlen);
            check_all(&r, &m, now, 0);
        }
        p += n + 1;
    }
    /* long after the last heartbeat everything is forgotten */
    if (reg_tick(&r, now + 3 * r.interval_ms + r.forget_after_ms + 1) != UINT64_MAX ||
        reg_size(&r) != 0)
        abort();
    check_all(&r, &m, now, 0);
    reg_free(&r);

    const reg_t *nodes = registry_nodes(reg);
    size_t k;
    const reg_node_t **all = reg_sorted(nodes, &k);
    for (size_t i = 0; i < k; i++)
        if (!reg_get(nodes, all[i]->id)) abort();
    free(all);
    registry_stop(reg);
    registry_stop(reg); /* stopping twice is a no-op */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) abort();
    return 0;
}
