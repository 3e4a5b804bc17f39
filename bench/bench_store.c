/*
 * bench_store.c - durable commands per second through the SQLite store (group commit).
 *
 * What the server's engine thread does for each batch of commands, without HTTP: for every
 * command, encode it (cmdjson), append it to the command log, and write its events to the
 * tables (store_put_events); then COMMIT, which fsyncs the WAL. Nothing counts as done before
 * the commit returns, so commands/s here is durable commands/s.
 *
 * The commands are real: an engine with a fleet of 8-GPU A100 hosts (one free GPU per
 * command), 1,000 funded tenants and an automatic 10% promotion on day packages applies
 * rental_create commands (1 GPU, a day package), so each command's JSON is a realistic
 * rental-create body (about 220 bytes) and its events are what the engine really emits for it:
 * the rental created, then placed, the package payment and its discount. Rows per command:
 * the log row, the rental (upsert), two history rows and two transfers: six, with their index
 * entries. The commands and events are made before the clock starts; the tenants, hosts and
 * models are written (untimed) to a fresh database per run.
 *
 * For each batch size (commands per transaction; default 1, 16, 128) a fresh database in a
 * temporary directory (--dir, default $TMPDIR or /tmp: the local disk) first gets --history
 * commands (default 20,000) untimed, in large transactions; then the clock runs over
 * --commands more (default 12,800). Every batch size thus does the same work on a database of
 * the same size (the cost of an insert grows with the indexes it lands in). Each batch size
 * runs --runs times; the table shows medians. It also measures the raw cost of
 * write + fsync of 4 KiB in the same directory, the floor under batch size 1.
 *
 * Output: a table, then one `RESULT {json}` line per metric and batch size (bench/run.sh).
 * Target (docs/benchmarks.md): >= 10,000 durable commands/s with batches of 128.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "engine/engine.h"
#include "engine/money.h"
#include "server/cmdjson.h"
#include "store/store.h"

#define MODEL         "A100-80G"
#define GPUS_PER_HOST 8
#define TENANTS       1000
#define START_TIME    INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */
#define TARGET_BATCH  128
#define TARGET_CMDS_S 10000.0
#define MAX_BATCHES   8
#define MAX_RUNS      99
#define ERR_CAP       512

struct options {
    uint32_t batches[MAX_BATCHES];
    uint32_t batch_count;
    uint32_t runs;
    uint64_t commands; /* measured commands per run */
    uint64_t history;  /* commands written untimed before the measured ones */
    const char *dir;
};

/* The prepared workload: setup events (untimed) and per-command events (timed). */
struct workload {
    struct engine *e;
    struct command *cmds; /* owned */
    uint64_t count;
    struct event *setup; /* owned */
    size_t setup_count;
    struct event *events; /* owned: every command's events, in order */
    size_t *ev_first;     /* owned: index of command i's first event */
    size_t *ev_count;     /* owned */
    size_t event_total;
    size_t json_bytes; /* total size of the encoded commands */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_store [--batches N[,N...]] [--runs N] [--commands N] [--history N]\n"
               "                   [--dir DIR] [--quick]\n"
               "  --batches   commands per transaction (default 1,16,128)\n"
               "  --runs      runs per batch size, median reported (default 3)\n"
               "  --commands  measured commands per run (default 12800)\n"
               "  --history   commands in the database before the clock starts (default 20000)\n"
               "  --dir       where the temporary databases go (default $TMPDIR or /tmp)\n"
               "  --quick     one run, 640 commands on 1000 (a smoke test)\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || *s == '\0')
        return ERR_INVALID;
    v = strtoull(s, &end, 10);
    if (*end != '\0')
        return ERR_INVALID;
    *out = v;
    return 0;
}

static int parse_batches(struct options *o, const char *s)
{
    char buf[128];
    char *save = NULL, *tok;
    uint64_t v;

    if (strlen(s) >= sizeof(buf))
        return ERR_INVALID;
    memcpy(buf, s, strlen(s) + 1);
    o->batch_count = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->batch_count == MAX_BATCHES || parse_u64(tok, &v) || v == 0 || v > 100000)
            return ERR_INVALID;
        o->batches[o->batch_count++] = (uint32_t)v;
    }
    return o->batch_count ? 0 : ERR_INVALID;
}

