/* Engine.IO v4 sessions over HTTP long-polling and WebSocket (see eio_session.h).
 * Behaviour follows the Engine.IO v4 spec and its reference server: a pending GET is answered
 * "1" when the server closes the session and "6" when the client closes it or upgrades;
 * overlapping GETs or POSTs close the session; a client ping is an error (v4 pings go from
 * server to client).
 *
 * A v3 session (--allow-eio3) differs in four places: its polling payloads (eio3_payload.h),
 * its binary WebSocket frames (a type byte first), its heartbeat (the client pings, the server
 * answers, and a client silent for pingInterval + pingTimeout is gone) and its handshake query,
 * which it keeps for the layer above (old clients have no auth payload). */
#include "eio_session.h"
#include "alloc.h"
#include "base64.h"
#include "eio3_payload.h"
#include "log.h"
#include "sid.h"
#include "strmap.h"
#include "url_query.h"
#include "ws_header.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct eio_server {
    uv_loop_t *loop;
    const chatnode_config_t *cfg;
    eio_handler_t handler;
    mem_budget_t *mem;    /* borrowed */
    addr_limit_t *limits; /* borrowed */
    char tag[32];         /* session ids start with it */
    strmap_t sessions;    /* sid -> eio_session_t */
    deadline_queue_t ping_q, pong_q, upgrade_q, close_q, kill_q;
    uint64_t started_ms;       /* loop time at start */
    uint64_t started_epoch_ms; /* wall clock at start */
    uint64_t sessions_opened;
    uint64_t refused[EIO_REFUSE_COUNT]; /* requests and upgrades refused, by reason */
    uint64_t bytes_in, bytes_out;       /* Engine.IO payload bytes, all transports */
    uint64_t ws_frames_out, ws_writes;  /* WebSocket frames sent, and the writes that sent them */
    int draining;                       /* refusing new sessions */
    int closed;                         /* eio_server_close ran */
    char **keep;                        /* handshake headers kept (lowercased, with a ':') */
    int *keep_tok;                      /* their lws token, or -1 for a custom header */
    size_t nkeep;
    /* WebSocket sessions with frames queued during this loop turn, written at its end, each
     * with one write for all of its frames (on_batch): a client sent several messages in one
     * turn (a burst of broadcasts, an event with attachments) costs one system call, not one
     * each. Each holds its session. */
    eio_session_t **batch;
    size_t nbatch, batch_cap;
    uv_check_t batch_check;     /* after the turn's I/O callbacks */
    uv_prepare_t batch_prepare; /* before the loop blocks: what timers queued */
    uint8_t *batch_buf;         /* LWS_PRE + BATCH_BYTES: the frames of one write */
    /* After a broadcast to many clients, the batch waits while the client that sent this
     * turn's input has more in its socket: libwebsockets reads a socket a small buffer at a
     * time, one read per loop turn, so a sender's burst would otherwise reach each client as
     * one write per message. At most CORK_TURNS turns in a row; the idle handle keeps the loop
     * from blocking. */
    uv_idle_t cork_idle;
    size_t fanout;      /* the most clients one packet of the batch went to */
    int rx_fd;          /* the socket the turn's last WebSocket input came from, or -1 */
    uint8_t cork_turns; /* turns the batch has waited */
};

/* At most this many bytes of frames (headers included) go in one batched write. */
#define BATCH_BYTES 65536
/* After a packet to at least CORK_MIN clients, the batch waits for a sender with more input,
 * at most CORK_TURNS loop turns in a row. (Pings due together make a big batch too, but of
 * one frame per client that nothing more would join.) */
#define CORK_MIN   1024
#define CORK_TURNS 32

typedef enum { S_OPEN = 0, S_CLOSING, S_CLOSED } state_t;
typedef enum { UP_NONE = 0, UP_PROBING, UP_PROBED } upgrade_t;

struct eio_session {
    eio_server_t *es;
    uint8_t transport;       /* eio_transport_t */
    uint8_t state;           /* state_t */
    uint8_t upgrade;         /* upgrade_t */
    uint8_t busy;            /* > 0 while a call into the session is on the stack */
    uint8_t qcap_log2;       /* the ring holds 1 << qcap_log2 frames (when q is not NULL) */
    uint8_t probe_reply : 1; /* "3probe" is to be written on the probe WebSocket */
    uint8_t doomed : 1;      /* dropped (queue overflow, memory budget): ends next loop turn */
    uint8_t ping_out : 1;    /* a ping was sent and its pong has not come yet */
    uint8_t evicted : 1;     /* doomed by the memory budget rather than by its own queue */
    uint8_t batched : 1;     /* in the server's batch: its queue is written at the turn's end */
    uint8_t v3 : 1;          /* Engine.IO v3: its binary frames carry their type byte first */
    uint8_t b64 : 1;         /* v3 polling: binary goes as base64 text, never XHR2 framing */
    /* The WebSocket took the queue's first `handed` frames, the last of them at least in part:
     * lws holds the rest, and they stay queued (and counted) until lws has written it all. */
    uint16_t handed;
    struct lws *get;   /* pending long-poll GET */
    struct lws *post;  /* POST being read */
    struct lws *ws;    /* the WebSocket transport */
    struct lws *probe; /* a WebSocket that is upgrading this polling session */
    frame_t **q;       /* outgoing ring buffer */
    uint32_t qhead, qlen;
    uint32_t qbytes;    /* what the queue costs (frame_cost), bounded by --max-queue */
    uint32_t opened_s;  /* when the handshake was made: seconds since the server started */
    client_addr_t addr; /* the client's address (from the transport) */
    deadline_node_t hb; /* heartbeat: in ping_q (next ping) or pong_q (waiting for a pong) */
    struct aux *aux;    /* owned: in upgrade_q while probing, close_q while closing; else NULL */
    void *upper;
    sbuf_t *rx; /* owned: a fragmented WebSocket message being reassembled, or NULL */
    /* "<tag>.<random>", then the kept handshake headers as JSON ("" when none are kept), then
     * for a v3 session its handshake query as JSON, in the same allocation */
    char sid[];
};

static frame_t *f_ping, *f_pong, *f_close, *f_noop, *f_pong_probe;

/* A session's second deadline, needed only while it upgrades or closes (rare and short), so
 * it is allocated then and an idle session does not carry it. */
typedef struct aux {
    deadline_node_t node; /* first: a queue entry is its aux */
    eio_session_t *s;
} aux_t;

/* Puts s in q (upgrade_q or close_q), replacing any deadline it had there. */
static void aux_start(eio_session_t *s, deadline_queue_t *q)
{
    if (!s->aux) {
        s->aux = xcalloc(1, sizeof *s->aux);
        s->aux->s = s;
    }
    deadline_queue_add(q, &s->aux->node);
}

/* Ends s's upgrade or close deadline, if any. */
static void aux_stop(eio_session_t *s)
{
    if (!s->aux) return;
    deadline_queue_remove(NULL, &s->aux->node);
    free(s->aux);
    s->aux = NULL;
}

