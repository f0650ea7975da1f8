/* Configuration table loader: defaults, config file, environment, then flags (see config.h). */
#include "config.h"
#include "alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

const char *cfg_env_name(const cfg_table_t *t, const cfg_opt_t *o, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "%s", t->env_prefix);
    for (const char *p = o->name; *p && n + 1 < len; p++)
        buf[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[n < len ? n : len - 1] = '\0';
    return buf;
}

/* The option called name[0..len) in any of the sections, with the struct it is read into
 * (*conf), or NULL. */
static const cfg_opt_t *find(const cfg_section_t *sec, size_t nsec, const char *name, size_t len,
                             void **conf)
{
    for (size_t s = 0; s < nsec; s++)
        for (size_t i = 0; i < sec[s].nopts; i++) {
            const cfg_opt_t *o = &sec[s].opts[i];
            if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) {
                *conf = sec[s].conf;
                return o;
            }
        }
    return NULL;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

static int set(const cfg_opt_t *o, void *conf, const char *v, const char *origin, char *err,
               size_t errlen)
{
    char *slot = (char *)conf + o->offset;
    switch (o->type) {
    case CFG_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            seterr(err, errlen, "%s: --%s expects an integer, got \"%s\"", origin, o->name, v);
            return CFG_ERR;
        }
        if (x < o->min || x > o->max) {
            seterr(err, errlen, "%s: --%s must be between %lld and %lld, got %lld", origin, o->name,
                   o->min, o->max, x);
            return CFG_ERR;
        }
        memcpy(slot, &x, sizeof x);
        return CFG_OK;
    }
    case CFG_BOOL: {
        int b;
        if (parse_bool(v, &b) < 0) {
            seterr(err, errlen, "%s: --%s expects true or false, got \"%s\"", origin, o->name, v);
            return CFG_ERR;
        }
        memcpy(slot, &b, sizeof b);
        return CFG_OK;
    }
    case CFG_STR: {
        char *old;
        memcpy(&old, slot, sizeof old);
        free(old);
        char *s = xstrdup(v);
        memcpy(slot, &s, sizeof s);
        return CFG_OK;
    }
    }
    return CFG_ERR;
}

/* One line of a config file, line[0..n) without its newline, modified in place. */
static int load_line(const cfg_section_t *sec, size_t nsec, char *line, size_t n,
                     const char *origin, char *err, size_t errlen)
{
    if (memchr(line, '\0', n)) {
        seterr(err, errlen, "%s: NUL byte in the line", origin);
        return CFG_ERR;
    }
    char *p = line, *end = line + n;
    while (p < end && isspace((unsigned char)*p)) p++;
    if (p == end || *p == '#') return CFG_OK;
    *end = '\0';
    char *eq = strchr(p, '=');
    char *key_end = eq ? eq : p + strcspn(p, " \t\r\n");
    char *val = eq ? eq + 1 : key_end;
    while (key_end > p && isspace((unsigned char)key_end[-1])) key_end--;
    while (isspace((unsigned char)*val)) val++;
    size_t vlen = strlen(val);
    while (vlen && isspace((unsigned char)val[vlen - 1])) val[--vlen] = '\0';
    void *conf;
    const cfg_opt_t *o = find(sec, nsec, p, (size_t)(key_end - p), &conf);
    if (!o) {
        seterr(err, errlen, "%s: unknown setting \"%.*s\"", origin, (int)(key_end - p), p);
        return CFG_ERR;
    }
    if (!eq && o->type != CFG_BOOL) {
        seterr(err, errlen, "%s: setting \"%s\" needs a value", origin, o->name);
        return CFG_ERR;
    }
    return set(o, conf, eq ? val : "true", origin, err, errlen);
}

int cfg_load_text_sections(const cfg_section_t *sec, size_t nsec, const char *text, size_t len,
                           const char *origin, char *err, size_t errlen)
{
    char where[512];
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = CFG_OK;
    for (size_t pos = 0; rc == CFG_OK && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n + 1 > cap) {
            cap = n + 1;
            line = xrealloc(line, cap);
        }
        memcpy(line, text + pos, n);
        pos += n + (nl ? 1 : 0);
        lineno++;
        snprintf(where, sizeof where, "%s:%d", origin, lineno);
        rc = load_line(sec, nsec, line, n, where, err, errlen);
    }
    free(line);
    return rc;
}

int cfg_load_text(const cfg_table_t *t, void *conf, const char *text, size_t len,
                  const char *origin, char *err, size_t errlen)
{
    const cfg_section_t sec = {t->opts, t->nopts, conf};
    return cfg_load_text_sections(&sec, 1, text, len, origin, err, errlen);
}

#define CFG_MAX_FILE (1u << 20) /* a config file is small; a larger one is a mistake */

static int load_file(const cfg_section_t *sec, size_t nsec, const char *path, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        seterr(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return CFG_ERR;
    }
    char *buf = xmalloc(CFG_MAX_FILE + 1);
    size_t len = fread(buf, 1, CFG_MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        seterr(err, errlen, "cannot read config file %s", path);
        rc = CFG_ERR;
    } else if (len > CFG_MAX_FILE) {
        seterr(err, errlen, "config file %s is larger than %u bytes", path, CFG_MAX_FILE);
        rc = CFG_ERR;
    } else {
        rc = cfg_load_text_sections(sec, nsec, buf, len, path, err, errlen);
    }
    free(buf);
    return rc;
}

