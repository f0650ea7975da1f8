/* App modules: what the server runs on top of Socket.IO (or of Engine.IO directly), as a
 * table of callbacks. The server knows nothing of what an app does. */
#ifndef CC_APP_H
#define CC_APP_H

#include "eio_packet.h"
#include "sbuf.h"
#include "sio_packet.h"

#include <stddef.h>
#include <stdint.h>

typedef struct eio_session eio_session_t;
typedef struct sio_server sio_server_t;
typedef struct sio_socket sio_socket_t;
typedef struct sio_nsp sio_nsp_t;
typedef struct server server_t;

/* An event or an ack as the app sees it. Every pointer borrows from the packet and is valid
 * during the callback only. */
typedef struct {
    const char *name; /* event name, decoded, NUL-terminated; NULL for acks and for events
                         whose first argument is a number */
    size_t name_len;
    const char *args; /* the arguments as JSON text, comma-separated, without the brackets
                         (empty when none): forwarding them keeps the peer's exact bytes */
    size_t args_len;
    const sio_attachment_t *att; /* binary attachments the args' placeholders refer to */
    unsigned natt;
    int64_t ack_id; /* the client wants an ack with this id (sio_ack), or -1 */
} sio_event_t;

typedef struct app_module {
    const char *name;
    const char *description;

    /* Optional. Called once at start with the Socket.IO server (NULL for Engine.IO apps);
     * *state is handed back to serves(). Return 0, or -1 to abort the start. */
    int (*init)(server_t *srv, sio_server_t *sio, void **state);
    void (*destroy)(void *state);

    /* Engine.IO apps set this and nothing below: every message packet of every session. */
    void (*eio_message)(eio_session_t *s, const eio_packet_t *p);

    /* Namespaces that exist from the start (NULL-terminated; optional). */
    const char *const *namespaces;
    /* Does the app serve this namespace? Others get CONNECT_ERROR "Invalid namespace". */
    int (*serves)(void *state, const char *nsp, size_t len);
    /* A CONNECT with the handshake auth (JSON object text, "{}" when none). Return 0 to accept,
     * or -1 after writing a JSON object into error (sent as CONNECT_ERROR data). Optional. */
    int (*connect)(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error);
    /* After the CONNECT answer went out. Optional. */
    void (*connected)(sio_socket_t *s, const char *auth, size_t auth_len);
    /* An EVENT or BINARY_EVENT. */
    void (*event)(sio_socket_t *s, const sio_event_t *ev);
    /* The client acked an emit made with sio_emit_with_ack(.., tag). Optional. */
    void (*ack)(sio_socket_t *s, uint64_t tag, const sio_event_t *ack);
    /* The socket is going (client or server disconnect, transport closed): still in its rooms
     * during the call, freed after it. Optional. */
    void (*disconnect)(sio_socket_t *s, const char *reason);
    /* The socket's data as a JSON object, for fetch-sockets answers (Node's socket.data);
     * write nothing for {}. Optional. */
    void (*socket_data)(const sio_socket_t *s, sbuf_t *json);
    /* A server-side emit from another server of the cluster (ev->name, ev->args; no
     * attachments: that path is JSON). When the sender wants an answer (ev->ack_id >= 0), the
     * app may write one JSON value into reply and return 1; 0 means no answer. Optional. */
    int (*server_event)(sio_nsp_t *nsp, const sio_event_t *ev, sbuf_t *reply);
    /* The cluster's Redis connection for commands is up: at start, and again after it was
     * lost. What the app keeps in Redis may be gone (a restarted Redis without persistence):
     * write it again. Optional. */
    void (*cluster_connected)(void *state);
} app_module_t;

/* The app modules compiled in; NULL-terminated. */
extern const app_module_t *const app_modules[];
const app_module_t *app_find(const char *name);

#endif