const char *eio_error_message(int code)
{
    switch (code) {
    case EIO_ERR_TRANSPORT_UNKNOWN: return "Transport unknown";
    case EIO_ERR_UNKNOWN_SID: return "Session ID unknown";
    case EIO_ERR_BAD_HANDSHAKE_METHOD: return "Bad handshake method";
    case EIO_ERR_BAD_REQUEST: return "Bad request";
    case EIO_ERR_FORBIDDEN: return "Forbidden";
    case EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION: return "Unsupported protocol version";
    }
    return "Bad request";
}

const char *eio_session_id(const eio_session_t *s)
{
    return s->sid;
}

uint64_t eio_session_issued_ms(const eio_session_t *s)
{
    return s->es->started_epoch_ms + (uint64_t)s->opened_s * 1000;
}

const char *eio_session_address(const eio_session_t *s, char *buf, size_t len)
{
    return client_addr_format(&s->addr, buf, len);
}

eio_transport_t eio_session_transport(const eio_session_t *s)
{
    return (eio_transport_t)s->transport;
}

int eio_session_protocol(const eio_session_t *s)
{
    return s->v3 ? 3 : 4;
}

/* An HTTP connection's state, and a WebSocket's session, are its lws opaque user data. */
static conn_t *conn_of(struct lws *wsi)
{
    return wsi ? lws_get_opaque_user_data(wsi) : NULL;
}

