/* The rules of the API's path and query parameters (see api_params.h). */
#include "api_params.h"
#include "chat_store.h"
#include "control_msg.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

static int refuse(char *why, size_t whylen, const char *phrase)
{
    snprintf(why, whylen, "%s", phrase);
    return -1;
}

int api_check_text(const char *v, size_t len, char *why, size_t whylen)
{
    if (len > API_PARAM_MAX_BYTES) {
        snprintf(why, whylen, "is longer than %d bytes", API_PARAM_MAX_BYTES);
        return -1;
    }
    if (!utf8_valid(v, len)) return refuse(why, whylen, "is not valid UTF-8");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return refuse(why, whylen, "holds a control character");
    return 0;
}

/* The answer for a UTF8_LABEL_* result of a label of at most chars characters and bytes
 * bytes. */
static int label_result(int rc, size_t chars, size_t bytes, char *why, size_t whylen)
{
    if (rc == UTF8_LABEL_OK) return 0;
    if (rc == UTF8_LABEL_LONG)
        snprintf(why, whylen, "is longer than %zu characters or %zu bytes", chars, bytes);
    else
        snprintf(why, whylen, "%s", utf8_label_strerror(rc));
    return -1;
}

int api_check_room(const char *v, size_t len, char *why, size_t whylen)
{
    int rc = utf8_label_check(v, len, CHAT_ROOM_MAX_CHARS, CHAT_ROOM_MAX_BYTES);
    return label_result(rc, CHAT_ROOM_MAX_CHARS, CHAT_ROOM_MAX_BYTES, why, whylen);
}

int api_check_user(const char *v, size_t len, char *why, size_t whylen)
{
    return label_result(chat_check_user_id(v, len), CHAT_USER_ID_MAX_CHARS, CHAT_USER_ID_MAX_BYTES,
                        why, whylen);
}

int api_check_sid(const char *v, size_t len, char *why, size_t whylen)
{
    int ok = len > 0 && len <= API_SID_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        char c = v[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    if (ok) return 0;
    snprintf(why, whylen, "must be 1-%d characters of A-Z a-z 0-9 _ -", API_SID_MAX);
    return -1;
}

int api_check_node_id(const char *v, size_t len, char *why, size_t whylen)
{
    /* what may still name no node (a space) is left to the registry's 404 */
    int ok = len > 0 && len <= CONTROL_MSG_MAX_ID;
    for (size_t i = 0; ok && i < len; i++) ok = v[i] >= 0x20 && v[i] < 0x7f;
    if (ok) return 0;
    snprintf(why, whylen, "must be 1-%d printable ASCII characters", CONTROL_MSG_MAX_ID);
    return -1;
}

int api_check_namespace(const char *v, size_t len, char *why, size_t whylen)
{
    if (api_check_text(v, len, why, whylen) < 0) return -1;
    if (len == 0 || v[0] != '/' || len > API_NSP_MAX || memchr(v, '#', len)) {
        snprintf(why, whylen, "must start with / and be at most %d bytes, without #", API_NSP_MAX);
        return -1;
    }
    return 0;
}

/* Length of the run of at most 20 digits at v[0..len), or 0 when there is none or it is
 * longer. */
static size_t digits(const char *v, size_t len)
{
    size_t n = 0;
    while (n < len && v[n] >= '0' && v[n] <= '9') n++;
    return n <= 20 ? n : 0;
}

int api_check_message_id(const char *v, size_t len, char *why, size_t whylen)
{
    size_t a = digits(v, len);
    int ok =
        a > 0 &&
        (a == len || (v[a] == '-' && a + 1 < len && digits(v + a + 1, len - a - 1) == len - a - 1));
    return ok ? 0 : refuse(why, whylen, "must be a message id (<digits>-<digits>)");
}

int api_check_count(const char *v, size_t len, char *why, size_t whylen)
{
    int ok = len > 0 && len <= API_COUNT_MAX;
    for (size_t i = 0; ok && i < len; i++) ok = v[i] >= '0' && v[i] <= '9';
    if (ok) return 0;
    snprintf(why, whylen, "must be a whole number of at most %d digits", API_COUNT_MAX);
    return -1;
}
