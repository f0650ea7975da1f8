/* Engine.IO v3 polling payloads, as socket.io-client 2.x and the other v3 clients write and
 * read them (single packets are as in v4: eio_packet.h).
 *
 * Text payload: each packet as "<length>:<packet>", the length in UTF-16 code units of the
 * packet (what JavaScript's String.length counts: 2 for a character outside the BMP, 1 for
 * any other, and 1 for each invalid UTF-8 sequence, which a JavaScript reader turns into one
 * U+FFFD); a binary packet as "b4" and its bytes in base64.
 *
 *   "4€" and a binary message 01 02 03  ->  2:4€6:b4AQID
 *
 * Binary payload (a browser client with XHR2 that did not ask for b64): per packet a marker
 * byte (0 text, 1 binary), its length in bytes as one byte per decimal digit, 0xFF, then the
 * packet: the type digit and the UTF-8 data, or the type byte 4 and the raw bytes.
 *
 *   "4hello" and 01 02 03 04  ->  00 06 ff '4' h e l l o  01 05 ff 04 01 02 03 04
 *
 * Pure: no I/O, no globals. */
#ifndef CC_EIO3_PAYLOAD_H
#define CC_EIO3_PAYLOAD_H

#include "eio_packet.h"
#include "sbuf.h"

#include <stddef.h>

/* UTF-16 code units of the text s[0..n), counted as above. */
size_t eio3_utf16_len(const char *s, size_t n);

/* Appends one packet to a text payload. */
void eio3_payload_append(sbuf_t *out, const eio_packet_t *p);
/* Appends one packet to a binary payload. */
void eio3_payload_append_binary(sbuf_t *out, const eio_packet_t *p);

/* Iterator over a v3 polling request body, text or binary. Binary packets of a text body are
 * base64-decoded in place, so each packet's data stays valid while the body lives. */
typedef struct {
    char *p;
    char *end;
    int done;
    int binary;
} eio3_iter_t;

void eio3_iter_init(eio3_iter_t *it, char *body, size_t len, int binary);
/* Returns 1 with the next packet in *out, 0 at the end, or a negative EIO_E* error (later
 * calls return it again): an empty body, a length that is not digits followed by ':' (or by
 * 0xFF in a binary body), a length past the body's end, a packet of an unknown type, bad
 * base64. Zero-length records are skipped, as the v3 reference decoder does. */
int eio3_payload_next(eio3_iter_t *it, eio_packet_t *out);

/* A v3 WebSocket binary frame: its first byte is the packet type (4 for a message), the rest
 * the data. Returns 0, or EIO_EEMPTY / EIO_ETYPE. */
int eio3_frame_decode_binary(const uint8_t *s, size_t len, eio_packet_t *out);

#endif
