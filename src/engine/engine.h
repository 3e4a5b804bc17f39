/*
 * engine.h - the deterministic state machine of the rental platform.
 *
 * The engine owns every piece of mutable platform state: tenants and their wallets, the
 * ledger, the catalogue (GPU models, prices, coupons), the inventory (hosts and GPUs), the
 * rentals and the wait queue. It has no I/O, no clock, no locks and no globals:
 *
 *   - every mutation is a `struct command` applied by engine_apply() at an explicit `now`;
 *   - all time-driven work (settlement, expiry, heartbeat timeouts, preemption notices,
 *     start timeouts, grace periods) happens in engine_tick(now);
 *   - what happened comes out as `struct event`s from engine_drain_events(), which is what a
 *     store persists and what reports are made of.
 *
 * Same commands at the same times give the same events, byte for byte. Time is int64
 * microseconds since the Unix epoch; money is int64 micro-units (money.h). `now` must never
 * go backwards between calls (a smaller `now` is treated as the last one seen).
 *
 * Objects are named by small integers inside the engine (tenant, host, rental numbers,
 * starting at 1); ids.h turns them into the public "tnt_...", "hst_...", "rnt_..." strings.
 * The engine is single-threaded: one thread calls into it at a time.
 */
#ifndef GPURENT_ENGINE_H
#define GPURENT_ENGINE_H

#include "../common/compat.h"

#include "types.h"

struct engine;

/* Settings; engine_config_defaults() fills the documented defaults. All durations in µs. */
struct engine_config {
    int64_t settle_interval;    /* running rentals settle at least this often (60 s) */
    int64_t min_balance_us;     /* creating needs funds for this long at the rate (1 h) */
    int64_t insufficient_grace; /* after a wallet reaches 0, rentals end after this (300 s) */
    int64_t heartbeat_timeout;  /* a host silent this long is down; 0 disables (60 s) */
    int64_t lost_after;         /* a host down this long loses its rentals (300 s) */
    int64_t start_timeout;      /* a rental `starting` this long fails to start (600 s) */
    int64_t preempt_notice;     /* spot rentals get this much notice before preemption (30 s) */
    uint32_t starvation_passes; /* a queued rental passed over this often blocks others (32) */
    uint32_t mass_silence_pct;  /* this % of hosts down at once is the control plane's fault
                                   (50); nothing is ended then */
    uint32_t mass_silence_min_hosts; /* the brake needs at least this many hosts (4) */
    uint32_t package_stop_fee_bp;    /* fee on the unused part of a package stopped early (0) */
};

void engine_config_defaults(struct engine_config *cfg);

/* Create an engine: 0 and *out (owned by the caller, free with engine_free), or ERR_NOMEM /
 * ERR_INVALID (a nonsensical config). */
int engine_new(struct engine **out, const struct engine_config *cfg);
void engine_free(struct engine *e);

/* ---- Commands ------------------------------------------------------------------------ */

enum command_type {
    CMD_TENANT_CREATE,
    CMD_TENANT_UPDATE,
    CMD_CREDIT,
    CMD_PRICE_SET,
    CMD_COUPON_CREATE,
    CMD_HOST_REGISTER,
    CMD_HOST_COST,
    CMD_HOST_DRAIN,
    CMD_HOST_UNDRAIN,
    CMD_HOST_REPORT,
    CMD_RENTAL_CREATE,
    CMD_RENTAL_STOP,
    CMD_ADJUST,
};

struct cmd_tenant_create {
    const char *name;     /* borrowed; 1..64 bytes */
    int64_t credit_limit; /* >= 0: the wallet may go this far below zero */
};

struct cmd_tenant_update {
    uint32_t tenant;
    bool set_credit_limit;
    int64_t credit_limit;
    bool set_monthly_budget;
    int64_t monthly_budget; /* 0 = no cap */
};

