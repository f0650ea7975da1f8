/* The chat app's settings, declared beside its code: read with chatnode's own (the same
 * flags, CHATNODE_* environment variables, config-file keys and --help lines) into a
 * chat_config_t the app gets at init. */
#ifndef CC_CHAT_CONFIG_H
#define CC_CHAT_CONFIG_H

#include "app.h"

typedef struct {
    char *jwt_secret_file;
    int allow_anonymous;
    char *jwt_audience;
    char *jwt_issuer;
    long long jwt_leeway; /* s */
    int jwt_allow_no_exp;
    long long history_size;
    long long history_ttl; /* s */
    long long history_page;
    long long max_text; /* bytes */
    long long rate;     /* events per second per socket */
    long long burst;
    long long max_rooms;
    long long max_members;
    long long presence_ttl; /* s */
    long long store_replicas;
    long long store_replicas_timeout; /* ms */
    /* HTTP hooks (chat_hooks.h) */
    char *auth_hook;          /* URL, or "": none */
    char *auth_hook_fallback; /* "refuse" or "jwt" */
    long long auth_hook_timeout_ms;
    long long auth_hook_max_inflight;
    char *auth_hook_headers;     /* comma-separated header names */
    char *publish_hook;          /* URL, or "": none */
    char *publish_hook_fallback; /* "refuse" or "accept" */
    long long publish_hook_timeout_ms;
    long long publish_hook_max_inflight;
    char *hook_ca_file; /* PEM bundle for https hooks, or "": the system's */
} chat_config_t;

/* The options, their struct's size: app_chat's settings. */
extern const app_settings_t chat_config_settings;

#endif