static eio_session_t *ws_session(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

/* ---- outgoing queue ---- */

static uint32_t cost32(const frame_t *f)
{
    size_t c = frame_cost(f);
    return c < UINT32_MAX ? (uint32_t)c : UINT32_MAX;
}

static void q_push(eio_session_t *s, frame_t *f)
{
    uint32_t qcap = s->q ? 1u << s->qcap_log2 : 0;
    if (s->qlen == qcap) {
        uint32_t cap = qcap ? qcap * 2 : 4;
        frame_t **nq = xmalloc(cap * sizeof *nq);
        for (uint32_t i = 0; i < s->qlen; i++) nq[i] = s->q[(s->qhead + i) & (qcap - 1)];
        free(s->q);
        s->q = nq;
        s->qhead = 0;
        s->qcap_log2 = (uint8_t)__builtin_ctz(cap);
        qcap = cap;
    }
    s->q[(s->qhead + s->qlen) & (qcap - 1)] = frame_ref(f);
    s->qlen++;
    uint32_t c = cost32(f);
    s->qbytes = s->qbytes > UINT32_MAX - c ? UINT32_MAX : s->qbytes + c;
    mem_budget_add(s->es->mem, c);
}

static frame_t *q_peek(const eio_session_t *s)
{
    return s->qlen ? s->q[s->qhead] : NULL;
}

static frame_t *q_pop(eio_session_t *s)
{
    if (!s->qlen) return NULL;
    frame_t *f = s->q[s->qhead];
    s->qhead = (s->qhead + 1) & ((1u << s->qcap_log2) - 1);
    uint32_t c = cost32(f);
    s->qbytes = s->qbytes > c ? s->qbytes - c : 0;
    mem_budget_sub(s->es->mem, c);
    if (s->handed) s->handed--;
    if (--s->qlen == 0) {
        /* An idle session keeps no queue memory. */
        free(s->q);
        s->q = NULL;
        s->qhead = 0;
        s->qcap_log2 = 0;
    }
    return f;
}

static void q_clear(eio_session_t *s)
{
    frame_t *f;
    while ((f = q_pop(s))) frame_unref(f);
}

/* ---- lifetime ---- */

/* Takes the message being reassembled from the session (counted no more); NULL if none. */
static sbuf_t *rx_take(eio_session_t *s)
{
    sbuf_t *b = s->rx;
    s->rx = NULL;
    if (b) mem_budget_sub(s->es->mem, b->cap);
    return b;
}

static void rx_drop(eio_session_t *s)
{
    sbuf_t *b = rx_take(s);
    if (!b) return;
    sbuf_free(b);
    free(b);
}

static void rx_append(eio_session_t *s, const void *data, size_t len)
{
    if (!s->rx) s->rx = xcalloc(1, sizeof *s->rx);
    size_t before = s->rx->cap;
    sbuf_append(s->rx, data, len);
    if (s->rx->cap > before) mem_budget_add(s->es->mem, s->rx->cap - before);
}

static void session_free(eio_session_t *s)
{
    aux_stop(s);
    q_clear(s);
    rx_drop(s);
    free(s);
}

static void hold(eio_session_t *s)
{
    s->busy++;
}

/* Returns 1 if the session is still usable after the call that held it. */
static int release(eio_session_t *s)
{
    if (--s->busy == 0 && s->state == S_CLOSED) {
        session_free(s);
        return 0;
    }
    return s->state != S_CLOSED;
}

/* Unbinds a WebSocket from its session; a detached WebSocket closes when next writable, or
 * at once when killed (a dropped client: what lws still holds for it goes too). */
static void detach_ws(struct lws *wsi, int close_it, int kill)
{
    if (!wsi) return;
    lws_set_opaque_user_data(wsi, NULL);
    if (kill)
        conn_kill_wsi(wsi);
    else if (close_it)
        lws_callback_on_writable(wsi);
}

/* A v3 binary frame as a packet: its type byte first (see v3_frame), then the data. */
static eio_packet_t v3_packet(frame_t *f)
{
    eio_packet_t p = frame_packet(f);
    if (p.binary && p.len) {
        p.type = (eio_type_t)p.data[0];
        p.data++;
        p.len--;
    }
    return p;
}

/* A v3 session's queue and last packet as a polling payload in out: binary framing when the
 * client reads binary (no b64) and a packet is binary, else text. Returns its Content-Type
 * (NULL: text). */
static const char *v3_payload(eio_session_t *s, frame_t *last, sbuf_t *out)
{
    int binary = 0;
    uint32_t mask = s->q ? (1u << s->qcap_log2) - 1 : 0;
    for (uint32_t i = 0; !s->b64 && i < s->qlen && !binary; i++)
        binary = s->q[(s->qhead + i) & mask]->binary;
    frame_t *f;
    while ((f = q_pop(s))) {
        eio_packet_t p = v3_packet(f);
        binary ? eio3_payload_append_binary(out, &p) : eio3_payload_append(out, &p);
        frame_unref(f);
    }
    if (last) {
        eio_packet_t p = v3_packet(last);
        binary ? eio3_payload_append_binary(out, &p) : eio3_payload_append(out, &p);
    }
    return binary ? "application/octet-stream" : NULL;
}

/* Answers a pending GET with the queued packets (all of them) and, if given, a last one. */
static void answer_get(eio_session_t *s, frame_t *last)
{
    struct lws *wsi = s->get;
    conn_t *c = conn_of(wsi);
    s->get = NULL;
    if (!c) return;
    sbuf_t payload = SBUF_INIT;
    const char *ctype = NULL;
    if (s->v3) {
        ctype = v3_payload(s, last, &payload);
    } else {
        frame_t *f;
        while ((f = q_pop(s))) {
            eio_packet_t p = frame_packet(f);
            eio_payload_append(&payload, &p);
            frame_unref(f);
        }
        if (last) {
            eio_packet_t p = frame_packet(last);
            eio_payload_append(&payload, &p);
        }
    }
    c->session = NULL;
    s->es->bytes_out += payload.len;
    conn_reply(wsi, c, 200, ctype, payload.data, payload.len);
    sbuf_free(&payload);
}

/* Tears the session down at once. get_answer is what a pending GET receives (f_close when the
 * server ends the session, f_noop when the client did). */
static void destroy(eio_session_t *s, const char *reason, frame_t *get_answer)
{
    if (s->state == S_CLOSED) return;
    eio_server_t *es = s->es;
    int was_open = s->state == S_OPEN;
    s->state = S_CLOSED;
    strmap_del(&es->sessions, s->sid, strlen(s->sid));
    deadline_queue_remove(&es->ping_q, &s->hb);
    deadline_queue_remove(&es->pong_q, &s->hb);
    aux_stop(s);
    deadline_queue_remove(&es->kill_q, &s->hb);
    s->ping_out = 0;
    addr_limit_closed(es->limits, &s->addr, uv_now(es->loop));
    log_debug("session closed", "sid=%s reason=\"%s\"", s->sid, reason);
    if (was_open && s->upper && es->handler.close) es->handler.close(s->upper, reason);
    s->upper = NULL;
    if (s->get) {
        q_clear(s);
        answer_get(s, get_answer);
    }
    if (s->post) {
        /* a POST still being read is answered now: the session it was for is gone (the rest of
         * its body is discarded as it comes) */
        conn_t *c = conn_of(s->post);
        if (c) {
            c->session = NULL;
            conn_drop_body(c);
            eio_reply_error(s->es, s->post, c, EIO_ERR_UNKNOWN_SID);
        }
        s->post = NULL;
    }
    detach_ws(s->ws, 1, s->doomed);
    detach_ws(s->probe, 1, s->doomed);
    s->ws = s->probe = NULL;
    if (s->busy == 0) session_free(s);
}

/* ---- sending ---- */

static void flush(eio_session_t *s)
{
    if (s->transport == EIO_TR_WEBSOCKET) {
        if (s->ws && s->qlen) lws_callback_on_writable(s->ws);
        return;
    }
    if (s->get && s->qlen && s->upgrade != UP_PROBED) answer_get(s, NULL);
}

/* A client that does not read what it is sent must not make the server's memory grow without
 * bound: past --max-queue bytes its session is dropped. Not at once, since the caller may be
 * walking a room that the session's sockets are in: on the next loop turn. */
static void doom(eio_session_t *s)
{
    eio_server_t *es = s->es;
    log_info("session dropped", "sid=%s reason=\"send queue over %lld bytes\"", s->sid,
             es->cfg->max_queue);
    s->doomed = 1;
    q_clear(s);
    deadline_queue_remove(&es->ping_q, &s->hb);
    deadline_queue_remove(&es->pong_q, &s->hb);
    deadline_queue_add(&es->kill_q, &s->hb);
}

size_t eio_session_held(const eio_session_t *s)
{
    if (s->state == S_CLOSED || s->doomed) return 0;
    size_t n = s->qbytes;
    if (s->rx) n += s->rx->cap;
    conn_t *c = conn_of(s->post);
    if (c && c->session == s && c->body) n += c->body->cap;
    if (s->upper && s->es->handler.held) n += s->es->handler.held(s->upper);
    return n;
}

void eio_drop(eio_session_t *s, const char *reason)
{
    if (s->state == S_CLOSED || s->doomed) return;
    eio_server_t *es = s->es;
    log_info("session dropped", "sid=%s reason=\"%s\" held=%zu", s->sid, reason,
             eio_session_held(s));
    s->doomed = 1;
    s->evicted = 1;
    /* what can go at once goes now; the rest (what the layer above holds, what lws holds for
     * its connections) with the session on the next loop turn */
    q_clear(s);
    rx_drop(s);
    conn_t *c = conn_of(s->post);
    if (c && c->session == s) conn_drop_body(c);
    deadline_queue_remove(&es->ping_q, &s->hb);
    deadline_queue_remove(&es->pong_q, &s->hb);
    deadline_queue_add(&es->kill_q, &s->hb);
}

int eio_ready(const eio_session_t *s)
{
    /* frames of this loop turn, still to be written at its end, are not a backlog */
    if (s->state != S_OPEN || s->doomed || (s->qlen && !s->batched)) return 0;
    return s->transport == EIO_TR_WEBSOCKET ? s->ws != NULL : s->get != NULL;
}

/* Writes one frame on a session's WebSocket (lws frames it in the frame's headroom). */
static int ws_write(eio_session_t *s, struct lws *wsi, frame_t *f)
{
    s->es->bytes_out += f->len;
    s->es->ws_frames_out++;
    s->es->ws_writes++;
    return lws_write(wsi, frame_body(f), f->len, f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0
               ? -1
               : 0;
}

/* Writes the queue on the session's WebSocket while the socket takes it: a lone frame as it
 * is, several as one write of whole frames (each with its header) of up to BATCH_BYTES. Frames
 * handed to lws stay queued until lws has written them all: at once, or in its writable
 * callback, which it asks for itself when it keeps a part. Returns -1 when a write failed. */
static int ws_drain(eio_session_t *s, struct lws *wsi)
{
    eio_server_t *es = s->es;
    while (s->qlen && !s->handed && !lws_partial_buffered(wsi)) {
        frame_t *head = q_peek(s);
        if (s->qlen == 1 || WS_HEADER_MAX + head->len > BATCH_BYTES) {
            if (ws_write(s, wsi, head) < 0) return -1;
            s->handed = 1;
        } else {
            uint8_t *out = es->batch_buf + LWS_PRE;
            uint32_t mask = (1u << s->qcap_log2) - 1, n = 0;
            size_t len = 0;
            for (; n < s->qlen && n < UINT16_MAX; n++) {
                frame_t *f = s->q[(s->qhead + n) & mask];
                if (len + WS_HEADER_MAX + f->len > BATCH_BYTES) break;
                len += ws_server_header(out + len, f->binary ? WS_OPCODE_BINARY : WS_OPCODE_TEXT,
                                        f->len);
                memcpy(out + len, frame_body(f), f->len);
                len += f->len;
                es->bytes_out += f->len;
            }
            /* LWS_WRITE_RAW: the bytes are whole frames already, sent as they are */
            es->ws_frames_out += n;
            es->ws_writes++;
            if (lws_write(wsi, out, len, LWS_WRITE_RAW) < 0) return -1;
            s->handed = (uint16_t)n;
        }
        if (lws_partial_buffered(wsi)) return 0;
        while (s->handed) frame_unref(q_pop(s));
    }
    return 0;
}

static void on_batch(eio_server_t *es)
{
    /* a write that fails closes its connection, which may queue frames for others: they join
     * this walk */
    for (size_t i = 0; i < es->nbatch; i++) {
        eio_session_t *s = es->batch[i];
        s->batched = 0;
        if (s->state != S_CLOSED && !s->doomed && s->ws && ws_drain(s, s->ws) < 0)
            conn_kill_wsi(s->ws);
        release(s);
    }
    es->nbatch = 0;
    es->fanout = 0;
    if (es->cork_turns) {
        es->cork_turns = 0;
        uv_idle_stop(&es->cork_idle);
    }
    uv_check_stop(&es->batch_check);
    uv_prepare_stop(&es->batch_prepare);
}

static void on_cork_idle(uv_idle_t *h)
{
    (void)h; /* its being active is what counts: the loop polls without blocking */
}

static void on_batch_check(uv_check_t *h)
{
    eio_server_t *es = h->data;
    int fd = es->rx_fd, n = 0;
    es->rx_fd = -1;
    /* a batch that waits goes on waiting while the sender has more, whether or not this turn
     * brought another broadcast (one waiting for Redis comes in a later turn); a socket closed
     * since is refused, one that took its number just waits a turn */
    if ((es->fanout >= CORK_MIN || es->cork_turns) && es->cork_turns < CORK_TURNS && fd >= 0 &&
        ioctl(fd, FIONREAD, &n) == 0 && n > 0) {
        if (!es->cork_turns++) uv_idle_start(&es->cork_idle, on_cork_idle);
        return;
    }
    on_batch(es);
}

static void on_batch_prepare(uv_prepare_t *h)
{
    eio_server_t *es = h->data;
    if (!es->cork_turns) on_batch(es); /* a waiting batch goes after the next turn's input */
}

static void batch_add(eio_session_t *s)
{
    eio_server_t *es = s->es;
    if (es->nbatch == es->batch_cap) {
        es->batch_cap = es->batch_cap ? es->batch_cap * 2 : 64;
        es->batch = xrealloc(es->batch, es->batch_cap * sizeof *es->batch);
    }
    if (!es->nbatch) {
        uv_check_start(&es->batch_check, on_batch_check);
        uv_prepare_start(&es->batch_prepare, on_batch_prepare);
    }
    hold(s);
    s->batched = 1;
    es->batch[es->nbatch++] = s;
}

void eio_server_fanout(eio_server_t *es, size_t n)
{
    if (n > es->fanout) es->fanout = n;
}

/* A binary message for a v3 session: its frames carry the type byte first (a WebSocket frame
 * as it goes; a polling payload reads the type from it). */
static frame_t *v3_frame(frame_t *f)
{
    frame_t *v = frame_new_binary(NULL, f->len + 1);
    frame_body(v)[0] = EIO_MESSAGE;
    memcpy(frame_body(v) + 1, frame_body(f), f->len);
    return v;
}

void eio_send(eio_session_t *s, frame_t *f)
{
    if (s->state != S_OPEN || s->doomed) return;
    if (s->v3 && f->binary) {
        frame_t *v = v3_frame(f);
        q_push(s, v);
        frame_unref(v);
    } else {
        q_push(s, f);
    }
    /* A WebSocket client that keeps up gets what this loop turn sends it at the turn's end,
     * in one write; frames that wait for a slow one count against --max-queue. */
    if (s->batched) return;
    if (s->transport == EIO_TR_WEBSOCKET && s->ws && !s->handed && !lws_partial_buffered(s->ws)) {
        batch_add(s);
        return;
    }
    if (s->qbytes > (uint64_t)s->es->cfg->max_queue)
        doom(s);
    else
        flush(s);
}

void eio_close(eio_session_t *s, const char *reason)
{
    if (s->state != S_OPEN) return;
    eio_server_t *es = s->es;
    hold(s);
    if (s->upper && es->handler.close) es->handler.close(s->upper, reason);
    s->upper = NULL;
    s->state = S_CLOSING;
    deadline_queue_remove(&es->ping_q, &s->hb);
    deadline_queue_remove(&es->pong_q, &s->hb);
    if (s->probe) {
        detach_ws(s->probe, 1, 0);
        s->probe = NULL;
        aux_stop(s);
    }
    if (s->transport == EIO_TR_WEBSOCKET) {
        /* Flush what is queued, then close the WebSocket (eio_on_ws_writable). */
        if (s->ws) {
            lws_callback_on_writable(s->ws);
            aux_start(s, &es->close_q);
        } else {
            destroy(s, reason, f_close);
        }
    } else if (s->get) {
        answer_get(s, f_close);
        destroy(s, reason, f_close);
    } else {
        /* Keep the queued packets and the close packet for the next GET, for a while. */
        q_push(s, f_close);
        aux_start(s, &es->close_q);
    }
    release(s);
}

/* ---- timers ---- */

static eio_session_t *from_hb(deadline_node_t *n)
{
    return (eio_session_t *)((char *)n - offsetof(eio_session_t, hb));
}

static eio_session_t *from_aux(deadline_node_t *n)
{
    return ((aux_t *)n)->s;
}

static void on_ping_due(deadline_queue_t *q, deadline_node_t *n)
{
    eio_server_t *es = q->data;
    eio_session_t *s = from_hb(n);
    deadline_queue_add(&es->pong_q, &s->hb);
    if (s->v3) return; /* a v3 client pings: it has pingTimeout left to */
    s->ping_out = 1;
    eio_send(s, f_ping);
}

static void on_pong_timeout(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    destroy(from_hb(n), "ping timeout", f_close);
}

static void on_upgrade_timeout(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    eio_session_t *s = from_aux(n);
    aux_stop(s);
    log_debug("upgrade timed out", "sid=%s", s->sid);
    detach_ws(s->probe, 1, 0);
    s->probe = NULL;
    s->upgrade = UP_NONE;
    flush(s);
}

static void on_doomed(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    eio_session_t *s = from_hb(n);
    destroy(s, s->evicted ? "server memory budget" : "send queue full", f_close);
}

static void on_close_timeout(deadline_queue_t *q, deadline_node_t *n)
{
    (void)q;
    eio_session_t *s = from_aux(n);
    destroy(s, "server close", f_close);
}

void eio_server_keep_headers(eio_server_t *es, const char *const *names, size_t n)
{
    if (n > EIO_KEEP_HEADERS_MAX) n = EIO_KEEP_HEADERS_MAX;
    es->keep = xcalloc(n ? n : 1, sizeof *es->keep);
    es->keep_tok = xcalloc(n ? n : 1, sizeof *es->keep_tok);
    for (size_t i = 0; i < n; i++) {
        sbuf_t b = SBUF_INIT;
        for (const char *p = names[i]; *p; p++)
            sbuf_append_char(&b, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
        sbuf_append_char(&b, ':');
        es->keep[es->nkeep] = b.data;
        es->keep_tok[es->nkeep] = -1;
        for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
            const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
            if (name && strcmp(name, b.data) == 0) es->keep_tok[es->nkeep] = t;
        }
        es->nkeep++;
    }
}

/* The kept headers of a handshake on wsi as a JSON object's text (owned), or NULL. */
static char *kept_headers(const eio_server_t *es, struct lws *wsi)
{
    if (!es->nkeep) return NULL;
    json_t *o = json_object();
    char *v = xmalloc(EIO_HEADER_VALUE_MAX + 1);
    for (size_t i = 0; i < es->nkeep; i++) {
        const char *name = es->keep[i];
        int nlen = (int)strlen(name), tok = es->keep_tok[i], len;
        if (tok >= 0)
            len = lws_hdr_total_length(wsi, (enum lws_token_indexes)tok);
        else
            len = lws_hdr_custom_length(wsi, name, nlen);
        if (len <= 0 || len > EIO_HEADER_VALUE_MAX) continue;
        if (tok >= 0)
            len = lws_hdr_copy(wsi, v, EIO_HEADER_VALUE_MAX + 1, (enum lws_token_indexes)tok);
        else
            len = lws_hdr_custom_copy(wsi, v, EIO_HEADER_VALUE_MAX + 1, name, nlen);
        if (len < 0) continue;
        json_t *val = json_stringn(v, (size_t)len); /* NULL when not UTF-8 */
        if (val) json_object_setn_new(o, name, (size_t)nlen - 1, val);
    }
    free(v);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

const char *eio_session_headers(const eio_session_t *s)
{
    const char *h = s->sid + strlen(s->sid) + 1; /* a JSON object when kept: never "" */
    return *h ? h : NULL;
}

const char *eio_session_query(const eio_session_t *s)
{
    if (!s->v3) return NULL;
    const char *h = s->sid + strlen(s->sid) + 1;
    return h + strlen(h) + 1;
}

eio_server_t *eio_server_new(uv_loop_t *loop, const chatnode_config_t *cfg,
                             const eio_handler_t *handler, mem_budget_t *mem, addr_limit_t *limits)
{
    eio_server_t *es = xcalloc(1, sizeof *es);
    es->loop = loop;
    es->cfg = cfg;
    es->handler = *handler;
    es->mem = mem;
    es->limits = limits;
    es->started_ms = uv_now(loop);
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    es->started_epoch_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_usec / 1000;
    /* libuv timers do not fail to initialise */
    deadline_queue_init(&es->ping_q, loop, (uint64_t)cfg->ping_interval, on_ping_due, es);
    deadline_queue_init(&es->pong_q, loop, (uint64_t)cfg->ping_timeout, on_pong_timeout, es);
    deadline_queue_init(&es->upgrade_q, loop, (uint64_t)cfg->upgrade_timeout, on_upgrade_timeout,
                        es);
    deadline_queue_init(&es->close_q, loop, (uint64_t)cfg->ping_timeout, on_close_timeout, es);
    deadline_queue_init(&es->kill_q, loop, 0, on_doomed, es);
    uv_check_init(loop, &es->batch_check);
    es->batch_check.data = es;
    uv_idle_init(loop, &es->cork_idle);
    es->rx_fd = -1;
    uv_prepare_init(loop, &es->batch_prepare);
    es->batch_prepare.data = es;
    es->batch_buf = xmalloc(LWS_PRE + BATCH_BYTES);
    if (!f_ping) {
        f_ping = frame_new_text(EIO_PING, NULL, 0);
        f_pong = frame_new_text(EIO_PONG, NULL, 0);
        f_close = frame_new_text(EIO_CLOSE, NULL, 0);
        f_noop = frame_new_text(EIO_NOOP, NULL, 0);
        f_pong_probe = frame_new_text(EIO_PONG, "probe", 5);
    }
    return es;
}

void eio_server_set_tag(eio_server_t *es, const char *tag)
{
    snprintf(es->tag, sizeof es->tag, "%s", tag);
}

void eio_server_close(eio_server_t *es)
{
    if (es->closed) return;
    es->closed = 1;
    void *v;
    for (size_t i = 0; strmap_next(&es->sessions, &i, NULL, NULL, &v);)
        destroy(v, "server shutting down", f_close);
    strmap_free(&es->sessions);
    for (size_t i = 0; i < es->nbatch; i++) {
        es->batch[i]->batched = 0;
        release(es->batch[i]);
    }
    es->nbatch = 0;
    uv_close((uv_handle_t *)&es->batch_check, NULL);
    uv_close((uv_handle_t *)&es->batch_prepare, NULL);
    uv_close((uv_handle_t *)&es->cork_idle, NULL);
    deadline_queue_close(&es->ping_q, NULL);
    deadline_queue_close(&es->pong_q, NULL);
    deadline_queue_close(&es->upgrade_q, NULL);
    deadline_queue_close(&es->close_q, NULL);
    deadline_queue_close(&es->kill_q, NULL);
    frame_unref(f_ping);
    frame_unref(f_pong);
    frame_unref(f_close);
    frame_unref(f_noop);
    frame_unref(f_pong_probe);
    f_ping = f_pong = f_close = f_noop = f_pong_probe = NULL;
}

void eio_server_free(eio_server_t *es)
{
    if (!es) return;
    for (size_t i = 0; i < es->nkeep; i++) free(es->keep[i]);
    free(es->keep);
    free(es->keep_tok);
    free(es->batch);
    free(es->batch_buf);
    free(es);
}

void eio_server_set_draining(eio_server_t *es, int on)
{
    es->draining = on;
}

int eio_server_draining(const eio_server_t *es)
{
    return es->draining;
}

size_t eio_server_session_count(const eio_server_t *es)
{
    return es->sessions.count;
}

uint64_t eio_server_sessions_opened(const eio_server_t *es)
{
    return es->sessions_opened;
}

uint64_t eio_server_bytes_in(const eio_server_t *es)
{
    return es->bytes_in;
}

uint64_t eio_server_bytes_out(const eio_server_t *es)
{
    return es->bytes_out;
}

void eio_server_ws_out(const eio_server_t *es, uint64_t *frames, uint64_t *writes)
{
    *frames = es->ws_frames_out;
    *writes = es->ws_writes;
}

int eio_server_next(const eio_server_t *es, size_t *iter, eio_session_t **out)
{
    void *v;
    if (!strmap_next(&es->sessions, iter, NULL, NULL, &v)) return 0;
    *out = v;
    return 1;
}

const char *eio_refuse_name(eio_refuse_t why)
{
    switch (why) {
    case EIO_REFUSE_TRANSPORT_UNKNOWN: return "transport_unknown";
    case EIO_REFUSE_UNKNOWN_SID: return "unknown_sid";
    case EIO_REFUSE_BAD_HANDSHAKE_METHOD: return "bad_handshake_method";
    case EIO_REFUSE_BAD_REQUEST: return "bad_request";
    case EIO_REFUSE_ORIGIN: return "origin";
    case EIO_REFUSE_PROTOCOL_VERSION: return "protocol_version";
    case EIO_REFUSE_SESSIONS_PER_IP: return "sessions_per_ip";
    case EIO_REFUSE_HANDSHAKE_RATE: return "handshake_rate";
    case EIO_REFUSE_DRAINING: return "draining";
    case EIO_REFUSE_PAYLOAD_TOO_LARGE: return "payload_too_large";
    case EIO_REFUSE_COUNT: break;
    }
    return "unknown";
}

void eio_server_refused(eio_server_t *es, eio_refuse_t why)
{
    if (why < EIO_REFUSE_COUNT) es->refused[why]++;
}

uint64_t eio_server_refusals(const eio_server_t *es, eio_refuse_t why)
{
    return why < EIO_REFUSE_COUNT ? es->refused[why] : 0;
}

void eio_reply_error(eio_server_t *es, struct lws *wsi, conn_t *c, int code)
{
    eio_server_refused(es, (eio_refuse_t)code);
    char body[128];
    int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code,
                     eio_error_message(code));
    conn_reply(wsi, c, code == EIO_ERR_FORBIDDEN ? 403 : 400, "application/json", body, (size_t)n);
}

size_t eio_close_some(eio_server_t *es, size_t max, const char *reason)
{
    eio_session_t **pick = xmalloc((max ? max : 1) * sizeof *pick);
    size_t n = 0;
    void *v;
    for (size_t i = 0; n < max && strmap_next(&es->sessions, &i, NULL, NULL, &v);)
        if (((eio_session_t *)v)->state == S_OPEN) pick[n++] = v;
    for (size_t i = 0; i < n; i++) eio_close(pick[i], reason);
    free(pick);
    return n;
}

size_t eio_count_open(const eio_server_t *es)
{
    size_t n = 0;
    void *v;
    for (size_t i = 0; strmap_next(&es->sessions, &i, NULL, NULL, &v);)
        if (((eio_session_t *)v)->state == S_OPEN) n++;
    return n;
}

void eio_count(const eio_server_t *es, size_t *polling, size_t *websocket)
{
    size_t p = 0, w = 0;
    void *v;
    for (size_t i = 0; strmap_next(&es->sessions, &i, NULL, NULL, &v);) {
        if (((eio_session_t *)v)->transport == EIO_TR_WEBSOCKET)
            w++;
        else
            p++;
    }
    if (polling) *polling = p;
    if (websocket) *websocket = w;
}

/* ---- handshake ---- */

/* The Engine.IO parameters, which a v3 session's query as the layer above sees it leaves out. */
static const char *const eio_params[] = {"EIO", "transport", "t", "b64", "sid", "j", NULL};

/* What of a handshake's query is read: pairs (the Engine.IO ones included), and bytes. */
#define QUERY_PAIRS_MAX (URL_QUERY_MAX_PAIRS + 8)
#define QUERY_BYTES_MAX 8192

/* The query of the handshake on wsi as a JSON object of strings (libwebsockets gives its
 * arguments percent-decoded). */
static void handshake_query(struct lws *wsi, sbuf_t *out)
{
    char *frag[QUERY_PAIRS_MAX];
    const char *pairs[QUERY_PAIRS_MAX];
    size_t lens[QUERY_PAIRS_MAX], n = 0, total = 0;
    for (int i = 0; n < QUERY_PAIRS_MAX; i++) {
        int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len <= 0 || total + (size_t)len > QUERY_BYTES_MAX) break;
        frag[n] = xmalloc((size_t)len + 1);
        if (lws_hdr_copy_fragment(wsi, frag[n], len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) != len) {
            free(frag[n]);
            break;
        }
        total += (size_t)len;
        pairs[n] = frag[n];
        lens[n++] = (size_t)len;
    }
    url_pairs_json(out, pairs, lens, n, 0, eio_params);
    for (size_t i = 0; i < n; i++) free(frag[i]);
}

/* A new session for the handshake on wsi, with the headers it keeps. */
static eio_session_t *session_new(eio_server_t *es, eio_transport_t transport, const eio_query_t *q,
                                  const client_addr_t *addr, struct lws *wsi)
{
    char sid[SID_MAX];
    do sid_generate(sid, sizeof sid, es->tag);
    while (strmap_get(&es->sessions, sid, strlen(sid)));
    size_t n = strlen(sid) + 1;
    char *headers = kept_headers(es, wsi);
    size_t hn = headers ? strlen(headers) + 1 : 1;
    sbuf_t query = SBUF_INIT;
    if (q->v3) handshake_query(wsi, &query);
    eio_session_t *s = xcalloc(1, sizeof *s + n + hn + (q->v3 ? query.len + 1 : 0));
    memcpy(s->sid, sid, n);
    if (headers) memcpy(s->sid + n, headers, hn);
    if (q->v3) memcpy(s->sid + n + hn, query.data, query.len + 1);
    free(headers);
    sbuf_free(&query);
    s->es = es;
    s->v3 = q->v3;
    s->b64 = q->b64;
    s->transport = (uint8_t)transport;
    s->addr = *addr;
    addr_limit_opened(es->limits, addr);
    strmap_put(&es->sessions, s->sid, strlen(s->sid), s);
    es->sessions_opened++;
    s->opened_s = (uint32_t)((uv_now(es->loop) - es->started_ms) / 1000);
    return s;
}

static frame_t *open_frame(const eio_server_t *es, const eio_session_t *s)
{
    sbuf_t b = SBUF_INIT;
    sbuf_printf(&b,
                "{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%lld,\"pingTimeout\":%lld,"
                "\"maxPayload\":%lld}",
                s->sid, s->transport == EIO_TR_POLLING ? "\"websocket\"" : "",
                es->cfg->ping_interval, es->cfg->ping_timeout, es->cfg->max_payload);
    frame_t *f = frame_new_text(EIO_OPEN, b.data, b.len);
    sbuf_free(&b);
    return f;
}

/* Sends the open packet, starts the heartbeat and tells the upper layer. */
static void session_open(eio_session_t *s)
{
    eio_server_t *es = s->es;
    frame_t *f = open_frame(es, s);
    q_push(s, f);
    frame_unref(f);
    deadline_queue_add(&es->ping_q, &s->hb);
    char addr[CLIENT_ADDR_TEXT];
    log_debug("session opened", "sid=%s transport=%s address=%s", s->sid,
              s->transport == EIO_TR_WEBSOCKET ? "websocket" : "polling",
              client_addr_format(&s->addr, addr, sizeof addr));
    hold(s);
    if (es->handler.open) s->upper = es->handler.open(es->handler.ctx, s);
    if (s->upper && es->handler.opened) es->handler.opened(s->upper);
    if (release(s)) flush(s);
}

/* ---- incoming packets ---- */

/* Handles one packet from the client's transport. Returns 0, or -1 if the session ended. */
static int on_packet(eio_session_t *s, const eio_packet_t *p)
{
    eio_server_t *es = s->es;
    if (s->state != S_OPEN || s->doomed) return 0;
    if (s->v3 && (p->type == EIO_PING || p->type == EIO_PONG)) {
        /* v3: the client pings and is answered; each ping restarts its time */
        if (p->type == EIO_PONG) {
            destroy(s, "invalid heartbeat direction", f_close);
            return -1;
        }
        deadline_queue_remove(&es->pong_q, &s->hb);
        deadline_queue_add(&es->ping_q, &s->hb);
        eio_send(s, f_pong);
        return 0;
    }
    switch (p->type) {
    case EIO_PONG:
        /* Only the answer to a ping restarts the heartbeat: pongs sent at will must not keep
         * a client that reads nothing alive. */
        if (!s->ping_out) return 0;
        s->ping_out = 0;
        deadline_queue_remove(&es->pong_q, &s->hb);
        deadline_queue_add(&es->ping_q, &s->hb);
        return 0;
    case EIO_PING: destroy(s, "invalid heartbeat direction", f_close); return -1;
    case EIO_CLOSE: destroy(s, "transport close", f_noop); return -1;
    case EIO_MESSAGE:
        if (s->upper && es->handler.message) es->handler.message(s->upper, p);
        return s->state == S_OPEN ? 0 : -1;
    default: return 0; /* open, upgrade and noop carry nothing for us */
    }
}

/* ---- polling ---- */

static eio_session_t *find(const eio_server_t *es, const char *sid)
{
    return strmap_get(&es->sessions, sid, strlen(sid));
}

/* The polling session a request with a sid is for. A request that cannot use it (unknown
 * sid, a session on WebSocket, a second GET or POST at once) is answered 400 here, and an
 * overlap also ends the session; returns NULL then. */
static eio_session_t *polling_session(eio_server_t *es, struct lws *wsi, conn_t *c,
                                      const eio_query_t *q, int is_post)
{
    eio_session_t *s = find(es, q->sid);
    if (!s) {
        eio_reply_error(es, wsi, c, EIO_ERR_UNKNOWN_SID);
        return NULL;
    }
    if (s->transport != EIO_TR_POLLING) {
        eio_reply_error(es, wsi, c, EIO_ERR_BAD_REQUEST);
        return NULL;
    }
    if (is_post ? s->post != NULL : s->get != NULL) {
        /* Overlapping requests: a pending GET is answered with a close packet. */
        eio_reply_error(es, wsi, c, EIO_ERR_BAD_REQUEST);
        destroy(s, is_post ? "overlapping post" : "overlapping poll", f_close);
        return NULL;
    }
    return s;
}

void eio_on_poll_get(eio_server_t *es, struct lws *wsi, conn_t *c, const eio_query_t *q,
                     const client_addr_t *addr)
{
    eio_session_t *s;
    if (!q->sid[0]) {
        s = session_new(es, EIO_TR_POLLING, q, addr, wsi);
        s->get = wsi;
        c->session = s;
        c->kind = CONN_POLL_GET;
        session_open(s);
        return;
    }
    if (!(s = polling_session(es, wsi, c, q, 0))) return;
    s->get = wsi;
    c->session = s;
    c->kind = CONN_POLL_GET;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    conn_release_headers(wsi, c); /* it may be held until the next ping */
    if (s->state == S_CLOSING) {
        /* The queue ends with the close packet: deliver it and finish. */
        answer_get(s, NULL);
        destroy(s, "server close", f_close);
    } else if (s->upgrade == UP_PROBED) {
        answer_get(s, f_noop); /* the client is moving to WebSocket: release it */
    } else {
        flush(s);
        if (s->get == wsi) conn_park(wsi, c); /* nothing to send yet */
    }
}

void eio_on_poll_post(eio_server_t *es, struct lws *wsi, conn_t *c, const eio_query_t *q,
                      long long content_length)
{
    eio_session_t *s;
    c->close_after = 1; /* error replies to a POST do not wait for its body */
    if (!q->sid[0]) {
        eio_reply_error(es, wsi, c, EIO_ERR_BAD_HANDSHAKE_METHOD);
        return;
    }
    if (!(s = polling_session(es, wsi, c, q, 1))) return;
    if (content_length > es->cfg->max_payload) {
        eio_server_refused(es, EIO_REFUSE_PAYLOAD_TOO_LARGE);
        conn_reply(wsi, c, 413, NULL, "Payload Too Large", 17);
        destroy(s, "payload too large", f_close);
        return;
    }
    c->close_after = 0;
    s->post = wsi;
    c->session = s;
    c->kind = CONN_POLL_POST;
    if (s->v3) {
        /* a v3 browser client posts binary packets in binary framing, said so by the type */
        char type[32];
        c->octets = conn_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, type, sizeof type) > 0 &&
                    strcmp(type, "application/octet-stream") == 0;
    }
}

