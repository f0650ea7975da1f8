/* libFuzzer driver: the config file reader (cfg_load_text) on any file text. Values land
 * within their bounds; reading the text line by line gives what reading it whole gives; and
 * the settings read, written back as `name = value` lines, read back to the same settings. */
#include "config.h"
#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long long port, ping;
    char *name, *redis;
    int verbose, tls;
} conf_t;

static const cfg_opt_t opts[] = {
    {"port", CFG_INT, "3000", 1, 65535, offsetof(conf_t, port), "PORT", "listen port"},
    {"ping-interval", CFG_INT, "25000", -5, 600000, offsetof(conf_t, ping), "MS", "interval"},
    {"name", CFG_STR, "node", 0, 0, offsetof(conf_t, name), "NAME", "node name"},
    {"redis", CFG_STR, NULL, 0, 0, offsetof(conf_t, redis), "URL", "redis address"},
    {"verbose", CFG_BOOL, "false", 0, 0, offsetof(conf_t, verbose), NULL, "log more"},
    {"tls", CFG_BOOL, "true", 0, 0, offsetof(conf_t, tls), NULL, "use TLS"},
};

static const cfg_table_t table = {"fz", "A fuzzed node.", "FZ_", opts, sizeof opts / sizeof *opts};

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same(const conf_t *a, const conf_t *b)
{
    return a->port == b->port && a->ping == b->ping && same_str(a->name, b->name) &&
           same_str(a->redis, b->redis) && a->verbose == b->verbose && a->tls == b->tls;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void check_str(const char *s)
{
    if (!s) return;
    size_t n = strlen(s);
    if (n && (is_space(s[0]) || is_space(s[n - 1]))) abort(); /* values are trimmed */
    if (strchr(s, '\n')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    conf_t c, byline, back;
    memset(&c, 0, sizeof c);
    memset(&byline, 0, sizeof byline);
    memset(&back, 0, sizeof back);
    char err[256] = "";
    int rc = cfg_load_text(&table, &c, text, size, "fz.conf", err, sizeof err);
    if (rc != CFG_OK && rc != CFG_ERR) abort();
    if (rc == CFG_ERR && strncmp(err, "fz.conf:", 8) != 0) abort();
    if (c.port && (c.port < 1 || c.port > 65535)) abort();
    if (c.ping < -5 || c.ping > 600000) abort();
    if ((c.verbose != 0 && c.verbose != 1) || (c.tls != 0 && c.tls != 1)) abort();
    check_str(c.name);
    check_str(c.redis);

    /* line by line, stopping at the first error: the same settings and outcome */
    int rc2 = CFG_OK;
    for (size_t pos = 0; pos < size && rc2 == CFG_OK;) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - text - pos) + 1 : size - pos;
        rc2 = cfg_load_text(&table, &byline, text + pos, n, "fz.conf", err, sizeof err);
        pos += n;
    }
    if (rc2 != rc || !same(&c, &byline)) abort();

    /* written back and read again */
    sbuf_t out = SBUF_INIT;
    if (c.port) sbuf_printf(&out, "port = %lld\n", c.port);
    sbuf_printf(&out, "ping-interval=%lld\n", c.ping);
    if (c.name) sbuf_printf(&out, "  name = %s\n", c.name);
    if (c.redis) sbuf_printf(&out, "redis\t=\t%s\r\n", c.redis);
    sbuf_printf(&out, "# comment\n\nverbose = %s\n%s\n", c.verbose ? "yes" : "off",
                c.tls ? "tls" : "tls = 0");
    if (cfg_load_text(&table, &back, out.data, out.len, "back", err, sizeof err) != CFG_OK) abort();
    if (!same(&c, &back)) abort();
    sbuf_free(&out);

    cfg_free(&table, &c);
    cfg_free(&table, &byline);
    cfg_free(&table, &back);
    if (c.name || c.redis) abort();
    return 0;
}
