/*
 * economics.h - does the business pay? The period report and the what-if model.
 *
 * Definitions (../shared/DESIGN.md, "Economics, defined"), per GPU model and in total:
 *   available GPU-hours  GPUs registered and their host not down, over the period
 *   rented GPU-hours     billed GPU-seconds / 3600
 *   list revenue         what the billed time is worth at list price (packages pro rata)
 *   discounts            coupon, promotion and spot-below-list amounts posted
 *   revenue              list revenue - discounts = what tenants were charged (earned)
 *   realized hourly      revenue / rented GPU-hours
 *   depreciation         purchase x (1 - salvage) / (years x 8760 h) x hours owned in the period
 *   power cost           rated host power x hours registered x PUE x kWh price
 *   hosting cost         hosting_monthly x hours registered / 730
 *   gross margin         (revenue - depreciation - power - hosting) / revenue
 *   payback years        purchase / ((revenue - power - hosting) x 8760 h / hours of period)
 *
 * Money stays int64 micro-units; ratios and hours are doubles (reports only).
 */
#ifndef GPURENT_ECONOMICS_H
#define GPURENT_ECONOMICS_H

#include "../common/compat.h"

#include "types.h"

#define HOURS_PER_YEAR  8760
#define HOURS_PER_MONTH 730

/* One GPU priced by hand: the what-if model of API.md. */
struct whatif_input {
    int64_t card_price;
    int64_t hourly_price;        /* realized price per GPU-hour */
    uint32_t utilization_ppm;    /* 0..1,000,000 */
    uint32_t depreciation_years; /* > 0 */
    uint32_t salvage_ppm;        /* 0..1,000,000 */
    int64_t opex_hourly;         /* other operating cost per hour */
    uint32_t power_watts;
    uint32_t pue_milli; /* 0 = 1.000 */
    int64_t electricity_kwh_price;
    int64_t hosting_monthly;
};

struct whatif_output {
    int64_t revenue_yearly;       /* hourly_price x utilization x 8760 */
    int64_t depreciation_yearly;  /* card_price x (1 - salvage) / years */
    int64_t opex_hourly_total;    /* opex + power + hosting per hour */
    int64_t opex_yearly;          /* opex_hourly_total x 8760 */
    int64_t gross_profit_yearly;  /* revenue - depreciation - opex */
    double gross_margin;          /* gross profit / revenue (0 when no revenue) */
    double payback_years_revenue; /* card_price / revenue_yearly (< 0: never) */
    double payback_years_cash;    /* card_price / (revenue - opex) yearly (< 0: never) */
    double breakeven_utilization; /* utilization at which gross profit is 0 (< 0: never) */
};

/* 0, or ERR_INVALID with detail (zero years, utilization above 1, negative money). */
int economics_whatif(const struct whatif_input *in, struct whatif_output *out, char *detail,
                     size_t cap);

/* The hourly cost at which hourly_price earns the gross margin margin_ppm: price x (1 - m). */
int64_t economics_cost_at_margin(int64_t hourly_price, uint32_t margin_ppm);

/* One line of the period report. model is the model number, or ECON_TOTAL. */
#define ECON_TOTAL UINT32_MAX
struct econ_line {
    uint32_t model;
    const char *gpu_model;    /* borrowed; "total" for the total line */
    uint32_t gpus;            /* GPUs registered at the end of the period */
    int64_t gpu_us_available; /* exact GPU-microseconds; the hours below are these / 1 h */
    int64_t gpu_us_rented;
    double gpu_hours_available;
    double gpu_hours_rented;
    double utilization; /* rented / available, 0 when nothing was available */
    int64_t list_revenue;
    int64_t discounts;
    int64_t revenue;
    int64_t realized_hourly; /* revenue per rented GPU-hour, 0 when nothing was rented */
    int64_t depreciation;
    int64_t power_cost;
    int64_t hosting_cost;
    int64_t purchase_price; /* of the hosts with a cost basis */
    double gross_margin;    /* 0 when no revenue */
    double payback_years;   /* < 0 when the period earned nothing over its cash costs */
};

struct engine;

/*
 * The report for [from, to) as known at now (to is clipped to now). Money is taken from
 * hourly buckets, so periods resolve to whole hours: a bucket counts when its hour starts in
 * [from, to). Fills one line per model (in model order) then the total; returns the number
 * of lines written (at most cap), or ERR_INVALID for from >= to.
 */
int engine_economics(const struct engine *e, int64_t from, int64_t to, int64_t now,
                     struct econ_line *buf, uint32_t cap);

#endif
