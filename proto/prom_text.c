#include "prom_text.h"

#include <string.h>

void prom_family(sbuf_t *out, const char *name, const char *type, const char *help)
{
    sbuf_printf(out, "# HELP %s ", name);
    /* HELP text escapes '\\' and newline */
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            sbuf_append_str(out, "\\\\");
        else if (*p == '\n')
            sbuf_append_str(out, "\\n");
        else
            sbuf_append_char(out, *p);
    }
    sbuf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void prom_label(sbuf_t *out, const char *name, const char *value, size_t len)
{
    sbuf_append_str(out, name);
    sbuf_append_str(out, "=\"");
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '\\' || c == '"')
            sbuf_append_char(out, '\\'), sbuf_append_char(out, c);
        else if (c == '\n')
            sbuf_append_str(out, "\\n");
        else
            sbuf_append_char(out, c);
    }
    sbuf_append_char(out, '"');
}

void prom_single(sbuf_t *out, const char *name, const char *type, const char *help, uint64_t value)
{
    prom_family(out, name, type, help);
    prom_value(out, name, value);
}

void prom_value(sbuf_t *out, const char *name, uint64_t value)
{
    sbuf_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

void prom_value1n(sbuf_t *out, const char *name, const char *label, const char *value, size_t len,
                  uint64_t v)
{
    sbuf_printf(out, "%s{", name);
    prom_label(out, label, value, len);
    sbuf_printf(out, "} %llu\n", (unsigned long long)v);
}

void prom_value1(sbuf_t *out, const char *name, const char *label, const char *value, uint64_t v)
{
    prom_value1n(out, name, label, value, strlen(value), v);
}

void prom_hist_init(prom_hist_t *h, const double *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds > PROM_HIST_MAX ? PROM_HIST_MAX : nbounds;
}

void prom_hist_observe(prom_hist_t *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

void prom_hist_write(sbuf_t *out, const char *name, const prom_hist_t *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->counts[i];
        sbuf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
                    (unsigned long long)cum);
    }
    cum += h->counts[h->nbounds];
    sbuf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}
