/*
 * engine.c - commands, time and the rental lifecycle.
 *
 * Read top-down: configuration and lifetime; events and ledger postings; pricing; billing
 * (settle); placement, the queue and preemption; the rental lifecycle (start, end); hosts
 * (heartbeats, down, lost, back); the commands; engine_tick; the read functions; the check.
 */
#include "../common/compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/timeutil.h"
#include "engine_internal.h"
#include "money.h"

#define SEC USEC_PER_SEC

void engine_config_defaults(struct engine_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->settle_interval = 60 * SEC;
    cfg->min_balance_us = 3600 * SEC;
    cfg->insufficient_grace = 300 * SEC;
    cfg->heartbeat_timeout = 60 * SEC;
    cfg->lost_after = 300 * SEC;
    cfg->start_timeout = 600 * SEC;
    cfg->preempt_notice = 30 * SEC;
    cfg->starvation_passes = 32;
    cfg->mass_silence_pct = 50;
    cfg->mass_silence_min_hosts = 4;
    cfg->package_stop_fee_bp = 0;
}

int engine_new(struct engine **out, const struct engine_config *cfg)
{
    struct engine *e;

    if (cfg->settle_interval <= 0 || cfg->min_balance_us < 0 || cfg->insufficient_grace < 0 ||
        cfg->heartbeat_timeout < 0 || cfg->lost_after < cfg->heartbeat_timeout ||
        cfg->start_timeout <= 0 || cfg->preempt_notice < 0 || cfg->mass_silence_pct > 100 ||
        cfg->package_stop_fee_bp > 10000)
        return ERR_INVALID;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return ERR_NOMEM;
    e->cfg = *cfg;
    timerq_init(&e->timers);
    catalogue_init(&e->cat);
    e->tenants = calloc(16, sizeof(*e->tenants));
    e->rentals = calloc(64, sizeof(*e->rentals));
    if (ledger_init(&e->ledger) < 0 || inventory_init(&e->inv) < 0 || e->tenants == NULL ||
        e->rentals == NULL) {
        engine_free(e);
        return ERR_NOMEM;
    }
    e->tenant_cap = 16;
    e->tenant_count = 1;
    e->rental_cap = 64;
    e->rental_count = 1;
    *out = e;
    return 0;
}

void engine_free(struct engine *e)
{
    if (e == NULL)
        return;
    for (uint32_t i = 0; i < e->cat.model_count; i++)
        econ_series_release(&e->models[i].econ);
    free(e->models);
    ledger_release(&e->ledger);
    catalogue_release(&e->cat);
    inventory_release(&e->inv);
    timerq_release(&e->timers);
    free(e->tenants);
    free(e->rentals);
    free(e->events);
    free(e->scratch);
    free(e);
}

/* ---- Small helpers -------------------------------------------------------------------- */

static int fail(struct result *out, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct result *out, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
    out->code = code;
    return code;
}

static struct tenant *tenant_get(const struct engine *e, uint32_t id)
{
    return id >= 1 && id < e->tenant_count ? &e->tenants[id] : NULL;
}

static struct rental *rental_get(const struct engine *e, uint64_t id)
{
    return id >= 1 && id < e->rental_count ? &e->rentals[id] : NULL;
}

static uint64_t rental_id(const struct engine *e, const struct rental *r)
{
    return (uint64_t)(r - e->rentals);
}

static bool rental_live(const struct rental *r)
{
    return r->state == RENTAL_STARTING || r->state == RENTAL_RUNNING;
}

static int64_t tenant_balance(const struct engine *e, const struct tenant *t)
{
    return e->ledger.balances[t->account];
}

/* Make sure per-model state exists for every catalogue model. */
static int models_sync(struct engine *e)
{
    uint32_t n = e->cat.model_count;

    if (n > e->model_cap) {
        uint32_t cap = e->model_cap ? e->model_cap * 2 : 8;
        struct model_state *m;
        while (cap < n)
            cap *= 2;
        m = realloc(e->models, cap * sizeof(*m));
        if (m == NULL)
            return ERR_NOMEM;
        memset(m + e->model_cap, 0, (cap - e->model_cap) * sizeof(*m));
        for (uint32_t i = e->model_cap; i < cap; i++)
            econ_series_init(&m[i].econ);
        e->models = m;
        e->model_cap = cap;
    }
    return inventory_ensure_pools(&e->inv, n);
}

static int ensure_model(struct engine *e, const char *name, uint32_t *out)
{
    int rc = catalogue_model_ensure(&e->cat, name, out);

    return rc < 0 ? rc : models_sync(e);
}

/* ---- Events and postings -------------------------------------------------------------- */

static struct event *emit(struct engine *e, enum event_type type, uint64_t id)
{
    struct event *ev;

    if (e->ev_head + e->ev_count == e->ev_cap) {
        if (e->ev_head > 0) {
            memmove(e->events, e->events + e->ev_head, e->ev_count * sizeof(*ev));
            e->ev_head = 0;
        } else {
            size_t cap = e->ev_cap ? e->ev_cap * 2 : 256;
            struct event *evs = realloc(e->events, cap * sizeof(*evs));
            if (evs == NULL)
                abort(); /* an event lost would be a change not persisted: stop */
            e->events = evs;
            e->ev_cap = cap;
        }
    }
    ev = &e->events[e->ev_head + e->ev_count++];
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->at = e->now;
    ev->id = id;
    return ev;
}

static void emit_rental(struct engine *e, const struct rental *r, enum rental_state from,
                        enum event_type type)
{
    struct event *ev = emit(e, type, rental_id(e, r));

    ev->u.rental.from = from;
    ev->u.rental.to = (enum rental_state)r->state;
    ev->u.rental.reason = (enum end_reason)r->end_reason;
    ev->u.rental.tenant = r->tenant;
    ev->u.rental.host = r->host;
    ev->u.rental.until = r->preempt_at;
}

/* Post a transfer; `corrects` is the closed month it is about (0 = the month it is posted in). */
static uint64_t post_c(struct engine *e, uint32_t from, uint32_t to, int64_t amount,
                       enum transfer_kind kind, uint64_t rental, int64_t corrects)
{
    struct event *ev;
    uint64_t seq;

    if (amount <= 0)
        return 0;
    seq = ledger_post(&e->ledger, from, to, amount);
    ev = emit(e, EV_TRANSFER, seq);
    ev->u.transfer.seq = seq;
    ev->u.transfer.from = from;
    ev->u.transfer.to = to;
    ev->u.transfer.amount = amount;
    ev->u.transfer.kind = kind;
    ev->u.transfer.rental = rental;
    ev->u.transfer.at = e->now;
    ev->u.transfer.corrects = corrects;
    e->stats.transfers++;
    return seq;
}

static uint64_t post(struct engine *e, uint32_t from, uint32_t to, int64_t amount,
                     enum transfer_kind kind, uint64_t rental)
{
    return post_c(e, from, to, amount, kind, rental, 0);
}

static void push_timer(struct engine *e, int64_t due, enum timer_kind kind, uint64_t obj,
                       uint32_t arg)
{
    if (timerq_push(&e->timers, due, kind, obj, arg) < 0)
        abort(); /* a lost timer would leave a rental billing forever: stop */
}

/* ---- Pricing -------------------------------------------------------------------------- */

struct pricing {
    int64_t list_hourly;  /* per GPU */
    int64_t hourly_price; /* per GPU, after percent off */
    int64_t rate_list;    /* whole rental per hour */
    int64_t rate_net;
    int64_t amount_off;                  /* amount-off budget of the coupon */
    int64_t pkg_list, pkg_net, pkg_disc; /* packages: the whole term */
    int32_t coupon;                      /* -1 = none */
};

/*
 * Price a request as creation would: the model's list price for the term, the named coupon
 * or else the best automatic promotion. 0, or an error with detail.
 */
static int price_request(const struct engine *e, uint32_t tenant, uint32_t model,
                         uint32_t gpu_count, enum term term, int64_t max_hourly, const char *coupon,
                         int64_t now, struct pricing *p, char *detail, size_t cap)
{
    const struct model *m = &e->cat.models[model];
    uint32_t bp = 0;
    uint32_t ci;
    int rc;

    memset(p, 0, sizeof(*p));
    p->coupon = -1;
    if (!m->priced) {
        snprintf(detail, cap, "gpu_model: \"%s\" has no price", m->name);
        return ERR_INVALID;
    }
    if (term == TERM_SPOT) {
        if (m->price.spot_floor_hourly <= 0) {
            snprintf(detail, cap, "term: spot is not offered for %s", m->name);
            return ERR_INVALID;
        }
        if (max_hourly < m->price.spot_floor_hourly) {
            char a[MONEY_STR_MAX], b[MONEY_STR_MAX];
            snprintf(detail, cap, "max_hourly: %s is below the spot floor %s",
                     money_format(a, max_hourly), money_format(b, m->price.spot_floor_hourly));
            return ERR_INVALID;
        }
        p->list_hourly =
            max_hourly > m->price.on_demand_hourly ? max_hourly : m->price.on_demand_hourly;
        p->hourly_price = max_hourly;
    } else if (TERM_IS_PACKAGE(term)) {
        int64_t per_gpu = m->price.package[PACKAGE_INDEX(term)];
        if (per_gpu <= 0) {
            snprintf(detail, cap, "term: %s is not offered for %s", term_name(term), m->name);
            return ERR_INVALID;
        }
        p->pkg_list = per_gpu;
    } else {
        p->list_hourly = m->price.on_demand_hourly;
        p->hourly_price = p->list_hourly;
    }
    if (coupon != NULL) {
        if (catalogue_coupon_find(&e->cat, coupon, &ci) < 0) {
            snprintf(detail, cap, "coupon: unknown code \"%s\"", coupon);
            return ERR_INVALID;
        }
        rc = catalogue_coupon_usable(&e->cat, ci, tenant, model, term, now, detail, cap);
        if (rc < 0)
            return rc;
        p->coupon = (int32_t)ci;
    } else {
        p->coupon = catalogue_best_promotion(&e->cat, tenant, model, term, now);
    }
    if (p->coupon >= 0) {
        bp = e->cat.coupons[p->coupon].percent_off_bp;
        p->amount_off = e->cat.coupons[p->coupon].amount_off;
    }
    if (TERM_IS_PACKAGE(term)) {
        if (money_mul(&p->pkg_list, p->pkg_list, gpu_count) < 0) {
            snprintf(detail, cap, "price overflows");
            return ERR_OVERFLOW;
        }
        p->pkg_net = money_discount_bp(p->pkg_list, bp);
        p->pkg_net -= p->amount_off < p->pkg_net ? p->amount_off : p->pkg_net;
        p->pkg_disc = p->pkg_list - p->pkg_net;
        /* informative hourly figures: the term's price spread over its hours */
        p->list_hourly = money_scale(p->pkg_list / gpu_count, USEC_PER_HOUR, term_length_us(term));
        p->hourly_price = money_scale(p->pkg_net / gpu_count, USEC_PER_HOUR, term_length_us(term));
    } else {
        p->hourly_price = money_discount_bp(p->hourly_price, bp);
    }
    if (money_mul(&p->rate_list, p->list_hourly, gpu_count) < 0 ||
        money_mul(&p->rate_net, p->hourly_price, gpu_count) < 0) {
        snprintf(detail, cap, "price overflows");
        return ERR_OVERFLOW;
    }
    return 0;
}

