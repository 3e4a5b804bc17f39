/*
 * test_billing.c - exact money through the engine: on-demand at known durations under many
 * settlement intervals, coupons, spot, packages (refunds, expiry, renewal), funds, grace,
 * budgets, max_cost and max_duration, quotes equal to bills, heartbeat-confirmed billing.
 */
#include "fixture.h"

#define A100 "A100-80G"

struct world {
    struct engine *e;
    uint32_t tenant, host;
};

static struct world world_new(int64_t settle_s, const char *credit)
{
    struct engine_config cfg;
    struct world w;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    cfg.settle_interval = settle_s * SEC;
    w.e = fx_engine(&cfg);
    fx_price(w.e, A100, "7.60", "3.00", "100.00", "600.00", "2000.00", T0);
    w.host = fx_host(w.e, "h1", A100, 8, 4, T0);
    w.tenant = fx_tenant(w.e, "acme", credit, T0);
    return w;
}

/* Run one GPU at 7.60/h for `seconds` after a 10 s start, ticking every `tick_s`. */
static int64_t run_for(int64_t settle_s, int64_t tick_s, int64_t seconds)
{
    struct world w = world_new(settle_s, "100000.00");
    uint64_t id = fx_rent(w.e, w.tenant, A100, 1, TERM_ON_DEMAND, T0);
    int64_t start = T0 + 10 * SEC, t;
    struct rental_view v;

    fx_report(w.e, id, REPORT_RUNNING, 0, start);
    for (t = start + tick_s * SEC; t < start + seconds * SEC; t += tick_s * SEC)
        engine_tick(w.e, t);
    engine_tick(w.e, start + seconds * SEC);
    fx_stop(w.e, w.tenant, id, start + seconds * SEC);
    v = fx_view(w.e, id);
    assert_int_equal(v.state, RENTAL_ENDED);
    assert_int_equal(v.end_reason, END_STOPPED);
    assert_int_equal(v.billed_us, seconds * SEC);
    assert_int_equal(fx_balance(w.e, w.tenant), M("100000.00") - v.cost);
    assert_int_equal(engine_account_balance(w.e, ACCT_REVENUE), v.cost);
    fx_check(w.e);
    engine_free(w.e);
    return v.cost;
}

static void test_vectors_any_interval(void **state)
{
    static const int64_t intervals[] = {1, 7, 59, 60, 61, 3600};
    static const int64_t ticks[] = {1, 13, 60};
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(intervals); i++) {
        for (size_t k = 0; k < ARRAY_SIZE(ticks); k++) {
            assert_int_equal(run_for(intervals[i], ticks[k], 1), 2111);
            assert_int_equal(run_for(intervals[i], ticks[k], 59), 124555);
            assert_int_equal(run_for(intervals[i], ticks[k], 3600), 7600000);
            if (ticks[k] == 60)
                assert_int_equal(run_for(intervals[i], ticks[k], 86399), 182397888);
        }
    }
}

static void test_accrued_between_settlements(void **state)
{
    struct world w = world_new(60, "100.00");
    uint64_t id = fx_rent(w.e, w.tenant, A100, 2, TERM_ON_DEMAND, T0);
    struct rental_view v;
    (void)state;

    fx_report(w.e, id, REPORT_RUNNING, 0, T0);
    engine_tick(w.e, T0 + 90 * SEC);
    v = fx_view(w.e, id);
    /* settled at 60 s; 30 s more have run and show in accrued, not yet in cost */
    assert_int_equal(v.cost, money_prorate(M("15.20"), 60 * SEC));
    assert_int_equal(v.accrued, money_prorate(M("15.20"), 90 * SEC));
    fx_stop(w.e, w.tenant, id, T0 + 90 * SEC);
    v = fx_view(w.e, id);
    assert_int_equal(v.cost, v.accrued);
    assert_int_equal(v.cost, money_prorate(M("15.20"), 90 * SEC));
    engine_free(w.e);
}

static void test_starting_is_not_charged(void **state)
{
    struct world w = world_new(60, "100.00");
    uint64_t a = fx_rent(w.e, w.tenant, A100, 2, TERM_ON_DEMAND, T0);
    uint64_t b = fx_rent(w.e, w.tenant, A100, 1, TERM_ON_DEMAND, T0);
    struct rental_view v;
    (void)state;

    engine_tick(w.e, T0 + 300 * SEC);
    fx_stop(w.e, w.tenant, a, T0 + 300 * SEC);
    v = fx_view(w.e, a);
    assert_int_equal(v.cost, 0);
    assert_int_equal(v.started_at, 0);
    /* the agent says it could not start: failed_to_start, never charged */
    fx_report(w.e, b, REPORT_FAILED, 125, T0 + 400 * SEC);
    v = fx_view(w.e, b);
    assert_int_equal(v.end_reason, END_FAILED_TO_START);
    assert_int_equal(v.cost, 0);
    assert_int_equal(fx_balance(w.e, w.tenant), M("100.00"));
    fx_check(w.e);
    engine_free(w.e);
}

