/*
 * fuzz_ids.c - public ids ("rnt_5b3kq9x2m1c0a", common/ids.h) as paths, queries, cursors
 * and bodies give them, through id_parse and the handlers' api_parse_id.
 *
 * An id accepted for a prefix is exactly the text id_format writes for its number (one
 * spelling per object: no case folding, no look-alike letters), and api_parse_id accepts it
 * when and only when its number is in 1..max. The first 8 bytes, read as a number, must
 * survive id_format and id_parse for every prefix.
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "server/apijson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prefixes[] = {ID_TENANT, ID_HOST, ID_RENTAL, ID_COUPON, ID_KEY};

static void fail(const char *what, const char *text, uint64_t n)
{
    fprintf(stderr, "fuzz_ids: %s: \"%s\" (%llu)\n", what, text, (unsigned long long)n);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), buf[ID_STR_MAX];
    uint64_t n = 0, m = 0;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
        const char *p = prefixes[i];
        bool parsed = id_parse(&n, p, s) == 0;
        int api = api_parse_id(p, s, UINT32_MAX, &m);

        if (parsed && strcmp(id_format(buf, p, n), s) != 0)
            fail("a second spelling of an id", s, n);
        if ((api == 0) != (parsed && n >= 1 && n <= UINT32_MAX) || (api == 0 && m != n))
            fail("api_parse_id disagrees with id_parse", s, n);
    }
    if (size >= 8) {
        memcpy(&n, data, 8);
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
            id_format(buf, prefixes[i], n);
            if (strlen(buf) != 17 || id_parse(&m, prefixes[i], buf) != 0 || m != n)
                fail("id_format does not parse back", buf, n);
        }
    }
    free(s);
    return 0;
}
