/* The chatnode configuration table (see config.h for how it is read). The app modules declare
 * their own settings beside their code (app.h). */
#include "chatnode_config.h"

#ifndef CHATNODE_STATIC_DIR
#define CHATNODE_STATIC_DIR ""
#endif

static const cfg_opt_t opts[] = {
    CFG_OPT(chatnode_config_t, "host", CFG_STR, "0.0.0.0", 0, 0, host, "ADDR",
            "address to listen on"),
    CFG_OPT(chatnode_config_t, "port", CFG_INT, "3000", 0, 65535, port, "PORT",
            "TCP port to listen on (0: any free port)"),
    CFG_OPT(chatnode_config_t, "path", CFG_STR, "/socket.io/", 0, 0, path, "PATH",
            "HTTP path of the Engine.IO endpoint"),
    CFG_OPT(chatnode_config_t, "app", CFG_STR, "chat", 0, 0, app, "NAME",
            "app module to run: chat, echo or eio-echo"),
    CFG_OPT(chatnode_config_t, "ping-interval", CFG_INT, "25000", 1, 3600000, ping_interval, "MS",
            "interval between heartbeat pings"),
    CFG_OPT(chatnode_config_t, "ping-timeout", CFG_INT, "20000", 1, 3600000, ping_timeout, "MS",
            "time a client has to answer a ping before its session is closed"),
    CFG_OPT(chatnode_config_t, "max-payload", CFG_INT, "1000000", 64, 1073741824, max_payload,
            "BYTES", "largest message or polling request body accepted"),
    CFG_OPT(chatnode_config_t, "connect-timeout", CFG_INT, "45000", 1, 3600000, connect_timeout,
            "MS", "time a session has to connect to a namespace before it is closed"),
    CFG_OPT(chatnode_config_t, "recovery-window", CFG_INT, "120000", 0, 86400000, recovery_window,
            "MS",
            "connection-state recovery: how long a dropped client's session (id, rooms, data, "
            "missed packets) is kept for it to come back (0: off)"),
    CFG_OPT(chatnode_config_t, "recovery-max-packets", CFG_INT, "1000", 1, 1000000,
            recovery_max_packets, "N",
            "connection-state recovery: most missed packets one restore sends; a client that "
            "missed more gets a new session"),
    CFG_OPT(chatnode_config_t, "events-max-len", CFG_INT, "100000", 0, 100000000, events_max_len,
            "N",
            "cluster events (docs/protocols.md, section 6): entries the P:events stream keeps, "
            "about (0: record no events)"),
    CFG_OPT(chatnode_config_t, "events-ttl", CFG_INT, "86400", 1, 31536000, events_ttl, "S",
            "cluster events: seconds an entry of P:events is kept"),
    CFG_OPT(chatnode_config_t, "upgrade-timeout", CFG_INT, "10000", 1, 3600000, upgrade_timeout,
            "MS", "time a transport upgrade has to complete before it is cancelled"),
    CFG_OPT(chatnode_config_t, "keepalive-timeout", CFG_INT, "60000", 100, 3600000,
            keepalive_timeout, "MS",
            "time an HTTP keep-alive connection may stay idle between requests"),
    CFG_OPT(chatnode_config_t, "max-queue", CFG_INT, "16777216", 1024, 2147483648LL, max_queue,
            "BYTES", "packets queued for one client beyond which it is dropped as too slow"),
    CFG_OPT(chatnode_config_t, "node-tag", CFG_STR, "", 0, 0, node_tag, "TAG",
            "prefix of every session id, [A-Za-z0-9-] (default: derived from the port)"),
    CFG_OPT(chatnode_config_t, "cors-origin", CFG_STR, "", 0, 0, cors_origin, "LIST",
            "origins allowed by CORS and for WebSocket upgrades, comma-separated, or * (empty: no "
            "CORS headers, and WebSockets only from pages of this host)"),
    CFG_OPT(chatnode_config_t, "cors-credentials", CFG_BOOL, "false", 0, 0, cors_credentials, NULL,
            "allow credentials in CORS requests (refused together with --cors-origin '*')"),
    CFG_OPT(chatnode_config_t, "allow-eio3", CFG_BOOL, "false", 0, 0, allow_eio3, NULL,
            "also serve Engine.IO v3 clients (socket.io-client 2.x and its kind), which speak "
            "Socket.IO protocol v4"),
    CFG_OPT(chatnode_config_t, "admin-ui", CFG_BOOL, "false", 0, 0, admin_ui, NULL,
            "serve the Socket.IO Admin UI's /admin namespace (docs/admin-ui.md)"),
    CFG_OPT(chatnode_config_t, "admin-ui-user", CFG_STR, "", 0, 0, admin_ui_user, "NAME",
            "the Admin UI's user name (empty: the namespace is open to anyone, with a warning)"),
    CFG_OPT(chatnode_config_t, "admin-ui-password-hash", CFG_STR, "", 0, 0, admin_ui_password_hash,
            "HASH", "the bcrypt hash of the Admin UI user's password"),
    CFG_OPT(chatnode_config_t, "admin-ui-mode", CFG_STR, "production", 0, 0, admin_ui_mode, "MODE",
            "production, or development: the UI also gets every socket, room and event as it "
            "happens (costly on a busy node)"),
    CFG_OPT(chatnode_config_t, "hash-password", CFG_BOOL, "false", 0, 0, hash_password, NULL,
            "read a password on standard input, print its bcrypt hash (for "
            "--admin-ui-password-hash) and exit"),
    CFG_OPT(chatnode_config_t, "trusted-proxies", CFG_STR, "", 0, 0, trusted_proxies, "LIST",
            "proxies in front (addresses or CIDRs, comma-separated): a request from one counts as "
            "from the right-most X-Forwarded-For address that is not a proxy"),
    CFG_OPT(chatnode_config_t, "max-sessions-per-ip", CFG_INT, "5000", 0, 10000000,
            max_sessions_per_ip, "N",
            "open sessions one client address (an IPv6 /64) may hold; more get 429 (0: no limit)"),
    CFG_OPT(chatnode_config_t, "handshake-rate", CFG_INT, "100", 0, 1000000, handshake_rate,
            "PER_S",
            "new sessions per second one client address may open; more get 429 (0: no limit)"),
    CFG_OPT(chatnode_config_t, "handshake-burst", CFG_INT, "1000", 1, 10000000, handshake_burst,
            "N", "new sessions one client address may open at once, refilled at --handshake-rate"),
    CFG_OPT(chatnode_config_t, "max-memory-queued", CFG_INT, "268435456", 1048576, 1099511627776LL,
            max_memory_queued, "BYTES",
            "node-wide budget of queued output and unfinished messages; past it the clients "
            "holding the most are dropped"),
    CFG_OPT(chatnode_config_t, "header-timeout", CFG_INT, "10000", 100, 3600000, header_timeout,
            "MS", "time a connection has to send a whole request head (counted in whole seconds)"),
    CFG_OPT(chatnode_config_t, "body-timeout", CFG_INT, "30000", 100, 3600000, body_timeout, "MS",
            "time a client has to send a whole polling request body"),
    CFG_OPT(chatnode_config_t, "log-level", CFG_STR, "info", 0, 0, log_level, "LEVEL",
            "debug, info, warn or error"),
    CFG_OPT(chatnode_config_t, "redis", CFG_STR, "", 0, 0, redis, "URL",
            "cluster through Redis: redis://[user:password@]host:port[/db], or "
            "redis+sentinel://[user:password@]sentinel:port[,...]/<master-name>[/db], or "
            "redis+cluster://[user:password@]host:port[,host:port...] "
            "(empty: run alone)"),
    CFG_OPT(chatnode_config_t, "redis-key", CFG_STR, "socket.io", 0, 0, redis_key, "PREFIX",
            "channel prefix on Redis, as the Node.js redis-adapter's key option"),
    CFG_OPT(chatnode_config_t, "bus-subscribe", CFG_STR, "interest", 0, 0, bus_subscribe, "MODE",
            "interest: subscribe only to rooms with local members; pattern: K#N#* as Node does"),
    CFG_OPT(chatnode_config_t, "bus-format", CFG_STR, "", 0, 0, bus_format, "FORMAT",
            "classic (PUBLISH, as createAdapter) or sharded (SPUBLISH, as createShardedAdapter; "
            "Redis 7); default: sharded on redis+cluster://, else classic"),
    CFG_OPT(chatnode_config_t, "subscription-mode", CFG_STR, "dynamic", 0, 0, subscription_mode,
            "MODE",
            "sharded format: static (namespace channels only), dynamic (plus a channel per room "
            "with local members) or dynamic-private (socket-id rooms too), as Node's option"),
    CFG_OPT(chatnode_config_t, "static", CFG_STR, CHATNODE_STATIC_DIR, 0, 0, static_dir, "DIR",
            "directory served at / (the chat page; empty: none)"),
    CFG_OPT(chatnode_config_t, "control-prefix", CFG_STR, "chatcluster", 0, 0, control_prefix,
            "PREFIX", "Redis channel and key prefix of heartbeats, the node registry and commands"),
    CFG_OPT(chatnode_config_t, "heartbeat-interval", CFG_INT, "1000", 100, 60000,
            heartbeat_interval, "MS", "how often the node publishes its heartbeat"),
    CFG_OPT(chatnode_config_t, "advertise", CFG_STR, "", 0, 0, advertise, "HOST:PORT",
            "address announced in heartbeats (default: host:port)"),
    CFG_OPT(chatnode_config_t, "drain-batch", CFG_INT, "100", 1, 1000000, drain_batch, "N",
            "while draining, clients closed per step"),
    CFG_OPT(chatnode_config_t, "drain-interval", CFG_INT, "100", 1, 60000, drain_interval, "MS",
            "while draining, time between two steps"),
    CFG_OPT(chatnode_config_t, "drain-timeout", CFG_INT, "10000", 0, 3600000, drain_timeout, "MS",
            "on SIGTERM, the longest the node drains its clients before it stops anyway"),
    CFG_OPT(chatnode_config_t, "workers", CFG_INT, "0", 0, 256, workers, "N",
            "run N worker processes on ports PORT..PORT+N-1 under a supervisor (0: one process)"),
    CFG_OPT(chatnode_config_t, "log-file", CFG_STR, "", 0, 0, log_file, "PATH",
            "append logs to PATH instead of stderr (SIGHUP reopens it)"),
    CFG_OPT(chatnode_config_t, "requests-timeout", CFG_INT, "5000", 10, 600000, requests_timeout,
            "MS", "how long a cluster-wide request waits for the other servers' answers"),
};

const cfg_table_t chatnode_config_table = {
    .prog = "chatnode",
    .summary = "Socket.IO v5 / Engine.IO v4 server (HTTP long-polling and WebSocket).",
    .env_prefix = "CHATNODE_",
    .opts = opts,
    .nopts = sizeof opts / sizeof opts[0],
};
