/* Unit tests for proto/redis_cluster.c: key slots against the Cluster specification's
 * examples and slots measured on Redis 7.0 (CLUSTER KEYSLOT), slot maps read from
 * CLUSTER SHARDS and CLUSTER SLOTS replies of a 3-primary, 3-replica cluster (as RESP text,
 * parsed by hiredis's reader), malformed replies refused with a reason, and the redirect and
 * retry errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resp_text.h"

#include "redis_cluster.h"

#include <hiredis/hiredis.h>
#include <string.h>

#define ID1 "041c899e1afbafcacb61030ae586323561e3418c" /* 127.0.0.1:37001, primary */
#define ID2 "2d1440cfa1dcdb91c6361e35b5efd399dd359e61" /* 37002, primary */
#define ID3 "c7f816ed3decfb91a24d2060d5b7c506771459bf" /* 37003, primary */
#define ID4 "1f768f0a68b58d1952dacb8d2b8e031920c317ed" /* 37004, replica of 37001 */
#define ID6 "49b5cbe9b7ac88b88501d62d9e6a101af071e4cd" /* 37006, replica of 37003 */

/* Replies in the shapes Redis 7.0.15 sends: three shards of 127.0.0.1:37001-37003 with the
 * replicas 37004-37006; then with slot 105 moved from 37001 to 37002; then after 37003 failed
 * and 37006 took its slots (the failed primary stays, as a shard with no slots). */
static const char SHARDS_3[] =
    "*3\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n"
    "$40\r\n041c899e1afbafcacb61030ae586323561e3418c\r\n$4\r\nport\r\n:37001\r\n$2\r\nip\r\n"
    "$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
    "$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n"
    "$40\r\n1f768f0a68b58d1952dacb8d2b8e031920c317ed\r\n$4\r\nport\r\n:37004\r\n$2\r\nip\r\n"
    "$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n"
    "$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n"
    "*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "2d1440cfa1dcdb91c6361e35b5efd399dd359e61\r\n$4\r\nport\r\n:37002\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "041c98235509b8dd44870fd872101ccd08230bb3\r\n$4\r\nport\r\n:37005\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n*2\r\n"
    ":10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "c7f816ed3decfb91a24d2060d5b7c506771459bf\r\n$4\r\nport\r\n:37003\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "49b5cbe9b7ac88b88501d62d9e6a101af071e4cd\r\n$4\r\nport\r\n:37006\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

static const char SHARDS_MIGRATED[] =
    "*3\r\n*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:104\r\n:106\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n"
    "*14\r\n$2\r\nid\r\n$40\r\n041c899e1afbafcacb61030ae586323561e3418c\r\n$4\r\nport\r\n"
    ":37001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\n"
    "role\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\n"
    "online\r\n*14\r\n$2\r\nid\r\n$40\r\n1f768f0a68b58d1952dacb8d2b8e031920c317ed\r\n$4\r\n"
    "port\r\n:37004\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"
    "$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\n"
    "online\r\n*4\r\n$5\r\nslots\r\n*4\r\n:105\r\n:105\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n"
    "*2\r\n*14\r\n$2\r\nid\r\n$40\r\n2d1440cfa1dcdb91c6361e35b5efd399dd359e61\r\n$4\r\nport\r\n"
    ":37002\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\n"
    "role\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\n"
    "online\r\n*14\r\n$2\r\nid\r\n$40\r\n041c98235509b8dd44870fd872101ccd08230bb3\r\n$4\r\n"
    "port\r\n:37005\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"
    "$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\n"
    "online\r\n*4\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\n"
    "id\r\n$40\r\nc7f816ed3decfb91a24d2060d5b7c506771459bf\r\n$4\r\nport\r\n:37003\r\n$2\r\n"
    "ip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\n"
    "master\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\n"
    "id\r\n$40\r\n49b5cbe9b7ac88b88501d62d9e6a101af071e4cd\r\n$4\r\nport\r\n:37006\r\n$2\r\n"
    "ip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\n"
    "replica\r\n$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

