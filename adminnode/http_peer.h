/* Client addresses as keys, for counting the connections of each address, and lists of
 * addresses (those the per-address limit does not apply to). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, how a dual-stack socket sees an IPv4 client) is its IPv4 address. Pure. */
#ifndef CC_HTTP_PEER_H
#define CC_HTTP_PEER_H

#include <stddef.h>
#include <sys/socket.h>

#define HTTP_PEER_KEY 17 /* a family byte, then 4 or 16 address bytes */

/* Writes the key of sa into key. Returns its length (5 or 17), or 0 when sa is not an IPv4
 * or IPv6 address (or is NULL). */
size_t http_peer_key(const struct sockaddr *sa, unsigned char key[HTTP_PEER_KEY]);

typedef struct {
    unsigned char (*keys)[HTTP_PEER_KEY]; /* owned */
    size_t *lens;                         /* owned */
    size_t n;
} http_peer_list_t;

/* Parses a comma-separated list of IPv4 and IPv6 literals (spaces around them ignored; empty
 * text: an empty list) into l. Returns 0, or -1 with the reason in err (l then empty). */
int http_peer_list_parse(http_peer_list_t *l, const char *text, char *err, size_t errlen);
/* 1 when key[0..len) is in l. */
int http_peer_list_has(const http_peer_list_t *l, const unsigned char *key, size_t len);
void http_peer_list_free(http_peer_list_t *l);

#endif
