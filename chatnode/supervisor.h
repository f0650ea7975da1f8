/* chatnode --workers N: a supervisor process forks N workers on consecutive ports (each with
 * its own node tag), restarts a worker that dies with a growing delay, forwards SIGTERM, SIGINT
 * and SIGHUP to them, and exits once they all have. It runs before any libuv loop exists. */
#ifndef CC_SUPERVISOR_H
#define CC_SUPERVISOR_H

#include "chatnode_config.h"

#define SUPERVISOR_WORKER (-1) /* returned in a worker process */

/* Supervises cfg->workers workers. Returns the supervisor's exit status once every worker has
 * ended, or SUPERVISOR_WORKER in a new worker process, whose cfg then has its own port and tag
 * and no workers: the caller goes on as a plain chatnode. */
int supervisor_run(chatnode_config_t *cfg);

#endif
