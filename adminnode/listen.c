/* Channel listeners: the Redis messages adminnode subscribes to (heartbeats, command replies,
 * adapter responses) each go to the part that asked for them, through the bus's listener
 * registry (proto/runtime/bus_listen.h). */
#include "api.h"

#include <string.h>

bus_listen_t *listen_registry(adminnode_t *an)
{
    if (!an->listeners && an->bus) an->listeners = bus_listen_new(an->bus);
    return an->listeners;
}

int listen_on(adminnode_t *an, const char *channel, listen_cb fn, void *ud)
{
    bus_listen_t *l = listen_registry(an);
    return l ? bus_listen_add(l, channel, strlen(channel), fn, ud) : BUS_EINVAL;
}

void listen_dispatch(void *ud, const char *channel, size_t len, const char *pattern,
                     const char *payload, size_t plen)
{
    adminnode_t *an = ud;
    if (an->listeners) bus_listen_dispatch(an->listeners, channel, len, pattern, payload, plen);
}

void listen_free(adminnode_t *an)
{
    bus_listen_free(an->listeners);
    an->listeners = NULL;
}
