/* HTTP/1.1 response heads, as much as a polling client and a WebSocket handshake need:
 * status, Content-Length, chunked or not, Connection: close, Upgrade and
 * Sec-WebSocket-Accept. Pure: no I/O, no allocation. */
#ifndef LG_HTTP_REPLY_H
#define LG_HTTP_REPLY_H

#include <stddef.h>

#define HTTP_MAX_HEAD 16384 /* a longer head is HTTP_ETOOBIG */

/* Error codes (negative); http_reply_strerror() names them. */
enum {
    HTTP_EPROTO = -1,  /* not an HTTP/1.x status line, or a malformed header */
    HTTP_ETOOBIG = -2, /* no end of head within HTTP_MAX_HEAD bytes */
};

typedef struct {
    int status;               /* 100..999 */
    int minor;                /* HTTP/1.<minor> */
    long long content_length; /* -1 when absent */
    int chunked;              /* Transfer-Encoding: chunked */
    int close;                /* the server closes after this response (Connection: close, or
                                 HTTP/1.0 without keep-alive) */
    int upgrade_websocket;    /* Upgrade: websocket */
    const char *accept;       /* Sec-WebSocket-Accept value, borrowed; NULL when absent */
    size_t accept_len;
} http_reply_t;

const char *http_reply_strerror(int err);

/* Parses the response head at buf[0..len). Returns the head's length (through the blank line)
 * with *out filled, 0 when more bytes are needed, or a negative HTTP_E* code. */
long http_reply_parse(const char *buf, size_t len, http_reply_t *out);

#endif
