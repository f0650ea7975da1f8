/* The rules of the REST API's path and query parameters: what every value must be (UTF-8,
 * no control characters, bounded in bytes), and the formats of the values whose meaning is
 * known (rooms, user ids, socket ids, node ids, namespaces, message ids, counts). Pure. */
#ifndef CC_API_PARAMS_H
#define CC_API_PARAMS_H

#include <stddef.h>

#define API_PARAM_MAX_BYTES 1024 /* any path or query value, decoded */
#define API_SID_MAX         64   /* a socket id: 1..64 of [A-Za-z0-9_-] */
#define API_NSP_MAX         200  /* a namespace, bytes, "/" included */
#define API_MSGID_MAX       41   /* a message (stream entry) id: <ms>-<seq>, 20 digits each */
#define API_COUNT_MAX       9    /* digits of a count (limit, offset) */

/* Every check takes a decoded value v[0..len) and returns 0 when it is acceptable, or -1 with
 * a phrase that completes "<parameter> ..." ("is not valid UTF-8") written into why (at most
 * whylen bytes, NUL-terminated, ASCII). */
typedef int (*api_param_check_fn)(const char *v, size_t len, char *why, size_t whylen);

/* Any value: valid UTF-8, no NUL or other C0 control, no DEL, at most API_PARAM_MAX_BYTES. */
int api_check_text(const char *v, size_t len, char *why, size_t whylen);
/* A room as an administrator may name one: a label of 1..CHAT_ROOM_MAX_CHARS characters and
 * at most CHAT_ROOM_MAX_BYTES bytes, no control or text-direction characters. Users' own rooms
 * (user:...) and socket-id rooms are rooms too. */
int api_check_room(const char *v, size_t len, char *why, size_t whylen);
/* A user id as the chat defines it (chat_check_user_id). */
int api_check_user(const char *v, size_t len, char *why, size_t whylen);
/* A socket id: 1..API_SID_MAX characters of A-Z a-z 0-9 _ - (what chatnode and Node's
 * socket.io make). */
int api_check_sid(const char *v, size_t len, char *why, size_t whylen);
/* A node id: 1..CONTROL_MSG_MAX_ID printable ASCII characters (every id control_msg_id_valid
 * accepts; the others that pass, with a space, name no node). */
int api_check_node_id(const char *v, size_t len, char *why, size_t whylen);
/* A namespace: starts with '/', at most API_NSP_MAX bytes, no '#' (the bus's separator in
 * channel names), and a valid text. */
int api_check_namespace(const char *v, size_t len, char *why, size_t whylen);
/* A message id: 1-20 digits, optionally '-' and 1-20 digits. */
int api_check_message_id(const char *v, size_t len, char *why, size_t whylen);
/* A count: 1..API_COUNT_MAX decimal digits (the handler checks the range). */
int api_check_count(const char *v, size_t len, char *why, size_t whylen);

#endif
