/* redis-server processes for the tests that need a real server: started on free ports in a
 * temporary directory, killed with the test process if it dies (PR_SET_PDEATHSIG), and
 * stopped and removed by the test. */
#ifndef CC_TEST_REDIS_SRV_H
#define CC_TEST_REDIS_SRV_H

#include <sys/types.h>

#include <hiredis/hiredis.h>

typedef struct {
    pid_t pid;        /* 0 when not running */
    int port;         /* 0: a free port is chosen at start */
    int cluster;      /* 1: started with cluster-enabled yes, its bus on cluster_port */
    int cluster_port; /* chosen free at each start when cluster is set */
    char dir[64];     /* the working directory, "" until the first start */
} redis_srv_t;

/* A TCP port on 127.0.0.1 that nothing listens on now, or -1. */
int redis_srv_free_port(void);

/* A blocking connection to 127.0.0.1:port with a one-second connect and I/O timeout, or NULL
 * when it cannot connect. The caller frees it with redisFree. */
redisContext *redis_srv_connect(int port);

/* Starts redis-server on s->port (or a free port when 0) in s->dir (made when ""), with extra
 * "--name", "value" pairs (NULL-terminated, may be NULL). Returns 0 once it answers PING, or -1
 * (nothing left running). */
int redis_srv_start(redis_srv_t *s, const char *const *extra);

/* Kills the server (SIGKILL) and reaps it; a server not running is a no-op. */
void redis_srv_stop(redis_srv_t *s);

/* redis_srv_stop, then removes its directory. */
void redis_srv_cleanup(redis_srv_t *s);

#endif
