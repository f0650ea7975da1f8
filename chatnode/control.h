/* The node's control traffic on Redis, outside the adapter's channels (JSON, versioned):
 * a heartbeat every --heartbeat-interval on <P>:heartbeat, the node's registry entry
 * <P>:node:<id> (expiring, so a restarted admin sees the cluster at once), and commands on
 * <P>:command:<id> (drain, undrain) answered on <P>:reply. P is --control-prefix. */
#ifndef CC_CONTROL_H
#define CC_CONTROL_H

#include "cluster.h"
#include "drain.h"
#include "sbuf.h"
#include "server.h"
#include "sio.h"

#include <jansson.h>

typedef struct control control_t;

/* Starts heartbeats and listens for commands. Returns 0, or -1 (logged). */
int control_start(control_t **out, server_t *srv, sio_server_t *sio, cluster_t *c, drain_t *drain);
/* Stops the timers; memory is freed once they are closed. NULL is a no-op. */
void control_stop(control_t *ctl);
/* The heartbeat document (what is published) into json. */
void control_heartbeat_json(control_t *ctl, sbuf_t *json);

/* What a command message asks for. */
typedef enum {
    CONTROL_CMD_UNKNOWN = 0,
    CONTROL_CMD_DRAIN = 1,
    CONTROL_CMD_UNDRAIN = 2
} control_cmd_t;

/* Reads a command message, {"v":1,"type":"drain"|"undrain","id":...}, as it comes from Redis:
 * returns the command (CONTROL_CMD_UNKNOWN for anything else, text that is not a JSON object
 * or array included) and sets *id to a new reference to its "id" member, whatever its type
 * (NULL when absent; the caller json_decref()s it). Pure. */
control_cmd_t control_command_parse(const char *payload, size_t len, json_t **id);

/* Appends the reply to a command, {"v":1,"type":"reply","id":id,"node":node,"ok":ok,
 * "draining":draining}, to out; id (borrowed, may be NULL) is echoed as given, node is the
 * node's uid. Returns 0, or -1 when the reply cannot be encoded (out unchanged). Pure. */
int control_reply_text(const json_t *id, const char *node, int ok, int draining, sbuf_t *out);

#endif
