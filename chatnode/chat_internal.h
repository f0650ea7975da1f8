/* The chat app's state, shared by its files (chat.c and the pieces it uses): one chat_t per
 * running app, made by its init and reached by the callbacks through the Socket.IO server
 * (chat_of), and the chat's data on each socket. Private to the chat app. */
#ifndef CC_CHAT_INTERNAL_H
#define CC_CHAT_INTERNAL_H

#include "chat_config.h"
#include "chat_hooks.h"
#include "chat_identity.h"
#include "chat_presence.h"
#include "chat_storage.h"
#include "chatnode_config.h"
#include "server.h"
#include "sio.h"

#include <stdint.h>
#include <uv.h>

typedef struct {
    server_t *srv;
    sio_server_t *sio;
    const chatnode_config_t *core; /* chatnode's settings (--redis-key...) */
    const chat_config_t *cfg;      /* the chat's own */
    chat_identity_t identity;
    chat_presence_t presence;
    chat_storage_t *storage; /* Redis or memory, chosen at init */
    uv_timer_t tick;         /* presence refresh and storage pruning */
    chat_hooks_t *hooks;     /* the HTTP hooks, or NULL when none is set */
    struct events *events;   /* the cluster events it records (events.h) */
} chat_t;

/* What the auth hook gave a member: its data object (JSON text) and the rooms to join once
 * connected. Most members have none, so it is out of line. */
typedef struct {
    char *data;  /* owned, or NULL */
    char **join; /* owned, NULL once joined */
    uint32_t njoin;
} chat_member_hook_t;

/* The chat's data on a socket (sio_socket_data), with its strings in the same allocation. */
typedef struct {
    char *user_id;
    char *user_name; /* inside user_id when the id ends with the name */
    double tokens;   /* rate limit bucket */
    uint64_t last_ms;
    chat_member_hook_t *hook; /* owned: signed in by the auth hook with data or rooms; or NULL */
    uint32_t rooms;           /* chat rooms joined */
} chat_member_t;

#endif
