/* App modules: what the server runs on top of Socket.IO (or of Engine.IO directly), as a
 * table of callbacks. The server knows nothing of what an app does. */
#ifndef CC_APP_H
#define CC_APP_H

#include "chat_store.h"
#include "config.h"
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

/* An app's own settings, declared beside its code: its options are read with chatnode's in
 * one pass (the same flags, CHATNODE_* variables, config-file keys and --help), into a zeroed
 * struct of size bytes that the app gets at init. Option names are unique across chatnode
 * and every app. */
typedef struct {
    const cfg_opt_t *opts;
    size_t nopts;
    size_t size;
} app_settings_t;

/* connect's answer "later": see app_module_t.connect. */
#define APP_CONNECT_PENDING 1

typedef struct app_module {
    const char *name;
    const char *description;
    /* Optional: the app's settings. */
    const app_settings_t *settings;

    /* Optional. Called once at start with the Socket.IO server (NULL for Engine.IO apps). On
     * entry *state is the app's settings struct (borrowed, valid until after destroy; NULL
     * when the app declares none); the app replaces it with its own state, which it gets
     * back in serves(), destroy() and cluster_connected(), and which the callbacks given a
     * socket or namespace reach through sio_server_app_state(). Return 0, or -1 to abort
     * the start. */
    int (*init)(server_t *srv, sio_server_t *sio, void **state);
    void (*destroy)(void *state);

    /* Engine.IO apps set this and nothing below: every message packet of every session. */
    void (*eio_message)(eio_session_t *s, const eio_packet_t *p);

    /* Namespaces that exist from the start (NULL-terminated; optional). */
    const char *const *namespaces;
    /* Does the app serve this namespace? Others get CONNECT_ERROR "Invalid namespace". */
    int (*serves)(void *state, const char *nsp, size_t len);
    /* A CONNECT with the handshake auth (JSON object text, "{}" when none). Return 0 to accept,
     * or -1 after writing a JSON object into error (sent as CONNECT_ERROR data). Optional.
     *
     * Or return APP_CONNECT_PENDING to answer later (a sign-in that asks another server):
     * the app then calls sio_connect_done(s, ...) exactly once, from the loop, to admit or
     * refuse. Meanwhile s is no socket yet: it is in no namespace table and no room, gets
     * nothing, and its client's packets for that namespace (a second CONNECT, an event) end
     * the session as packets for a namespace not joined do; its socket data is the app's
     * (sio_socket_set_data) to carry the pending sign-in. If the connection goes first (or
     * the server closes), connect_abandoned(s) is called instead, and s is freed after it:
     * the app forgets s there and never calls sio_connect_done for it. A pending CONNECT
     * still counts against --connect-timeout. */
    int (*connect)(sio_socket_t *s, const char *auth, size_t auth_len, sbuf_t *error);
    /* A pending CONNECT's connection went: see connect. Required when connect can return
     * APP_CONNECT_PENDING. */
    void (*connect_abandoned)(sio_socket_t *s);
    /* After the CONNECT answer went out. Optional. */
    void (*connected)(sio_socket_t *s, const char *auth, size_t auth_len);
    /* Connection-state recovery (docs/recovery.md). Whose session a CONNECT makes, from its
     * auth (the chat: the user id): a session is restored only for a CONNECT of the same
     * owner. Writes nothing for "anyone holding the session's pid"; returns 0, or -1 when
     * auth names nobody (the session is then neither restored nor kept). Optional: without
     * it every session is anyone's. */
    int (*session_owner)(sio_server_t *sio, const char *auth, size_t auth_len, sbuf_t *owner);
    /* A session kept on another node comes back here: rebuild the socket's data from data,
     * what socket_data wrote for it (JSON object text, "" when nothing). Return 0, or -1 to
     * refuse it (the CONNECT then makes a new session). Optional: without it such a session
     * comes back with no socket data. */
    int (*restore)(sio_socket_t *s, const char *data, size_t data_len);
    /* A session came back on a new connection: same id, rooms and socket data, missed packets
     * sent; connect and connected are not called for it. moved: it was kept on another node
     * (restore rebuilt its data), else on this one. Optional. */
    void (*recovered)(sio_socket_t *s, const char *auth, size_t auth_len, int moved);
    /* An EVENT or BINARY_EVENT. */
    void (*event)(sio_socket_t *s, const sio_event_t *ev);
    /* The client acked an emit made with sio_emit_with_ack(.., tag). Optional. */
    void (*ack)(sio_socket_t *s, uint64_t tag, const sio_event_t *ack);
    /* The socket is going (client or server disconnect, transport closed): still in its rooms
     * during the call, freed after it. With recovery on, a socket whose connection went for a
     * reason that keeps its session is told only once the session is over: its window passed
     * without it coming back (reason: the connection's), or it came back elsewhere. Optional. */
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
    /* The limits under which the app keeps chat history in Redis (the chat storage contract,
     * proto/chat_store.h): announced in the node's heartbeats, so that whoever else writes
     * to that history (adminnode's system messages) obeys them. Return 1 with *out set, or 0
     * when the app keeps no chat history. Optional. */
    int (*store_limits)(void *state, chat_store_limits_t *out);
    /* Appends ,"name":value members of the app's own to the node's /healthz object.
     * Optional. */
    void (*health)(void *state, sbuf_t *json);
} app_module_t;

/* The app modules compiled in; NULL-terminated. */
extern const app_module_t *const app_modules[];
const app_module_t *app_find(const char *name);

/* The sections chatnode reads its settings from (cfg_load_sections): core (its table, read
 * into core_conf) first, then one per app module that declares settings, each with a new
 * zeroed struct: the settings of every app are read, so a flag of an app other than the one
 * run is still valid. Returns how many, with the array in *out; app_settings_free releases
 * it. */
size_t app_settings_sections(const cfg_table_t *core, void *core_conf, cfg_section_t **out);
/* The settings struct of app among sections made above, or NULL when it declares none. */
void *app_settings_of(const cfg_section_t *sec, size_t nsec, const app_module_t *app);
/* Releases the strings of every section (the core's included), the apps' structs and the
 * array. NULL is a no-op. */
void app_settings_free(cfg_section_t *sec, size_t nsec);

#endif
