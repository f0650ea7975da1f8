/* Test helper shared by the unit tests that read Redis replies: the first complete reply in a
 * RESP text, as hiredis's reader gives it. Include after cmocka.h. */
#ifndef CC_TEST_RESP_TEXT_H
#define CC_TEST_RESP_TEXT_H

#include <hiredis/hiredis.h>
#include <string.h>

/* The first complete reply in s[0..len) (the test fails when there is none); free it with
 * freeReplyObject. */
static redisReply *resp_n(const char *s, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    assert_int_equal(redisReaderFeed(rd, s, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    assert_non_null(r);
    redisReaderFree(rd);
    return r;
}

/* The same for a NUL-terminated text. */
static inline redisReply *resp(const char *s)
{
    return resp_n(s, strlen(s));
}

#endif
