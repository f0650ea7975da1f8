/* Prometheus' text exposition format, version 0.0.4: the one way every /metrics page of the
 * project writes its families, label values and histograms.
 *
 *   # HELP chatnode_sockets Socket.IO sockets connected, by namespace.
 *   # TYPE chatnode_sockets gauge
 *   chatnode_sockets{namespace="/chat"} 12
 *
 * Label values are escaped as the format asks ('\\', '"' and newline); anything else, UTF-8
 * included, is written as it is. */
#ifndef CC_PROM_TEXT_H
#define CC_PROM_TEXT_H

#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The HELP and TYPE lines of a family; type is "counter", "gauge" or "histogram". */
void prom_family(sbuf_t *out, const char *name, const char *type, const char *help);
/* name="value" with value escaped (len bytes). */
void prom_label(sbuf_t *out, const char *name, const char *value, size_t len);
/* A family of one sample without labels: its HELP and TYPE lines, then "name value". */
void prom_single(sbuf_t *out, const char *name, const char *type, const char *help, uint64_t value);
/* A sample without labels: "name value\n". */
void prom_value(sbuf_t *out, const char *name, uint64_t value);
/* A sample with one label: name{label="value"} v; value is NUL-terminated, or len bytes. */
void prom_value1(sbuf_t *out, const char *name, const char *label, const char *value, uint64_t v);
void prom_value1n(sbuf_t *out, const char *name, const char *label, const char *value, size_t len,
                  uint64_t v);

/* A histogram with fixed upper bounds (in the unit observed), cumulative when written. */
#define PROM_HIST_MAX 16
typedef struct {
    const double *bounds;               /* ascending, nbounds of them; +Inf is implicit */
    size_t nbounds;                     /* at most PROM_HIST_MAX */
    uint64_t counts[PROM_HIST_MAX + 1]; /* per bucket, not cumulative; the last is +Inf */
    uint64_t count;
    double sum;
} prom_hist_t;

void prom_hist_init(prom_hist_t *h, const double *bounds, size_t nbounds);
void prom_hist_observe(prom_hist_t *h, double v);
/* Its name_bucket{le=...}, name_sum and name_count samples (the family lines not included). */
void prom_hist_write(sbuf_t *out, const char *name, const prom_hist_t *h);

#endif
