/* Random identifiers from the kernel's CSPRNG, fetched in batches (see sid.h). */
#include "sid.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static unsigned char pool[512];
static size_t pool_left;

static unsigned char random_byte(void)
{
    if (pool_left == 0) {
        size_t got = 0;
        while (got < sizeof pool) {
            ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
            if (n > 0) got += (size_t)n;
        }
        pool_left = sizeof pool;
    }
    return pool[--pool_left];
}

void sid_generate(char *out, size_t cap, const char *tag)
{
    size_t n = 0;
    if (tag && *tag) n = (size_t)snprintf(out, cap, "%s.", tag);
    if (n >= cap) n = 0;
    for (int i = 0; i < SID_RANDOM_LEN && n + 1 < cap; i++) out[n++] = alphabet[random_byte() & 63];
    out[n] = '\0';
}

void sid_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) out[i] = hex[random_byte() & 15];
    out[n] = '\0';
}

int sid_valid_tag(const char *tag)
{
    size_t len = strlen(tag);
    if (len == 0 || len > 32) return -1;
    for (size_t i = 0; i < len; i++)
        if (!((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
              (tag[i] >= '0' && tag[i] <= '9') || tag[i] == '-'))
            return -1;
    return 0;
}
