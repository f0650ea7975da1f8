/* Reference-counted outgoing packets (see frame.h). */
#include "frame.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static frame_t *frame_alloc(size_t len)
{
    frame_t *f = xmalloc(sizeof *f + LWS_PRE + len + 1);
    f->refs = 1;
    f->binary = 0;
    f->len = len;
    f->buf[LWS_PRE + len] = '\0';
    return f;
}

frame_t *frame_new_text(eio_type_t type, const char *data, size_t len)
{
    frame_t *f = frame_alloc(len + 1);
    frame_body(f)[0] = (unsigned char)('0' + type);
    if (len) memcpy(frame_body(f) + 1, data, len);
    return f;
}

frame_t *frame_new_binary(const uint8_t *data, size_t len)
{
    frame_t *f = frame_alloc(len);
    f->binary = 1;
    if (len && data) memcpy(frame_body(f), data, len);
    return f;
}

void frame_unref(frame_t *f)
{
    if (f && --f->refs == 0) free(f);
}

eio_packet_t frame_packet(frame_t *f)
{
    eio_packet_t p;
    if (f->binary) {
        p.type = EIO_MESSAGE;
        p.binary = 1;
        p.data = frame_body(f);
        p.len = f->len;
    } else {
        p.type = (eio_type_t)(frame_body(f)[0] - '0');
        p.binary = 0;
        p.data = frame_body(f) + 1;
        p.len = f->len - 1;
    }
    return p;
}
