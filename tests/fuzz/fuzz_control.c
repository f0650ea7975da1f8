/* libFuzzer driver: chatnode's control commands as they come from Redis
 * (control_command_parse) and the reply it publishes (control_reply_text). Only a JSON
 * drain or undrain command is one; the reply is always a v1 reply object that echoes the
 * command's id exactly, whatever it was. */
#include "control.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *id = (json_t *)1;
    control_cmd_t cmd = control_command_parse((const char *)data, size, &id);
    if (cmd != CONTROL_CMD_UNKNOWN && cmd != CONTROL_CMD_DRAIN && cmd != CONTROL_CMD_UNDRAIN)
        abort();

    /* the same reading written out with jansson */
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    const char *type = json_string_value(json_object_get(doc, "type"));
    control_cmd_t want = !type                          ? CONTROL_CMD_UNKNOWN
                         : strcmp(type, "drain") == 0   ? CONTROL_CMD_DRAIN
                         : strcmp(type, "undrain") == 0 ? CONTROL_CMD_UNDRAIN
                                                        : CONTROL_CMD_UNKNOWN;
    json_t *want_id = json_object_get(doc, "id");
    if (cmd != want || (!id) != (!want_id) || (id && !json_equal(id, want_id))) abort();

    for (int ok = 0; ok < 2; ok++) {
        sbuf_t out = SBUF_INIT;
        if (control_reply_text(id, "abc123", ok, !ok, &out) != 0) abort();
        json_t *reply = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(reply) || json_integer_value(json_object_get(reply, "v")) != 1 ||
            strcmp(json_string_value(json_object_get(reply, "type")), "reply") != 0 ||
            strcmp(json_string_value(json_object_get(reply, "node")), "abc123") != 0 ||
            json_is_true(json_object_get(reply, "ok")) != ok ||
            json_is_true(json_object_get(reply, "draining")) == ok)
            abort();
        json_t *echoed = json_object_get(reply, "id");
        if (id ? !json_equal(echoed, id) : !json_is_null(echoed)) abort();
        json_decref(reply);
        sbuf_free(&out);
    }
    json_decref(id);
    json_decref(doc);
    return 0;
}
