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

/* The chat's data on a socket (sio_socket_data), with its strings in the same allocation. */
typedef struct {
    char *user_id;
    char *user_name; /* inside user_id when the id ends with the name */
    double tokens;   /* rate limit bucket */
    uint64_t last_ms;
    uint32_t rooms; /* chat rooms joined */
    /* Signed in by the auth hook: its data object (JSON text), and the rooms to join once
     * connected (then NULL); owned, NULL otherwise. */
    char *data;
    char **join;
    uint32_t njoin;
} chat_member_t;

#endif
