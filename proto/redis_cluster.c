/* Redis Cluster routing: key slots, the slot map from CLUSTER SHARDS or CLUSTER SLOTS replies,
 * and the redirect and retry errors of cluster nodes. */
#include "redis_cluster.h"

#include "alloc.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_SHARD 0xFFFFu

struct redis_cluster_map {
    uint16_t slot[REDIS_CLUSTER_SLOTS]; /* shard index, or NO_SHARD */
    redis_cluster_shard_t *shards;
    size_t n_shards, cap_shards;
    unsigned assigned;
};

const char *redis_cluster_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case REDIS_CLUSTER_EREPLY: return "malformed cluster topology reply";
    case REDIS_CLUSTER_EERROR: return "the cluster node answered an error";
    case REDIS_CLUSTER_EUNKNOWNCMD: return "the server does not know the command";
    default: return "unknown error";
    }
}

/* --- slots --- */

/* CRC16/XMODEM, one entry per value of the high byte. */
static const uint16_t crc16_tab[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b,
    0xc18c, 0xd1ad, 0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401,
    0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738,
    0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96,
    0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd,
    0xad2a, 0xbd0b, 0x8d68, 0x9d49, 0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78, 0x9188, 0x81a9, 0xb1ca, 0xa1eb,
    0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2,
    0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8,
    0xe75f, 0xf77e, 0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827,
    0x18c0, 0x08e1, 0x3882, 0x28a3, 0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92, 0xfd2e, 0xed0f, 0xdd6c, 0xcd4d,
    0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74,
    0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t redis_cluster_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_tab[((crc >> 8) ^ p[i]) & 0xFF]);
    return crc;
}

unsigned redis_cluster_slot(const char *key, size_t len)
{
    const char *open = len ? memchr(key, '{', len) : NULL;
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close && close > key + from)
            return redis_cluster_crc16(key + from, (size_t)(close - key) - from) & 0x3FFF;
    }
    return redis_cluster_crc16(key, len) & 0x3FFF;
}

/* --- the slot map --- */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static int str_is(const redisReply *r, const char *s)
{
    size_t n = strlen(s);
    return is_str(r) && r->len == n && memcmp(r->str, s, n) == 0;
}

static int host_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '%';
}

/* 1 when s[0..n) can be a host name or address: 1..255 bytes of the characters above. */
static int valid_host(const char *s, size_t n)
{
    if (n == 0 || n > REDIS_CLUSTER_HOST_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!host_byte((unsigned char)s[i])) return 0;
    return 1;
}

/* An integer reply, or a string of decimal digits (RESP3 maps and older servers may send
 * either), within [lo, hi]; returns 0 or -1. */
static int int_of(const redisReply *r, long long lo, long long hi, long long *v)
{
    long long x = 0;
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        x = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
        if (r->len == 0 || r->len > 10) return -1;
        for (size_t i = 0; i < r->len; i++) {
            if (r->str[i] < '0' || r->str[i] > '9') return -1;
            x = x * 10 + (r->str[i] - '0');
        }
    } else {
        return -1;
    }
    if (x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

/* A node being read, with the reply's strings borrowed. */
typedef struct {
    const char *host;
    size_t host_len;
    int port;
    const char *id;
    size_t id_len;
    redis_cluster_health_t health;
} node_ref_t;

static int same_node(const redis_cluster_node_t *a, const node_ref_t *b)
{
    if (a->id[0] && b->id_len)
        return strlen(a->id) == b->id_len && memcmp(a->id, b->id, b->id_len) == 0;
    return a->port == b->port && strlen(a->host) == b->host_len &&
           memcmp(a->host, b->host, b->host_len) == 0;
}

static void node_set(redis_cluster_node_t *n, const node_ref_t *r)
{
    n->host = xstrndup(r->host, r->host_len);
    n->port = r->port;
    if (r->id_len) memcpy(n->id, r->id, r->id_len);
    n->id[r->id_len] = '\0';
    n->health = r->health;
}

/* The shard whose primary is p, added when new; returns its index. */
static size_t shard_for(redis_cluster_map_t *m, const node_ref_t *p)
{
    for (size_t i = 0; i < m->n_shards; i++)
        if (same_node(&m->shards[i].nodes[0], p)) return i;
    if (m->n_shards == m->cap_shards) {
        m->cap_shards = m->cap_shards ? m->cap_shards * 2 : 8;
        m->shards = xrealloc(m->shards, m->cap_shards * sizeof *m->shards);
    }
    redis_cluster_shard_t *s = &m->shards[m->n_shards];
    s->nodes = xcalloc(1, sizeof *s->nodes);
    s->n_nodes = 1;
    node_set(&s->nodes[0], p);
    return m->n_shards++;
}

/* Adds r to shard s unless it is there already. */
static void shard_add(redis_cluster_shard_t *s, const node_ref_t *r)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (same_node(&s->nodes[i], r)) return;
    s->nodes = xrealloc(s->nodes, (s->n_nodes + 1) * sizeof *s->nodes);
    node_set(&s->nodes[s->n_nodes++], r);
}

