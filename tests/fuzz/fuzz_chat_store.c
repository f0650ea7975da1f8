/* libFuzzer driver: the chat's store contract (chat_store.c). Keys: a part never holds a raw
 * ':' '%' '{' '}', unescapes to its text, and different texts make different parts and keys;
 * a private stream's key does not depend on the order of the pair; a stream and its dedupe
 * keys share a slot, and so do all liveness keys. Labels and ids follow their
 * rules. Replies: the same bytes read as Redis replies (RESP, through hiredis's reader) become
 * a stored id or messages only when they have the script's and the stream's shape. */
#include "chat_store.h"
#include "redis_cluster.h"
#include "utf8.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Checks an escaped part and returns its unescaped length in out (which has room for n). */
static size_t unescape(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ':' || p[i] == '{' || p[i] == '}') abort();
        if (p[i] != '%') {
            out[o++] = p[i];
            continue;
        }
        if (n - i < 3 || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0) abort();
        char c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
        if (c != '%' && c != ':' && c != '{' && c != '}') abort(); /* only those are escaped */
        out[o++] = c;
        i += 2;
    }
    return o;
}

/* The escaped part of s[0..n) into b (reset), checked to unescape to s. */
static void part(sbuf_t *b, const char *s, size_t n)
{
    sbuf_reset(b);
    chat_key_part(b, s, n);
    char *back = malloc(b->len + 1);
    size_t m = unescape(b->data, b->len, back);
    if (m != n || memcmp(back, s, n) != 0) abort();
    free(back);
}

static int same(const sbuf_t *a, const sbuf_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* key must be head followed by the parts given, joined with ':', and tail. */
static void expect_key(const sbuf_t *key, const char *head, const sbuf_t *p1, const sbuf_t *p2,
                       const sbuf_t *p3, const char *tail)
{
    sbuf_t want = SBUF_INIT;
    sbuf_append_str(&want, head);
    const sbuf_t *parts[] = {p1, p2, p3};
    for (int i = 0; i < 3 && parts[i]; i++) {
        if (i) sbuf_append_char(&want, ':');
        sbuf_append(&want, parts[i]->data, parts[i]->len);
    }
    sbuf_append_str(&want, tail);
    if (!same(key, &want)) abort();
    sbuf_free(&want);
}

static void check_keys(const char *a, size_t alen, const char *b, size_t blen)
{
    sbuf_t pa = SBUF_INIT, pb = SBUF_INIT, k1 = SBUF_INIT, k2 = SBUF_INIT;
    part(&pa, a, alen);
    part(&pb, b, blen);
    int equal = alen == blen && memcmp(a, b, alen) == 0;
    if (same(&pa, &pb) != equal) abort(); /* different texts, different parts */

    chat_key_room(&k1, "P", a, alen);
    expect_key(&k1, "P:chat:{room:", &pa, NULL, NULL, "}");
    chat_key_presence(&k2, "P", a, alen);
    expect_key(&k2, "P:chat:presence:", &pa, NULL, NULL, "");

    /* the pair's stream: one key whatever the order, smaller id first */
    chat_key_dm(&k1, "P", a, alen, b, blen);
    chat_key_dm(&k2, "P", b, blen, a, alen);
    if (!same(&k1, &k2)) abort();
    size_t n = alen < blen ? alen : blen;
    int cmp = memcmp(a, b, n);
    int a_first = cmp < 0 || (cmp == 0 && alen <= blen);
    expect_key(&k1, "P:chat:{dm:", a_first ? &pa : &pb, a_first ? &pb : &pa, NULL, "}");

    /* dedupe keys of a room's and a pair's streams: scope, user, client id */
    sbuf_t stream = SBUF_INIT, sp = SBUF_INIT;
    chat_key_room(&stream, "P", b, blen);
    chat_key_dedupe(&k1, "P", stream.data, stream.len, a, alen, b, blen);
    sbuf_append_str(&sp, "{room:");
    sbuf_append(&sp, pb.data, pb.len);
    sbuf_append_char(&sp, '}');
    expect_key(&k1, "P:chat:dedupe:", &sp, &pa, &pb, "");
    /* the store script declares both: one slot */
    if (redis_cluster_slot(k1.data, k1.len) != redis_cluster_slot(stream.data, stream.len)) abort();
    chat_key_dm(&stream, "P", a, alen, b, blen);
    chat_key_dedupe(&k2, "P", stream.data, stream.len, b, blen, a, alen);
    sbuf_reset(&sp);
    sbuf_append(&sp, stream.data + strlen("P:chat:"), stream.len - strlen("P:chat:"));
    expect_key(&k2, "P:chat:dedupe:", &sp, &pb, &pa, "");
    if (redis_cluster_slot(k2.data, k2.len) != redis_cluster_slot(stream.data, stream.len)) abort();
    if (!equal && same(&k1, &k2)) abort();

    char *cstr = malloc(alen + 1); /* a node uid is a C string */
    memcpy(cstr, a, alen);
    cstr[alen] = '\0';
    chat_key_alive(&k1, "P", cstr);
    part(&pa, cstr, strlen(cstr));
    expect_key(&k1, "P:chat:{alive}:", &pa, NULL, NULL, "");
    /* every node's liveness key is of one slot (one EVAL reads several) */
    if (redis_cluster_slot(k1.data, k1.len) != redis_cluster_slot("alive", 5)) abort();
    free(cstr);
    sbuf_free(&stream);
    sbuf_free(&sp);
    sbuf_free(&pa);
    sbuf_free(&pb);
    sbuf_free(&k1);
    sbuf_free(&k2);
}

static int all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i])) return 0;
    return 1;
}

