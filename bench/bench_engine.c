/*
 * bench_engine.c - placement throughput, latency and memory of the engine.
 *
 * For each fleet size (1k, 10k, 100k GPUs by default) a fresh engine gets hosts of 8
 * "A100-80G" GPUs (two NVLink islands of 4), a price, and tenants with a large balance. Then a
 * mixed workload runs at a steady occupancy of about 85%, as the server would drive it:
 *
 *   - create an on_demand rental of 1, 2, 4 or 8 GPUs (queue = false) for a random tenant;
 *     when the fleet is above the target occupancy, or a create fails with ERR_NOCAPACITY,
 *     stop a random live rental instead;
 *   - before every command, engine_tick(now) does the time-driven work due (settlements,
 *     timeouts). engine_apply would do it anyway; ticking first keeps it out of the command's
 *     latency and shows it on its own line;
 *   - every BATCH commands, drain the events (what the store would persist);
 *   - every second of virtual time, the agents of hosts that got a new rental report it
 *     running, so billing starts.
 *
 * Virtual time advances a fixed step per command, chosen per fleet size so that a rental lives
 * RENTAL_LIFETIME_US on average whatever the fleet: every column then does the same billing
 * work per placement (settlements every 60 s, the engine's default), and differs only in the
 * fleet's size. Every engine call is timed on its own (the TSC,
 * calibrated against CLOCK_MONOTONIC); the bench's own bookkeeping is not counted.
 * Memory is the heap in use (mallinfo2: uordblks + hblkhd) before and after registering the
 * fleet, filling it with rentals, and running the workload. Each fleet size runs --runs times
 * with the same seed; the tables show the median of the runs.
 *
 * Output: a table on stdout, then one `RESULT {json}` line per metric and fleet size.
 */
#include "common/compat.h"

#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#endif

#include "common/err.h"
#include "engine/engine.h"
#include "engine/money.h"

#define GPUS_PER_HOST      8
#define ISLAND_SIZE        4
#define MODEL              "A100-80G"
#define MODEL_MEMORY_MIB   81920
#define TENANTS            1000
#define TENANT_CREDIT      (INT64_C(100000000) * MONEY_UNIT) /* 1e8 CNY each: never runs dry */
#define OCCUPANCY_TARGET   0.85 /* stop rentals above this share of GPUs in use */
#define MEAN_SIZE          3.75 /* GPUs per rental: sizes 1, 2, 4, 8 drawn uniformly */
#define RENTAL_LIFETIME_US INT64_C(120000000) /* mean virtual life of a rental: 2 min */
#define REPORT_INTERVAL_US INT64_C(1000000)   /* agents report new rentals every 1 s virtual */
#define BATCH              32                 /* commands between event drains (one group commit) */
#define EVENT_BUF          1024
#define START_TIME         INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

/* ---- options ------------------------------------------------------------------------- */

struct options {
    uint32_t fleets[8]; /* GPU counts, multiples of GPUS_PER_HOST */
    uint32_t fleet_count;
    uint64_t ops;  /* measured create attempts per run */
    uint32_t runs; /* runs per fleet size; the median is reported */
    uint64_t seed;
    double max_seconds; /* cap on the measured phase of one run (wall) */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_engine [--gpus N[,N...]] [--ops N] [--runs N] [--seed N]\n"
               "                    [--max-seconds S] [--quick]\n"
               "  --gpus         fleet sizes in GPUs (default 1000,10000,100000)\n"
               "  --ops          measured create attempts per run (default 1000000)\n"
               "  --runs         runs per fleet size, median reported (default 3)\n"
               "  --seed         workload seed (default 42)\n"
               "  --max-seconds  stop a run's measured phase after this long (default 60)\n"
               "  --quick        --ops 100000 --runs 1 (a smoke test)\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s)
        return ERR_INVALID;
    v = strtoull(s, &end, 10);
    if (*end)
        return ERR_INVALID;
    *out = v;
    return 0;
}

static int parse_fleets(struct options *o, const char *s)
{
    char buf[256];
    char *save = NULL;
    char *tok;
    uint64_t v;

    if (strlen(s) >= sizeof(buf))
        return ERR_INVALID;
    memcpy(buf, s, strlen(s) + 1);
    o->fleet_count = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->fleet_count == ARRAY_SIZE(o->fleets) || parse_u64(tok, &v) || v < GPUS_PER_HOST ||
            v % GPUS_PER_HOST || v > 8000000)
            return ERR_INVALID;
        o->fleets[o->fleet_count++] = (uint32_t)v;
    }
    return o->fleet_count ? 0 : ERR_INVALID;
}

static int parse_options(struct options *o, int argc, char **argv)
{
    uint64_t v;
    int i;

    memset(o, 0, sizeof(*o));
    o->fleets[0] = 1000;
    o->fleets[1] = 10000;
    o->fleets[2] = 100000;
    o->fleet_count = 3;
    o->ops = 1000000;
    o->runs = 3;
    o->seed = 42;
    o->max_seconds = 60;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--quick")) {
            o->ops = 100000;
            o->runs = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!val)
            goto bad;
        i++;
        if (!strcmp(a, "--gpus")) {
            if (parse_fleets(o, val))
                goto bad;
        } else if (!strcmp(a, "--ops")) {
            if (parse_u64(val, &v) || v == 0 || v > 100000000)
                goto bad;
            o->ops = v;
        } else if (!strcmp(a, "--runs")) {
            if (parse_u64(val, &v) || v == 0 || v > 99)
                goto bad;
            o->runs = (uint32_t)v;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(val, &v))
                goto bad;
            o->seed = v;
        } else if (!strcmp(a, "--max-seconds")) {
            if (parse_u64(val, &v) || v == 0)
                goto bad;
            o->max_seconds = (double)v;
        } else {
            goto bad;
        }
    }
    return 0;