/* Gives slots start..end to shard idx; -1 when one of them belongs to another shard. */
static int assign(redis_cluster_map_t *m, long long start, long long end, size_t idx)
{
    for (long long i = start; i <= end; i++) {
        if (m->slot[i] == NO_SHARD) {
            m->slot[i] = (uint16_t)idx;
            m->assigned++;
        } else if (m->slot[i] != idx) {
            return -1;
        }
    }
    return 0;
}

static redis_cluster_map_t *map_new(void)
{
    redis_cluster_map_t *m = xcalloc(1, sizeof *m);
    for (size_t i = 0; i < REDIS_CLUSTER_SLOTS; i++) m->slot[i] = NO_SHARD;
    return m;
}

redis_cluster_map_t *redis_cluster_map_single(const char *host, int port)
{
    if (!host || port < 1 || port > 65535) return NULL;
    redis_cluster_map_t *m = map_new();
    node_ref_t n = {.host = host, .host_len = strlen(host), .port = port};
    size_t idx = shard_for(m, &n);
    assign(m, 0, REDIS_CLUSTER_SLOTS - 1, idx);
    return m;
}

void redis_cluster_map_free(redis_cluster_map_t *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_shards; i++) {
        for (size_t j = 0; j < m->shards[i].n_nodes; j++) free(m->shards[i].nodes[j].host);
        free(m->shards[i].nodes);
    }
    free(m->shards);
    free(m);
}

/* A case-insensitive search for word in s[0..n). */
static int contains_ci(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++) {
        size_t k = 0;
        while (k < w) {
            char c = s[i + k];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (c != word[k]) break;
            k++;
        }
        if (k == w) return 1;
    }
    return 0;
}

/* The checks every reply shares: an error reply, or something other than an array. */
static int check_top(const redisReply *r, const char *cmd, char *err, size_t errlen)
{
    if (!r) return fail(err, errlen, REDIS_CLUSTER_EREPLY, "%s: no reply", cmd);
    if (r->type == REDIS_REPLY_ERROR) {
        int len = r->len > 200 ? 200 : (int)r->len;
        int code = contains_ci(r->str, r->len, "unknown subcommand") ||
                           contains_ci(r->str, r->len, "unknown command")
                       ? REDIS_CLUSTER_EUNKNOWNCMD
                       : REDIS_CLUSTER_EERROR;
        return fail(err, errlen, code, "%s failed: %.*s", cmd, len, r->str);
    }
    if (r->type != REDIS_REPLY_ARRAY)
        return fail(err, errlen, REDIS_CLUSTER_EREPLY, "%s reply is not an array", cmd);
    return 0;
}

/* Where a node is reached: endpoint (null or "" = origin) and port. Returns 1 with *n's host
 * set, 0 when the node cannot be reached, -1 when the host is malformed. */
static int node_host(node_ref_t *n, const char *endpoint, size_t len, const char *origin)
{
    if (!endpoint || len == 0) {
        if (!origin || !*origin) return 0;
        endpoint = origin;
        len = strlen(origin);
    } else if (len == 1 && endpoint[0] == '?') {
        return 0;
    }
    if (!valid_host(endpoint, len)) return -1;
    n->host = endpoint;
    n->host_len = len;
    return 1;
}

static int valid_id(const redisReply *r)
{
    return r->len <= REDIS_CLUSTER_ID_MAX && !memchr(r->str, '\0', r->len);
}

