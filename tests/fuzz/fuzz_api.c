/*
 * fuzz_api.c - the REST API as a whole: a script of requests (fuzz_server.h's text form)
 * sent to a fresh in-process server through the real route table, key and role checks and
 * handlers, over a real SQLite file.
 *
 * Covers route matching with any path, query arguments, the headers the server reads
 * (Authorization, Content-Type, Idempotency-Key), every JSON request body, and the state
 * the requests build (tenants, prices, coupons, hosts, rentals, agents' heartbeats). Fails
 * on a crash, a leak, a reply of the wrong shape or a 5xx (fuzz_server_request), a broken
 * engine invariant, or a state that does not come back after a restart.
 */
#include "common/compat.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_server.h"

#define REQUESTS_MAX 32
#define HEADERS_MAX  16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_server fs;
    struct http_field headers[HEADERS_MAX];
    struct fuzz_request rq;
    char *text = malloc(size + 1), *cursor;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cursor = text;
    fuzz_server_open(&fs);
    for (int i = 0; i < REQUESTS_MAX && fuzz_script_next(&cursor, &rq, headers, HEADERS_MAX); i++) {
        fuzz_server_request(&fs, &rq, NULL);
        fuzz_server_check(&fs); /* after each: a later request could hide a broken state */
    }
    fuzz_server_close(&fs);
    free(text);
    return 0;
}