/* ---- Money limits --------------------------------------------------------------------- */

enum limit_kind { LIMIT_FUNDS, LIMIT_BUDGET, LIMIT_MAX_COST };

/* What the tenant spent in the calendar month containing now (read-only). */
static int64_t month_spent_at(const struct tenant *t, int64_t now)
{
    return now >= t->month_start && now < t->month_end ? t->month_spent : 0;
}

/* Move the tenant's month to the one containing now; called only when a charge commits. */
static void month_roll(struct tenant *t, int64_t now)
{
    int64_t m;

    if (now >= t->month_start && now < t->month_end)
        return;
    m = time_month_index(now);
    t->month_start = time_month_start(m);
    t->month_end = time_month_start(m + 1);
    t->month_spent = 0;
}

/* How much the tenant (and rental r, when given) may still be charged, and which limit binds. */
static int64_t spendable(const struct engine *e, struct tenant *t, const struct rental *r,
                         enum limit_kind *which)
{
    int64_t limit, spent = month_spent_at(t, e->now);

    /* each may be MONEY_MAX (2^62): the sum may pass INT64_MAX (only upwards: the credit limit
       is not negative); it then saturates at MONEY_MAX, more than any charge can take */
    if (__builtin_add_overflow(tenant_balance(e, t), t->credit_limit, &limit))
        limit = MONEY_MAX;

    *which = LIMIT_FUNDS;
    if (t->monthly_budget > 0 && t->monthly_budget - spent < limit) {
        limit = t->monthly_budget - spent;
        *which = LIMIT_BUDGET;
    }
    if (r != NULL && r->max_cost > 0 && r->max_cost - r->cost < limit) {
        limit = r->max_cost - r->cost;
        *which = LIMIT_MAX_COST;
    }
    return limit < 0 ? 0 : limit;
}

static void tenant_after_charge(struct engine *e, uint32_t tid)
{
    struct tenant *t = &e->tenants[tid];

    if (tenant_balance(e, t) <= 0) {
        if (t->dry_since == 0) {
            t->dry_since = e->now;
            t->dry_gen++;
            push_timer(e, e->now + e->cfg.insufficient_grace, TIMER_GRACE, tid, t->dry_gen);
        }
    } else if (t->dry_since != 0) {
        t->dry_since = 0;
        t->dry_gen++;
    }
}

/* ---- Billing -------------------------------------------------------------------------- */

static int64_t settle_limit_time(const struct engine *e, const struct rental *r, int64_t to)
{
    /* Billing is confirmed by heartbeats: never bill past the host's last sign of life. */
    if (e->cfg.heartbeat_timeout > 0 && r->host != 0) {
        int64_t hb = e->inv.hosts[r->host].last_heartbeat;
        if (hb < to)
            to = hb;
    }
    return to;
}

static void set_billing(struct engine *e, struct rental *r, bool on)
{
    struct tenant *t = &e->tenants[r->tenant];

    if (r->billing == on)
        return;
    r->billing = on;
    if (!TERM_IS_PACKAGE(r->term))
        t->hourly_burn += on ? r->hourly_price * r->gpu_count : -r->hourly_price * r->gpu_count;
}

/* What billing r from its state before a span (billed0 and the cumulative amounts then) to
 * billed_us = b has earned: pay (net) and discount, by the same formulas settle() uses. */
struct usage_start {
    int64_t billed, net, list, off; /* on-demand and spot */
    int64_t rec_net, rec_disc;      /* packages */
};

static void earned_at(const struct rental *r, const struct usage_start *u, int64_t b, int64_t *pay,
                      int64_t *disc)
{
    if (TERM_IS_PACKAGE(r->term)) {
        int64_t len = term_length_us((enum term)r->term);
        int64_t tb = b - r->pkg_base > len ? len : b - r->pkg_base;
        *pay = money_scale(r->pkg_net, tb, len) - u->rec_net;
        *disc = money_scale(r->pkg_disc, tb, len) - u->rec_disc;
    } else {
        int64_t dn = money_prorate(r->hourly_price * r->gpu_count, b) - u->net;
        int64_t use = dn < u->off ? dn : u->off;
        *pay = dn - use;
        *disc = (money_prorate(r->list_hourly * r->gpu_count, b) - u->list) - *pay;
    }
}

/* Book the economics of billing r over [from, to): GPU-time and money, split exactly at hour
 * boundaries so each hour's bucket gets what was earned in it. */
static void book_usage(struct engine *e, const struct rental *r, const struct usage_start *u,
                       int64_t from, int64_t to)
{
    struct econ_series *s = &e->models[r->model].econ;
    int64_t pay0 = 0, disc0 = 0, t = from;

    econ_add_rented(s, from, to, r->gpu_count);
    while (t < to) {
        int64_t hour_end = (t / USEC_PER_HOUR + 1) * USEC_PER_HOUR;
        int64_t upto = hour_end < to ? hour_end : to;
        int64_t pay, disc;
        earned_at(r, u, u->billed + (upto - from), &pay, &disc);
        econ_add_money(s, t, (pay - pay0) + (disc - disc0), disc - disc0, pay - pay0);
        pay0 = pay;
        disc0 = disc;
        t = upto;
    }
}

static void recognize_package(struct engine *e, struct rental *r, int64_t term_billed)
{
    int64_t len = term_length_us((enum term)r->term);
    int64_t rec_net, rec_disc, d_net, d_disc;

    if (term_billed > len)
        term_billed = len;
    rec_net = money_scale(r->pkg_net, term_billed, len);
    rec_disc = money_scale(r->pkg_disc, term_billed, len);
    d_net = rec_net - r->pkg_rec_net;
    d_disc = rec_disc - r->pkg_rec_disc;
    if (d_net + d_disc <= 0)
        return;
    post(e, ACCT_DEFERRED, ACCT_REVENUE, d_net + d_disc, XFER_RECOGNIZE, rental_id(e, r));
    r->pkg_rec_net = rec_net;
    r->pkg_rec_disc = rec_disc;
}

/*
 * Post the charge of on-demand/spot rental r from what it has been billed to `billed` µs,
 * running up to time `to`: the cumulative charge less what was posted, the amount-off budget
 * first, the rest of the list price as discount. `corrects`: the closed month the span lies
 * in (0 = the open month).
 */
static void bill_span(struct engine *e, struct rental *r, int64_t billed, int64_t to,
                      int64_t corrects)
{
    struct tenant *t = &e->tenants[r->tenant];
    uint64_t id = rental_id(e, r);
    int64_t net_cum = money_prorate(r->hourly_price * r->gpu_count, billed);
    int64_t list_cum = money_prorate(r->list_hourly * r->gpu_count, billed);
    int64_t d_net = net_cum - r->net_cum;
    int64_t use = d_net < r->amount_off_left ? d_net : r->amount_off_left;
    int64_t pay = d_net - use;
    int64_t disc = (list_cum - r->list_cum) - pay;
    struct usage_start u = {
        .billed = r->billed_us, .net = r->net_cum, .list = r->list_cum, .off = r->amount_off_left};

    post_c(e, t->account, ACCT_REVENUE, pay, XFER_CHARGE, id, corrects);
    if (disc >= 0)
        post_c(e, ACCT_DISCOUNTS, ACCT_REVENUE, disc, XFER_DISCOUNT, id, corrects);
    else /* floor(list) - floor(net) can shrink by one micro-unit: give it back */
        post_c(e, ACCT_REVENUE, ACCT_DISCOUNTS, -disc, XFER_DISCOUNT_REVERSAL, id, corrects);
    book_usage(e, r, &u, r->bill_from, to);
    r->amount_off_left -= use;
    r->amount_off_used += use;
    r->cost += pay;
    r->discount += disc;
    r->net_cum = net_cum;
    r->list_cum = list_cum;
    r->billed_us = billed;
    r->bill_from = to;
    month_roll(t, e->now);
    t->month_spent += pay;
}

/*
 * Bill r up to `to` (clipped to the host's last heartbeat). Charges are cumulative:
 * prorate(rate, billed_us) minus what was already posted, so no remainder is ever lost.
 * When a money limit would be crossed, bills only up to the exact microsecond the limit
 * allows, stops billing and returns the end reason (with *end_at); else END_NONE.
 */
static enum end_reason settle(struct engine *e, struct rental *r, int64_t to, int64_t *end_at)
{
    struct tenant *t = &e->tenants[r->tenant];
    int64_t from = r->bill_from;
    int64_t rate_net = r->hourly_price * r->gpu_count;
    int64_t open_start = time_month_start(time_month_index(e->now));
    int64_t billed, net_cum, d_net, use, pay, limit;
    enum limit_kind which;
    enum end_reason reason = END_NONE;

    if (!r->billing)
        return END_NONE;
    to = settle_limit_time(e, r, to);
    if (to <= from)
        return END_NONE;
    billed = r->billed_us + (to - from);
    if (TERM_IS_PACKAGE(r->term)) {
        struct usage_start u = {
            .billed = r->billed_us, .rec_net = r->pkg_rec_net, .rec_disc = r->pkg_rec_disc};
        book_usage(e, r, &u, from, to);
        r->billed_us = billed;
        r->bill_from = to;
        recognize_package(e, r, billed - r->pkg_base);
        return END_NONE;
    }
    net_cum = money_prorate(rate_net, billed);
    d_net = net_cum - r->net_cum;
    use = d_net < r->amount_off_left ? d_net : r->amount_off_left;
    pay = d_net - use;
    limit = spendable(e, t, r, &which);
    if (pay > limit) {
        /* bill only what the limit affords, to the microsecond */
        int64_t affordable = money_affordable_us(rate_net, r->net_cum + r->amount_off_left + limit);
        billed = affordable < billed ? affordable : billed;
        if (billed < r->billed_us)
            billed = r->billed_us;
        to = from + (billed - r->billed_us);
        reason = which == LIMIT_FUNDS ? END_INSUFFICIENT_BALANCE : END_BUDGET;
        *end_at = to;
    }
    /* usage of a month that has closed (a heartbeat confirming it came after the month's end)
       is posted in pieces, each marked with the month it corrects: the closed month's
       statement stays as it was, the open month shows the late usage as an adjustment */
    while (from < to) {
        int64_t m = time_month_index(from);
        int64_t seg_end = from < open_start ? time_month_start(m + 1) : to;
        if (seg_end > to)
            seg_end = to;
        bill_span(e, r, r->billed_us + (seg_end - from), seg_end, from < open_start ? m : 0);
        from = seg_end;
    }
    tenant_after_charge(e, r->tenant);
    if (reason != END_NONE)
        set_billing(e, r, false);
    return reason;
}

