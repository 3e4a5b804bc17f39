/*
 * economics.c - does the business pay? GET /v1/economics and POST /v1/economics/what-if.
 *
 * Money stays a decimal string; ratios, hours and years are JSON numbers (null where the
 * engine says "never": a payback that the period's earnings do not cover).
 */
#include "../../common/compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/timeutil.h"
#include "../../engine/economics.h"
#include "../../engine/money.h"
#include "../apijson.h"
#include "../server.h"
#include "handlers.h"

static json_t *years_or_null(double v)
{
    return v < 0 ? json_null() : api_ratio(v);
}

static json_t *line_json(const struct econ_line *l)
{
    json_t *j = json_object();

    json_object_set_new(j, "gpu_model", json_string(l->gpu_model));
    json_object_set_new(j, "gpus", json_integer(l->gpus));
    json_object_set_new(j, "gpu_hours_available", api_ratio(l->gpu_hours_available));
    json_object_set_new(j, "gpu_hours_rented", api_ratio(l->gpu_hours_rented));
    json_object_set_new(j, "utilization", api_ratio(l->utilization));
    json_object_set_new(j, "list_revenue", api_money(l->list_revenue));
    json_object_set_new(j, "discounts", api_money(l->discounts));
    json_object_set_new(j, "revenue", api_money(l->revenue));
    json_object_set_new(j, "realized_hourly", api_money(l->realized_hourly));
    json_object_set_new(j, "depreciation", api_money(l->depreciation));
    json_object_set_new(j, "power_cost", api_money(l->power_cost));
    json_object_set_new(j, "hosting_cost", api_money(l->hosting_cost));
    json_object_set_new(j, "purchase_price", api_money(l->purchase_price));
    /* a period that earned nothing has no margin: its costs over zero revenue are not 0 % */
    json_object_set_new(j, "gross_margin",
                        l->revenue > 0 ? api_ratio(l->gross_margin) : json_null());
    json_object_set_new(j, "payback_years", years_or_null(l->payback_years));
    return j;
}

void api_economics(struct request *req, struct response *res)
{
    int64_t now = core_clock_now();
    int64_t to = now, from = time_month_start(time_month_index(now));
    const struct engine *e;
    struct econ_line *lines = NULL;
    json_t *j, *models, *total = NULL;
    uint32_t cap;
    int n;

    static const char *const args[] = {"from", "to", NULL};

    if (api_only_query(req, res, args) < 0 || api_query_time(req, res, "from", &from) < 0 ||
        api_query_time(req, res, "to", &to) < 0)
        return;
    if (from >= to) {
        http_problem(res, 400, "from: must be before to");
        return;
    }
    if (from > now) {
        http_problem(res, 400, "from: must not be in the future");
        return;
    }
    e = core_read_begin(req->srv->core);
    cap = engine_model_count(e) + 1;
    lines = calloc(cap, sizeof(*lines));
    n = lines != NULL ? engine_economics(e, from, to, now, lines, cap) : ERR_NOMEM;
    models = json_array();
    for (int i = 0; i < n; i++) {
        if (lines[i].model != ECON_TOTAL)
            json_array_append_new(models, line_json(&lines[i]));
    }
    for (int i = 0; i < n; i++) {
        if (lines[i].model == ECON_TOTAL)
            total = line_json(&lines[i]);
    }
    core_read_end(req->srv->core);
    free(lines);
    if (n < 0) {
        json_decref(models);
        http_problem(res, http_status_for(n), "the report could not be computed: %s",
                     n == ERR_NOMEM ? "out of memory" : "invalid period");
        return;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string("economics"));
    json_object_set_new(j, "currency", json_string(req->srv->currency));
    json_object_set_new(j, "from", api_time(from));
    json_object_set_new(j, "to", api_time(to < now ? to : now));
    json_object_set_new(j, "models", models);
    json_object_set_new(j, "total", total ? total : json_null());
    api_reply(res, 200, j);
}

void api_whatif(struct request *req, struct response *res)
{
    static const char *const allowed[] = {
        "card_price",  "hourly_price", "utilization", "depreciation_years",    "salvage_fraction",
        "opex_hourly", "power_watts",  "pue",         "electricity_kwh_price", "hosting_monthly",
        NULL};
    struct whatif_input in = {0};
    struct whatif_output out;
    struct api_fields f;
    struct api_error err;
    char detail[API_DETAIL_MAX] = "";
    double util = 0, salvage = 0, pue = 0;
    int64_t years = 0, watts = 0;
    json_t *body, *j;
    int rc;

    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_money(&f, "card_price", true, 0, &in.card_price);
    api_get_money(&f, "hourly_price", true, 0, &in.hourly_price);
    api_get_number(&f, "utilization", true, 0, 1, &util);
    api_get_int(&f, "depreciation_years", true, 1, 100, &years);
    api_get_number(&f, "salvage_fraction", false, 0, 1, &salvage);
    api_get_money(&f, "opex_hourly", false, 0, &in.opex_hourly);
    api_get_int(&f, "power_watts", false, 0, 1000000, &watts);
    api_get_number(&f, "pue", false, 1, 5, &pue);
    api_get_money(&f, "electricity_kwh_price", false, 0, &in.electricity_kwh_price);
    api_get_money(&f, "hosting_monthly", false, 0, &in.hosting_monthly);
    json_decref(body);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        return;
    }
    in.utilization_ppm = (uint32_t)llround(util * 1e6);
    in.depreciation_years = (uint32_t)years;
    in.salvage_ppm = (uint32_t)llround(salvage * 1e6);
    in.power_watts = (uint32_t)watts;
    in.pue_milli = (uint32_t)llround(pue * 1e3);
    rc = economics_whatif(&in, &out, detail, sizeof(detail));
    if (rc < 0) {
        http_problem(res, http_status_for(rc), "%s", detail);
        return;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string("what_if"));
    json_object_set_new(j, "revenue_yearly", api_money(out.revenue_yearly));
    json_object_set_new(j, "depreciation_yearly", api_money(out.depreciation_yearly));
    json_object_set_new(j, "opex_hourly", api_money(out.opex_hourly_total));
    json_object_set_new(j, "opex_yearly", api_money(out.opex_yearly));
    json_object_set_new(j, "gross_profit_yearly", api_money(out.gross_profit_yearly));
    /* a margin of no revenue is undefined (utilization 0), not 0 */
    json_object_set_new(j, "gross_margin",
                        out.revenue_yearly > 0 ? api_ratio(out.gross_margin) : json_null());
    json_object_set_new(j, "payback_years_revenue", years_or_null(out.payback_years_revenue));
    json_object_set_new(j, "payback_years_cash", years_or_null(out.payback_years_cash));
    json_object_set_new(j, "breakeven_utilization", years_or_null(out.breakeven_utilization));
    api_reply(res, 200, j);
}