#define SID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

static void check_labels(const char *s, size_t n)
{
    int label = utf8_label_check(s, n, CHAT_ROOM_MAX_CHARS, CHAT_ROOM_MAX_BYTES);
    int want = label                                ? label
               : n >= 5 && !memcmp(s, "user:", 5)   ? CHAT_EUSERROOM
               : n == 20 && all_of(s, n, SID_CHARS) ? CHAT_ESOCKETROOM
                                                    : 0;
    if (chat_check_room(s, n) != want) abort();
    const char *e = chat_check_strerror(chat_check_room(s, n));
    if (!e || !*e) abort();
    if (chat_check_name(s, n) != utf8_label_check(s, n, CHAT_NAME_MAX_CHARS, CHAT_NAME_MAX_BYTES))
        abort();
    if (chat_check_user_id(s, n) !=
        utf8_label_check(s, n, CHAT_USER_ID_MAX_CHARS, CHAT_USER_ID_MAX_BYTES))
        abort();
    int cid = n >= 1 && n <= CHAT_CLIENT_ID_MAX && all_of(s, n, SID_CHARS ".:");
    if (chat_check_client_id(s, n) != cid) abort();
    const char *dash = memchr(s, '-', n);
    size_t a = dash ? (size_t)(dash - s) : n;
    int sid = n >= 1 && n <= 40 && a >= 1 && all_of(s, a, "0123456789") &&
              (!dash || (n - a >= 2 && all_of(dash + 1, n - a - 1, "0123456789")));
    if (chat_check_stream_id(s, n) != sid) abort();
}

/* A message as clients see it: an id that is a stream id, its ts, from, UTF-8 text. */
static void check_message(const json_t *m, const char *room)
{
    const char *id = json_string_value(json_object_get(m, "id"));
    if (!id || !chat_check_stream_id(id, strlen(id))) abort();
    if (!json_is_integer(json_object_get(m, "ts")) || !json_is_object(json_object_get(m, "from")))
        abort();
    json_t *r = json_object_get(m, "room");
    if (room ? !r || strcmp(json_string_value(r), room) != 0 : r != NULL) abort();
    char *text = json_dumps(m, JSON_COMPACT);
    if (!text) abort();
    free(text);
}

static void check_reply(const redisReply *r)
{
    char id[48];
    for (size_t cap = 0; cap <= sizeof id; cap += 12) {
        memset(id, 0x7e, sizeof id);
        const redisReply *entry = r; /* must be reset */
        int rc = chat_store_reply(r, id, cap, &entry);
        if (rc < -1 || rc > 1) abort();
        if (rc >= 0 && (strlen(id) >= cap || !chat_check_stream_id(id, strlen(id)) ||
                        (rc == 1) != (r->element[0]->integer == 1)))
            abort();
        if (rc < 0 && cap && id[0] != 0x7e) abort();
        /* the entry stored before comes only with a retry's reply, as its third element */
        if (entry && (rc != 0 || r->elements != 3 || entry != r->element[2])) abort();
        if (entry) {
            json_t *m = chat_store_message(entry, NULL);
            if (m) check_message(m, NULL);
            json_decref(m);
        }
    }
    const char *rooms[] = {NULL, "lobby"};
    for (int i = 0; i < 2; i++) {
        json_t *m = chat_store_message(r, rooms[i]);
        if (m) {
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) abort();
            check_message(m, rooms[i]);
        }
        json_decref(m);
        json_t *all = chat_store_messages(r, rooms[i]);
        if (!json_is_array(all)) abort();
        size_t k;
        json_t *e;
        json_array_foreach(all, k, e) check_message(e, rooms[i]);
        if (json_array_size(all) && r->type != REDIS_REPLY_ARRAY) abort();
        json_decref(all);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1, split = n ? data[0] % (n + 1) : 0;
    check_keys(s, split, s + split, n - split);
    check_labels(s, n);
    check_labels(s, split);

    chat_store_msg_t msg = {.stream = s,
                            .stream_len = split,
                            .maxlen = (long long)n,
                            .ttl = -7,
                            .from = s,
                            .from_len = split,
                            .name = s,
                            .name_len = split,
                            .text = s + split,
                            .text_len = n - split};
    chat_store_cmd_t cmd;
    chat_store_cmd(&cmd, &msg);
    /* no dedupe key: the stream is declared twice, never "" (a key of slot 0) */
    if (cmd.argv[3] != s || cmd.lens[3] != split || cmd.argv[4] != s || cmd.lens[4] != split ||
        cmd.lens[9] != 0 || strcmp(cmd.argv[10], "-7") != 0 || cmd.lens[10] != 2)
        abort();

    /* the bytes as replies from Redis */
    redisReader *rd = redisReaderCreate();
    if (redisReaderFeed(rd, s, n) == REDIS_OK) {
        void *reply;
        for (int i = 0; i < 64 && redisReaderGetReply(rd, &reply) == REDIS_OK && reply; i++) {
            check_reply(reply);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(rd);
    if (chat_store_reply(NULL, NULL, 0, NULL) != -1) abort();
    return 0;
}
