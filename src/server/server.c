/*
 * server.c - `gpurent serve`: options, start-up (store, replay, keys), serving, shutdown.
 */
#include "../common/compat.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/err.h"
#include "../common/ids.h"
#include "../engine/money.h"
#include "../store/store.h"
#include "server.h"

#ifndef GPURENT_VERSION
#define GPURENT_VERSION "0.1.0"
#endif

static struct server the_server; /* the process's one server (see server.h) */

static const char serve_usage[] =
    "usage: gpurent serve [--listen ADDR:PORT] [--data-dir DIR] [--demo] [options]\n"
    "\n"
    "Run the control plane: the REST API (see docs/openapi.yaml) over a durable SQLite\n"
    "database in the data directory.\n"
    "\n"
    "  --listen ADDR:PORT       where to listen (env GPURENT_LISTEN; default 127.0.0.1:8080)\n"
    "  --data-dir DIR           the database and settings (env GPURENT_DATA_DIR;\n"
    "                           default ./gpurent-data)\n"
    "  --demo                   also run a simulated fleet (labelled simulated) and a demo\n"
    "                           tenant, and print their keys\n"
    "  --threads N              HTTP worker threads (default 16)\n"
    "  --heartbeat-timeout S    a host silent S seconds is down (default 60)\n"
    "  --lost-after S           a host down S seconds loses its rentals (default 300)\n"
    "  --idle-minute-seconds S  the length of a minute of rentals' idle_stop rules (60);\n"
    "                           for tests\n"
    "  --preempt-notice S       the notice a spot rental gets before preemption (default 30)\n"
    "  --insufficient-grace S   how long rentals run on once the balance reaches zero (300)\n"
    "  --package-stop-fee-bp N  the fee on the unused part of a package stopped early, in\n"
    "                           basis points (0 to 10000; default 0)\n"
    "  --log-level N            0 quiet, 1 start-up and errors (default), 2 also one line\n"
    "                           per request (method, path, status, microseconds)\n"
    "  --rate-limit R[:B]       per key (per client address on public routes): R requests\n"
    "                           a second (decimals allowed), bursts of B (env\n"
    "                           GPURENT_RATE_LIMIT; default 100:200; 0 disables);\n"
    "                           admin keys are not limited\n"
    "  --rate-limit-create R[:B]  the same for creation routes (tenants, keys, credits,\n"
    "                           coupons, join tokens, rentals, agent registration), on\n"
    "                           top (env GPURENT_RATE_LIMIT_CREATE; default 10:50)\n"
    "  --idle-timeout S         close a connection silent for S seconds, or whose request\n"
    "                           has not arrived whole S seconds after the connection\n"
    "                           opened or the previous reply (env GPURENT_IDLE_TIMEOUT;\n"
    "                           default 30); parked heartbeats are exempt\n"
    "  --metrics WHO            who may read GET /metrics: public (default), admin (an\n"
    "                           admin key) or off (404) (env GPURENT_METRICS)\n"
    "\n"
    "The first admin key comes from GPURENT_ADMIN_KEY, or is generated at the first start\n"
    "and printed once.\n";

static int parse_seconds(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < 0 || v > 100LL * 365 * 86400)
        return ERR_INVALID;
    *out = v * USEC_PER_SEC;
    return 0;
}

/* Rate limits and timeouts a real operator would start with: a client script or console
 * makes a few requests a second; ten new rentals a second per key is far beyond any
 * honest use, and bursts of 50 let a script start a batch at once. */
#define RATE_DEFAULT              100
#define RATE_DEFAULT_BURST        200
#define RATE_CREATE_DEFAULT       10
#define RATE_CREATE_DEFAULT_BURST 50
#define IDLE_TIMEOUT_DEFAULT      30

static int rate_env(const char *name, struct rate_config *out)
{
    const char *env = getenv(name);

    if (env == NULL || *env == '\0')
        return 0;
    if (rate_parse(env, out) < 0) {
        fprintf(stderr, "gpurent: serve: %s: RATE or RATE:BURST expected\n", name);
        return ERR_INVALID;
    }
    return 0;
}

