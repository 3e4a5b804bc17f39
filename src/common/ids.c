#include "compat.h"

#include <string.h>

#include "err.h"
#include "ids.h"

/* An odd multiplier is a bijection on 64-bit integers; INVERSE is its inverse mod 2^64. */
#define SCRAMBLE UINT64_C(0x9E3779B97F4A7C15)
#define INVERSE  UINT64_C(0xF1DE83E19937733D)

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static struct id_codec codec; /* encode NULL: the fixed scramble */

void ids_set_codec(const struct id_codec *c)
{
    codec = c != NULL ? *c : (struct id_codec){0};
}

char *id_format(char *buf, const char *prefix, uint64_t n)
{
    uint64_t x = codec.encode != NULL ? codec.encode(codec.arg, prefix, n) : n * SCRAMBLE;
    size_t plen = strlen(prefix);

    memcpy(buf, prefix, plen);
    buf[plen] = '_';
    for (int i = 12; i >= 0; i--) {
        buf[plen + 1 + (size_t)i] = alphabet[x & 31];
        x >>= 5;
    }
    buf[plen + 14] = '\0';
    return buf;
}

int id_parse(uint64_t *out, const char *prefix, const char *s)
{
    size_t plen = strlen(prefix);
    uint64_t x = 0;

    if (s == NULL || strncmp(s, prefix, plen) != 0 || s[plen] != '_' || strlen(s) != plen + 14)
        return ERR_INVALID;
    for (size_t i = 0; i < 13; i++) {
        const char *c = strchr(alphabet, s[plen + 1 + i]);
        if (c == NULL || *c == '\0')
            return ERR_INVALID;
        if (i == 0 && (c - alphabet) > 15)
            return ERR_INVALID; /* 13 chars hold 65 bits: the top one must be clear */
        x = (x << 5) | (uint64_t)(c - alphabet);
    }
    *out = codec.decode != NULL ? codec.decode(codec.arg, prefix, x) : x * INVERSE;
    return 0;
}
