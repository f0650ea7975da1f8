/* The registry of app modules compiled into chatnode. */
#include "app.h"

#include <string.h>

extern const app_module_t app_echo, app_eio_echo, app_chat;

const app_module_t *const app_modules[] = {&app_echo, &app_eio_echo, &app_chat, NULL};

const app_module_t *app_find(const char *name)
{
    for (size_t i = 0; app_modules[i]; i++)
        if (strcmp(app_modules[i]->name, name) == 0) return app_modules[i];
    return NULL;
}
