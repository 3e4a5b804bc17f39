/*
 * cmd_economics.c - `gpurent economics` (the fleet's period report) and `gpurent whatif`
 * (the business case of one GPU from typed-in figures), both computed by the server.
 */
#include "../common/compat.h"

#include <stdio.h>
#include <string.h>

#include "../engine/money.h"
#include "cli_internal.h"
#include "table.h"

#define MODELS_MAX (TABLE_COLS_MAX - 2) /* metric name + total */

enum metric_kind { M_COUNT, M_HOURS, M_MONEY, M_RATIO, M_YEARS };

struct metric {
    const char *key;   /* the field of the reply */
    const char *label; /* the row's name */
    enum metric_kind kind;
};

static const struct metric metrics[] = {
    {"gpus", "GPUs", M_COUNT},
    {"gpu_hours_available", "GPU-hours available", M_HOURS},
    {"gpu_hours_rented", "GPU-hours rented", M_HOURS},
    {"utilization", "utilization", M_RATIO},
    {"list_revenue", "list revenue", M_MONEY},
    {"discounts", "discounts", M_MONEY},
    {"revenue", "revenue", M_MONEY},
    {"realized_hourly", "realized price /GPU-h", M_MONEY},
    {"depreciation", "depreciation", M_MONEY},
    {"power_cost", "power", M_MONEY},
    {"hosting_cost", "hosting", M_MONEY},
    {"gross_margin", "gross margin", M_RATIO},
    {"payback_years", "payback years", M_YEARS},
};

static const char *metric_text(const struct metric *m, const json_t *v, char *buf)
{
    if (!json_is_number(v))
        return cli_text(v, buf); /* money strings, or null: "-" */
    switch (m->kind) {
    case M_HOURS:
        snprintf(buf, CLI_TEXT_MAX, "%.2f", json_number_value(v));
        return buf;
    case M_RATIO:
        return cli_percent(v, buf);
    case M_YEARS:
        snprintf(buf, CLI_TEXT_MAX, "%.2f", json_number_value(v));
        return buf;
    case M_COUNT:
    case M_MONEY:
        break;
    }
    return cli_text(v, buf);
}

static int economics(struct cli *cli)
{
    const struct cli_value *from = cli_opt(cli, "--from"), *to = cli_opt(cli, "--to");
    const char *heads[TABLE_COLS_MAX + 1] = {""};
    const json_t *cols[TABLE_COLS_MAX] = {NULL};
    char titles[TABLE_COLS_MAX][CLI_TEXT_MAX];
    char path[CLI_PATH_MAX] = "/v1/economics", b[CLI_TEXT_MAX];
    json_t *reply = NULL, *models, *m, *total;
    const char *key;
    size_t ncols = 1, i;
    struct table t;
    int rc = 0;

    if (from->set)
        rc = cli_query_add(cli, path, "from", from->text);
    if (rc == 0 && to->set)
        rc = cli_query_add(cli, path, "to", to->text);
    if (rc == 0)
        rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    /* per model: an array of objects with gpu_model, or an object keyed by model */
    models = json_object_get(reply, "models");
    if (models == NULL)
        models = json_object_get(reply, "data");
    if (json_is_array(models)) {
        json_array_foreach(models, i, m)
        {
            if (ncols > MODELS_MAX)
                break;
            heads[ncols] = json_string_value(json_object_get(m, "gpu_model"));
            if (heads[ncols] == NULL)
                heads[ncols] = "?";
            cols[ncols++] = m;
        }
    } else if (json_is_object(models)) {
        json_object_foreach(models, key, m)
        {
            if (ncols > MODELS_MAX)
                break;
            heads[ncols] = key;
            cols[ncols++] = m;
        }
    }
    total = json_object_get(reply, "total");
    if (json_is_object(total)) {
        heads[ncols] = "total";
        cols[ncols++] = total;
    } else if (ncols == 1) {
        heads[ncols] = "total"; /* a flat reply: the fields at the top */
        cols[ncols++] = reply;
    }
    for (i = 1; i < ncols; i++) {
        /* right-align the figures: a '>' title (the table borrows it) */
        snprintf(titles[i], sizeof(titles[i]), ">%s", heads[i]);
        heads[i] = titles[i];
    }
    heads[ncols] = NULL;
    if (cli_field(reply, "from", b) != NULL) {
        printf("economics from %s", b);
        if (cli_field(reply, "to", b) != NULL)
            printf(" to %s", b);
        printf("\n\n");
    }
    table_init(&t, heads);
    for (size_t r = 0; r < ARRAY_SIZE(metrics); r++) {
        char cells[TABLE_COLS_MAX][CLI_TEXT_MAX];
        const char *row[TABLE_COLS_MAX];

        row[0] = metrics[r].label;
        for (i = 1; i < ncols; i++)
            row[i] = metric_text(&metrics[r], json_object_get(cols[i], metrics[r].key), cells[i]);
        table_add(&t, row);
    }
    if (table_print(&t, stdout) != 0)
        rc = CLI_EXIT_FAIL;
    table_release(&t);
    json_decref(reply);
    return rc;
}

