/* adminnode: reads its configuration and API keys, serves the REST API and the dashboard on
 * one libuv loop, connects to Redis when --redis is set, and stops cleanly on SIGINT or
 * SIGTERM (every handle closed, all memory freed). */
#include "adminnode_config.h"
#include "api.h"
#include "adapter_sharded.h"
#include "alloc.h"
#include "api_cluster.h"
#include "cluster_event.h"
#include "log.h"
#include "openapi.h"
#include "redis_url.h"
#include "webhooks.h"

#include <unistd.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#ifndef CHATCLUSTER_VERSION
#define CHATCLUSTER_VERSION "0.0.0"
#endif

typedef struct {
    adminnode_t an;
    uv_signal_t sigint, sigterm;
} node_t;

static void on_bus_state(void *ud, bus_conn_t conn, bus_state_t state, int err)
{
    adminnode_t *an = ud;
    const char *which = conn == BUS_CONN_CMD ? "command" : "subscriber";
    if (state == BUS_CONNECTED)
        log_info("redis connected", "connection=%s", which);
    else if (state == BUS_DISCONNECTED && err)
        log_warn("redis disconnected", "connection=%s error=\"%s\"", which, bus_strerror(err));
    registry_redis_state(an->registry, conn, state);
}

/* A chatnode added events (P:events:new): the webhook endpoints read them now. */
static void on_events_added(void *ud, const char *channel, size_t len, const char *payload,
                            size_t plen)
{
    (void)channel;
    (void)len;
    (void)payload;
    (void)plen;
    adminnode_t *an = ud;
    webhooks_wake(an->webhooks);
}

static void on_signal(uv_signal_t *h, int signum)
{
    node_t *n = h->data;
    log_info("stopping", "signal=%s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    /* HTTP first: deferred requests are answered 503 while the bus still exists; closing the
     * bus then cancels the commands they waited for (their answers are dropped). */
    http_stop(n->an.http, NULL, NULL);
    n->an.http = NULL;
    /* before the bus: its commands' cancellations come back to the stopped engine */
    webhooks_stop(n->an.webhooks);
    n->an.webhooks = NULL;
    if (n->an.bus) bus_close(n->an.bus, NULL, NULL);
    n->an.bus = NULL;
    /* after bus_close, whose cancelled commands still reach the registry */
    api_nodes_stop(&n->an);
    api_cluster_shutdown();
    listen_free(&n->an);
}

static int load_keys(adminnode_t *an, const adminnode_config_t *cfg)
{
    char err[300];
    if (cfg->api_keys_file[0] &&
        auth_load_file(&an->auth, cfg->api_keys_file, err, sizeof err) < 0) {
        fprintf(stderr, "adminnode: --api-keys-file %s\n", err);
        return -1;
    }
    const char *env = getenv("ADMINNODE_API_KEYS");
    if (env && env[0] && auth_parse_env(&an->auth, env, err, sizeof err) < 0) {
        fprintf(stderr, "adminnode: ADMINNODE_API_KEYS: %s\n", err);
        return -1;
    }
    size_t nread = 0, nadmin = 0;
    for (size_t i = 0; i < an->auth.nkeys; i++) {
        if (an->auth.keys[i].scope == API_SCOPE_ADMIN)
            nadmin++;
        else
            nread++;
    }
    if (an->auth.nkeys == 0)
        log_warn("no API keys", "detail=\"every endpoint that needs a key answers 401\"");
    else
        log_info("API keys loaded", "read=%zu admin=%zu", nread, nadmin);
    return 0;
}

/* Raises the soft limit of open files to the hard limit, so that --max-connections can be
 * reached, and says when it still cannot be. */
static void raise_nofile(const adminnode_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        /* an unlimited hard limit is still bounded by the kernel's nr_open */
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && rl.rlim_max == RLIM_INFINITY) {
            rl.rlim_cur = 1u << 20;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = was;
        }
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    log_info("open files limit", "soft=%llu was=%llu hard=%llu", (unsigned long long)rl.rlim_cur,
             (unsigned long long)was, (unsigned long long)rl.rlim_max);
    /* each connection is a descriptor, and so is each lingering one (an eighth of them at
     * most); Redis, the loop and the files served need a few more */
    unsigned long long need = (unsigned long long)cfg->max_connections +
                              (unsigned long long)cfg->max_connections / 8 + 64;
    if ((unsigned long long)rl.rlim_cur < need)
        log_warn("the open files limit is below --max-connections",
                 "max_connections=%lld nofile=%llu", cfg->max_connections,
                 (unsigned long long)rl.rlim_cur);
}