int eio_on_post_body(struct lws *wsi, conn_t *c, const void *in, size_t len)
{
    eio_session_t *s = c->session;
    if (c->kind != CONN_POLL_POST || !s) return 0; /* already answered: discard */
    if (s->doomed) return 0;                       /* answered when it ends: discard */
    if (conn_body_len(c) + len > (size_t)s->es->cfg->max_payload) {
        s->post = NULL;
        c->session = NULL;
        conn_drop_body(c);
        c->close_after = 1;
        eio_server_refused(s->es, EIO_REFUSE_PAYLOAD_TOO_LARGE);
        conn_reply(wsi, c, 413, NULL, "Payload Too Large", 17);
        destroy(s, "payload too large", f_close);
        return 0;
    }
    conn_body_append(c, in, len);
    s->es->bytes_in += len;
    return 0;
}

int eio_on_post_done(struct lws *wsi, conn_t *c)
{
    eio_session_t *s = c->session;
    if (c->kind != CONN_POLL_POST || !s) return 0;
    s->post = NULL;
    c->session = NULL;
    sbuf_t body = SBUF_INIT, *taken = conn_take_body(c);
    if (taken) {
        body = *taken;
        free(taken);
    }
    if (!body.data) sbuf_reserve(&body, 0);

    eio_payload_iter_t it;
    eio3_iter_t it3;
    eio_packet_t p;
    int rc;
    hold(s);
    if (s->v3) {
        eio3_iter_init(&it3, body.data, body.len, c->octets);
        while ((rc = eio3_payload_next(&it3, &p)) == 1)
            if (on_packet(s, &p) < 0) break;
    } else {
        eio_payload_iter_init(&it, body.data, body.len);
        while ((rc = eio_payload_next(&it, &p)) == 1)
            if (on_packet(s, &p) < 0) break;
    }
    if (rc < 0) {
        log_debug("bad polling payload", "sid=%s error=\"%s\"", s->sid, eio_strerror(rc));
        c->close_after = 1;
        eio_reply_error(s->es, wsi, c, EIO_ERR_BAD_REQUEST);
        destroy(s, "parse error", f_close);
    } else {
        conn_reply(wsi, c, 200, "text/html", "ok", 2);
    }
    release(s);
    sbuf_free(&body);
    return 0;
}