/* ---- GET /v1/economics/series ---------------------------------------------------------- */

#define SERIES_POINTS_MAX 1000

/*
 * The period report cut into steps (an hour or a UTC day), for the console's charts: one
 * point per step from `from` (rounded down to the step) to `to` (clipped to now), with the
 * total's figures, or one model's with gpu_model=. Each point is exactly the report of
 * GET /v1/economics for that step.
 */
void api_economics_series(struct request *req, struct response *res)
{
    const char *step_arg = http_query(req, "step"), *model = http_query(req, "gpu_model");
    int64_t now = core_clock_now(), step = 3600 * USEC_PER_SEC;
    int64_t to = now, from;
    const struct engine *e;
    struct econ_line *lines;
    uint32_t cap, want = ECON_TOTAL;
    json_t *points, *j;
    int rc = 0;
    static const char *const args[] = {"step", "from", "to", "gpu_model", NULL};

    if (api_only_query(req, res, args) < 0)
        return;
    if (step_arg != NULL && strcmp(step_arg, "day") == 0)
        step = 24 * 3600 * USEC_PER_SEC;
    else if (step_arg != NULL && strcmp(step_arg, "hour") != 0) {
        http_problem(res, 400, "step: must be hour or day");
        return;
    }
    if (api_query_time(req, res, "to", &to) < 0)
        return;
    from = to - (step == 3600 * USEC_PER_SEC ? 24 : 30) * step;
    if (api_query_time(req, res, "from", &from) < 0)
        return;
    if (to > now)
        to = now;
    from -= ((from % step) + step) % step; /* down to the step, also before 1970 */
    if (from >= to) {
        http_problem(res, 400, "from: must be before to (and not in the future)");
        return;
    }
    if ((to - from + step - 1) / step > SERIES_POINTS_MAX) {
        http_problem(res, 400, "from, to: at most %d steps; use step=day for long periods",
                     SERIES_POINTS_MAX);
        return;
    }
    points = json_array();
    e = core_read_begin(req->srv->core);
    if (model != NULL && engine_model_find(e, model, &want) < 0)
        rc = ERR_NOTFOUND;
    cap = engine_model_count(e) + 1;
    lines = calloc(cap, sizeof(*lines));
    if (lines == NULL && rc == 0)
        rc = ERR_NOMEM;
    for (int64_t t = from; t < to && rc == 0; t += step) {
        int n = engine_economics(e, t, t + step, now, lines, cap);
        const struct econ_line *l = NULL;
        json_t *p;

        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (lines[i].model == want)
                l = &lines[i];
        }
        p = json_object();
        json_object_set_new(p, "start", api_time(t));
        json_object_set_new(p, "gpu_hours_available", api_ratio(l ? l->gpu_hours_available : 0));
        json_object_set_new(p, "gpu_hours_rented", api_ratio(l ? l->gpu_hours_rented : 0));
        json_object_set_new(p, "utilization", api_ratio(l ? l->utilization : 0));
        json_object_set_new(p, "list_revenue", api_money(l ? l->list_revenue : 0));
        json_object_set_new(p, "discounts", api_money(l ? l->discounts : 0));
        json_object_set_new(p, "revenue", api_money(l ? l->revenue : 0));
        json_object_set_new(p, "realized_hourly", api_money(l ? l->realized_hourly : 0));
        json_array_append_new(points, p);
    }
    core_read_end(req->srv->core);
    free(lines);
    if (rc < 0) {
        json_decref(points);
        if (rc == ERR_NOTFOUND)
            http_problem(res, 400, "gpu_model: no such model \"%.64s\"", model);
        else
            http_problem(res, http_status_for(rc), "the series could not be computed");
        return;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string("economics_series"));
    json_object_set_new(j, "currency", json_string(req->srv->currency));
    json_object_set_new(j, "step", json_string(step == 3600 * USEC_PER_SEC ? "hour" : "day"));
    json_object_set_new(j, "gpu_model", model ? json_string(model) : json_null());
    json_object_set_new(j, "from", api_time(from));
    json_object_set_new(j, "to", api_time(to));
    json_object_set_new(j, "points", points);
    api_reply(res, 200, j);
}