static const char SHARDS_FAILOVER[] =
    "*4\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n"
    "$40\r\n041c899e1afbafcacb61030ae586323561e3418c\r\n$4\r\nport\r\n:37001\r\n$2\r\nip\r\n"
    "$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
    "$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n"
    "$40\r\n1f768f0a68b58d1952dacb8d2b8e031920c317ed\r\n$4\r\nport\r\n:37004\r\n$2\r\nip\r\n"
    "$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n"
    "$18\r\nreplication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n"
    "*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "2d1440cfa1dcdb91c6361e35b5efd399dd359e61\r\n$4\r\nport\r\n:37002\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "041c98235509b8dd44870fd872101ccd08230bb3\r\n$4\r\nport\r\n:37005\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\n"
    "replication-offset\r\n:14\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n*2\r\n"
    ":10923\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "49b5cbe9b7ac88b88501d62d9e6a101af071e4cd\r\n$4\r\nport\r\n:37006\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:900\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n*0\r\n"
    "$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\nc7f816ed3decfb91a24d2060d5b7c506771459bf\r\n"
    "$4\r\nport\r\n:37003\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n"
    "127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:880\r\n$6\r\n"
    "health\r\n$4\r\nfail\r\n";

static const char SLOTS_MIGRATED[] =
    "*5\r\n*4\r\n:0\r\n:104\r\n*4\r\n$9\r\n127.0.0.1\r\n:37001\r\n$40\r\n"
    "041c899e1afbafcacb61030ae586323561e3418c\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:37004\r\n"
    "$40\r\n1f768f0a68b58d1952dacb8d2b8e031920c317ed\r\n*0\r\n*4\r\n:105\r\n:105\r\n*4\r\n$9\r\n"
    "127.0.0.1\r\n:37002\r\n$40\r\n2d1440cfa1dcdb91c6361e35b5efd399dd359e61\r\n*0\r\n*4\r\n"
    "$9\r\n127.0.0.1\r\n:37005\r\n$40\r\n041c98235509b8dd44870fd872101ccd08230bb3\r\n*0\r\n"
    "*4\r\n:106\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:37001\r\n$40\r\n"
    "041c899e1afbafcacb61030ae586323561e3418c\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:37004\r\n"
    "$40\r\n1f768f0a68b58d1952dacb8d2b8e031920c317ed\r\n*0\r\n*4\r\n:5461\r\n:10922\r\n*4\r\n"
    "$9\r\n127.0.0.1\r\n:37002\r\n$40\r\n2d1440cfa1dcdb91c6361e35b5efd399dd359e61\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:37005\r\n$40\r\n041c98235509b8dd44870fd872101ccd08230bb3\r\n"
    "*0\r\n*4\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:37003\r\n$40\r\n"
    "c7f816ed3decfb91a24d2060d5b7c506771459bf\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:37006\r\n"
    "$40\r\n49b5cbe9b7ac88b88501d62d9e6a101af071e4cd\r\n*0\r\n";

static const char SLOTS_NO_REPLICAS[] =
    "*3\r\n*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:37001\r\n$40\r\n"
    "041c899e1afbafcacb61030ae586323561e3418c\r\n*0\r\n*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n"
    "127.0.0.1\r\n:37002\r\n$40\r\n2d1440cfa1dcdb91c6361e35b5efd399dd359e61\r\n*0\r\n*3\r\n"
    ":10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:37003\r\n$40\r\n"
    "c7f816ed3decfb91a24d2060d5b7c506771459bf\r\n*0\r\n";

static unsigned slot_of(const char *key)
{
    return redis_cluster_slot(key, strlen(key));
}

static void test_slot(void **state)
{
    (void)state;
    assert_int_equal(redis_cluster_crc16("123456789", 9), 0x31C3);
    assert_int_equal(redis_cluster_crc16(NULL, 0), 0);
    static const struct {
        const char *key;
        unsigned slot;
    } cases[] = {
        {"123456789", 12739},
        {"somekey", 11058},
        {"foo", 12182},
        {"bar", 5061},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"foo{}{bar}", 8363},    /* the first '{' has an empty tag: the whole key */
        {"foo{{bar}}zap", 4015}, /* the tag is "{bar" */
        {"{bar", 4015},
        {"foo{bar}{zap}", 5061}, /* the tag is "bar" */
        {"{}", 15257},
        {"{", 4092},
        {"}", 12090},
        {"{a", 10276},
        {"a}", 5921},
        {"{}a", 10875},
        {"a{}", 6082},
        {"{a}", 15495},
        {"a", 15495},
        {"}{a}", 15495}, /* a '}' before the first '{' does not count */
        {"{{}}", 4092},  /* the tag is "{" */
        {"x{}{somekey}", 1747},
        {"", 0},
        {"{chat:room:1}:stream", 15230},
        {"chat:room:1", 15230},
        {"orders", 105},
        {"{orders}x", 105},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (slot_of(cases[i].key) != cases[i].slot)
            fail_msg("slot of \"%s\": got %u, want %u", cases[i].key, slot_of(cases[i].key),
                     cases[i].slot);
    /* binary-safe: bytes after a NUL count, and a NUL inside a tag too */
    assert_int_equal(redis_cluster_slot("a\0{b}", 5), slot_of("b"));
    assert_int_not_equal(redis_cluster_slot("{a\0b}", 5), slot_of("a"));
    assert_int_equal(redis_cluster_slot(NULL, 0), 0);
}