static void test_percent_coupon(void **state)
{
    struct world w = world_new(60, "1000.00");
    struct command c = {.type = CMD_COUPON_CREATE};
    struct cmd_rental_create req = fx_req(w.tenant, A100, 2, TERM_ON_DEMAND);
    struct result r;
    struct rental_view v;
    (void)state;

    c.u.coupon_create.code = "HALF";
    c.u.coupon_create.percent_off_bp = 5000;
    c.u.coupon_create.term = -1;
    assert_int_equal(fx_apply(w.e, &c, T0, NULL), 0);
    req.coupon = "HALF";
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, T0);
    engine_tick(w.e, T0 + 3600 * SEC);
    fx_stop(w.e, w.tenant, r.id, T0 + 3600 * SEC);
    v = fx_view(w.e, r.id);
    assert_int_equal(v.hourly_price, M("3.80"));
    assert_int_equal(v.list_hourly, M("7.60"));
    assert_int_equal(v.cost, M("7.60"));
    assert_int_equal(v.discount, M("7.60"));
    /* list revenue in REVENUE, the discount as contra-revenue */
    assert_int_equal(engine_account_balance(w.e, ACCT_REVENUE), M("15.20"));
    assert_int_equal(engine_account_balance(w.e, ACCT_DISCOUNTS), -M("7.60"));
    fx_check(w.e);
    engine_free(w.e);
}

static void test_amount_coupon_and_limits(void **state)
{
    struct world w = world_new(60, "1000.00");
    struct command c = {.type = CMD_COUPON_CREATE};
    struct cmd_rental_create req = fx_req(w.tenant, A100, 1, TERM_ON_DEMAND);
    struct result r;
    struct rental_view v;
    (void)state;

    c.u.coupon_create.code = "FIVE";
    c.u.coupon_create.amount_off = M("5.00");
    c.u.coupon_create.max_redemptions = 1;
    c.u.coupon_create.term = -1;
    assert_int_equal(fx_apply(w.e, &c, T0, NULL), 0);
    req.coupon = "FIVE";
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, T0);
    engine_tick(w.e, T0 + 3600 * SEC);
    fx_stop(w.e, w.tenant, r.id, T0 + 3600 * SEC);
    v = fx_view(w.e, r.id);
    assert_int_equal(v.cost, M("2.60"));
    assert_int_equal(v.discount, M("5.00"));
    assert_int_equal(v.amount_off_used, M("5.00"));
    /* used up: a second redemption fails and changes nothing */
    assert_int_equal(fx_create(w.e, &req, T0 + 3600 * SEC, &r), ERR_INVALID);
    assert_string_equal(r.detail, "coupon: \"FIVE\" has been used up");
    assert_int_equal(engine_rental_count(w.e), 1);
    fx_check(w.e);
    engine_free(w.e);
}

static void test_spot_pays_its_bid(void **state)
{
    struct world w = world_new(60, "1000.00");
    struct cmd_rental_create req = fx_req(w.tenant, A100, 1, TERM_SPOT);
    struct result r;
    struct rental_view v;
    (void)state;

    req.max_hourly = M("2.99");
    assert_int_equal(fx_create(w.e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "max_hourly: 2.99 is below the spot floor 3.00");
    req.max_hourly = M("5.00");
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, T0);
    engine_tick(w.e, T0 + 3600 * SEC);
    fx_stop(w.e, w.tenant, r.id, T0 + 3600 * SEC);
    v = fx_view(w.e, r.id);
    assert_int_equal(v.cost, M("5.00"));
    assert_int_equal(v.discount, M("2.60"));
    fx_check(w.e);
    engine_free(w.e);
}

static void test_package_stop_early_refunds(void **state)
{
    struct engine_config cfg;
    struct engine *e;
    uint32_t t;
    uint64_t id;
    struct rental_view v;
    (void)state;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    cfg.package_stop_fee_bp = 1000; /* 10% of the unused part */
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, "100.00", NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "500.00", T0);
    id = fx_rent(e, t, A100, 2, TERM_DAY, T0);
    /* prepaid at creation */
    assert_int_equal(fx_balance(e, t), M("300.00"));
    assert_int_equal(engine_account_balance(e, ACCT_DEFERRED), M("200.00"));
    fx_report(e, id, REPORT_RUNNING, 0, T0 + 60 * SEC);
    v = fx_view(e, id);
    assert_int_equal(v.ends_at, T0 + 60 * SEC + 86400 * SEC);
    engine_tick(e, T0 + 60 * SEC + 6 * 3600 * SEC);
    /* a quarter of the term earned */
    assert_int_equal(engine_account_balance(e, ACCT_REVENUE), M("50.00"));
    fx_stop(e, t, id, T0 + 60 * SEC + 6 * 3600 * SEC);
    /* unused 150.00, less the 10% fee = 135.00 back */
    assert_int_equal(fx_balance(e, t), M("435.00"));
    assert_int_equal(engine_account_balance(e, ACCT_REVENUE), M("65.00"));
    assert_int_equal(engine_account_balance(e, ACCT_DEFERRED), 0);
    v = fx_view(e, id);
    assert_int_equal(v.cost, M("65.00"));
    fx_check(e);
    engine_free(e);
}

