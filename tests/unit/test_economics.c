/*
 * test_economics.c - the what-if model reproduces the founding brief, and the period report
 * computes exactly what DESIGN.md defines from a small fleet's operating data.
 */
#include "fixture.h"

#include <math.h>

#include "engine/economics.h"

#define A100 "A100-80G"

#define assert_double_equal(a, b, eps)                                                             \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.12f, expected %.12f", #a, a_, b_);                                    \
    } while (0)

static double round_to(double v, int decimals)
{
    double f = pow(10, decimals);
    return round(v * f) / f;
}

static void test_whatif_brief(void **state)
{
    struct whatif_input in = {0};
    struct whatif_output out;
    char detail[128];
    (void)state;

    in.card_price = M("100000");
    in.hourly_price = M("7.60");
    in.utilization_ppm = 1000000;
    in.depreciation_years = 5;
    in.opex_hourly = M("1.80");
    assert_int_equal(economics_whatif(&in, &out, detail, sizeof(detail)), 0);
    assert_int_equal(out.revenue_yearly, M("66576.00"));
    assert_int_equal(out.depreciation_yearly, M("20000.00"));
    assert_int_equal(out.opex_hourly_total, M("1.80"));
    assert_int_equal(out.opex_yearly, M("15768.00"));
    assert_int_equal(out.gross_profit_yearly, M("30808.00"));
    assert_double_equal(out.gross_margin, 30808.0 / 66576.0, 1e-12);
    assert_double_equal(round_to(out.gross_margin, 3), 0.463, 1e-12);
    assert_double_equal(round_to(out.payback_years_revenue, 2), 1.50, 1e-12);
    assert_double_equal(round_to(out.payback_years_cash, 2), 1.97, 1e-12);
    assert_double_equal(out.breakeven_utilization, 35768.0 / 66576.0, 1e-12);
    /* the brief: 100000 / (7.6 x 8760) = 1.50 */
    assert_double_equal(out.payback_years_revenue, 100000.0 / (7.6 * 8760), 1e-12);
}

static void test_whatif_opex_parts_and_errors(void **state)
{
    struct whatif_input in = {0};
    struct whatif_output out;
    char detail[128];
    (void)state;

    in.card_price = M("100000");
    in.hourly_price = M("7.60");
    in.utilization_ppm = 800000;
    in.depreciation_years = 5;
    in.salvage_ppm = 100000;
    in.power_watts = 400;
    in.pue_milli = 1300;
    in.electricity_kwh_price = M("0.60");
    in.hosting_monthly = M("100.00");
    assert_int_equal(economics_whatif(&in, &out, detail, sizeof(detail)), 0);
    /* power 0.4 kW x 1.3 x 0.60 = 0.312/h; hosting 100/730 = 0.136986/h */
    assert_int_equal(out.opex_hourly_total, M("0.312") + M("0.136986"));
    assert_int_equal(out.revenue_yearly, M("53260.80"));
    assert_int_equal(out.depreciation_yearly, M("18000.00"));
    in.utilization_ppm = 1000001;
    assert_int_equal(economics_whatif(&in, &out, detail, sizeof(detail)), ERR_INVALID);
    assert_string_equal(detail, "utilization: must be between 0 and 1");
    in.utilization_ppm = 0;
    in.depreciation_years = 0;
    assert_int_equal(economics_whatif(&in, &out, detail, sizeof(detail)), ERR_INVALID);
    assert_string_equal(detail, "depreciation_years: must be 1 to 100");
}

static void test_cost_at_margin(void **state)
{
    (void)state;
    /* the hyperscaler: 1.50 an A100-hour at a 42% gross margin costs 0.87 an hour */
    assert_int_equal(economics_cost_at_margin(M("1.50"), 420000), M("0.87"));
    assert_int_equal(economics_cost_at_margin(M("7.60"), 462750), 4083100);
}