static void expect_node(const redis_cluster_node_t *n, int port, const char *id)
{
    assert_non_null(n);
    assert_string_equal(n->host, "127.0.0.1");
    assert_int_equal(n->port, port);
    assert_string_equal(n->id, id);
}

static void test_shards(void **state)
{
    (void)state;
    char err[200];
    redis_cluster_map_t *m;
    redisReply *r = resp(SHARDS_3);
    assert_int_equal(redis_cluster_map_from_shards(&m, r, "seed", err, sizeof err), 0);
    freeReplyObject(r);
    assert_int_equal(redis_cluster_map_shard_count(m), 3);
    assert_int_equal(redis_cluster_map_assigned(m), 16384);
    expect_node(redis_cluster_map_primary(m, 0), 37001, ID1);
    expect_node(redis_cluster_map_primary(m, 5460), 37001, ID1);
    expect_node(redis_cluster_map_primary(m, 5461), 37002, ID2);
    expect_node(redis_cluster_map_primary(m, 16383), 37003, ID3);
    expect_node(redis_cluster_map_primary(m, slot_of("foo")), 37003, ID3);
    assert_null(redis_cluster_map_primary(m, 16384));
    assert_int_equal(redis_cluster_map_slot_shard(m, 16384), -1);
    int i = redis_cluster_map_slot_shard(m, 0);
    const redis_cluster_shard_t *s = redis_cluster_map_shard(m, (size_t)i);
    assert_int_equal(s->n_nodes, 2);
    assert_int_equal(s->nodes[0].health, REDIS_CLUSTER_HEALTH_ONLINE);
    expect_node(&s->nodes[1], 37004, ID4);
    assert_int_equal(s->nodes[1].health, REDIS_CLUSTER_HEALTH_ONLINE);
    assert_null(redis_cluster_map_shard(m, 3));
    /* the primaries, one per shard */
    int seen = 0;
    for (size_t k = 0; k < redis_cluster_map_shard_count(m); k++)
        seen |= 1 << (redis_cluster_map_shard(m, k)->nodes[0].port - 37001);
    assert_int_equal(seen, 7);
    redis_cluster_map_free(m);
    redis_cluster_map_free(NULL);

    /* slot 105 moved: one shard's slots are *4 :0 :104 :106 :5460 */
    r = resp(SHARDS_MIGRATED);
    assert_int_equal(redis_cluster_map_from_shards(&m, r, "seed", err, sizeof err), 0);
    freeReplyObject(r);
    assert_int_equal(redis_cluster_map_shard_count(m), 3);
    assert_int_equal(redis_cluster_map_assigned(m), 16384);
    expect_node(redis_cluster_map_primary(m, 104), 37001, ID1);
    expect_node(redis_cluster_map_primary(m, slot_of("orders")), 37002, ID2);
    expect_node(redis_cluster_map_primary(m, 106), 37001, ID1);
    expect_node(redis_cluster_map_primary(m, 10922), 37002, ID2);
    redis_cluster_map_free(m);

    /* after a failover: the failed primary has no slots and is left out */
    r = resp(SHARDS_FAILOVER);
    assert_int_equal(redis_cluster_map_from_shards(&m, r, "seed", err, sizeof err), 0);
    freeReplyObject(r);
    assert_int_equal(redis_cluster_map_shard_count(m), 3);
    assert_int_equal(redis_cluster_map_assigned(m), 16384);
    expect_node(redis_cluster_map_primary(m, 10923), 37006, ID6);
    assert_int_equal(
        redis_cluster_map_shard(m, (size_t)redis_cluster_map_slot_shard(m, 10923))->n_nodes, 1);
    redis_cluster_map_free(m);
}

/* A CLUSTER SHARDS reply of one shard with slots 0-99 whose nodes are the RESP text nodes. */
static redis_cluster_map_t *one_shard(const char *nodes, int want_rc, const char *says)
{
    char text[2048], err[200] = "";
    snprintf(text, sizeof text, "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:99\r\n$5\r\nnodes\r\n%s",
             nodes);
    redisReply *r = resp(text);
    redis_cluster_map_t *m = (redis_cluster_map_t *)1;
    int rc = redis_cluster_map_from_shards(&m, r, "origin.example", err, sizeof err);
    freeReplyObject(r);
    if (rc != want_rc || (says && !strstr(err, says)))
        fail_msg("nodes %s: got %d \"%s\", want %d \"%s\"", nodes, rc, err, want_rc,
                 says ? says : "");
    if (rc) assert_null(m);
    return m;
}

