/* Configuration table: one row per setting (name, type, default, bounds, help). Command-line
 * flags, environment variables and a config file are all read from the same table, and the
 * --help text is generated from it. A program whose modules declare their own settings reads
 * several tables in one pass, each into its own struct (cfg_section_t). */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { CFG_INT, CFG_STR, CFG_BOOL } cfg_type_t;

typedef struct {
    const char *name; /* flag name without dashes: "ping-interval" */
    cfg_type_t type;
    const char *def;     /* default, as it would be written on the command line; NULL = unset */
    long long min, max;  /* bounds for CFG_INT */
    size_t offset;       /* where the value lives in the caller's struct:
                            long long for CFG_INT, char * (owned) for CFG_STR, int for CFG_BOOL */
    const char *metavar; /* "MS", "PATH"... shown in --help */
    const char *help;
} cfg_opt_t;

/* One row of a table: option name read into field of the struct type st, e.g.
 *   CFG_OPT(my_config_t, "port", CFG_INT, "3000", 1, 65535, port, "PORT", "listen port") */
#define CFG_OPT(st, name, type, def, min, max, field, metavar, help)                               \
    {                                                                                              \
        (name), (type), (def), (min), (max), offsetof(st, field), (metavar), (help)                \
    }

typedef struct {
    const char *prog;       /* "chatnode" */
    const char *summary;    /* one line shown at the top of --help */
    const char *env_prefix; /* "CHATNODE_": env name is prefix + NAME with '-' as '_' */
    const cfg_opt_t *opts;
    size_t nopts;
} cfg_table_t;

/* A table of options and the struct they are read into: a program's own settings are one
 * section, and each module that declares settings beside its code adds one. Option names are
 * unique across the sections read together (the first section naming one wins). */
typedef struct {
    const cfg_opt_t *opts;
    size_t nopts;
    void *conf; /* where the options' offsets point; unused by cfg_usage_sections */
} cfg_section_t;

enum { CFG_OK = 0, CFG_HELP = 1, CFG_VERSION = 2, CFG_ERR = -1 };

/* Fills conf from defaults, then the file named by --config (or PREFIX_CONFIG), then the
 * environment, then argv (later wins). Returns CFG_OK, CFG_HELP or CFG_VERSION when those
 * flags were given, or CFG_ERR with a message in err. String values in conf are owned by
 * conf and released with cfg_free(). */
int cfg_load(const cfg_table_t *t, void *conf, int argc, char **argv, char *err, size_t errlen);

/* Applies the settings of a config file's text[0..len) to conf: one `name = value` per line
 * (a bool's bare name means true), blank lines and lines starting with '#' skipped, spaces
 * around names and values ignored. origin names the text in messages ("PATH", giving
 * "PATH:LINE: ..."). Returns CFG_OK, or CFG_ERR with a message in err at the first bad line
 * (an unknown name, a missing or bad value, a NUL byte); the settings of the lines before it
 * stay applied. Strings stored in conf are owned by conf (cfg_free). Pure: no I/O. */
int cfg_load_text(const cfg_table_t *t, void *conf, const char *text, size_t len,
                  const char *origin, char *err, size_t errlen);

/* Releases the strings cfg_load stored in conf. */
void cfg_free(const cfg_table_t *t, void *conf);

/* Writes the generated --help text. */
void cfg_usage(const cfg_table_t *t, FILE *out);

/* The same four over several sections, sec[0..nsec), each read into its own struct: every
 * section's defaults, then the one config file, the environment and argv, as cfg_load does.
 * t gives the program's name, summary and environment prefix (shared by every section); t's
 * own opts are read only when one of the sections lists them. Messages, return values and
 * ownership are those of the single-table calls; --help lists the sections in order. */
int cfg_load_sections(const cfg_table_t *t, const cfg_section_t *sec, size_t nsec, int argc,
                      char **argv, char *err, size_t errlen);
int cfg_load_text_sections(const cfg_section_t *sec, size_t nsec, const char *text, size_t len,
                           const char *origin, char *err, size_t errlen);
void cfg_free_sections(const cfg_section_t *sec, size_t nsec);
void cfg_usage_sections(const cfg_table_t *t, const cfg_section_t *sec, size_t nsec, FILE *out);

/* Environment variable name of an option, written into buf. */
const char *cfg_env_name(const cfg_table_t *t, const cfg_opt_t *o, char *buf, size_t len);

#endif
