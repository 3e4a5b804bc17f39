/*
 * test_fuzz_server.c - what the fuzz targets stand on: http_handle_local answers as the
 * network dispatcher does (route, key, role, content type, body checks, parked long-polls),
 * and the in-process server (fuzz_server.c) keeps and substitutes secrets and restarts.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fuzz_server.h"

static struct fuzz_server fs;

static int setup(void **state)
{
    (void)state;
    fuzz_server_open(&fs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fuzz_server_close(&fs);
    return 0;
}

/* Send one request in the text form; the status, and the reply's body in *body (free). */
static int send(const char *text, char **body)
{
    struct http_field headers[8];
    struct fuzz_request rq;
    char *copy = strdup(text), *cursor = copy;
    int status;

    assert_non_null(copy);
    assert_true(fuzz_script_next(&cursor, &rq, headers, 8));
    status = fuzz_server_request(&fs, &rq, body);
    free(copy);
    return status;
}

static void assert_reply(const char *text, int status, const char *needle)
{
    char *body = NULL;

    assert_int_equal(send(text, &body), status);
    assert_non_null(body);
    if (strstr(body, needle) == NULL)
        fail_msg("%s: %s has no \"%s\"", text, body, needle);
    free(body);
}

static void test_dispatcher_answers(void **state)
{
    (void)state;

    assert_reply("GET /nowhere", 404, "no such route: GET /nowhere");
    assert_reply("DELETE /v1/tenants", 405, "method DELETE is not allowed on /v1/tenants");
    assert_reply("GET /v1/tenants", 401, "missing API key");
    assert_reply("GET /v1/tenants\nAuthorization: Bearer gpr_nope", 401, "malformed API key");
    assert_reply("GET /v1/balance\nAuthorization: Bearer $0", 403, "not for admin keys");
    assert_reply("POST /v1/tenants\nAuthorization: Bearer $0\nContent-Type: text/plain\n\n{}", 415,
                 "application/json");
    assert_reply("POST /v1/tenants\nAuthorization: Bearer $0\n\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                 "[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
                 400, "JSON nesting deeper than 32 levels");
    assert_reply("GET /v1/tenants/tnt_9wdvsq5zmmz0n\nAuthorization: Bearer $0", 404, "tnt_");
    /* a path percent-decoded as libmicrohttpd does */
    assert_reply("GET /v1/%74enants?limit=0\nAuthorization: Bearer $0", 400, "limit");
    assert_reply("GET /healthz", 200, "\"ok\"");
    assert_reply("GET /v1/platform\nAuthorization: Bearer $0", 200, "\"currency\":\"CNY\"");
}

/* Bodies that the text form cannot carry: a NUL byte, more than HTTP_BODY_MAX bytes. */
static void test_body_limits(void **state)
{
    static const struct http_field admin[] = {{"Authorization", "Bearer $0"}};
    struct fuzz_request rq = {.method = "POST",
                              .target = "/v1/tenants",
                              .headers = admin,
                              .header_count = 1,
                              .body = "{\"name\":\"a\0\"}",
                              .body_len = 13};
    char *body = NULL, *big = malloc(HTTP_BODY_MAX + 2);
    (void)state;

    assert_int_equal(fuzz_server_request(&fs, &rq, &body), 400);
    assert_non_null(strstr(body, "NUL byte"));
    free(body);
    assert_non_null(big);
    memset(big, ' ', HTTP_BODY_MAX + 1);
    big[0] = '{';
    big[HTTP_BODY_MAX] = '}';
    rq.body = big;
    rq.body_len = HTTP_BODY_MAX + 1;
    assert_int_equal(fuzz_server_request(&fs, &rq, &body), 413);
    assert_non_null(strstr(body, "larger than 1048576 bytes"));
    free(body);
    free(big);
}

static void test_secrets_and_a_parked_heartbeat(void **state)
{
    (void)state;

    /* the tenant's key ($1) and key id ($2) come from the reply, then act as that tenant */
    assert_reply("POST /v1/tenants\nAuthorization: Bearer $0\n\n{\"name\":\"acme\"}", 201,
                 "\"id\":\"tnt_9wdvsq5zmmz0n\"");
    assert_int_equal(fs.secret_count, 3);
    assert_memory_equal(fs.secrets[1], "gpr_", 4);
    assert_memory_equal(fs.secrets[2], "key_", 4);
    assert_reply("GET /v1/balance\nAuthorization: Bearer $1", 200, "\"balance\":\"0.00\"");
    assert_reply("POST /v1/join-tokens\nAuthorization: Bearer $0\n\n{}", 201, "gjt_");
    assert_reply("POST /v1/agent/register\n\n{\"join_token\":\"$3\",\"hostname\":\"n1\",\"gpus\":"
                 "[{\"index\":0,\"uuid\":\"G0\",\"model\":\"A100-80G\",\"memory_mib\":1,"
                 "\"nvlink_island\":0}]}",
                 201, "\"host_id\":\"hst_9wdvsq5zmmz0n\"");
    /* nothing new for the agent: the handler parks, and is called again at once, resumed */
    assert_reply("POST /v1/agent/heartbeat?wait=30\nAuthorization: Bearer $4\n\n{}", 200,
                 "\"run\":[]");
    /* the join token was used: a second registration is refused */
    assert_reply("POST /v1/agent/register\n\n{\"join_token\":\"$3\",\"hostname\":\"n2\",\"gpus\":"
                 "[{\"index\":0,\"uuid\":\"G9\",\"model\":\"A100-80G\",\"memory_mib\":1,"
                 "\"nvlink_island\":0}]}",
                 401, "join_token: unknown, already used or expired");
    fuzz_server_check(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dispatcher_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_and_a_parked_heartbeat, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
