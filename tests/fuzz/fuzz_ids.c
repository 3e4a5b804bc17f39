/*
 * fuzz_ids.c - public ids ("rnt_5b3kq9x2m1c0a", common/ids.h) as paths, queries, cursors
 * and bodies give them, through id_parse and the handlers' api_parse_id and api_name_id.
 *
 * An id accepted for a prefix is exactly the text id_format writes for its number (one
 * spelling per object: no case folding, no look-alike letters); api_parse_id (paths) accepts
 * it when and only when its number is in 1..max, and api_name_id (bodies, queries) when
 * id_parse does, giving its number when in 1..max and max (a number no object has: an unknown
 * id) otherwise. The first 8 bytes, read as a number, must survive
 * id_format and id_parse for every prefix. Every check runs under both codecs: the fixed
 * scramble and a keyed one (src/server/idkey.c, the server's).
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "server/apijson.h"
#include "server/idkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prefixes[] = {ID_TENANT, ID_HOST, ID_RENTAL, ID_COUPON, ID_KEY};

static void fail(const char *what, const char *text, uint64_t n)
{
    fprintf(stderr, "fuzz_ids: %s: \"%s\" (%llu)\n", what, text, (unsigned long long)n);
    abort();
}

static void check(const uint8_t *data, size_t size, char *s);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct idkey key = {.key = "fuzz-ids-key-16b"};
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    ids_set_codec(NULL);
    check(data, size, s);
    ids_set_codec(&(struct id_codec){idkey_encode, idkey_decode, &key});
    check(data, size, s);
    ids_set_codec(NULL);
    free(s);
    return 0;
}

static void check(const uint8_t *data, size_t size, char *s)
{
    char buf[ID_STR_MAX];
    uint64_t n = 0, m = 0;

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
        api = api_name_id(p, s, UINT32_MAX, &m);
        if ((api == 0) != parsed || (api == 0 && m != (n >= 1 && n <= UINT32_MAX ? n : UINT32_MAX)))
            fail("api_name_id disagrees with id_parse", s, n);
    }
    if (size >= 8) {
        memcpy(&n, data, 8);
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
            id_format(buf, prefixes[i], n);
            if (strlen(buf) != 17 || id_parse(&m, prefixes[i], buf) != 0 || m != n)
                fail("id_format does not parse back", buf, n);
        }
    }
}
