/* Owned copies of hiredis reply trees, for a reply that must outlive the callback it came to
 * (hiredis frees each reply when its callback returns). Reads the reply structs through
 * <hiredis/read.h> only: no hiredis function is called, so the codecs library stays free of
 * it. */
#ifndef CC_REDIS_REPLY_H
#define CC_REDIS_REPLY_H

struct redisReply; /* <hiredis/hiredis.h> */

/* A deep copy of r (NULL for NULL), freed with redis_reply_free. Strings keep their length
 * and get a terminating NUL as hiredis gives them. */
struct redisReply *redis_reply_dup(const struct redisReply *r);

/* Frees a copy made by redis_reply_dup (never a reply hiredis owns); NULL is a no-op. */
void redis_reply_free(struct redisReply *r);

#endif