void eio_on_http_closed(struct lws *wsi, conn_t *c)
{
    eio_session_t *s = c->session;
    c->session = NULL;
    if (!s) return;
    if (s->get == wsi) {
        s->get = NULL;
        destroy(s, "transport close", f_close); /* a cancelled GET ends the session */
    } else if (s->post == wsi) {
        s->post = NULL;
        destroy(s, "transport close", f_close);
    }
}

/* ---- WebSocket ---- */

int eio_ws_filter(const eio_server_t *es, const eio_query_t *q, int *err)
{
    eio_session_t *s = NULL;
    if (!q->eio_ok)
        *err = EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION;
    else if (!q->transport_ok || q->transport != EIO_TR_WEBSOCKET)
        *err = EIO_ERR_TRANSPORT_UNKNOWN;
    else if (!q->sid[0])
        return 0;
    else if (!(s = find(es, q->sid)))
        *err = EIO_ERR_UNKNOWN_SID;
    else
        return 0; /* an upgraded or upgrading session: accepted, then closed at once */
    return -1;
}

int eio_on_ws_open(eio_server_t *es, struct lws *wsi, const eio_query_t *q,
                   const client_addr_t *addr)
{
    eio_session_t *s;
    if (!q->sid[0]) {
        s = session_new(es, EIO_TR_WEBSOCKET, q, addr, wsi);
        s->ws = wsi;
        lws_set_opaque_user_data(wsi, s);
        session_open(s);
        return 0;
    }
    s = find(es, q->sid);
    if (!s || s->state != S_OPEN || s->transport != EIO_TR_POLLING || s->probe) {
        /* A second WebSocket for a session that has one, as the reference server does:
         * accepted, then closed. It stays detached; eio_on_ws_writable closes it. */
        lws_callback_on_writable(wsi);
        return 0;
    }
    s->probe = wsi;
    s->upgrade = UP_PROBING;
    lws_set_opaque_user_data(wsi, s);
    aux_start(s, &es->upgrade_q);
    return 0;
}

