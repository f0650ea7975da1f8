/* The chat app's settings table (see config.h for how it is read, app.h for how an app's
 * table joins chatnode's). */
#include "chat_config.h"

#include <stddef.h>

#define OPT(name, type, def, min, max, field, metavar, help)                                       \
    {                                                                                              \
        name, type, def, min, max, offsetof(chat_config_t, field), metavar, help                   \
    }

static const cfg_opt_t opts[] = {
    OPT("jwt-secret-file", CFG_STR, "", 0, 0, jwt_secret_file, "PATH",
        "file holding the HS256 secret of the chat's auth tokens (or CHATNODE_JWT_SECRET)"),
    OPT("allow-anonymous", CFG_BOOL, "false", 0, 0, allow_anonymous, NULL,
        "chat: accept auth.user as a guest's name without a token (ids guest:<name>)"),
    OPT("jwt-audience", CFG_STR, "", 0, 0, jwt_audience, "AUD",
        "chat: tokens must name this audience in aud (empty: aud is not checked)"),
    OPT("jwt-issuer", CFG_STR, "", 0, 0, jwt_issuer, "ISS",
        "chat: tokens must have this iss (empty: iss is not checked)"),
    OPT("jwt-leeway", CFG_INT, "30", 0, 600, jwt_leeway, "S",
        "chat: clock skew allowed when checking exp and nbf"),
    OPT("jwt-allow-no-exp", CFG_BOOL, "false", 0, 0, jwt_allow_no_exp, NULL,
        "chat: accept tokens without exp (never expiring)"),
    OPT("history-size", CFG_INT, "1000", 1, 10000000, history_size, "N",
        "chat: messages kept per room (the stream is capped near this length)"),
    OPT("history-ttl", CFG_INT, "2592000", 1, 315360000, history_ttl, "S",
        "chat: a room's or a conversation's messages expire this long after its last one"),
    OPT("history-page", CFG_INT, "50", 1, 100, history_page, "N",
        "chat: messages sent with a join"),
    OPT("max-text", CFG_INT, "4096", 1, 1048576, max_text, "BYTES", "chat: longest message text"),
    OPT("rate", CFG_INT, "20", 1, 100000, rate, "PER_S", "chat: events per second per socket"),
    OPT("burst", CFG_INT, "40", 1, 100000, burst, "N", "chat: burst of events per socket"),
    OPT("max-rooms", CFG_INT, "100", 1, 100000, max_rooms, "N", "chat: rooms one socket may join"),
    OPT("max-members", CFG_INT, "1000", 1, 100000, max_members, "N",
        "chat: most users a join or members answer lists"),
    OPT("presence-ttl", CFG_INT, "30", 2, 3600, presence_ttl, "S",
        "chat: seconds a node's presence entries outlive it"),
};

const app_settings_t chat_config_settings = {
    .opts = opts,
    .nopts = sizeof opts / sizeof opts[0],
    .size = sizeof(chat_config_t),
};
