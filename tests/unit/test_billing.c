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
    assert_string_equal(r.detail, "coupon \"FIVE\" has been used up");
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
    assert_string_equal(r.detail, "max_hourly 2.99 is below the spot floor 3.00");
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