/* Ends an upgrade attempt; polling goes on. */
static void cancel_upgrade(eio_session_t *s)
{
    if (s->probe) lws_set_opaque_user_data(s->probe, NULL);
    s->probe = NULL;
    s->upgrade = UP_NONE;
    s->probe_reply = 0;
    aux_stop(s);
    flush(s);
}

static int on_probe_message(struct lws *wsi, eio_session_t *s, const eio_packet_t *p)
{
    if (p->type == EIO_PING && !p->binary && p->len == 5 && memcmp(p->data, "probe", 5) == 0) {
        s->probe_reply = 1;
        lws_callback_on_writable(wsi);
        s->upgrade = UP_PROBED;
        if (s->get) answer_get(s, f_noop);
        return 0;
    }
    if (p->type == EIO_UPGRADE) {
        aux_stop(s);
        s->upgrade = UP_NONE;
        s->probe = NULL;
        s->ws = wsi;
        s->transport = EIO_TR_WEBSOCKET;
        if (s->get) answer_get(s, f_noop);
        log_debug("session upgraded", "sid=%s", s->sid);
        flush(s);
        return 0;
    }
    cancel_upgrade(s); /* anything else during the upgrade cancels it */
    return -1;
}

/* A v3 text frame "b4<base64>" (from a client that asked for base64): the message decoded into
 * *buf (owned by the caller). Returns 0, or a negative EIO_E* error. */
