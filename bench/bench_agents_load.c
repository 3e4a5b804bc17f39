/*
 * bench_agents_load.c - the create load of bench/bench_agents.py, in C so that the load
 * generator does not take the cores the server and the agents are measured on.
 *
 *   bench_agents_load URL TENANT_KEY START_EPOCH SECONDS THREADS TOUCH_DIR OUT [busybox]
 *
 * THREADS threads, each with its own keep-alive connection (src/client), wait until the
 * wall clock reaches START_EPOCH (seconds, fractional), then POST /v1/rentals (1 x A100-80G
 * on demand, workload `touch TOUCH_DIR/<thread>-<n>`, or `busybox touch ...`: a statically
 * linked touch, no dynamic loader) back to back for SECONDS. OUT gets one
 * line per 201: "RENTAL_ID T_SEND T_ACK FILE" (wall-clock seconds), and one line per other
 * answer: "error STATUS". A refused create is retried after 5 ms.
 */
#include "../src/common/compat.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/client/client.h"

struct worker {
    pthread_t thread;
    unsigned n;
    const char *url, *key, *dir;
    bool busybox; /* the workload is `busybox touch FILE` instead of coreutils' `touch FILE` */
    double start, seconds;
    FILE *out; /* shared: lines written under out_mu */
};

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static double wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct client *c = NULL;
    char file[512], *lines = NULL;
    size_t len = 0;
    FILE *buf = open_memstream(&lines, &len);
    double end = w->start + w->seconds;

    if (buf == NULL || client_new(&c, w->url, w->key) != 0) {
        fprintf(stderr, "bench_agents_load: %s\n", client_errmsg());
        exit(1);
    }
    while (wall() < w->start) {
        struct timespec ts = {0, 1000000};

        nanosleep(&ts, NULL);
    }
    for (unsigned n = 1;; n++) {
        json_t *body, *reply = NULL;
        int status = 0;
        double t0, t1;

        snprintf(file, sizeof(file), "%s/%u-%u", w->dir, w->n, n);
        /* ["touch", FILE], or ["busybox", "touch", FILE] */
        body = json_pack("{s:s,s:i,s:s,s:{s:[s*,s,s]}}", "gpu_model", "A100-80G", "gpu_count", 1,
                         "term", "on_demand", "workload", "command", w->busybox ? "busybox" : NULL,
                         "touch", file);
        t0 = wall();
        if (t0 >= end) {
            json_decref(body);
            break;
        }
        client_request(c, "POST", "/v1/rentals", body, &status, &reply);
        t1 = wall();
        if (status == 201 && json_is_string(json_object_get(reply, "id"))) {
            fprintf(buf, "%s %.6f %.6f %s\n", json_string_value(json_object_get(reply, "id")), t0,
                    t1, file);
        } else {
            struct timespec ts = {0, 5000000};

            fprintf(buf, "error %d\n", status);
            nanosleep(&ts, NULL);
        }
        json_decref(body);
        json_decref(reply);
    }
    fclose(buf);
    pthread_mutex_lock(&out_mu);
    fwrite(lines, 1, len, w->out);
    pthread_mutex_unlock(&out_mu);
    free(lines);
    client_free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    struct worker *ws;
    unsigned threads;
    FILE *out;

    if (argc != 8 && !(argc == 9 && strcmp(argv[8], "busybox") == 0)) {
        fprintf(stderr, "usage: bench_agents_load URL TENANT_KEY START_EPOCH SECONDS THREADS "
                        "TOUCH_DIR OUT [busybox]\n");
        return 2;
    }
    threads = (unsigned)strtoul(argv[5], NULL, 10);
    out = fopen(argv[7], "w");
    ws = calloc(threads, sizeof(*ws));
    if (threads == 0 || out == NULL || ws == NULL) {
        fprintf(stderr, "bench_agents_load: bad THREADS or cannot write %s\n", argv[7]);
        return 1;
    }
    for (unsigned i = 0; i < threads; i++) {
        ws[i] = (struct worker){.n = i,
                                .url = argv[1],
                                .key = argv[2],
                                .dir = argv[6],
                                .start = strtod(argv[3], NULL),
                                .seconds = strtod(argv[4], NULL),
                                .busybox = argc == 9,
                                .out = out};
        if (pthread_create(&ws[i].thread, NULL, work, &ws[i]) != 0)
            return 1;
    }
    for (unsigned i = 0; i < threads; i++)
        pthread_join(ws[i].thread, NULL);
    free(ws);
    return fclose(out) == 0 ? 0 : 1;
}