static void test_package_expires_and_renews(void **state)
{
    struct world w = world_new(3600, "250.00");
    struct cmd_rental_create req = fx_req(w.tenant, A100, 1, TERM_DAY);
    struct result r;
    struct rental_view v;
    int64_t start = T0 + 30 * SEC;
    (void)state;

    req.auto_renew = true;
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, start);
    engine_tick(w.e, start + 86400 * SEC);
    /* renewed: 150 left, another 100 charged */
    v = fx_view(w.e, r.id);
    assert_int_equal(v.state, RENTAL_RUNNING);
    assert_int_equal(v.ends_at, start + 2 * 86400 * SEC);
    assert_int_equal(fx_balance(w.e, w.tenant), M("50.00"));
    assert_int_equal(engine_account_balance(w.e, ACCT_REVENUE), M("100.00"));
    /* second term over: 50 left is not enough for a third: expired */
    engine_tick(w.e, start + 2 * 86400 * SEC);
    v = fx_view(w.e, r.id);
    assert_int_equal(v.state, RENTAL_ENDED);
    assert_int_equal(v.end_reason, END_EXPIRED);
    assert_int_equal(v.ended_at, start + 2 * 86400 * SEC);
    assert_int_equal(v.cost, M("200.00"));
    assert_int_equal(engine_account_balance(w.e, ACCT_REVENUE), M("200.00"));
    assert_int_equal(engine_account_balance(w.e, ACCT_DEFERRED), 0);
    fx_check(w.e);
    engine_free(w.e);
}

static void test_funds_run_out_exactly(void **state)
{
    struct engine_config cfg;
    struct engine *e;
    uint32_t t;
    uint64_t id;
    struct rental_view v;
    struct result r;
    struct cmd_rental_create req;
    (void)state;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "poor", "1.00", T0);
    /* one hour at 7.60 is needed to start */
    req = fx_req(t, A100, 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_FUNDS);
    assert_string_equal(r.detail, "balance: 1.00 available, 7.60 needed");
    engine_free(e);

    cfg.min_balance_us = 60 * SEC;
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "poor", "1.00", T0);
    id = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    fx_report(e, id, REPORT_RUNNING, 0, T0);
    engine_tick(e, T0 + 3600 * SEC);
    v = fx_view(e, id);
    assert_int_equal(v.end_reason, END_INSUFFICIENT_BALANCE);
    /* 1.00 at 7.60/h lasts 473.684684 s to the microsecond: charged exactly 1.00 */
    assert_int_equal(v.billed_us, INT64_C(473684684));
    assert_int_equal(v.ended_at, T0 + INT64_C(473684684));
    assert_int_equal(v.cost, M("1.00"));
    assert_int_equal(fx_balance(e, t), 0);
    fx_check(e);
    engine_free(e);
}

static void test_grace_on_credit(void **state)
{
    struct engine_config cfg;
    struct engine *e;
    struct command c = {.type = CMD_TENANT_CREATE};
    struct command k = {.type = CMD_CREDIT};
    struct result r;
    uint64_t id;
    struct rental_view v;
    (void)state;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    cfg.min_balance_us = 0;
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    c.u.tenant_create.name = "credit";
    c.u.tenant_create.credit_limit = M("10.00");
    assert_int_equal(fx_apply(e, &c, T0, &r), 0);
    k.u.credit.tenant = (uint32_t)r.id;
    k.u.credit.amount = M("1.00");
    assert_int_equal(fx_apply(e, &k, T0, NULL), 0);
    id = fx_rent(e, (uint32_t)r.id, A100, 1, TERM_ON_DEMAND, T0);
    fx_report(e, id, REPORT_RUNNING, 0, T0);
    /* the 480 s settlement finds the wallet below 0; 300 s of grace on credit follow */
    engine_tick(e, T0 + 779 * SEC);
    assert_int_equal(fx_view(e, id).state, RENTAL_RUNNING);
    engine_tick(e, T0 + 780 * SEC);
    v = fx_view(e, id);
    assert_int_equal(v.end_reason, END_INSUFFICIENT_BALANCE);
    assert_int_equal(v.ended_at, T0 + 780 * SEC);
    assert_int_equal(v.cost, 1646666);
    assert_int_equal(fx_balance(e, (uint32_t)r.id), M("1.00") - 1646666);
    fx_check(e);
    engine_free(e);
}