static int parse_idle(const char *s, unsigned *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 3600)
        return ERR_INVALID;
    *out = (unsigned)v;
    return 0;
}

static int idle_env(unsigned *out)
{
    const char *env = getenv("GPURENT_IDLE_TIMEOUT");

    if (env == NULL || *env == '\0')
        return 0;
    if (parse_idle(env, out) < 0) {
        fprintf(stderr, "gpurent: serve: GPURENT_IDLE_TIMEOUT: 1 to 3600 seconds expected\n");
        return ERR_INVALID;
    }
    return 0;
}

static int parse_metrics(const char *s, enum metrics_access *out)
{
    if (strcmp(s, "public") == 0)
        *out = METRICS_PUBLIC;
    else if (strcmp(s, "admin") == 0)
        *out = METRICS_ADMIN;
    else if (strcmp(s, "off") == 0)
        *out = METRICS_OFF;
    else
        return ERR_INVALID;
    return 0;
}

static int parse_options(int argc, char **argv, struct serve_options *o)
{
    const char *env;

    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:8080";
    o->data_dir = "./gpurent-data";
    o->log_level = 1;
    o->threads = 16;
    o->idle_minute_us = 60 * USEC_PER_SEC;
    engine_config_defaults(&o->engine);
    o->rate_all = (struct rate_config){RATE_DEFAULT * 1000000LL, RATE_DEFAULT_BURST};
    o->rate_create =
        (struct rate_config){RATE_CREATE_DEFAULT * 1000000LL, RATE_CREATE_DEFAULT_BURST};
    o->idle_timeout_s = IDLE_TIMEOUT_DEFAULT;
    if (rate_env("GPURENT_RATE_LIMIT", &o->rate_all) < 0 ||
        rate_env("GPURENT_RATE_LIMIT_CREATE", &o->rate_create) < 0 ||
        idle_env(&o->idle_timeout_s) < 0)
        return ERR_INVALID;
    if ((env = getenv("GPURENT_METRICS")) != NULL && *env && parse_metrics(env, &o->metrics) < 0) {
        fprintf(stderr, "gpurent: serve: GPURENT_METRICS must be public, admin or off\n");
        return ERR_INVALID;
    }
    if ((env = getenv("GPURENT_LISTEN")) != NULL && *env)
        o->listen = env;
    if ((env = getenv("GPURENT_DATA_DIR")) != NULL && *env)
        o->data_dir = env;
    if ((env = getenv("GPURENT_LOG_LEVEL")) != NULL && env[0] >= '0' && env[0] <= '2' && !env[1])
        o->log_level = env[0] - '0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(serve_usage, stdout);
            return 1;
        } else if (strcmp(a, "--demo") == 0) {
            o->demo = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "gpurent: serve: %s needs a value\n%s", a, serve_usage);
            return ERR_INVALID;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            o->listen = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->data_dir = v;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = (unsigned)atoi(v);
            if (o->threads == 0 || o->threads > 256) {
                fprintf(stderr, "gpurent: serve: --threads must be 1 to 256\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--heartbeat-timeout") == 0) {
            if (parse_seconds(v, &o->engine.heartbeat_timeout) < 0) {
                fprintf(stderr, "gpurent: serve: --heartbeat-timeout: seconds expected\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--lost-after") == 0) {
            if (parse_seconds(v, &o->engine.lost_after) < 0) {
                fprintf(stderr, "gpurent: serve: --lost-after: seconds expected\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--idle-minute-seconds") == 0) {
            if (parse_seconds(v, &o->idle_minute_us) < 0 || o->idle_minute_us == 0) {
                fprintf(stderr, "gpurent: serve: --idle-minute-seconds: seconds expected\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--rate-limit") == 0 || strcmp(a, "--rate-limit-create") == 0) {
            if (rate_parse(v, a[12] ? &o->rate_create : &o->rate_all) < 0) {
                fprintf(stderr,
                        "gpurent: serve: %s: RATE or RATE:BURST expected (requests a "
                        "second, like 100 or 0.5; 0 disables)\n",
                        a);
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (parse_idle(v, &o->idle_timeout_s) < 0) {
                fprintf(stderr, "gpurent: serve: --idle-timeout: 1 to 3600 seconds expected\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--preempt-notice") == 0) {
            if (parse_seconds(v, &o->engine.preempt_notice) < 0) {
                fprintf(stderr, "gpurent: serve: --preempt-notice: seconds expected\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--insufficient-grace") == 0) {
            if (parse_seconds(v, &o->engine.insufficient_grace) < 0) {
                fprintf(stderr, "gpurent: serve: --insufficient-grace: seconds expected\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--package-stop-fee-bp") == 0) {
            char *end;
            long bp;
            errno = 0;
            bp = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || bp < 0 || bp > 10000) {
                fprintf(stderr, "gpurent: serve: --package-stop-fee-bp must be 0 to 10000\n");
                return ERR_INVALID;
            }
            o->engine.package_stop_fee_bp = (uint32_t)bp;
        } else if (strcmp(a, "--metrics") == 0) {
            if (parse_metrics(v, &o->metrics) < 0) {
                fprintf(stderr, "gpurent: serve: --metrics must be public, admin or off\n");
                return ERR_INVALID;
            }
        } else if (strcmp(a, "--log-level") == 0) {
            if (strlen(v) != 1 || v[0] < '0' || v[0] > '2') {
                fprintf(stderr, "gpurent: serve: --log-level must be 0, 1 or 2\n");
                return ERR_INVALID;
            }
            o->log_level = v[0] - '0';
        } else {
            fprintf(stderr, "gpurent: serve: unknown option \"%s\"\n%s", a, serve_usage);
            return ERR_INVALID;
        }
    }
    if (o->engine.lost_after < o->engine.heartbeat_timeout) {
        fprintf(stderr, "gpurent: serve: --lost-after must not be shorter than "
                        "--heartbeat-timeout\n");
        return ERR_INVALID;
    }
    return 0;
}

#define KEY_USE_FLUSH_US (60 * USEC_PER_SEC)

/* The batch hook: keys' last use reaches the store at most once a minute per key, and the
 * keyring is walked at most every 10 s. */
static int flush_key_use(void *arg, struct store *st, int64_t now, char *err, size_t cap)
{
    static int64_t last; /* engine thread only */
    struct server *s = arg;

    if (now - last < 10 * USEC_PER_SEC)
        return 0;
    last = now;
    return keyring_flush(&s->keys, st, KEY_USE_FLUSH_US, err, cap);
}

static int flush_all_key_use(struct core_job *job, struct engine *e, struct store *st, int64_t now)
{
    char err[256];
    (void)e;
    (void)now;
    return keyring_flush(job->ctx, st, 0, err, sizeof(err));
}

static int load_key(void *ctx, const struct key_record *k)
{
    return keyring_add(ctx, k);
}

static int load_idem(void *ctx, const char *scope, const char *key,
                     const unsigned char body_hash[32], int status, const char *reply)
{
    return idem_put(ctx, scope, key, body_hash, status, reply);
}

/* core.h's reload: after a batch failed to commit, the keys and idempotency replies in
 * memory become exactly the stored ones again. */
static int reload_records(void *arg, struct store *st, char *err, size_t cap)
{
    struct server *s = arg;
    int rc = keyring_reload(&s->keys, st, err, cap);

    return rc < 0 ? rc : idem_reload(&s->idem, st, err, cap);
}

/* The server's secret for keyed hashes: from the store, or made and stored at first start. */
static int load_secret(struct store *st, unsigned char secret[AUTH_SECRET_LEN], char *err,
                       size_t cap)
{
    char hex[2 * AUTH_SECRET_LEN + 1];
    size_t len;
    int rc = store_meta_get(st, "auth_secret", hex, sizeof(hex), err, cap);

    if (rc == 0) {
        if (sodium_hex2bin(secret, AUTH_SECRET_LEN, hex, strlen(hex), NULL, &len, NULL) != 0 ||
            len != AUTH_SECRET_LEN) {
            snprintf(err, cap, "the stored auth_secret is damaged");
            return ERR_IO;
        }
        return 0;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    randombytes_buf(secret, AUTH_SECRET_LEN);
    sodium_bin2hex(hex, sizeof(hex), secret, AUTH_SECRET_LEN);
    if ((rc = store_begin(st, err, cap)) < 0)
        return rc;
    if ((rc = store_meta_put(st, "auth_secret", hex, err, cap)) < 0 ||
        (rc = store_commit(st, err, cap)) < 0) {
        store_rollback(st);
        return rc;
    }
    return 0;
}

/* Keyed ids (idkey.h) from here on, before anything formats or parses an id. A database
 * without an auth secret yet is being created (load_secret makes it next): it gets a key.
 * The key is stored first, so a crash between the two leaves a keyed database. */
static int load_id_key(struct server *s, char *err, size_t cap)
{
    char hex[2 * AUTH_SECRET_LEN + 1];
    bool keyed = false;
    int rc = store_meta_get(core_store(s->core), "auth_secret", hex, sizeof(hex), err, cap);

    if (rc < 0 && rc != ERR_NOTFOUND)
        return rc;
    rc = idkey_load(core_store(s->core), rc == ERR_NOTFOUND, &s->idkey, &keyed, err, cap);

    if (rc == 0 && keyed)
        ids_set_codec(&(struct id_codec){idkey_encode, idkey_decode, &s->idkey});
    else if (rc == 0 && s->log_level >= 1)
        printf("gpurent: ids keep the fixed scramble of this database's first version "
               "(docs/security.md)\n");
    return rc;
}

static bool has_admin_key(struct keyring *k)
{
    bool found = false;

    pthread_mutex_lock(&k->lock);
    for (uint32_t i = 0; i < k->count && !found; i++)
        found = k->keys[i].role == ROLE_ADMIN && k->keys[i].revoked_at == 0;
    pthread_mutex_unlock(&k->lock);
    return found;
}

static int store_new_key(struct server *s, const struct key_record *rec, char *err, size_t cap)
{
    struct store *st = core_store(s->core);
    int rc;

    if ((rc = store_begin(st, err, cap)) < 0)
        return rc;
    if ((rc = store_put_key(st, rec, err, cap)) < 0 || (rc = store_commit(st, err, cap)) < 0) {
        store_rollback(st);
        return rc;
    }
    return keyring_add(&s->keys, rec);
}

static int put_key_after(struct core_job *job, struct engine *e, struct store *st, int64_t now)
{
    char err[256];
    (void)e;
    (void)now;
    return store_put_key(st, job->ctx, err, sizeof(err));
}

/* Store a key once the engine thread owns the store: as a job of its own. */
static int store_key_via_core(struct server *s, const struct key_record *rec, char *err, size_t cap)
{
    struct core_job job = {.after = put_key_after, .ctx = (void *)rec};

    if (core_submit(s->core, &job) < 0) {
        snprintf(err, cap, "the server is stopping");
        return ERR_IO;
    }
    return keyring_add(&s->keys, rec);
}

/* GPURENT_ADMIN_KEY, or a key generated and printed once at the first start. */
static int ensure_admin_key(struct server *s, char *err, size_t cap)
{
    const char *env = getenv("GPURENT_ADMIN_KEY");
    struct key_record rec;
    struct principal who;
    char text[KEY_TEXT_MAX];
    int rc;

    if (env != NULL && *env) {
        if (!key_well_formed(env)) {
            snprintf(err, cap,
                     "GPURENT_ADMIN_KEY is not a well-formed gpurent key (gpr_...); "
                     "unset it to have one generated");
            return ERR_INVALID;
        }
        rc = keyring_lookup(&s->keys, env, &who);
        if (rc == ERR_CONFLICT) {
            snprintf(err, cap, "GPURENT_ADMIN_KEY was revoked; set another key, or unset it");
            return ERR_INVALID;
        }
        if (rc == 0) {
            if (who.role == ROLE_ADMIN)
                return 0;
            snprintf(err, cap, "GPURENT_ADMIN_KEY is a %s key, not an admin key",
                     who.role == ROLE_TENANT ? "tenant" : "agent");
            return ERR_INVALID;
        }
        keyring_record_for(&s->keys, env, ROLE_ADMIN, core_clock_now(), &rec);
        return store_new_key(s, &rec, err, cap);
    }
    if (has_admin_key(&s->keys))
        return 0;
    keyring_mint(&s->keys, ROLE_ADMIN, 0, 0, core_clock_now(), text, &rec);
    if (store_new_key(s, &rec, err, cap) < 0)
        return ERR_IO;
    printf("gpurent: admin key (shown once, keep it): %s\n", text);
    fflush(stdout);
    return 0;
}

/* --demo: an admin key for the demo's own use (the environment's, or a fresh one printed
 * now), then the simulated fleet. */
static int start_demo(struct server *s, const struct serve_options *o,
                      const struct serve_hooks *hooks, char *err, size_t cap)
{
    const char *env = getenv("GPURENT_ADMIN_KEY");
    char text[KEY_TEXT_MAX], url[128];
    struct key_record rec;
    int rc;

    if (hooks == NULL || hooks->demo_start == NULL) {
        snprintf(err, cap, "this build has no demo fleet");
        return ERR_INVALID;
    }
    if (env != NULL && *env) {
        snprintf(text, sizeof(text), "%s", env);
    } else {
        keyring_mint(&s->keys, ROLE_ADMIN, 0, 0, core_clock_now(), text, &rec);
        rc = store_key_via_core(s, &rec, err, cap);
        if (rc < 0)
            return rc;
        printf("gpurent: demo admin key: %s\n", text);
    }
    snprintf(url, sizeof(url), "http://%.*s:%u", (int)(strrchr(o->listen, ':') - o->listen),
             o->listen, http_port(s->http));
    fflush(stdout);
    return hooks->demo_start(url, text, &s->demo, err, cap);
}

int serve_main(int argc, char **argv, const struct serve_hooks *hooks)
{
    struct server *s = &the_server;
    struct serve_options o;
    struct core_config cc;
    unsigned char secret[AUTH_SECRET_LEN];
    char err[512], db[4096];
    sigset_t sigs;
    int sig, rc, status = 1;

    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (sodium_init() < 0) {
        fprintf(stderr, "gpurent: serve: libsodium failed to initialise\n");
        return 1;
    }
    if (mkdir(o.data_dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "gpurent: serve: cannot create %s: %s\n", o.data_dir, strerror(errno));
        return 1;
    }
    snprintf(db, sizeof(db), "%s/gpurent.db", o.data_dir);
    memset(s, 0, sizeof(*s));
    snprintf(s->currency, sizeof(s->currency), "CNY");
    s->log_level = o.log_level;
    s->idle_minute_us = o.idle_minute_us;
    rate_init(&s->rate_all, o.rate_all, 0);
    rate_init(&s->rate_create, o.rate_create, 0);
    s->idle_timeout_s = o.idle_timeout_s;
    s->metrics = o.metrics;
    snprintf(s->version, sizeof(s->version), "%s", GPURENT_VERSION);
    cc.db_path = db;
    cc.engine = o.engine;
    cc.batch_hook = flush_key_use;
    cc.batch_arg = s;
    cc.reload = reload_records;
    cc.reload_arg = s;
    /* handle SIGINT/SIGTERM in this thread only: block them before any thread starts */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = core_open(&s->core, &cc, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "gpurent: serve: %s\n", err);
        return 1;
    }
    if (store_open_reader(&s->reader, db, err, sizeof(err)) < 0 ||
        load_id_key(s, err, sizeof(err)) < 0 ||
        load_secret(core_store(s->core), secret, err, sizeof(err)) < 0 ||
        keyring_init(&s->keys, secret) < 0 || idem_init(&s->idem) < 0 ||
        store_load_keys(core_store(s->core), load_key, &s->keys, err, sizeof(err)) < 0 ||
        store_load_idempotent(core_store(s->core), load_idem, &s->idem, err, sizeof(err)) < 0 ||
        api_load_records(s, core_store(s->core), err, sizeof(err)) < 0 ||
        ensure_admin_key(s, err, sizeof(err)) < 0) {
        fprintf(stderr, "gpurent: serve: %s\n", err);
        goto out;
    }
    sodium_memzero(secret, sizeof(secret));
    s->started_at = core_clock_now();
    /* HTTP first, so the engine thread's host-change hook is in place before it runs;
       requests that arrive meanwhile wait in core_submit for it */
    if (http_start(&s->http, s, o.listen, o.threads, err, sizeof(err)) < 0 ||
        (core_on_host_change(s->core, http_host_changed, s->http),
         core_start(s->core, err, sizeof(err)) < 0)) {
        fprintf(stderr, "gpurent: serve: %s\n", err);
        goto out;
    }
    if (o.log_level >= 1)
        printf("gpurent: serving on http://%.*s:%u (data in %s)\n",
               (int)(strrchr(o.listen, ':') - o.listen), o.listen, http_port(s->http), o.data_dir);
    fflush(stdout);
    if (o.demo && start_demo(s, &o, hooks, err, sizeof(err)) < 0) {
        fprintf(stderr, "gpurent: serve: demo: %s\n", err);
        goto out;
    }
    sigwait(&sigs, &sig);
    if (o.log_level >= 1)
        printf("gpurent: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out:
    if (s->demo != NULL && hooks != NULL && hooks->demo_stop != NULL)
        hooks->demo_stop(s->demo);
    http_stop(s->http);
    store_close_reader(s->reader); /* no handler runs once http_stop returned */
    if (status == 0) {             /* the keys' last use, to the second, before the store closes */
        struct core_job job = {.after = flush_all_key_use, .ctx = &s->keys};
        core_submit(s->core, &job);
    }
    core_close(s->core);
    keyring_release(&s->keys);
    idem_release(&s->idem);
    api_release_records(s);
    rate_release(&s->rate_all);
    rate_release(&s->rate_create);
    ids_set_codec(NULL);
    return status;
}

/* ---- `gpurent routes --json` ----------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

int serve_routes_main(int argc, char **argv)
{
    static const struct {
        unsigned bit;
        const char *name;
    } roles[] = {{ROLE_PUBLIC, "public"},
                 {ROLE_ADMIN, "admin"},
                 {ROLE_TENANT, "tenant"},
                 {ROLE_AGENT, "agent"}};

    if (argc != 2 || strcmp(argv[1], "--json") != 0) {
        fprintf(stderr, "usage: gpurent routes --json\n");
        return 2;
    }
    printf("[");
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *r = &http_routes[i];
        bool first = true;

        printf("%s\n {\"method\":", i ? "," : "");
        json_str(stdout, r->method);
        printf(",\"pattern\":");
        json_str(stdout, r->pattern);
        printf(",\"roles\":[");
        for (size_t k = 0; k < ARRAY_SIZE(roles); k++) {
            if (r->roles & roles[k].bit) {
                printf("%s\"%s\"", first ? "" : ",", roles[k].name);
                first = false;
            }
        }
        printf("],\"create\":%s,\"summary\":", r->create ? "true" : "false");
        json_str(stdout, r->summary);
        printf("}");
    }
    printf("\n]\n");
    return fflush(stdout) == 0 ? 0 : 1;
}