struct cmd_credit {
    uint32_t tenant;
    int64_t amount;          /* > 0 */
    const char *reference;   /* borrowed; free text for the statement, may be NULL */
    const char *transfer_id; /* borrowed; a repeated id is a no-op returning the first
                                result; NULL = always new */
};

struct cmd_price_set {
    const char *gpu_model;          /* borrowed; created if unknown */
    uint32_t memory_mib;            /* 0 = keep (or unknown until a host registers the model) */
    int64_t on_demand_hourly;       /* per GPU, > 0 */
    int64_t spot_floor_hourly;      /* per GPU; <= 0 = spot not offered */
    int64_t package[PACKAGE_COUNT]; /* per GPU for the whole term; <= 0 = not offered */
};

struct cmd_coupon_create {
    const char *code;         /* borrowed; unique */
    uint32_t percent_off_bp;  /* basis points (2500 = 25%); exclusive with amount_off */
    int64_t amount_off;       /* per rental; exclusive with percent_off_bp */
    uint32_t max_redemptions; /* 0 = unlimited */
    int64_t valid_until;      /* 0 = forever */
    const char *gpu_model;    /* borrowed; NULL = any model */
    int term;                 /* enum term, or -1 = any term */
    bool automatic;           /* a promotion: applied to every matching rental without a code */
    bool once_per_tenant;     /* each tenant may redeem it once */
};

struct gpu_spec {
    uint32_t index;    /* the host-local index (0..31), unique on the host */
    const char *uuid;  /* borrowed; globally unique */
    const char *model; /* borrowed; every GPU of a host must be of one model */
    uint32_t memory_mib;
    uint32_t nvlink_island; /* GPUs sharing an island are linked by NVLink */
};

struct cmd_host_register {
    const char *hostname;        /* borrowed */
    const struct gpu_spec *gpus; /* borrowed; 1..MAX_GPUS_PER_HOST */
    uint32_t gpu_count;
};

struct cmd_host_cost {
    uint32_t host;
    struct cost_basis cost;
};

struct cmd_host {
    uint32_t host; /* drain / undrain */
};

/* What an agent says about one rental it runs. */
struct rental_report {
    uint64_t rental;
    uint32_t epoch;          /* the assignment epoch the agent was given */
    enum report_state state; /* starting, running, exited, failed */
    int exit_code;           /* for exited */
};

/* A heartbeat: the host is alive, and this is what it runs. */
struct cmd_host_report {
    uint32_t host;
    const struct rental_report *reports; /* borrowed */
    uint32_t count;
};

struct cmd_rental_create {
    uint32_t tenant;
    const char *gpu_model; /* borrowed */
    uint32_t gpu_count;    /* 1..the largest host of the model */
    enum term term;
    int64_t max_hourly;   /* spot: the bid per GPU (>= the spot floor); else 0 */
    const char *coupon;   /* borrowed; NULL = none (automatic promotions still apply) */
    bool queue;           /* wait in the queue when there is no capacity now */
    bool auto_renew;      /* packages: renew at the end when the balance allows */
    int64_t max_cost;     /* 0 = none: end (budget) when the charges reach it */
    int64_t max_duration; /* µs, 0 = none: end (expired) after running this long */
    bool has_workload;    /* ends `exited` when the workload exits */
    enum restart_policy restart;
    bool requeue; /* spot: when preempted, queue a successor with the same spec and bid */
};

struct cmd_rental_stop {
    uint32_t tenant; /* 0 = the operator (any rental); else only this tenant's rentals */
    uint64_t rental;
    bool admin; /* end_reason `admin` instead of `stopped` */
    bool idle;  /* end_reason `idle`: the rental's idle_stop rule fired */
};

/* An operator's correction of a tenant's charges: a credit (amount > 0, refunds -> wallet) or
 * a charge (amount < 0, wallet -> refunds, never past the credit limit). Posted now, so it
 * lands in the open month; `corrects` names the closed month it is about. */
