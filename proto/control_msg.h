/* The cluster's control traffic (docs/protocols.md, section 3): the channel and key names
 * under the control prefix P (--control-prefix), and the JSON documents on them. chatnode
 * writes heartbeats, registry entries and replies and reads commands; adminnode reads
 * heartbeats, registry entries and replies and writes commands. Both spell every name and
 * member here, so the two can never disagree. Pure: no I/O.
 *
 *   P:heartbeat       channel    every chatnode's heartbeat
 *   P:node:<uid>      string key a chatnode's last heartbeat, expiring (control_msg_node_ttl)
 *   P:command:<uid>   channel    commands for one chatnode
 *   P:command:all     channel    commands for every chatnode
 *   P:reply           channel    every chatnode's replies to commands
 *
 * Every document is a JSON object with "v":1 (CONTROL_MSG_VERSION) and a "type". */
#ifndef CC_CONTROL_MSG_H
#define CC_CONTROL_MSG_H

#include "chat_store.h"
#include "sbuf.h"

#include <jansson.h>
#include <stddef.h>

#define CONTROL_MSG_VERSION 1
/* Longest node id a reader accepts (chatnodes send 6 characters). */
#define CONTROL_MSG_MAX_ID 64

/* 1 when id[0..len) can name a node (and so a key and a channel): 1..CONTROL_MSG_MAX_ID
 * printable ASCII characters, no spaces; else 0. */
int control_msg_id_valid(const char *id, size_t len);

/* ---- names: each resets b, then writes the name; prefix is P ---- */

void control_msg_heartbeat_channel(sbuf_t *b, const char *prefix);
/* P:node:<uid>, the registry entry of a node. */
void control_msg_node_key(sbuf_t *b, const char *prefix, const char *uid);
/* P:node:*, the MATCH pattern of every registry entry. */
void control_msg_node_pattern(sbuf_t *b, const char *prefix);
/* P:command:<uid>, or P:command:all when uid is NULL. */
void control_msg_command_channel(sbuf_t *b, const char *prefix, const char *uid);
void control_msg_reply_channel(sbuf_t *b, const char *prefix);

/* Seconds a registry entry lives after each heartbeat of a node whose heartbeat interval is
 * interval_ms: ten intervals, at least 5 s. */
long long control_msg_node_ttl(long long interval_ms);

/* ---- the heartbeat ---- */

/* What a chatnode says about itself. Strings and objects are borrowed. */
typedef struct {
    const char *id;      /* the node's uid */
    const char *tag;     /* --node-tag */
    const char *address; /* where clients reach it */
    const char *version; /* chatcluster's version */
    long long pid;
    long long started;                        /* ms since the epoch */
    size_t polling, websocket;                /* open sessions by transport */
    json_t *sockets;                          /* namespace -> sockets (NULL: {}) */
    size_t rooms;                             /* rooms of every namespace */
    double events_in_per_s, events_out_per_s; /* since the previous heartbeat */
    unsigned long long bytes_in, bytes_out;   /* since start */
    unsigned long long ws_frames_out,
        ws_writes; /* WebSocket frames sent, the writes that sent them */
    long long rss; /* bytes */
    int draining;
    json_t *bus;                     /* the Redis link's health (NULL: left out) */
    json_t *recovery;                /* connection-state recovery's state (NULL: left out) */
    const chat_store_limits_t *chat; /* the chat's limits (NULL: the node runs no chat) */
} control_msg_heartbeat_t;

/* Appends the heartbeat document of hb to out:
 * {"v":1,"type":"heartbeat","id","tag","address","pid","version","started",
 *  "connections":{"polling","websocket"},"sockets","rooms","events_in_per_s",
 *  "events_out_per_s","bytes_in","bytes_out","ws_frames_out","ws_writes","rss","draining",
 *  "bus"?,"recovery"?,
 *  "chat"?:{"history_size","history_ttl","max_text"}}.
 * Returns 0, or -1 when it cannot be encoded (a string that is not UTF-8; out unchanged). */
int control_msg_heartbeat_text(const control_msg_heartbeat_t *hb, sbuf_t *out);

/* Reads a heartbeat (or a registry entry, the same document): returns it as a new reference
 * when it is a JSON object whose "v" is the integer 1, "type" is "heartbeat" and "id" is a
 * string control_msg_id_valid accepts; NULL for anything else. */
json_t *control_msg_heartbeat_parse(const char *json, size_t len);
/* Of a document control_msg_heartbeat_parse returned: its id (borrowed from doc; *len its
 * length), and 1 when it says "draining":true, else 0. */
const char *control_msg_heartbeat_id(const json_t *doc, size_t *len);
int control_msg_heartbeat_draining(const json_t *doc);
/* The chat limits a heartbeat announces: 0 with *out set, or -1 (*out unchanged) when it has
 * no "chat" object, or one whose three members are not integers chat_store_limits_valid
 * accepts. */
int control_msg_heartbeat_chat(const json_t *doc, chat_store_limits_t *out);

/* ---- commands and replies ---- */

typedef enum {
    CONTROL_MSG_CMD_UNKNOWN = 0,
    CONTROL_MSG_CMD_DRAIN = 1,
    CONTROL_MSG_CMD_UNDRAIN = 2
} control_msg_cmd_t;

/* "drain" or "undrain"; NULL for any other value. */
const char *control_msg_cmd_name(control_msg_cmd_t cmd);

/* Appends the command {"v":1,"type":<name>,"id":id} to out. Returns 0, or -1 (out unchanged)
 * for CONTROL_MSG_CMD_UNKNOWN or an id that is not UTF-8. */
int control_msg_command_text(control_msg_cmd_t cmd, const char *id, sbuf_t *out);

/* Reads a command, {"v":1,"type":"drain"|"undrain","id":...}, as it comes from Redis:
 * returns the command (CONTROL_MSG_CMD_UNKNOWN for anything else, text that is not a JSON
 * object or array included; "v" is not checked) and sets *id to a new reference to its "id"
 * member, whatever its type (NULL when absent; the caller json_decref()s it). */
control_msg_cmd_t control_msg_command_parse(const char *payload, size_t len, json_t **id);

/* Appends the reply to a command, {"v":1,"type":"reply","id":id,"node":node,"ok":ok,
 * "draining":draining}, to out; id (borrowed, may be NULL: written as null) is echoed as
 * given, node is the replying node's uid. Returns 0, or -1 when it cannot be encoded (out
 * unchanged). */
int control_msg_reply_text(const json_t *id, const char *node, int ok, int draining, sbuf_t *out);

/* A reply as read: the strings are borrowed from the document control_msg_reply_parse
 * returned. */
typedef struct {
    const char *id;   /* the command's id */
    const char *node; /* the replying node's uid; NULL when absent or not a string */
    int ok;           /* 1 when "ok" is true */
    int draining;     /* 1 when "draining" is true */
} control_msg_reply_t;

/* Reads a reply: returns its document as a new reference (the caller json_decref()s it once
 * done with *out) and fills *out, when it is a JSON object whose "type" is "reply" and whose
 * "id" is a string; NULL otherwise (*out unchanged). */
json_t *control_msg_reply_parse(const char *payload, size_t len, control_msg_reply_t *out);

#endif