int cfg_load_sections(const cfg_table_t *t, const cfg_section_t *sec, size_t nsec, int argc,
                      char **argv, char *err, size_t errlen)
{
    char envname[128];
    for (size_t s = 0; s < nsec; s++)
        for (size_t i = 0; i < sec[s].nopts; i++) {
            const cfg_opt_t *o = &sec[s].opts[i];
            if (o->def && set(o, sec[s].conf, o->def, "default", err, errlen) != CFG_OK)
                return CFG_ERR;
        }

    /* --config FILE or PREFIX_CONFIG first, so the environment and flags override it. */
    const char *cfgfile = NULL;
    snprintf(envname, sizeof envname, "%sCONFIG", t->env_prefix);
    cfgfile = getenv(envname);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            cfgfile = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            cfgfile = argv[i] + 9;
    }
    if (cfgfile && *cfgfile && load_file(sec, nsec, cfgfile, err, errlen) != CFG_OK) return CFG_ERR;

    for (size_t s = 0; s < nsec; s++)
        for (size_t i = 0; i < sec[s].nopts; i++) {
            const cfg_opt_t *o = &sec[s].opts[i];
            const char *v = getenv(cfg_env_name(t, o, envname, sizeof envname));
            if (v && set(o, sec[s].conf, v, envname, err, errlen) != CFG_OK) return CFG_ERR;
        }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return CFG_HELP;
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) return CFG_VERSION;
        if (strncmp(a, "--", 2) != 0) {
            seterr(err, errlen, "unexpected argument \"%s\" (see --help)", a);
            return CFG_ERR;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && memcmp(name, "config", 6) == 0) {
            if (!eq) i++;
            continue;
        }
        int negate = 0;
        void *conf;
        const cfg_opt_t *o = find(sec, nsec, name, nlen, &conf);
        if (!o && nlen > 3 && memcmp(name, "no-", 3) == 0) {
            o = find(sec, nsec, name + 3, nlen - 3, &conf);
            negate = o && o->type == CFG_BOOL;
            if (!negate) o = NULL;
        }
        if (!o) {
            seterr(err, errlen, "unknown option --%.*s (see --help)", (int)nlen, name);
            return CFG_ERR;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (o->type == CFG_BOOL)
            v = negate ? "false" : "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            seterr(err, errlen, "option --%s needs a value", o->name);
            return CFG_ERR;
        }
        if (set(o, conf, v, "command line", err, errlen) != CFG_OK) return CFG_ERR;
    }
    return CFG_OK;
}

int cfg_load(const cfg_table_t *t, void *conf, int argc, char **argv, char *err, size_t errlen)
{
    const cfg_section_t sec = {t->opts, t->nopts, conf};
    return cfg_load_sections(t, &sec, 1, argc, argv, err, errlen);
}

void cfg_free_sections(const cfg_section_t *sec, size_t nsec)
{
    for (size_t s = 0; s < nsec; s++)
        for (size_t i = 0; i < sec[s].nopts; i++) {
            if (sec[s].opts[i].type != CFG_STR) continue;
            char *slot = (char *)sec[s].conf + sec[s].opts[i].offset, *p;
            memcpy(&p, slot, sizeof p);
            free(p);
            p = NULL;
            memcpy(slot, &p, sizeof p);
        }
}

void cfg_free(const cfg_table_t *t, void *conf)
{
    const cfg_section_t sec = {t->opts, t->nopts, conf};
    cfg_free_sections(&sec, 1);
}

void cfg_usage_sections(const cfg_table_t *t, const cfg_section_t *sec, size_t nsec, FILE *out)
{
    char envname[128], flag[96];
    fprintf(out, "Usage: %s [OPTIONS]\n%s\n\nOptions (environment variable in brackets):\n",
            t->prog, t->summary);
    for (size_t s = 0; s < nsec; s++)
        for (size_t i = 0; i < sec[s].nopts; i++) {
            const cfg_opt_t *o = &sec[s].opts[i];
            if (o->type == CFG_BOOL)
                snprintf(flag, sizeof flag, "--%s", o->name);
            else
                snprintf(flag, sizeof flag, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
            fprintf(out, "  %-28s %s", flag, o->help);
            if (o->def && *o->def) fprintf(out, " (default: %s)", o->def);
            fprintf(out, " [%s]\n", cfg_env_name(t, o, envname, sizeof envname));
        }
    fprintf(out, "  %-28s %s [%sCONFIG]\n", "--config FILE",
            "read settings from FILE, one `name = value` per line", t->env_prefix);
    fprintf(out, "  %-28s %s\n  %-28s %s\n", "--help", "show this help and exit", "--version",
            "show the version and exit");
}

void cfg_usage(const cfg_table_t *t, FILE *out)
{
    const cfg_section_t sec = {t->opts, t->nopts, NULL};
    cfg_usage_sections(t, &sec, 1, out);
}
