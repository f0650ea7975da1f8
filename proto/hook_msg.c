/* The chat's HTTP hooks on the wire (see hook_msg.h): request documents built, answers read
 * and checked. */
#include "hook_msg.h"
#include "alloc.h"
#include "chat_store.h"
#include "sha256.h"
#include "utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int hook_check_code(const char *s, size_t len)
{
    if (len == 0 || len > HOOK_CODE_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

/* The body as a JSON object (owned), or NULL. jansson refuses text that is not UTF-8 and
 * strings holding NUL. */
static json_t *load_object(const char *body, size_t len)
{
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(o)) return o;
    json_decref(o);
    return NULL;
}

/* A copy of a message string cut at a character boundary to HOOK_MESSAGE_MAX_BYTES. */
static char *message_copy(const char *s, size_t len)
{
    return xstrndup(s, utf8_prefix(s, len, HOOK_MESSAGE_MAX_BYTES));
}

static int is_name(json_t *v)
{
    return json_is_string(v) && chat_check_name(json_string_value(v), json_string_length(v)) == 0;
}

/* {code?, message} of an error object: 0 with code and message set in *code, *message. */
static int read_refusal(json_t *e, int code_required, char **code, char **message,
                        const char *default_message)
{
    json_t *c = json_object_get(e, "code"), *m = json_object_get(e, "message");
    if (c && !json_is_null(c) &&
        (!json_is_string(c) || !hook_check_code(json_string_value(c), json_string_length(c))))
        return -1;
    if (code_required && !json_is_string(c)) return -1;
    if (m && !json_is_null(m) && !json_is_string(m)) return -1;
    if (!json_is_string(m) && !default_message) return -1;
    *code = json_is_string(c) ? xstrdup(json_string_value(c)) : NULL;
    *message = json_is_string(m) && json_string_length(m) > 0
                   ? message_copy(json_string_value(m), json_string_length(m))
                   : xstrdup(default_message ? default_message : "refused");
    return 0;
}

static hook_verdict_t auth_unavailable(hook_auth_t *out, const char *reason)
{
    hook_auth_free(out);
    out->verdict = HOOK_UNAVAILABLE;
    out->reason = reason;
    return HOOK_UNAVAILABLE;
}

hook_verdict_t hook_auth_parse(long status, const char *body, size_t body_len, size_t max_rooms,
                               hook_auth_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *o = load_object(body, body_len);
    if (!o) return auth_unavailable(out, "the answer is not a JSON object");
    hook_verdict_t v = HOOK_UNAVAILABLE;
    json_t *err = json_object_get(o, "error");
    json_t *user = json_object_get(o, "user"), *rooms = json_object_get(o, "rooms");
    json_t *data = json_object_get(o, "data"), *cache = json_object_get(o, "cache_s");
    if (err) {
        if (!json_is_object(err) ||
            read_refusal(err, 0, &out->code, &out->message, "refused by the application") < 0) {
            v = auth_unavailable(out, "error must be {code?, message}");
        } else {
            v = out->verdict = HOOK_REFUSE;
        }
        goto done;
    }
    if (status != 200) {
        v = auth_unavailable(out, "the status is not 200 and there is no error object");
        goto done;
    }
    json_t *id = json_object_get(user, "id"), *name = json_object_get(user, "name");
    if (!json_is_object(user) || !is_name(id) || (name && !json_is_null(name) && !is_name(name))) {
        v = auth_unavailable(out, "user must be {id, name?}: 1-64 characters each");
        goto done;
    }
    if (json_string_length(id) >= CHAT_GUEST_PREFIX_LEN &&
        memcmp(json_string_value(id), CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN) == 0) {
        v = auth_unavailable(out, "user.id may not start with " CHAT_GUEST_PREFIX);
        goto done;
    }
    if (rooms && !json_is_null(rooms) &&
        (!json_is_array(rooms) || json_array_size(rooms) > max_rooms)) {
        v = auth_unavailable(out, "rooms must be an array within the room limit");
        goto done;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r)
    {
        if (!json_is_string(r) || chat_check_room(json_string_value(r), json_string_length(r))) {
            v = auth_unavailable(out, "rooms must be room names");
            goto done;
        }
    }
    if (data && !json_is_null(data) && !json_is_object(data)) {
        v = auth_unavailable(out, "data must be an object");
        goto done;
    }
    if (cache && !json_is_null(cache) &&
        (!json_is_integer(cache) || json_integer_value(cache) < 0)) {
        v = auth_unavailable(out, "cache_s must be a whole number of seconds");
        goto done;
    }
    if (json_is_object(data)) {
        out->data = json_dumps(data, JSON_COMPACT);
        if (!out->data || strlen(out->data) > HOOK_DATA_MAX_BYTES) {
            v = auth_unavailable(out, "data is too large");
            goto done;
        }
    }
    out->id = xstrdup(json_string_value(id));
    out->name = xstrdup(json_string_value(is_name(name) ? name : id));
    out->nrooms = json_array_size(rooms);
    out->rooms = out->nrooms ? xcalloc(out->nrooms, sizeof *out->rooms) : NULL;
    json_array_foreach(rooms, i, r) out->rooms[i] = xstrdup(json_string_value(r));
    if (json_is_integer(cache))
        out->cache_s = json_integer_value(cache) > HOOK_CACHE_MAX_S
                           ? HOOK_CACHE_MAX_S
                           : (long)json_integer_value(cache);
    v = out->verdict = HOOK_ADMIT;
done:
    json_decref(o);
    return v;
}

void hook_auth_free(hook_auth_t *a)
{
    free(a->id);
    free(a->name);
    for (size_t i = 0; i < a->nrooms; i++) free(a->rooms[i]);
    free(a->rooms);
    free(a->data);
    free(a->code);
    free(a->message);
    memset(a, 0, sizeof *a);
}

int hook_auth_encode(const hook_auth_t *a, sbuf_t *out)
{
    json_t *rooms = json_array();
    for (size_t i = 0; i < a->nrooms; i++) json_array_append_new(rooms, json_string(a->rooms[i]));
    json_t *data = a->data ? json_loads(a->data, 0, NULL) : json_null();
    json_t *o = json_pack("{s:{s:s,s:s},s:o,s:o,s:I}", "user", "id", a->id, "name", a->name,
                          "rooms", rooms, "data", data, "cache_s", (json_int_t)a->cache_s);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return -1;
    sbuf_append_str(out, text);
    free(text);
    return 0;
}

static hook_verdict_t publish_unavailable(hook_publish_t *out, const char *reason)
{
    hook_publish_free(out);
    out->verdict = HOOK_UNAVAILABLE;
    out->reason = reason;
    return HOOK_UNAVAILABLE;
}

static int all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

hook_verdict_t hook_publish_parse(long status, const char *body, size_t body_len, size_t max_text,
                                  hook_publish_t *out)
{
    memset(out, 0, sizeof *out);
    if (status == 204 || (status == 200 && all_space(body, body_len))) {
        out->verdict = HOOK_ACCEPT;
        return HOOK_ACCEPT;
    }
    if (status != 200) return publish_unavailable(out, "the status is not 200 or 204");
    json_t *o = load_object(body, body_len);
    if (!o) return publish_unavailable(out, "the answer is not a JSON object");
    json_t *action = json_object_get(o, "action"), *text = json_object_get(o, "text");
    const char *a = json_is_string(action) ? json_string_value(action) : "";
    hook_verdict_t v;
    if (strcmp(a, "accept") == 0) {
        v = out->verdict = HOOK_ACCEPT;
    } else if (strcmp(a, "rewrite") == 0) {
        if (!json_is_string(text) || json_string_length(text) == 0 ||
            json_string_length(text) > max_text) {
            v = publish_unavailable(out, "rewrite needs a text within the text limit");
        } else {
            out->text = xmemdup(json_string_value(text), json_string_length(text) + 1);
            out->text_len = json_string_length(text);
            v = out->verdict = HOOK_REWRITE;
        }
    } else if (strcmp(a, "refuse") == 0) {
        if (read_refusal(o, 1, &out->code, &out->message, "refused by the application") < 0)
            v = publish_unavailable(out, "refuse needs a code and, optionally, a message");
        else
            v = out->verdict = HOOK_REFUSE;
    } else {
        v = publish_unavailable(out, "action must be accept, rewrite or refuse");
    }
    json_decref(o);
    return v;
}

void hook_publish_free(hook_publish_t *p)
{
    free(p->text);
    free(p->code);
    free(p->message);
    memset(p, 0, sizeof *p);
}

/* Appends o (stolen; NULL when json_pack failed) as compact text. */
static int append_json(sbuf_t *out, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return -1;
    sbuf_append_str(out, text);
    free(text);
    return 0;
}

/* The handshake auth as the application sees it (owned), or NULL when it is not a JSON object:
 * pid and offset are the Socket.IO client's, asking for its session back. */
static json_t *load_auth(const char *auth, size_t auth_len)
{
    json_t *a = load_object(auth, auth_len);
    json_object_del(a, "pid");
    json_object_del(a, "offset");
    return a;
}

int hook_auth_owner(const char *auth, size_t auth_len, sbuf_t *owner)
{
    json_t *a = load_auth(auth, auth_len);
    char *text = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(a);
    if (!text) return -1;
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_SIZE];
    sha256(text, strlen(text), d);
    sha256_hex(d, hex);
    free(text);
    sbuf_append(owner, HOOK_OWNER_PREFIX, HOOK_OWNER_PREFIX_LEN);
    sbuf_append(owner, hex, SHA256_HEX_SIZE - 1);
    return 0;
}

int hook_auth_request(sbuf_t *out, const char *auth, size_t auth_len, const char *address,
                      const char *headers, const char *nsp, size_t nsp_len, const char *node)
{
    json_t *a = load_auth(auth, auth_len);
    json_t *h = headers ? load_object(headers, strlen(headers)) : NULL;
    return append_json(out, json_pack("{s:o,s:s,s:o,s:s%,s:s}", "auth", a ? a : json_object(),
                                      "address", address, "headers", h ? h : json_object(),
                                      "namespace", nsp, nsp_len, "node", node));
}

int hook_publish_request(sbuf_t *out, int private_msg, const char *target, const char *from_id,
                         const char *from_name, const char *text, size_t text_len, const char *node)
{
    return append_json(out, json_pack("{s:s,s:s,s:{s:s,s:s},s:s%,s:s}", "type",
                                      private_msg ? "private_message" : "message",
                                      private_msg ? "to" : "room", target, "from", "id", from_id,
                                      "name", from_name, "text", text, text_len, "node", node));
}
