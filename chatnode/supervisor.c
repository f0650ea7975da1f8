/* The worker supervisor (see supervisor.h). */
#include "supervisor.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256

typedef struct {
    pid_t pid;         /* 0 when not running */
    uint64_t started;  /* ms */
    uint64_t restart;  /* ms when to start it again; 0: not scheduled */
    unsigned failures; /* deaths in a row, for the restart delay */
} worker_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Forks worker i. Returns its pid in the supervisor, 0 in the worker (whose cfg is then
 * its own), or -1 when fork failed. */
static pid_t spawn(chatnode_config_t *cfg, int i, worker_t *w, const sigset_t *old)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start a worker", "worker=%d error=\"%s\"", i + 1, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, old, NULL);
        cfg->port += i;
        cfg->workers = 0;
        if (cfg->node_tag[0]) {
            char tag[64];
            snprintf(tag, sizeof tag, "%s-%d", cfg->node_tag, i + 1);
            free(cfg->node_tag);
            cfg->node_tag = xstrdup(tag);
        }
        return 0;
    }
    w->pid = pid;
    w->started = now_ms();
    w->restart = 0;
    log_info("worker started", "worker=%d pid=%d port=%lld", i + 1, (int)pid, cfg->port + i);
    return pid;
}

int supervisor_run(chatnode_config_t *cfg)
{
    int n = (int)cfg->workers;
    worker_t w[MAX_WORKERS];
    memset(w, 0, sizeof w);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    log_info("supervisor started", "workers=%d first_port=%lld", n, cfg->port);
    for (int i = 0; i < n; i++)
        if (spawn(cfg, i, &w[i], &old) == 0) return SUPERVISOR_WORKER;

    int stopping = 0;
    uint64_t kill_at = 0;
    for (;;) {
        uint64_t now = now_ms(), next = now + 1000;
        int live = 0;
        for (int i = 0; i < n; i++) {
            if (w[i].pid) live++;
            if (!stopping && !w[i].pid && w[i].restart) {
                if (w[i].restart <= now) {
                    if (spawn(cfg, i, &w[i], &old) == 0) return SUPERVISOR_WORKER;
                } else if (w[i].restart < next) {
                    next = w[i].restart;
                }
            }
        }
        if (stopping && live == 0) break;
        if (stopping && kill_at && now >= kill_at) {
            for (int i = 0; i < n; i++)
                if (w[i].pid) kill(w[i].pid, SIGKILL);
            kill_at = 0;
        }
        uint64_t wait = next > now ? next - now : 0;
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000};
        siginfo_t info;
        int sig = sigtimedwait(&set, &info, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping) {
                log_info("supervisor stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                /* workers drain for --drain-timeout; after that and a grace period, kill */
                kill_at = now_ms() + (uint64_t)cfg->drain_timeout + 5000;
            }
            stopping = 1;
            for (int i = 0; i < n; i++)
                if (w[i].pid) kill(w[i].pid, sig);
        } else if (sig == SIGHUP) {
            log_reopen();
            for (int i = 0; i < n; i++)
                if (w[i].pid) kill(w[i].pid, SIGHUP);
        }
        /* reap whoever ended (SIGCHLD may be merged, so always look) */
        pid_t pid;
        int status;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (w[i].pid != pid) continue;
                w[i].pid = 0;
                if (stopping) {
                    log_info("worker stopped", "worker=%d pid=%d", i + 1, (int)pid);
                    break;
                }
                uint64_t lived = now_ms() - w[i].started;
                if (lived > 30000) w[i].failures = 0; /* it ran fine for a while */
                uint64_t delay = 100u << (w[i].failures < 7 ? w[i].failures : 7);
                if (delay > 10000) delay = 10000;
                w[i].failures++;
                w[i].restart = now_ms() + delay;
                if (WIFSIGNALED(status))
                    log_warn("worker died", "worker=%d pid=%d signal=%d restart_in_ms=%llu", i + 1,
                             (int)pid, WTERMSIG(status), (unsigned long long)delay);
                else
                    log_warn("worker exited", "worker=%d pid=%d status=%d restart_in_ms=%llu",
                             i + 1, (int)pid, WEXITSTATUS(status), (unsigned long long)delay);
                break;
            }
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    log_info("supervisor stopped", NULL);
    return 0;
}
