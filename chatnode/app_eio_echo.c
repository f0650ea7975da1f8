/* The eio-echo app: the Engine.IO v4 reference server. Every message packet goes back to its
 * session as it came, text or binary. */
#include "app.h"
#include "eio_session.h"
#include "frame.h"

static void eio_echo_message(eio_session_t *s, const eio_packet_t *p)
{
    frame_t *f = p->binary ? frame_new_binary(p->data, p->len)
                           : frame_new_text(EIO_MESSAGE, (const char *)p->data, p->len);
    eio_send(s, f);
    frame_unref(f);
}

const app_module_t app_eio_echo = {
    .name = "eio-echo",
    .description = "the Engine.IO protocol's reference behaviour (serve it at /engine.io/)",
    .eio_message = eio_echo_message,
};
