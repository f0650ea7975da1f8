/* Unit tests for chatnode/chat_storage_memory.c: the chat storage of a node running alone
 * keeps the Redis contract: a client id stores a message once, a stream is capped at the
 * history size, pages are the newest messages before an id, oldest first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chat_storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[64];
    int fresh, calls;
    char text[64]; /* a retry's message as stored: its text ("" when not given) */
} stored_t;

static void on_stored(void *ud, const char *id, int fresh, int confirmed, json_t *stored)
{
    stored_t *s = ud;
    assert_int_equal(confirmed, 1); /* memory has no replicas to wait for */
    if (fresh) assert_null(stored);
    snprintf(s->id, sizeof s->id, "%s", id ? id : "");
    snprintf(s->text, sizeof s->text, "%s",
             stored ? json_string_value(json_object_get(stored, "text")) : "");
    s->fresh = fresh;
    s->calls++;
}

static void on_page(void *ud, json_t *messages)
{
    json_t **out = ud;
    *out = json_incref(messages);
}

static stored_t store(chat_storage_t *st, const char *stream, const char *dedupe, const char *text,
                      const char *to)
{
    stored_t s = {{0}, -1, 0, {0}};
    chat_storage_msg_t m = {
        .stream = stream,
        .stream_len = strlen(stream),
        .dedupe = dedupe,
        .dedupe_len = dedupe ? strlen(dedupe) : 0,
        .from = "guest:ann",
        .from_len = 9,
        .name = "ann",
        .name_len = 3,
        .text = text,
        .text_len = strlen(text),
        .to = to,
        .to_len = to ? strlen(to) : 0,
    };
    assert_int_equal(st->store(st, &m, on_stored, &s), 0);
    assert_int_equal(s.calls, 1); /* in memory, before store returns */
    return s;
}

static json_t *page(chat_storage_t *st, const char *stream, const char *room, const char *before,
                    long limit)
{
    json_t *out = NULL;
    assert_int_equal(st->page(st, stream, strlen(stream), room, before, limit, on_page, &out), 0);
    assert_non_null(out);
    return out;
}

static const char *text_at(json_t *messages, size_t i)
{
    return json_string_value(json_object_get(json_array_get(messages, i), "text"));
}

static void test_store_and_page(void **state)
{
    (void)state;
    chat_storage_limits_t limits = {3, 3600};
    chat_storage_t *st = chat_storage_memory_new(&limits);
    stored_t ids[5];
    char text[8];
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "m%d", i);
        ids[i] = store(st, "K:chat:room:r", NULL, text, NULL);
        assert_int_equal(ids[i].fresh, 1);
        if (i) assert_string_not_equal(ids[i].id, ids[i - 1].id);
    }
    json_t *all = page(st, "K:chat:room:r", "r", NULL, 100);
    assert_int_equal(json_array_size(all), 3); /* capped at the history size */
    assert_string_equal(text_at(all, 0), "m2");
    assert_string_equal(text_at(all, 2), "m4");
    json_t *first = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(first, "id")), ids[2].id);
    assert_string_equal(json_string_value(json_object_get(first, "room")), "r");
    assert_string_equal(json_string_value(json_object_get(json_object_get(first, "from"), "id")),
                        "guest:ann");
    assert_null(json_object_get(first, "to"));
    json_decref(all);

    json_t *older = page(st, "K:chat:room:r", "r", ids[4].id, 1);
    assert_int_equal(json_array_size(older), 1);
    assert_string_equal(text_at(older, 0), "m3");
    json_decref(older);

    json_t *none = page(st, "K:chat:room:other", NULL, NULL, 10);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    st->prune(st);
    st->free(st);
}

static void test_dedupe_and_private(void **state)
{
    (void)state;
    chat_storage_limits_t limits = {100, 3600};
    chat_storage_t *st = chat_storage_memory_new(&limits);
    stored_t a = store(st, "K:chat:dm:a:b", "K:chat:dedupe:x", "hi", "guest:bob");
    stored_t b = store(st, "K:chat:dm:a:b", "K:chat:dedupe:x", "hi again", "guest:bob");
    assert_int_equal(a.fresh, 1);
    assert_int_equal(b.fresh, 0); /* a retry gets the first id back, not a second copy */
    assert_string_equal(a.id, b.id);
    assert_string_equal(b.text, "hi"); /* the message as stored, not the retry's text */
    json_t *dm = page(st, "K:chat:dm:a:b", NULL, NULL, 10);
    assert_int_equal(json_array_size(dm), 1);
    assert_string_equal(text_at(dm, 0), "hi");
    assert_string_equal(json_string_value(json_object_get(json_array_get(dm, 0), "to")),
                        "guest:bob");
    assert_null(json_object_get(json_array_get(dm, 0), "room"));
    json_decref(dm);
    st->free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_and_page),
        cmocka_unit_test(test_dedupe_and_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