/* ---- Queues and lists ----------------------------------------------------------------- */

static void queue_push(struct engine *e, struct rental *r)
{
    struct rental_queue *q = &e->models[r->model].queue[term_priority((enum term)r->term)];
    uint64_t id = rental_id(e, r);

    r->queue_prev = q->tail;
    r->queue_next = 0;
    if (q->tail)
        e->rentals[q->tail].queue_next = id;
    else
        q->head = id;
    q->tail = id;
    q->count++;
    e->stats.pending_now++;
}

static void queue_remove(struct engine *e, struct rental *r)
{
    struct rental_queue *q = &e->models[r->model].queue[term_priority((enum term)r->term)];

    if (r->queue_prev)
        e->rentals[r->queue_prev].queue_next = r->queue_next;
    else
        q->head = r->queue_next;
    if (r->queue_next)
        e->rentals[r->queue_next].queue_prev = r->queue_prev;
    else
        q->tail = r->queue_prev;
    r->queue_prev = r->queue_next = 0;
    q->count--;
    e->stats.pending_now--;
}

static void spot_link(struct engine *e, struct rental *r)
{
    struct model_state *ms = &e->models[r->model];
    uint64_t id = rental_id(e, r);

    r->spot_prev = 0;
    r->spot_next = ms->spot_head;
    if (ms->spot_head)
        e->rentals[ms->spot_head].spot_prev = id;
    ms->spot_head = id;
    ms->spot_count++;
}

static void spot_unlink(struct engine *e, struct rental *r)
{
    struct model_state *ms = &e->models[r->model];

    if (r->spot_prev)
        e->rentals[r->spot_prev].spot_next = r->spot_next;
    else
        ms->spot_head = r->spot_next;
    if (r->spot_next)
        e->rentals[r->spot_next].spot_prev = r->spot_prev;
    r->spot_prev = r->spot_next = 0;
    ms->spot_count--;
}

/* ---- Lifecycle ------------------------------------------------------------------------ */

static void process_queue(struct engine *e, uint32_t model);

static void place(struct engine *e, struct rental *r, uint32_t host, uint32_t mask)
{
    enum rental_state from = (enum rental_state)r->state;
    uint64_t id = rental_id(e, r);

    inventory_take(&e->inv, host, mask, id);
    r->host = host;
    r->gpu_mask = mask;
    r->state = RENTAL_STARTING;
    r->placed_at = e->now;
    r->epoch++;
    if (r->term == TERM_SPOT)
        spot_link(e, r);
    e->stats.live_now++;
    push_timer(e, e->now + e->cfg.start_timeout, TIMER_START_TIMEOUT, id, r->epoch);
    emit_rental(e, r, from, EV_RENTAL_STATE);
}

static void start_running(struct engine *e, struct rental *r)
{
    uint64_t id = rental_id(e, r);

    r->state = RENTAL_RUNNING;
    if (r->started_at == 0) {
        r->started_at = e->now;
        if (TERM_IS_PACKAGE(r->term)) {
            r->ends_at = e->now + term_length_us((enum term)r->term);
            push_timer(e, r->ends_at, TIMER_END, id, 0);
        } else if (r->max_duration > 0) {
            r->ends_at = e->now + r->max_duration;
            push_timer(e, r->ends_at, TIMER_END, id, 0);
        }
    }
    r->bill_from = e->now;
    set_billing(e, r, true);
    r->next_settle = e->now + e->cfg.settle_interval;
    push_timer(e, r->next_settle, TIMER_SETTLE, id, 0);
    emit_rental(e, r, RENTAL_STARTING, EV_RENTAL_STATE);
}

/* Return a package's unearned part: all of it, less the stop fee when stopped early. */
static void refund_package(struct engine *e, struct rental *r, bool with_fee)
{
    struct tenant *t = &e->tenants[r->tenant];
    uint64_t id = rental_id(e, r);
    int64_t unused_net = r->pkg_net - r->pkg_rec_net;
    int64_t unused_disc = r->pkg_disc - r->pkg_rec_disc;
    int64_t fee = with_fee ? money_scale(unused_net, e->cfg.package_stop_fee_bp, 10000) : 0;

    if (fee > 0) {
        post(e, ACCT_DEFERRED, ACCT_REVENUE, fee, XFER_RECOGNIZE, id);
        econ_add_money(&e->models[r->model].econ, e->now, fee, 0, fee);
    }
    post(e, ACCT_DEFERRED, e->tenants[r->tenant].account, unused_net - fee, XFER_REFUND, id);
    post(e, ACCT_DEFERRED, ACCT_DISCOUNTS, unused_disc, XFER_DISCOUNT_REVERSAL, id);
    /* the refund gives its budget back in the month it is posted, as the statement nets it
       (a package bought and stopped at once has cost the month nothing) */
    month_roll(t, e->now);
    t->month_spent -= unused_net - fee < t->month_spent ? unused_net - fee : t->month_spent;
    r->cost -= unused_net - fee;
    r->discount -= unused_disc;
    r->pkg_net = r->pkg_rec_net + fee;
    r->pkg_rec_net += fee;
    r->pkg_disc = r->pkg_rec_disc;
    tenant_after_charge(e, r->tenant);
}

/* A new rental slot (zeroed): its number, or ERR_NOMEM. May move e->rentals. */
static int rental_alloc(struct engine *e, uint64_t *out)
{
    if (e->rental_count == e->rental_cap) {
        uint64_t cap = e->rental_cap * 2;
        struct rental *rr = realloc(e->rentals, cap * sizeof(*rr));
        if (rr == NULL)
            return ERR_NOMEM;
        e->rentals = rr;
        e->rental_cap = cap;
    }
    *out = e->rental_count++;
    memset(&e->rentals[*out], 0, sizeof(e->rentals[*out]));
    return 0;
}

static void tenant_link(struct engine *e, struct rental *r)
{
    struct tenant *t = &e->tenants[r->tenant];
    uint64_t id = rental_id(e, r);

    t->live_rentals++;
    r->tenant_next = t->rentals_head;
    if (t->rentals_head)
        e->rentals[t->rentals_head].tenant_prev = id;
    t->rentals_head = id;
}

/*
 * A preempted spot rental that asked to be requeued: queue its successor, pending, with the
 * same spec, locked price, bid, workload and what is left of its amount-off budget, max_cost
 * and max_duration. Not made when a limit is used up or the tenant could not create it now
 * (funds for min_balance_us at its rate, within the monthly budget).
 */
static void requeue_spot(struct engine *e, uint64_t prev_id)
{
    struct rental *p = &e->rentals[prev_id], *r;
    struct tenant *t = &e->tenants[p->tenant];
    int64_t need, max_cost = 0, max_duration = 0;
    enum limit_kind which;
    uint64_t id;

    if (p->max_cost > 0 && (max_cost = p->max_cost - p->cost) <= 0)
        return;
    if (p->max_duration > 0 &&
        (max_duration = p->max_duration - (p->started_at ? p->ended_at - p->started_at : 0)) <= 0)
        return;
    need = money_prorate(p->hourly_price * p->gpu_count, e->cfg.min_balance_us);
    need -= p->amount_off_left < need ? p->amount_off_left : need;
    if (need > spendable(e, t, NULL, &which))
        return;
    if (rental_alloc(e, &id) < 0)
        abort(); /* replay must make the same rentals: stop rather than skip one */
    p = &e->rentals[prev_id];
    r = &e->rentals[id];
    r->tenant = p->tenant;
    r->model = p->model;
    r->term = p->term;
    r->restart = p->restart;
    r->gpu_count = p->gpu_count;
    r->has_workload = p->has_workload;
    r->requeue = true;
    r->hourly_price = p->hourly_price;
    r->list_hourly = p->list_hourly;
    r->max_hourly = p->max_hourly;
    r->max_cost = max_cost;
    r->max_duration = max_duration;
    r->amount_off_left = p->amount_off_left;
    r->created_at = e->now;
    r->state = RENTAL_PENDING;
    r->requeued_from = prev_id;
    r->origin = p->origin;
    p->requeued_as = id;
    tenant_link(e, r);
    e->stats.rentals_created++;
    e->stats.queued++;
    emit_rental(e, r, RENTAL_PENDING, EV_RENTAL_CREATED);
    queue_push(e, r);
}

/*
 * End r for reason at time `at` (<= now: a lost host ends its rentals at its last
 * heartbeat). Bills up to `at`, refunds a package's unearned part, frees the GPUs and lets
 * the queue use them.
 */
static void end_rental(struct engine *e, struct rental *r, enum end_reason reason, int64_t at,
                       int exit_code)
{
    enum rental_state from = (enum rental_state)r->state;
    struct tenant *t = &e->tenants[r->tenant];
    int64_t capped_at = at;
    uint32_t host = r->host, model = r->model;
    uint64_t id = rental_id(e, r);

    if (r->state == RENTAL_ENDED)
        return;
    if (r->state == RENTAL_PENDING)
        queue_remove(e, r);
    if (r->billing) {
        enum end_reason capped = settle(e, r, at, &capped_at);
        if (capped != END_NONE && capped_at < at) {
            reason = capped;
            at = capped_at;
        }
        set_billing(e, r, false);
    }
    if (TERM_IS_PACKAGE(r->term)) {
        bool early = reason == END_STOPPED && r->started_at != 0;
        refund_package(e, r, early);
    }
    if (host != 0) {
        inventory_give_back(&e->inv, host, r->gpu_mask);
        if (r->term == TERM_SPOT)
            spot_unlink(e, r);
        e->stats.live_now--;
    }
    r->state = RENTAL_ENDED;
    r->end_reason = (uint8_t)reason;
    r->exit_code = exit_code;
    r->ended_at = at;
    r->preempt_at = 0;
    t->live_rentals--;
    if (r->tenant_prev)
        e->rentals[r->tenant_prev].tenant_next = r->tenant_next;
    else
        t->rentals_head = r->tenant_next;
    if (r->tenant_next)
        e->rentals[r->tenant_next].tenant_prev = r->tenant_prev;
    r->tenant_prev = r->tenant_next = 0;
    e->stats.ended[reason]++;
    if (reason == END_PREEMPTED)
        e->stats.preempted++;
    emit_rental(e, r, from, EV_RENTAL_STATE);
    if (reason == END_PREEMPTED && r->requeue)
        requeue_spot(e, id); /* may move e->rentals: r is not used below */
    if (host != 0)
        process_queue(e, model);
}

/* Settle a rental at now and end it if a money limit binds. Returns true if it ended. */
static bool settle_now(struct engine *e, struct rental *r)
{
    int64_t end_at = 0;
    enum end_reason reason = settle(e, r, e->now, &end_at);

    if (reason != END_NONE) {
        end_rental(e, r, reason, end_at, 0);
        return true;
    }
    return false;
}

/* Can the tenant afford to (re)start r now? Packages are prepaid; others need funds. */
static bool can_afford_now(const struct engine *e, const struct rental *r)
{
    struct tenant *t = &e->tenants[r->tenant];
    enum limit_kind which;

    if (TERM_IS_PACKAGE(r->term))
        return true;
    return spendable(e, t, NULL, &which) > 0;
}