#define ADJUST_REASON_MAX 200

struct cmd_adjust {
    uint32_t tenant;
    int64_t amount;     /* != 0 */
    uint64_t rental;    /* 0 = not about one rental; else one of the tenant's */
    int64_t corrects;   /* a month index (time_month_index) before now's month; 0 = none */
    const char *reason; /* borrowed; 1..200 printable bytes (kept in the command log) */
};

struct command {
    enum command_type type;
    union {
        struct cmd_tenant_create tenant_create;
        struct cmd_tenant_update tenant_update;
        struct cmd_credit credit;
        struct cmd_price_set price_set;
        struct cmd_coupon_create coupon_create;
        struct cmd_host_register host_register;
        struct cmd_host_cost host_cost;
        struct cmd_host host;
        struct cmd_host_report host_report;
        struct cmd_rental_create rental_create;
        struct cmd_rental_stop rental_stop;
        struct cmd_adjust adjust;
    } u;
};

#define RESULT_DETAIL_MAX 200

/* What one command did. */
struct result {
    int code;                       /* 0 or an ERR_* code */
    char detail[RESULT_DETAIL_MAX]; /* the reason for a non-zero code, lower-case */
    uint64_t id;                    /* the object created or acted on */
    int64_t amount;                 /* credit: the new balance */
    bool replayed;                  /* a repeated transfer id: the first result again */
    enum rental_state state;        /* rental create: starting or pending */
};

/*
 * Apply one command at time now. First does the time-driven work due by now (as
 * engine_tick), so the result depends only on the commands and their times: replaying a log
 * of (command, now) rebuilds the same state. Always fills *out; returns out->code. A command
 * that fails changes nothing beyond that tick (no state, no events of its own). Borrowed
 * strings need only live for the call.
 */
int engine_apply(struct engine *e, const struct command *cmd, int64_t now, struct result *out);

/* All time-driven work up to now, in time order. */
void engine_tick(struct engine *e, int64_t now);

/* The earliest time at which engine_tick has work to do, or INT64_MAX. Lets a virtual clock
 * jump straight to it. */
int64_t engine_next_deadline(const struct engine *e);

/* ---- Events -------------------------------------------------------------------------- */

enum event_type {
    EV_TENANT_CREATED,  /* id = tenant */
    EV_TENANT_UPDATED,  /* id = tenant */
    EV_TRANSFER,        /* u.transfer */
    EV_PRICE_SET,       /* model */
    EV_COUPON_CREATED,  /* id = coupon */
    EV_HOST_REGISTERED, /* id = host */
    EV_HOST_STATE,      /* id = host; u.host_state */
    EV_HOST_COST,       /* id = host */
    EV_RENTAL_CREATED,  /* id = rental; u.rental */
    EV_RENTAL_STATE,    /* id = rental; u.rental: a state change (placement, start, end...) */
    EV_PREEMPT_NOTICE,  /* id = rental; u.rental: spot rental will be preempted at `until` */
    EV_ALERT,           /* u.alert */
};

struct transfer {
    uint64_t seq;      /* 1, 2, ... in posting order */
    uint32_t from, to; /* account numbers (ledger.h) */
    int64_t amount;    /* > 0 */
    enum transfer_kind kind;
    uint64_t rental; /* 0 when not about a rental */
    int64_t at;
    int64_t corrects; /* the month index (time_month_index) of the earlier, closed month whose
                         usage this bills or corrects; 0 = about the month it is posted in */
};

struct ev_rental {
    enum rental_state from, to;
    enum end_reason reason;
    uint32_t tenant;
    uint32_t host; /* 0 when not placed */
    int64_t until; /* preempt notice: when the GPUs will be taken */
};

struct ev_host_state {
    enum host_state from, to;
};

enum alert_kind { ALERT_MASS_SILENCE, ALERT_MASS_SILENCE_CLEARED };