bad:
    fprintf(stderr, "bench_engine: bad argument '%s'\n", argv[i < argc ? i : argc - 1]);
    usage(stderr);
    return ERR_INVALID;
}

/* ---- clock, random numbers, memory ----------------------------------------------------- */

static double tsc_per_ns = 1.0; /* calibrated by timer_calibrate */

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A timestamp in ticks: the TSC where there is one (about 10 ns a read), else nanoseconds. */
static inline uint64_t clock_ticks(void)
{
#ifdef BENCH_HAVE_TSC
    return __rdtsc();
#else
    return mono_ns();
#endif
}

static void timer_calibrate(void)
{
#ifdef BENCH_HAVE_TSC
    uint64_t n0 = mono_ns(), t0 = clock_ticks(), n1, t1;

    do {
        n1 = mono_ns();
    } while (n1 - n0 < 200000000u); /* 200 ms */
    t1 = clock_ticks();
    tsc_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
#endif
}

static double ticks_to_ns(uint64_t t)
{
    return (double)t / tsc_per_ns;
}

/* xorshift64*: small, fast, and the same sequence everywhere for a seed. */
struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)((rng_next(r) >> 32) * n >> 32);
}

/* Bytes of heap in use: small blocks plus mmap()ed large ones. */
static double heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return (double)mi.uordblks + (double)mi.hblkhd;
}

/* ---- latency samples ------------------------------------------------------------------- */

/* A preallocated array of durations in ticks; never grows, so it cannot disturb the heap
 * measurements. Samples past the capacity are counted but not kept. */
struct samples {
    uint32_t *v;
    size_t n, cap;
    uint64_t count;
    uint64_t total; /* ticks */
};

static int samples_init(struct samples *s, size_t cap)
{
    memset(s, 0, sizeof(*s));
    s->v = malloc((cap ? cap : 1) * sizeof(*s->v));
    s->cap = cap;
    return s->v ? 0 : ERR_NOMEM;
}

