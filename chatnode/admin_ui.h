/* The official Socket.IO Admin UI (@socket.io/admin-ui 0.5) served natively: its /admin
 * namespace on this node's Socket.IO server (--admin-ui). docs/admin-ui.md has the protocol
 * as implemented:
 *
 *   - sign-in: with --admin-ui-user, a CONNECT to /admin carries {username, password}
 *     checked against the bcrypt --admin-ui-password-hash (off the loop, in the thread pool),
 *     or a {sessionId} this node gave out before; a refusal is "invalid credentials".
 *     Without a user the namespace is open (and a warning is logged at start).
 *   - on connect: "session" (after a password sign-in), "config" (the supported features),
 *     this node's "server_stats", and in development mode "all_sockets" of the cluster.
 *   - every 2 s: "server_stats" of this node to every admin socket of the cluster (a
 *     broadcast on /admin, which the Redis adapter carries), so that each chatnode is one
 *     server of the UI.
 *   - in development mode (--admin-ui-mode development): socket_connected,
 *     socket_disconnected, room_joined, room_left, event_received and event_sent of every
 *     namespace as they happen.
 *   - commands: emit, join, leave and _disconnect, each for a namespace and an optional
 *     room (a socket id is a room), applied across the cluster. */
#ifndef CC_ADMIN_UI_H
#define CC_ADMIN_UI_H

#include "chatnode_config.h"
#include "server.h"
#include "sio.h"

#include <stdio.h>

typedef struct admin_ui admin_ui_t;

/* Whether the --admin-ui-* settings hold together (a bcrypt hash with a user, a known mode).
 * Returns 0, or -1 with a message in err. */
int admin_ui_check_config(const chatnode_config_t *cfg, char *err, size_t errlen);
/* Mounts /admin on sio and starts the stats timer. Returns 0, or -1 with a message in err
 * (a password hash that is not bcrypt's, a user without one). */
int admin_ui_start(admin_ui_t **out, server_t *srv, sio_server_t *sio, const chatnode_config_t *cfg,
                   char *err, size_t errlen);
/* Stops the timer; the state goes once the timer and any running password check are done.
 * NULL is a no-op. */
void admin_ui_stop(admin_ui_t *ui);

/* 1 when hash has bcrypt's form: $2a$, $2b$ or $2y$, a two-digit cost of 4 to 31, then 53
 * characters of bcrypt's base64. */
int admin_ui_hash_valid(const char *hash);

/* chatnode --hash-password: reads a password (one line) from in and writes its bcrypt hash
 * ($2b$, cost 10) and a newline to out. Returns 0, or -1 with a message on stderr. */
int admin_ui_hash_password(FILE *in, FILE *out);

#endif
