/* chatnode: reads its configuration, starts the server with the chosen app module on one
 * libuv loop, and stops cleanly on SIGINT or SIGTERM (every handle closed, all memory freed). */
#include "admin_ui.h"
#include "app.h"
#include "chatnode_config.h"
#include "client_addr.h"
#include "cluster.h"
#include "cluster_recovery.h"
#include "control.h"
#include "drain.h"
#include "supervisor.h"
#include "eio_session.h"
#include "log.h"
#include "metrics.h"
#include "origin.h"
#include "server.h"
#include "sid.h"
#include "sio.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifndef CHATCLUSTER_VERSION
#define CHATCLUSTER_VERSION "0.0.0"
#endif

typedef struct {
    server_t srv;
    sio_server_t *sio;
    cluster_t *cluster;
    cluster_rec_t *rec; /* connection-state recovery on Redis, or NULL */
    control_t *control;
    drain_t *drain;
    admin_ui_t *admin_ui; /* --admin-ui, or NULL */
    int stopping;
    int app_ready; /* the app's init succeeded (or it has none): its destroy is due */
    int serving;   /* server_start succeeded: server_stop is due */
    int signals;   /* the signal handles are open */
    const app_module_t *app;
    void *app_state; /* the app's settings until its init replaces them with its state */
    uv_signal_t sigint, sigterm, sighup;
} chatnode_t;

/* Engine.IO apps get each session's messages directly. */
static const app_module_t *eio_app;

static void *eio_app_open(void *ctx, eio_session_t *s)
{
    (void)ctx;
    return s;
}

static void eio_app_message(void *upper, const eio_packet_t *p)
{
    eio_app->eio_message(upper, p);
}

static void eio_app_close(void *upper, const char *reason)
{
    (void)upper;
    (void)reason;
}

static void health(void *ctx, sbuf_t *json)
{
    chatnode_t *cn = ctx;
    if (cn->sio) sio_recovery_health(cn->sio, json);
    if (cn->cluster) cluster_health(cn->cluster, json);
    if (cn->app_ready && cn->app->health) cn->app->health(cn->app_state, json);
}

static void metrics(void *ctx, sbuf_t *text)
{
    chatnode_t *cn = ctx;
    metrics_src_t m = {
        .srv = &cn->srv, .app = cn->app->name, .sio = cn->sio, .cluster = cn->cluster};
    metrics_write(&m, text);
}

/* Stops everything: the loop then ends once every handle is closed. */
static void stop_now(chatnode_t *cn)
{
    if (cn->stopping) return;
    cn->stopping = 1;
    if (cn->signals) {
        uv_close((uv_handle_t *)&cn->sigint, NULL);
        uv_close((uv_handle_t *)&cn->sigterm, NULL);
        uv_close((uv_handle_t *)&cn->sighup, NULL);
    }
    control_stop(cn->control);
    cn->control = NULL;
    cluster_rec_stop(cn->rec);
    cn->rec = NULL;
    cluster_stop(cn->cluster);
    cn->cluster = NULL;
    drain_free(cn->drain);
    cn->drain = NULL;
    if (cn->serving) server_stop(&cn->srv);
    admin_ui_stop(cn->admin_ui);
    cn->admin_ui = NULL;
    if (cn->sio) {
        sio_server_free(cn->sio);
        cn->sio = NULL;
    }
    if (cn->app_ready && cn->app->destroy) cn->app->destroy(cn->app_state);
    if (cn->signals) log_info("stopped serving", NULL);
}

static void on_drained(void *ud)
{
    stop_now(ud);
}

/* SIGTERM drains first (clients reconnect elsewhere), then stops; SIGINT, or a second
 * signal, stops at once. */
