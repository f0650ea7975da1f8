/* Channel listeners on the bus: who gets the messages of a channel or pattern. A channel is
 * subscribed when it gets its first listener and unsubscribed when it loses its last; the bus
 * keeps its wanted set across reconnects, so listeners need not subscribe again. One registry
 * per bus; the bus's on_message hands its messages to bus_listen_dispatch. */
#ifndef CC_BUS_LISTEN_H
#define CC_BUS_LISTEN_H

#include "bus.h"

#include <stddef.h>

typedef struct bus_listen bus_listen_t;

/* A message of a channel listened to (or, for a pattern listener, of a channel matching the
 * pattern). channel and payload are borrowed for the call. */
typedef void (*bus_listen_cb)(void *ud, const char *channel, size_t len, const char *payload,
                              size_t plen);

/* A registry on bus (borrowed: it must outlive the registry's subscribe and unsubscribe
 * calls, but bus_listen_free never touches it). Never fails. */
bus_listen_t *bus_listen_new(bus_t *bus);
/* Forgets every listener without unsubscribing (the bus may be closed already). Not from
 * inside a listener. NULL is a no-op. */
void bus_listen_free(bus_listen_t *l);

/* Adds fn(ud) to the listeners of channel (len bytes, binary-safe, copied); the first
 * listener of a channel subscribes it. Adding the same fn and ud twice is a no-op. A listener
 * added during a dispatch gets the messages after the current one. Returns 0, or a bus error
 * of the subscription (BUS_EINVAL, BUS_ECLOSED; the listener is then not added). */
int bus_listen_add(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud);
/* Removes fn(ud) from the listeners of channel: it gets no message after this returns, even
 * during a dispatch. The last listener's removal unsubscribes the channel. Removing a
 * listener that is not there is a no-op. Returns 0 or a bus error of the unsubscription. */
int bus_listen_remove(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud);
/* The same for glob-style patterns (PSUBSCRIBE, PUNSUBSCRIBE). */
int bus_listen_padd(bus_listen_t *l, const char *pattern, size_t len, bus_listen_cb fn, void *ud);
int bus_listen_premove(bus_listen_t *l, const char *pattern, size_t len, bus_listen_cb fn,
                       void *ud);

/* The same for shard channels (SSUBSCRIBE, SUNSUBSCRIBE). They share the channels' names:
 * a name is listened to either way, not both. */
int bus_listen_sadd(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn, void *ud);
int bus_listen_sremove(bus_listen_t *l, const char *channel, size_t len, bus_listen_cb fn,
                       void *ud);
/* Hands a message of the bus (bus_message_cb's arguments) to the listeners of its channel,
 * or of its pattern when pattern is not NULL, in the order they were added. Returns how many
 * listeners got it: 0 when none listens (the caller may handle it itself). */
size_t bus_listen_dispatch(bus_listen_t *l, const char *channel, size_t len, const char *pattern,
                           const char *payload, size_t plen);

#endif