static int parse_options(struct options *o, int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    uint64_t v;
    int i;

    memset(o, 0, sizeof(*o));
    o->batches[0] = 1;
    o->batches[1] = 16;
    o->batches[2] = 128;
    o->batch_count = 3;
    o->runs = 3;
    o->commands = 12800;
    o->history = 20000;
    o->dir = tmp && *tmp ? tmp : "/tmp";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--quick")) {
            o->runs = 1;
            o->commands = 640;
            o->history = 1000;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (val == NULL)
            goto bad;
        i++;
        if (!strcmp(a, "--batches")) {
            if (parse_batches(o, val))
                goto bad;
        } else if (!strcmp(a, "--runs")) {
            if (parse_u64(val, &v) || v == 0 || v > MAX_RUNS)
                goto bad;
            o->runs = (uint32_t)v;
        } else if (!strcmp(a, "--commands")) {
            if (parse_u64(val, &v) || v == 0 || v > 10000000)
                goto bad;
            o->commands = v;
        } else if (!strcmp(a, "--history")) {
            if (parse_u64(val, &v) || v > 10000000)
                goto bad;
            o->history = v;
        } else if (!strcmp(a, "--dir")) {
            o->dir = val;
        } else {
            goto bad;
        }
    }
    return 0;
bad:
    fprintf(stderr, "bench_store: bad argument '%s'\n", argv[i < argc ? i : argc - 1]);
    usage(stderr);
    return ERR_INVALID;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted values. */
static double quantile(const double *v, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);

    return n ? v[i < n ? i : n - 1] : 0;
}

static double median(double *v, uint32_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- The workload ------------------------------------------------------------------------ */

static void apply_ok(struct engine *e, const struct command *c, int64_t now)
{
    struct result r;

    if (engine_apply(e, c, now, &r) != 0) {
        fprintf(stderr, "bench_store: setup command %d failed: %s\n", c->type, r.detail);
        exit(1);
    }
}

/* Drain every pending event into a growing array. */
static size_t drain_into(struct engine *e, struct event **arr, size_t *count, size_t *cap)
{
    struct event buf[256];
    size_t n, total = 0;

    while ((n = engine_drain_events(e, buf, ARRAY_SIZE(buf))) > 0) {
        if (*count + n > *cap) {
            size_t c = (*cap + n) * 2;
            struct event *a = realloc(*arr, c * sizeof(**arr));
            if (a == NULL) {
                fprintf(stderr, "bench_store: out of memory\n");
                exit(1);
            }
            *arr = a;
            *cap = c;
        }
        memcpy(*arr + *count, buf, n * sizeof(*buf));
        *count += n;
        total += n;
    }
    return total;
}

static void workload_make(struct workload *w, uint64_t count)
{
    struct engine_config cfg;
    struct command c;
    struct gpu_spec g[GPUS_PER_HOST];
    char uuids[GPUS_PER_HOST][48];
    char name[32];
    size_t setup_cap = 0, ev_cap = 0;
    uint32_t hosts = (uint32_t)((count + GPUS_PER_HOST - 1) / GPUS_PER_HOST);
    int64_t now = START_TIME;

    memset(w, 0, sizeof(*w));
    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0; /* no agents here */
    if (engine_new(&w->e, &cfg) != 0)
        exit(1);
    c = (struct command){.type = CMD_PRICE_SET};
    c.u.price_set.gpu_model = MODEL;
    c.u.price_set.memory_mib = 81920;
    c.u.price_set.on_demand_hourly = 7600000;
    c.u.price_set.spot_floor_hourly = 2000000;
    c.u.price_set.package[0] = 150000000;
    c.u.price_set.package[1] = 900000000;
    c.u.price_set.package[2] = 3500000000;
    apply_ok(w->e, &c, now);
    c = (struct command){.type = CMD_COUPON_CREATE};
    c.u.coupon_create = (struct cmd_coupon_create){
        .code = "DAY10", .percent_off_bp = 1000, .term = TERM_DAY, .automatic = true};
    apply_ok(w->e, &c, now);
    for (uint32_t h = 0; h < hosts; h++) {
        for (uint32_t i = 0; i < GPUS_PER_HOST; i++) {
            snprintf(uuids[i], sizeof(uuids[i]), "GPU-%08x-%u", h, i);
            g[i] = (struct gpu_spec){.index = i,
                                     .uuid = uuids[i],
                                     .model = MODEL,
                                     .memory_mib = 81920,
                                     .nvlink_island = i / 4};
        }
        snprintf(name, sizeof(name), "gpu-%05u.dc1", h);
        c = (struct command){.type = CMD_HOST_REGISTER};
        c.u.host_register = (struct cmd_host_register){name, g, GPUS_PER_HOST};
        apply_ok(w->e, &c, now);
    }
    for (uint32_t t = 0; t < TENANTS; t++) {
        snprintf(name, sizeof(name), "tenant-%04u", t);
        c = (struct command){.type = CMD_TENANT_CREATE};
        c.u.tenant_create.name = name;
        apply_ok(w->e, &c, now);
        c = (struct command){.type = CMD_CREDIT};
        c.u.credit.tenant = t + 1;
        c.u.credit.amount = INT64_C(100000000) * MONEY_UNIT;
        apply_ok(w->e, &c, now);
    }
    drain_into(w->e, &w->setup, &w->setup_count, &setup_cap);

    w->cmds = calloc(count, sizeof(*w->cmds));
    w->ev_first = calloc(count, sizeof(*w->ev_first));
    w->ev_count = calloc(count, sizeof(*w->ev_count));
    if (w->cmds == NULL || w->ev_first == NULL || w->ev_count == NULL)
        exit(1);
    for (uint64_t i = 0; i < count; i++) {
        struct command *rc = &w->cmds[i];
        char *text;

        now += 1000; /* 1 ms apart */
        rc->type = CMD_RENTAL_CREATE;
        rc->u.rental_create = (struct cmd_rental_create){.tenant = (uint32_t)(i % TENANTS) + 1,
                                                         .gpu_model = MODEL,
                                                         .gpu_count = 1,
                                                         .term = TERM_DAY,
                                                         .auto_renew = true,
                                                         .has_workload = true,
                                                         .restart = RESTART_ON_FAILURE};
        apply_ok(w->e, rc, now);
        w->ev_first[i] = w->event_total;
        w->ev_count[i] = drain_into(w->e, &w->events, &w->event_total, &ev_cap);
        text = cmdjson_encode(rc);
        w->json_bytes += strlen(text);
        free(text);
    }
    w->count = count;
}

static void workload_free(struct workload *w)
{
    free(w->cmds);
    free(w->setup);
    free(w->events);
    free(w->ev_first);
    free(w->ev_count);
    engine_free(w->e);
}

/* ---- One run ----------------------------------------------------------------------------- */

struct run_result {
    double seconds;
    double commit_p50_us, commit_p99_us; /* per transaction: begin .. commit returned */
};

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, err);
    exit(1);
}

