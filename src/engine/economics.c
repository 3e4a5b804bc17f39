/*
 * economics.c - the period report (from the engine's hourly buckets and the hosts' cost
 * bases) and the what-if model (the same formulas on typed-in inputs).
 */
#include "../common/compat.h"

#include <stdio.h>
#include <string.h>

#include "../common/err.h"
#include "economics.h"
#include "engine_internal.h"
#include "money.h"

#define PPM 1000000

int economics_whatif(const struct whatif_input *in, struct whatif_output *out, char *detail,
                     size_t cap)
{
    int64_t yearly_us = (int64_t)HOURS_PER_YEAR * USEC_PER_HOUR;
    int64_t power_hourly, hosting_hourly, cost_yearly;
    uint32_t pue = in->pue_milli ? in->pue_milli : 1000;

    memset(out, 0, sizeof(*out));
    if (in->depreciation_years == 0 || in->depreciation_years > 100) {
        snprintf(detail, cap, "depreciation_years: must be 1 to 100");
        return ERR_INVALID;
    }
    if (in->utilization_ppm > PPM) {
        snprintf(detail, cap, "utilization: must be between 0 and 1");
        return ERR_INVALID;
    }
    if (in->salvage_ppm > PPM) {
        snprintf(detail, cap, "salvage_fraction: must be between 0 and 1");
        return ERR_INVALID;
    }
    if (in->card_price < 0 || in->hourly_price < 0 || in->opex_hourly < 0 ||
        in->electricity_kwh_price < 0 || in->hosting_monthly < 0 || in->card_price > MONEY_MAX ||
        in->hourly_price > MONEY_MAX / HOURS_PER_YEAR ||
        in->opex_hourly > MONEY_MAX / HOURS_PER_YEAR ||
        in->electricity_kwh_price > MONEY_MAX / PPM || in->hosting_monthly > MONEY_MAX) {
        snprintf(detail, cap, "money: amounts must be between 0 and %lld",
                 (long long)(MONEY_MAX / HOURS_PER_YEAR / MONEY_UNIT));
        return ERR_INVALID;
    }
    /* power per hour: W / 1000 x PUE x kWh price */
    power_hourly =
        money_scale(in->electricity_kwh_price, (int64_t)in->power_watts * pue, 1000 * 1000);
    hosting_hourly = money_scale(in->hosting_monthly, 1, HOURS_PER_MONTH);
    out->opex_hourly_total = in->opex_hourly + power_hourly + hosting_hourly;
    out->revenue_yearly =
        money_scale(money_prorate(in->hourly_price, yearly_us), in->utilization_ppm, PPM);
    out->depreciation_yearly = money_scale(money_scale(in->card_price, PPM - in->salvage_ppm, PPM),
                                           1, in->depreciation_years);
    out->opex_yearly = out->opex_hourly_total * HOURS_PER_YEAR;
    cost_yearly = out->depreciation_yearly + out->opex_yearly;
    out->gross_profit_yearly = out->revenue_yearly - cost_yearly;
    out->gross_margin = out->revenue_yearly > 0
                            ? (double)out->gross_profit_yearly / (double)out->revenue_yearly
                            : 0;
    out->payback_years_revenue =
        out->revenue_yearly > 0 ? (double)in->card_price / (double)out->revenue_yearly : -1;
    out->payback_years_cash =
        out->revenue_yearly > out->opex_yearly
            ? (double)in->card_price / (double)(out->revenue_yearly - out->opex_yearly)
            : -1;
    {
        int64_t full = money_prorate(in->hourly_price, yearly_us);
        double be = full > 0 ? (double)cost_yearly / (double)full : -1;
        out->breakeven_utilization = be >= 0 && be <= 1 ? be : -1;
    }
    return 0;
}

int64_t economics_cost_at_margin(int64_t hourly_price, uint32_t margin_ppm)
{
    if (margin_ppm > PPM)
        margin_ppm = PPM;
    return money_scale(hourly_price, PPM - margin_ppm, PPM);
}

static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

    return hi > lo ? hi - lo : 0;
}

/* Costs of one host over [from, to): depreciation while within its life, power and hosting
 * while registered. */