static int v3_base64_frame(const void *data, size_t len, eio_packet_t *p, uint8_t **buf)
{
    const char *t = data;
    if (len < 2 || t[1] != '0' + EIO_MESSAGE) return EIO_ETYPE;
    *buf = xmalloc(len);
    long n = base64_decode(t + 2, len - 2, *buf);
    if (n < 0) {
        free(*buf);
        *buf = NULL;
        return EIO_EBASE64;
    }
    *p = (eio_packet_t){.type = EIO_MESSAGE, .binary = 1, .data = *buf, .len = (size_t)n};
    return 0;
}

/* One whole WebSocket message. Returns -1 when lws should close wsi. */
static int on_ws_message(struct lws *wsi, eio_session_t *s, const void *data, size_t len,
                         int binary)
{
    eio_packet_t p;
    uint8_t *decoded = NULL;
    if (binary && !s->v3) {
        p.type = EIO_MESSAGE;
        p.binary = 1;
        p.data = data;
        p.len = len;
    } else {
        int rc = binary ? eio3_frame_decode_binary(data, len, &p)
                 : s->v3 && len && ((const char *)data)[0] == 'b'
                     ? v3_base64_frame(data, len, &p, &decoded)
                     : eio_packet_decode_text(data, len, &p);
        if (rc < 0) {
            log_debug("bad websocket packet", "sid=%s error=\"%s\"", s->sid, eio_strerror(rc));
            if (s->probe == wsi) {
                cancel_upgrade(s);
            } else {
                lws_set_opaque_user_data(wsi, NULL);
                s->ws = NULL;
                destroy(s, "parse error", f_close);
            }
            return -1;
        }
    }
    int rc = 0;
    if (s->probe == wsi) {
        rc = on_probe_message(wsi, s, &p);
    } else {
        hold(s);
        on_packet(s, &p);
        release(s); /* if the session ended, wsi was detached and closes when writable */
    }
    free(decoded);
    return rc;
}

