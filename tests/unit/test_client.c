/*
 * test_client.c - the libcurl API client against a scripted HTTP server in a thread.
 *
 * The server here is deliberately tiny: it accepts one connection at a time, reads requests
 * (headers and a Content-Length body), records the last one, and answers each with the
 * reply the test scripted. That is enough to check what the client sends (method, path,
 * headers, body), how it reads replies (JSON, problem+json details, sizes, statuses), that
 * it keeps its connection alive, and that one client is safe to share between threads.
 */
#include "common/compat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/client.h"
#include "common/err.h"

#define REQ_MAX (64 * 1024)

struct fake {
    int listen_fd;
    unsigned port;
    pthread_t thread;
    pthread_mutex_t lock;
    /* the scripted reply */
    int status;
    const char *content_type;
    char *body; /* owned */
    /* what was received */
    char last_request[REQ_MAX]; /* head and body of the last request */
    unsigned connections;
    unsigned requests;
};

static struct fake fake;

static void fake_reply(int status, const char *content_type, const char *body)
{
    pthread_mutex_lock(&fake.lock);
    fake.status = status;
    fake.content_type = content_type;
    free(fake.body);
    fake.body = strdup(body);
    pthread_mutex_unlock(&fake.lock);
}

/* Read one request from fd into buf: its length, or -1 when the peer closed. */
static ssize_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0, need = 0;
    char *head_end = NULL;

    for (;;) {
        ssize_t n;

        if (head_end != NULL && len >= need)
            return (ssize_t)len;
        if (len + 1 >= cap)
            return -1;
        n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (head_end == NULL && (head_end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");

            need = (size_t)(head_end + 4 - buf);
            if (cl != NULL && cl < head_end)
                need += strtoul(cl + 17, NULL, 10);
        }
    }
}

static void *fake_main(void *arg)
{
    static char buf[REQ_MAX];

    (void)arg;
    for (;;) {
        int fd = accept(fake.listen_fd, NULL, NULL);

        if (fd < 0)
            return NULL;
        pthread_mutex_lock(&fake.lock);
        fake.connections++;
        pthread_mutex_unlock(&fake.lock);
        for (;;) {
            ssize_t n = read_request(fd, buf, sizeof(buf));
            char *reply = NULL;
            int len;

            if (n < 0)
                break;
            pthread_mutex_lock(&fake.lock);
            fake.requests++;
            memcpy(fake.last_request, buf, (size_t)n + 1);
            len = asprintf(&reply,
                           "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                           "Connection: keep-alive\r\n\r\n%s",
                           fake.status, fake.content_type, strlen(fake.body), fake.body);
            pthread_mutex_unlock(&fake.lock);
            if (len < 0 || write(fd, reply, (size_t)len) != len) {
                free(reply);
                break;
            }
            free(reply);
        }
        close(fd);
    }
}

static int fake_start(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);

    (void)state;
    memset(&fake, 0, sizeof(fake));
    pthread_mutex_init(&fake.lock, NULL);
    fake_reply(200, "application/json", "{}");
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fake.listen_fd < 0 || bind(fake.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fake.listen_fd, 8) != 0 ||
        getsockname(fake.listen_fd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    fake.port = ntohs(sa.sin_port);
    return pthread_create(&fake.thread, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
    (void)state;
    shutdown(fake.listen_fd, SHUT_RDWR);
    close(fake.listen_fd);
    pthread_join(fake.thread, NULL);
    free(fake.body);
    return 0;
}

static struct client *new_client(const char *key)
{
    struct client *c = NULL;
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", fake.port);
    assert_int_equal(client_new(&c, url, key), 0);
    return c;
}

static const char *last_request(void)
{
    static char copy[REQ_MAX];

    pthread_mutex_lock(&fake.lock);
    memcpy(copy, fake.last_request, sizeof(copy));
    pthread_mutex_unlock(&fake.lock);
    return copy;
}

static void test_get_json(void **state)
{
    struct client *c = new_client("gpr_test");
    json_t *reply = NULL;
    int status = 0;

    (void)state;
    fake_reply(200, "application/json", "{\"status\":\"ok\",\"n\":3}");
    assert_int_equal(client_request(c, "GET", "/healthz", NULL, &status, &reply), 0);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "ok");
    assert_non_null(strstr(last_request(), "GET /healthz HTTP/1.1\r\n"));
    assert_non_null(strstr(last_request(), "\r\nAuthorization: Bearer gpr_test\r\n"));
    assert_non_null(strstr(last_request(), "\r\nAccept: application/json\r\n"));
    assert_int_not_equal(client_base_url(c)[strlen(client_base_url(c)) - 1], '/');
    json_decref(reply);
    client_free(c);
}

