#include "redis_reply.h"

#include "alloc.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

redisReply *redis_reply_dup(const redisReply *r)
{
    if (!r) return NULL;
    redisReply *c = xcalloc(1, sizeof *c);
    c->type = r->type;
    c->integer = r->integer;
    if (r->str) {
        c->str = xmalloc(r->len + 1);
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
    }
    if (r->element && r->elements) {
        c->element = xcalloc(r->elements, sizeof *c->element);
        c->elements = r->elements;
        for (size_t i = 0; i < r->elements; i++) c->element[i] = redis_reply_dup(r->element[i]);
    }
    return c;
}

void redis_reply_free(redisReply *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->elements; i++) redis_reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}
