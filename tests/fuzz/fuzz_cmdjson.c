/*
 * fuzz_cmdjson.c - the command log's format (server/cmdjson.h), which every restart decodes.
 *
 * Any text: cmdjson_decode accepts it or says why, leaking nothing. A command it accepts
 * must encode (nothing decodes that could not be logged again), and its encoding must be a
 * fixed point: decoding it and encoding again gives the same text.
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cmdjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, const char *detail)
{
    fprintf(stderr, "fuzz_cmdjson: %s: %s (%s)\n", what, text, detail);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmdjson_decoded d, again;
    char err[256], *s = malloc(size + 1), *first = NULL, *second = NULL;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cmdjson_decode(&d, s, err, sizeof(err)) == 0) {
        first = cmdjson_encode(&d.cmd);
        if (first == NULL)
            fail("a decoded command does not encode", s, "");
        if (cmdjson_decode(&again, first, err, sizeof(err)) != 0)
            fail("an encoded command does not decode", first, err);
        second = cmdjson_encode(&again.cmd);
        if (second == NULL || strcmp(first, second) != 0)
            fail("encode(decode(encode(c))) differs", first, second ? second : "NULL");
        cmdjson_release(&again);
        cmdjson_release(&d);
    } else {
        cmdjson_release(&d); /* harmless on failure (cmdjson.h) */
    }
    free(first);
    free(second);
    free(s);
    return 0;
}
