/* The chat's HTTP hooks: the application is asked, over HTTP, who a connecting client is
 * (--auth-hook) and what becomes of each message before it is stored (--publish-hook). One
 * http_client for both, bounded requests in flight per hook, a short cache of admitted
 * sign-ins when the answer allows it, one order per sender for messages, counters for
 * /healthz. The documents and the reading of answers are proto/hook_msg.h's; what the chat
 * does with an answer (sign-in, fallback, storing) is chat.c's. */
#ifndef CC_CHAT_HOOKS_H
#define CC_CHAT_HOOKS_H

#include "chat_config.h"
#include "hook_msg.h"
#include "sbuf.h"
#include "server.h"
#include "sio.h"

#include <stddef.h>

typedef struct chat_hooks chat_hooks_t;

/* The hooks cfg asks for, on sio's loop (srv: the node's tag, when it runs alone). Returns 0 with
 * *out set, NULL when neither hook is set; or -1 with a message in err (a fallback that is not one,
 * a URL that is not http(s), libcurl that cannot start). */
int chat_hooks_new(chat_hooks_t **out, server_t *srv, sio_server_t *sio, const chat_config_t *cfg,
                   char *err, size_t errlen);
/* Cancels every request: pending sign-ins are the Socket.IO layer's to abandon before this
 * (the server closes its connections first); a message still waiting has its callback fired
 * with a NULL answer. Then closes the client, which frees itself from the loop. NULL is a
 * no-op. */
void chat_hooks_close(chat_hooks_t *h);

int chat_hooks_has_auth(const chat_hooks_t *h);
int chat_hooks_has_publish(const chat_hooks_t *h);
/* 1 when an unusable auth answer falls back to the token/guest sign-in, 0 when it refuses. */
int chat_hooks_auth_fallback_jwt(const chat_hooks_t *h);
/* 1 when an unusable publish answer accepts the message, 0 when it refuses it. */
int chat_hooks_publish_fallback_accept(const chat_hooks_t *h);
/* The --auth-hook-headers names (borrowed), their number returned. */
size_t chat_hooks_header_names(const chat_hooks_t *h, const char *const **names);

/* The answer to a sign-in: ADMIT, REFUSE or UNAVAILABLE (then the fallback is the caller's).
 * answer is borrowed for the call. */
typedef void (*chat_hooks_auth_cb)(sio_socket_t *s, const hook_auth_t *answer);

/* Asks the auth hook about s's CONNECT (auth: the handshake's, JSON text). Returns 1 with
 * *answer filled at once (the caller frees it with hook_auth_free): a cached admission, or
 * UNAVAILABLE when the hook cannot be asked now (--auth-hook-max-inflight requests already
 * wait, or the request would not start). Or returns 0: the request is under way, s's socket
 * data holds it until cb fires (exactly once, from the loop; the data is NULL again by then)
 * or chat_hooks_auth_abandon is called. */
int chat_hooks_auth(chat_hooks_t *h, sio_socket_t *s, const char *auth, size_t auth_len,
                    chat_hooks_auth_cb cb, hook_auth_t *answer);
/* s's pending sign-in is over unanswered (its connection went): cancelled, cb never fires,
 * s's socket data is NULL again. */
void chat_hooks_auth_abandon(chat_hooks_t *h, sio_socket_t *s);

/* The answer to a re-check (see chat_hooks_auth_check): ADMIT, REFUSE or UNAVAILABLE, borrowed
 * for the call; NULL when the hooks are closing (free ud, do nothing). */
typedef void (*chat_hooks_check_cb)(void *ud, const hook_auth_t *answer);

/* Asks the auth hook about s's auth again, for a socket already signed in (a restored
 * session): the same request, cache and in-flight bound as chat_hooks_auth, but s's socket data
 * is not touched, and s may be gone by the time the answer comes (ud finds it again). Returns 1
 * with *answer filled at once (hook_auth_free it), or 0: cb(ud, answer) fires exactly once,
 * from the loop. */
int chat_hooks_auth_check(chat_hooks_t *h, sio_socket_t *s, const char *auth, size_t auth_len,
                          chat_hooks_check_cb cb, void *ud, hook_auth_t *answer);

/* A message the publish hook is asked about. Every pointer is borrowed for the call. */
typedef struct {
    int private_msg; /* 0: a room message (target is the room); 1: target is a user id */
    const char *sid; /* the sender's socket id: messages of one socket keep their order */
    const char *target;
    const char *from_id, *from_name;
    const char *text;
    size_t text_len;
} chat_hooks_msg_t;

/* The verdict on a message: ACCEPT, REWRITE, REFUSE or UNAVAILABLE (the fallback is the
 * caller's), borrowed for the call; NULL when the hooks are closing (free ud, do nothing). */
typedef void (*chat_hooks_publish_cb)(void *ud, const hook_publish_t *answer);

/* Asks the publish hook about m. cb(ud, answer) fires exactly once, possibly before this
 * returns, and the callbacks of one sid fire in the order of their calls, whatever order the
 * hook answers in: a message never overtakes an earlier one of the same socket. Past
 * --publish-hook-max-inflight a message is UNAVAILABLE without a request (still in its
 * place in the order). */
void chat_hooks_publish(chat_hooks_t *h, const chat_hooks_msg_t *m, chat_hooks_publish_cb cb,
                        void *ud);

/* Appends ,"hooks":{...} with each hook's counters to a /healthz object. */
void chat_hooks_health(const chat_hooks_t *h, sbuf_t *json);

#endif