static void test_post_body_and_headers(void **state)
{
    struct client *c = new_client(NULL);
    struct client_opts opts = {.idempotency_key = "retry-1"};
    json_t *body = json_pack("{s:s,s:i}", "gpu_model", "A100-80G", "gpu_count", 2);
    json_t *reply = NULL;
    const char *req;
    int status = 0;

    (void)state;
    fake_reply(201, "application/json", "{\"id\":\"rnt_1\"}");
    assert_int_equal(client_request_opts(c, "POST", "/v1/rentals", body, &opts, &status, &reply),
                     0);
    assert_int_equal(status, 201);
    assert_string_equal(json_string_value(json_object_get(reply, "id")), "rnt_1");
    req = last_request();
    assert_non_null(strstr(req, "POST /v1/rentals HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(req, "\r\nIdempotency-Key: retry-1\r\n"));
    assert_null(strstr(req, "Authorization:")); /* no key, no header */
    assert_non_null(strstr(req, "\r\n\r\n{\"gpu_model\":\"A100-80G\",\"gpu_count\":2}"));
    json_decref(reply);

    /* PUT and DELETE carry the method; an empty POST sends Content-Length: 0 */
    assert_int_equal(client_request(c, "PUT", "/v1/prices/A100-80G", body, &status, NULL), 0);
    assert_non_null(strstr(last_request(), "PUT /v1/prices/A100-80G HTTP/1.1\r\n"));
    assert_int_equal(client_request(c, "POST", "/v1/rentals/rnt_1/stop", NULL, &status, NULL), 0);
    assert_non_null(strstr(last_request(), "\r\nContent-Length: 0\r\n"));
    json_decref(body);
    client_free(c);
}

static void test_problem_details(void **state)
{
    static const struct {
        int status;
        int code;
        const char *body, *msg;
    } cases[] = {
        {404, ERR_NOTFOUND,
         "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,"
         "\"detail\":\"unknown rental \\\"rnt_x\\\"\"}",
         "404 not found: unknown rental \"rnt_x\""},
        {402, ERR_FUNDS, "{\"title\":\"Payment Required\",\"detail\":\"balance too low\"}",
         "402 payment required: balance too low"},
        {409, ERR_CONFLICT, "{\"detail\":\"no capacity\"}", "409 conflict: no capacity"},
        {400, ERR_INVALID, "{\"title\":\"Bad Request\"}", "400 bad request"},
        {401, ERR_INVALID, "", "401 unauthorized"},
        {500, ERR_IO, "oops\nmore", "500 internal server error: oops"},
    };
    struct client *c = new_client("gpr_k");

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *reply = NULL;
        int status = 0;

        fake_reply(cases[i].status, "application/problem+json", cases[i].body);
        assert_int_equal(client_request(c, "GET", "/v1/x", NULL, &status, &reply), cases[i].code);
        assert_int_equal(status, cases[i].status);
        assert_string_equal(client_errmsg(), cases[i].msg);
        if (cases[i].body[0] == '{')
            assert_non_null(reply); /* the problem is there to read */
        json_decref(reply);
    }
    client_free(c);
}

static void test_reply_limits(void **state)
{
    struct client *c = new_client(NULL);
    char big[2048];
    json_t *reply = NULL;
    int status = 0;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    client_set_reply_max(c, 1000);
    fake_reply(200, "application/json", big);
    assert_int_equal(client_request(c, "GET", "/big", NULL, &status, &reply), ERR_OVERFLOW);
    assert_null(reply);
    assert_non_null(strstr(client_errmsg(), "larger than 1000 bytes"));

    client_set_reply_max(c, 0); /* the default again */
    fake_reply(200, "application/json", "not json");
    assert_int_equal(client_request(c, "GET", "/text", NULL, &status, &reply), ERR_INVALID);
    assert_int_equal(status, 200);
    assert_non_null(strstr(client_errmsg(), "is not JSON"));

    /* the text interface takes anything */
    {
        char *text = NULL;
        size_t len = 0;

        fake_reply(200, "text/csv", "a,b\n1,2\n");
        assert_int_equal(
            client_request_text(c, "GET", "/v1/usage?format=csv", NULL, NULL, &status, &text, &len),
            0);
        assert_string_equal(text, "a,b\n1,2\n");
        assert_int_equal(len, 8);
        free(text);
    }
    fake_reply(204, "application/json", "");
    assert_int_equal(client_request(c, "DELETE", "/v1/keys/key_1", NULL, &status, &reply), 0);
    assert_int_equal(status, 204);
    assert_null(reply);
    client_free(c);
}

static void test_keep_alive(void **state)
{
    struct client *c = new_client(NULL);
    unsigned before;
    int status;

    (void)state;
    fake_reply(200, "application/json", "{}");
    assert_int_equal(client_request(c, "GET", "/a", NULL, &status, NULL), 0);
    pthread_mutex_lock(&fake.lock);
    before = fake.connections;
    pthread_mutex_unlock(&fake.lock);
    for (int i = 0; i < 20; i++)
        assert_int_equal(client_request(c, "GET", "/a", NULL, &status, NULL), 0);
    pthread_mutex_lock(&fake.lock);
    assert_int_equal(fake.connections, before); /* one connection served them all */
    pthread_mutex_unlock(&fake.lock);
    client_free(c);
}

struct worker {
    struct client *c;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 50; i++) {
        json_t *reply = NULL;
        int status = 0;

        if (client_request(w->c, "GET", "/shared", NULL, &status, &reply) != 0 ||
            !json_is_true(json_object_get(reply, "ok")))
            w->failures++;
        json_decref(reply);
    }
    return NULL;
}

