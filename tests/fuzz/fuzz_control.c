/* libFuzzer driver: the control traffic's documents as they come from Redis. As a command
 * (control_msg_command_parse) and the reply a chatnode publishes (control_msg_reply_text):
 * only a JSON drain or undrain command is one; the reply is always a v1 reply object that
 * echoes the command's id exactly, whatever it was, and reads back as written. As a heartbeat
 * (control_msg_heartbeat_parse): only a v1 heartbeat with a usable id is one, and the chat
 * limits it yields are within bounds. As a reply (control_msg_reply_parse), and an adminnode
 * command with the reply's id, which reads back as that command. */
#include "control_msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *id = (json_t *)1;
    control_msg_cmd_t cmd = control_msg_command_parse((const char *)data, size, &id);
    if (cmd != CONTROL_MSG_CMD_UNKNOWN && cmd != CONTROL_MSG_CMD_DRAIN &&
        cmd != CONTROL_MSG_CMD_UNDRAIN)
        abort();

    /* the same reading written out with jansson */
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    const char *type = json_string_value(json_object_get(doc, "type"));
    control_msg_cmd_t want = !type                          ? CONTROL_MSG_CMD_UNKNOWN
                             : strcmp(type, "drain") == 0   ? CONTROL_MSG_CMD_DRAIN
                             : strcmp(type, "undrain") == 0 ? CONTROL_MSG_CMD_UNDRAIN
                                                            : CONTROL_MSG_CMD_UNKNOWN;
    json_t *want_id = json_object_get(doc, "id");
    if (cmd != want || (!id) != (!want_id) || (id && !json_equal(id, want_id))) abort();

    for (int ok = 0; ok < 2; ok++) {
        sbuf_t out = SBUF_INIT;
        if (control_msg_reply_text(id, "abc123", ok, !ok, &out) != 0) abort();
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

    json_t *hb = control_msg_heartbeat_parse((const char *)data, size);
    if (hb) {
        size_t len;
        const char *hid = control_msg_heartbeat_id(hb, &len);
        if (!hid || !control_msg_id_valid(hid, len) ||
            json_integer_value(json_object_get(hb, "v")) != CONTROL_MSG_VERSION)
            abort();
        chat_store_limits_t l = {0, 0, 0};
        if (control_msg_heartbeat_chat(hb, &l) == 0 && !chat_store_limits_valid(&l)) abort();
        json_decref(hb);
    }

    control_msg_reply_t r;
    json_t *reply = control_msg_reply_parse((const char *)data, size, &r);
    if (reply) {
        if (!r.id || strcmp(json_string_value(json_object_get(reply, "type")), "reply") != 0)
            abort();
        /* a reply written from it reads back the same */
        json_t *rid = json_string(r.id);
        sbuf_t out = SBUF_INIT;
        control_msg_reply_t back;
        if (!rid || control_msg_reply_text(rid, r.node ? r.node : "n", r.ok, r.draining, &out))
            abort();
        json_t *again = control_msg_reply_parse(out.data, out.len, &back);
        if (!again || strcmp(back.id, r.id) != 0 || strcmp(back.node, r.node ? r.node : "n") ||
            back.ok != r.ok || back.draining != r.draining)
            abort();
        json_decref(again);
        json_decref(rid);
        sbuf_free(&out);
        /* a command with that id reads back as the command */
        for (control_msg_cmd_t c = CONTROL_MSG_CMD_UNKNOWN; c <= CONTROL_MSG_CMD_UNDRAIN; c++) {
            sbuf_t text = SBUF_INIT;
            int rc = control_msg_command_text(c, r.id, &text);
            if ((rc == 0) != (c != CONTROL_MSG_CMD_UNKNOWN)) abort();
            if (rc == 0) {
                json_t *cid = NULL;
                if (control_msg_command_parse(text.data, text.len, &cid) != c ||
                    strcmp(json_string_value(cid), r.id) != 0)
                    abort();
                json_decref(cid);
            }
            sbuf_free(&text);
        }
        json_decref(reply);
    }
    return 0;
}