static int whatif(struct cli *cli)
{
    static const struct {
        const char *option, *field;
    } inputs[] = {
        {"--card-price", "card_price"},           {"--hourly-price", "hourly_price"},
        {"--utilization", "utilization"},         {"--years", "depreciation_years"},
        {"--salvage", "salvage_fraction"},        {"--opex-hourly", "opex_hourly"},
        {"--power-watts", "power_watts"},         {"--pue", "pue"},
        {"--kwh-price", "electricity_kwh_price"}, {"--hosting-monthly", "hosting_monthly"},
    };
    static const struct metric outputs[] = {
        {"revenue_yearly", "revenue / year:", M_MONEY},
        {"depreciation_yearly", "depreciation / year:", M_MONEY},
        {"opex_yearly", "opex / year:", M_MONEY},
        {"gross_profit_yearly", "gross profit / year:", M_MONEY},
        {"gross_margin", "gross margin:", M_RATIO},
        {"payback_years_revenue", "payback (revenue):", M_YEARS},
        {"payback_years_cash", "payback (cash):", M_YEARS},
        {"breakeven_utilization", "breakeven utilization:", M_RATIO},
    };
    char b[CLI_TEXT_MAX];
    json_t *body = json_object(), *reply = NULL;
    int rc;

    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!cli_opt(cli, inputs[i].option)->set) {
            json_decref(body);
            return cli_usage_error(cli, "%s is required", inputs[i].option);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
        if (cli_opt(cli, inputs[i].option)->set)
            json_object_set_new(body, inputs[i].field, cli_opt_json(cli, inputs[i].option));
    }
    rc = cli_call(cli, "POST", "/v1/economics/what-if", body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(outputs); i++) {
            const char *s = metric_text(&outputs[i], json_object_get(reply, outputs[i].key), b);

            if (s != NULL && outputs[i].kind == M_YEARS &&
                json_is_number(json_object_get(reply, outputs[i].key)))
                strncat(b, " years", sizeof(b) - strlen(b) - 1);
            kv_print(stdout, 23, outputs[i].label, s ? s : "- (never)");
        }
    }
    json_decref(reply);
    return rc;
}

static const struct cli_option economics_options[] = {
    {"--from", OPT_TIME, "TIME", "from this date or time (default: this month's start)", 0, 0},
    {"--to", OPT_TIME, "TIME", "up to this date or time (default: now)", 0, 0},
    {0},
};

static const struct cli_option whatif_options[] = {
    {"--card-price", OPT_MONEY, "AMOUNT", "what one GPU costs to buy (required)", 0, 0},
    {"--hourly-price", OPT_MONEY, "AMOUNT", "the realized price per GPU-hour (required)", 0, 0},
    {"--utilization", OPT_NUMBER, "RATIO", "the share of hours rented, 0 to 1 (required)", 0, 1},
    {"--years", OPT_COUNT, "YEARS", "depreciation years (required)", 1, 100},
    {"--salvage", OPT_NUMBER, "RATIO", "the resale value at the end, 0 to 1", 0, 1},
    {"--opex-hourly", OPT_MONEY, "AMOUNT", "other operating cost per GPU-hour", 0, 0},
    {"--power-watts", OPT_COUNT, "WATTS", "the GPU's power draw", 0, 1000000},
    {"--pue", OPT_NUMBER, "RATIO", "the data centre's PUE, 1 to 5", 1, 5},
    {"--kwh-price", OPT_MONEY, "AMOUNT", "electricity per kWh", 0, 0},
    {"--hosting-monthly", OPT_MONEY, "AMOUNT", "hosting cost per GPU and month", 0, 0},
    {0},
};

const struct cli_command cli_economics_commands[] = {
    {
        .noun = "economics",
        .fn = economics,
        .summary = "the fleet's business: utilization, revenue, realized price, margin, payback",
        .options = economics_options,
    },
    {0},
};

static const char whatif_details[] =
    "The founding brief's figures:\n"
    "  gpurent whatif --card-price 100000 --hourly-price 7.60 --utilization 1 \\\n"
    "      --years 5 --opex-hourly 1.80\n"
    "give a payback of 1.50 years on revenue, 1.97 on cash, and a 46.3% gross margin.\n";

const struct cli_command cli_whatif_commands[] = {
    {
        .noun = "whatif",
        .fn = whatif,
        .summary = "the business case of one GPU from figures you give",
        .options = whatif_options,
        .details = whatif_details,
    },
    {0},
};