/* Reads one CLUSTER SLOTS node. Returns 1 (usable), 0 (skip it) or -1 (malformed). */
static int slots_node(const redisReply *r, const char *origin, node_ref_t *n)
{
    memset(n, 0, sizeof *n);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return -1;
    const redisReply *ep = r->element[0];
    long long port;
    if (int_of(r->element[1], 1, 65535, &port) != 0) return -1;
    n->port = (int)port;
    if (r->elements > 2 && is_str(r->element[2])) {
        if (!valid_id(r->element[2])) return -1;
        n->id = r->element[2]->str;
        n->id_len = r->element[2]->len;
    }
    if (ep->type == REDIS_REPLY_NIL) return node_host(n, NULL, 0, origin);
    if (!is_str(ep)) return -1;
    return node_host(n, ep->str, ep->len, origin);
}

int redis_cluster_map_from_slots(redis_cluster_map_t **out, const struct redisReply *r,
                                 const char *origin_host, char *err, size_t errlen)
{
    static const char cmd[] = "CLUSTER SLOTS";
    *out = NULL;
    int rc = check_top(r, cmd, err, errlen);
    if (rc) return rc;
    redis_cluster_map_t *m = map_new();
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        long long start, end;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            int_of(e->element[0], 0, REDIS_CLUSTER_SLOTS - 1, &start) != 0 ||
            int_of(e->element[1], start, REDIS_CLUSTER_SLOTS - 1, &end) != 0) {
            rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                      "%s reply: range %zu is not [start, end, primary, replicas...] with "
                      "0 <= start <= end <= 16383",
                      cmd, i);
            goto out;
        }
        node_ref_t p;
        int ok = slots_node(e->element[2], origin_host, &p);
        if (ok < 0) {
            rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                      "%s reply: range %zu: bad primary node (want [host, port 1..65535, id])", cmd,
                      i);
            goto out;
        }
        if (ok == 0) continue; /* an unreachable primary: the range stays unassigned */
        size_t idx = shard_for(m, &p);
        if (assign(m, start, end, idx) != 0) {
            rc =
                fail(err, errlen, REDIS_CLUSTER_EREPLY,
                     "%s reply: range %lld-%lld overlaps another primary's slots", cmd, start, end);
            goto out;
        }
        for (size_t j = 3; j < e->elements; j++) {
            node_ref_t rep;
            ok = slots_node(e->element[j], origin_host, &rep);
            if (ok < 0) {
                rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                          "%s reply: range %zu: bad replica node %zu", cmd, i, j - 3);
                goto out;
            }
            if (ok) shard_add(&m->shards[idx], &rep);
        }
    }
    *out = m;
    return 0;
out:
    redis_cluster_map_free(m);
    return rc;
}

/* The value of key in the flat key/value array r, or NULL. */
static const redisReply *map_get(const redisReply *r, const char *key)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (str_is(r->element[i], key)) return r->element[i + 1];
    return NULL;
}

static int is_flat_map(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) return 0;
    for (size_t i = 0; i < r->elements; i += 2)
        if (!is_str(r->element[i])) return 0;
    return 1;
}

/* Reads one CLUSTER SHARDS node map; *primary says whether its role is "master". Returns 1
 * (usable), 0 (skip it) or -1 (malformed). */
static int shards_node(const redisReply *r, const char *origin, node_ref_t *n, int *primary)
{
    memset(n, 0, sizeof *n);
    *primary = 0;
    if (!is_flat_map(r)) return -1;
    const redisReply *id = map_get(r, "id");
    const redisReply *port = map_get(r, "port");
    const redisReply *ep = map_get(r, "endpoint");
    const redisReply *ip = map_get(r, "ip");
    const redisReply *role = map_get(r, "role");
    const redisReply *health = map_get(r, "health");
    if (id) {
        if (!is_str(id) || !valid_id(id)) return -1;
        n->id = id->str;
        n->id_len = id->len;
    }
    if ((ep && !is_str(ep) && ep->type != REDIS_REPLY_NIL) || (ip && !is_str(ip)) ||
        (role && !is_str(role)) || (health && !is_str(health)))
        return -1;
    *primary = str_is(role, "master");
    if (str_is(health, "online"))
        n->health = REDIS_CLUSTER_HEALTH_ONLINE;
    else if (str_is(health, "loading"))
        n->health = REDIS_CLUSTER_HEALTH_LOADING;
    else if (str_is(health, "fail") || str_is(health, "failed"))
        n->health = REDIS_CLUSTER_HEALTH_FAIL;
    if (!port) return 0; /* a TLS-only node: not reachable here */
    long long p;
    if (int_of(port, 1, 65535, &p) != 0) return -1;
    n->port = (int)p;
    if (ep)
        return node_host(n, ep->type == REDIS_REPLY_NIL ? NULL : ep->str,
                         ep->type == REDIS_REPLY_NIL ? 0 : ep->len, origin);
    if (ip && ip->len) return node_host(n, ip->str, ip->len, origin);
    return 0;
}

