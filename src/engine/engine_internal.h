/*
 * engine_internal.h - the engine's state, shared by engine.c and economics.c only.
 * Front-ends see engine.h; nothing outside src/engine includes this file.
 */
#ifndef GPURENT_ENGINE_INTERNAL_H
#define GPURENT_ENGINE_INTERNAL_H

#include "../common/compat.h"

#include "catalogue.h"
#include "econ_buckets.h"
#include "engine.h"
#include "inventory.h"
#include "ledger.h"
#include "timerq.h"

#define TENANT_NAME_MAX 65

struct tenant {
    char name[TENANT_NAME_MAX];
    uint32_t account; /* wallet */
    int64_t credit_limit;
    int64_t monthly_budget;         /* 0 = none */
    int64_t month_start, month_end; /* the calendar month of month_spent */
    int64_t month_spent;
    int64_t dry_since; /* when the balance reached 0 (grace started), 0 = not dry */
    uint32_t dry_gen;  /* invalidates grace timers */
    uint32_t live_rentals;
    int64_t hourly_burn;
    uint64_t rentals_head; /* its rentals that are not ended, newest first */
};

/* A rental. Billing: while `billing`, time since bill_from accrues; each settlement adds it to
 * billed_us and posts the difference between the cumulative charge and what was posted. */
struct rental {
    uint32_t tenant;
    uint32_t model;
    uint32_t host; /* 0 = none */
    uint32_t gpu_mask;
    uint8_t state;      /* enum rental_state */
    uint8_t end_reason; /* enum end_reason */
    uint8_t term;       /* enum term */
    uint8_t restart;    /* enum restart_policy */
    uint8_t gpu_count;
    bool auto_renew, has_workload, billing, requeue;
    uint32_t epoch;
    int32_t exit_code;
    uint32_t passes;      /* times a later rental was placed ahead of it */
    int64_t hourly_price; /* per GPU, net of percent discounts */
    int64_t list_hourly;  /* per GPU */
    int64_t max_hourly;
    int64_t created_at, placed_at, started_at, ends_at, ended_at;
    int64_t bill_from;
    int64_t billed_us;
    int64_t net_cum;  /* prorate(rate_net, billed_us) as last posted */
    int64_t list_cum; /* prorate(rate_list, billed_us) as last posted */
    int64_t amount_off_left, amount_off_used;
    int64_t cost, discount;
    int64_t next_settle; /* the due time of its live settlement timer */
    int64_t preempt_at;
    int64_t max_cost, max_duration;
    /* packages: paid (net and discount) for the current term, and recognised so far */
    int64_t pkg_net, pkg_disc, pkg_rec_net, pkg_rec_disc;
    int64_t pkg_base;                            /* billed_us when the current term began */
    uint64_t queue_prev, queue_next;             /* pending rentals of one (model, priority) */
    uint64_t spot_prev, spot_next;               /* live spot rentals of one model */
    uint64_t tenant_prev, tenant_next;           /* the tenant's rentals that are not ended */
    uint64_t requeued_from, requeued_as, origin; /* spot requeue chain (engine.h rental_view) */
};

struct rental_queue {
    uint64_t head, tail;
    uint32_t count;
};

/* Per model: pending rentals by priority, live spot rentals, and the economics series. */
struct model_state {
    struct rental_queue queue[PRIO_COUNT];
    uint64_t spot_head;
    uint32_t spot_count;
    struct econ_series econ;
};

struct engine {
    struct engine_config cfg;
    int64_t now; /* the latest time seen */
    struct ledger ledger;
    struct catalogue cat;
    struct inventory inv;
    struct timerq timers;

    struct tenant *tenants; /* owned; tenants[0] unused */
    uint32_t tenant_count, tenant_cap;
    struct rental *rentals; /* owned; rentals[0] unused */
    uint64_t rental_count, rental_cap;
    struct model_state *models; /* owned; parallel to cat.models */
    uint32_t model_cap;

    struct event *events; /* owned ring of undrained events */
    size_t ev_head, ev_count, ev_cap;

    uint32_t hosts_down;
    bool mass_silence; /* the brake is on: nothing is ended for silence */
    struct engine_stats stats;
    uint32_t *scratch; /* owned; per-host counters for preemption, host_count long */
    uint32_t scratch_cap;
};

#endif
