/* libFuzzer driver: redis_url_parse on any --redis value. What parses is within its bounds and
 * prints back, with user and password escaped and an IPv6 host in brackets, to a URL that
 * parses to the same thing; a refusal leaves the result empty and says why. */
#include "redis_url.h"
#include "sbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void append_escaped(sbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            sbuf_append_char(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sbuf_append(b, e, 3);
        }
    }
}

static int empty(const redis_url_t *u)
{
    return !u->host && !u->user && !u->password && !u->port && !u->db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    memcpy(url, data, size);
    url[size] = '\0';
    redis_url_t u;
    char err[128];
    memset(err, 0, sizeof err);
    int rc = redis_url_parse(url, &u, err, sizeof err);
    if (rc < 0) {
        if (rc != -1 || !empty(&u) || !err[0] || err[sizeof err - 1]) abort();
        /* no room for a reason is fine too */
        if (redis_url_parse(url, &u, NULL, 0) != -1 || !empty(&u)) abort();
        redis_url_free(&u);
        free(url);
        return 0;
    }
    if (rc != 0 || !u.host || !u.host[0] || u.port < 1 || u.port > 65535 || u.db < 0) abort();
    if (strncmp(url, "redis://", 8) != 0 || strpbrk(u.host, "[]@/?#")) abort();
    if (u.password && !u.password[0] && !u.user) abort(); /* ":@" alone names no AUTH */

    /* printed back and parsed again: the same URL */
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, "redis://");
    if (u.user || u.password) {
        if (u.user) append_escaped(&b, u.user);
        sbuf_append_char(&b, ':');
        if (u.password) append_escaped(&b, u.password);
        sbuf_append_char(&b, '@');
    }
    int v6 = strchr(u.host, ':') != NULL;
    sbuf_printf(&b, "%s%s%s:%d/%d", v6 ? "[" : "", u.host, v6 ? "]" : "", u.port, u.db);
    redis_url_t again;
    if (redis_url_parse(b.data, &again, NULL, 0) != 0) abort();
    if (!same(u.host, again.host) || u.port != again.port || u.db != again.db ||
        !same(u.user, again.user))
        abort();
    /* a user with an empty password still sends AUTH user "" */
    if (!same(u.password, again.password) && !(u.password && !u.password[0] && !again.password))
        abort();
    redis_url_free(&again);
    sbuf_free(&b);

    redis_url_t copy;
    redis_url_copy(&copy, &u);
    if (!same(copy.host, u.host) || !same(copy.user, u.user) || !same(copy.password, u.password) ||
        copy.port != u.port || copy.db != u.db)
        abort();
    redis_url_free(&copy);
    redis_url_free(&u);
    if (!empty(&u)) abort();
    redis_url_free(&u); /* freeing twice is fine */
    free(url);
    return 0;
}
