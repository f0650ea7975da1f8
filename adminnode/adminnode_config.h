/* adminnode's settings: one table (adminnode_config.c) gives flags, ADMINNODE_* environment
 * variables, the config file and --help. */
#ifndef CC_ADMINNODE_CONFIG_H
#define CC_ADMINNODE_CONFIG_H

#include "config.h"

typedef struct {
    char *host;
    long long port;
    char *redis;
    char *redis_key;
    char *bus_format;        /* "", "classic" or "sharded" */
    char *subscription_mode; /* the sharded format's subscriptionMode */
    char *control_prefix;
    char *api_keys_file;
    long long max_body;
    long long requests_timeout;
    long long connection_timeout;
    long long max_connections;
    long long max_connections_per_ip;
    char *per_ip_exempt;
    long long header_timeout; /* ms */
    long long body_timeout;   /* ms */
    long long history_size;
    long long history_ttl; /* s */
    long long max_text;
    long long store_replicas;         /* replicas a system message must reach (WAIT) */
    long long store_replicas_timeout; /* ms */
    char *log_level;
    char *static_dir;
    long long heartbeat_interval; /* the chatnodes' --heartbeat-interval, ms */
    long long forget_after;       /* ms a down node stays listed */
    long long events_max_len;     /* entries P:events keeps, about; 0: record none */
    char *webhooks_file;
    char *webhooks_consumer;
    long long webhooks_poll;       /* ms */
    long long webhooks_refresh;    /* ms */
    long long webhooks_retry_min;  /* ms */
    long long webhooks_retry_max;  /* ms */
    long long webhooks_give_up;    /* ms */
    long long webhooks_claim_idle; /* ms */
    long long webhooks_dead_max_len;
} adminnode_config_t;

extern const cfg_table_t adminnode_config_table;

#endif