struct ev_alert {
    enum alert_kind kind;
    uint32_t hosts_down;
    uint32_t hosts_total;
};

struct event {
    enum event_type type;
    int64_t at;
    uint64_t id;
    union {
        struct transfer transfer;
        struct ev_rental rental;
        struct ev_host_state host_state;
        struct ev_alert alert;
    } u;
};

/* Move up to cap pending events (oldest first) into buf; returns how many. Events not drained
 * stay queued; a caller that never drains lets the queue grow. */
size_t engine_drain_events(struct engine *e, struct event *buf, size_t cap);

/* ---- Reads (no side effects) ---------------------------------------------------------- */

struct tenant_view {
    uint32_t id;
    const char *name; /* borrowed from the engine; valid until the next apply/tick */
    uint32_t account; /* the wallet's ledger account */
    int64_t balance;
    int64_t credit_limit;
    int64_t monthly_budget;
    int64_t month_spent;   /* charges in the calendar month of the last settlement */
    int64_t hourly_burn;   /* the summed hourly rate of its billing rentals */
    uint32_t live_rentals; /* not ended */
};

struct rental_view {
    uint64_t id;
    uint32_t tenant;
    enum rental_state state;
    enum end_reason end_reason;
    int exit_code;
    const char *gpu_model; /* borrowed */
    uint32_t gpu_count;
    enum term term;
    int64_t hourly_price; /* per GPU, what the tenant pays, locked at creation */
    int64_t list_hourly;  /* per GPU, the list price at creation */
    int64_t max_hourly;   /* spot bid */
    uint32_t host;        /* 0 when not placed */
    uint32_t gpu_mask;    /* host-local GPU indices held (bit i = index i) */
    uint32_t epoch;       /* the current assignment epoch */
    int64_t created_at, placed_at, started_at, ends_at, ended_at; /* 0 = not yet */
    int64_t cost;            /* net charged so far (packages: the price paid less refunds) */
    int64_t accrued;         /* cost plus what has run since the last settlement, up to now */
    int64_t discount;        /* discounts given so far (list - net, plus amount-off used) */
    int64_t amount_off_used; /* the part of `discount` that came from an amount-off coupon */
    int64_t billed_us;       /* microseconds billed so far */
    bool billing;            /* accruing now */
    bool auto_renew;
    bool has_workload;
    int64_t preempt_at;     /* spot: when its GPUs will be taken, 0 = not under notice */
    bool requeue;           /* spot: a successor is queued when it is preempted */
    uint64_t requeued_from; /* the preempted rental this one continues, 0 = none */
    uint64_t requeued_as;   /* the successor queued when this one was preempted, 0 = none */
    uint64_t origin;        /* the first rental of its requeue chain (itself when none): the
                               one whose workload it runs */
    int64_t max_cost;       /* the tenant's cap on its charges, 0 = none */
    int64_t max_duration;   /* µs of running before it ends (expired), 0 = none */
};

struct gpu_view {
    uint32_t index;
    const char *uuid; /* borrowed */
    uint32_t memory_mib;
    uint32_t nvlink_island;
    enum gpu_state state;
    uint64_t rental; /* 0 when free */
};

struct host_view {
    uint32_t id;
    const char *hostname;  /* borrowed */
    const char *gpu_model; /* borrowed */
    enum host_state state;
    int64_t registered_at;
    int64_t last_heartbeat_at;
    uint32_t gpu_count;
    uint32_t free_gpus;
    bool has_cost;
    struct cost_basis cost;
};

struct offer_view {
    const char *gpu_model; /* borrowed */
    uint32_t memory_mib;
    uint32_t available_gpus;    /* free on ready hosts */
    uint32_t max_gpus_per_host; /* the largest request that can be placed now */
    uint32_t largest_host;      /* the largest host of the model (the request limit) */
    struct price prices;
};

