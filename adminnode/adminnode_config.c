/* The adminnode configuration table (see config.h for how it is read). */
#include "adminnode_config.h"

#ifndef ADMINNODE_STATIC_DIR
#define ADMINNODE_STATIC_DIR ""
#endif

static const cfg_opt_t opts[] = {
    CFG_OPT(adminnode_config_t, "host", CFG_STR, "0.0.0.0", 0, 0, host, "ADDR",
            "address to listen on"),
    CFG_OPT(adminnode_config_t, "port", CFG_INT, "8080", 0, 65535, port, "PORT",
            "TCP port to listen on (0: any free port)"),
    CFG_OPT(adminnode_config_t, "redis", CFG_STR, "", 0, 0, redis, "URL",
            "the cluster's Redis: redis://[user:password@]host:port[/db], or "
            "redis+sentinel://[user:password@]sentinel:port[,...]/<master-name>[/db], or "
            "redis+cluster://[user:password@]host:port[,host:port...] "
            "(empty: none)"),
    CFG_OPT(adminnode_config_t, "redis-key", CFG_STR, "socket.io", 0, 0, redis_key, "PREFIX",
            "channel prefix of the Socket.IO adapter on Redis (the chatnodes' --redis-key)"),
    CFG_OPT(adminnode_config_t, "bus-format", CFG_STR, "", 0, 0, bus_format, "FORMAT",
            "the chatnodes' --bus-format: classic or sharded (default: sharded on "
            "redis+cluster://, else classic)"),
    CFG_OPT(adminnode_config_t, "subscription-mode", CFG_STR, "dynamic", 0, 0, subscription_mode,
            "MODE",
            "the chatnodes' --subscription-mode (sharded format): where emits to one "
            "room are published"),
    CFG_OPT(adminnode_config_t, "control-prefix", CFG_STR, "chatcluster", 0, 0, control_prefix,
            "PREFIX", "prefix of the cluster's control channels and keys on Redis"),
    CFG_OPT(adminnode_config_t, "api-keys-file", CFG_STR, "", 0, 0, api_keys_file, "PATH",
            "file of API keys, `<key> <scope>` per line, scope read or admin "
            "(also or instead: ADMINNODE_API_KEYS=key:scope,...)"),
    CFG_OPT(adminnode_config_t, "max-body", CFG_INT, "1048576", 64, 1073741824, max_body, "BYTES",
            "largest request body accepted (larger: 413)"),
    CFG_OPT(adminnode_config_t, "requests-timeout", CFG_INT, "5000", 10, 600000, requests_timeout,
            "MS", "how long a request may wait for the cluster before it is answered 504"),
    CFG_OPT(adminnode_config_t, "connection-timeout", CFG_INT, "60", 1, 3600, connection_timeout,
            "S", "idle HTTP connections are closed after this many seconds without a byte"),
    CFG_OPT(adminnode_config_t, "max-connections", CFG_INT, "10000", 16, 1000000, max_connections,
            "N", "open HTTP connections, all clients together (more wait to be accepted)"),
    CFG_OPT(adminnode_config_t, "max-connections-per-ip", CFG_INT, "64", 1, 1000000,
            max_connections_per_ip, "N",
            "open HTTP connections from one client address (more are closed at once)"),
    CFG_OPT(adminnode_config_t, "per-ip-exempt", CFG_STR, "127.0.0.1,::1", 0, 0, per_ip_exempt,
            "ADDRS",
            "client addresses or CIDRs without the per-address limit, comma-separated: a reverse "
            "proxy in front of adminnode, whose clients all share its address (empty: none)"),
    CFG_OPT(adminnode_config_t, "header-timeout", CFG_INT, "10000", 100, 3600000, header_timeout,
            "MS",
            "time a client has to send a whole request head, however it trickles (then the "
            "connection is closed)"),
    CFG_OPT(adminnode_config_t, "body-timeout", CFG_INT, "30000", 100, 3600000, body_timeout, "MS",
            "time a client has to send a whole request body, however it trickles (then the "
            "connection is closed); also how long a refused body is read and dropped"),
    CFG_OPT(adminnode_config_t, "log-level", CFG_STR, "info", 0, 0, log_level, "LEVEL",
            "debug, info, warn or error"),
    CFG_OPT(adminnode_config_t, "static", CFG_STR, ADMINNODE_STATIC_DIR, 0, 0, static_dir, "DIR",
            "directory served at / (the dashboard; empty: none)"),
    CFG_OPT(adminnode_config_t, "heartbeat-interval", CFG_INT, "1000", 10, 3600000,
            heartbeat_interval, "MS",
            "the chatnodes' --heartbeat-interval: a node is down after 3 intervals without one"),
    CFG_OPT(adminnode_config_t, "history-size", CFG_INT, "1000", 1, 10000000, history_size, "N",
            "messages kept per room when a system message is stored, only while no live chatnode "
            "announces its --history-size in its heartbeat (then the smallest of theirs)"),
    CFG_OPT(adminnode_config_t, "history-ttl", CFG_INT, "2592000", 1, 315360000, history_ttl, "S",
            "a room's messages expire this long after a system message, only while no live "
            "chatnode announces its --history-ttl in its heartbeat (then the longest of theirs)"),
    CFG_OPT(adminnode_config_t, "max-text", CFG_INT, "4096", 1, 1048576, max_text, "BYTES",
            "longest system message text, only while no live chatnode announces its --max-text in "
            "its heartbeat (then the smallest of theirs)"),
    CFG_OPT(adminnode_config_t, "store-replicas", CFG_INT, "0", 0, 16, store_replicas, "N",
            "a system message is answered 201 once N replicas have it (WAIT); else 503"),
    CFG_OPT(adminnode_config_t, "store-replicas-timeout", CFG_INT, "1000", 1, 60000,
            store_replicas_timeout, "MS", "how long a system message waits for --store-replicas"),
    CFG_OPT(adminnode_config_t, "forget-after", CFG_INT, "60000", 0, 86400000, forget_after, "MS",
            "how long a down node stays listed before it is forgotten"),
    CFG_OPT(adminnode_config_t, "events-max-len", CFG_INT, "100000", 0, 100000000, events_max_len,
            "N",
            "cluster events adminnode records (node up, draining, down, and what a down node's "
            "presence owes): entries the P:events stream keeps, about (0: record none)"),
    CFG_OPT(adminnode_config_t, "webhooks-file", CFG_STR, "", 0, 0, webhooks_file, "PATH",
            "JSON file of webhook endpoints, [{id, url, events, secret, batch_max?, "
            "timeout_ms?}] (read-only through the API; empty: none)"),
    CFG_OPT(adminnode_config_t, "webhooks-consumer", CFG_STR, "", 0, 0, webhooks_consumer, "NAME",
            "this adminnode's consumer name in the webhook groups; a restart under the same "
            "name resumes its pending batches at once (empty: <hostname>:<port>)"),
    CFG_OPT(adminnode_config_t, "webhooks-poll-ms", CFG_INT, "100", 5, 60000, webhooks_poll, "MS",
            "how often an idle webhook endpoint looks for new events (the chatnodes' wake-up on "
            "P:events:new brings theirs at once)"),
    CFG_OPT(adminnode_config_t, "webhooks-refresh-ms", CFG_INT, "1000", 10, 600000,
            webhooks_refresh, "MS",
            "how often the endpoints added through the API are reread from Redis"),
    CFG_OPT(adminnode_config_t, "webhooks-retry-min-ms", CFG_INT, "500", 1, 3600000,
            webhooks_retry_min, "MS", "first cap of a failed delivery's jittered backoff"),
    CFG_OPT(adminnode_config_t, "webhooks-retry-max-ms", CFG_INT, "60000", 1, 86400000,
            webhooks_retry_max, "MS",
            "largest delay between two attempts of a batch (Retry-After included)"),
    CFG_OPT(adminnode_config_t, "webhooks-give-up-ms", CFG_INT, "3600000", 1, 604800000,
            webhooks_give_up, "MS",
            "a batch failing this long after its first attempt goes to the dead letters"),
    CFG_OPT(adminnode_config_t, "webhooks-claim-idle-ms", CFG_INT, "60000", 100, 86400000,
            webhooks_claim_idle, "MS",
            "events held this long by an adminnode that stopped (killed) are delivered by "
            "another; keep it well above every endpoint's timeout_ms"),
    CFG_OPT(adminnode_config_t, "webhooks-dead-max-len", CFG_INT, "10000", 1, 100000000,
            webhooks_dead_max_len, "N", "dead-lettered batches kept (the oldest are trimmed)"),
};

const cfg_table_t adminnode_config_table = {
    .prog = "adminnode",
    .summary = "REST API, node registry and dashboard of a chatcluster, through Redis.",
    .env_prefix = "ADMINNODE_",
    .opts = opts,
    .nopts = sizeof opts / sizeof opts[0],
};
