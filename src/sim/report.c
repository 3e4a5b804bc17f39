#include "../common/compat.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/timeutil.h"
#include "../engine/money.h"
#include "report.h"

void report_init(struct report *r)
{
    memset(r, 0, sizeof(*r));
    r->demand = "";
}

void report_release(struct report *r)
{
    if (r == NULL)
        return;
    free(r->lines);
    report_init(r);
}

int64_t report_percentile(const int64_t *sorted, size_t n, unsigned pct)
{
    size_t rank;

    if (n == 0)
        return 0;
    /* nearest rank: the smallest value with at least pct% of the samples at or below it */
    rank = (n * pct + 99) / 100;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

/* ---- Cells --------------------------------------------------------------------------- */

enum cell_kind {
    CELL_COUNT,   /* uint64_t */
    CELL_GPUS,    /* uint32_t */
    CELL_HOURS,   /* double, 1 decimal */
    CELL_PERCENT, /* double ratio, as a percentage with 1 decimal */
    CELL_MONEY,   /* int64_t micro-units, rounded to cents */
    CELL_YEARS,   /* double, 2 decimals; "never" when < 0 */
    CELL_SECONDS, /* int64_t µs, whole seconds; "-" without samples */
};

struct row {
    const char *label;
    enum cell_kind kind;
    size_t offset;  /* into struct report_line */
    bool per_model; /* "-" in the total column */
};

#define LINE_FIELD(f) offsetof(struct report_line, f)

/* Round half away from zero to cents: "1234.57", "-0.50". Integer arithmetic only. */
static void money_cents(char *buf, size_t size, int64_t v)
{
    int64_t mag = v < 0 ? -v : v;
    int64_t cents = (mag + 5000) / 10000;

    snprintf(buf, size, "%s%lld.%02lld", v < 0 && cents > 0 ? "-" : "", (long long)(cents / 100),
             (long long)(cents % 100));
}

static void seconds_text(char *buf, size_t size, int64_t us)
{
    snprintf(buf, size, "%lld", (long long)((us + USEC_PER_SEC / 2) / USEC_PER_SEC));
}

static void cell(char *buf, size_t size, const struct row *row, const struct report_line *l)
{
    const char *p = (const char *)l + row->offset;
    double d;
    int64_t v;

    if (row->per_model && l->is_total) {
        snprintf(buf, size, "-");
        return;
    }
    switch (row->kind) {
    case CELL_COUNT:
        snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)(const void *)p);
        break;
    case CELL_GPUS:
        snprintf(buf, size, "%u", *(const uint32_t *)(const void *)p);
        break;
    case CELL_HOURS:
        snprintf(buf, size, "%.1f", *(const double *)(const void *)p);
        break;
    case CELL_PERCENT:
        snprintf(buf, size, "%.1f%%", *(const double *)(const void *)p * 100);
        break;
    case CELL_MONEY:
        money_cents(buf, size, *(const int64_t *)(const void *)p);
        break;
    case CELL_YEARS:
        d = *(const double *)(const void *)p;
        if (d < 0)
            snprintf(buf, size, "never");
        else
            snprintf(buf, size, "%.2f", d);
        break;
    case CELL_SECONDS:
        v = *(const int64_t *)(const void *)p;
        if (l->req.waits == 0)
            snprintf(buf, size, "-");
        else
            seconds_text(buf, size, v);
        break;
    }
}

