/*
 * scenario.h - a simulator scenario: the fleet, the prices and the demand, loaded from a
 * directory of files (docs/simulator.md defines every format).
 *
 *   scenario.json   optional: start, days, seed, settle interval, agent start delay, tenants
 *   fleet.json      host groups: count, hostname prefix, GPU model and shape, cost basis
 *   prices.json     per model prices and packages; coupons and automatic promotions
 *   demand.csv      a trace: one request per line          } exactly one of the two
 *   demand.json     the parameters of a synthetic generator }
 *
 * Loading validates everything a run needs, so a run never meets a malformed input: every
 * error names the file, the line and the field (JSON) or column (CSV). Unknown JSON fields
 * are errors. Files are capped at SCENARIO_FILE_MAX bytes, CSV lines at SCENARIO_LINE_MAX.
 *
 * Money is int64 micro-units (money.h), time is int64 µs since the Unix epoch; the ratios that
 * the files give as JSON numbers are converted here to the engine's integer forms (ppm, milli,
 * basis points) by rounding. The generator's weights and rates stay doubles: they shape
 * demand, they never touch money.
 */
#ifndef GPURENT_SIM_SCENARIO_H
#define GPURENT_SIM_SCENARIO_H

#include "../common/compat.h"

#include "../engine/types.h"

#define SCENARIO_FILE_MAX    (64u << 20) /* bytes in any one scenario file */
#define SCENARIO_LINE_MAX    4096        /* bytes in one CSV line, without its newline */
#define SCENARIO_NAME_MAX    64          /* bytes in a model, tenant, coupon or hostname prefix */
#define SCENARIO_ERR_MAX     512         /* room for a load error message */
#define SCENARIO_MAX_DAYS    3660
#define SCENARIO_MAX_HOSTS   100000 /* hosts in the whole fleet */
#define SCENARIO_MAX_TENANTS 1000000
#define SCENARIO_MAX_MODELS  64
#define SCENARIO_MAX_COUPONS 1024

/* One group of identical hosts in fleet.json. */
struct scenario_host_group {
    char *hostname_prefix; /* owned; hosts are prefix + "-" + 001, 002, ... */
    uint32_t count;        /* hosts in the group */
    uint32_t model;        /* index into scenario.models */
    uint32_t memory_mib;   /* per GPU */
    uint32_t gpus_per_host;
    uint32_t nvlink_islands; /* GPUs are split evenly across this many islands */
    bool has_cost;
    struct cost_basis cost; /* per host; purchased_at defaults to the scenario start */
};

/* A GPU model: named by the fleet or by prices.json, priced by prices.json. */
struct scenario_model {
    char *name;            /* owned */
    uint32_t memory_mib;   /* of the first host group of the model, 0 when none */
    uint32_t largest_host; /* the most GPUs on one host of the model, 0 when none */
    uint32_t gpus;         /* GPUs of the model in the fleet */
    bool priced;           /* prices.json gives its prices */
    struct price price;    /* per GPU */
};

struct scenario_coupon {
    char *code;               /* owned */
    uint32_t percent_off_bp;  /* basis points; exclusive with amount_off */
    int64_t amount_off;       /* per rental */
    uint32_t max_redemptions; /* 0 = unlimited */
    int64_t valid_until;      /* µs, 0 = forever */
    int32_t model;            /* index into scenario.models, -1 = any model */
    int term;                 /* enum term, or -1 = any term */
    bool automatic;           /* a promotion: applied without a code */
    bool once_per_tenant;
};

/* One request of a trace (demand.csv), times resolved against the scenario start. */
struct scenario_request {
    int64_t at;      /* µs since the epoch */
    uint32_t tenant; /* index into scenario.tenant_names */
    uint32_t model;  /* index into scenario.models */
    uint32_t gpu_count;
    enum term term;
    int64_t duration; /* µs the workload runs once started; ignored for packages */
    int64_t bid;      /* spot: per GPU; 0 otherwise */
    int64_t patience; /* µs a queued request waits before its tenant stops it; 0 = forever */
    int32_t coupon;   /* index into scenario.coupons, -1 = none */
    uint32_t line;    /* the CSV line (0 for generated requests) */
    bool queue;       /* wait in the queue when there is no capacity now */
};