int eio_on_ws_receive(struct lws *wsi, const void *in, size_t len)
{
    eio_session_t *s = ws_session(wsi);
    if (!s) return -1;
    if (s->doomed) return 0; /* closed at once on the next loop turn */
    s->es->bytes_in += len;
    s->es->rx_fd = lws_get_socket_fd(wsi);
    int binary = lws_frame_is_binary(wsi);
    int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    size_t max = (size_t)s->es->cfg->max_payload;
    if (first && final && !s->rx) {
        if (len > max) goto too_big;
        return on_ws_message(wsi, s, in, len, binary);
    }
    if (s->probe == wsi) { /* a probe is one short packet: no need to reassemble */
        cancel_upgrade(s);
        return -1;
    }
    if ((s->rx ? s->rx->len : 0) + len > max) goto too_big;
    rx_append(s, in, len);
    if (!final) return 0;
    sbuf_t *msg = rx_take(s);
    int rc = on_ws_message(wsi, s, msg->data ? msg->data : "", msg->len, binary);
    sbuf_free(msg);
    free(msg);
    return rc;
too_big:
    rx_drop(s);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1; /* eio_on_ws_closed ends the session */
}

int eio_on_ws_writable(struct lws *wsi)
{
    eio_session_t *s = ws_session(wsi);
    if (!s) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (s->probe == wsi) {
        if (!s->probe_reply) return 0;
        s->probe_reply = 0;
        return lws_write(wsi, frame_body(f_pong_probe), f_pong_probe->len, LWS_WRITE_TEXT) < 0 ? -1
                                                                                               : 0;
    }
    if (s->ws != wsi) return 0;
    /* lws calls back only once it has written all it held: what it was handed is out */
    if (s->handed) {
        if (lws_partial_buffered(wsi)) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        while (s->handed) frame_unref(q_pop(s));
    }
    if (s->qlen) {
        if (ws_drain(s, wsi) < 0) return -1;
        if (s->qlen) return 0; /* lws calls back when the socket takes more */
    }
    if (s->state == S_CLOSING) {
        s->ws = NULL;
        lws_set_opaque_user_data(wsi, NULL);
        destroy(s, "server close", f_close);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    return 0;
}

void eio_on_ws_closed(struct lws *wsi)
{
    eio_session_t *s = ws_session(wsi);
    lws_set_opaque_user_data(wsi, NULL);
    if (!s) return;
    if (s->probe == wsi) {
        s->probe = NULL;
        cancel_upgrade(s);
        return;
    }
    if (s->ws == wsi) {
        s->ws = NULL;
        destroy(s, "transport close", f_close);
    }
}