/* Webhook delivery, on a bus: the consumer name is --webhooks-consumer or <hostname>:<port>. */
static int start_webhooks(adminnode_t *an, const adminnode_config_t *cfg)
{
    if (cfg->webhooks_consumer[0]) {
        snprintf(an->consumer, sizeof an->consumer, "%s", cfg->webhooks_consumer);
    } else {
        char host[256];
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "adminnode");
        host[sizeof host - 1] = '\0';
        snprintf(an->consumer, sizeof an->consumer, "%s:%d", host, http_port(an->http));
    }
    webhooks_options_t wo = {
        .prefix = cfg->control_prefix,
        .file = cfg->webhooks_file,
        .consumer = an->consumer,
        .poll_ms = (uint64_t)cfg->webhooks_poll,
        .refresh_ms = (uint64_t)cfg->webhooks_refresh,
        .retry_min_ms = (uint64_t)cfg->webhooks_retry_min,
        .retry_max_ms = (uint64_t)cfg->webhooks_retry_max,
        .give_up_ms = (uint64_t)cfg->webhooks_give_up,
        .claim_idle_ms = (uint64_t)cfg->webhooks_claim_idle,
        .dead_max_len = cfg->webhooks_dead_max_len,
    };
    char err[400];
    an->webhooks = webhooks_start(an->loop, an->bus, &wo, err, sizeof err);
    if (!an->webhooks) {
        fprintf(stderr, "adminnode: --webhooks-file %s\n", err);
        return -1;
    }
    if (an->bus) {
        sbuf_t ch = SBUF_INIT;
        cluster_event_wake_channel(&ch, cfg->control_prefix);
        listen_on(an, ch.data, on_events_added, an);
        sbuf_free(&ch);
    }
    return 0;
}