/* Preference among nodes flagged primary: online, loading, unreported, fail. */
static int health_rank(redis_cluster_health_t h)
{
    switch (h) {
    case REDIS_CLUSTER_HEALTH_ONLINE: return 0;
    case REDIS_CLUSTER_HEALTH_LOADING: return 1;
    case REDIS_CLUSTER_HEALTH_UNKNOWN: return 2;
    default: return 3;
    }
}

int redis_cluster_map_from_shards(redis_cluster_map_t **out, const struct redisReply *r,
                                  const char *origin_host, char *err, size_t errlen)
{
    static const char cmd[] = "CLUSTER SHARDS";
    *out = NULL;
    int rc = check_top(r, cmd, err, errlen);
    if (rc) return rc;
    redis_cluster_map_t *m = map_new();
    node_ref_t *nodes = NULL;
    int *prim = NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        const redisReply *slots = is_flat_map(e) ? map_get(e, "slots") : NULL;
        const redisReply *list = is_flat_map(e) ? map_get(e, "nodes") : NULL;
        if (!slots || !list || slots->type != REDIS_REPLY_ARRAY || slots->elements % 2 ||
            list->type != REDIS_REPLY_ARRAY) {
            rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                      "%s reply: shard %zu is not a map with a \"slots\" array of start/end "
                      "pairs and a \"nodes\" array",
                      cmd, i);
            goto out;
        }
        for (size_t j = 0; j < slots->elements; j += 2) {
            long long start, end;
            if (int_of(slots->element[j], 0, REDIS_CLUSTER_SLOTS - 1, &start) != 0 ||
                int_of(slots->element[j + 1], start, REDIS_CLUSTER_SLOTS - 1, &end) != 0) {
                rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                          "%s reply: shard %zu: slot range %zu is not 0 <= start <= end <= "
                          "16383",
                          cmd, i, j / 2);
                goto out;
            }
        }
        nodes = xrealloc(nodes, (list->elements + 1) * sizeof *nodes);
        prim = xrealloc(prim, (list->elements + 1) * sizeof *prim);
        size_t n = 0, best = SIZE_MAX;
        for (size_t j = 0; j < list->elements; j++) {
            int ok = shards_node(list->element[j], origin_host, &nodes[n], &prim[n]);
            if (ok < 0) {
                rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                          "%s reply: shard %zu: node %zu is not a map with an id of at most 40 "
                          "bytes, a port 1..65535 and a valid endpoint",
                          cmd, i, j);
                goto out;
            }
            if (!ok) continue;
            if (prim[n] && (best == SIZE_MAX ||
                            health_rank(nodes[n].health) < health_rank(nodes[best].health)))
                best = n;
            n++;
        }
        if (best == SIZE_MAX || slots->elements == 0) continue;
        size_t idx = shard_for(m, &nodes[best]);
        for (size_t j = 0; j < slots->elements; j += 2) {
            long long start = 0, end = 0;
            int_of(slots->element[j], 0, REDIS_CLUSTER_SLOTS - 1, &start);
            int_of(slots->element[j + 1], start, REDIS_CLUSTER_SLOTS - 1, &end);
            if (assign(m, start, end, idx) != 0) {
                rc = fail(err, errlen, REDIS_CLUSTER_EREPLY,
                          "%s reply: shard %zu: slots %lld-%lld are claimed by another shard", cmd,
                          i, start, end);
                goto out;
            }
        }
        for (size_t j = 0; j < n; j++)
            if (j != best) shard_add(&m->shards[idx], &nodes[j]);
    }
    free(nodes);
    free(prim);
    *out = m;
    return 0;
out:
    free(nodes);
    free(prim);
    redis_cluster_map_free(m);
    return rc;
}

size_t redis_cluster_map_shard_count(const redis_cluster_map_t *m)
{
    return m->n_shards;
}

const redis_cluster_shard_t *redis_cluster_map_shard(const redis_cluster_map_t *m, size_t i)
{
    return i < m->n_shards ? &m->shards[i] : NULL;
}