static void test_shared_between_threads(void **state)
{
    struct client *c = new_client("gpr_shared");
    struct worker w[4];
    pthread_t t[4];

    (void)state;
    fake_reply(200, "application/json", "{\"ok\":true}");
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.c = c};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    client_free(c);
}

static void test_transport_and_arguments(void **state)
{
    struct client *c = NULL;
    int status = -1, fd;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    char url[64];

    (void)state;
    /* a port nobody listens on: bound here and never listened on, so a connection is
       refused, and kept bound until the request is done, so that no other process on the
       machine (another test's server) can take it meanwhile */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    assert_int_equal(client_new(&c, url, NULL), 0);
    assert_int_equal(client_request(c, "GET", "/healthz", NULL, &status, NULL), ERR_IO);
    close(fd);
    assert_int_equal(status, 0);
    assert_non_null(strstr(client_errmsg(), "cannot reach http://127.0.0.1:"));

    /* arguments that could smuggle headers or requests are refused before sending */
    assert_int_equal(client_set_key(c, "gpr_a\r\nX-Evil: 1"), ERR_INVALID);
    assert_int_equal(client_request(c, "GET", "no-slash", NULL, &status, NULL), ERR_INVALID);
    assert_int_equal(client_request(c, "GET", "/a b", NULL, &status, NULL), ERR_INVALID);
    assert_int_equal(client_request(c, "BREW", "/", NULL, &status, NULL), ERR_INVALID);
    client_free(c);

    c = NULL;
    assert_int_equal(client_new(&c, "ftp://example.com", NULL), ERR_INVALID);
    assert_null(c);
    assert_int_equal(client_new(&c, NULL, NULL), ERR_INVALID);
    client_free(NULL);
}

static void test_escape(void **state)
{
    char buf[32];

    (void)state;
    assert_int_equal(client_escape(buf, sizeof(buf), "rnt_5b3kq9-x.~"), 0);
    assert_string_equal(buf, "rnt_5b3kq9-x.~");
    assert_int_equal(client_escape(buf, sizeof(buf), "a b/c?d&e=\"\xc3\xa9"), 0);
    assert_string_equal(buf, "a%20b%2Fc%3Fd%26e%3D%22%C3%A9");
    assert_int_equal(client_escape(buf, 4, "abcd"), ERR_OVERFLOW);
    assert_int_equal(client_escape(buf, 4, "ab/"), ERR_OVERFLOW);
    assert_int_equal(client_escape(buf, 4, "abc"), 0);
    assert_int_equal(client_escape(buf, 1, ""), 0);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_json),
        cmocka_unit_test(test_post_body_and_headers),
        cmocka_unit_test(test_problem_details),
        cmocka_unit_test(test_reply_limits),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_shared_between_threads),
        cmocka_unit_test(test_transport_and_arguments),
        cmocka_unit_test(test_escape),
    };

    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