/*
 * Serve the wait queue of a model: highest priority first, FIFO within a priority; a
 * rental that fits goes ahead of an earlier one that does not, but once the earliest
 * waiting rental has been passed over starvation_passes times nothing behind it is placed,
 * so the GPUs freed next accumulate for it.
 */
static void process_queue(struct engine *e, uint32_t model)
{
    struct model_state *ms = &e->models[model];
    struct rental *first_waiting = NULL;

    for (int prio = PRIO_COUNT - 1; prio >= 0; prio--) {
        uint64_t id = ms->queue[prio].head;
        while (id != 0) {
            struct rental *r = &e->rentals[id];
            uint64_t next = r->queue_next;
            uint32_t host, mask;
            if (e->inv.pools[model].free_gpus == 0)
                return;
            if (inventory_choose(&e->inv, model, r->gpu_count, &host, &mask) == 0) {
                if (!can_afford_now(e, r)) {
                    end_rental(e, r, END_INSUFFICIENT_BALANCE, e->now, 0); /* leaves the queue */
                } else {
                    queue_remove(e, r);
                    place(e, r, host, mask);
                    e->stats.placed_from_queue++;
                    if (first_waiting != NULL)
                        first_waiting->passes++;
                }
            } else if (first_waiting == NULL) {
                first_waiting = r;
                if (r->passes >= e->cfg.starvation_passes)
                    return; /* it has waited long enough: hold everything behind it */
            }
            id = next;
        }
    }
}

/* The oldest pending rental of the model at priority >= prio, or NULL. */
static struct rental *oldest_waiting(struct engine *e, uint32_t model, enum priority prio)
{
    for (int p = PRIO_COUNT - 1; p >= (int)prio; p--) {
        uint64_t id = e->models[model].queue[p].head;
        if (id != 0)
            return &e->rentals[id];
    }
    return NULL;
}

struct victim {
    int64_t bid;
    uint64_t id;
    uint32_t host;
};

static int victim_cmp(const void *a, const void *b)
{
    const struct victim *x = a, *y = b;

    if (x->bid != y->bid)
        return x->bid < y->bid ? -1 : 1;
    return x->id > y->id ? -1 : (x->id < y->id); /* newest first among equal bids */
}

/*
 * Find spot rentals to preempt so that n GPUs of the model come free on one host: walk
 * the live spot rentals lowest bid first, counting per host what would be freed, until a
 * placeable host would have n free. Gives those rentals notice (or ends them now when the
 * notice is 0). Returns true when capacity is on its way.
 */
static bool preempt_for(struct engine *e, uint32_t model, uint32_t n)
{
    struct model_state *ms = &e->models[model];
    struct victim *v;
    uint32_t count = 0, chosen_host = 0;
    bool ok = false;

    if (ms->spot_count == 0)
        return false;
    v = malloc(ms->spot_count * sizeof(*v));
    if (v == NULL)
        return false;
    if (e->scratch_cap < e->inv.host_count) {
        uint32_t *s = realloc(e->scratch, e->inv.host_count * sizeof(*s));
        if (s == NULL) {
            free(v);
            return false;
        }
        memset(s + e->scratch_cap, 0, (e->inv.host_count - e->scratch_cap) * sizeof(*s));
        e->scratch = s;
        e->scratch_cap = e->inv.host_count;
    }
    for (uint64_t id = ms->spot_head; id != 0; id = e->rentals[id].spot_next) {
        struct rental *r = &e->rentals[id];
        if (r->preempt_at == 0 && e->inv.hosts[r->host].placeable)
            v[count++] = (struct victim){r->max_hourly, id, r->host};
    }
    qsort(v, count, sizeof(*v), victim_cmp);
    for (uint32_t i = 0; i < count && !ok; i++) {
        struct host *h = &e->inv.hosts[v[i].host];
        e->scratch[v[i].host] += e->rentals[v[i].id].gpu_count;
        if ((uint32_t)__builtin_popcount(h->free_mask) + e->scratch[v[i].host] >= n) {
            chosen_host = v[i].host;
            ok = true;
            count = i + 1; /* victims are the walked ones on chosen_host */
        }
    }
    for (uint32_t i = 0; i < count; i++)
        e->scratch[v[i].host] = 0;
    if (ok) {
        for (uint32_t i = 0; i < count; i++) {
            struct rental *r = &e->rentals[v[i].id];
            if (v[i].host != chosen_host)
                continue;
            r->preempt_at = e->now + e->cfg.preempt_notice;
            emit_rental(e, r, (enum rental_state)r->state, EV_PREEMPT_NOTICE);
            if (e->cfg.preempt_notice == 0)
                end_rental(e, r, END_PREEMPTED, e->now, 0);
            else
                push_timer(e, r->preempt_at, TIMER_PREEMPT, v[i].id, r->epoch);
        }
    }
    free(v);
    return ok;
}

/* ---- Hosts ---------------------------------------------------------------------------- */

static void host_set_state(struct engine *e, uint32_t id, enum host_state to)
{
    struct host *h = &e->inv.hosts[id];
    struct event *ev;
    enum host_state from = h->state;

    if (from == to)
        return;
    h->state = to;
    if (from == HOST_DOWN || to == HOST_DOWN) {
        struct econ_series *s = &e->models[h->model].econ;
        econ_set_available(s, e->now,
                           s->available_gpus + (to == HOST_DOWN ? -1 : 1) * h->gpu_count);
        e->hosts_down += to == HOST_DOWN ? 1 : -1;
    }
    inventory_set_placeable(&e->inv, id, to == HOST_READY);
    ev = emit(e, EV_HOST_STATE, id);
    ev->u.host_state.from = from;
    ev->u.host_state.to = to;
}

/* The distinct live rentals on a host, in GPU order. Returns how many (<= 32). */
static uint32_t host_rentals(const struct engine *e, uint32_t id, uint64_t *out)
{
    const struct host *h = &e->inv.hosts[id];
    uint32_t n = 0;

    for (uint32_t i = 0; i < h->gpu_count; i++) {
        uint64_t rid = e->inv.gpus[h->gpu_first + i].rental;
        bool seen = false;
        if (rid == 0)
            continue;
        for (uint32_t j = 0; j < n && !seen; j++)
            seen = out[j] == rid;
        if (!seen)
            out[n++] = rid;
    }
    return n;
}

static bool mass_silence_now(const struct engine *e)
{
    uint32_t total = e->inv.host_count - 1;

    return e->cfg.mass_silence_pct > 0 && total >= e->cfg.mass_silence_min_hosts &&
           (uint64_t)e->hosts_down * 100 >= (uint64_t)e->cfg.mass_silence_pct * total;
}

static void alert(struct engine *e, enum alert_kind kind)
{
    struct event *ev = emit(e, EV_ALERT, 0);

    ev->u.alert.kind = kind;
    ev->u.alert.hosts_down = e->hosts_down;
    ev->u.alert.hosts_total = e->inv.host_count - 1;
}

static void host_lost(struct engine *e, uint32_t id)
{
    uint64_t rids[MAX_GPUS_PER_HOST];
    uint32_t n = host_rentals(e, id, rids);
    int64_t at = e->inv.hosts[id].last_heartbeat;

    for (uint32_t i = 0; i < n; i++)
        end_rental(e, &e->rentals[rids[i]], END_HOST_FAILED, at, 0);
}

static void host_down(struct engine *e, uint32_t id)
{
    uint64_t rids[MAX_GPUS_PER_HOST];
    uint32_t n = host_rentals(e, id, rids);
    struct host *h = &e->inv.hosts[id];

    for (uint32_t i = 0; i < n; i++) {
        struct rental *r = &e->rentals[rids[i]];
        if (r->billing && !settle_now(e, r))
            set_billing(e, r, false); /* billed up to the last heartbeat */
    }
    host_set_state(e, id, HOST_DOWN);
    h->lost_at = h->last_heartbeat + e->cfg.lost_after;
    push_timer(e, h->lost_at, TIMER_LOST, id, 0);
    if (!e->mass_silence && mass_silence_now(e)) {
        e->mass_silence = true;
        alert(e, ALERT_MASS_SILENCE);
    }
}

static void host_back(struct engine *e, uint32_t id)
{
    uint64_t rids[MAX_GPUS_PER_HOST];
    struct host *h = &e->inv.hosts[id];
    uint32_t n;

    host_set_state(e, id, h->drained ? HOST_DRAINING : HOST_READY);
    push_timer(e, h->last_heartbeat + e->cfg.heartbeat_timeout, TIMER_HEARTBEAT, id, 0);
    n = host_rentals(e, id, rids);
    for (uint32_t i = 0; i < n; i++) {
        struct rental *r = &e->rentals[rids[i]];
        if (r->state == RENTAL_RUNNING && !r->billing) {
            r->bill_from = e->now; /* the gap is not billed */
            set_billing(e, r, true);
            r->next_settle = e->now + e->cfg.settle_interval;
            push_timer(e, r->next_settle, TIMER_SETTLE, rids[i], 0);
        }
    }
    if (e->mass_silence && !mass_silence_now(e)) {
        e->mass_silence = false;
        alert(e, ALERT_MASS_SILENCE_CLEARED);
        /* hosts still silent after the outage get a fresh lost_after to reconnect: their
           agents may be fine and simply not back yet */
        for (uint32_t hid = 1; hid < e->inv.host_count; hid++) {
            struct host *d = &e->inv.hosts[hid];
            if (d->state == HOST_DOWN && d->lost_at <= e->now) {
                d->lost_at = e->now + e->cfg.lost_after;
                push_timer(e, d->lost_at, TIMER_LOST, hid, 0);
            }
        }
    }
    process_queue(e, h->model);
}

/* ---- Commands ------------------------------------------------------------------------- */

