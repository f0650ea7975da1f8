/* libFuzzer driver: adminnode's path and query parameter rules (api_params.c) on any decoded
 * value, with reason buffers of every size. Each verdict is compared with its rule written out
 * here; a refusal leaves a short ASCII reason, an acceptance leaves the buffer alone. */
#include "api_params.h"
#include "chat_store.h"
#include "control_msg.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int all_of(const char *v, size_t len, const char *set)
{
    for (size_t i = 0; i < len; i++)
        if (!v[i] || !strchr(set, v[i])) return 0;
    return 1;
}

#define DIGITS "0123456789"

static int want_text(const char *v, size_t len)
{
    if (len > API_PARAM_MAX_BYTES || !utf8_valid(v, len)) return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) return 0;
    return 1;
}

static int want_message_id(const char *v, size_t len)
{
    const char *dash = memchr(v, '-', len);
    size_t a = dash ? (size_t)(dash - v) : len, b = dash ? len - a - 1 : 0;
    if (a < 1 || a > 20 || !all_of(v, a, DIGITS)) return 0;
    return !dash || (b >= 1 && b <= 20 && all_of(dash + 1, b, DIGITS));
}

typedef struct {
    api_param_check_fn fn;
    int (*want)(const char *v, size_t len);
} rule_t;

static int want_room(const char *v, size_t len)
{
    return utf8_label_check(v, len, CHAT_ROOM_MAX_CHARS, CHAT_ROOM_MAX_BYTES) == UTF8_LABEL_OK;
}

static int want_user(const char *v, size_t len)
{
    return chat_check_user_id(v, len) == 0;
}

static int want_sid(const char *v, size_t len)
{
    return len >= 1 && len <= API_SID_MAX &&
           all_of(v, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
}

static int want_node_id(const char *v, size_t len)
{
    if (len < 1 || len > CONTROL_MSG_MAX_ID) return 0;
    for (size_t i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] >= 0x7f) return 0;
    return 1;
}

static int want_namespace(const char *v, size_t len)
{
    return want_text(v, len) && len >= 1 && v[0] == '/' && len <= API_NSP_MAX &&
           !memchr(v, '#', len);
}

static int want_count(const char *v, size_t len)
{
    return len >= 1 && len <= API_COUNT_MAX && all_of(v, len, DIGITS);
}

static const rule_t rules[] = {
    {api_check_text, want_text},
    {api_check_room, want_room},
    {api_check_user, want_user},
    {api_check_sid, want_sid},
    {api_check_node_id, want_node_id},
    {api_check_namespace, want_namespace},
    {api_check_message_id, want_message_id},
    {api_check_count, want_count},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t whylen = data[0] % 130; /* 0 included: nothing may be written then */
    const char *v = (const char *)data + 1;
    size_t len = size - 1;
    /* an exact-size copy, so a read past the value is seen */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, v, len);
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        char why[131];
        memset(why, 0x7e, sizeof why);
        int rc = rules[r].fn(copy, len, why, whylen);
        int ok = rules[r].want(copy, len);
        if (rc != (ok ? 0 : -1)) abort();
        if (why[whylen] != 0x7e) abort(); /* nothing past whylen */
        if (rc == 0 || whylen == 0) {
            for (size_t i = 0; i < whylen; i++)
                if (why[i] != 0x7e) abort(); /* untouched */
            continue;
        }
        size_t n = strnlen(why, whylen);
        if (n == whylen || (whylen > 1 && n == 0)) abort(); /* terminated, and says something */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] >= 0x7f) abort();
    }
    /* a valid room or user is valid text too, and a sid a valid node id */
    if (want_room(copy, len) && len <= API_PARAM_MAX_BYTES && !want_text(copy, len)) abort();
    if (want_sid(copy, len) && !want_node_id(copy, len)) abort();
    free(copy);
    return 0;
}
