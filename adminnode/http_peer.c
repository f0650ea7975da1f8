/* Client address keys and address lists (see http_peer.h). */
#include "http_peer.h"
#include "alloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

size_t http_peer_key(const struct sockaddr *sa, unsigned char key[HTTP_PEER_KEY])
{
    if (!sa) return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[0] = 4;
        memcpy(key + 1, &in->sin_addr, 4);
        return 5;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const unsigned char *a = in6->sin6_addr.s6_addr;
        if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0) {
            key[0] = 4;
            memcpy(key + 1, a + 12, 4);
            return 5;
        }
        key[0] = 6;
        memcpy(key + 1, a, 16);
        return 17;
    }
    return 0;
}

int http_peer_list_parse(http_peer_list_t *l, const char *text, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    for (const char *p = text; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        p = comma ? comma + 1 : NULL;
        while (n && (*s == ' ' || *s == '\t')) s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n == 0) continue;
        char lit[INET6_ADDRSTRLEN + 1];
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        int ok = n < sizeof lit;
        if (ok) {
            memcpy(lit, s, n);
            lit[n] = '\0';
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            if (inet_pton(AF_INET, lit, &in->sin_addr) == 1)
                ss.ss_family = AF_INET;
            else if (inet_pton(AF_INET6, lit, &in6->sin6_addr) == 1)
                ss.ss_family = AF_INET6;
            else
                ok = 0;
        }
        if (!ok) {
            snprintf(err, errlen, "\"%.*s\" is not an IPv4 or IPv6 address", (int)(n < 64 ? n : 64),
                     s);
            http_peer_list_free(l);
            return -1;
        }
        l->keys = xrealloc(l->keys, (l->n + 1) * sizeof *l->keys);
        l->lens = xrealloc(l->lens, (l->n + 1) * sizeof *l->lens);
        l->lens[l->n] = http_peer_key((struct sockaddr *)&ss, l->keys[l->n]);
        l->n++;
    }
    return 0;
}

int http_peer_list_has(const http_peer_list_t *l, const unsigned char *key, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->lens[i] == len && memcmp(l->keys[i], key, len) == 0) return 1;
    return 0;
}

void http_peer_list_free(http_peer_list_t *l)
{
    free(l->keys);
    free(l->lens);
    memset(l, 0, sizeof *l);
}