struct engine_stats {
    uint64_t rentals_created;
    uint64_t placed_at_once; /* created and placed immediately */
    uint64_t queued;         /* created pending */
    uint64_t placed_from_queue;
    uint64_t rejected_capacity; /* refused: no capacity and not queued */
    uint64_t rejected_funds;    /* refused: balance or budget */
    uint64_t preempted;
    uint64_t ended[END_REASON_COUNT];
    uint32_t pending_now;
    uint32_t live_now; /* starting or running */
    uint32_t hosts, gpus;
    uint32_t tenants;
    uint64_t transfers;
};

int engine_tenant(const struct engine *e, uint32_t id, struct tenant_view *out);
int engine_rental(const struct engine *e, uint64_t id, struct rental_view *out);
int engine_host(const struct engine *e, uint32_t id, struct host_view *out);
/* The GPUs of a host, by host-local index order: fills up to cap, returns the count or <0. */
int engine_host_gpus(const struct engine *e, uint32_t host, struct gpu_view *buf, uint32_t cap);
/* Offers of model i in 0..engine_model_count()-1, in the order models were first seen. */
uint32_t engine_model_count(const struct engine *e);
int engine_offer(const struct engine *e, uint32_t model, struct offer_view *out);
/* Find a model by name: 0 and *out set, or ERR_NOTFOUND. */
int engine_model_find(const struct engine *e, const char *name, uint32_t *out);

/* A coupon or promotion, as created, with how often it was redeemed. */
struct coupon_view {
    uint32_t number;  /* 0.. in creation order (the public id is number + 1) */
    const char *code; /* borrowed */
    uint32_t percent_off_bp;
    int64_t amount_off;
    uint32_t max_redemptions; /* 0 = unlimited */
    uint32_t redemptions;
    int64_t valid_until;   /* 0 = forever */
    const char *gpu_model; /* borrowed; NULL = any */
    int term;              /* enum term, or -1 = any */
    bool automatic;
    bool once_per_tenant;
};
/* Coupon i in 0..engine_coupon_count()-1: 0, or ERR_NOTFOUND. */
uint32_t engine_coupon_count(const struct engine *e);
int engine_coupon(const struct engine *e, uint32_t i, struct coupon_view *out);
void engine_stats(const struct engine *e, struct engine_stats *out);
uint64_t engine_rental_count(const struct engine *e); /* highest rental number issued */
uint32_t engine_host_count(const struct engine *e);
uint32_t engine_tenant_count(const struct engine *e);

/* The balance of any ledger account (ledger.h names the platform accounts). */
int64_t engine_account_balance(const struct engine *e, uint32_t account);
uint32_t engine_account_count(const struct engine *e);

/*
 * The exact price of a rental before creating it: the same arithmetic the bill uses.
 * duration_us is for on_demand/spot (the packages' duration is their term). Uses the
 * coupon (or the best automatic promotion) as creation would, without redeeming it.
 */
struct quote {
    int64_t hourly_price; /* per GPU, after percent discounts */
    int64_t hourly_total; /* gpu_count x hourly_price */
    int64_t list_total;   /* before discounts */
    int64_t discount;     /* list_total - total */
    int64_t total;        /* what the tenant pays for the duration */
    int32_t coupon;       /* the coupon or automatic promotion it applies (engine_coupon), -1 */
};
int engine_quote(const struct engine *e, uint32_t tenant, const char *gpu_model, uint32_t gpu_count,
                 enum term term, int64_t max_hourly, const char *coupon, int64_t duration_us,
                 int64_t now, struct quote *out, char *detail, size_t cap);

/*
 * Check every invariant: ledger sums to zero, no wallet below minus its credit limit, no GPU
 * held by two live rentals, index consistency, each rental's charges equal its billing rule.
 * Returns 0, or ERR_CONFLICT with the first violation described in detail.
 */
int engine_check(const struct engine *e, char *detail, size_t cap);

#endif
