/* Channel listeners: the Redis messages adminnode subscribes to (heartbeats, command replies,
 * adapter responses) each go to the part that asked for them. */
#include "alloc.h"
#include "api.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    adminnode_listen_cb fn;
    void *ud;
    size_t len;
    char channel[];
} listener_t;

int adminnode_listen(adminnode_t *an, const char *channel, adminnode_listen_cb fn, void *ud)
{
    if (!an->bus) return BUS_EINVAL;
    size_t len = strlen(channel);
    listener_t *l = xmalloc(sizeof *l + len + 1);
    l->fn = fn;
    l->ud = ud;
    l->len = len;
    memcpy(l->channel, channel, len + 1);
    free(strmap_put(&an->listeners, l->channel, l->len, l));
    return bus_subscribe(an->bus, channel, len);
}

void adminnode_on_message(void *ud, const char *channel, size_t len, const char *pattern,
                          const char *payload, size_t plen)
{
    adminnode_t *an = ud;
    if (pattern) return;
    listener_t *l = strmap_get(&an->listeners, channel, len);
    if (l) l->fn(l->ud, channel, len, payload, plen);
}

void adminnode_listen_free(adminnode_t *an)
{
    void *v;
    for (size_t i = 0; strmap_next(&an->listeners, &i, NULL, NULL, &v);) free(v);
    strmap_free(&an->listeners);
}