static void test_period_report(void **state)
{
    struct engine *e = fx_engine(NULL);
    struct command c = {.type = CMD_COUPON_CREATE};
    struct command cost = {.type = CMD_HOST_COST};
    struct econ_line lines[4];
    uint32_t t, h;
    uint64_t id;
    int n;
    int64_t end = T0 + 10 * 3600 * SEC;
    (void)state;

    fx_price(e, A100, "15.10", NULL, NULL, NULL, NULL, T0);
    h = fx_host(e, "h1", A100, 8, 8, T0);
    cost.u.host_cost.host = h;
    cost.u.host_cost.cost = (struct cost_basis){.purchase_price = M("800000"),
                                                .purchased_at = T0,
                                                .depreciation_years = 5,
                                                .power_watts = 3200,
                                                .pue_milli = 1300,
                                                .electricity_kwh_price = M("0.60"),
                                                .hosting_monthly = M("1000.00")};
    assert_int_equal(fx_apply(e, &cost, T0, NULL), 0);
    c.u.coupon_create.code = "LAUNCH50";
    c.u.coupon_create.percent_off_bp = 5000;
    c.u.coupon_create.term = -1;
    c.u.coupon_create.automatic = true;
    assert_int_equal(fx_apply(e, &c, T0, NULL), 0);
    t = fx_tenant(e, "acme", "10000.00", T0);
    id = fx_rent(e, t, A100, 4, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, id).hourly_price, M("7.55"));
    fx_report(e, id, REPORT_RUNNING, 0, T0);
    engine_tick(e, end);
    fx_stop(e, t, id, end);

    n = engine_economics(e, T0, end, end, lines, 4);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0].gpu_model, A100);
    assert_string_equal(lines[1].gpu_model, "total");
    for (int i = 0; i < 2; i++) {
        const struct econ_line *l = &lines[i];
        assert_int_equal(l->gpus, 8);
        assert_double_equal(l->gpu_hours_available, 80.0, 1e-9);
        assert_double_equal(l->gpu_hours_rented, 40.0, 1e-9);
        assert_double_equal(l->utilization, 0.5, 1e-12);
        assert_int_equal(l->list_revenue, M("604.00"));
        assert_int_equal(l->discounts, M("302.00"));
        assert_int_equal(l->revenue, M("302.00"));
        assert_int_equal(l->realized_hourly, M("7.55"));
        assert_int_equal(l->depreciation, M("182.648401"));
        assert_int_equal(l->power_cost, M("24.96"));
        assert_int_equal(l->hosting_cost, M("13.698630"));
        assert_double_equal(l->gross_margin, (302.0 - 182.648401 - 24.96 - 13.698630) / 302.0,
                            1e-9);
        assert_double_equal(l->payback_years,
                            800000.0 / ((302.0 - 24.96 - 13.698630) * 8760.0 / 10.0), 1e-9);
    }
    /* the revenue in the report is what the ledger says tenants were charged */
    assert_int_equal(engine_account_balance(e, ACCT_REVENUE) +
                         engine_account_balance(e, ACCT_DISCOUNTS),
                     lines[1].revenue);
    assert_int_equal(M("10000.00") - fx_balance(e, t), lines[1].revenue);
    /* a later, empty period earns nothing and still costs */
    n = engine_economics(e, end, end + 3600 * SEC, end + 3600 * SEC, lines, 4);
    assert_int_equal(n, 2);
    assert_int_equal(lines[1].revenue, 0);
    assert_double_equal(lines[1].gpu_hours_available, 8.0, 1e-9);
    assert_double_equal(lines[1].payback_years, -1, 0);
    assert_int_equal(engine_economics(e, end, end, end, lines, 4), ERR_INVALID);
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whatif_brief),
        cmocka_unit_test(test_whatif_opex_parts_and_errors),
        cmocka_unit_test(test_cost_at_margin),
        cmocka_unit_test(test_period_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