static void on_signal(uv_signal_t *h, int signum)
{
    chatnode_t *cn = h->data;
    if (signum == SIGTERM && cn->drain && !drain_active(cn->drain)) {
        log_info("stopping after draining", "signal=SIGTERM sessions=%zu timeout_ms=%lld",
                 eio_server_session_count(server_eio(&cn->srv)), cn->srv.cfg->drain_timeout);
        drain_then(cn->drain, (uint64_t)cn->srv.cfg->drain_timeout, on_drained, cn);
        return;
    }
    log_info("stopping", "signal=%s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop_now(cn);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (log_reopen() == 0) log_info("log file reopened", NULL);
}

static int check_config(const chatnode_config_t *cfg)
{
    if (!cfg->path[0] || cfg->path[0] != '/') {
        fprintf(stderr, "chatnode: --path must start with '/'\n");
        return -1;
    }
    if (cfg->node_tag[0] && sid_valid_tag(cfg->node_tag) < 0) {
        fprintf(stderr, "chatnode: --node-tag must be 1 to 32 characters of [A-Za-z0-9-]\n");
        return -1;
    }
    if (log_set_level_name(cfg->log_level) < 0) {
        fprintf(stderr, "chatnode: --log-level must be debug, info, warn or error\n");
        return -1;
    }
    /* A wildcard with credentials would let any site's page act with a user's cookies. */
    if (cfg->cors_credentials && origin_list_has_wildcard(cfg->cors_origin)) {
        fprintf(stderr, "chatnode: --cors-origin '*' cannot be combined with --cors-credentials: "
                        "list the allowed origins instead\n");
        return -1;
    }
    client_cidrs_t trusted;
    char err[256];
    if (client_cidrs_parse(cfg->trusted_proxies, &trusted, err, sizeof err) < 0) {
        fprintf(stderr, "chatnode: --trusted-proxies: %s\n", err);
        return -1;
    }
    client_cidrs_free(&trusted);
    if (cfg->admin_ui && admin_ui_check_config(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "chatnode: %s\n", err);
        return -1;
    }
    return 0;
}

static void usage_apps(FILE *out)
{
    fprintf(out, "\nApp modules (--app):\n");
    for (size_t i = 0; app_modules[i]; i++)
        fprintf(out, "  %-28s %s\n", app_modules[i]->name, app_modules[i]->description);
}

/* Sets up the node on loop: the app, the server, and with --redis the cluster adapter and the
 * control traffic. Returns 0, or -1 (logged) with what was set up left for stop_now. */
static int start(chatnode_t *cn, uv_loop_t *loop, const chatnode_config_t *cfg)
{
    eio_handler_t handler;
    server_init(&cn->srv, loop, cfg);
    server_set_metrics(&cn->srv, metrics, cn);
    if (cn->app->eio_message) {
        eio_app = cn->app;
        handler = (eio_handler_t){
            .open = eio_app_open, .message = eio_app_message, .close = eio_app_close};
        cn->app_ready = 1;
    } else {
        cn->sio = sio_server_new(&cn->srv, cn->app, NULL);
        sio_recovery_install(cn->sio);
        server_set_health(&cn->srv, health, cn);
        if (cn->app->init && cn->app->init(&cn->srv, cn->sio, &cn->app_state) < 0) {
            log_error("app init failed", "app=%s", cn->app->name);
            return -1;
        }
        cn->app_ready = 1;
        sio_server_set_app_state(cn->sio, cn->app_state);
        handler = sio_server_handler(cn->sio);
    }
    if (server_start(&cn->srv, &handler) < 0) return -1;
    cn->serving = 1;
    if (cfg->admin_ui) {
        char aerr[256];
        if (!cn->sio) {
            log_error("--admin-ui needs a Socket.IO app", "app=%s", cn->app->name);
            return -1;
        }
        if (admin_ui_start(&cn->admin_ui, &cn->srv, cn->sio, cfg, aerr, sizeof aerr) < 0) {
            log_error("cannot serve the Admin UI", "error=\"%s\"", aerr);
            return -1;
        }
    }
    cn->drain = drain_new(loop, cfg, server_eio(&cn->srv));
    if (!cfg->redis[0]) return 0;
    char err[512];
    if (!cn->sio) {
        log_error("--redis needs a Socket.IO app", "app=%s", cn->app->name);
        return -1;
    }
    if (cluster_start(&cn->cluster, &cn->srv, cn->sio, cfg, err, sizeof err) < 0) {
        log_error("cannot start the cluster adapter", "error=\"%s\"", err);
        return -1;
    }
    /* connection-state recovery keeps its log and sessions in Redis */
    if (cfg->recovery_window) cn->rec = cluster_rec_start(cn->cluster, cn->sio, cfg);
    control_start(&cn->control, &cn->srv, cn->sio, cn->cluster, cn->drain);
    return 0;
}

/* Runs one node until it stops. Returns the exit status: 0, 1 (it could not start, or did not
 * close cleanly) or 2 (an unknown app). */
static int run_node(const chatnode_config_t *cfg, const cfg_section_t *settings, size_t nsettings)
{
    chatnode_t cn;
    memset(&cn, 0, sizeof cn);
    cn.app = app_find(cfg->app);
    if (!cn.app) {
        fprintf(stderr, "chatnode: unknown app \"%s\" (see --help)\n", cfg->app);
        return 2;
    }
    cn.app_state = app_settings_of(settings, nsettings, cn.app);
    signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
    /* Large buffers (big messages, bodies, queued frames) straight from the system and back to
     * it when freed: in the heap, the holes they leave as clients come and go keep the RSS far
     * above what --max-memory-queued counts. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024);
#endif

    uv_loop_t loop;
    uv_loop_init(&loop);
    int status = 0;
    if (start(&cn, &loop, cfg) < 0) {
        status = 1;
        stop_now(&cn);
    } else {
        uv_signal_init(&loop, &cn.sigint);
        uv_signal_init(&loop, &cn.sigterm);
        uv_signal_init(&loop, &cn.sighup);
        cn.sigint.data = cn.sigterm.data = cn.sighup.data = &cn;
        cn.signals = 1;
        uv_signal_start(&cn.sigint, on_signal, SIGINT);
        uv_signal_start(&cn.sigterm, on_signal, SIGTERM);
        uv_signal_start(&cn.sighup, on_sighup, SIGHUP);
        log_info("listening", "host=%s port=%d path=%s app=%s tag=%s version=%s", cfg->host,
                 cn.srv.port, cfg->path, cn.app->name, cn.srv.tag, CHATCLUSTER_VERSION);
    }
    /* one way out: the loop runs until every handle is closed, then lws lets go */
    uv_run(&loop, UV_RUN_DEFAULT);
    server_finish(&cn.srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    if (rc) {
        log_warn("loop closed with open handles", "error=%s", uv_strerror(rc));
        status = 1;
    }
    if (!status) log_info("stopped", NULL);
    return status;
}

int main(int argc, char **argv)
{
    chatnode_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512];
    int status;
    cfg_section_t *settings; /* chatnode's own, then each app's */
    size_t nsettings = app_settings_sections(&chatnode_config_table, &cfg, &settings);
    int rc =
        cfg_load_sections(&chatnode_config_table, settings, nsettings, argc, argv, err, sizeof err);
    if (rc == CFG_HELP) {
        cfg_usage_sections(&chatnode_config_table, settings, nsettings, stdout);
        usage_apps(stdout);
        status = 0;
    } else if (rc == CFG_VERSION) {
        printf("chatnode %s\n", CHATCLUSTER_VERSION);
        status = 0;
    } else if (rc != CFG_OK || check_config(&cfg) < 0) {
        if (rc != CFG_OK) fprintf(stderr, "chatnode: %s\n", err);
        status = 2;
    } else if (cfg.hash_password) {
        status = admin_ui_hash_password(stdin, stdout) == 0 ? 0 : 1;
    } else if (cfg.log_file[0] && log_open(cfg.log_file) < 0) {
        fprintf(stderr, "chatnode: cannot open --log-file %s: %s\n", cfg.log_file, strerror(errno));
        status = 2;
    } else if (cfg.workers > 0 && cfg.port == 0) {
        fprintf(stderr, "chatnode: --workers needs a --port (workers use PORT..PORT+N-1)\n");
        status = 2;
    } else if (cfg.workers > 0 && (status = supervisor_run(&cfg)) != SUPERVISOR_WORKER) {
        /* the supervisor has run, and its workers with it */
    } else {
        status = run_node(&cfg, settings, nsettings);
    }
    app_settings_free(settings, nsettings);
    log_close();
    return status;
}
