/* libFuzzer driver: url_query_json over the input as a raw query string (the namespace query
 * of an old client's CONNECT), and url_decode. What comes out must be a JSON object that
 * jtext accepts, whatever the input. */
#include "jtext.h"
#include "url_query.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const skip[] = {"EIO", "transport", NULL};
    sbuf_t out = SBUF_INIT;
    url_query_json(&out, (const char *)data, size, size & 1 ? skip : NULL);
    if (jtext_validate(out.data, out.len) != JTEXT_OBJECT) abort();
    sbuf_t dec = SBUF_INIT;
    url_decode(&dec, (const char *)data, size);
    if (dec.len > size) abort(); /* decoding never grows */
    sbuf_free(&dec);
    sbuf_free(&out);
    return 0;
}