static void host_costs(const struct host *h, int64_t from, int64_t to, struct econ_line *l)
{
    const struct cost_basis *c = &h->cost;
    int64_t life = (int64_t)c->depreciation_years * HOURS_PER_YEAR * USEC_PER_HOUR;
    int64_t owned = overlap(from, to, c->purchased_at, c->purchased_at + life);
    int64_t registered = overlap(from, to, h->registered_at, INT64_MAX);
    int64_t base = money_scale(c->purchase_price, PPM - c->salvage_ppm, PPM);

    l->depreciation += money_scale(base, owned, life);
    /* W x h x PUE x price/kWh = price x W x PUE(milli) x us / (1000 W/kW x 1000 x us/h) */
    l->power_cost += money_scale(
        money_scale(c->electricity_kwh_price, (int64_t)c->power_watts * c->pue_milli, 1000 * 1000),
        registered, USEC_PER_HOUR);
    l->hosting_cost +=
        money_scale(c->hosting_monthly, registered, (int64_t)HOURS_PER_MONTH * USEC_PER_HOUR);
    l->purchase_price += c->purchase_price;
}

static void finish_line(struct econ_line *l, int64_t period_us)
{
    double period_hours = (double)period_us / (double)USEC_PER_HOUR;
    int64_t cash = l->revenue - l->power_cost - l->hosting_cost;

    l->utilization = l->gpu_hours_available > 0 ? l->gpu_hours_rented / l->gpu_hours_available : 0;
    /* revenue per rented GPU-hour, exactly: revenue x 1 h / rented GPU-us */
    l->realized_hourly =
        l->gpu_us_rented > 0 ? money_scale(l->revenue, USEC_PER_HOUR, l->gpu_us_rented) : 0;
    l->gross_margin =
        l->revenue > 0 ? (double)(l->revenue - l->depreciation - l->power_cost - l->hosting_cost) /
                             (double)l->revenue
                       : 0;
    l->payback_years =
        cash > 0 && period_hours > 0
            ? (double)l->purchase_price / ((double)cash * HOURS_PER_YEAR / period_hours)
            : -1;
}

int engine_economics(const struct engine *e, int64_t from, int64_t to, int64_t now,
                     struct econ_line *buf, uint32_t cap)
{
    uint32_t models = e->cat.model_count, n = 0;
    struct econ_line total;
    int64_t hfrom, hto;

    if (from >= to)
        return ERR_INVALID;
    if (to > now)
        to = now;
    if (from >= to)
        to = from + 1;
    /* the report resolves to whole hours: [floor_hour(from), ceil_hour(to)) clipped to now */
    hfrom = from - (from % USEC_PER_HOUR + USEC_PER_HOUR) % USEC_PER_HOUR;
    hto = to - 1 - ((to - 1) % USEC_PER_HOUR + USEC_PER_HOUR) % USEC_PER_HOUR + USEC_PER_HOUR;
    memset(&total, 0, sizeof(total));
    total.model = ECON_TOTAL;
    total.gpu_model = "total";
    int64_t cost_to = hto < now ? hto : now;
    for (uint32_t m = 0; m < models; m++) {
        struct econ_line l;
        struct econ_bucket b;
        memset(&l, 0, sizeof(l));
        l.model = m;
        l.gpu_model = e->cat.models[m].name;
        l.gpus = e->inv.pools[m].gpus;
        econ_sum(&e->models[m].econ, hfrom, hto, now, &b);
        l.gpu_us_available = b.available_gpu_us;
        l.gpu_us_rented = b.rented_gpu_us;
        l.gpu_hours_available = (double)b.available_gpu_us / (double)USEC_PER_HOUR;
        l.gpu_hours_rented = (double)b.rented_gpu_us / (double)USEC_PER_HOUR;
        l.list_revenue = b.list;
        l.discounts = b.discounts;
        l.revenue = b.revenue;
        for (uint32_t hid = 1; hid < e->inv.host_count; hid++) {
            const struct host *h = &e->inv.hosts[hid];
            if (h->model == m && h->has_cost)
                host_costs(h, hfrom, cost_to, &l);
        }
        finish_line(&l, cost_to - hfrom);
        total.gpus += l.gpus;
        total.gpu_us_available += l.gpu_us_available;
        total.gpu_us_rented += l.gpu_us_rented;
        total.gpu_hours_available += l.gpu_hours_available;
        total.gpu_hours_rented += l.gpu_hours_rented;
        total.list_revenue += l.list_revenue;
        total.discounts += l.discounts;
        total.revenue += l.revenue;
        total.depreciation += l.depreciation;
        total.power_cost += l.power_cost;
        total.hosting_cost += l.hosting_cost;
        total.purchase_price += l.purchase_price;
        if (n < cap)
            buf[n++] = l;
    }
    finish_line(&total, cost_to - hfrom);
    if (n < cap)
        buf[n++] = total;
    return (int)n;
}
