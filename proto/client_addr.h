/* Client addresses, for both nodes: parsing and printing IPv4/IPv6 addresses (an IPv4 one is
 * held IPv4-mapped, so a dual-stack socket's ::ffff:a.b.c.d is a.b.c.d), lists of addresses
 * and CIDRs (trusted proxies, addresses exempt from a limit), and finding the client behind a
 * trusted proxy from its X-Forwarded-For header. Pure: no I/O, no globals. */
#ifndef CC_CLIENT_ADDR_H
#define CC_CLIENT_ADDR_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* An address in IPv6 form; an IPv4 address is held as ::ffff:a.b.c.d. */
typedef struct {
    uint8_t b[16];
} client_addr_t;

/* A network: the address and how many of its leading bits count (0..128, IPv6 bits: an IPv4
 * /24 is 120). */
typedef struct {
    client_addr_t net;
    uint8_t bits;
} client_cidr_t;

typedef struct {
    client_cidr_t *v; /* owned */
    size_t n;
} client_cidrs_t;

/* Longest text client_addr_format() writes, with its NUL. */
#define CLIENT_ADDR_TEXT 48

/* Parses one address: dotted IPv4, or IPv6 text, optionally in brackets. No port, no zone,
 * no surrounding spaces. Returns 0, or -1 (out untouched) when s[0..len) is not one. */
int client_addr_parse(const char *s, size_t len, client_addr_t *out);
/* Takes the address of an AF_INET or AF_INET6 socket address. Returns 0, or -1 (out is then
 * all zeroes, "::") for any other family. */
int client_addr_from_sockaddr(const struct sockaddr *sa, client_addr_t *out);
/* Writes a as text into buf (IPv4 dotted, IPv6 compressed); returns buf ("" when len is too
 * small for it). */
const char *client_addr_format(const client_addr_t *a, char *buf, size_t len);
/* Is a an IPv4 address? */
int client_addr_is_v4(const client_addr_t *a);
/* The key under which a is limited: the address itself for IPv4, its /64 for IPv6 (one host
 * usually holds a whole /64). */
void client_addr_limit_key(const client_addr_t *a, client_addr_t *key);

/* Parses a comma-separated list of addresses and CIDRs ("10.0.0.0/8, ::1, fd00::/8"; spaces
 * around items and empty items are ignored; host bits below the prefix are cleared). Returns 0
 * with *out owning the list (free with client_cidrs_free), or -1 with a message in err and
 * *out empty. */
int client_cidrs_parse(const char *text, client_cidrs_t *out, char *err, size_t errlen);
void client_cidrs_free(client_cidrs_t *l);
/* Is a inside one of the networks of l? */
int client_cidrs_match(const client_cidrs_t *l, const client_addr_t *a);

/* Picks the client from an X-Forwarded-For value (comma-separated, several headers already
 * joined with commas): walking from the right, the first address that is not in trusted; the
 * left-most one when all are trusted. Returns 0 with *out set, or -1 (out untouched) when the
 * value is empty or the walk meets an element that is not an address. Elements left of the
 * one picked are the client's own claims and are not looked at. */
int client_addr_from_xff(const client_cidrs_t *trusted, const char *xff, size_t len,
                         client_addr_t *out);

/* The client address of a request from peer with X-Forwarded-For xff (NULL when absent):
 * peer, unless peer is in trusted and xff names a client (client_addr_from_xff). */
void client_addr_resolve(const client_cidrs_t *trusted, const client_addr_t *peer, const char *xff,
                         size_t xff_len, client_addr_t *out);

#endif