static void test_shards_nodes(void **state)
{
    (void)state;
    /* fields in another order, unknown ones, a port as text, "" endpoint = the origin */
    redis_cluster_map_t *m =
        one_shard("*1\r\n*10\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$3\r\nnew\r\n*0\r\n"
                  "$4\r\nport\r\n$4\r\n7000\r\n$8\r\nendpoint\r\n$0\r\n\r\n$6\r\nhealth\r\n"
                  "$6\r\nonline\r\n",
                  0, NULL);
    const redis_cluster_node_t *p = redis_cluster_map_primary(m, 99);
    assert_string_equal(p->host, "origin.example");
    assert_int_equal(p->port, 7000);
    assert_string_equal(p->id, "");
    assert_null(redis_cluster_map_primary(m, 100)); /* not covered */
    assert_int_equal(redis_cluster_map_assigned(m), 100);
    redis_cluster_map_free(m);

    /* no endpoint field: the ip; two nodes flagged primary: the online one leads, the failed
     * one ("failed", as documented) stays a node of the shard */
    m = one_shard("*3\r\n"
                  "*8\r\n$2\r\nid\r\n$1\r\nA\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$3\r\n::1\r\n"
                  "$6\r\nhealth\r\n$6\r\nfailed\r\n"
                  "*8\r\n$2\r\nid\r\n$1\r\nB\r\n$4\r\nport\r\n:2\r\n$2\r\nip\r\n$3\r\n::2\r\n"
                  "$4\r\nrole\r\n$7\r\nreplica\r\n"
                  "*10\r\n$2\r\nid\r\n$1\r\nC\r\n$4\r\nport\r\n:3\r\n$2\r\nip\r\n$3\r\n::3\r\n"
                  "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n",
                  0, NULL);
    const redis_cluster_shard_t *s = redis_cluster_map_shard(m, 0);
    assert_int_equal(s->n_nodes, 3);
    assert_string_equal(s->nodes[0].host, "::3");
    assert_string_equal(s->nodes[0].id, "C");
    assert_string_equal(s->nodes[1].id, "A"); /* no role: not a primary */
    assert_string_equal(s->nodes[1].host, "::1");
    assert_int_equal(s->nodes[1].health, REDIS_CLUSTER_HEALTH_FAIL);
    assert_string_equal(s->nodes[2].id, "B");
    assert_int_equal(s->nodes[2].health, REDIS_CLUSTER_HEALTH_UNKNOWN);
    redis_cluster_map_free(m);

    m = one_shard("*2\r\n"
                  "*10\r\n$2\r\nid\r\n$1\r\nA\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$1\r\na\r\n"
                  "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$4\r\nfail\r\n"
                  "*10\r\n$2\r\nid\r\n$1\r\nB\r\n$4\r\nport\r\n:2\r\n$2\r\nip\r\n$1\r\nb\r\n"
                  "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$7\r\nloading\r\n",
                  0, NULL);
    s = redis_cluster_map_shard(m, 0);
    assert_string_equal(s->nodes[0].id, "B");
    assert_int_equal(s->nodes[0].health, REDIS_CLUSTER_HEALTH_LOADING);
    assert_string_equal(s->nodes[1].id, "A");
    redis_cluster_map_free(m);

    /* equally healthy primaries: the first one listed leads */
    m = one_shard("*2\r\n"
                  "*8\r\n$2\r\nid\r\n$1\r\nA\r\n$4\r\nport\r\n:1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                  "$2\r\nip\r\n$1\r\na\r\n"
                  "*8\r\n$2\r\nid\r\n$1\r\nB\r\n$4\r\nport\r\n:2\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                  "$2\r\nip\r\n$1\r\nb\r\n",
                  0, NULL);
    s = redis_cluster_map_shard(m, 0);
    assert_string_equal(s->nodes[0].id, "A");
    assert_string_equal(s->nodes[0].host, "a");
    assert_int_equal(s->n_nodes, 2);
    redis_cluster_map_free(m);

    /* unreachable primaries ("?" endpoint, no port as in a TLS-only cluster): no shard */
    m = one_shard("*1\r\n*6\r\n$4\r\nport\r\n:1\r\n$8\r\nendpoint\r\n$1\r\n?\r\n"
                  "$4\r\nrole\r\n$6\r\nmaster\r\n",
                  0, NULL);
    assert_int_equal(redis_cluster_map_shard_count(m), 0);
    assert_int_equal(redis_cluster_map_assigned(m), 0);
    assert_null(redis_cluster_map_primary(m, 0));
    redis_cluster_map_free(m);
    m = one_shard("*1\r\n*6\r\n$8\r\ntls-port\r\n:1\r\n$2\r\nip\r\n$1\r\nh\r\n"
                  "$4\r\nrole\r\n$6\r\nmaster\r\n",
                  0, NULL);
    assert_int_equal(redis_cluster_map_shard_count(m), 0);
    redis_cluster_map_free(m);

    /* malformed nodes */
    one_shard("*1\r\n:1\r\n", REDIS_CLUSTER_EREPLY, "node 0");
    one_shard("*1\r\n*1\r\n$2\r\nid\r\n", REDIS_CLUSTER_EREPLY, "node 0");
    one_shard("*1\r\n*2\r\n$4\r\nport\r\n:0\r\n", REDIS_CLUSTER_EREPLY, "port 1..65535");
    one_shard("*1\r\n*2\r\n$4\r\nport\r\n:65536\r\n", REDIS_CLUSTER_EREPLY, "port");
    one_shard("*1\r\n*2\r\n$4\r\nport\r\n$2\r\n1x\r\n", REDIS_CLUSTER_EREPLY, "port");
    one_shard("*1\r\n*4\r\n$4\r\nport\r\n:1\r\n$2\r\nid\r\n"
              "$41\r\n041c899e1afbafcacb61030ae586323561e3418c0\r\n",
              REDIS_CLUSTER_EREPLY, "id of at most 40");
    one_shard("*1\r\n*4\r\n$4\r\nport\r\n:1\r\n$8\r\nendpoint\r\n$4\r\na b!\r\n",
              REDIS_CLUSTER_EREPLY, "endpoint");
    one_shard("*1\r\n*4\r\n$4\r\nport\r\n:1\r\n$8\r\nendpoint\r\n:7\r\n", REDIS_CLUSTER_EREPLY,
              "endpoint");
}

