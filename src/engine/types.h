/*
 * types.h - the small value types the engine's modules and front-ends share: terms, states,
 * end reasons, prices and cost bases, with their stable wire names.
 */
#ifndef GPURENT_TYPES_H
#define GPURENT_TYPES_H

#include "../common/compat.h"

#define MAX_GPUS_PER_HOST 32 /* a host's GPUs are a bitmask of this width */

enum term { TERM_ON_DEMAND, TERM_SPOT, TERM_DAY, TERM_WEEK, TERM_MONTH, TERM_COUNT };

/* Packages are the terms from TERM_DAY on; PACKAGE_INDEX(term) is 0 (day), 1, 2 (month). */
#define PACKAGE_COUNT      3
#define TERM_IS_PACKAGE(t) ((t) >= TERM_DAY && (t) <= TERM_MONTH)
#define PACKAGE_INDEX(t)   ((t)-TERM_DAY)

/* Placement priority: packages > on_demand > spot. */
enum priority { PRIO_SPOT, PRIO_ON_DEMAND, PRIO_PACKAGE, PRIO_COUNT };

enum rental_state { RENTAL_PENDING, RENTAL_STARTING, RENTAL_RUNNING, RENTAL_ENDED };

enum end_reason {
    END_NONE,
    END_STOPPED,
    END_EXPIRED,
    END_PREEMPTED,
    END_HOST_FAILED,
    END_INSUFFICIENT_BALANCE,
    END_BUDGET,
    END_IDLE,
    END_EXITED,
    END_FAILED_TO_START,
    END_ADMIN,
    END_REASON_COUNT
};

enum host_state { HOST_READY, HOST_DRAINING, HOST_DOWN };

enum gpu_state { GPU_FREE, GPU_ALLOCATED, GPU_UNAVAILABLE };

enum restart_policy { RESTART_NEVER, RESTART_ON_FAILURE, RESTART_ALWAYS };

enum report_state { REPORT_STARTING, REPORT_RUNNING, REPORT_EXITED, REPORT_FAILED };

/* Why money moved; each kind has a fixed pair of account types. */
enum transfer_kind {
    XFER_TOPUP,     /* external -> wallet */
    XFER_CHARGE,    /* wallet -> revenue: usage at the rental's net price */
    XFER_DISCOUNT,  /* discounts -> revenue (or deferred): the part of list price not charged */
    XFER_PACKAGE,   /* wallet -> deferred: a package prepaid */
    XFER_RECOGNIZE, /* deferred -> revenue: a package's earned share */
    XFER_REFUND,    /* deferred -> wallet: a package's unused share returned */
    XFER_DISCOUNT_REVERSAL, /* deferred -> discounts: the unused share of a package discount */
    XFER_ADJUSTMENT,        /* refunds -> wallet (a credit) or wallet -> refunds (a charge):
                               an operator's correction */
    XFER_KIND_COUNT
};

/* Per-GPU prices of one model. Zero or negative = not offered. */
struct price {
    int64_t on_demand_hourly;
    int64_t spot_floor_hourly;
    int64_t package[PACKAGE_COUNT];
};

/* What a host costs, for the economics. Ratios are integers so no float touches money. */
struct cost_basis {
    int64_t purchase_price;        /* the whole host */
    int64_t purchased_at;          /* µs */
    uint32_t depreciation_years;   /* > 0 */
    uint32_t salvage_ppm;          /* salvage value, parts per million of the price */
    uint32_t power_watts;          /* the host's average draw */
    uint32_t pue_milli;            /* power usage effectiveness x 1000 (1.30 -> 1300) */
    int64_t electricity_kwh_price; /* per kWh */
    int64_t hosting_monthly;       /* rack, network, staff: per 730 h */
};

/* Term lengths in µs (a month is 30 days); 0 for on_demand and spot. */
int64_t term_length_us(enum term t);
enum priority term_priority(enum term t);

/* Stable wire names, and their parsers (0 and *out set, or ERR_INVALID). */
const char *term_name(enum term t);
int term_parse(enum term *out, const char *s);
const char *rental_state_name(enum rental_state s);
int rental_state_parse(enum rental_state *out, const char *s);
const char *end_reason_name(enum end_reason r);
const char *host_state_name(enum host_state s);
const char *gpu_state_name(enum gpu_state s);
const char *restart_policy_name(enum restart_policy p);
int restart_policy_parse(enum restart_policy *out, const char *s);
const char *transfer_kind_name(enum transfer_kind k);

#endif