static void test_budget_max_cost_max_duration(void **state)
{
    struct world w = world_new(60, "1000.00");
    struct command u = {.type = CMD_TENANT_UPDATE};
    struct cmd_rental_create req = fx_req(w.tenant, A100, 1, TERM_ON_DEMAND);
    struct result r;
    struct rental_view v;
    uint64_t a;
    (void)state;

    /* max_cost 1.00 ends the rental (budget) exactly at 1.00 */
    req.max_cost = M("1.00");
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, T0);
    engine_tick(w.e, T0 + 600 * SEC);
    v = fx_view(w.e, r.id);
    assert_int_equal(v.end_reason, END_BUDGET);
    assert_int_equal(v.cost, M("1.00"));
    /* max_duration 600 s ends it (expired) after 600 s of running */
    req.max_cost = 0;
    req.max_duration = 600 * SEC;
    assert_int_equal(fx_create(w.e, &req, T0 + 600 * SEC, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, T0 + 700 * SEC);
    engine_tick(w.e, T0 + 1300 * SEC);
    v = fx_view(w.e, r.id);
    assert_int_equal(v.end_reason, END_EXPIRED);
    assert_int_equal(v.cost, 1266666);
    /* a monthly budget of 9.00: 1.00 + 1.266666 spent, 6.733334 left, 7.60 needed */
    u.u.tenant_update.tenant = w.tenant;
    u.u.tenant_update.set_monthly_budget = true;
    u.u.tenant_update.monthly_budget = M("9.00");
    assert_int_equal(fx_apply(w.e, &u, T0 + 1300 * SEC, NULL), 0);
    req.max_duration = 0;
    assert_int_equal(fx_create(w.e, &req, T0 + 1300 * SEC, &r), ERR_FUNDS);
    assert_string_equal(r.detail, "monthly budget: 6.733334 left, 7.60 needed");
    /* next month the budget is fresh; the rental ends when it reaches 9.00 */
    a = fx_rent(w.e, w.tenant, A100, 1, TERM_ON_DEMAND, T0 + 11 * 86400 * SEC);
    fx_report(w.e, a, REPORT_RUNNING, 0, T0 + 11 * 86400 * SEC);
    engine_tick(w.e, T0 + 11 * 86400 * SEC + 7200 * SEC);
    v = fx_view(w.e, a);
    assert_int_equal(v.end_reason, END_BUDGET);
    assert_int_equal(v.cost, M("9.00"));
    fx_check(w.e);
    engine_free(w.e);
}

static void test_quote_equals_bill(void **state)
{
    struct world w = world_new(60, "1000.00");
    struct command c = {.type = CMD_COUPON_CREATE};
    struct cmd_rental_create req = fx_req(w.tenant, A100, 3, TERM_ON_DEMAND);
    struct quote q;
    struct result r;
    char detail[200];
    (void)state;

    c.u.coupon_create.code = "P15";
    c.u.coupon_create.percent_off_bp = 1500;
    c.u.coupon_create.term = -1;
    assert_int_equal(fx_apply(w.e, &c, T0, NULL), 0);
    assert_int_equal(engine_quote(w.e, w.tenant, A100, 3, TERM_ON_DEMAND, 0, "P15", 1234 * SEC, T0,
                                  &q, detail, sizeof(detail)),
                     0);
    assert_int_equal(q.hourly_price, M("6.46"));
    assert_int_equal(q.hourly_total, M("19.38"));
    assert_int_equal(q.total, money_prorate(M("19.38"), 1234 * SEC));
    assert_int_equal(q.total, 6643033);
    assert_int_equal(q.discount, money_prorate(M("22.80"), 1234 * SEC) - q.total);
    req.coupon = "P15";
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    fx_report(w.e, r.id, REPORT_RUNNING, 0, T0);
    engine_tick(w.e, T0 + 1234 * SEC);
    fx_stop(w.e, w.tenant, r.id, T0 + 1234 * SEC);
    assert_int_equal(fx_view(w.e, r.id).cost, q.total);
    assert_int_equal(fx_view(w.e, r.id).discount, q.discount);
    engine_free(w.e);
}

static void test_billing_follows_heartbeats(void **state)
{
    struct engine_config cfg;
    struct engine *e;
    uint32_t t, h;
    uint64_t id;
    struct rental_view v;
    (void)state;

    engine_config_defaults(&cfg); /* heartbeat_timeout 60 s, lost_after 300 s */
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    h = fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "1000.00", T0);
    id = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    fx_report(e, id, REPORT_RUNNING, 0, T0 + 5 * SEC);
    for (int64_t s = 10; s <= 100; s += 5)
        fx_heartbeat(e, h, T0 + s * SEC);
    /* silent from 100 s: down at 160 s, billed only to the last heartbeat */
    engine_tick(e, T0 + 160 * SEC);
    v = fx_view(e, id);
    assert_false(v.billing);
    assert_int_equal(v.billed_us, 95 * SEC);
    /* back at 250 s (within lost_after): the gap is not billed */
    fx_heartbeat(e, h, T0 + 250 * SEC);
    fx_heartbeat(e, h, T0 + 300 * SEC);
    fx_heartbeat(e, h, T0 + 310 * SEC);
    fx_stop(e, t, id, T0 + 310 * SEC);
    v = fx_view(e, id);
    assert_int_equal(v.billed_us, 155 * SEC);
    assert_int_equal(v.cost, money_prorate(M("7.60"), 155 * SEC));
    fx_check(e);
    engine_free(e);
}