static bool valid_name(const char *s, size_t max)
{
    size_t n;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

static int cmd_tenant_create(struct engine *e, const struct cmd_tenant_create *c,
                             struct result *out)
{
    struct tenant *t;
    uint32_t acct;

    if (!valid_name(c->name, TENANT_NAME_MAX))
        return fail(out, ERR_INVALID, "name: must be 1 to 64 printable bytes");
    if (c->credit_limit < 0 || c->credit_limit > MONEY_MAX)
        return fail(out, ERR_INVALID, "credit_limit: must not be negative");
    if (e->tenant_count == e->tenant_cap) {
        uint32_t cap = e->tenant_cap * 2;
        struct tenant *tt = realloc(e->tenants, cap * sizeof(*tt));
        if (tt == NULL)
            return fail(out, ERR_NOMEM, "out of memory");
        e->tenants = tt;
        e->tenant_cap = cap;
    }
    if (ledger_open(&e->ledger, &acct) < 0)
        return fail(out, ERR_NOMEM, "out of memory");
    t = &e->tenants[e->tenant_count];
    memset(t, 0, sizeof(*t));
    memcpy(t->name, c->name, strlen(c->name) + 1);
    t->account = acct;
    t->credit_limit = c->credit_limit;
    out->id = e->tenant_count++;
    e->stats.tenants++;
    emit(e, EV_TENANT_CREATED, out->id);
    return 0;
}

static int cmd_tenant_update(struct engine *e, const struct cmd_tenant_update *c,
                             struct result *out)
{
    struct tenant *t = tenant_get(e, c->tenant);

    if (t == NULL)
        return fail(out, ERR_NOTFOUND, "unknown tenant");
    if (c->set_credit_limit && (c->credit_limit < 0 || c->credit_limit > MONEY_MAX))
        return fail(out, ERR_INVALID, "credit_limit: must not be negative");
    if (c->set_credit_limit && tenant_balance(e, t) < -c->credit_limit)
        return fail(out, ERR_CONFLICT,
                    "credit_limit: the wallet owes more than that; top it up first");
    if (c->set_monthly_budget && (c->monthly_budget < 0 || c->monthly_budget > MONEY_MAX))
        return fail(out, ERR_INVALID, "monthly_budget: must not be negative");
    if (c->set_credit_limit)
        t->credit_limit = c->credit_limit;
    if (c->set_monthly_budget)
        t->monthly_budget = c->monthly_budget;
    out->id = c->tenant;
    emit(e, EV_TENANT_UPDATED, c->tenant);
    return 0;
}

static int cmd_credit(struct engine *e, const struct cmd_credit *c, struct result *out)
{
    struct tenant *t = tenant_get(e, c->tenant);
    const struct keyed_transfer *kt;
    struct keyed_transfer fresh;

    if (t == NULL)
        return fail(out, ERR_NOTFOUND, "unknown tenant");
    if (c->amount <= 0 || c->amount > MONEY_MAX)
        return fail(out, ERR_INVALID, "amount: must be positive");
    if (c->transfer_id != NULL) {
        if (!valid_name(c->transfer_id, 256))
            return fail(out, ERR_INVALID, "transfer id: must be 1 to 255 printable bytes");
        kt = ledger_find_key(&e->ledger, c->transfer_id);
        if (kt != NULL) {
            if (kt->to != t->account || kt->amount != c->amount)
                return fail(out, ERR_CONFLICT,
                            "transfer id was already used for a different transfer");
            out->id = kt->seq;
            out->amount = kt->balance_after;
            out->replayed = true;
            return 0;
        }
    }
    if (tenant_balance(e, t) > MONEY_MAX - c->amount)
        return fail(out, ERR_OVERFLOW, "amount: the balance would overflow");
    fresh.seq = post(e, ACCT_EXTERNAL, t->account, c->amount, XFER_TOPUP, 0);
    fresh.amount = c->amount;
    fresh.to = t->account;
    fresh.balance_after = tenant_balance(e, t);
    if (c->transfer_id != NULL && ledger_remember_key(&e->ledger, c->transfer_id, &fresh) < 0)
        abort(); /* the top-up is posted; forgetting its key would allow a double credit */
    tenant_after_charge(e, c->tenant);
    out->id = fresh.seq;
    out->amount = fresh.balance_after;
    return 0;
}

static int cmd_price_set(struct engine *e, const struct cmd_price_set *c, struct result *out)
{
    struct model *m;
    uint32_t id;

    if (!valid_name(c->gpu_model, MODEL_NAME_MAX))
        return fail(out, ERR_INVALID, "gpu_model: must be 1 to 63 printable bytes");
    if (c->on_demand_hourly <= 0 || c->on_demand_hourly > MONEY_MAX)
        return fail(out, ERR_INVALID, "on_demand_hourly: must be positive");
    if (c->spot_floor_hourly > MONEY_MAX)
        return fail(out, ERR_INVALID, "spot_floor_hourly: too large");
    for (int i = 0; i < PACKAGE_COUNT; i++) {
        if (c->package[i] > MONEY_MAX / MAX_GPUS_PER_HOST)
            return fail(out, ERR_INVALID, "packages.%s: too large",
                        term_name((enum term)(TERM_DAY + i)));
    }
    if (ensure_model(e, c->gpu_model, &id) < 0)
        return fail(out, ERR_NOMEM, "out of memory");
    m = &e->cat.models[id];
    if (c->memory_mib != 0)
        m->memory_mib = c->memory_mib;
    m->priced = true;
    m->price.on_demand_hourly = c->on_demand_hourly;
    m->price.spot_floor_hourly = c->spot_floor_hourly > 0 ? c->spot_floor_hourly : 0;
    for (int i = 0; i < PACKAGE_COUNT; i++)
        m->price.package[i] = c->package[i] > 0 ? c->package[i] : 0;
    out->id = id;
    emit(e, EV_PRICE_SET, id);
    return 0;
}

static int cmd_coupon_create(struct engine *e, const struct cmd_coupon_create *c,
                             struct result *out)
{
    struct coupon cp;
    uint32_t id;

    memset(&cp, 0, sizeof(cp));
    if (!valid_name(c->code, COUPON_CODE_MAX))
        return fail(out, ERR_INVALID, "code: must be 1 to 63 printable bytes");
    if ((c->percent_off_bp == 0) == (c->amount_off == 0))
        return fail(out, ERR_INVALID, "exactly one of percent_off and amount_off is required");
    if (c->percent_off_bp > 10000)
        return fail(out, ERR_INVALID, "percent_off: must be at most 100");
    if (c->amount_off < 0 || c->amount_off > MONEY_MAX)
        return fail(out, ERR_INVALID, "amount_off: must be positive");
    if (c->term < -1 || c->term >= TERM_COUNT)
        return fail(out, ERR_INVALID, "term: unknown");
    if (catalogue_coupon_find(&e->cat, c->code, &id) == 0)
        return fail(out, ERR_EXISTS, "coupon \"%s\" already exists", c->code);
    cp.model = -1;
    if (c->gpu_model != NULL) {
        if (catalogue_model_find(&e->cat, c->gpu_model, &id) < 0)
            return fail(out, ERR_INVALID, "gpu_model: unknown model \"%s\"", c->gpu_model);
        cp.model = (int32_t)id;
    }
    memcpy(cp.code, c->code, strlen(c->code) + 1);
    cp.percent_off_bp = c->percent_off_bp;
    cp.amount_off = c->amount_off;
    cp.max_redemptions = c->max_redemptions;
    cp.valid_until = c->valid_until;
    cp.term = c->term;
    cp.automatic = c->automatic;
    cp.once_per_tenant = c->once_per_tenant;
    if (catalogue_coupon_add(&e->cat, &cp, &id) < 0)
        return fail(out, ERR_NOMEM, "out of memory");
    out->id = id;
    emit(e, EV_COUPON_CREATED, id);
    return 0;
}

static int cmd_host_register(struct engine *e, const struct cmd_host_register *c,
                             struct result *out)
{
    uint32_t seen = 0, model, id;
    struct econ_series *s;

    if (!valid_name(c->hostname, HOSTNAME_MAX))
        return fail(out, ERR_INVALID, "hostname: must be 1 to 63 printable bytes");
    if (c->gpu_count == 0 || c->gpu_count > MAX_GPUS_PER_HOST || c->gpus == NULL)
        return fail(out, ERR_INVALID, "gpus: a host has 1 to %d GPUs", MAX_GPUS_PER_HOST);
    for (uint32_t i = 0; i < c->gpu_count; i++) {
        const struct gpu_spec *g = &c->gpus[i];
        if (g->index >= MAX_GPUS_PER_HOST || (seen & (1u << g->index)))
            return fail(out, ERR_INVALID, "gpus[%u].index: must be unique and below %d", i,
                        MAX_GPUS_PER_HOST);
        seen |= 1u << g->index;
        if (!valid_name(g->uuid, UUID_MAX))
            return fail(out, ERR_INVALID, "gpus[%u].uuid: must be 1 to 95 printable bytes", i);
        if (inventory_has_uuid(&e->inv, g->uuid))
            return fail(out, ERR_EXISTS, "gpus[%u].uuid: %s is already registered", i, g->uuid);
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(c->gpus[j].uuid, g->uuid) == 0)
                return fail(out, ERR_INVALID, "gpus[%u].uuid: repeated", i);
        }
        if (!valid_name(g->model, MODEL_NAME_MAX))
            return fail(out, ERR_INVALID, "gpus[%u].model: must be 1 to 63 printable bytes", i);
        if (strcmp(g->model, c->gpus[0].model) != 0)
            return fail(out, ERR_INVALID, "gpus[%u].model: a host's GPUs must be one model", i);
        if (g->memory_mib == 0)
            return fail(out, ERR_INVALID, "gpus[%u].memory_mib: must be positive", i);
    }
    if (ensure_model(e, c->gpus[0].model, &model) < 0)
        return fail(out, ERR_NOMEM, "out of memory");
    if (e->cat.models[model].memory_mib == 0)
        e->cat.models[model].memory_mib = c->gpus[0].memory_mib;
    if (inventory_add_host(&e->inv, c->hostname, model, c->gpus, c->gpu_count, e->now, &id) < 0)
        return fail(out, ERR_NOMEM, "out of memory");
    s = &e->models[model].econ;
    econ_set_available(s, e->now, s->available_gpus + c->gpu_count);
    e->stats.hosts++;
    e->stats.gpus += c->gpu_count;
    if (e->cfg.heartbeat_timeout > 0)
        push_timer(e, e->now + e->cfg.heartbeat_timeout, TIMER_HEARTBEAT, id, 0);
    out->id = id;
    emit(e, EV_HOST_REGISTERED, id);
    process_queue(e, model);
    return 0;
}

static int cmd_host_cost(struct engine *e, const struct cmd_host_cost *c, struct result *out)
{
    struct host *h = inventory_host(&e->inv, c->host);
    const struct cost_basis *cb = &c->cost;

    if (h == NULL)
        return fail(out, ERR_NOTFOUND, "unknown host");
    if (cb->purchase_price < 0 || cb->purchase_price > MONEY_MAX)
        return fail(out, ERR_INVALID, "purchase_price: must not be negative");
    if (cb->depreciation_years == 0 || cb->depreciation_years > 100)
        return fail(out, ERR_INVALID, "depreciation_years: must be 1 to 100");
    if (cb->salvage_ppm > 1000000)
        return fail(out, ERR_INVALID, "salvage_fraction: must be between 0 and 1");
    if (cb->pue_milli != 0 && (cb->pue_milli < 1000 || cb->pue_milli > 5000))
        return fail(out, ERR_INVALID, "pue: must be between 1 and 5");
    if (cb->power_watts > 1000000)
        return fail(out, ERR_INVALID, "power_watts: too large");
    if (cb->electricity_kwh_price < 0 || cb->electricity_kwh_price > MONEY_MAX / 1000000)
        return fail(out, ERR_INVALID, "electricity_kwh_price: must not be negative");
    if (cb->hosting_monthly < 0 || cb->hosting_monthly > MONEY_MAX)
        return fail(out, ERR_INVALID, "hosting_monthly: must not be negative");
    h->cost = *cb;
    if (h->cost.pue_milli == 0)
        h->cost.pue_milli = 1000;
    h->has_cost = true;
    out->id = c->host;
    emit(e, EV_HOST_COST, c->host);
    return 0;
}

