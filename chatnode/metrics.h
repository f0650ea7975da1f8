/* The node's GET /metrics page, in Prometheus' text format: what each layer counts, under the
 * names docs/metrics.md lists. Reads the layers' counters; changes nothing. */
#ifndef CC_METRICS_H
#define CC_METRICS_H

#include "cluster.h"
#include "sbuf.h"
#include "server.h"
#include "sio.h"

typedef struct {
    const server_t *srv;
    const char *app;          /* the app module's name */
    const sio_server_t *sio;  /* NULL for an Engine.IO app */
    const cluster_t *cluster; /* NULL when running alone */
} metrics_src_t;

/* Appends the whole page. */
void metrics_write(const metrics_src_t *m, sbuf_t *out);

/* The process's resident set size in bytes (0 when /proc cannot tell). */
long long metrics_rss_bytes(void);

#endif