/* Week and month packages: the term's price per GPU, earned pro rata, the rest refunded. */
static void test_packages_week_and_month(void **state)
{
    struct world w = world_new(60, "10000.00");
    uint64_t wk, mo;
    struct rental_view v;
    (void)state;

    wk = fx_rent(w.e, w.tenant, A100, 1, TERM_WEEK, T0);
    mo = fx_rent(w.e, w.tenant, A100, 3, TERM_MONTH, T0);
    assert_int_equal(fx_balance(w.e, w.tenant), M("10000.00") - M("600.00") - M("6000.00"));
    fx_report(w.e, wk, REPORT_RUNNING, 0, T0);
    fx_report(w.e, mo, REPORT_RUNNING, 0, T0);
    assert_int_equal(fx_view(w.e, wk).ends_at, T0 + 7 * 86400 * SEC);
    assert_int_equal(fx_view(w.e, mo).ends_at, T0 + 30 * 86400 * SEC);
    /* 36 h is a twentieth of 30 days: 300.00 of 6000.00 earned */
    fx_stop(w.e, w.tenant, mo, T0 + 36 * 3600 * SEC);
    assert_int_equal(fx_view(w.e, mo).cost, M("300.00"));
    /* 42 h is a quarter of a week: 150.00 earned, 450.00 back (no fee by default) */
    fx_stop(w.e, w.tenant, wk, T0 + 42 * 3600 * SEC);
    v = fx_view(w.e, wk);
    assert_int_equal(v.cost, M("150.00"));
    assert_int_equal(v.end_reason, END_STOPPED);
    assert_int_equal(fx_balance(w.e, w.tenant), M("9550.00"));
    assert_int_equal(engine_account_balance(w.e, ACCT_REVENUE), M("450.00"));
    assert_int_equal(engine_account_balance(w.e, ACCT_DEFERRED), 0);
    fx_check(w.e);
    engine_free(w.e);
}

static void fx_coupon(struct engine *e, const char *code, uint32_t bp, const char *amount,
                      const char *model, int term, bool automatic)
{
    struct command c = {.type = CMD_COUPON_CREATE};
    c.u.coupon_create.code = code;
    c.u.coupon_create.percent_off_bp = bp;
    c.u.coupon_create.amount_off = amount ? M(amount) : 0;
    c.u.coupon_create.gpu_model = model;
    c.u.coupon_create.term = term;
    c.u.coupon_create.automatic = automatic;
    assert_int_equal(fx_apply(e, &c, T0, NULL), 0);
}

/* Coupons never stack: a named coupon replaces the promotions; else the best promotion that
 * matches the model and term applies. Model and term limits refuse other requests. */