static int cmd_host_drain(struct engine *e, const struct cmd_host *c, bool drain,
                          struct result *out)
{
    struct host *h = inventory_host(&e->inv, c->host);

    if (h == NULL)
        return fail(out, ERR_NOTFOUND, "unknown host");
    out->id = c->host;
    if (h->drained == drain)
        return 0; /* idempotent */
    h->drained = drain;
    if (h->state != HOST_DOWN)
        host_set_state(e, c->host, drain ? HOST_DRAINING : HOST_READY);
    if (!drain)
        process_queue(e, h->model);
    return 0;
}

static void report_exit(struct engine *e, struct rental *r, int exit_code)
{
    bool restart = r->has_workload && (r->restart == RESTART_ALWAYS ||
                                       (r->restart == RESTART_ON_FAILURE && exit_code != 0));
    enum rental_state from = (enum rental_state)r->state;
    uint64_t id = rental_id(e, r);

    if (!restart) {
        end_rental(e, r, END_EXITED, e->now, exit_code);
        return;
    }
    if (r->billing && settle_now(e, r))
        return;
    set_billing(e, r, false); /* billing stops at the exit; it resumes when running again */
    r->state = RENTAL_STARTING;
    r->exit_code = exit_code;
    r->epoch++;
    r->placed_at = e->now;
    push_timer(e, e->now + e->cfg.start_timeout, TIMER_START_TIMEOUT, id, r->epoch);
    emit_rental(e, r, from, EV_RENTAL_STATE);
}

static int cmd_host_report(struct engine *e, const struct cmd_host_report *c, struct result *out)
{
    struct host *h = inventory_host(&e->inv, c->host);

    if (h == NULL)
        return fail(out, ERR_NOTFOUND, "unknown host");
    if (c->count > 0 && c->reports == NULL)
        return fail(out, ERR_INVALID, "reports: missing");
    for (uint32_t i = 0; i < c->count; i++) {
        if ((unsigned)c->reports[i].state > REPORT_FAILED)
            return fail(out, ERR_INVALID, "rentals[%u].state: unknown", i);
    }
    h->last_heartbeat = e->now;
    if (h->state == HOST_DOWN)
        host_back(e, c->host);
    out->id = c->host;
    for (uint32_t i = 0; i < c->count; i++) {
        const struct rental_report *rep = &c->reports[i];
        struct rental *r = rental_get(e, rep->rental);
        /* only this host's live rentals at their current epoch; the rest is stale */
        if (r == NULL || r->host != c->host || !rental_live(r) || rep->epoch != r->epoch)
            continue;
        switch (rep->state) {
        case REPORT_STARTING:
            break;
        case REPORT_RUNNING:
            if (r->state == RENTAL_STARTING)
                start_running(e, r);
            break;
        case REPORT_EXITED:
            if (r->has_workload)
                report_exit(e, r, rep->exit_code);
            break;
        case REPORT_FAILED:
            if (r->state == RENTAL_STARTING)
                end_rental(e, r, END_FAILED_TO_START, e->now, rep->exit_code);
            else
                report_exit(e, r, rep->exit_code != 0 ? rep->exit_code : -1);
            break;
        }
    }
    return 0;
}

static int cmd_rental_create(struct engine *e, const struct cmd_rental_create *c,
                             struct result *out)
{
    struct tenant *t = tenant_get(e, c->tenant);
    struct pricing p;
    struct rental *r;
    struct rental *waiting;
    uint64_t waiting_id;
    uint32_t model, host = 0, mask = 0;
    enum limit_kind which;
    int64_t need, limit;
    uint64_t id;
    bool placed = false, preempting = false;
    int rc;

    if (t == NULL)
        return fail(out, ERR_NOTFOUND, "unknown tenant");
    if (c->gpu_model == NULL || catalogue_model_find(&e->cat, c->gpu_model, &model) < 0)
        return fail(out, ERR_INVALID, "gpu_model: unknown model \"%s\"",
                    c->gpu_model ? c->gpu_model : "");
    if ((unsigned)c->term >= TERM_COUNT)
        return fail(out, ERR_INVALID, "term: unknown");
    if (c->gpu_count == 0 || c->gpu_count > MAX_GPUS_PER_HOST ||
        (e->inv.pools[model].largest_host > 0 && c->gpu_count > e->inv.pools[model].largest_host))
        return fail(out, ERR_INVALID, "gpu_count: must be 1 to %u for %s",
                    e->inv.pools[model].largest_host > 0 ? e->inv.pools[model].largest_host
                                                         : MAX_GPUS_PER_HOST,
                    c->gpu_model);
    if (c->term != TERM_SPOT && c->max_hourly != 0)
        return fail(out, ERR_INVALID, "max_hourly: only for spot");
    if (c->max_cost < 0 || c->max_cost > MONEY_MAX)
        return fail(out, ERR_INVALID, "max_cost: must not be negative");
    if (c->max_duration < 0)
        return fail(out, ERR_INVALID, "max_duration_seconds: must not be negative");
    if (c->max_duration > 0 && TERM_IS_PACKAGE(c->term))
        return fail(out, ERR_INVALID, "max_duration_seconds: a package lasts its term");
    if ((unsigned)c->restart > RESTART_ALWAYS)
        return fail(out, ERR_INVALID, "workload.restart: unknown");
    if (c->auto_renew && !TERM_IS_PACKAGE(c->term))
        return fail(out, ERR_INVALID, "auto_renew: only for day, week and month");
    if (c->requeue && c->term != TERM_SPOT)
        return fail(out, ERR_INVALID, "requeue: only for spot");
    rc = price_request(e, c->tenant, model, c->gpu_count, c->term, c->max_hourly, c->coupon, e->now,
                       &p, out->detail, sizeof(out->detail));
    if (rc < 0) {
        out->code = rc;
        return rc;
    }
    /* money: packages are paid now; others need funds for min_balance_us at their rate */
    limit = spendable(e, t, NULL, &which);
    if (TERM_IS_PACKAGE(c->term)) {
        need = p.pkg_net;
    } else {
        need = money_prorate(p.rate_net, e->cfg.min_balance_us);
        need -= p.amount_off < need ? p.amount_off : need;
    }
    if (need > limit) {
        char a[MONEY_STR_MAX], b[MONEY_STR_MAX];
        e->stats.rejected_funds++;
        if (which == LIMIT_BUDGET)
            return fail(out, ERR_FUNDS, "monthly budget: %s left, %s needed",
                        money_format(a, limit), money_format(b, need));
        return fail(out, ERR_FUNDS, "balance: %s available, %s needed", money_format(a, limit),
                    money_format(b, need));
    }
    /* no hardware at all is not busy hardware: a queued request is refused too (409), as it
       could wait for ever; a host registering its GPUs is what creates the capacity */
    if (e->inv.pools[model].largest_host == 0)
        return fail(out, c->queue ? ERR_CONFLICT : ERR_NOCAPACITY,
                    "no capacity: no host with %s GPUs is registered%s", c->gpu_model,
                    c->queue ? "; there is nothing to queue for" : "");
    /* capacity: place now unless an earlier request has waited long enough to hold it */
    waiting = oldest_waiting(e, model, term_priority(c->term));
    waiting_id = waiting != NULL ? rental_id(e, waiting) : 0;
    if (!(waiting != NULL && waiting->passes >= e->cfg.starvation_passes) &&
        inventory_choose(&e->inv, model, c->gpu_count, &host, &mask) == 0)
        placed = true;
    else if (term_priority(c->term) > PRIO_SPOT)
        preempting = preempt_for(e, model, c->gpu_count);
    if (!placed && !preempting && !c->queue) {
        e->stats.rejected_capacity++;
        return fail(out, ERR_NOCAPACITY, "no capacity: %u GPUs of %s free, at most %u on one host",
                    e->inv.pools[model].free_gpus, c->gpu_model,
                    inventory_max_free_on_host(&e->inv, model));
    }
    /* committed: nothing below fails */
    if (rental_alloc(e, &id) < 0)
        return fail(out, ERR_NOMEM, "out of memory");
    r = &e->rentals[id];
    r->tenant = c->tenant;
    r->model = model;
    r->term = (uint8_t)c->term;
    r->restart = (uint8_t)c->restart;
    r->gpu_count = (uint8_t)c->gpu_count;
    r->auto_renew = c->auto_renew;
    r->has_workload = c->has_workload;
    r->hourly_price = p.hourly_price;
    r->list_hourly = p.list_hourly;
    r->max_hourly = c->max_hourly;
    r->max_cost = c->max_cost;
    r->max_duration = c->max_duration;
    r->requeue = c->requeue;
    r->origin = id;
    r->created_at = e->now;
    r->state = RENTAL_PENDING;
    if (p.coupon >= 0 && catalogue_coupon_redeem(&e->cat, (uint32_t)p.coupon, c->tenant) < 0)
        abort();
    tenant_link(e, r);
    e->stats.rentals_created++;
    emit_rental(e, r, RENTAL_PENDING, EV_RENTAL_CREATED);
    if (TERM_IS_PACKAGE(c->term)) {
        r->pkg_net = p.pkg_net;
        r->pkg_disc = p.pkg_disc;
        r->cost = p.pkg_net;
        r->discount = p.pkg_disc;
        post(e, t->account, ACCT_DEFERRED, p.pkg_net, XFER_PACKAGE, id);
        post(e, ACCT_DISCOUNTS, ACCT_DEFERRED, p.pkg_disc, XFER_DISCOUNT, id);
        month_roll(t, e->now);
        t->month_spent += p.pkg_net;
        tenant_after_charge(e, c->tenant);
    } else {
        r->amount_off_left = p.amount_off;
    }
    if (placed) {
        if (waiting_id != 0)
            e->rentals[waiting_id].passes++; /* by number: the array may have moved */
        place(e, r, host, mask);
        e->stats.placed_at_once++;
    } else {
        queue_push(e, r);
        e->stats.queued++;
    }
    out->id = id;
    out->state = (enum rental_state)r->state;
    return 0;
}

static int cmd_rental_stop(struct engine *e, const struct cmd_rental_stop *c, struct result *out)
{
    struct rental *r = rental_get(e, c->rental);

    if (r == NULL || (c->tenant != 0 && r->tenant != c->tenant))
        return fail(out, ERR_NOTFOUND, "unknown rental");
    out->id = c->rental;
    if (r->state != RENTAL_ENDED)
        end_rental(e, r, c->idle ? END_IDLE : c->admin ? END_ADMIN : END_STOPPED, e->now, 0);
    out->state = RENTAL_ENDED;
    return 0;
}

