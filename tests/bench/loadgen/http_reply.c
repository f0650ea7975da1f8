/* HTTP/1.1 response head parser (see http_reply.h). */
#include "http_reply.h"

#include <string.h>
#include <strings.h>

const char *http_reply_strerror(int err)
{
    switch (err) {
    case HTTP_EPROTO: return "malformed HTTP response";
    case HTTP_ETOOBIG: return "HTTP response head too large";
    default: return "unknown error";
    }
}

/* Does the comma-separated list v[0..n) hold token (case-insensitive)? */
static int has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0) return 1;
    }
    return 0;
}

/* A field name is a token (RFC 7230 section 3.2.6); so no whitespace before the colon. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

long http_reply_parse(const char *buf, size_t len, http_reply_t *out)
{
    /* Find the end of the head first: nothing is parsed until it is all here. */
    size_t scan = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    const char *end = NULL;
    for (size_t i = 3; i < scan; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = buf + i + 1;
            break;
        }
    if (!end) return len >= HTTP_MAX_HEAD ? HTTP_ETOOBIG : 0;

    memset(out, 0, sizeof *out);
    out->content_length = -1;
    /* Status line: HTTP/1.x SP ddd [SP reason] CRLF */
    if (end - buf < 14 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' ||
        buf[8] != ' ')
        return HTTP_EPROTO;
    out->minor = buf[7] - '0';
    for (int i = 9; i < 12; i++)
        if (buf[i] < '0' || buf[i] > '9') return HTTP_EPROTO;
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (out->status < 100 || (buf[12] != ' ' && buf[12] != '\r')) return HTTP_EPROTO;
    /* CRLF ends the status line, and the reason phrase holds no CR or LF. */
    const char *line_end = memchr(buf, '\n', (size_t)(end - buf));
    if (line_end[-1] != '\r' || memchr(buf, '\r', (size_t)(line_end - 1 - buf))) return HTTP_EPROTO;
    const char *p = line_end + 1;
    int keep_alive = 0;

    while (p < end - 2) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol == p || eol[-1] != '\r') return HTTP_EPROTO;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) return HTTP_EPROTO;
        size_t nlen = (size_t)(colon - p);
        for (size_t i = 0; i < nlen; i++)
            if (!is_tchar((unsigned char)p[i])) return HTTP_EPROTO;
        const char *v = colon + 1, *ve = eol - 1;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t vlen = (size_t)(ve - v);
        if (name_is(p, nlen, "content-length")) {
            long long cl = 0;
            if (vlen == 0 || vlen > 15) return HTTP_EPROTO;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') return HTTP_EPROTO;
                cl = cl * 10 + (v[i] - '0');
            }
            if (out->content_length >= 0 && out->content_length != cl) return HTTP_EPROTO;
            out->content_length = cl;
        } else if (name_is(p, nlen, "transfer-encoding")) {
            if (has_token(v, vlen, "chunked")) out->chunked = 1;
        } else if (name_is(p, nlen, "connection")) {
            if (has_token(v, vlen, "close")) out->close = 1;
            if (has_token(v, vlen, "keep-alive")) keep_alive = 1;
        } else if (name_is(p, nlen, "upgrade")) {
            if (has_token(v, vlen, "websocket")) out->upgrade_websocket = 1;
        } else if (name_is(p, nlen, "sec-websocket-accept")) {
            out->accept = v;
            out->accept_len = vlen;
        }
        p = eol + 1;
    }
    if (out->minor == 0 && !keep_alive) out->close = 1;
    return (long)(end - buf);
}
