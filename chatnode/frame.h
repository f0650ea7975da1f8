/* Reference-counted outgoing packet: one Engine.IO packet encoded once and shared by every
 * session it is sent to. The body has LWS_PRE bytes of headroom so it can be handed to
 * lws_write() as is (a WebSocket frame), and polling responses copy it into their payload. */
#ifndef CC_FRAME_H
#define CC_FRAME_H

#include "eio_packet.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

typedef struct frame {
    uint32_t refs;
    uint8_t binary; /* 1: raw bytes (binary WebSocket frame; 'b'+base64 in polling) */
    size_t len;     /* body length: for text, the type digit and the data */
    unsigned char buf[];
} frame_t;

/* New frame holding one text packet: the type digit then data[0..len). refs = 1. */
frame_t *frame_new_text(eio_type_t type, const char *data, size_t len);
/* New frame holding a binary message (its len bytes left for the caller to write when data
 * is NULL). refs = 1. */
frame_t *frame_new_binary(const uint8_t *data, size_t len);

static inline unsigned char *frame_body(frame_t *f)
{
    return f->buf + LWS_PRE;
}

static inline frame_t *frame_ref(frame_t *f)
{
    f->refs++;
    return f;
}

/* What one queued reference to f costs the session holding it, against --max-queue and the
 * node's memory budget: the frame's whole allocation (header, LWS_PRE headroom, body,
 * terminator, and the allocator's own overhead) and its queue slot (a ring that grows by
 * doubling holds up to two pointers per frame). A frame shared by many sessions is charged to
 * each of them. */
#define FRAME_ALLOC_OVERHEAD 16
static inline size_t frame_cost(const frame_t *f)
{
    return sizeof *f + LWS_PRE + f->len + 1 + FRAME_ALLOC_OVERHEAD + 2 * sizeof(frame_t *);
}

/* Drops one reference; frees the frame with the last. NULL is a no-op. */
void frame_unref(frame_t *f);

/* The frame as an Engine.IO packet (borrowing the frame's bytes). */
eio_packet_t frame_packet(frame_t *f);

#endif
