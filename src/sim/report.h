/*
 * report.h - what a simulation found, and its two renderings: a human table and one JSON
 * object (money as decimal strings, ratios as numbers). docs/simulator.md defines each field.
 *
 * A report holds no pointers into the engine or the scenario, so it outlives both. Output is
 * a pure function of the report: the same report always renders to the same bytes.
 */
#ifndef GPURENT_SIM_REPORT_H
#define GPURENT_SIM_REPORT_H

#include "../common/compat.h"

#include <stdio.h>

#include "../engine/economics.h"
#include "../engine/types.h"

#define REPORT_NAME_MAX   64
#define REPORT_DETAIL_MAX 256

/* What happened to the requests of one model (or all). Times in µs. */
struct report_requests {
    uint64_t submitted;               /* requests that arrived before the end */
    uint64_t placed_at_once;          /* created and given GPUs immediately */
    uint64_t queued;                  /* created pending (no capacity, queue=true) */
    uint64_t placed_from_queue;       /* pending, then given GPUs */
    uint64_t pending_at_end;          /* still waiting when the period ended */
    uint64_t gave_up;                 /* stopped by their tenant after waiting patience_seconds */
    uint64_t rejected_capacity;       /* refused: no capacity and queue=false */
    uint64_t rejected_funds;          /* refused: balance or budget */
    uint64_t rejected_invalid;        /* refused for any other reason */
    uint64_t coupon_refused;          /* the coupon was refused (expired, used up, redeemed before):
                                         the tenant asked again without it */
    uint64_t preempted;               /* spot rentals whose GPUs were taken */
    uint64_t ended[END_REASON_COUNT]; /* by end_reason */
    uint64_t waits;                   /* queued rentals placed: the samples of the percentiles */
    int64_t wait_p50, wait_p90, wait_p99, wait_max; /* nearest rank; 0 without samples */
};

/* One column of the report: a GPU model, or the total. */
struct report_line {
    char gpu_model[REPORT_NAME_MAX + 1]; /* "total" for the total */
    bool is_total;
    struct econ_line econ;        /* from engine_economics; econ.gpu_model is NULL here */
    int64_t on_demand_hourly;     /* the model's list on-demand price per GPU; 0 for the total */
    int64_t list_hourly;          /* list revenue per rented GPU-hour */
    int64_t opex_hourly;          /* (power + hosting) per available GPU-hour */
    double payback_years_revenue; /* purchase / yearly revenue; < 0 without revenue */
    struct report_requests req;
};

struct report {
    char scenario[1024]; /* the scenario directory as given */
    const char *demand;  /* "trace" or "generator" (static) */
    int64_t start, end;  /* the period, µs */
    uint32_t days;
    uint64_t seed;
    int64_t settle_interval, start_delay; /* µs */
    uint32_t hosts, gpus, tenants;
    struct report_line *lines; /* owned: one per model, then the total */
    uint32_t line_count;
    uint64_t agent_reports;                /* host reports the simulated agents sent */
    uint64_t agent_reports_rejected;       /* ... that the engine refused (a bug if not 0) */
    char first_problem[REPORT_DETAIL_MAX]; /* why the first odd refusal happened, or "" */
    /* work done, for --timing only (never printed in the report itself) */
    uint64_t commands, events;
};

void report_init(struct report *r);
void report_release(struct report *r);

/* Render r as the human table / as one JSON object followed by a newline. 0 or ERR_IO. */
int report_write_text(FILE *f, const struct report *r);
int report_write_json(FILE *f, const struct report *r);

/* The nearest-rank percentile pct (1..100) of sorted[0..n-1]; 0 when n is 0. */
int64_t report_percentile(const int64_t *sorted, size_t n, unsigned pct);

#endif
