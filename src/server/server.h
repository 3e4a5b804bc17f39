/*
 * server.h - `gpurent serve`: the control plane process, and the one struct of its state.
 *
 * struct server is the only global state of the process (Redis's lesson): the core (engine
 * thread + store), the keys, the idempotency replies, the settings. Handlers reach it
 * through req->srv.
 */
#ifndef GPURENT_SERVER_H
#define GPURENT_SERVER_H

#include "../common/compat.h"
#include "../common/hmap.h"

#include <pthread.h>

#include "auth.h"
#include "core.h"
#include "http.h"
#include "idkey.h"
#include "ratelimit.h"

struct store_reader; /* store.h */

/* Who may read GET /metrics (serve --metrics): anyone, admin keys, or nobody (404). */
enum metrics_access { METRICS_PUBLIC, METRICS_ADMIN, METRICS_OFF };

struct server {
    struct core *core;
    struct store_reader *reader; /* history for reports (usage, invoices): a read-only
                                    connection of its own, never the engine thread's */
    struct http_server *http;
    struct keyring keys;    /* API keys (auth.h) */
    struct idem_table idem; /* Idempotency-Key replies (auth.h) */
    char currency[8];       /* "CNY" */
    void *demo;             /* the --demo fleet's state, or NULL */
    int log_level;          /* 0 quiet, 1 start-up and errors, 2 one line per request */
    int64_t idle_minute_us; /* the length of an idle_stop minute (60 s; tests shorten it) */
    char version[16];
    int64_t started_at;
    struct api_records *api;         /* the API layer's in-memory records (api/records.h) */
    struct rate_limiter rate_all;    /* every request, per key (or client address) */
    struct rate_limiter rate_create; /* creation routes, on top of rate_all */
    unsigned idle_timeout_s;         /* a connection idle (or trickling) this long is closed */
    struct idkey idkey;              /* ids' key (idkey.h), when ids are keyed */
    enum metrics_access metrics;     /* who may read GET /metrics */
};

struct serve_options {
    const char *listen;   /* "127.0.0.1:8080" */
    const char *data_dir; /* "./gpurent-data" */
    bool demo;
    int log_level; /* 0 quiet, 1 start-up and errors, 2 one line per request */
    int64_t idle_minute_us;
    unsigned threads;
    struct engine_config engine;
    struct rate_config rate_all, rate_create; /* rate 0: no limit */
    unsigned idle_timeout_s;
    enum metrics_access metrics;
};

/*
 * What `--demo` adds, provided from above the server (src/demo.c, beside main.c), so the
 * server never depends on the agent or the client: start a simulated fleet and a demo
 * tenant against the running server at url with an admin key; stop them.
 */
struct serve_hooks {
    int (*demo_start)(const char *url, const char *admin_key, void **state, char *err, size_t cap);
    void (*demo_stop)(void *state);
};

/* `gpurent serve ...`: parse options, open, serve until SIGINT/SIGTERM. Exit status. */
int serve_main(int argc, char **argv, const struct serve_hooks *hooks);
/* `gpurent routes --json` (not in the help): the route table as JSON, for tests and docs:
 * [{"method","pattern","roles":[...],"create","summary"}]. Exit status. */
int serve_routes_main(int argc, char **argv);

/*
 * The API layer's own records (join tokens, workloads...), loaded at start-up from the
 * store before serving (src/server/api/). 0 or an ERR_* code with err set.
 */
int api_load_records(struct server *s, struct store *st, char *err, size_t cap);
/* Free what api_load_records made (NULL-safe, at shutdown). */
void api_release_records(struct server *s);

#endif