/* Each reply must be refused with code and a message holding says. */
static void expect_refused(const char *text, int code, const char *says)
{
    char err[200] = "";
    redisReply *r = resp(text);
    redis_cluster_map_t *m = (redis_cluster_map_t *)1;
    int rc = redis_cluster_map_from_shards(&m, r, "h", err, sizeof err);
    if (rc != code || !strstr(err, says))
        fail_msg("CLUSTER SHARDS %s: got %d \"%s\", want %d \"%s\"", text, rc, err, code, says);
    assert_null(m);
    m = (redis_cluster_map_t *)1;
    err[0] = '\0';
    rc = redis_cluster_map_from_slots(&m, r, "h", err, sizeof err);
    if (rc >= 0 || !err[0]) fail_msg("CLUSTER SLOTS %s: got %d \"%s\"", text, rc, err);
    assert_null(m);
    freeReplyObject(r);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n",
                   REDIS_CLUSTER_EUNKNOWNCMD, "CLUSTER SHARDS failed: ERR unknown subcommand");
    expect_refused("-ERR This instance has cluster support disabled\r\n", REDIS_CLUSTER_EERROR,
                   "cluster support disabled");
    expect_refused("+OK\r\n", REDIS_CLUSTER_EREPLY, "not an array");
    expect_refused("*-1\r\n", REDIS_CLUSTER_EREPLY, "not an array");
    expect_refused("*1\r\n:1\r\n", REDIS_CLUSTER_EREPLY, "shard 0 is not a map");
    expect_refused("*1\r\n*2\r\n$5\r\nslots\r\n*0\r\n", REDIS_CLUSTER_EREPLY, "\"nodes\" array");
    expect_refused("*1\r\n*4\r\n$5\r\nslots\r\n*1\r\n:0\r\n$5\r\nnodes\r\n*0\r\n",
                   REDIS_CLUSTER_EREPLY, "start/end pairs");
    expect_refused("*1\r\n*4\r\n:5\r\n*0\r\n$5\r\nnodes\r\n*0\r\n", REDIS_CLUSTER_EREPLY,
                   "is not a map");
    expect_refused("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16384\r\n$5\r\nnodes\r\n*0\r\n",
                   REDIS_CLUSTER_EREPLY, "slot range 0");
    expect_refused("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:9\r\n:8\r\n$5\r\nnodes\r\n*0\r\n",
                   REDIS_CLUSTER_EREPLY, "start <= end");
    expect_refused("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:-1\r\n:8\r\n$5\r\nnodes\r\n*0\r\n",
                   REDIS_CLUSTER_EREPLY, "16383");

    /* two shards claiming slot 5 */
    char err[200] = "";
    redis_cluster_map_t *m = (redis_cluster_map_t *)1;
    redisReply *r =
        resp("*2\r\n"
             "*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5\r\n$5\r\nnodes\r\n*1\r\n*6\r\n"
             "$4\r\nrole\r\n$6\r\nmaster\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$1\r\na\r\n"
             "*4\r\n$5\r\nslots\r\n*2\r\n:5\r\n:9\r\n$5\r\nnodes\r\n*1\r\n*6\r\n"
             "$4\r\nrole\r\n$6\r\nmaster\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$1\r\nb\r\n");
    assert_int_equal(redis_cluster_map_from_shards(&m, r, "h", err, sizeof err),
                     REDIS_CLUSTER_EREPLY);
    assert_non_null(strstr(err, "slots 5-9 are claimed by another shard"));
    assert_null(m);
    freeReplyObject(r);

    assert_int_equal(redis_cluster_map_from_shards(&m, NULL, "h", NULL, 0), REDIS_CLUSTER_EREPLY);
    assert_int_equal(redis_cluster_map_from_slots(&m, NULL, "h", err, sizeof err),
                     REDIS_CLUSTER_EREPLY);
    assert_non_null(strstr(err, "no reply"));
    assert_string_equal(redis_cluster_strerror(REDIS_CLUSTER_EUNKNOWNCMD),
                        "the server does not know the command");
    assert_string_equal(redis_cluster_strerror(42), "unknown error");
}

