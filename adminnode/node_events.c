/* What a node's state change records (see node_events.h). Every operation in flight owns what
 * it needs (the bus, copies of the prefixes), so none outlives anything it points to: a bus
 * that closes calls each one back with an error, and it frees itself. */
#include "node_events.h"
#include "alloc.h"
#include "chat_store.h"
#include "cluster_event.h"
#include "log.h"
#include "sbuf.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rooms asked of each SSCAN of a down node's set. */
#define SWEEP_COUNT "200"

struct node_events {
    bus_t *bus;
    char *control_prefix, *redis_key, *recorder;
    long long max_len, state_ttl;
};

node_events_t *node_events_new(bus_t *bus, const node_events_options_t *o)
{
    node_events_t *ne = xcalloc(1, sizeof *ne);
    ne->bus = bus;
    ne->control_prefix = xstrdup(o->control_prefix);
    ne->redis_key = xstrdup(o->redis_key);
    ne->recorder = xstrdup(o->recorder);
    ne->max_len = o->max_len;
    ne->state_ttl = o->state_ttl;
    return ne;
}

void node_events_free(node_events_t *ne)
{
    if (!ne) return;
    free(ne->control_prefix);
    free(ne->redis_key);
    free(ne->recorder);
    free(ne);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_recorded(void *ud, int status, const redisReply *r)
{
    (void)ud;
    if (status == 0 && r && r->type == REDIS_REPLY_ERROR)
        log_warn("event not recorded", "error=\"%s\"", r->str);
}

/* Adds one event (data borrowed). */
static void record(const node_events_t *ne, const char *control_prefix, const char *recorder,
                   long long max_len, cluster_event_type_t type, json_t *data)
{
    cluster_event_cmd_t cmd;
    if (cluster_event_cmd(&cmd, control_prefix, max_len, type, wall_ms(), recorder, data) < 0)
        return;
    bus_command_key(ne->bus, cmd.key.data, cmd.key.len, cmd.argc, cmd.argv, cmd.lens, on_recorded,
                    NULL);
    cluster_event_cmd_free(&cmd);
}

/* ---- pruning a down node's presence ---- */

typedef struct {
    node_events_t ne; /* a copy: the strings below are this sweep's own */
    char *node;
    char cursor[32];
    size_t pending; /* prunes of the current page not answered yet */
    int failed;
    sbuf_t set;
} sweep_t;

static void sweep_free(sweep_t *s)
{
    free(s->ne.control_prefix);
    free(s->ne.redis_key);
    free(s->ne.recorder);
    free(s->node);
    sbuf_free(&s->set);
    free(s);
}

static void sweep_page(sweep_t *s);

typedef struct {
    sweep_t *s;
    char *room;
    size_t rlen;
} prune_t;

/* The page's prunes are all answered: the next page, or, after the last, the set goes. */
static void page_done(sweep_t *s)
{
    if (s->failed) {
        log_warn("presence of a down node not pruned", "node=%s", s->node);
        sweep_free(s);
    } else if (strcmp(s->cursor, "0") != 0) {
        sweep_page(s);
    } else {
        const char *argv[] = {"DEL", s->set.data};
        size_t lens[] = {3, s->set.len};
        bus_command_key(s->ne.bus, s->set.data, s->set.len, 2, argv, lens, on_recorded, NULL);
        log_info("presence of a down node pruned", "node=%s", s->node);
        sweep_free(s);
    }
}

static void on_pruned(void *ud, int status, const redisReply *r)
{
    prune_t *p = ud;
    sweep_t *s = p->s;
    if (status != 0 || !r || r->type == REDIS_REPLY_ERROR) s->failed = 1;
    size_t n = 0;
    chat_presence_event_t *ev = status == 0 ? chat_presence_pruned(p->room, p->rlen, r, &n) : NULL;
    for (size_t i = 0; i < n; i++)
        record(&s->ne, s->ne.control_prefix, s->ne.recorder, s->ne.max_len, ev[i].type, ev[i].data);
    chat_presence_events_free(ev, n);
    free(p->room);
    free(p);
    if (--s->pending == 0) page_done(s);
}

/* Prunes the node's entries from one room's hash. */
static void prune_room(sweep_t *s, const char *room, size_t rlen)
{
    static const char lua[] = CHAT_PRESENCE_PRUNE_LUA;
    sbuf_t key = SBUF_INIT;
    chat_key_presence(&key, s->ne.redis_key, room, rlen);
    const char *argv[] = {"EVAL", lua, "1", key.data, s->node};
    size_t lens[] = {4, sizeof lua - 1, 1, key.len, strlen(s->node)};
    prune_t *p = xcalloc(1, sizeof *p);
    p->s = s;
    p->room = xstrndup(room, rlen);
    p->rlen = rlen;
    s->pending++;
    if (bus_command_key(s->ne.bus, key.data, key.len, 5, argv, lens, on_pruned, p) < 0) {
        s->pending--;
        s->failed = 1;
        free(p->room);
        free(p);
    }
    sbuf_free(&key);
}

static void on_page(void *ud, int status, const redisReply *r)
{
    sweep_t *s = ud;
    /* [cursor, [room, ...]] */
    if (status != 0 || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof s->cursor ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        s->failed = 1;
        page_done(s);
        return;
    }
    memcpy(s->cursor, r->element[0]->str, r->element[0]->len);
    s->cursor[r->element[0]->len] = '\0';
    const redisReply *rooms = r->element[1];
    s->pending = 1; /* held while the prunes are sent */
    for (size_t i = 0; i < rooms->elements; i++)
        if (rooms->element[i]->type == REDIS_REPLY_STRING)
            prune_room(s, rooms->element[i]->str, rooms->element[i]->len);
    if (--s->pending == 0) page_done(s);
}

static void sweep_page(sweep_t *s)
{
    const char *argv[] = {"SSCAN", s->set.data, s->cursor, "COUNT", SWEEP_COUNT};
    size_t lens[] = {5, s->set.len, strlen(s->cursor), 5, sizeof SWEEP_COUNT - 1};
    if (bus_command_key(s->ne.bus, s->set.data, s->set.len, 5, argv, lens, on_page, s) < 0) {
        log_warn("presence of a down node not pruned", "node=%s", s->node);
        sweep_free(s);
    }
}

static void sweep(const node_events_t *ne, const char *node)
{
    sweep_t *s = xcalloc(1, sizeof *s);
    s->ne = *ne;
    s->ne.control_prefix = xstrdup(ne->control_prefix);
    s->ne.redis_key = xstrdup(ne->redis_key);
    s->ne.recorder = xstrdup(ne->recorder);
    s->node = xstrdup(node);
    strcpy(s->cursor, "0");
    chat_key_node_rooms(&s->set, ne->redis_key, node);
    sweep_page(s);
}

/* ---- state changes ---- */

void node_events_changed(void *ud, const reg_node_t *n, int from, int to)
{
    node_events_t *ne = ud;
    if (!ne || !ne->bus || to < 0 || from == to) return;
    cluster_event_type_t type = to == REG_UP         ? CLUSTER_EVENT_NODE_UP
                                : to == REG_DRAINING ? CLUSTER_EVENT_NODE_DRAINING
                                                     : CLUSTER_EVENT_NODE_DOWN;
    json_t *node = json_pack("{s:s}", "id", n->id);
    static const char *const copy[] = {"tag", "address"};
    for (size_t i = 0; node && i < sizeof copy / sizeof copy[0]; i++) {
        json_t *v = json_object_get(n->hb, copy[i]);
        if (json_is_string(v)) json_object_set(node, copy[i], v);
    }
    json_t *data = node ? json_pack("{s:o}", "node", node) : NULL;
    cluster_event_cmd_t cmd;
    if (data && cluster_event_node_cmd(&cmd, ne->control_prefix, ne->max_len, ne->state_ttl, type,
                                       wall_ms(), ne->recorder, data) == 0) {
        bus_command_key(ne->bus, cmd.key.data, cmd.key.len, cmd.argc, cmd.argv, cmd.lens,
                        on_recorded, NULL);
        cluster_event_cmd_free(&cmd);
    }
    json_decref(data);
    if (to == REG_DOWN) sweep(ne, n->id);
}
