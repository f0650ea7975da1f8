/* redis-server processes for the tests (redis_srv.h). */
#include "redis_srv.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int redis_srv_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

redisContext *redis_srv_connect(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c) redisSetTimeout(c, tv);
    return c;
}

void redis_srv_stop(redis_srv_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

void redis_srv_cleanup(redis_srv_t *s)
{
    redis_srv_stop(s);
    if (s->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", s->dir);
        s->dir[0] = '\0';
    }
}

int redis_srv_start(redis_srv_t *s, const char *const *extra)
{
    if (!s->dir[0]) {
        snprintf(s->dir, sizeof s->dir, "/tmp/redis_srv.XXXXXX");
        if (!mkdtemp(s->dir)) {
            s->dir[0] = '\0';
            return -1;
        }
    }
    int fixed = s->port != 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!fixed) s->port = redis_srv_free_port();
        char port[16], cport[16];
        snprintf(port, sizeof port, "%d", s->port);
        const char *argv[40] = {
            "redis-server", "--port", port,    "--bind", "127.0.0.1 -::1", "--save", "",
            "--appendonly", "no",     "--dir", s->dir};
        int n = 11;
        if (s->cluster) {
            s->cluster_port = redis_srv_free_port();
            snprintf(cport, sizeof cport, "%d", s->cluster_port);
            argv[n++] = "--cluster-enabled";
            argv[n++] = "yes";
            argv[n++] = "--cluster-port";
            argv[n++] = cport;
            argv[n++] = "--cluster-config-file";
            argv[n++] = "nodes.conf";
        }
        for (int i = 0; extra && extra[i] && n < 38; i++) argv[n++] = extra[i];
        argv[n] = NULL;
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test, even on a crash */
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execvp("redis-server", (char *const *)argv);
            _exit(127);
        }
        s->pid = pid;
        for (int i = 0; i < 300; i++) { /* up to 3 s */
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                s->pid = 0; /* exited: port taken? */
                break;
            }
            redisContext *c = redis_srv_connect(s->port);
            if (c) {
                redisReply *r = redisCommand(c, "PING");
                int ok = r != NULL;
                freeReplyObject(r);
                redisFree(c);
                if (ok) return 0;
            }
            usleep(10000);
        }
        redis_srv_stop(s);
        if (fixed) usleep(100000);
    }
    return -1;
}