static void remove_db(const char *dir)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char path[600];

    for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
        snprintf(path, sizeof(path), "%s/bench.db%s", dir, suffix[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Commands [from, to) in one transaction, as the engine thread writes a batch. */
static void write_batch(struct store *s, const struct workload *w, uint64_t from, uint64_t to)
{
    char err[ERR_CAP] = "";

    if (store_begin(s, err, sizeof(err)))
        die("begin", err);
    for (uint64_t k = from; k < to; k++) {
        char *text = cmdjson_encode(&w->cmds[k]);
        if (text == NULL)
            die("encode", "failed");
        if (store_log_command(s, START_TIME + (int64_t)k * 1000, text, err, sizeof(err)))
            die("log", err);
        free(text);
        if (store_put_events(s, w->e, w->events + w->ev_first[k], w->ev_count[k], err, sizeof(err)))
            die("put events", err);
    }
    if (store_commit(s, err, sizeof(err)))
        die("commit", err);
}

static void run_once(const struct options *o, const struct workload *w, uint64_t count,
                     uint32_t batch, struct run_result *out)
{
    char dir[512], path[600], err[ERR_CAP] = "";
    struct store *s = NULL;
    double *lat;
    size_t nlat = 0;
    double t0;

    snprintf(dir, sizeof(dir), "%s/gpurent-bench-store.XXXXXX", o->dir);
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", dir);
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    if (store_open_sqlite(&s, path, err, sizeof(err)) != 0)
        die("open", err);
    /* untimed: the tenants, hosts and model the rentals refer to */
    if (store_begin(s, err, sizeof(err)) ||
        store_put_events(s, w->e, w->setup, w->setup_count, err, sizeof(err)) ||
        store_commit(s, err, sizeof(err)))
        die("setup", err);
    lat = malloc(((count + batch - 1) / batch) * sizeof(*lat));
    if (lat == NULL)
        die("setup", "out of memory");
    for (uint64_t i = 0; i < o->history; i += 1024)
        write_batch(s, w, i, i + 1024 < o->history ? i + 1024 : o->history);

    t0 = mono_s();
    for (uint64_t i = o->history; i < o->history + count; i += batch) {
        uint64_t end = i + batch < o->history + count ? i + batch : o->history + count;
        double b0 = mono_s();

        write_batch(s, w, i, end);
        lat[nlat++] = (mono_s() - b0) * 1e6;
    }
    out->seconds = mono_s() - t0;
    qsort(lat, nlat, sizeof(*lat), cmp_double);
    out->commit_p50_us = quantile(lat, nlat, 0.50);
    out->commit_p99_us = quantile(lat, nlat, 0.99);
    free(lat);
    store_close(s);
    remove_db(dir);
}

/* write(4 KiB) + fsync, the floor of one durable transaction on this disk: median µs. */
static double fsync_us(const char *dir)
{
    char path[600], block[4096];
    double v[200];
    int fd;

    snprintf(path, sizeof(path), "%s/gpurent-bench-fsync.%d", dir, (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    memset(block, 'x', sizeof(block));
    for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
        double t0 = mono_s();
        if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block) || fsync(fd) != 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        v[i] = (mono_s() - t0) * 1e6;
    }
    close(fd);
    unlink(path);
    return median(v, ARRAY_SIZE(v));
}

int main(int argc, char **argv)
{
    struct options o;
    struct workload w;
    double rate[MAX_BATCHES], commit_p99[MAX_BATCHES];
    double fs;

    if (parse_options(&o, argc, argv))
        return 2;
    workload_make(&w, o.history + o.commands);
    fs = fsync_us(o.dir);
    printf("bench_store: %" PRIu64 " rental_create commands prepared; %.0f bytes of JSON and "
           "%.2f events each; %" PRIu64 " in the database before the clock starts; "
           "databases in %s\n",
           w.count, (double)w.json_bytes / (double)w.count, (double)w.event_total / (double)w.count,
           o.history, o.dir);
    printf("write + fsync of 4 KiB here: %.0f us (median of 200)\n\n", fs);
    printf("%6s %9s %9s %12s %10s %12s %12s %10s  target\n", "batch", "commands", "seconds",
           "commands/s", "commits/s", "commit p50", "commit p99", "us/command");

    for (uint32_t b = 0; b < o.batch_count; b++) {
        uint32_t batch = o.batches[b];
        uint64_t n = o.commands;
        double secs[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS];
        double sec, commits;

        for (uint32_t r = 0; r < o.runs; r++) {
            struct run_result rr;
            run_once(&o, &w, n, batch, &rr);
            secs[r] = rr.seconds;
            p50[r] = rr.commit_p50_us;
            p99[r] = rr.commit_p99_us;
        }
        sec = median(secs, o.runs);
        rate[b] = (double)n / sec;
        commit_p99[b] = median(p99, o.runs);
        commits = (double)((n + batch - 1) / batch) / sec;
        printf("%6" PRIu32 " %9" PRIu64 " %9.3f %12.0f %10.0f %9.0f us %9.0f us %10.1f  %s\n",
               batch, n, sec, rate[b], commits, median(p50, o.runs), commit_p99[b],
               sec * 1e6 / (double)n,
               batch != TARGET_BATCH      ? ""
               : rate[b] >= TARGET_CMDS_S ? ">= 10000: met"
                                          : ">= 10000: MISSED");
        fflush(stdout);
    }
    printf("\n");
    for (uint32_t b = 0; b < o.batch_count; b++) {
        uint32_t batch = o.batches[b];

        printf("RESULT {\"bench\":\"store\",\"batch\":%" PRIu32
               ",\"metric\":\"durable_commands_per_s\",\"value\":%.1f,\"unit\":\"ops/s\","
               "\"runs\":%" PRIu32,
               batch, rate[b], o.runs);
        if (batch == TARGET_BATCH)
            printf(",\"target\":%.0f,\"cmp\":\">=\",\"pass\":%s", TARGET_CMDS_S,
                   rate[b] >= TARGET_CMDS_S ? "true" : "false");
        printf("}\n");
        printf("RESULT {\"bench\":\"store\",\"batch\":%" PRIu32
               ",\"metric\":\"commit_p99_us\",\"value\":%.1f,\"unit\":\"us\",\"runs\":%" PRIu32
               "}\n",
               batch, commit_p99[b], o.runs);
    }
    printf("RESULT {\"bench\":\"store\",\"metric\":\"fsync_4k_us\",\"value\":%.1f,\"unit\":\"us\","
           "\"runs\":1}\n",
           fs);
    workload_free(&w);
    return 0;
}