static void test_coupon_stacking_and_limits(void **state)
{
    struct world w = world_new(60, "10000.00");
    struct cmd_rental_create req;
    struct result r;
    struct quote q;
    char detail[RESULT_DETAIL_MAX];
    (void)state;

    fx_price(w.e, "H100", "9.00", NULL, NULL, NULL, NULL, T0);
    fx_host(w.e, "h2", "H100", 8, 8, T0);
    fx_coupon(w.e, "AUTO10", 1000, NULL, NULL, -1, true);
    fx_coupon(w.e, "AUTO20D", 2000, NULL, NULL, TERM_DAY, true);
    fx_coupon(w.e, "HALF", 5000, NULL, A100, -1, false);
    fx_coupon(w.e, "WEEK5", 0, "5.00", NULL, TERM_WEEK, false);
    /* no code: the best promotion that matches */
    req = fx_req(w.tenant, A100, 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    assert_int_equal(fx_view(w.e, r.id).hourly_price, M("6.84"));
    assert_int_equal(engine_quote(w.e, w.tenant, A100, 1, TERM_ON_DEMAND, 0, NULL, 3600 * SEC, T0,
                                  &q, detail, sizeof(detail)),
                     0);
    assert_int_equal(q.total, M("6.84"));
    assert_int_equal(q.discount, M("0.76"));
    req = fx_req(w.tenant, A100, 1, TERM_DAY);
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    assert_int_equal(fx_view(w.e, r.id).cost, M("80.00")); /* 20 % beats 10 % for a day */
    /* a named coupon replaces the promotion: 50 %, not 50 % then 10 % */
    req = fx_req(w.tenant, A100, 1, TERM_ON_DEMAND);
    req.coupon = "HALF";
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    assert_int_equal(fx_view(w.e, r.id).hourly_price, M("3.80"));
    req.term = TERM_WEEK;
    req.coupon = "WEEK5";
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    assert_int_equal(fx_view(w.e, r.id).cost, M("595.00"));
    /* limits: model and term */
    req = fx_req(w.tenant, "H100", 1, TERM_ON_DEMAND);
    req.coupon = "HALF";
    assert_int_equal(fx_create(w.e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "coupon: \"HALF\" is only for A100-80G");
    req = fx_req(w.tenant, A100, 1, TERM_ON_DEMAND);
    req.coupon = "WEEK5";
    assert_int_equal(fx_create(w.e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "coupon: \"WEEK5\" is only for term week");
    assert_int_equal(engine_rental_count(w.e), 4);
    fx_check(w.e);
    engine_free(w.e);
}

/* An idle stop ends the rental `idle`, billed to the second like a stop. */
static void test_idle_stop(void **state)
{
    struct world w = world_new(60, "100.00");
    uint64_t id = fx_rent(w.e, w.tenant, A100, 1, TERM_ON_DEMAND, T0);
    struct command c = {.type = CMD_RENTAL_STOP};
    struct rental_view v;
    (void)state;

    fx_report(w.e, id, REPORT_RUNNING, 0, T0);
    c.u.rental_stop.rental = id;
    c.u.rental_stop.idle = true;
    assert_int_equal(fx_apply(w.e, &c, T0 + 900 * SEC, NULL), 0);
    v = fx_view(w.e, id);
    assert_int_equal(v.end_reason, END_IDLE);
    assert_int_equal(v.cost, M("1.90")); /* 15 min at 7.60/h */
    fx_check(w.e);
    engine_free(w.e);
}

/* A preempted spot rental with requeue: ends `preempted` billed through its notice; a
 * successor waits with the same spec and locked bid (a price change does not touch it),
 * starts when the GPUs come back and bills at the bid. */
static void test_spot_requeue(void **state)
{
    struct world w = world_new(60, "1000.00");
    uint32_t other = fx_tenant(w.e, "other", "1000.00", T0);
    struct cmd_rental_create req = fx_req(w.tenant, A100, 4, TERM_SPOT);
    struct result r;
    struct rental_view v, s;
    uint64_t first, plain, od, next;
    (void)state;

    req.max_hourly = M("3.00");
    req.requeue = true;
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    first = r.id;
    req.max_hourly = M("5.00");
    req.requeue = false;
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0);
    plain = r.id;
    fx_report(w.e, first, REPORT_RUNNING, 0, T0);
    fx_report(w.e, plain, REPORT_RUNNING, 0, T0);
    /* requeue is for spot only */
    req = fx_req(w.tenant, A100, 1, TERM_ON_DEMAND);
    req.requeue = true;
    assert_int_equal(fx_create(w.e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "requeue: only for spot");
    /* the floor rises: the running bid stays locked */
    fx_price(w.e, A100, "7.60", "4.00", "100.00", "600.00", "2000.00", T0 + 50 * SEC);
    /* another tenant's on-demand request preempts the lowest bid with 30 s notice */
    req = fx_req(other, A100, 4, TERM_ON_DEMAND);
    assert_int_equal(fx_create(w.e, &req, T0 + 100 * SEC, &r), 0);
    od = r.id;
    assert_int_equal(fx_view(w.e, first).preempt_at, T0 + 130 * SEC);
    engine_tick(w.e, T0 + 130 * SEC - 1);
    assert_int_equal(fx_view(w.e, first).state, RENTAL_RUNNING);
    engine_tick(w.e, T0 + 130 * SEC);
    v = fx_view(w.e, first);
    assert_int_equal(v.state, RENTAL_ENDED);
    assert_int_equal(v.end_reason, END_PREEMPTED);
    assert_int_equal(v.ended_at, T0 + 130 * SEC);
    assert_int_equal(v.cost, M("0.433333")); /* 4 x 3.00/h for 130 s */
    next = v.requeued_as;
    assert_int_equal(next, od + 1);
    s = fx_view(w.e, next);
    assert_int_equal(s.state, RENTAL_PENDING);
    assert_int_equal(s.requeued_from, first);
    assert_int_equal(s.origin, first);
    assert_true(s.requeue);
    assert_int_equal(s.tenant, w.tenant);
    assert_int_equal(s.gpu_count, 4);
    assert_int_equal(s.term, TERM_SPOT);
    assert_int_equal(s.max_hourly, M("3.00"));
    assert_int_equal(s.hourly_price, M("3.00"));
    assert_int_equal(s.list_hourly, M("7.60"));
    assert_int_equal(s.created_at, T0 + 130 * SEC);
    assert_int_equal(s.cost, 0);
    assert_int_equal(fx_view(w.e, od).state, RENTAL_STARTING);
    assert_int_equal(fx_view(w.e, plain).requeued_as, 0);
    /* the on-demand rental ends: the successor is placed and bills from its start */
    fx_report(w.e, od, REPORT_RUNNING, 0, T0 + 140 * SEC);
    fx_stop(w.e, other, od, T0 + 1000 * SEC);
    s = fx_view(w.e, next);
    assert_int_equal(s.state, RENTAL_STARTING);
    assert_int_equal(s.placed_at, T0 + 1000 * SEC);
    fx_report(w.e, next, REPORT_RUNNING, 0, T0 + 1010 * SEC);
    fx_stop(w.e, w.tenant, next, T0 + 1010 * SEC + 3600 * SEC);
    s = fx_view(w.e, next);
    assert_int_equal(s.started_at, T0 + 1010 * SEC);
    assert_int_equal(s.cost, M("12.00")); /* an hour of 4 x 3.00 */
    assert_int_equal(s.discount, M("18.40"));
    assert_int_equal(s.end_reason, END_STOPPED);
    assert_int_equal(s.requeued_as, 0);
    /* the tenant paid both parts and the plain spot rental's 4 x 5.00/h, nothing else */
    assert_int_equal(fx_balance(w.e, w.tenant),
                     M("1000.00") - M("0.433333") - M("12.00") - fx_view(w.e, plain).cost);
    fx_check(w.e);
    engine_free(w.e);
}

/* A requeue the tenant could not create then is not made: funds for an hour at its rate. */
static void test_requeue_needs_funds(void **state)
{
    struct world w = world_new(60, "12.20");
    uint32_t other = fx_tenant(w.e, "other", "1000.00", T0);
    struct cmd_rental_create req = fx_req(w.tenant, A100, 4, TERM_SPOT);
    struct result r;
    struct rental_view v;
    uint64_t first;
    (void)state;

    req.max_hourly = M("3.00");
    req.requeue = true;
    assert_int_equal(fx_create(w.e, &req, T0, &r), 0); /* needs 12.00 of 12.20 */
    first = r.id;
    fx_report(w.e, first, REPORT_RUNNING, 0, T0);
    req = fx_req(other, A100, 8, TERM_ON_DEMAND);
    assert_int_equal(fx_create(w.e, &req, T0 + 100 * SEC, &r), 0);
    engine_tick(w.e, T0 + 130 * SEC);
    v = fx_view(w.e, first);
    assert_int_equal(v.end_reason, END_PREEMPTED);
    assert_int_equal(v.cost, M("0.433333"));
    /* 11.766667 left, 12.00 needed: no successor */
    assert_int_equal(v.requeued_as, 0);
    assert_int_equal(engine_rental_count(w.e), 2);
    fx_check(w.e);
    engine_free(w.e);
}

/* Operator adjustments: credits and charges in the open month, naming the closed month they
 * correct; a charge never passes the credit limit; bad ones change nothing. */
static void test_adjustments(void **state)
{
    struct world w = world_new(60, "10.00");
    uint32_t other = fx_tenant(w.e, "other", "10.00", T0);
    uint64_t mine = fx_rent(w.e, w.tenant, A100, 1, TERM_ON_DEMAND, T0);
    uint64_t theirs = fx_rent(w.e, other, A100, 1, TERM_ON_DEMAND, T0);
    int64_t oct = 2026 * 12 + 9, nov = 2026 * 12 + 10, dec = 2026 * 12 + 11;
    int64_t now = T0 + 12 * 86400 * SEC; /* 2026-12-02: November is closed */
    struct command c = {.type = CMD_ADJUST};
    struct event ev[64];
    struct result r;
    size_t n;
    (void)state;

    engine_tick(w.e, now); /* they never start: failed_to_start, uncharged */
    fx_drain_count(w.e, EV_TRANSFER, -1);
    c.u.adjust = (struct cmd_adjust){
        .tenant = w.tenant, .amount = M("5.25"), .rental = mine, .corrects = nov, .reason = "x"};
    assert_int_equal(fx_apply(w.e, &c, now, &r), 0);
    assert_int_equal(r.amount, M("15.25"));
    n = engine_drain_events(w.e, ev, 64);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].u.transfer.kind, XFER_ADJUSTMENT);
    assert_int_equal(ev[0].u.transfer.from, ACCT_REFUNDS);
    assert_int_equal(ev[0].u.transfer.amount, M("5.25"));
    assert_int_equal(ev[0].u.transfer.rental, mine);
    assert_int_equal(ev[0].u.transfer.corrects, nov);
    assert_int_equal(ev[0].u.transfer.at, now);
    assert_int_equal(r.id, ev[0].u.transfer.seq);
    /* a charge, not about a rental nor a closed month */
    c.u.adjust = (struct cmd_adjust){.tenant = w.tenant, .amount = -M("3.00"), .reason = "fee"};
    assert_int_equal(fx_apply(w.e, &c, now, &r), 0);
    assert_int_equal(r.amount, M("12.25"));
    n = engine_drain_events(w.e, ev, 64);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].u.transfer.to, ACCT_REFUNDS);
    assert_int_equal(ev[0].u.transfer.corrects, 0);
    assert_int_equal(engine_account_balance(w.e, ACCT_REFUNDS), -M("2.25"));
    /* refused, changing nothing */
    c.u.adjust.amount = -M("12.250001");
    assert_int_equal(fx_apply(w.e, &c, now, &r), ERR_FUNDS);
    assert_string_equal(r.detail, "balance: 12.25 available, 12.250001 to charge");
    c.u.adjust.amount = 0;
    assert_int_equal(fx_apply(w.e, &c, now, &r), ERR_INVALID);
    c.u.adjust.amount = M("1.00");
    c.u.adjust.corrects = dec; /* the open month is not closed */
    assert_int_equal(fx_apply(w.e, &c, now, &r), ERR_INVALID);
    assert_string_equal(r.detail, "corrects: must be a closed month, before 2026-12");
    c.u.adjust.corrects = oct;
    c.u.adjust.rental = theirs;
    assert_int_equal(fx_apply(w.e, &c, now, &r), ERR_NOTFOUND);
    c.u.adjust.rental = mine; /* created in November: cannot be October's */
    assert_int_equal(fx_apply(w.e, &c, now, &r), ERR_INVALID);
    c.u.adjust.rental = 0;
    c.u.adjust.reason = "";
    assert_int_equal(fx_apply(w.e, &c, now, &r), ERR_INVALID);
    assert_int_equal(engine_drain_events(w.e, ev, 64), 0);
    assert_int_equal(fx_balance(w.e, w.tenant), M("12.25"));
    fx_check(w.e);
    engine_free(w.e);
}

