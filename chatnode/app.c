/* The registry of app modules compiled into chatnode, and the reading of their settings. */
#include "app.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

extern const app_module_t app_echo, app_eio_echo, app_chat;

const app_module_t *const app_modules[] = {&app_echo, &app_eio_echo, &app_chat, NULL};

const app_module_t *app_find(const char *name)
{
    for (size_t i = 0; app_modules[i]; i++)
        if (strcmp(app_modules[i]->name, name) == 0) return app_modules[i];
    return NULL;
}

size_t app_settings_sections(const cfg_table_t *core, void *core_conf, cfg_section_t **out)
{
    size_t n = 1;
    for (size_t i = 0; app_modules[i]; i++) n += app_modules[i]->settings != NULL;
    cfg_section_t *sec = xcalloc(n, sizeof *sec);
    sec[0] = (cfg_section_t){core->opts, core->nopts, core_conf};
    n = 1;
    for (size_t i = 0; app_modules[i]; i++) {
        const app_settings_t *s = app_modules[i]->settings;
        if (s) sec[n++] = (cfg_section_t){s->opts, s->nopts, xcalloc(1, s->size)};
    }
    *out = sec;
    return n;
}

void *app_settings_of(const cfg_section_t *sec, size_t nsec, const app_module_t *app)
{
    if (!app->settings) return NULL;
    for (size_t i = 1; i < nsec; i++)
        if (sec[i].opts == app->settings->opts) return sec[i].conf;
    return NULL;
}

void app_settings_free(cfg_section_t *sec, size_t nsec)
{
    if (!sec) return;
    cfg_free_sections(sec, nsec);
    for (size_t i = 1; i < nsec; i++) free(sec[i].conf);
    free(sec);
}