static const struct row econ_rows[] = {
    {"GPUs", CELL_GPUS, LINE_FIELD(econ.gpus), false},
    {"GPU-hours available", CELL_HOURS, LINE_FIELD(econ.gpu_hours_available), false},
    {"GPU-hours rented", CELL_HOURS, LINE_FIELD(econ.gpu_hours_rented), false},
    {"utilization", CELL_PERCENT, LINE_FIELD(econ.utilization), false},
    {"on-demand list price /GPU-h", CELL_MONEY, LINE_FIELD(on_demand_hourly), true},
    {"list price billed /GPU-h", CELL_MONEY, LINE_FIELD(list_hourly), false},
    {"realized price /GPU-h", CELL_MONEY, LINE_FIELD(econ.realized_hourly), false},
    {"list revenue", CELL_MONEY, LINE_FIELD(econ.list_revenue), false},
    {"discounts", CELL_MONEY, LINE_FIELD(econ.discounts), false},
    {"revenue", CELL_MONEY, LINE_FIELD(econ.revenue), false},
    {"depreciation", CELL_MONEY, LINE_FIELD(econ.depreciation), false},
    {"power", CELL_MONEY, LINE_FIELD(econ.power_cost), false},
    {"hosting", CELL_MONEY, LINE_FIELD(econ.hosting_cost), false},
    {"opex /available GPU-h", CELL_MONEY, LINE_FIELD(opex_hourly), false},
    {"gross margin", CELL_PERCENT, LINE_FIELD(econ.gross_margin), false},
    {"payback years (cash)", CELL_YEARS, LINE_FIELD(econ.payback_years), false},
    {"payback years (revenue)", CELL_YEARS, LINE_FIELD(payback_years_revenue), false},
};

static const struct row request_rows[] = {
    {"requests", CELL_COUNT, LINE_FIELD(req.submitted), false},
    {"  placed at once", CELL_COUNT, LINE_FIELD(req.placed_at_once), false},
    {"  queued", CELL_COUNT, LINE_FIELD(req.queued), false},
    {"    placed from the queue", CELL_COUNT, LINE_FIELD(req.placed_from_queue), false},
    {"    gave up waiting", CELL_COUNT, LINE_FIELD(req.gave_up), false},
    {"    still queued at the end", CELL_COUNT, LINE_FIELD(req.pending_at_end), false},
    {"    wait p50 (s)", CELL_SECONDS, LINE_FIELD(req.wait_p50), false},
    {"    wait p90 (s)", CELL_SECONDS, LINE_FIELD(req.wait_p90), false},
    {"    wait p99 (s)", CELL_SECONDS, LINE_FIELD(req.wait_p99), false},
    {"  rejected: no capacity", CELL_COUNT, LINE_FIELD(req.rejected_capacity), false},
    {"  rejected: funds", CELL_COUNT, LINE_FIELD(req.rejected_funds), false},
    {"  rejected: other", CELL_COUNT, LINE_FIELD(req.rejected_invalid), false},
    {"  coupon refused, asked again", CELL_COUNT, LINE_FIELD(req.coupon_refused), false},
    {"preempted", CELL_COUNT, LINE_FIELD(req.preempted), false},
};

#define LABEL_WIDTH 30

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

static int column_width(const struct report *r)
{
    int w = 12;

    for (uint32_t i = 0; i < r->line_count; i++) {
        int n = (int)strlen(r->lines[i].gpu_model) + 2;

        if (n > w)
            w = n;
    }
    return w;
}

static void write_row(FILE *f, const struct report *r, const struct row *row, int width)
{
    char buf[64];

    fprintf(f, "%-*s", LABEL_WIDTH, row->label);
    for (uint32_t i = 0; i < r->line_count; i++) {
        cell(buf, sizeof(buf), row, &r->lines[i]);
        fprintf(f, "%*s", width, buf);
    }
    fputc('\n', f);
}

