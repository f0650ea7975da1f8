/* chatnode's settings: one table (chatnode_config.c) gives flags, CHATNODE_* environment
 * variables, the config file and --help. An app module's own settings are in its own table,
 * read in the same pass (app.h). */
#ifndef CC_CHATNODE_CONFIG_H
#define CC_CHATNODE_CONFIG_H

#include "config.h"

typedef struct {
    char *host;
    long long port;
    char *path;
    char *app;
    long long ping_interval;
    long long ping_timeout;
    long long max_payload;
    long long connect_timeout;
    long long recovery_window;      /* ms a session is kept for recovery; 0: off */
    long long recovery_max_packets; /* most packets one restore sends */
    long long events_max_len;       /* entries P:events keeps, about; 0: record none */
    long long events_ttl;           /* seconds an entry of P:events is kept */
    long long upgrade_timeout;
    long long keepalive_timeout;
    long long max_queue;
    char *node_tag;
    char *cors_origin;
    int cors_credentials;
    int allow_eio3;
    int admin_ui;
    char *admin_ui_user;
    char *admin_ui_password_hash;
    char *admin_ui_mode;
    int hash_password;
    char *trusted_proxies;
    long long max_sessions_per_ip;
    long long handshake_rate;
    long long handshake_burst;
    long long max_memory_queued;
    long long header_timeout;
    long long body_timeout;
    char *log_level;
    char *redis;
    char *redis_key;
    char *bus_subscribe;
    char *bus_format;        /* "", "classic" or "sharded" */
    char *subscription_mode; /* the sharded format's subscriptionMode */
    long long requests_timeout;
    char *static_dir;
    char *control_prefix;
    long long heartbeat_interval;
    char *advertise;
    long long drain_batch;
    long long drain_interval;
    long long drain_timeout;
    long long workers;
    char *log_file;
} chatnode_config_t;

extern const cfg_table_t chatnode_config_table;

#endif
