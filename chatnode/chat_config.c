/* The chat app's settings table (see config.h for how it is read, app.h for how an app's
 * table joins chatnode's). */
#include "chat_config.h"

static const cfg_opt_t opts[] = {
    CFG_OPT(chat_config_t, "jwt-secret-file", CFG_STR, "", 0, 0, jwt_secret_file, "PATH",
            "file holding the HS256 secret of the chat's auth tokens (or CHATNODE_JWT_SECRET)"),
    CFG_OPT(chat_config_t, "allow-anonymous", CFG_BOOL, "false", 0, 0, allow_anonymous, NULL,
            "chat: accept auth.user as a guest's name without a token (ids guest:<name>)"),
    CFG_OPT(chat_config_t, "jwt-audience", CFG_STR, "", 0, 0, jwt_audience, "AUD",
            "chat: tokens must name this audience in aud (empty: aud is not checked)"),
    CFG_OPT(chat_config_t, "jwt-issuer", CFG_STR, "", 0, 0, jwt_issuer, "ISS",
            "chat: tokens must have this iss (empty: iss is not checked)"),
    CFG_OPT(chat_config_t, "jwt-leeway", CFG_INT, "30", 0, 600, jwt_leeway, "S",
            "chat: clock skew allowed when checking exp and nbf"),
    CFG_OPT(chat_config_t, "jwt-allow-no-exp", CFG_BOOL, "false", 0, 0, jwt_allow_no_exp, NULL,
            "chat: accept tokens without exp (never expiring)"),
    CFG_OPT(chat_config_t, "history-size", CFG_INT, "1000", 1, 10000000, history_size, "N",
            "chat: messages kept per room (the stream is capped near this length)"),
    CFG_OPT(chat_config_t, "history-ttl", CFG_INT, "2592000", 1, 315360000, history_ttl, "S",
            "chat: a room's or a conversation's messages expire this long after its last one"),
    CFG_OPT(chat_config_t, "history-page", CFG_INT, "50", 1, 100, history_page, "N",
            "chat: messages sent with a join"),
    CFG_OPT(chat_config_t, "max-text", CFG_INT, "4096", 1, 1048576, max_text, "BYTES",
            "chat: longest message text"),
    CFG_OPT(chat_config_t, "rate", CFG_INT, "20", 1, 100000, rate, "PER_S",
            "chat: events per second per socket"),
    CFG_OPT(chat_config_t, "burst", CFG_INT, "40", 1, 100000, burst, "N",
            "chat: burst of events per socket"),
    CFG_OPT(chat_config_t, "max-rooms", CFG_INT, "100", 1, 100000, max_rooms, "N",
            "chat: rooms one socket may join"),
    CFG_OPT(chat_config_t, "max-members", CFG_INT, "1000", 1, 100000, max_members, "N",
            "chat: most users a join or members answer lists"),
    CFG_OPT(chat_config_t, "presence-ttl", CFG_INT, "30", 2, 3600, presence_ttl, "S",
            "chat: seconds a node's presence entries outlive it"),
    CFG_OPT(chat_config_t, "store-replicas", CFG_INT, "0", 0, 16, store_replicas, "N",
            "chat: a message is acknowledged once N replicas have it (WAIT); else a retryable "
            "error"),
    CFG_OPT(chat_config_t, "store-replicas-timeout", CFG_INT, "1000", 1, 60000,
            store_replicas_timeout, "MS", "chat: how long a message waits for --store-replicas"),
};

const app_settings_t chat_config_settings = {
    .opts = opts,
    .nopts = sizeof opts / sizeof opts[0],
    .size = sizeof(chat_config_t),
};