static void test_slots(void **state)
{
    (void)state;
    char err[200];
    redis_cluster_map_t *m;
    /* five ranges, two primaries holding two each: three shards */
    redisReply *r = resp(SLOTS_MIGRATED);
    assert_int_equal(redis_cluster_map_from_slots(&m, r, "seed", err, sizeof err), 0);
    freeReplyObject(r);
    assert_int_equal(redis_cluster_map_shard_count(m), 3);
    assert_int_equal(redis_cluster_map_assigned(m), 16384);
    expect_node(redis_cluster_map_primary(m, 104), 37001, ID1);
    expect_node(redis_cluster_map_primary(m, 105), 37002, ID2);
    expect_node(redis_cluster_map_primary(m, 106), 37001, ID1);
    expect_node(redis_cluster_map_primary(m, 12182), 37003, ID3);
    assert_int_equal(redis_cluster_map_slot_shard(m, 0), redis_cluster_map_slot_shard(m, 5460));
    const redis_cluster_shard_t *s =
        redis_cluster_map_shard(m, (size_t)redis_cluster_map_slot_shard(m, 0));
    assert_int_equal(s->n_nodes, 2); /* the replica once, though listed twice */
    expect_node(&s->nodes[1], 37004, ID4);
    assert_int_equal(s->nodes[1].health, REDIS_CLUSTER_HEALTH_UNKNOWN);
    redis_cluster_map_free(m);

    r = resp(SLOTS_NO_REPLICAS);
    assert_int_equal(redis_cluster_map_from_slots(&m, r, "seed", err, sizeof err), 0);
    freeReplyObject(r);
    assert_int_equal(redis_cluster_map_shard_count(m), 3);
    for (size_t i = 0; i < 3; i++) assert_int_equal(redis_cluster_map_shard(m, i)->n_nodes, 1);
    redis_cluster_map_free(m);

    /* null and "" endpoints: the origin; "?": unknown, so the range stays unassigned; nodes of
     * two elements (no id); an empty reply: no slot covered */
    r = resp("*3\r\n"
             "*3\r\n:0\r\n:9\r\n*2\r\n$-1\r\n:7000\r\n"
             "*4\r\n:10\r\n:19\r\n*3\r\n$0\r\n\r\n:7001\r\n$1\r\nX\r\n*2\r\n$1\r\n?\r\n:7002\r\n"
             "*3\r\n:20\r\n:29\r\n*2\r\n$1\r\n?\r\n:7003\r\n");
    assert_int_equal(redis_cluster_map_from_slots(&m, r, "origin", err, sizeof err), 0);
    assert_int_equal(redis_cluster_map_assigned(m), 20);
    assert_string_equal(redis_cluster_map_primary(m, 0)->host, "origin");
    assert_int_equal(redis_cluster_map_primary(m, 0)->port, 7000);
    assert_string_equal(redis_cluster_map_primary(m, 19)->id, "X");
    assert_int_equal(redis_cluster_map_primary(m, 19)->port, 7001);
    assert_int_equal(redis_cluster_map_shard(m, 1)->n_nodes, 1);
    assert_null(redis_cluster_map_primary(m, 20));
    redis_cluster_map_free(m);
    /* with no origin known, null endpoints cannot be reached either */
    assert_int_equal(redis_cluster_map_from_slots(&m, r, NULL, err, sizeof err), 0);
    assert_int_equal(redis_cluster_map_assigned(m), 0);
    redis_cluster_map_free(m);
    freeReplyObject(r);
    r = resp("*0\r\n");
    assert_int_equal(redis_cluster_map_from_slots(&m, r, "h", err, sizeof err), 0);
    assert_int_equal(redis_cluster_map_assigned(m), 0);
    assert_int_equal(redis_cluster_map_shard_count(m), 0);
    redis_cluster_map_free(m);
    freeReplyObject(r);

    static const struct {
        const char *text, *says;
    } bad[] = {
        {"*1\r\n*2\r\n:0\r\n:1\r\n", "range 0 is not"},
        {"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n", "end <= 16383"},
        {"*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n", "start <= end"},
        {"*1\r\n*3\r\n$1\r\n0\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n", NULL}, /* text numbers: fine */
        {"*1\r\n*3\r\n:0\r\n:4\r\n*1\r\n$1\r\nh\r\n", "bad primary"},
        {"*1\r\n*3\r\n:0\r\n:4\r\n*2\r\n$1\r\nh\r\n:0\r\n", "bad primary"},
        {"*1\r\n*3\r\n:0\r\n:4\r\n*2\r\n:1\r\n:1\r\n", "bad primary"},
        {"*1\r\n*3\r\n:0\r\n:4\r\n*2\r\n$3\r\nh/x\r\n:1\r\n", "bad primary"},
        {"*1\r\n*4\r\n:0\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n:5\r\n", "bad replica node 0"},
        {"*2\r\n*3\r\n:0\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n*3\r\n:4\r\n:4\r\n*2\r\n$1\r\nh\r\n:2\r\n",
         "range 4-4 overlaps"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        r = resp(bad[i].text);
        m = (redis_cluster_map_t *)1;
        int rc = redis_cluster_map_from_slots(&m, r, "h", err, sizeof err);
        freeReplyObject(r);
        if (!bad[i].says) {
            assert_int_equal(rc, 0);
            redis_cluster_map_free(m);
            continue;
        }
        if (rc != REDIS_CLUSTER_EREPLY || !strstr(err, bad[i].says))
            fail_msg("reply %zu: got %d \"%s\", want \"%s\"", i, rc, err, bad[i].says);
        assert_null(m);
    }
}

static void test_redirect(void **state)
{
    (void)state;
    redis_cluster_redirect_t d;
    const char *s = "MOVED 15495 127.0.0.1:37003";
    assert_int_equal(redis_cluster_redirect_parse(s, strlen(s), &d), 0);
    assert_int_equal(d.kind, REDIS_CLUSTER_ERR_MOVED);
    assert_int_equal(d.slot, 15495);
    assert_string_equal(d.host, "127.0.0.1");
    assert_int_equal(d.port, 37003);

    s = "ASK 105 127.0.0.1:37002";
    assert_int_equal(redis_cluster_redirect_parse(s, strlen(s), &d), 0);
    assert_int_equal(d.kind, REDIS_CLUSTER_ERR_ASK);
    assert_int_equal(d.slot, 105);
    assert_int_equal(d.port, 37002);

    s = "MOVED 3999 :6380"; /* the same host as the connection */
    assert_int_equal(redis_cluster_redirect_parse(s, strlen(s), &d), 0);
    assert_string_equal(d.host, "");
    assert_int_equal(d.port, 6380);

    s = "MOVED 0 2001:db8::7:6379"; /* IPv6 without brackets: split at the last ':' */
    assert_int_equal(redis_cluster_redirect_parse(s, strlen(s), &d), 0);
    assert_int_equal(d.slot, 0);
    assert_string_equal(d.host, "2001:db8::7");
    assert_int_equal(d.port, 6379);

    s = "ASK 16383 [::1]:1";
    assert_int_equal(redis_cluster_redirect_parse(s, strlen(s), &d), 0);
    assert_string_equal(d.host, "::1");
    assert_int_equal(d.slot, 16383);

    s = "MOVED 1 redis-0.redis.svc.cluster.local:65535";
    assert_int_equal(redis_cluster_redirect_parse(s, strlen(s), &d), 0);
    assert_string_equal(d.host, "redis-0.redis.svc.cluster.local");
    assert_int_equal(d.port, 65535);

    /* the length given counts, not a NUL */
    assert_int_equal(redis_cluster_redirect_parse("MOVED 1 h:12345", 12, &d), 0);
    assert_int_equal(d.port, 12);

    static const char *bad[] = {
        "MOVED 16384 h:1",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h",
        "MOVED x h:1",
        "MOVED  h:1",
        "MOVED 1 h:",
        "MOVED 1 h:1x",
        "MOVED 1",
        "MOVED",
        "ASK",
        "MOVEDX 1 h:1",
        "moved 1 h:1",
        "MOVED 1 a b:1",
        "MOVED 1 []:1",
        "MOVED 123456 h:1",
        "ERR MOVED 1 h:1",
        "TRYAGAIN 1 h:1",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0x55, sizeof d);
        if (redis_cluster_redirect_parse(bad[i], strlen(bad[i]), &d) != -1)
            fail_msg("\"%s\" parsed as a redirect", bad[i]);
        assert_int_equal(d.kind, 0);
        assert_int_equal(d.port, 0);
        assert_string_equal(d.host, "");
    }
    char longhost[300];
    memset(longhost, 'a', sizeof longhost);
    memcpy(longhost, "ASK 1 ", 6);
    memcpy(longhost + 262, ":1", 3); /* a host of 256 bytes */
    assert_int_equal(redis_cluster_redirect_parse(longhost, strlen(longhost), &d), -1);
    longhost[261] = ':';
    longhost[262] = '1';
    longhost[263] = '\0'; /* 255 bytes */
    assert_int_equal(redis_cluster_redirect_parse(longhost, strlen(longhost), &d), 0);
    assert_int_equal(strlen(d.host), 255);
    assert_int_equal(redis_cluster_redirect_parse(NULL, 0, &d), -1);
}