static int start(node_t *n, uv_loop_t *loop, const adminnode_config_t *cfg)
{
    adminnode_t *an = &n->an;
    char err[300];
    an->loop = loop;
    an->cfg = cfg;
    an->version = CHATCLUSTER_VERSION;
    /* one router over the system routes and the cluster routes */
    size_t nall = api_nroutes + api_cluster_nroutes + api_webhooks_nroutes;
    api_route_t *all = xmalloc(nall * sizeof *all);
    memcpy(all, api_routes, api_nroutes * sizeof *all);
    memcpy(all + api_nroutes, api_cluster_routes, api_cluster_nroutes * sizeof *all);
    memcpy(all + api_nroutes + api_cluster_nroutes, api_webhooks_routes,
           api_webhooks_nroutes * sizeof *all);
    an->router = (api_router_t){all, nall};
    an->started_ms = uv_now(loop);
    if (load_keys(an, cfg) < 0) return -1;

    json_t *doc = openapi_document(&an->router, CHATCLUSTER_VERSION, err, sizeof err);
    if (!doc) {
        fprintf(stderr, "adminnode: the route table is inconsistent: %s\n", err);
        return -1;
    }
    an->openapi = json_dumps(doc, JSON_INDENT(1));
    json_decref(doc);
    if (!an->openapi) {
        fprintf(stderr, "adminnode: the API document cannot be serialised\n");
        return -1;
    }
    an->openapi_len = strlen(an->openapi);

    redis_url_t url = {0};
    if (cfg->redis[0] && redis_url_parse(cfg->redis, &url, err, sizeof err) < 0) {
        fprintf(stderr, "adminnode: --redis: %s\n", err);
        return -1;
    }
    adapter_sharded_mode_t mode;
    if (cfg->redis[0] &&
        bus_format_parse(cfg->bus_format, &url, &an->sharded, err, sizeof err) < 0) {
        fprintf(stderr, "adminnode: %s\n", err);
        redis_url_free(&url);
        return -1;
    }
    if (adapter_sharded_mode_parse(cfg->subscription_mode, &mode) < 0) {
        fprintf(stderr, "adminnode: --subscription-mode must be static, dynamic or "
                        "dynamic-private\n");
        redis_url_free(&url);
        return -1;
    }
    an->mode = (int)mode;
    http_options_t ho = {
        .host = cfg->host,
        .port = (int)cfg->port,
        .max_body = (size_t)cfg->max_body,
        .requests_timeout_ms = (uint64_t)cfg->requests_timeout,
        .connection_timeout_s = (unsigned)cfg->connection_timeout,
        .max_connections = (unsigned)cfg->max_connections,
        .max_connections_per_ip = (unsigned)cfg->max_connections_per_ip,
        .per_ip_exempt = cfg->per_ip_exempt,
        .header_timeout_ms = (uint64_t)cfg->header_timeout,
        .body_timeout_ms = (uint64_t)cfg->body_timeout,
        .router = &an->router,
        .auth = &an->auth,
        .static_dir = cfg->static_dir,
        .app = an,
    };
    if (http_start(&an->http, loop, &ho, err, sizeof err) < 0) {
        log_error("cannot start the HTTP server", "error=\"%s\"", err);
        redis_url_free(&url);
        return -1;
    }
    if (cfg->redis[0]) {
        bus_options_t bo;
        bus_options_init(&bo);
        bo.on_state = on_bus_state;
        bo.on_message = listen_dispatch;
        bo.ud = an;
        bo.sharded = an->sharded;
        int rc = bus_open(&an->bus, loop, &url, &bo);
        redis_url_free(&url);
        if (rc < 0) {
            log_error("cannot start the Redis connection", "error=\"%s\"", bus_strerror(rc));
            http_stop(an->http, NULL, NULL);
            an->http = NULL;
            return -1;
        }
    }
    api_nodes_start(an);
    api_cluster_start(an);
    if (an->bus && start_webhooks(an, cfg) < 0) {
        http_stop(an->http, NULL, NULL);
        an->http = NULL;
        bus_close(an->bus, NULL, NULL);
        an->bus = NULL;
        api_nodes_stop(an);
        api_cluster_shutdown();
        listen_free(an);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    adminnode_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512];
    int rc = cfg_load(&adminnode_config_table, &cfg, argc, argv, err, sizeof err);
    if (rc == CFG_HELP) {
        cfg_usage(&adminnode_config_table, stdout);
        printf("\nAPI keys may also come from ADMINNODE_API_KEYS=key:scope,key:scope.\n");
        cfg_free(&adminnode_config_table, &cfg);
        return 0;
    }
    if (rc == CFG_VERSION) {
        printf("adminnode %s\n", CHATCLUSTER_VERSION);
        cfg_free(&adminnode_config_table, &cfg);
        return 0;
    }
    if (rc != CFG_OK) {
        fprintf(stderr, "adminnode: %s\n", err);
        cfg_free(&adminnode_config_table, &cfg);
        return 2;
    }
    if (log_set_level_name(cfg.log_level) < 0) {
        fprintf(stderr, "adminnode: --log-level must be debug, info, warn or error\n");
        cfg_free(&adminnode_config_table, &cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(&cfg);

    uv_loop_t loop;
    uv_loop_init(&loop);
    node_t n;
    memset(&n, 0, sizeof n);
    if (start(&n, &loop, &cfg) < 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        auth_free(&n.an.auth);
        free(n.an.openapi);
        free((void *)n.an.router.routes);
        cfg_free(&adminnode_config_table, &cfg);
        return 1;
    }
    uv_signal_init(&loop, &n.sigint);
    uv_signal_init(&loop, &n.sigterm);
    n.sigint.data = n.sigterm.data = &n;
    uv_signal_start(&n.sigint, on_signal, SIGINT);
    uv_signal_start(&n.sigterm, on_signal, SIGTERM);
    log_info("listening", "host=%s port=%d redis=%s version=%s", cfg.host, http_port(n.an.http),
             n.an.bus ? "yes" : "none", CHATCLUSTER_VERSION);

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    if (rc) log_warn("loop closed with open handles", "error=%s", uv_strerror(rc));
    auth_free(&n.an.auth);
    free(n.an.openapi);
    free((void *)n.an.router.routes);
    log_info("stopped", NULL);
    cfg_free(&adminnode_config_table, &cfg);
    return rc ? 1 : 0;
}