int redis_cluster_map_slot_shard(const redis_cluster_map_t *m, unsigned slot)
{
    if (slot >= REDIS_CLUSTER_SLOTS || m->slot[slot] == NO_SHARD) return -1;
    return m->slot[slot];
}

const redis_cluster_node_t *redis_cluster_map_primary(const redis_cluster_map_t *m, unsigned slot)
{
    int i = redis_cluster_map_slot_shard(m, slot);
    return i < 0 ? NULL : &m->shards[i].nodes[0];
}

unsigned redis_cluster_map_assigned(const redis_cluster_map_t *m)
{
    return m->assigned;
}

/* --- errors --- */

/* 1 when s[0..len) starts with the word w followed by a space or the end. */
static int first_word(const char *s, size_t len, const char *w)
{
    size_t n = strlen(w);
    return len >= n && memcmp(s, w, n) == 0 && (len == n || s[n] == ' ');
}

redis_cluster_err_t redis_cluster_error_kind(const char *s, size_t len)
{
    static const struct {
        const char *word;
        redis_cluster_err_t kind;
    } kinds[] = {
        {"MOVED", REDIS_CLUSTER_ERR_MOVED},         {"ASK", REDIS_CLUSTER_ERR_ASK},
        {"TRYAGAIN", REDIS_CLUSTER_ERR_TRYAGAIN},   {"CLUSTERDOWN", REDIS_CLUSTER_ERR_CLUSTERDOWN},
        {"CROSSSLOT", REDIS_CLUSTER_ERR_CROSSSLOT}, {"READONLY", REDIS_CLUSTER_ERR_READONLY},
        {"LOADING", REDIS_CLUSTER_ERR_LOADING},     {"MASTERDOWN", REDIS_CLUSTER_ERR_MASTERDOWN},
    };
    if (!s) return REDIS_CLUSTER_ERR_NONE;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (first_word(s, len, kinds[i].word)) return kinds[i].kind;
    return REDIS_CLUSTER_ERR_NONE;
}

int redis_cluster_error_retryable(redis_cluster_err_t kind)
{
    switch (kind) {
    case REDIS_CLUSTER_ERR_MOVED:
    case REDIS_CLUSTER_ERR_ASK:
    case REDIS_CLUSTER_ERR_TRYAGAIN:
    case REDIS_CLUSTER_ERR_CLUSTERDOWN:
    case REDIS_CLUSTER_ERR_READONLY:
    case REDIS_CLUSTER_ERR_LOADING:
    case REDIS_CLUSTER_ERR_MASTERDOWN: return 1;
    default: return 0;
    }
}

/* A decimal of 1..5 digits in s[0..n), within [lo, hi]; returns 0 or -1. */
static int small_uint(const char *s, size_t n, unsigned lo, unsigned hi, unsigned *v)
{
    if (n == 0 || n > 5) return -1;
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    if (x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

int redis_cluster_redirect_parse(const char *s, size_t len, redis_cluster_redirect_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return -1;
    redis_cluster_err_t kind = redis_cluster_error_kind(s, len);
    if (kind != REDIS_CLUSTER_ERR_MOVED && kind != REDIS_CLUSTER_ERR_ASK) return -1;
    size_t p = kind == REDIS_CLUSTER_ERR_MOVED ? 6 : 4; /* past "MOVED " or "ASK " */
    if (p > len) return -1;
    const char *sp = memchr(s + p, ' ', len - p);
    if (!sp) return -1;
    unsigned slot, port;
    if (small_uint(s + p, (size_t)(sp - s) - p, 0, REDIS_CLUSTER_SLOTS - 1, &slot) != 0) return -1;
    const char *addr = sp + 1;
    size_t alen = len - (size_t)(addr - s);
    const char *colon = NULL;
    for (size_t i = 0; i < alen; i++)
        if (addr[i] == ':') colon = addr + i;
    if (!colon) return -1;
    size_t plen = alen - (size_t)(colon - addr) - 1;
    if (small_uint(colon + 1, plen, 1, 65535, &port) != 0) return -1;
    const char *host = addr;
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
        if (hlen == 0) return -1;
    }
    if (hlen && !valid_host(host, hlen)) return -1;
    out->kind = kind;
    out->slot = slot;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (int)port;
    return 0;
}
