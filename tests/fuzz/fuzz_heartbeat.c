/*
 * fuzz_heartbeat.c - the agent's heartbeat as the server decodes it: POST
 * /v1/agent/heartbeat with the agent key of a registered host that runs a rental, on a fresh
 * copy of the fleet (fuzz_server_open_fleet).
 *
 * The input is up to 8 heartbeat bodies separated by lines "%%"; a body whose first line
 * starts with "?" takes that line as the query (the long-poll's wait=S). Covers the report
 * decoder (telemetry, rentals with id, epoch, state, exit_code, detail), what it changes
 * (rentals started, exited or failed; idle_stop clocks; telemetry records) and the reply
 * built from it. Fails as fuzz_api does.
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_server.h"

#define HEARTBEATS_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_server fs;
    static const struct http_field agent[] = {{"Authorization", "Bearer $6"}};
    char *text = malloc(size + 1), *chunk;
    int n = 0;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_server_open_fleet(&fs);
    for (chunk = text; chunk != NULL && n < HEARTBEATS_MAX; n++) {
        char *end = strstr(chunk, FUZZ_SEPARATOR), target[512];
        struct fuzz_request rq = {.method = "POST", .headers = agent, .header_count = 1};
        const char *query = "?wait=0";

        if (end != NULL)
            *end = '\0';
        if (chunk[0] == '?') {
            char *nl = strchr(chunk, '\n');
            query = chunk;
            if (nl != NULL)
                *nl = '\0';
            chunk = nl != NULL ? nl + 1 : chunk + strlen(chunk);
        }
        snprintf(target, sizeof(target), "/v1/agent/heartbeat%.400s", query);
        rq.target = target;
        rq.body = chunk;
        rq.body_len = strlen(chunk);
        fuzz_server_request(&fs, &rq, NULL);
        fuzz_server_check(&fs);
        chunk = end != NULL ? end + strlen(FUZZ_SEPARATOR) : NULL;
    }
    fuzz_server_close(&fs);
    free(text);
    return 0;
}