static int cmd_adjust(struct engine *e, const struct cmd_adjust *c, struct result *out)
{
    struct tenant *t = tenant_get(e, c->tenant);
    int64_t open = time_month_index(e->now), limit;
    char a[MONEY_STR_MAX], b[MONEY_STR_MAX];

    if (t == NULL)
        return fail(out, ERR_NOTFOUND, "unknown tenant");
    if (c->amount == 0 || c->amount > MONEY_MAX || c->amount < -MONEY_MAX)
        return fail(out, ERR_INVALID, "amount: must not be zero");
    if (!valid_name(c->reason, ADJUST_REASON_MAX + 1))
        return fail(out, ERR_INVALID, "reason: must be 1 to %d printable bytes", ADJUST_REASON_MAX);
    if (c->corrects != 0 && (c->corrects < 1970 * 12 || c->corrects >= open))
        return fail(out, ERR_INVALID, "corrects: must be a closed month, before %04lld-%02lld",
                    (long long)(open / 12), (long long)(open % 12 + 1));
    if (c->rental != 0) {
        const struct rental *r = rental_get(e, c->rental);
        if (r == NULL || r->tenant != c->tenant)
            return fail(out, ERR_NOTFOUND, "rental_id: not a rental of this tenant");
        if (c->corrects != 0 && r->created_at >= time_month_start(c->corrects + 1))
            return fail(out, ERR_INVALID, "corrects: the rental was created after that month");
    }
    if (c->amount > 0) {
        if (tenant_balance(e, t) > MONEY_MAX - c->amount)
            return fail(out, ERR_OVERFLOW, "amount: the balance would overflow");
        out->id =
            post_c(e, ACCT_REFUNDS, t->account, c->amount, XFER_ADJUSTMENT, c->rental, c->corrects);
    } else {
        /* a charge never takes the wallet past its credit limit */
        if (__builtin_add_overflow(tenant_balance(e, t), t->credit_limit, &limit))
            limit = MONEY_MAX;
        if (-c->amount > limit)
            return fail(out, ERR_FUNDS, "balance: %s available, %s to charge",
                        money_format(a, limit < 0 ? 0 : limit), money_format(b, -c->amount));
        out->id = post_c(e, t->account, ACCT_REFUNDS, -c->amount, XFER_ADJUSTMENT, c->rental,
                         c->corrects);
    }
    tenant_after_charge(e, c->tenant);
    out->amount = tenant_balance(e, t);
    return 0;
}

int engine_apply(struct engine *e, const struct command *cmd, int64_t now, struct result *out)
{
    memset(out, 0, sizeof(*out));
    /* time-driven work due by now happens first, so the state after a command depends only on
       the commands and their times, never on how often the caller ticks: a log of
       (command, now) replays to the same state */
    engine_tick(e, now);
    switch (cmd->type) {
    case CMD_TENANT_CREATE:
        return cmd_tenant_create(e, &cmd->u.tenant_create, out);
    case CMD_TENANT_UPDATE:
        return cmd_tenant_update(e, &cmd->u.tenant_update, out);
    case CMD_CREDIT:
        return cmd_credit(e, &cmd->u.credit, out);
    case CMD_PRICE_SET:
        return cmd_price_set(e, &cmd->u.price_set, out);
    case CMD_COUPON_CREATE:
        return cmd_coupon_create(e, &cmd->u.coupon_create, out);
    case CMD_HOST_REGISTER:
        return cmd_host_register(e, &cmd->u.host_register, out);
    case CMD_HOST_COST:
        return cmd_host_cost(e, &cmd->u.host_cost, out);
    case CMD_HOST_DRAIN:
        return cmd_host_drain(e, &cmd->u.host, true, out);
    case CMD_HOST_UNDRAIN:
        return cmd_host_drain(e, &cmd->u.host, false, out);
    case CMD_HOST_REPORT:
        return cmd_host_report(e, &cmd->u.host_report, out);
    case CMD_RENTAL_CREATE:
        return cmd_rental_create(e, &cmd->u.rental_create, out);
    case CMD_RENTAL_STOP:
        return cmd_rental_stop(e, &cmd->u.rental_stop, out);
    case CMD_ADJUST:
        return cmd_adjust(e, &cmd->u.adjust, out);
    }
    return fail(out, ERR_INVALID, "unknown command");
}

/* ---- Time ----------------------------------------------------------------------------- */

static void renew_or_expire(struct engine *e, struct rental *r)
{
    struct tenant *t = &e->tenants[r->tenant];
    int64_t len = term_length_us((enum term)r->term);
    enum limit_kind which;
    uint64_t id = rental_id(e, r);

    if (r->billing)
        settle(e, r, e->now, &(int64_t){0});
    if (r->auto_renew && r->pkg_net <= spendable(e, t, NULL, &which)) {
        int64_t net = r->pkg_net, disc = r->pkg_disc;
        /* the finished term keeps what it earned and returns the rest (time the host was
           down); the next term starts at the same locked price */
        refund_package(e, r, false);
        r->pkg_net = net;
        r->pkg_disc = disc;
        r->pkg_rec_net = r->pkg_rec_disc = 0;
        r->pkg_base = r->billed_us;
        r->cost += net;
        r->discount += disc;
        post(e, t->account, ACCT_DEFERRED, net, XFER_PACKAGE, id);
        post(e, ACCT_DISCOUNTS, ACCT_DEFERRED, disc, XFER_DISCOUNT, id);
        month_roll(t, e->now);
        t->month_spent += net;
        tenant_after_charge(e, r->tenant);
        r->ends_at += len;
        push_timer(e, r->ends_at, TIMER_END, id, 0);
        return;
    }
    end_rental(e, r, END_EXPIRED, e->now, 0);
}

static void fire(struct engine *e, const struct timer *tm)
{
    switch ((enum timer_kind)tm->kind) {
    case TIMER_SETTLE: {
        struct rental *r = &e->rentals[tm->obj];
        if (!r->billing || r->next_settle != tm->due)
            return;
        if (settle_now(e, r))
            return;
        r->next_settle = e->now + e->cfg.settle_interval;
        push_timer(e, r->next_settle, TIMER_SETTLE, tm->obj, 0);
        return;
    }
    case TIMER_START_TIMEOUT: {
        struct rental *r = &e->rentals[tm->obj];
        if (r->state == RENTAL_STARTING && r->epoch == tm->arg)
            end_rental(e, r, END_FAILED_TO_START, e->now, 0);
        return;
    }
    case TIMER_END: {
        struct rental *r = &e->rentals[tm->obj];
        if (!rental_live(r) || r->ends_at != tm->due)
            return;
        if (TERM_IS_PACKAGE(r->term))
            renew_or_expire(e, r);
        else
            end_rental(e, r, END_EXPIRED, e->now, 0);
        return;
    }
    case TIMER_PREEMPT: {
        struct rental *r = &e->rentals[tm->obj];
        if (rental_live(r) && r->preempt_at == tm->due)
            end_rental(e, r, END_PREEMPTED, e->now, 0);
        return;
    }
    case TIMER_HEARTBEAT: {
        struct host *h = &e->inv.hosts[tm->obj];
        if (h->state == HOST_DOWN)
            return;
        if (h->last_heartbeat + e->cfg.heartbeat_timeout <= e->now)
            host_down(e, (uint32_t)tm->obj);
        else
            push_timer(e, h->last_heartbeat + e->cfg.heartbeat_timeout, TIMER_HEARTBEAT, tm->obj,
                       0);
        return;
    }
    case TIMER_LOST: {
        struct host *h = &e->inv.hosts[tm->obj];
        if (h->state == HOST_DOWN && h->lost_at == tm->due && !e->mass_silence)
            host_lost(e, (uint32_t)tm->obj);
        return;
    }
    case TIMER_GRACE: {
        struct tenant *t = &e->tenants[tm->obj];
        if (t->dry_since == 0 || t->dry_gen != tm->arg)
            return;
        /* ending one may end others (the queue drops rentals it can no longer afford), so
           start over from the head after each */
        for (bool again = true; again;) {
            again = false;
            for (uint64_t id = t->rentals_head; id != 0; id = e->rentals[id].tenant_next) {
                struct rental *r = &e->rentals[id];
                if (r->billing && !TERM_IS_PACKAGE(r->term)) {
                    end_rental(e, r, END_INSUFFICIENT_BALANCE, e->now, 0);
                    again = true;
                    break;
                }
            }
        }
        return;
    }
    }
}

void engine_tick(struct engine *e, int64_t now)
{
    struct timer tm;

    while (timerq_peek(&e->timers) != NULL && timerq_peek(&e->timers)->due <= now) {
        timerq_pop(&e->timers, &tm);
        /* work happens at the timer's own time, so results do not depend on tick spacing */
        e->now = tm.due > e->now ? tm.due : e->now;
        fire(e, &tm);
    }
    e->now = now > e->now ? now : e->now;
}

int64_t engine_next_deadline(const struct engine *e)
{
    const struct timer *t = timerq_peek(&e->timers);

    return t ? t->due : INT64_MAX;
}

size_t engine_drain_events(struct engine *e, struct event *buf, size_t cap)
{
    size_t n = e->ev_count < cap ? e->ev_count : cap;

    if (n == 0)
        return 0;
    memcpy(buf, e->events + e->ev_head, n * sizeof(*buf));
    e->ev_head += n;
    e->ev_count -= n;
    if (e->ev_count == 0)
        e->ev_head = 0;
    return n;
}

/* ---- Reads ---------------------------------------------------------------------------- */

int engine_tenant(const struct engine *e, uint32_t id, struct tenant_view *out)
{
    const struct tenant *t = tenant_get(e, id);

    if (t == NULL)
        return ERR_NOTFOUND;
    out->id = id;
    out->name = t->name;
    out->account = t->account;
    out->balance = tenant_balance(e, t);
    out->credit_limit = t->credit_limit;
    out->monthly_budget = t->monthly_budget;
    out->month_spent = month_spent_at(t, e->now);
    out->hourly_burn = t->hourly_burn;
    out->live_rentals = t->live_rentals;
    return 0;
}

int engine_rental(const struct engine *e, uint64_t id, struct rental_view *out)
{
    const struct rental *r = rental_get(e, id);

    if (r == NULL)
        return ERR_NOTFOUND;
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->tenant = r->tenant;
    out->state = (enum rental_state)r->state;
    out->end_reason = (enum end_reason)r->end_reason;
    out->exit_code = r->exit_code;
    out->gpu_model = e->cat.models[r->model].name;
    out->gpu_count = r->gpu_count;
    out->term = (enum term)r->term;
    out->hourly_price = r->hourly_price;
    out->list_hourly = r->list_hourly;
    out->max_hourly = r->max_hourly;
    out->host = r->host;
    out->gpu_mask = rental_live(r) ? r->gpu_mask : 0;
    out->epoch = r->epoch;
    out->created_at = r->created_at;
    out->placed_at = r->placed_at;
    out->started_at = r->started_at;
    out->ends_at = r->ends_at;
    out->ended_at = r->ended_at;
    out->cost = r->cost;
    out->accrued = r->cost;
    if (r->billing && !TERM_IS_PACKAGE(r->term)) {
        int64_t to = settle_limit_time(e, r, e->now);
        int64_t b = r->billed_us + (to > r->bill_from ? to - r->bill_from : 0);
        int64_t d = money_prorate(r->hourly_price * r->gpu_count, b) - r->net_cum;
        out->accrued += d - (d < r->amount_off_left ? d : r->amount_off_left);
    }
    out->discount = r->discount;
    out->amount_off_used = r->amount_off_used;
    out->billed_us = r->billed_us;
    out->billing = r->billing;
    out->auto_renew = r->auto_renew;
    out->has_workload = r->has_workload;
    out->preempt_at = r->preempt_at;
    out->max_cost = r->max_cost;
    out->max_duration = r->max_duration;
    out->requeue = r->requeue;
    out->requeued_from = r->requeued_from;
    out->requeued_as = r->requeued_as;
    out->origin = r->origin ? r->origin : id;
    return 0;
}

