/* The chat's limits, label rules and key layout (see chat_store.h). */
#include "chat_store.h"
#include "utf8.h"

#include <string.h>

int chat_check_name(const char *s, size_t len)
{
    return utf8_label_check(s, len, CHAT_NAME_MAX_CHARS, CHAT_NAME_MAX_BYTES);
}

int chat_check_user_id(const char *s, size_t len)
{
    return utf8_label_check(s, len, CHAT_USER_ID_MAX_CHARS, CHAT_USER_ID_MAX_BYTES);
}

int chat_check_room(const char *s, size_t len)
{
    int rc = utf8_label_check(s, len, CHAT_ROOM_MAX_CHARS, CHAT_ROOM_MAX_BYTES);
    if (rc == 0 && len >= sizeof CHAT_USER_ROOM_PREFIX - 1 &&
        memcmp(s, CHAT_USER_ROOM_PREFIX, sizeof CHAT_USER_ROOM_PREFIX - 1) == 0)
        return CHAT_EUSERROOM;
    return rc;
}

const char *chat_check_strerror(int rc)
{
    if (rc == CHAT_EUSERROOM) return "is a user's own room (user:...)";
    return utf8_label_strerror(rc);
}

int chat_check_client_id(const char *s, size_t len)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:";
    if (len == 0 || len > CHAT_CLIENT_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !memchr(ok, s[i], sizeof ok - 1)) return 0;
    return 1;
}

void chat_key_part(sbuf_t *b, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc;
        switch (s[i]) {
        case '%': esc = "%25"; break;
        case ':': esc = "%3A"; break;
        case '{': esc = "%7B"; break;
        case '}': esc = "%7D"; break;
        default: continue;
        }
        sbuf_append(b, s + run, i - run);
        sbuf_append(b, esc, 3);
        run = i + 1;
    }
    sbuf_append(b, s + run, len - run);
}

static void head(sbuf_t *b, const char *prefix, const char *kind)
{
    sbuf_reset(b);
    sbuf_append_str(b, prefix);
    sbuf_append_str(b, ":chat:");
    sbuf_append_str(b, kind);
}

void chat_key_room(sbuf_t *b, const char *prefix, const char *room, size_t len)
{
    head(b, prefix, "room:");
    chat_key_part(b, room, len);
}

void chat_key_presence(sbuf_t *b, const char *prefix, const char *room, size_t len)
{
    head(b, prefix, "presence:");
    chat_key_part(b, room, len);
}

void chat_key_alive(sbuf_t *b, const char *prefix, const char *node_uid)
{
    head(b, prefix, "alive:");
    chat_key_part(b, node_uid, strlen(node_uid));
}

void chat_key_dm(sbuf_t *b, const char *prefix, const char *a, size_t alen, const char *c,
                 size_t clen)
{
    size_t n = alen < clen ? alen : clen;
    int cmp = memcmp(a, c, n);
    if (cmp > 0 || (cmp == 0 && alen > clen)) { /* the smaller id first */
        const char *t = a;
        a = c, c = t;
        size_t tl = alen;
        alen = clen, clen = tl;
    }
    head(b, prefix, "dm:");
    chat_key_part(b, a, alen);
    sbuf_append_char(b, ':');
    chat_key_part(b, c, clen);
}

void chat_key_dedupe(sbuf_t *b, const char *prefix, const char *stream, size_t stream_len,
                     const char *user, size_t user_len, const char *cid, size_t cid_len)
{
    /* the stream key's kind and parts after "P:chat:" name the scope */
    size_t skip = strlen(prefix) + sizeof ":chat:" - 1;
    head(b, prefix, "dedupe:");
    if (stream_len > skip) sbuf_append(b, stream + skip, stream_len - skip);
    sbuf_append_char(b, ':');
    chat_key_part(b, user, user_len);
    sbuf_append_char(b, ':');
    chat_key_part(b, cid, cid_len);
}