#define DEMAND_MAX_COUPONS_PER_MODEL 16

enum duration_kind { DURATION_FIXED, DURATION_EXPONENTIAL, DURATION_LOGNORMAL };

/* How long workloads run, in seconds (demand.json). */
struct duration_dist {
    enum duration_kind kind;
    double mean_seconds; /* > 0 */
    double sigma;        /* lognormal: the shape, > 0 (1.0) */
    double min_seconds;  /* draws are clamped to [min, max] (1, none) */
    double max_seconds;  /* 0 = no maximum */
};

/* The generator's parameters for one model (demand.json). */
struct demand_model_params {
    uint32_t model;           /* index into scenario.models */
    double arrivals_per_hour; /* Poisson rate, > 0 */
    struct duration_dist duration;
    double size_weight[MAX_GPUS_PER_HOST + 1]; /* by GPU count; relative (demand.c normalises) */
    double term_weight[TERM_COUNT];            /* relative (demand.c normalises) */
    int64_t bid_min, bid_max; /* spot bids are uniform in [min, max], whole cents */
    double queue_share;       /* share of requests that wait in the queue (1) */
    double patience_seconds;  /* a queued request is stopped after this wait; 0 = never */
    uint32_t coupon_count;
    uint32_t coupon[DEMAND_MAX_COUPONS_PER_MODEL];     /* indexes into scenario.coupons */
    double coupon_share[DEMAND_MAX_COUPONS_PER_MODEL]; /* share using each; sum <= 1 */
};

enum demand_kind { DEMAND_TRACE, DEMAND_GENERATOR };

struct scenario {
    char *dir; /* owned; as given */

    /* scenario.json */
    int64_t start;               /* µs; default 2026-01-01T00:00:00Z */
    uint32_t days;               /* default 7 */
    uint64_t seed;               /* default 1 */
    int64_t settle_interval;     /* µs; default 3600 s */
    int64_t start_delay;         /* µs from placement to the agent's `running` report (30 s) */
    uint32_t tenants;            /* the generator's tenant count (100) */
    int64_t tenant_credit;       /* each tenant's initial top-up (1,000,000,000.00) */
    int64_t tenant_credit_limit; /* how far below zero a wallet may go (0) */

    struct scenario_model *models; /* owned; fleet models first, in order of appearance */
    uint32_t model_count;
    struct scenario_host_group *groups; /* owned */
    uint32_t group_count;
    uint32_t host_count, gpu_count;
    struct scenario_coupon *coupons; /* owned */
    uint32_t coupon_count;

    enum demand_kind demand;
    /* trace: requests sorted by time (stable), tenants by first appearance */
    struct scenario_request *requests; /* owned */
    size_t request_count;
    char **tenant_names; /* owned; trace only */
    uint32_t tenant_name_count;
    /* generator */
    struct demand_model_params *params; /* owned */
    uint32_t param_count;
};

/*
 * Load the scenario in directory dir into *sc (which the caller allocates; it is
 * initialised here). Returns 0, or ERR_INVALID / ERR_IO / ERR_NOMEM with a message in
 * err[cap] such as `dir/fleet.json:12: field "gpus_per_host": expected a positive integer`.
 * On error *sc holds nothing to release (scenario_release is still safe).
 */
int scenario_load(struct scenario *sc, const char *dir, char *err, size_t cap);

/* Free everything *sc owns and leave it empty. Safe on a zeroed or released scenario. */
void scenario_release(struct scenario *sc);

/* The end of the simulated period: start + days. */
int64_t scenario_end(const struct scenario *sc);

/*
 * Parse the CSV trace text of file `path` (for messages only) into sc->requests and
 * sc->tenant_names. sc must already hold its models, coupons and start. Exposed for tests.
 */
int scenario_parse_trace(struct scenario *sc, const char *path, const char *text, size_t len,
                         char *err, size_t cap);

#endif
