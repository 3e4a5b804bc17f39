/*
 * fuzz_query.c - what the server reads from a request besides its body: route matching
 * (any path, percent-decoded), path parameters (ids, GPU models, invoice months), query
 * arguments (limit, cursor, state, tenant_id, gpu_model, from, to, format, wait...) and the
 * Authorization header, through the real dispatcher and the GET handlers, on one server
 * holding the fleet (fuzz_server_open_fleet) kept for the whole run: GETs change no state,
 * so inputs do not depend on each other, and this target runs far faster than fuzz_api.
 *
 * The input is up to 4 requests in the text form (fuzz_server.h). They are sent as GETs
 * without a body, except POSTs to the two routes that only read (/v1/quotes and
 * /v1/economics/what-if), which keep their bodies: pricing and the economics' arithmetic
 * get the speed of this target too. Without an Authorization header a request carries the
 * admin key ("$0"; "$1" is a tenant's, "$6" the agent's).
 */
#include "common/compat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_server.h"

#define REQUESTS_MAX 4
#define HEADERS_MAX  16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is target exactly path, with or without a query? (Literal text: no escape can turn it
 * into another route.) */
static bool read_only(const char *target, const char *path)
{
    size_t n = strlen(path);

    return strncmp(target, path, n) == 0 && (target[n] == '\0' || target[n] == '?');
}

static struct fuzz_server fs;

/* At exit: stop the engine thread before the process goes (and restart-check the fleet). */
static void close_fleet(void)
{
    fuzz_server_close(&fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_field headers[HEADERS_MAX + 1];
    struct fuzz_request rq;
    char *text = malloc(size + 1), *cursor;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cursor = text;
    if (!fs.open) {
        fuzz_server_open_fleet(&fs);
        atexit(close_fleet);
    }
    for (int i = 0; i < REQUESTS_MAX && fuzz_script_next(&cursor, &rq, headers, HEADERS_MAX); i++) {
        bool has_auth = false;

        for (size_t h = 0; h < rq.header_count; h++)
            has_auth = has_auth || strcasecmp(headers[h].name, "Authorization") == 0;
        if (!has_auth)
            headers[rq.header_count++] = (struct http_field){"Authorization", "Bearer $0"};
        if (!(strcmp(rq.method, "POST") == 0 && (read_only(rq.target, "/v1/quotes") ||
                                                 read_only(rq.target, "/v1/economics/what-if")))) {
            rq.method = "GET";
            rq.body = NULL;
            rq.body_len = 0;
        }
        fuzz_server_request(&fs, &rq, NULL);
    }
    free(text);
    return 0;
}