/* Usage of a closed month that a heartbeat confirms only after midnight is posted in the
 * next month marked with the month it belongs to; the rest of the span is ordinary. */
static void test_late_usage_names_its_month(void **state)
{
    struct engine_config cfg;
    int64_t end = INT64_C(1796083200) * SEC; /* 2026-12-01T00:00:00Z */
    int64_t nov = 2026 * 12 + 10;
    struct engine *e;
    struct event ev[256];
    int64_t amounts[8], at[8], corrects[8];
    uint32_t t, h;
    uint64_t id;
    size_t n, k = 0;
    (void)state;

    engine_config_defaults(&cfg); /* heartbeats on: billing is confirmed by them */
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, end - 100 * SEC);
    h = fx_host(e, "h1", A100, 8, 8, end - 100 * SEC);
    t = fx_tenant(e, "acme", "100.00", end - 100 * SEC);
    id = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, end - 100 * SEC);
    fx_report(e, id, REPORT_RUNNING, 0, end - 90 * SEC);
    fx_heartbeat(e, h, end - 50 * SEC);
    engine_tick(e, end - 30 * SEC); /* settles [-90 s, -50 s): 40 s in November */
    fx_heartbeat(e, h, end - 10 * SEC);
    fx_heartbeat(e, h, end + 20 * SEC);
    fx_stop(e, t, id, end + 20 * SEC); /* [-50 s, +20 s): 50 s of November, 20 s of December */
    while ((n = engine_drain_events(e, ev, 256)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (ev[i].type == EV_TRANSFER && ev[i].u.transfer.kind == XFER_CHARGE && k < 8) {
                amounts[k] = ev[i].u.transfer.amount;
                at[k] = ev[i].u.transfer.at;
                corrects[k++] = ev[i].u.transfer.corrects;
            }
        }
    }
    assert_int_equal(k, 3);
    assert_int_equal(amounts[0], 84444); /* prorate(7.60, 40 s) */
    assert_int_equal(at[0], end - 30 * SEC);
    assert_int_equal(corrects[0], 0);
    assert_int_equal(amounts[1], 190000 - 84444); /* prorate(7.60, 90 s) - the above */
    assert_int_equal(at[1], end + 20 * SEC);
    assert_int_equal(corrects[1], nov);
    assert_int_equal(amounts[2], 232222 - 190000); /* prorate(7.60, 110 s) - the above */
    assert_int_equal(corrects[2], 0);
    assert_int_equal(fx_view(e, id).cost, 232222);
    fx_check(e);
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_any_interval),
        cmocka_unit_test(test_accrued_between_settlements),
        cmocka_unit_test(test_starting_is_not_charged),
        cmocka_unit_test(test_percent_coupon),
        cmocka_unit_test(test_amount_coupon_and_limits),
        cmocka_unit_test(test_spot_pays_its_bid),
        cmocka_unit_test(test_package_stop_early_refunds),
        cmocka_unit_test(test_package_expires_and_renews),
        cmocka_unit_test(test_funds_run_out_exactly),
        cmocka_unit_test(test_grace_on_credit),
        cmocka_unit_test(test_budget_max_cost_max_duration),
        cmocka_unit_test(test_quote_equals_bill),
        cmocka_unit_test(test_billing_follows_heartbeats),
        cmocka_unit_test(test_packages_week_and_month),
        cmocka_unit_test(test_coupon_stacking_and_limits),
        cmocka_unit_test(test_idle_stop),
        cmocka_unit_test(test_spot_requeue),
        cmocka_unit_test(test_requeue_needs_funds),
        cmocka_unit_test(test_adjustments),
        cmocka_unit_test(test_late_usage_names_its_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
