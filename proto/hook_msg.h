/* The chat's HTTP hooks on the wire: the documents chatnode posts to the application (the
 * auth hook's sign-in request, the publish hook's message) and the application's answers, read
 * and checked against the chat's rules (names, rooms, texts). Pure: no I/O, no clock. */
#ifndef CC_HOOK_MSG_H
#define CC_HOOK_MSG_H

#include "sbuf.h"

#include <stddef.h>

/* Longest cache_s an auth answer may ask for (longer is cut to this). */
#define HOOK_CACHE_MAX_S 300
/* Longest data object an auth answer may give a user, as compact JSON. */
#define HOOK_DATA_MAX_BYTES 4096
/* Longest refusal message passed on (longer is cut at a character boundary). */
#define HOOK_MESSAGE_MAX_BYTES 256
/* A refusal code: 1..64 of [A-Za-z0-9_.:-]. */
#define HOOK_CODE_MAX 64

/* What an answer comes to. */
typedef enum {
    HOOK_UNAVAILABLE = 0, /* no usable answer: the hook's fallback applies */
    HOOK_ADMIT,           /* auth: the user is signed in */
    HOOK_ACCEPT,          /* publish: store the message as sent */
    HOOK_REWRITE,         /* publish: store the answer's text instead */
    HOOK_REFUSE,          /* refused, with a code and a message */
} hook_verdict_t;

/* An auth hook's answer. Every string is owned (hook_auth_free). */
typedef struct {
    hook_verdict_t verdict; /* HOOK_ADMIT, HOOK_REFUSE or HOOK_UNAVAILABLE */
    char *id, *name;        /* ADMIT: checked by chat_check_name; the id has no guest prefix */
    char **rooms;           /* ADMIT: rooms to join, each checked by chat_check_room */
    size_t nrooms;
    char *data;         /* ADMIT: the answer's data object as compact JSON text, or NULL */
    long cache_s;       /* ADMIT: seconds the answer may be reused (0..HOOK_CACHE_MAX_S) */
    char *code;         /* REFUSE: the answer's code, or NULL */
    char *message;      /* REFUSE: why (never NULL) */
    const char *reason; /* UNAVAILABLE: what was wrong with the answer (static) */
} hook_auth_t;

/* Reads an auth hook's answer: status and body (body_len bytes, not NUL-terminated; a
 * transport failure is the caller's, not given here). 200 with {user: {id, name?}, rooms?,
 * data?, cache_s?} admits (name defaults to the id); {error: {code?, message}} with any status
 * refuses; anything else is HOOK_UNAVAILABLE with a reason, as is an answer with more than
 * max_rooms rooms. Fills *out (free it with hook_auth_free whatever the verdict); returns
 * out->verdict. */
hook_verdict_t hook_auth_parse(long status, const char *body, size_t body_len, size_t max_rooms,
                               hook_auth_t *out);
void hook_auth_free(hook_auth_t *a);
/* An admitted answer again as compact JSON text (what a cache keeps; reading it back with
 * hook_auth_parse(200, ...) gives the same answer). Appended to out; returns 0, or -1 when a
 * (pathological) answer cannot be encoded. */
int hook_auth_encode(const hook_auth_t *a, sbuf_t *out);

/* A publish hook's answer. Owned strings (hook_publish_free). */
typedef struct {
    hook_verdict_t verdict; /* ACCEPT, REWRITE, REFUSE or UNAVAILABLE */
    char *text;             /* REWRITE: the new text (1..max_text bytes of UTF-8) */
    size_t text_len;
    char *code;         /* REFUSE: the answer's code */
    char *message;      /* REFUSE: its message, or a default one */
    const char *reason; /* UNAVAILABLE: what was wrong (static) */
} hook_publish_t;

/* Reads a publish hook's answer: 204, or 200 with an empty body, accepts; 200 with
 * {action: "accept"}, {action: "rewrite", text} or {action: "refuse", code, message?} says
 * so; anything else is HOOK_UNAVAILABLE. Fills *out (hook_publish_free it); returns
 * out->verdict. */
hook_verdict_t hook_publish_parse(long status, const char *body, size_t body_len, size_t max_text,
                                  hook_publish_t *out);
void hook_publish_free(hook_publish_t *p);

/* 1 when s[0..len) is a refusal code: 1..HOOK_CODE_MAX of [A-Za-z0-9_.:-]. */
int hook_check_code(const char *s, size_t len);

/* The auth hook's request document: {auth, address, headers, namespace, node}. auth is the
 * handshake's auth (JSON text; anything but an object is sent as {}) without the pid and offset
 * members a Socket.IO client adds when it asks for its session back: the application sees the
 * same auth on every CONNECT of a client, and identical requests stay identical (the cache).
 * headers is a JSON object's text or NULL for {}. Appended to out; returns 0, or -1 when a
 * string is not UTF-8. */
int hook_auth_request(sbuf_t *out, const char *auth, size_t auth_len, const char *address,
                      const char *headers, const char *nsp, size_t nsp_len, const char *node);

/* The owner of a session signed in by the auth hook: HOOK_OWNER_PREFIX and the hex SHA-256
 * of the handshake's auth as the hook gets it (pid and offset left out), keys sorted, so that
 * a client presenting the same auth again (socket.io-client resends its auth object) owns the
 * same session, and any other auth owns another. 69 characters: never a token user's id
 * (1-64) nor a guest's (guest:...). Appended to owner; returns 0, or -1 when auth is not a
 * JSON object (duplicate keys, not UTF-8): such a CONNECT owns no session. */
#define HOOK_OWNER_PREFIX     "hook:"
#define HOOK_OWNER_PREFIX_LEN 5
int hook_auth_owner(const char *auth, size_t auth_len, sbuf_t *owner);

/* The publish hook's request document: {type: "message", room, from, text, node} for a room
 * message (private 0), {type: "private_message", to, ...} for a private one. Appended to out;
 * returns 0, or -1 when a string is not UTF-8. */
int hook_publish_request(sbuf_t *out, int private_msg, const char *target, const char *from_id,
                         const char *from_name, const char *text, size_t text_len,
                         const char *node);

#endif
