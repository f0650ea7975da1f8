/* libFuzzer driver: proto/client_addr.c on three lines of input: a list of trusted addresses
 * and CIDRs, an X-Forwarded-For value, and a peer address. Addresses print and parse back to
 * themselves, lists print and parse back to the same networks, matching follows the prefix
 * bits, and the client picked from X-Forwarded-For is the one the right-to-left walk names. */
#include "client_addr.h"
#include "sbuf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int same_addr(const client_addr_t *a, const client_addr_t *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* Do a and net agree on the first bits bits? */
static int in_net(const client_addr_t *a, const client_cidr_t *c)
{
    for (unsigned i = 0; i < c->bits; i++) {
        unsigned byte = i / 8, bit = 7 - i % 8;
        if (((a->b[byte] >> bit) & 1) != ((c->net.b[byte] >> bit) & 1)) return 0;
    }
    return 1;
}

static int ref_match(const client_cidrs_t *l, const client_addr_t *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (in_net(a, &l->v[i])) return 1;
    return 0;
}

static void check_addr(const client_addr_t *a)
{
    char text[CLIENT_ADDR_TEXT];
    client_addr_format(a, text, sizeof text);
    client_addr_t back;
    if (!text[0] || client_addr_parse(text, strlen(text), &back) != 0 || !same_addr(a, &back))
        abort();
    if (client_addr_is_v4(a) != (strchr(text, ':') == NULL)) abort();
    /* too small a buffer gives "", never a cut address */
    char small[8];
    client_addr_format(a, small, sizeof small);
    if (small[0] && strcmp(small, text) != 0) abort();

    client_addr_t key;
    client_addr_limit_key(a, &key);
    if (client_addr_is_v4(a) ? !same_addr(&key, a)
                             : memcmp(key.b, a->b, 8) || memcmp(key.b + 8, "\0\0\0\0\0\0\0\0", 8))
        abort();

    /* the same address from a socket */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (client_addr_is_v4(a)) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->b + 12, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a->b, 16);
    }
    if (client_addr_from_sockaddr((struct sockaddr *)&ss, &back) != 0 || !same_addr(&back, a))
        abort();
}

/* The element of xff[0..len) picked by the rule, written out: -1 when the walk meets one that
 * is not an address. */
static int ref_xff(const client_cidrs_t *t, const char *xff, size_t len, client_addr_t *out)
{
    size_t end = len;
    for (;;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',') start--;
        size_t p = start, q = end;
        while (p < q && (xff[p] == ' ' || xff[p] == '\t')) p++;
        while (q > p && (xff[q - 1] == ' ' || xff[q - 1] == '\t')) q--;
        client_addr_t a;
        if (client_addr_parse(xff + p, q - p, &a) != 0) return -1;
        if (!ref_match(t, &a) || start == 0) {
            *out = a;
            return 0;
        }
        end = start - 1;
    }
}

/* The next line of data (up to '\n' or the end); advances *pos past it. */
static const char *line(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
    const char *s = (const char *)data + *pos;
    const char *nl = memchr(s, '\n', size - *pos);
    *len = nl ? (size_t)(nl - s) : size - *pos;
    *pos += *len + (nl ? 1 : 0);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, llen, xlen, plen;
    const char *list = line(data, size, &pos, &llen);
    const char *xff = line(data, size, &pos, &xlen);
    const char *peer_text = line(data, size, &pos, &plen);

    char *ltext = malloc(llen + 1);
    memcpy(ltext, list, llen);
    ltext[llen] = '\0';
    client_cidrs_t l;
    char err[128] = "";
    int rc = client_cidrs_parse(ltext, &l, err, sizeof err);
    if (rc != 0) {
        if (rc != -1 || l.v || l.n || !err[0]) abort();
    } else {
        /* every network is masked, matches its own address, and prints back to itself */
        sbuf_t b = SBUF_INIT;
        for (size_t i = 0; i < l.n; i++) {
            client_cidr_t *c = &l.v[i];
            if (c->bits > 128 || !client_cidrs_match(&l, &c->net)) abort();
            for (unsigned k = c->bits; k < 128; k++)
                if ((c->net.b[k / 8] >> (7 - k % 8)) & 1) abort();
            char text[CLIENT_ADDR_TEXT];
            client_addr_format(&c->net, text, sizeof text);
            int v4 = client_addr_is_v4(&c->net);
            if (v4 && c->bits < 96) abort();
            sbuf_printf(&b, "%s %s/%u", i ? "," : "", text, v4 ? c->bits - 96u : c->bits);
        }
        client_cidrs_t again;
        if (client_cidrs_parse(b.data ? b.data : "", &again, err, sizeof err) != 0 ||
            again.n != l.n)
            abort();
        for (size_t i = 0; i < l.n; i++)
            if (!same_addr(&again.v[i].net, &l.v[i].net) || again.v[i].bits != l.v[i].bits) abort();
        client_cidrs_free(&again);
        sbuf_free(&b);
    }

    /* the peer: any address parsed from the third line, or :: */
    client_addr_t peer;
    memset(&peer, 0, sizeof peer);
    if (client_addr_parse(peer_text, plen, &peer) == 0) {
        if (memchr(peer_text, '\0', plen)) abort(); /* an address is the whole text */
        check_addr(&peer);
        if (memchr(peer_text, ':', plen) == NULL && !client_addr_is_v4(&peer)) abort();
        if (peer_text[0] == '[' && !memchr(peer_text, ':', plen)) abort();
    }
    if (client_cidrs_match(&l, &peer) != ref_match(&l, &peer)) abort();

    /* X-Forwarded-For, exact-size so a read before or past it is seen */
    char *x = malloc(xlen ? xlen : 1);
    memcpy(x, xff, xlen);
    client_addr_t got, want;
    memset(&got, 0xaa, sizeof got);
    int xr = client_addr_from_xff(&l, x, xlen, &got), wr = ref_xff(&l, x, xlen, &want);
    if (xr != wr || (xr == 0 && !same_addr(&got, &want))) abort();
    if (xr == 0) check_addr(&got);

    client_addr_t out;
    client_addr_resolve(&l, &peer, x, xlen, &out);
    int through = l.n && client_cidrs_match(&l, &peer) && xr == 0;
    if (!same_addr(&out, through ? &got : &peer)) abort();
    client_addr_resolve(&l, &peer, NULL, 0, &out);
    if (!same_addr(&out, &peer)) abort();

    client_cidrs_free(&l);
    free(x);
    free(ltext);
    return 0;
}