int report_write_text(FILE *f, const struct report *r)
{
    char from[TIME_STR_MAX], to[TIME_STR_MAX];
    int width = column_width(r);
    const struct report_line *total = r->line_count ? &r->lines[r->line_count - 1] : NULL;

    fprintf(f, "gpurent simulate %s\n", r->scenario);
    fprintf(f, "period   %s .. %s (%u day%s), seed %llu\n", time_format(from, r->start),
            time_format(to, r->end), r->days, plural(r->days), (unsigned long long)r->seed);
    fprintf(f, "fleet    %u host%s, %u GPU%s; %u tenant%s; demand from a %s\n", r->hosts,
            plural(r->hosts), r->gpus, plural(r->gpus), r->tenants, plural(r->tenants), r->demand);
    fprintf(f, "engine   settles every %lld s; agents start workloads %lld s after placement\n",
            (long long)(r->settle_interval / USEC_PER_SEC),
            (long long)(r->start_delay / USEC_PER_SEC));
    fputc('\n', f);
    fprintf(f, "%-*s", LABEL_WIDTH, "");
    for (uint32_t i = 0; i < r->line_count; i++)
        fprintf(f, "%*s", width, r->lines[i].gpu_model);
    fputc('\n', f);
    for (size_t i = 0; i < ARRAY_SIZE(econ_rows); i++)
        write_row(f, r, &econ_rows[i], width);
    fputc('\n', f);
    for (size_t i = 0; i < ARRAY_SIZE(request_rows); i++)
        write_row(f, r, &request_rows[i], width);
    for (int reason = 1; total != NULL && reason < END_REASON_COUNT; reason++) {
        char label[64];
        struct row row;

        if (total->req.ended[reason] == 0)
            continue;
        snprintf(label, sizeof(label), "ended: %s", end_reason_name((enum end_reason)reason));
        row = (struct row){label, CELL_COUNT,
                           LINE_FIELD(req.ended) + (size_t)reason * sizeof(uint64_t), false};
        write_row(f, r, &row, width);
    }
    if (r->agent_reports_rejected > 0)
        fprintf(f, "\nagent reports refused by the engine: %llu of %llu\n",
                (unsigned long long)r->agent_reports_rejected,
                (unsigned long long)r->agent_reports);
    if (r->first_problem[0] != '\0')
        fprintf(f, "first problem: %s\n", r->first_problem);
    return ferror(f) ? ERR_IO : 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

static double round_to(double x, int decimals)
{
    double scale = pow(10, decimals);

    return floor(x * scale + 0.5) / scale;
}

static json_t *money_json(int64_t v)
{
    char buf[MONEY_STR_MAX];

    return json_string(money_format(buf, v));
}

static json_t *seconds_json(const struct report_requests *q, int64_t us)
{
    if (q->waits == 0)
        return json_null();
    return json_integer((us + USEC_PER_SEC / 2) / USEC_PER_SEC);
}

static json_t *requests_json(const struct report_requests *q)
{
    json_t *o = json_object(), *wait = json_object(), *ended = json_object();

    json_object_set_new(o, "submitted", json_integer((json_int_t)q->submitted));
    json_object_set_new(o, "placed_at_once", json_integer((json_int_t)q->placed_at_once));
    json_object_set_new(o, "queued", json_integer((json_int_t)q->queued));
    json_object_set_new(o, "placed_from_queue", json_integer((json_int_t)q->placed_from_queue));
    json_object_set_new(o, "gave_up", json_integer((json_int_t)q->gave_up));
    json_object_set_new(o, "pending_at_end", json_integer((json_int_t)q->pending_at_end));
    json_object_set_new(wait, "samples", json_integer((json_int_t)q->waits));
    json_object_set_new(wait, "p50", seconds_json(q, q->wait_p50));
    json_object_set_new(wait, "p90", seconds_json(q, q->wait_p90));
    json_object_set_new(wait, "p99", seconds_json(q, q->wait_p99));
    json_object_set_new(wait, "max", seconds_json(q, q->wait_max));
    json_object_set_new(o, "wait_seconds", wait);
    json_object_set_new(o, "rejected_capacity", json_integer((json_int_t)q->rejected_capacity));
    json_object_set_new(o, "rejected_funds", json_integer((json_int_t)q->rejected_funds));
    json_object_set_new(o, "rejected_other", json_integer((json_int_t)q->rejected_invalid));
    json_object_set_new(o, "coupon_refused", json_integer((json_int_t)q->coupon_refused));
    json_object_set_new(o, "preempted", json_integer((json_int_t)q->preempted));
    for (int r = 1; r < END_REASON_COUNT; r++)
        json_object_set_new(ended, end_reason_name((enum end_reason)r),
                            json_integer((json_int_t)q->ended[r]));
    json_object_set_new(o, "ended", ended);
    return o;
}

static json_t *years_json(double y)
{
    return y < 0 ? json_null() : json_real(round_to(y, 4));
}

static json_t *line_json(const struct report_line *l)
{
    json_t *o = json_object();
    const struct econ_line *e = &l->econ;

    if (!l->is_total)
        json_object_set_new(o, "gpu_model", json_string(l->gpu_model));
    json_object_set_new(o, "gpus", json_integer(e->gpus));
    json_object_set_new(o, "gpu_hours_available", json_real(round_to(e->gpu_hours_available, 3)));
    json_object_set_new(o, "gpu_hours_rented", json_real(round_to(e->gpu_hours_rented, 3)));
    json_object_set_new(o, "utilization", json_real(round_to(e->utilization, 6)));
    if (!l->is_total)
        json_object_set_new(o, "on_demand_hourly", money_json(l->on_demand_hourly));
    json_object_set_new(o, "list_hourly", money_json(l->list_hourly));
    json_object_set_new(o, "realized_hourly", money_json(e->realized_hourly));
    json_object_set_new(o, "list_revenue", money_json(e->list_revenue));
    json_object_set_new(o, "discounts", money_json(e->discounts));
    json_object_set_new(o, "revenue", money_json(e->revenue));
    json_object_set_new(o, "depreciation", money_json(e->depreciation));
    json_object_set_new(o, "power_cost", money_json(e->power_cost));
    json_object_set_new(o, "hosting_cost", money_json(e->hosting_cost));
    json_object_set_new(o, "opex_hourly", money_json(l->opex_hourly));
    json_object_set_new(o, "purchase_price", money_json(e->purchase_price));
    json_object_set_new(o, "gross_margin", json_real(round_to(e->gross_margin, 6)));
    json_object_set_new(o, "payback_years", years_json(e->payback_years));
    json_object_set_new(o, "payback_years_revenue", years_json(l->payback_years_revenue));
    json_object_set_new(o, "requests", requests_json(&l->req));
    return o;
}

int report_write_json(FILE *f, const struct report *r)
{
    char t[TIME_STR_MAX];
    json_t *root = json_object(), *models = json_array();
    int rc = 0;

    if (root == NULL || models == NULL) {
        json_decref(root);
        json_decref(models);
        return ERR_NOMEM;
    }
    json_object_set_new(root, "scenario", json_string(r->scenario));
    json_object_set_new(root, "start", json_string(time_format(t, r->start)));
    json_object_set_new(root, "end", json_string(time_format(t, r->end)));
    json_object_set_new(root, "days", json_integer(r->days));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(root, "demand", json_string(r->demand));
    json_object_set_new(root, "hosts", json_integer(r->hosts));
    json_object_set_new(root, "gpus", json_integer(r->gpus));
    json_object_set_new(root, "tenants", json_integer(r->tenants));
    json_object_set_new(root, "settle_interval_seconds",
                        json_integer(r->settle_interval / USEC_PER_SEC));
    json_object_set_new(root, "agent_start_delay_seconds",
                        json_integer(r->start_delay / USEC_PER_SEC));
    for (uint32_t i = 0; i + 1 < r->line_count; i++)
        json_array_append_new(models, line_json(&r->lines[i]));
    json_object_set_new(root, "models", models);
    if (r->line_count > 0)
        json_object_set_new(root, "total", line_json(&r->lines[r->line_count - 1]));
    json_object_set_new(root, "agent_reports", json_integer((json_int_t)r->agent_reports));
    json_object_set_new(root, "agent_reports_rejected",
                        json_integer((json_int_t)r->agent_reports_rejected));
    json_object_set_new(root, "first_problem",
                        r->first_problem[0] ? json_string(r->first_problem) : json_null());
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) != 0 ||
        fputc('\n', f) == EOF)
        rc = ERR_IO;
    json_decref(root);
    return rc;
}
