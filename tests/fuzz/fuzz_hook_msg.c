/* libFuzzer driver: proto/hook_msg.c, the answers of the chat's HTTP hooks. The first byte
 * picks the status (200, 204, 403, 500) and the room limit, the rest is the body. An admitted
 * sign-in has an id and a name of the chat's name rule (the id not a guest's), rooms of the
 * room rule within the limit, data within its bound, cache_s within its cap, and reads back
 * the same from its cache form; a refusal has a UTF-8 message within its bound and a code of
 * the code rule or none. A rewritten message is 1..max_text bytes of UTF-8; a refused one has
 * a code. Nothing else is filled in. */
#include "chat_store.h"
#include "hook_msg.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_auth(long status, const char *body, size_t len, size_t max_rooms)
{
    hook_auth_t a;
    hook_verdict_t v = hook_auth_parse(status, body, len, max_rooms, &a);
    if (v != a.verdict) abort();
    if (v == HOOK_ADMIT) {
        if (chat_check_name(a.id, strlen(a.id)) || chat_check_name(a.name, strlen(a.name))) abort();
        if (strncmp(a.id, CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN) == 0) abort();
        if (a.nrooms > max_rooms) abort();
        for (size_t i = 0; i < a.nrooms; i++)
            if (chat_check_room(a.rooms[i], strlen(a.rooms[i]))) abort();
        if (a.data && strlen(a.data) > HOOK_DATA_MAX_BYTES) abort();
        if (a.cache_s < 0 || a.cache_s > HOOK_CACHE_MAX_S) abort();
        if (a.code || a.message) abort();
        sbuf_t enc = SBUF_INIT;
        if (hook_auth_encode(&a, &enc) != 0) abort();
        hook_auth_t b;
        if (hook_auth_parse(200, enc.data, enc.len, max_rooms, &b) != HOOK_ADMIT) abort();
        if (strcmp(a.id, b.id) || strcmp(a.name, b.name) || a.nrooms != b.nrooms ||
            a.cache_s != b.cache_s || (!a.data != !b.data) || (a.data && strcmp(a.data, b.data)))
            abort();
        for (size_t i = 0; i < a.nrooms; i++)
            if (strcmp(a.rooms[i], b.rooms[i])) abort();
        hook_auth_free(&b);
        sbuf_free(&enc);
    } else if (v == HOOK_REFUSE) {
        if (!a.message || strlen(a.message) > HOOK_MESSAGE_MAX_BYTES ||
            !utf8_valid(a.message, strlen(a.message)))
            abort();
        if (a.code && !hook_check_code(a.code, strlen(a.code))) abort();
        if (a.id || a.rooms || a.data) abort();
    } else {
        if (v != HOOK_UNAVAILABLE || !a.reason || a.id || a.message || a.rooms) abort();
    }
    hook_auth_free(&a);
}

static void check_publish(long status, const char *body, size_t len, size_t max_text)
{
    hook_publish_t p;
    hook_verdict_t v = hook_publish_parse(status, body, len, max_text, &p);
    if (v != p.verdict) abort();
    if (v == HOOK_REWRITE) {
        if (!p.text || p.text_len == 0 || p.text_len > max_text || strlen(p.text) != p.text_len ||
            !utf8_valid(p.text, p.text_len))
            abort();
    } else if (v == HOOK_REFUSE) {
        if (!p.code || !hook_check_code(p.code, strlen(p.code)) || !p.message) abort();
    } else if (p.text || p.code || p.message) {
        abort();
    }
    hook_publish_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const long statuses[] = {200, 204, 403, 500};
    long status = statuses[data[0] & 3];
    size_t limit = (size_t)(data[0] >> 2) % 8;
    const char *body = (const char *)data + 1;
    check_auth(status, body, size - 1, limit);
    check_publish(status, body, size - 1, limit * 16 + 1);
    return 0;
}
