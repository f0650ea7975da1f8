/* Connection-state recovery offsets (docs/recovery.md): the position of a logged packet in its
 * namespace's log. On the wire it is "<ms>-<seq>" in decimal (the form of a Redis stream id);
 * in memory one uint64_t, ms in the high 42 bits and seq in the low 22, so that offsets compare
 * as integers. Every offset a client is given is one of these, appended to an event's
 * arguments as their last, string, element; the client hands the last one back when it
 * reconnects. */
#ifndef CC_REC_OFFSET_H
#define CC_REC_OFFSET_H

#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef uint64_t rec_offset_t;

#define REC_SEQ_BITS 22
#define REC_MS_MAX   ((UINT64_C(1) << (64 - REC_SEQ_BITS)) - 1)
#define REC_SEQ_MAX  ((UINT64_C(1) << REC_SEQ_BITS) - 1)
/* The longest offset text: "4398046511103-4194303". */
#define REC_OFFSET_MAX 21

static inline rec_offset_t rec_offset_make(uint64_t ms, uint64_t seq)
{
    return ms << REC_SEQ_BITS | seq;
}

static inline uint64_t rec_offset_ms(rec_offset_t o)
{
    return o >> REC_SEQ_BITS;
}

static inline uint64_t rec_offset_seq(rec_offset_t o)
{
    return o & REC_SEQ_MAX;
}

/* Parses "<ms>-<seq>": decimal numbers without sign or leading zeros, ms at most REC_MS_MAX
 * and seq at most REC_SEQ_MAX. Returns 0, or -1 and leaves *out unset. */
int rec_offset_parse(const char *s, size_t len, rec_offset_t *out);
/* Writes the offset's text and a NUL into out (REC_OFFSET_MAX + 1 bytes); returns its length. */
size_t rec_offset_format(rec_offset_t o, char *out);
/* The offset after last for a packet logged at now_ms: (now_ms, 0) when the clock moved on,
 * else the next seq (the next ms when seq is full), so offsets only grow whatever the clock
 * does. */
rec_offset_t rec_offset_next(rec_offset_t last, uint64_t now_ms);

/* Appends to out the JSON array text arr ([...], validated) with the offset's text added as a
 * last string element: what a logged event's arguments become. Returns 0, or -1 when arr does
 * not end with ']'. */
int rec_offset_append_to_array(sbuf_t *out, const char *arr, size_t len, rec_offset_t o);

#endif
