/* libFuzzer driver: proto/rec_offset.c, the offsets clients send back in a CONNECT's auth.
 * A text that parses prints back to itself and compares as its two numbers do; one that does
 * not parse leaves the output alone. Any bytes taken as a JSON array get the offset appended
 * as a last string element exactly when they end with ']' (after blanks), and the result ends
 * with the offset's text. */
#include "jtext.h"
#include "rec_offset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    rec_offset_t o = 12345;
    if (rec_offset_parse(s, size, &o) == 0) {
        char text[REC_OFFSET_MAX + 1];
        size_t n = rec_offset_format(o, text);
        if (n != size || memcmp(text, s, n) != 0) abort();
        if (rec_offset_ms(o) > REC_MS_MAX || rec_offset_seq(o) > REC_SEQ_MAX) abort();
        rec_offset_t next = rec_offset_next(o, rec_offset_ms(o));
        if (next <= o && o != UINT64_MAX) abort();
    } else if (o != 12345) {
        abort();
    }
    /* appending to an argument array: validated arrays only, as the layer calls it */
    if (jtext_validate(s, size) == JTEXT_ARRAY) {
        sbuf_t out = SBUF_INIT;
        if (rec_offset_append_to_array(&out, s, size, rec_offset_make(1796465017509ULL, 3)) != 0)
            abort();
        /* ...,"<offset>"] or [<blanks>"<offset>"] for an empty array */
        static const char tail[] = "\"1796465017509-3\"]";
        size_t t = sizeof tail - 1;
        int ok = out.len > t && memcmp(out.data + out.len - t, tail, t) == 0 &&
                 (out.data[out.len - t - 1] == ',' || out.data[out.len - t - 1] == '[');
        if (!ok || jtext_validate(out.data, out.len) != JTEXT_ARRAY) abort();
        sbuf_free(&out);
    }
    return 0;
}