static void test_error_kind(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        redis_cluster_err_t kind;
        int retry;
    } cases[] = {
        {"MOVED 15495 127.0.0.1:37003", REDIS_CLUSTER_ERR_MOVED, 1},
        {"ASK 105 127.0.0.1:37002", REDIS_CLUSTER_ERR_ASK, 1},
        {"TRYAGAIN Multiple keys request during rehashing of slot", REDIS_CLUSTER_ERR_TRYAGAIN, 1},
        {"CLUSTERDOWN The cluster is down", REDIS_CLUSTER_ERR_CLUSTERDOWN, 1},
        {"CLUSTERDOWN Hash slot not served", REDIS_CLUSTER_ERR_CLUSTERDOWN, 1},
        {"CROSSSLOT Keys in request don't hash to the same slot", REDIS_CLUSTER_ERR_CROSSSLOT, 0},
        {"READONLY You can't write against a read only replica.", REDIS_CLUSTER_ERR_READONLY, 1},
        {"LOADING Redis is loading the dataset in memory", REDIS_CLUSTER_ERR_LOADING, 1},
        {"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
         REDIS_CLUSTER_ERR_MASTERDOWN, 1},
        {"TRYAGAIN", REDIS_CLUSTER_ERR_TRYAGAIN, 1},
        {"ERR unknown command", REDIS_CLUSTER_ERR_NONE, 0},
        {"NOAUTH Authentication required.", REDIS_CLUSTER_ERR_NONE, 0},
        {"EXECABORT Transaction discarded because of previous errors.", REDIS_CLUSTER_ERR_NONE, 0},
        {"LOADINGX", REDIS_CLUSTER_ERR_NONE, 0},
        {"loading", REDIS_CLUSTER_ERR_NONE, 0},
        {" MOVED 1 h:1", REDIS_CLUSTER_ERR_NONE, 0},
        {"", REDIS_CLUSTER_ERR_NONE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        redis_cluster_err_t k = redis_cluster_error_kind(cases[i].text, strlen(cases[i].text));
        if (k != cases[i].kind || redis_cluster_error_retryable(k) != cases[i].retry)
            fail_msg("\"%s\": kind %d retryable %d, want %d %d", cases[i].text, k,
                     redis_cluster_error_retryable(k), cases[i].kind, cases[i].retry);
    }
    assert_int_equal(redis_cluster_error_kind("CLUSTERDOWN", 7), REDIS_CLUSTER_ERR_NONE);
    assert_int_equal(redis_cluster_error_kind(NULL, 0), REDIS_CLUSTER_ERR_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot),         cmocka_unit_test(test_shards),
        cmocka_unit_test(test_shards_nodes), cmocka_unit_test(test_refused),
        cmocka_unit_test(test_slots),        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_error_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
