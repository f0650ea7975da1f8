/* libFuzzer driver: redis_url_parse on any --redis value (redis://, redis+sentinel://,
 * redis+cluster://). What parses is within its bounds and prints back, with user, password
 * and master name escaped and IPv6 hosts in brackets, to a URL that parses to the same thing;
 * a refusal leaves the result empty and says why. */
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
    return !u->host && !u->user && !u->password && !u->port && !u->db && !u->kind && !u->addrs &&
           !u->n_addrs && !u->master;
}

static int same_url(const redis_url_t *a, const redis_url_t *b)
{
    if (a->kind != b->kind || a->n_addrs != b->n_addrs || !same(a->host, b->host) ||
        a->port != b->port || a->db != b->db || !same(a->user, b->user) ||
        !same(a->master, b->master))
        return 0;
    for (size_t i = 0; i < a->n_addrs; i++)
        if (!same(a->addrs[i].host, b->addrs[i].host) || a->addrs[i].port != b->addrs[i].port)
            return 0;
    return 1;
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
    if (u.n_addrs < 1 || u.n_addrs > REDIS_URL_MAX_ADDRS ||
        (u.kind == REDIS_URL_SINGLE && u.n_addrs != 1) || strcmp(u.host, u.addrs[0].host) != 0 ||
        u.port != u.addrs[0].port)
        abort();
    const char *scheme = redis_url_scheme(u.kind);
    if (strncmp(url, scheme, strlen(scheme)) != 0) abort();
    for (size_t i = 0; i < u.n_addrs; i++)
        if (!u.addrs[i].host[0] || strpbrk(u.addrs[i].host, "[]@/?#,") || u.addrs[i].port < 1 ||
            u.addrs[i].port > 65535)
            abort();
    if ((u.kind == REDIS_URL_SENTINEL) != (u.master != NULL)) abort();
    if (u.master && (!u.master[0] || strlen(u.master) > REDIS_URL_MASTER_MAX)) abort();
    if (u.kind == REDIS_URL_CLUSTER && u.db != 0) abort();
    if (u.password && !u.password[0] && !u.user) abort(); /* ":@" alone names no AUTH */

    /* printed back and parsed again: the same URL */
    sbuf_t b = SBUF_INIT;
    sbuf_append_str(&b, scheme);
    if (u.user || u.password) {
        if (u.user) append_escaped(&b, u.user);
        sbuf_append_char(&b, ':');
        if (u.password) append_escaped(&b, u.password);
        sbuf_append_char(&b, '@');
    }
    for (size_t i = 0; i < u.n_addrs; i++) {
        int v6 = strchr(u.addrs[i].host, ':') != NULL;
        sbuf_printf(&b, "%s%s%s%s:%d", i ? "," : "", v6 ? "[" : "", u.addrs[i].host, v6 ? "]" : "",
                    u.addrs[i].port);
    }
    if (u.master) {
        sbuf_append_char(&b, '/');
        append_escaped(&b, u.master);
    }
    if (u.kind != REDIS_URL_CLUSTER) sbuf_printf(&b, "/%d", u.db);
    redis_url_t again;
    if (redis_url_parse(b.data, &again, NULL, 0) != 0) abort();
    if (!same_url(&u, &again)) abort();
    /* a user with an empty password still sends AUTH user "" */
    if (!same(u.password, again.password) && !(u.password && !u.password[0] && !again.password))
        abort();
    redis_url_free(&again);
    sbuf_free(&b);

    redis_url_t copy;
    redis_url_copy(&copy, &u);
    if (!same_url(&copy, &u) || !same(copy.password, u.password)) abort();
    redis_url_free(&copy);
    redis_url_free(&u);
    if (!empty(&u)) abort();
    redis_url_free(&u); /* freeing twice is fine */
    free(url);
    return 0;
}