int engine_host(const struct engine *e, uint32_t id, struct host_view *out)
{
    const struct host *h = inventory_host(&e->inv, id);

    if (h == NULL)
        return ERR_NOTFOUND;
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->hostname = h->hostname;
    out->gpu_model = e->cat.models[h->model].name;
    out->state = h->state;
    out->registered_at = h->registered_at;
    out->last_heartbeat_at = h->last_heartbeat;
    out->gpu_count = h->gpu_count;
    out->free_gpus = (uint32_t)__builtin_popcount(h->free_mask);
    out->has_cost = h->has_cost;
    out->cost = h->cost;
    return 0;
}

int engine_host_gpus(const struct engine *e, uint32_t id, struct gpu_view *buf, uint32_t cap)
{
    const struct host *h = inventory_host(&e->inv, id);
    uint32_t n;

    if (h == NULL)
        return ERR_NOTFOUND;
    n = h->gpu_count < cap ? h->gpu_count : cap;
    for (uint32_t i = 0; i < n; i++) {
        const struct gpu *g = &e->inv.gpus[h->gpu_first + i];
        buf[i].index = g->index;
        buf[i].uuid = g->uuid;
        buf[i].memory_mib = g->memory_mib;
        buf[i].nvlink_island = g->island;
        buf[i].rental = g->rental;
        buf[i].state = h->state == HOST_DOWN ? GPU_UNAVAILABLE
                       : g->rental != 0      ? GPU_ALLOCATED
                                             : GPU_FREE;
    }
    return (int)n;
}

uint32_t engine_model_count(const struct engine *e)
{
    return e->cat.model_count;
}

int engine_model_find(const struct engine *e, const char *name, uint32_t *out)
{
    return catalogue_model_find(&e->cat, name, out);
}

uint32_t engine_coupon_count(const struct engine *e)
{
    return e->cat.coupon_count;
}

int engine_coupon(const struct engine *e, uint32_t i, struct coupon_view *out)
{
    const struct coupon *c;

    if (i >= e->cat.coupon_count)
        return ERR_NOTFOUND;
    c = &e->cat.coupons[i];
    out->number = i;
    out->code = c->code;
    out->percent_off_bp = c->percent_off_bp;
    out->amount_off = c->amount_off;
    out->max_redemptions = c->max_redemptions;
    out->redemptions = c->redemptions;
    out->valid_until = c->valid_until;
    out->gpu_model = c->model >= 0 ? e->cat.models[c->model].name : NULL;
    out->term = c->term;
    out->automatic = c->automatic;
    out->once_per_tenant = c->once_per_tenant;
    return 0;
}

int engine_offer(const struct engine *e, uint32_t model, struct offer_view *out)
{
    const struct model *m;

    if (model >= e->cat.model_count)
        return ERR_NOTFOUND;
    m = &e->cat.models[model];
    out->gpu_model = m->name;
    out->memory_mib = m->memory_mib;
    out->available_gpus = e->inv.pools[model].free_gpus;
    out->max_gpus_per_host = inventory_max_free_on_host(&e->inv, model);
    out->largest_host = e->inv.pools[model].largest_host;
    out->prices = m->price;
    return 0;
}

void engine_stats(const struct engine *e, struct engine_stats *out)
{
    *out = e->stats;
}

uint64_t engine_rental_count(const struct engine *e)
{
    return e->rental_count - 1;
}

uint32_t engine_host_count(const struct engine *e)
{
    return e->inv.host_count - 1;
}

uint32_t engine_tenant_count(const struct engine *e)
{
    return e->tenant_count - 1;
}

int64_t engine_account_balance(const struct engine *e, uint32_t account)
{
    return account < e->ledger.count ? e->ledger.balances[account] : 0;
}

uint32_t engine_account_count(const struct engine *e)
{
    return e->ledger.count;
}

int engine_quote(const struct engine *e, uint32_t tenant, const char *gpu_model, uint32_t gpu_count,
                 enum term term, int64_t max_hourly, const char *coupon, int64_t duration_us,
                 int64_t now, struct quote *out, char *detail, size_t cap)
{
    struct pricing p;
    uint32_t model;
    int rc;

    if (gpu_model == NULL || catalogue_model_find(&e->cat, gpu_model, &model) < 0) {
        snprintf(detail, cap, "gpu_model: unknown model \"%s\"", gpu_model ? gpu_model : "");
        return ERR_INVALID;
    }
    if ((unsigned)term >= TERM_COUNT || gpu_count == 0 || gpu_count > MAX_GPUS_PER_HOST) {
        snprintf(detail, cap, "gpu_count: must be 1 to %d", MAX_GPUS_PER_HOST);
        return ERR_INVALID;
    }
    if (duration_us < 0) {
        snprintf(detail, cap, "duration_seconds: must not be negative");
        return ERR_INVALID;
    }
    rc = price_request(e, tenant, model, gpu_count, term, max_hourly, coupon, now, &p, detail, cap);
    if (rc < 0)
        return rc;
    out->hourly_price = p.hourly_price;
    out->hourly_total = p.rate_net;
    if (TERM_IS_PACKAGE(term)) {
        out->list_total = p.pkg_list;
        out->total = p.pkg_net;
    } else {
        int64_t net = money_prorate(p.rate_net, duration_us);
        out->list_total = money_prorate(p.rate_list, duration_us);
        out->total = net - (p.amount_off < net ? p.amount_off : net);
    }
    out->discount = out->list_total - out->total;
    out->coupon = p.coupon;
    return 0;
}

/* ---- The check ------------------------------------------------------------------------ */

static int violation(char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int violation(char *detail, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, cap, fmt, ap);
    va_end(ap);
    return ERR_CONFLICT;
}

int engine_check(const struct engine *e, char *detail, size_t cap)
{
    if (ledger_sum(&e->ledger) != 0)
        return violation(detail, cap, "ledger sums to %lld", (long long)ledger_sum(&e->ledger));
    for (uint32_t i = 1; i < e->tenant_count; i++) {
        const struct tenant *t = &e->tenants[i];
        if (tenant_balance(e, t) < -t->credit_limit)
            return violation(detail, cap, "tenant %u balance %lld below -%lld", i,
                             (long long)tenant_balance(e, t), (long long)t->credit_limit);
    }
    for (uint32_t hid = 1; hid < e->inv.host_count; hid++) {
        const struct host *h = &e->inv.hosts[hid];
        for (uint32_t i = 0; i < h->gpu_count; i++) {
            const struct gpu *g = &e->inv.gpus[h->gpu_first + i];
            bool free_bit = (h->free_mask >> g->index) & 1;
            if (free_bit != (g->rental == 0))
                return violation(detail, cap, "host %u gpu %u: free mask disagrees", hid, g->index);
            if (g->rental != 0) {
                const struct rental *r = rental_get(e, g->rental);
                if (r == NULL || !rental_live(r) || r->host != hid ||
                    !((r->gpu_mask >> g->index) & 1))
                    return violation(detail, cap,
                                     "host %u gpu %u held by a rental that does not "
                                     "hold it",
                                     hid, g->index);
            }
        }
    }
    for (uint64_t id = 1; id < e->rental_count; id++) {
        const struct rental *r = &e->rentals[id];
        if (rental_live(r)) {
            const struct host *h = &e->inv.hosts[r->host];
            if ((uint32_t)__builtin_popcount(r->gpu_mask) != r->gpu_count)
                return violation(detail, cap, "rental %llu holds %d GPUs, wants %u",
                                 (unsigned long long)id, __builtin_popcount(r->gpu_mask),
                                 r->gpu_count);
            for (uint32_t i = 0; i < h->gpu_count; i++) {
                const struct gpu *g = &e->inv.gpus[h->gpu_first + i];
                if (((r->gpu_mask >> g->index) & 1) && g->rental != id)
                    return violation(detail, cap, "rental %llu lost gpu %u", (unsigned long long)id,
                                     g->index);
            }
        } else if (r->billing) {
            return violation(detail, cap, "rental %llu bills while %s", (unsigned long long)id,
                             rental_state_name((enum rental_state)r->state));
        }
        if (r->requeued_as != 0) {
            const struct rental *n = rental_get(e, r->requeued_as);
            if (n == NULL || n->requeued_from != id || r->state != RENTAL_ENDED ||
                r->end_reason != END_PREEMPTED || n->tenant != r->tenant)
                return violation(detail, cap,
                                 "rental %llu: requeued as %llu, which does not "
                                 "continue it",
                                 (unsigned long long)id, (unsigned long long)r->requeued_as);
        }
        if (!TERM_IS_PACKAGE(r->term)) {
            int64_t net = money_prorate(r->hourly_price * r->gpu_count, r->billed_us);
            int64_t list = money_prorate(r->list_hourly * r->gpu_count, r->billed_us);
            if (r->cost != net - r->amount_off_used || r->cost + r->discount != list)
                return violation(detail, cap,
                                 "rental %llu: cost %lld discount %lld for %lld us disagree "
                                 "with its rates",
                                 (unsigned long long)id, (long long)r->cost, (long long)r->discount,
                                 (long long)r->billed_us);
        } else if (r->cost < 0 || r->discount < 0 || r->pkg_rec_net > r->pkg_net) {
            return violation(detail, cap, "package rental %llu: inconsistent amounts",
                             (unsigned long long)id);
        }
    }
    for (uint32_t m = 0; m < e->cat.model_count && m < e->inv.pool_count; m++) {
        uint32_t free_gpus = 0;
        for (uint32_t hid = 1; hid < e->inv.host_count; hid++) {
            const struct host *h = &e->inv.hosts[hid];
            if (h->model == m && h->placeable)
                free_gpus += (uint32_t)__builtin_popcount(h->free_mask);
            if (h->placeable != (h->state == HOST_READY))
                return violation(detail, cap, "host %u placeable disagrees with state", hid);
        }
        if (free_gpus != e->inv.pools[m].free_gpus)
            return violation(detail, cap, "model %u: %u free GPUs counted, index says %u", m,
                             free_gpus, e->inv.pools[m].free_gpus);
    }
    return 0;
}