static void samples_release(struct samples *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static inline void samples_add(struct samples *s, uint64_t t)
{
    s->count++;
    s->total += t;
    if (s->n < s->cap)
        s->v[s->n++] = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* The q-quantile (0..1) in ns, nearest rank; sorts the samples. 0 when empty. */
static double samples_quantile(struct samples *s, double q, bool *sorted)
{
    size_t i;

    if (!s->n)
        return 0;
    if (!*sorted) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
        *sorted = true;
    }
    i = (size_t)ceil(q * (double)s->n);
    i = i ? i - 1 : 0;
    if (i >= s->n)
        i = s->n - 1;
    return ticks_to_ns(s->v[i]);
}

static double samples_mean_ns(const struct samples *s)
{
    return s->count ? ticks_to_ns(s->total) / (double)s->count : 0;
}

/* ---- metrics --------------------------------------------------------------------------- */

enum metric {
    M_PLACE_RATE_CREATE, /* placements per second of create time */
    M_PLACE_RATE_CMDS,   /* ... of create, stop, report and drain time (no engine_tick) */
    M_PLACE_RATE_MIXED,  /* placements per second of all engine time in the workload */
    M_OPS_RATE_MIXED,    /* commands (create, stop, report) per second of all engine time */
    M_CREATE_P50,
    M_CREATE_P99,
    M_CREATE_P999,
    M_CREATE_MAX,
    M_REJECT_P50,
    M_REJECT_P99,
    M_STOP_P50,
    M_STOP_P99,
    M_REPORT_P50,
    M_REPORT_P99,
    M_TICK_MEAN,
    M_TICK_P99,
    M_TICK_SHARE,  /* share of engine time spent in engine_tick */
    M_DRAIN_SHARE, /* share of engine time spent in engine_drain_events */
    M_DRAIN_PER_EVENT,
    M_EVENTS_PER_PLACEMENT,
    M_TRANSFERS_PER_PLACEMENT,
    M_OCCUPANCY,
    M_REJECT_RATE,
    M_BYTES_PER_GPU,
    M_BYTES_PER_LIVE_RENTAL,
    M_BYTES_PER_RENTAL_CREATED,
    M_HEAP_END_MB,
    M_PEAK_RSS_MB,
    M_COUNT
};

enum cmp { CMP_NONE, CMP_GE, CMP_LE };

struct metric_info {
    const char *name;  /* machine name */
    const char *label; /* table label */
    const char *unit;
    enum cmp cmp;
    double target;
    uint32_t target_gpus; /* the fleet size the target is for; 0 = every size */
};

static const struct metric_info metrics[M_COUNT] = {
    [M_PLACE_RATE_CREATE] = {"placements_per_s_create", "placements/s (create calls only)", "ops/s",
                             CMP_NONE, 0, 0},
    [M_PLACE_RATE_CMDS] = {"placements_per_s_commands", "placements/s (commands, no tick)", "ops/s",
                           CMP_NONE, 0, 0},
    [M_PLACE_RATE_MIXED] = {"placements_per_s", "placements/s (all engine work)", "ops/s", CMP_GE,
                            1000000, 100000},
    [M_OPS_RATE_MIXED] = {"commands_per_s", "commands/s (all engine work)", "ops/s", CMP_NONE, 0,
                          0},
    [M_CREATE_P50] = {"create_p50_ns", "create (placed) p50", "ns", CMP_NONE, 0, 0},
    [M_CREATE_P99] = {"create_p99_ns", "create (placed) p99", "ns", CMP_LE, 10000, 100000},
    [M_CREATE_P999] = {"create_p999_ns", "create (placed) p99.9", "ns", CMP_NONE, 0, 0},
    [M_CREATE_MAX] = {"create_max_ns", "create (placed) max", "ns", CMP_NONE, 0, 0},
    [M_REJECT_P50] = {"reject_p50_ns", "create (no capacity) p50", "ns", CMP_NONE, 0, 0},
    [M_REJECT_P99] = {"reject_p99_ns", "create (no capacity) p99", "ns", CMP_NONE, 0, 0},
    [M_STOP_P50] = {"stop_p50_ns", "stop p50", "ns", CMP_NONE, 0, 0},
    [M_STOP_P99] = {"stop_p99_ns", "stop p99", "ns", CMP_NONE, 0, 0},
    [M_REPORT_P50] = {"report_p50_ns", "host report p50", "ns", CMP_NONE, 0, 0},
    [M_REPORT_P99] = {"report_p99_ns", "host report p99", "ns", CMP_NONE, 0, 0},
    [M_TICK_MEAN] = {"tick_mean_ns", "engine_tick mean (before each command)", "ns", CMP_NONE, 0,
                     0},
    [M_TICK_P99] = {"tick_p99_ns", "engine_tick p99", "ns", CMP_NONE, 0, 0},
    [M_TICK_SHARE] = {"tick_share", "engine_tick share of engine time", "%", CMP_NONE, 0, 0},
    [M_DRAIN_SHARE] = {"drain_share", "drain share of engine time", "%", CMP_NONE, 0, 0},
    [M_DRAIN_PER_EVENT] = {"drain_ns_per_event", "drain per event", "ns", CMP_NONE, 0, 0},
    [M_EVENTS_PER_PLACEMENT] = {"events_per_placement", "events per placement", "", CMP_NONE, 0, 0},
    [M_TRANSFERS_PER_PLACEMENT] = {"transfers_per_placement", "ledger transfers per placement", "",
                                   CMP_NONE, 0, 0},
    [M_OCCUPANCY] = {"occupancy", "mean occupancy", "%", CMP_NONE, 0, 0},
    [M_REJECT_RATE] = {"nocapacity_rate", "creates refused (no capacity)", "%", CMP_NONE, 0, 0},
    [M_BYTES_PER_GPU] = {"bytes_per_gpu", "heap per GPU (fleet registered)", "B", CMP_LE, 512, 0},
    [M_BYTES_PER_LIVE_RENTAL] = {"bytes_per_live_rental", "heap per live rental", "B", CMP_NONE, 0,
                                 0},
    [M_BYTES_PER_RENTAL_CREATED] = {"bytes_retained_per_rental", "heap kept per rental created",
                                    "B", CMP_NONE, 0, 0},
    [M_HEAP_END_MB] = {"heap_end_mb", "engine heap after the workload", "MiB", CMP_NONE, 0, 0},
    [M_PEAK_RSS_MB] = {"peak_rss_mb", "peak RSS of the process", "MiB", CMP_NONE, 0, 0},
};

/* ---- the bench state of one run -------------------------------------------------------- */

struct live_rental {
    uint64_t id;
    uint32_t tenant;
    uint32_t host;
    uint32_t gpus;
};

struct host_slot {
    uint64_t rental[GPUS_PER_HOST]; /* live rentals placed here, 0 = empty */
    uint32_t epoch[GPUS_PER_HOST];
    bool dirty; /* got a rental since its agent last reported */
};

struct bench {
    struct engine *e;
    struct rng rng;
    int64_t now;
    int64_t step_us;       /* virtual time per command */
    uint32_t report_every; /* commands between rounds of agent reports */
    uint64_t ops;          /* commands applied: drives drains, reports and virtual time */
    uint32_t gpus, hosts;
    uint32_t tenant_ids[TENANTS];

    struct live_rental *live; /* the live rentals, in no order */
    uint32_t live_n, live_cap;
    uint32_t *live_index; /* rental id -> index in live + 1, 0 = not live */
    uint64_t live_index_cap;
    uint32_t used_gpus;

    struct host_slot *slots; /* by host id (1-based) */
    uint32_t *host_ids;      /* engine host ids, in registration order */
    uint32_t *dirty;         /* hosts to report at the next round of reports */
    uint32_t dirty_n;

    struct event *events;
    struct rental_report reports[GPUS_PER_HOST];

    double heap_before_engine; /* heap in use with the bench's arrays but no engine */
    bool record;               /* the measured phase: keep samples and totals */
    struct samples create, reject, stop, report, tick, drain;
    uint64_t events_drained;
    uint64_t placed, refused, other_errors, report_errors, unexpected_ends, pending;
    double occupancy_sum;
    uint64_t occupancy_n;
    char first_error[RESULT_DETAIL_MAX + 64];
};

static void note_error(struct bench *b, const char *what, const struct result *res)
{
    if (!b->first_error[0])
        snprintf(b->first_error, sizeof(b->first_error), "%s: %s (%s)", what, err_name(res->code),
                 res->detail);
}

static void live_add(struct bench *b, uint64_t id, uint32_t tenant, uint32_t host, uint32_t gpus)
{
    if (b->live_n == b->live_cap || id >= b->live_index_cap)
        return; /* cannot happen: both are sized for the whole run */
    b->live[b->live_n] = (struct live_rental){id, tenant, host, gpus};
    b->live_index[id] = ++b->live_n;
    b->used_gpus += gpus;
}

static void host_forget(struct bench *b, uint32_t host, uint64_t id)
{
    struct host_slot *hs;
    uint32_t i;

    if (!host || host > b->hosts)
        return;
    hs = &b->slots[host];
    for (i = 0; i < GPUS_PER_HOST; i++)
        if (hs->rental[i] == id)
            hs->rental[i] = 0;
}

static void live_remove(struct bench *b, uint64_t id)
{
    uint32_t i;

    if (id >= b->live_index_cap || !b->live_index[id])
        return;
    i = b->live_index[id] - 1;
    b->used_gpus -= b->live[i].gpus;
    host_forget(b, b->live[i].host, id);
    b->live_index[id] = 0;
    b->live[i] = b->live[--b->live_n];
    if (i < b->live_n)
        b->live_index[b->live[i].id] = i + 1;
}

static void drain(struct bench *b)
{
    size_t n, i;
    uint64_t t0, t1;

    do {
        t0 = clock_ticks();
        n = engine_drain_events(b->e, b->events, EVENT_BUF);
        t1 = clock_ticks();
        if (b->record) {
            samples_add(&b->drain, t1 - t0);
            b->events_drained += n;
        }
        for (i = 0; i < n; i++) {
            const struct event *ev = &b->events[i];

            /* Rentals we stop are already gone from the live set; anything else that ends
             * was ended by the engine (it should not happen in this workload). */
            if (ev->type == EV_RENTAL_STATE && ev->u.rental.to == RENTAL_ENDED &&
                ev->id < b->live_index_cap && b->live_index[ev->id]) {
                b->unexpected_ends++;
                live_remove(b, ev->id);
            }
        }
    } while (n == EVENT_BUF);
}

static int apply(struct bench *b, const struct command *cmd, struct result *res)
{
    return engine_apply(b->e, cmd, b->now, res);
}

/* The agents of hosts that got rentals say they run them: billing starts. */
static void agents_report(struct bench *b)
{
    struct command cmd = {.type = CMD_HOST_REPORT};
    struct result res;
    uint64_t t0, t1;
    uint32_t d, i, n;

    for (d = 0; d < b->dirty_n; d++) {
        uint32_t host = b->dirty[d];
        struct host_slot *hs = &b->slots[host];

        hs->dirty = false;
        for (i = n = 0; i < GPUS_PER_HOST; i++) {
            if (!hs->rental[i])
                continue;
            b->reports[n++] = (struct rental_report){
                .rental = hs->rental[i], .epoch = hs->epoch[i], .state = REPORT_RUNNING};
        }
        cmd.u.host_report =
            (struct cmd_host_report){.host = host, .reports = b->reports, .count = n};
        t0 = clock_ticks();
        apply(b, &cmd, &res);
        t1 = clock_ticks();
        if (b->record)
            samples_add(&b->report, t1 - t0);
        if (res.code) {
            b->report_errors++;
            note_error(b, "host report", &res);
        }
    }
    b->dirty_n = 0;
    drain(b);
}

/* Count one command: advance virtual time and tick; drain every BATCH commands, and let the
 * agents report every report_every. */
static void after_command(struct bench *b)
{
    uint64_t t0, t1;

    b->ops++;
    b->now += b->step_us;
    t0 = clock_ticks();
    engine_tick(b->e, b->now);
    t1 = clock_ticks();
    if (b->record)
        samples_add(&b->tick, t1 - t0);
    if (b->ops % b->report_every == 0)
        agents_report(b);
    else if (b->ops % BATCH == 0)
        drain(b);
}

static void stop_random(struct bench *b)
{
    struct command cmd = {.type = CMD_RENTAL_STOP};
    struct result res;
    struct live_rental *lr;
    uint64_t t0, t1;

    if (!b->live_n)
        return;
    lr = &b->live[rng_below(&b->rng, b->live_n)];
    cmd.u.rental_stop = (struct cmd_rental_stop){.tenant = lr->tenant, .rental = lr->id};
    t0 = clock_ticks();
    apply(b, &cmd, &res);
    t1 = clock_ticks();
    if (b->record)
        samples_add(&b->stop, t1 - t0);
    if (res.code) {
        b->other_errors++;
        note_error(b, "stop", &res);
    }
    live_remove(b, lr->id);
    after_command(b);
}

/* Create one rental of a random size; returns its result code. */
static int create_random(struct bench *b)
{
    static const uint32_t sizes[] = {1, 2, 4, 8};
    struct command cmd = {.type = CMD_RENTAL_CREATE};
    struct rental_view rv;
    struct result res;
    uint32_t tenant = b->tenant_ids[rng_below(&b->rng, TENANTS)];
    uint32_t gpus = sizes[rng_below(&b->rng, ARRAY_SIZE(sizes))];
    uint64_t t0, t1;
    uint32_t i;

    cmd.u.rental_create = (struct cmd_rental_create){
        .tenant = tenant, .gpu_model = MODEL, .gpu_count = gpus, .term = TERM_ON_DEMAND};
    t0 = clock_ticks();
    apply(b, &cmd, &res);
    t1 = clock_ticks();
    if (res.code == 0) {
        if (b->record) {
            samples_add(&b->create, t1 - t0);
            b->placed++;
        }
        if (res.state != RENTAL_STARTING || engine_rental(b->e, res.id, &rv) || !rv.host ||
            rv.host > b->hosts) {
            b->pending++; /* not placed at once: not expected with queue = false */
        } else {
            struct host_slot *hs = &b->slots[rv.host];

            live_add(b, res.id, tenant, rv.host, gpus);
            for (i = 0; i < GPUS_PER_HOST && hs->rental[i]; i++)
                ;
            if (i < GPUS_PER_HOST) {
                hs->rental[i] = res.id;
                hs->epoch[i] = rv.epoch;
            }
            if (!hs->dirty) {
                hs->dirty = true;
                b->dirty[b->dirty_n++] = rv.host;
            }
        }
    } else if (res.code == ERR_NOCAPACITY) {
        if (b->record) {
            samples_add(&b->reject, t1 - t0);
            b->refused++;
        }
    } else {
        b->other_errors++;
        note_error(b, "create", &res);
    }
    after_command(b);
    return res.code;
}

/* ---- setup ----------------------------------------------------------------------------- */

static int setup_catalogue(struct bench *b)
{
    struct command cmd = {.type = CMD_PRICE_SET};
    struct result res;
    char name[32];
    uint32_t i;

    cmd.u.price_set = (struct cmd_price_set){
        .gpu_model = MODEL,
        .memory_mib = MODEL_MEMORY_MIB,
        .on_demand_hourly = 15100000,                    /* 15.10 */
        .spot_floor_hourly = 4000000,                    /* 4.00 */
        .package = {250000000, 1500000000, 5400000000}}; /* day, week, month */
    if (apply(b, &cmd, &res))
        goto fail;
    for (i = 0; i < TENANTS; i++) {
        snprintf(name, sizeof(name), "bench-tenant-%04" PRIu32, i);
        cmd = (struct command){.type = CMD_TENANT_CREATE};
        cmd.u.tenant_create = (struct cmd_tenant_create){.name = name};
        if (apply(b, &cmd, &res))
            goto fail;
        b->tenant_ids[i] = (uint32_t)res.id;
        cmd = (struct command){.type = CMD_CREDIT};
        cmd.u.credit = (struct cmd_credit){
            .tenant = b->tenant_ids[i], .amount = TENANT_CREDIT, .reference = "bench"};
        if (apply(b, &cmd, &res))
            goto fail;
    }
    drain(b);
    return 0;
fail:
    fprintf(stderr, "bench_engine: setup: %s (%s)\n", err_name(res.code), res.detail);
    return res.code ? res.code : ERR_INVALID;
}

static int setup_fleet(struct bench *b)
{
    struct command cmd = {.type = CMD_HOST_REGISTER};
    struct gpu_spec specs[GPUS_PER_HOST];
    char uuids[GPUS_PER_HOST][48];
    char hostname[32];
    struct result res;
    uint32_t h, g;

    for (h = 0; h < b->hosts; h++) {
        snprintf(hostname, sizeof(hostname), "bench-host-%06" PRIu32, h);
        for (g = 0; g < GPUS_PER_HOST; g++) {
            snprintf(uuids[g], sizeof(uuids[g]), "GPU-%08" PRIx32 "-bench-%04" PRIx32 "-%02" PRIu32,
                     h * 2654435761u, h & 0xffff, g);
            specs[g] = (struct gpu_spec){.index = g,
                                         .uuid = uuids[g],
                                         .model = MODEL,
                                         .memory_mib = MODEL_MEMORY_MIB,
                                         .nvlink_island = g / ISLAND_SIZE};
        }
        cmd = (struct command){.type = CMD_HOST_REGISTER};
        cmd.u.host_register =
            (struct cmd_host_register){.hostname = hostname, .gpus = specs, .gpu_count = 8};
        if (apply(b, &cmd, &res))
            goto fail;
        if (res.id == 0 || res.id > b->hosts) {
            fprintf(stderr, "bench_engine: host ids are expected to be 1..N, got %" PRIu64 "\n",
                    res.id);
            return ERR_INVALID;
        }
        b->host_ids[h] = (uint32_t)res.id;
        /* the agent's first heartbeat */
        cmd = (struct command){.type = CMD_HOST_REPORT};
        cmd.u.host_report = (struct cmd_host_report){.host = (uint32_t)res.id};
        if (apply(b, &cmd, &res))
            goto fail;
        if ((h + 1) % 1024 == 0)
            drain(b);
    }
    drain(b);
    return 0;
fail:
    fprintf(stderr, "bench_engine: fleet: %s (%s)\n", err_name(res.code), res.detail);
    return res.code ? res.code : ERR_INVALID;
}

static void bench_release(struct bench *b)
{
    engine_free(b->e);
    free(b->live);
    free(b->live_index);
    free(b->slots);
    free(b->host_ids);
    free(b->dirty);
    free(b->events);
    samples_release(&b->create);
    samples_release(&b->reject);
    samples_release(&b->stop);
    samples_release(&b->report);
    samples_release(&b->tick);
    samples_release(&b->drain);
}

/* Everything the run needs is allocated here, before the first heap measurement. */
static int bench_init(struct bench *b, const struct options *o, uint32_t gpus)
{
    struct engine_config cfg;
    uint64_t ops_cap = o->ops * 3 + gpus + 1024; /* commands: creates + stops + fill */

    memset(b, 0, sizeof(*b));
    b->rng.s = o->seed * UINT64_C(0x9E3779B97F4A7C15) + gpus + 1;
    b->now = START_TIME;
    b->gpus = gpus;
    b->hosts = gpus / GPUS_PER_HOST;
    /* In the steady state each placement comes with one stop, so a rental lives about
     * 2 x (live rentals) commands. */
    b->step_us =
        (int64_t)((double)RENTAL_LIFETIME_US / (2.0 * OCCUPANCY_TARGET * (double)gpus / MEAN_SIZE));
    if (b->step_us < 1)
        b->step_us = 1;
    b->report_every = (uint32_t)(REPORT_INTERVAL_US / b->step_us);
    if (b->report_every == 0)
        b->report_every = 1;
    b->live_cap = gpus;
    b->live_index_cap = o->ops + gpus + 16;
    b->live = calloc(b->live_cap, sizeof(*b->live));
    b->live_index = calloc(b->live_index_cap, sizeof(*b->live_index));
    b->slots = calloc((size_t)b->hosts + 1, sizeof(*b->slots));
    b->host_ids = calloc(b->hosts, sizeof(*b->host_ids));
    b->dirty = calloc(b->hosts, sizeof(*b->dirty));
    b->events = calloc(EVENT_BUF, sizeof(*b->events));
    if (!b->live || !b->live_index || !b->slots || !b->host_ids || !b->dirty || !b->events ||
        samples_init(&b->create, o->ops) || samples_init(&b->reject, o->ops) ||
        samples_init(&b->stop, o->ops + gpus) || samples_init(&b->report, o->ops + gpus) ||
        samples_init(&b->tick, ops_cap) || samples_init(&b->drain, ops_cap))
        return ERR_NOMEM;
    b->heap_before_engine = heap_in_use();
    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0; /* the bench sends no periodic heartbeats */
    return engine_new(&b->e, &cfg);
}

/* ---- one run --------------------------------------------------------------------------- */

static int run_once(const struct options *o, uint32_t gpus, double *m, FILE *log)
{
    struct bench b;
    double mem_base, mem_fleet, mem_filled, mem_end;
    double engine_ns, create_ns, wall_s;
    uint64_t wall0, created_before, transfers_before;
    struct engine_stats st;
    uint32_t live_after_fill;
    struct rusage ru;
    char detail[256];
    bool sorted;
    int rc;

    rc = bench_init(&b, o, gpus);
    if (rc) {
        fprintf(stderr, "bench_engine: init: %s\n", err_name(rc));
        goto out;
    }
    rc = setup_catalogue(&b);
    if (rc)
        goto out;
    mem_base = heap_in_use();
    rc = setup_fleet(&b);
    if (rc)
        goto out;
    mem_fleet = heap_in_use();
    if (mem_fleet == mem_base)
        fprintf(log, "  (mallinfo2 sees no heap growth: a sanitizer's allocator? heap figures "
                     "read 0)\n");

    /* Fill to the target occupancy; the agents report, billing starts. */
    while ((double)b.used_gpus < OCCUPANCY_TARGET * gpus)
        if (create_random(&b) == ERR_NOCAPACITY)
            break;
    agents_report(&b);
    mem_filled = heap_in_use();
    live_after_fill = b.live_n;
    created_before = engine_rental_count(b.e);
    engine_stats(b.e, &st);
    transfers_before = st.transfers;

    /* The measured mixed workload. */
    b.record = true;
    wall0 = mono_ns();
    while (b.create.count + b.reject.count + b.other_errors < o->ops) {
        b.occupancy_sum += (double)b.used_gpus / gpus;
        b.occupancy_n++;
        if ((double)b.used_gpus > OCCUPANCY_TARGET * gpus) {
            stop_random(&b);
        } else if (create_random(&b) == ERR_NOCAPACITY) {
            stop_random(&b);
        }
        if ((b.ops & 1023) == 0 && (double)(mono_ns() - wall0) > o->max_seconds * 1e9) {
            fprintf(log, "  (measured phase cut at %.0f s after %" PRIu64 " creates)\n",
                    o->max_seconds, b.create.count + b.reject.count);
            break;
        }
    }
    agents_report(&b);
    b.record = false;
    wall_s = (double)(mono_ns() - wall0) / 1e9;
    mem_end = heap_in_use();
    engine_stats(b.e, &st);

    rc = engine_check(b.e, detail, sizeof(detail));
    if (rc)
        fprintf(stderr, "bench_engine: engine_check failed: %s\n", detail);
    if (b.other_errors || b.report_errors || b.unexpected_ends || b.pending) {
        rc = ERR_CONFLICT;
        fprintf(stderr,
                "bench_engine: %" PRIu64 " command errors, %" PRIu64 " report errors, %" PRIu64
                " rentals ended by the engine, %" PRIu64 " not placed at once; first: %s\n",
                b.other_errors, b.report_errors, b.unexpected_ends, b.pending, b.first_error);
    }

    create_ns = ticks_to_ns(b.create.total + b.reject.total);
    engine_ns =
        create_ns + ticks_to_ns(b.stop.total + b.report.total + b.tick.total + b.drain.total);
    memset(m, 0, sizeof(*m) * M_COUNT);
    m[M_PLACE_RATE_CREATE] = create_ns > 0 ? (double)b.placed / create_ns * 1e9 : 0;
    m[M_PLACE_RATE_CMDS] = engine_ns - ticks_to_ns(b.tick.total) > 0
                               ? (double)b.placed / (engine_ns - ticks_to_ns(b.tick.total)) * 1e9
                               : 0;
    m[M_PLACE_RATE_MIXED] = engine_ns > 0 ? (double)b.placed / engine_ns * 1e9 : 0;
    m[M_OPS_RATE_MIXED] =
        engine_ns > 0 ? (double)(b.create.count + b.reject.count + b.stop.count + b.report.count) /
                            engine_ns * 1e9
                      : 0;
    sorted = false;
    m[M_CREATE_P50] = samples_quantile(&b.create, 0.50, &sorted);
    m[M_CREATE_P99] = samples_quantile(&b.create, 0.99, &sorted);
    m[M_CREATE_P999] = samples_quantile(&b.create, 0.999, &sorted);
    m[M_CREATE_MAX] = samples_quantile(&b.create, 1.0, &sorted);
    sorted = false;
    m[M_REJECT_P50] = samples_quantile(&b.reject, 0.50, &sorted);
    m[M_REJECT_P99] = samples_quantile(&b.reject, 0.99, &sorted);
    sorted = false;
    m[M_STOP_P50] = samples_quantile(&b.stop, 0.50, &sorted);
    m[M_STOP_P99] = samples_quantile(&b.stop, 0.99, &sorted);
    sorted = false;
    m[M_REPORT_P50] = samples_quantile(&b.report, 0.50, &sorted);
    m[M_REPORT_P99] = samples_quantile(&b.report, 0.99, &sorted);
    sorted = false;
    m[M_TICK_MEAN] = samples_mean_ns(&b.tick);
    m[M_TICK_P99] = samples_quantile(&b.tick, 0.99, &sorted);
    m[M_TICK_SHARE] = engine_ns > 0 ? 100.0 * ticks_to_ns(b.tick.total) / engine_ns : 0;
    m[M_DRAIN_SHARE] = engine_ns > 0 ? 100.0 * ticks_to_ns(b.drain.total) / engine_ns : 0;
    m[M_DRAIN_PER_EVENT] =
        b.events_drained ? ticks_to_ns(b.drain.total) / (double)b.events_drained : 0;
    m[M_EVENTS_PER_PLACEMENT] = b.placed ? (double)b.events_drained / (double)b.placed : 0;
    m[M_TRANSFERS_PER_PLACEMENT] =
        b.placed ? (double)(st.transfers - transfers_before) / (double)b.placed : 0;
    m[M_OCCUPANCY] = b.occupancy_n ? 100.0 * b.occupancy_sum / (double)b.occupancy_n : 0;
    m[M_REJECT_RATE] =
        b.create.count + b.reject.count
            ? 100.0 * (double)b.reject.count / (double)(b.create.count + b.reject.count)
            : 0;
    m[M_BYTES_PER_GPU] = (mem_fleet - mem_base) / gpus;
    m[M_BYTES_PER_LIVE_RENTAL] =
        live_after_fill ? (mem_filled - mem_fleet) / (double)live_after_fill : 0;
    m[M_BYTES_PER_RENTAL_CREATED] =
        engine_rental_count(b.e) > created_before
            ? (mem_end - mem_filled) / (double)(engine_rental_count(b.e) - created_before)
            : 0;
    m[M_HEAP_END_MB] = (mem_end - b.heap_before_engine) / (1024.0 * 1024.0);
    getrusage(RUSAGE_SELF, &ru);
    m[M_PEAK_RSS_MB] = (double)ru.ru_maxrss / 1024.0;

    fprintf(log,
            "  run: %" PRIu32 " GPUs (%.1f ms virtual per command): %" PRIu64 " placed, %" PRIu64
            " refused, %" PRIu64 " stops, %" PRIu64 " reports in %.2f s engine time (%.2f s "
            "wall); %.0f placements/s\n",
            gpus, (double)b.step_us / 1000, b.placed, b.refused, b.stop.count, b.report.count,
            engine_ns / 1e9, wall_s, m[M_PLACE_RATE_MIXED]);
out:
    bench_release(&b);
    return rc;
}

/* ---- report ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of n values (sorts them). */
static double median(double *v, uint32_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool target_applies(const struct metric_info *mi, uint32_t gpus)
{
    return mi->cmp != CMP_NONE && (!mi->target_gpus || mi->target_gpus == gpus);
}

static bool target_met(const struct metric_info *mi, double v)
{
    return mi->cmp == CMP_GE ? v >= mi->target : v <= mi->target;
}

static void print_value(double v, const char *unit)
{
    if (!strcmp(unit, "ns") && v >= 10000)
        printf(" %11.1fus", v / 1000);
    else if (!strcmp(unit, "ns"))
        printf(" %12.0f ", v);
    else if (!strcmp(unit, "ops/s") && v >= 1e6)
        printf(" %12.2fM", v / 1e6);
    else if (!strcmp(unit, "ops/s"))
        printf(" %12.0f ", v);
    else if (v >= 100 || !strcmp(unit, "B"))
        printf(" %12.0f ", v);
    else
        printf(" %12.2f ", v);
}

static void print_table(const struct options *o, double med[][M_COUNT])
{
    uint32_t f, k;

    printf("\n%-40s %-5s", "metric (median of runs)", "unit");
    for (f = 0; f < o->fleet_count; f++)
        printf(" %8" PRIu32 " GPUs", o->fleets[f]);
    printf("  target\n");
    for (k = 0; k < M_COUNT; k++) {
        const struct metric_info *mi = &metrics[k];

        printf("%-40s %-5s", mi->label, mi->unit);
        for (f = 0; f < o->fleet_count; f++)
            print_value(med[f][k], mi->unit);
        if (mi->cmp != CMP_NONE) {
            printf("  %s %.0f %s", mi->cmp == CMP_GE ? ">=" : "<=", mi->target, mi->unit);
            if (mi->target_gpus)
                printf(" at %" PRIu32 " GPUs", mi->target_gpus);
        }
        printf("\n");
    }
    printf("\n");
}

static void print_results(const struct options *o, double med[][M_COUNT], double lo[][M_COUNT],
                          double hi[][M_COUNT])
{
    uint32_t f, k;

    for (f = 0; f < o->fleet_count; f++) {
        for (k = 0; k < M_COUNT; k++) {
            const struct metric_info *mi = &metrics[k];

            printf("RESULT {\"bench\":\"engine\",\"gpus\":%" PRIu32
                   ",\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"%s\",\"runs\":%" PRIu32
                   ",\"min\":%.3f,\"max\":%.3f",
                   o->fleets[f], mi->name, med[f][k], mi->unit, o->runs, lo[f][k], hi[f][k]);
            if (target_applies(mi, o->fleets[f]))
                printf(
                    ",\"target\":%.0f,\"cmp\":\"%s\",\"pass\":%s", mi->target,
                    mi->cmp == CMP_GE ? ">=" : "<=", target_met(mi, med[f][k]) ? "true" : "false");
            printf("}\n");
        }
    }
}

int main(int argc, char **argv)
{
    struct options o;
    double(*med)[M_COUNT] = NULL;
    double(*lo)[M_COUNT] = NULL;
    double(*hi)[M_COUNT] = NULL;
    double *per_run = NULL;
    double vals[100];
    uint32_t f, r, k;
    bool missed = false;
    int rc = 1;

    if (parse_options(&o, argc, argv))
        return 2;
    med = calloc(o.fleet_count, sizeof(*med));
    lo = calloc(o.fleet_count, sizeof(*lo));
    hi = calloc(o.fleet_count, sizeof(*hi));
    per_run = calloc((size_t)o.runs * M_COUNT, sizeof(*per_run));
    if (!med || !lo || !hi || !per_run)
        goto out;
    timer_calibrate();
    printf("bench_engine: %" PRIu32 " run(s) per fleet size, %" PRIu64
           " measured creates per run, seed %" PRIu64 "\n",
           o.runs, o.ops, o.seed);
    printf("workload: on_demand creates of 1/2/4/8 GPUs, stops above %.0f%% occupancy or on no "
           "capacity;\n  engine_tick before each command; events drained every %d commands; "
           "agents report every %.0f s\n  virtual; a rental lives %.0f s virtual on average "
           "(settlements every 60 s)\n",
           OCCUPANCY_TARGET * 100, BATCH, (double)REPORT_INTERVAL_US / 1e6,
           (double)RENTAL_LIFETIME_US / 1e6);
    printf("timer: TSC at %.3f GHz\n", tsc_per_ns);
    fflush(stdout);
    for (f = 0; f < o.fleet_count; f++) {
        for (r = 0; r < o.runs; r++) {
            if (run_once(&o, o.fleets[f], per_run + (size_t)r * M_COUNT, stdout))
                goto out;
            fflush(stdout);
        }
        for (k = 0; k < M_COUNT; k++) {
            for (r = 0; r < o.runs; r++)
                vals[r] = per_run[(size_t)r * M_COUNT + k];
            med[f][k] = median(vals, o.runs);
            lo[f][k] = vals[0];
            hi[f][k] = vals[o.runs - 1];
            if (target_applies(&metrics[k], o.fleets[f]) && !target_met(&metrics[k], med[f][k]))
                missed = true;
        }
    }
    print_table(&o, med);
    print_results(&o, med, lo, hi);
    printf("bench_engine: %s\n", missed ? "some targets MISSED" : "all targets met");
    rc = 0;
out:
    free(med);
    free(lo);
    free(hi);
    free(per_run);
    return rc;
}
