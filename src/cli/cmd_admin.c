/*
 * cmd_admin.c - the operator's commands: tenants, credits, prices, hosts, coupons.
 */
#include "../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/money.h"
#include "cli_internal.h"
#include "table.h"

static int print_table(struct table *t)
{
    int rc = 0;

    if (table_print(t, stdout) != 0) {
        fprintf(stderr, "gpurent: out of memory\n");
        rc = CLI_EXIT_FAIL;
    }
    table_release(t);
    return rc;
}

/* ---- tenants ------------------------------------------------------------------------ */

static int tenants_create(struct cli *cli)
{
    const struct cli_value *limit = cli_opt(cli, "--credit-limit");
    char m[MONEY_STR_MAX], b[CLI_TEXT_MAX], k[CLI_TEXT_MAX * 2];
    json_t *body, *reply = NULL;
    const char *id, *key;
    int rc;

    body = json_pack("{s:s}", "name", cli->args[0]);
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (limit->set)
        json_object_set_new(body, "credit_limit", json_string(cli_money_text(limit->money, m)));
    rc = cli_call(cli, "POST", "/v1/tenants", body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    id = cli_field(reply, "id", b);
    key = json_string_value(json_object_get(reply, "api_key"));
    snprintf(k, sizeof(k), "%s", key ? key : "-");
    if (cli->quiet) {
        printf("%s %s\n", id ? id : "-", k);
    } else {
        printf("created tenant %s (%s)\n", id ? id : "?", cli->args[0]);
        printf("api key: %s\n", k);
        printf("the key is shown only now: give it to the tenant (GPURENT_API_KEY)\n");
    }
    json_decref(reply);
    return 0;
}

static int tenants_ls(struct cli *cli)
{
    static const char *const heads[] = {
        "ID", "NAME", ">BALANCE", ">CREDIT LIMIT", ">MONTH BUDGET", ">BURN/H", ">LIVE", NULL};
    json_t *data = NULL, *o;
    struct table t;
    size_t i;
    int rc;

    rc = cli_list(cli, "/v1/tenants", &data);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(data);
        return cli_print_raw(cli);
    }
    table_init(&t, heads);
    json_array_foreach(data, i, o)
    {
        char b[7][CLI_TEXT_MAX];
        const char *row[] = {cli_field(o, "id", b[0]),
                             cli_field(o, "name", b[1]),
                             cli_field(o, "balance", b[2]),
                             cli_field(o, "credit_limit", b[3]),
                             cli_field(o, "monthly_budget", b[4]),
                             cli_field(o, "hourly_burn", b[5]),
                             cli_field(o, "live_rentals", b[6])};

        if (cli->quiet)
            printf("%s\n", row[0] ? row[0] : "-");
        else
            table_add(&t, row);
    }
    json_decref(data);
    if (cli->quiet) {
        table_release(&t);
        return 0;
    }
    return print_table(&t);
}

static int tenants_show(struct cli *cli)
{
    char path[CLI_PATH_MAX], b[CLI_TEXT_MAX];
    json_t *reply = NULL;
    int rc;

    rc = cli_path(cli, path, "/v1/tenants/", cli->args[0], "");
    if (rc == 0)
        rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else {
        kv_print(stdout, 15, "id:", cli_field(reply, "id", b));
        kv_print(stdout, 15, "name:", cli_field(reply, "name", b));
        kv_print(stdout, 15, "balance:", cli_field(reply, "balance", b));
        kv_print(stdout, 15, "credit limit:", cli_field(reply, "credit_limit", b));
        kv_print(stdout, 15, "monthly budget:", cli_field(reply, "monthly_budget", b));
        kv_print(stdout, 15, "month spent:", cli_field(reply, "month_spent", b));
        kv_print(stdout, 15, "burn rate /h:", cli_field(reply, "hourly_burn", b));
        kv_print(stdout, 15, "live rentals:", cli_field(reply, "live_rentals", b));
    }
    json_decref(reply);
    return rc;
}

/* `tenants set ID`: the tenant's credit limit and monthly budget (PATCH /v1/tenants/{id}). */
static int tenants_set(struct cli *cli)
{
    const struct cli_value *limit = cli_opt(cli, "--credit-limit"),
                           *budget = cli_opt(cli, "--monthly-budget"),
                           *no_budget = cli_opt(cli, "--no-monthly-budget");
    char path[CLI_PATH_MAX], m[MONEY_STR_MAX], b[CLI_TEXT_MAX], c[CLI_TEXT_MAX];
    json_t *body, *reply = NULL;
    int rc;

    if (!limit->set && !budget->set && !no_budget->set)
        return cli_usage_error(
            cli, "nothing to change: give --credit-limit, --monthly-budget or --no-monthly-budget");
    if (budget->set && no_budget->set)
        return cli_usage_error(cli, "give one of --monthly-budget and --no-monthly-budget");
    rc = cli_path(cli, path, "/v1/tenants/", cli->args[0], "");
    if (rc != 0)
        return rc;
    body = json_object();
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (limit->set)
        json_object_set_new(body, "credit_limit", json_string(cli_money_text(limit->money, m)));
    if (budget->set)
        json_object_set_new(body, "monthly_budget", json_string(cli_money_text(budget->money, m)));
    if (no_budget->set)
        json_object_set_new(body, "monthly_budget", json_null());
    rc = cli_call(cli, "PATCH", path, body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json)
        rc = cli_print_raw(cli);
    else if (cli->quiet)
        printf("%s\n", cli->args[0]);
    else
        printf("tenant %s: credit limit %s, monthly budget %s\n", cli->args[0],
               cli_field(reply, "credit_limit", b) ? b : "-",
               cli_field(reply, "monthly_budget", c) ? c : "none");
    json_decref(reply);
    return rc;
}

/* ---- credits ------------------------------------------------------------------------ */

static int credits_add(struct cli *cli)
{
    const struct cli_value *ref = cli_opt(cli, "--reference"),
                           *idem = cli_opt(cli, "--idempotency-key");
    char path[CLI_PATH_MAX], m[MONEY_STR_MAX], b[CLI_TEXT_MAX];
    json_t *body = NULL, *reply = NULL;
    int64_t amount;
    int rc;

    if (money_parse(&amount, cli->args[1]) != 0 || amount <= 0)
        return cli_usage_error(cli, "AMOUNT: expected a positive amount like 1000.00, got '%s'",
                               cli->args[1]);
    rc = cli_path(cli, path, "/v1/tenants/", cli->args[0], "/credits");
    if (rc != 0)
        return rc;
    body = json_pack("{s:s,s:s}", "amount", cli_money_text(amount, m), "reference",
                     ref->set ? ref->text : "gpurent credits add");
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    rc = cli_call(cli, "POST", path, body, idem->set ? idem->text : NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else if (!cli->quiet) {
        printf("credited %s to %s", m, cli->args[0]);
        if (cli_field(reply, "balance", b) != NULL)
            printf(": balance %s", b);
        printf("\n");
    }
    json_decref(reply);
    return rc;
}

/* `credits adjust TENANT AMOUNT`: an operator's correction, a credit (or with --charge a
 * charge), posted in the open month; --corrects names the closed month it is about. */
static int credits_adjust(struct cli *cli)
{
    const struct cli_value *reason = cli_opt(cli, "--reason"), *charge = cli_opt(cli, "--charge"),
                           *rental = cli_opt(cli, "--rental"),
                           *corrects = cli_opt(cli, "--corrects"),
                           *idem = cli_opt(cli, "--idempotency-key");
    char path[CLI_PATH_MAX], m[MONEY_STR_MAX], b[CLI_TEXT_MAX];
    json_t *body = NULL, *reply = NULL;
    int64_t amount;
    int rc;

    if (money_parse(&amount, cli->args[1]) != 0 || amount <= 0)
        return cli_usage_error(cli, "AMOUNT: expected a positive amount like 2.50, got '%s'",
                               cli->args[1]);
    if (!reason->set)
        return cli_usage_error(cli, "--reason is required (it is shown on the statement)");
    rc = cli_path(cli, path, "/v1/tenants/", cli->args[0], "/adjustments");
    if (rc != 0)
        return rc;
    if (charge->set)
        amount = -amount;
    body = json_pack("{s:s,s:s}", "amount", cli_money_text(amount, m), "reason", reason->text);
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (rental->set)
        json_object_set_new(body, "rental_id", json_string(rental->text));
    if (corrects->set)
        json_object_set_new(body, "corrects", json_string(corrects->text));
    rc = cli_call(cli, "POST", path, body, idem->set ? idem->text : NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else if (!cli->quiet) {
        printf("%s %s to %s", charge->set ? "charged" : "credited", m + (amount < 0), cli->args[0]);
        if (corrects->set)
            printf(" for %s", corrects->text);
        if (cli_field(reply, "balance", b) != NULL)
            printf(": balance %s", b);
        printf("\n");
    }
    json_decref(reply);
    return rc;
}

/* ---- prices ------------------------------------------------------------------------- */

static int prices_set(struct cli *cli)
{
    static const char *const pkgs[] = {"day", "week", "month"};
    const struct cli_value *od = cli_opt(cli, "--on-demand"), *spot = cli_opt(cli, "--spot-floor");
    char path[CLI_PATH_MAX], m[MONEY_STR_MAX];
    json_t *body = NULL, *packages = NULL, *reply = NULL;
    int rc;

    if (!od->set)
        return cli_usage_error(cli, "--on-demand is required");
    rc = cli_path(cli, path, "/v1/prices/", cli->args[0], "");
    if (rc != 0)
        return rc;
    body = json_pack("{s:s}", "on_demand_hourly", cli_money_text(od->money, m));
    packages = json_object();
    if (body == NULL || packages == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if (spot->set)
        json_object_set_new(body, "spot_floor_hourly", json_string(cli_money_text(spot->money, m)));
    for (size_t i = 0; i < ARRAY_SIZE(pkgs); i++) {
        char opt[16];
        const struct cli_value *v;

        snprintf(opt, sizeof(opt), "--%s", pkgs[i]);
        v = cli_opt(cli, opt);
        if (v->set)
            json_object_set_new(packages, pkgs[i], json_string(cli_money_text(v->money, m)));
    }
    if (json_object_size(packages) > 0)
        json_object_set(body, "packages", packages);
    rc = cli_call(cli, "PUT", path, body, NULL, &reply);
    if (rc != 0)
        goto out;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else if (!cli->quiet) {
        const char *key;
        json_t *v;

        printf("prices of %s: on-demand %s /GPU-h", cli->args[0], cli_money_text(od->money, m));
        if (spot->set)
            printf(", spot from %s /GPU-h", cli_money_text(spot->money, m));
        json_object_foreach(packages, key, v)
        {
            printf(", %s %s", key, json_string_value(v));
        }
        printf("\n");
    }
out:
    json_decref(body);
    json_decref(packages);
    json_decref(reply);
    return rc;
}

static int prices_ls(struct cli *cli)
{
    static const char *const heads[] = {"MODEL", ">ON-DEMAND", ">SPOT FLOOR", ">DAY",
                                        ">WEEK", ">MONTH",     NULL};
    json_t *data = NULL, *o;
    struct table t;
    size_t i;
    int rc;

    rc = cli_list(cli, "/v1/prices", &data);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(data);
        return cli_print_raw(cli);
    }
    table_init(&t, heads);
    json_array_foreach(data, i, o)
    {
        const json_t *pk = json_object_get(o, "packages");
        char b[6][CLI_TEXT_MAX];
        const char *row[] = {cli_field(o, "gpu_model", b[0]),
                             cli_field(o, "on_demand_hourly", b[1]),
                             cli_field(o, "spot_floor_hourly", b[2]),
                             cli_field(pk, "day", b[3]),
                             cli_field(pk, "week", b[4]),
                             cli_field(pk, "month", b[5])};

        if (cli->quiet)
            printf("%s\n", row[0] ? row[0] : "-");
        else
            table_add(&t, row);
    }
    json_decref(data);
    if (cli->quiet) {
        table_release(&t);
        return 0;
    }
    return print_table(&t);
}

/* ---- hosts -------------------------------------------------------------------------- */

/* A host's cost basis on one line: "800000.00 bought 2026-11-25T..., 5 years, 3200 W, PUE 1.3,
 * 0.60 /kWh, hosting 8700.00 /month"; "not set" without one. */
static void print_cost_basis(const json_t *c)
{
    char p[CLI_TEXT_MAX], at[CLI_TEXT_MAX], y[CLI_TEXT_MAX], w[CLI_TEXT_MAX], pue[CLI_TEXT_MAX],
        kwh[CLI_TEXT_MAX], hm[CLI_TEXT_MAX], sv[CLI_TEXT_MAX];

    if (!json_is_object(c)) {
        printf("not set ('gpurent hosts cost HOST_ID ...')\n");
        return;
    }
    printf("%s bought %s, %s years", cli_field(c, "purchase_price", p) ? p : "-",
           cli_field(c, "purchased_at", at) ? at : "-",
           cli_field(c, "depreciation_years", y) ? y : "-");
    if (json_is_number(json_object_get(c, "salvage_fraction")) &&
        json_number_value(json_object_get(c, "salvage_fraction")) > 0)
        printf(" (salvage %s)", cli_percent(json_object_get(c, "salvage_fraction"), sv));
    printf(", %s W, PUE %s, %s /kWh, hosting %s /month\n", cli_field(c, "power_watts", w) ? w : "-",
           cli_field(c, "pue", pue) ? pue : "-",
           cli_field(c, "electricity_kwh_price", kwh) ? kwh : "-",
           cli_field(c, "hosting_monthly", hm) ? hm : "-");
}

static int hosts_ls(struct cli *cli)
{
    static const char *const heads[] = {"ID",    "HOSTNAME", "STATE",          "MODEL",
                                        ">GPUS", ">FREE",    "LAST HEARTBEAT", NULL};
    json_t *data = NULL, *h;
    struct table t;
    size_t i;
    int rc;

    rc = cli_list(cli, "/v1/hosts", &data);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(data);
        return cli_print_raw(cli);
    }
    table_init(&t, heads);
    json_array_foreach(data, i, h)
    {
        const json_t *gpus = json_object_get(h, "gpus");
        size_t free_n = 0, j;
        char b[7][CLI_TEXT_MAX];
        const char *row[7];
        json_t *g;

        json_array_foreach(gpus, j, g)
        {
            const char *st = json_string_value(json_object_get(g, "state"));

            free_n += st != NULL && strcmp(st, "free") == 0;
        }
        row[0] = cli_field(h, "id", b[0]);
        row[1] = cli_field(h, "hostname", b[1]);
        row[2] = cli_field(h, "state", b[2]);
        row[3] = cli_field(h, "gpu_model", b[3]);
        if (row[3] == NULL)
            row[3] = cli_field(json_array_get(gpus, 0), "model", b[3]);
        if (json_is_integer(json_object_get(h, "gpu_count")))
            cli_field(h, "gpu_count", b[4]);
        else
            snprintf(b[4], sizeof(b[4]), "%zu", json_array_size(gpus));
        if (json_is_integer(json_object_get(h, "free_gpus")))
            cli_field(h, "free_gpus", b[5]);
        else
            snprintf(b[5], sizeof(b[5]), "%zu", free_n);
        row[4] = b[4];
        row[5] = b[5];
        row[6] = cli_field(h, "last_heartbeat_at", b[6]);
        if (cli->quiet)
            printf("%s\n", row[0] ? row[0] : "-");
        else
            table_add(&t, row);
    }
    json_decref(data);
    if (cli->quiet) {
        table_release(&t);
        return 0;
    }
    return print_table(&t);
}

static int hosts_show(struct cli *cli)
{
    static const char *const heads[] = {">GPU",   "UUID",  "MODEL",  ">MEMORY", ">ISLAND", "STATE",
                                        "RENTAL", ">UTIL", ">POWER", ">TEMP",   NULL};
    char path[CLI_PATH_MAX], b[CLI_TEXT_MAX];
    json_t *reply = NULL, *g;
    struct table t;
    size_t i;
    int rc;

    rc = cli_path(cli, path, "/v1/hosts/", cli->args[0], "");
    if (rc == 0)
        rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    kv_print(stdout, 15, "id:", cli_field(reply, "id", b));
    kv_print(stdout, 15, "hostname:", cli_field(reply, "hostname", b));
    kv_print(stdout, 15, "state:", cli_field(reply, "state", b));
    kv_print(stdout, 15, "last heartbeat:", cli_field(reply, "last_heartbeat_at", b));
    printf("%-15s ", "cost basis:");
    print_cost_basis(json_object_get(reply, "cost"));
    printf("\n");
    table_init(&t, heads);
    json_array_foreach(json_object_get(reply, "gpus"), i, g)
    {
        const json_t *tel = json_object_get(g, "telemetry");
        char c[10][CLI_TEXT_MAX];
        const char *row[10];

        row[0] = cli_field(g, "index", c[0]);
        row[1] = cli_field(g, "uuid", c[1]);
        row[2] = cli_field(g, "model", c[2]);
        row[3] = cli_field(g, "memory_mib", c[3]);
        if (row[3] != NULL) {
            snprintf(c[3], sizeof(c[3]), "%s MiB", cli_field(g, "memory_mib", c[9]));
            row[3] = c[3];
        }
        row[4] = cli_field(g, "nvlink_island", c[4]);
        row[5] = cli_field(g, "state", c[5]);
        row[6] = cli_field(g, "rental_id", c[6]);
        row[7] = cli_field(tel, "util_pct", c[7]);
        if (row[7] != NULL) {
            strncat(c[7], "%", sizeof(c[7]) - strlen(c[7]) - 1);
            row[7] = c[7];
        }
        row[8] = cli_field(tel, "power_w", c[8]);
        if (row[8] != NULL) {
            strncat(c[8], " W", sizeof(c[8]) - strlen(c[8]) - 1);
            row[8] = c[8];
        }
        row[9] = cli_field(tel, "temp_c", c[9]);
        if (row[9] != NULL) {
            strncat(c[9], " C", sizeof(c[9]) - strlen(c[9]) - 1);
            row[9] = c[9];
        }
        table_add(&t, row);
    }
    json_decref(reply);
    return print_table(&t);
}

static int hosts_drain_common(struct cli *cli, bool drain)
{
    char path[CLI_PATH_MAX], b[CLI_TEXT_MAX];
    json_t *reply = NULL;
    int rc;

    rc = cli_path(cli, path, "/v1/hosts/", cli->args[0], drain ? "/drain" : "/undrain");
    if (rc == 0)
        rc = cli_call(cli, "POST", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json)
        rc = cli_print_raw(cli);
    else if (!cli->quiet)
        printf("%s %s (%s): %s\n", drain ? "drained" : "undrained", cli->args[0],
               cli_field(reply, "state", b) ? b : "?",
               drain ? "no new rentals land on it; its rentals run on"
                     : "new rentals may land on it again");
    json_decref(reply);
    return rc;
}

static int hosts_drain(struct cli *cli)
{
    return hosts_drain_common(cli, true);
}

static int hosts_undrain(struct cli *cli)
{
    return hosts_drain_common(cli, false);
}

/* `hosts cost ID`: the host's cost basis, which the economics are computed from
 * (PUT /v1/hosts/{id}/cost). */
static int hosts_cost(struct cli *cli)
{
    static const struct {
        const char *option, *field;
    } inputs[] = {
        {"--purchase-price", "purchase_price"},   {"--purchased-at", "purchased_at"},
        {"--years", "depreciation_years"},        {"--salvage", "salvage_fraction"},
        {"--power-watts", "power_watts"},         {"--pue", "pue"},
        {"--kwh-price", "electricity_kwh_price"}, {"--hosting-monthly", "hosting_monthly"},
    };
    char path[CLI_PATH_MAX];
    json_t *body, *reply = NULL;
    int rc;

    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
        if (strcmp(inputs[i].option, "--salvage") != 0 && !cli_opt(cli, inputs[i].option)->set)
            return cli_usage_error(cli, "%s is required", inputs[i].option);
    }
    rc = cli_path(cli, path, "/v1/hosts/", cli->args[0], "/cost");
    if (rc != 0)
        return rc;
    body = json_object();
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
        if (cli_opt(cli, inputs[i].option)->set)
            json_object_set_new(body, inputs[i].field, cli_opt_json(cli, inputs[i].option));
    }
    rc = cli_call(cli, "PUT", path, body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else if (cli->quiet) {
        printf("%s\n", cli->args[0]);
    } else {
        printf("cost basis of %s: ", cli->args[0]);
        print_cost_basis(json_object_get(reply, "cost"));
    }
    json_decref(reply);
    return rc;
}

static int hosts_join_token(struct cli *cli)
{
    char b[CLI_TEXT_MAX * 4], e[CLI_TEXT_MAX];
    json_t *reply = NULL;
    const char *token;
    int rc;

    rc = cli_call(cli, "POST", "/v1/join-tokens", NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    token = json_string_value(json_object_get(reply, "token"));
    snprintf(b, sizeof(b), "%s", token ? token : "-");
    if (cli->json)
        rc = cli_print_raw(cli);
    else if (cli->quiet)
        printf("%s\n", b);
    else
        printf("join token: %s\nexpires:    %s\n(one use: a new host registers with it)\n", b,
               cli_field(reply, "expires_at", e) ? e : "-");
    json_decref(reply);
    return rc;
}

/* ---- coupons ------------------------------------------------------------------------ */

static int coupons_create(struct cli *cli)
{
    const struct cli_value *pct = cli_opt(cli, "--percent-off"),
                           *amount = cli_opt(cli, "--amount-off"),
                           *max = cli_opt(cli, "--max-redemptions"),
                           *until = cli_opt(cli, "--valid-until"), *model = cli_opt(cli, "--model"),
                           *term = cli_opt(cli, "--term"), *automatic = cli_opt(cli, "--automatic"),
                           *reusable = cli_opt(cli, "--reusable");
    char m[MONEY_STR_MAX], b[CLI_TEXT_MAX];
    json_t *body, *reply = NULL;
    int rc;

    if (pct->set == amount->set)
        return cli_usage_error(cli, "give one of --percent-off and --amount-off");
    body = json_pack("{s:s}", "code", cli->args[0]);
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (pct->set)
        json_object_set_new(body, "percent_off", cli_json_number(pct->number));
    if (amount->set)
        json_object_set_new(body, "amount_off", json_string(cli_money_text(amount->money, m)));
    if (max->set)
        json_object_set_new(body, "max_redemptions", json_integer((json_int_t)max->count));
    if (until->set)
        json_object_set_new(body, "valid_until", json_string(until->text));
    if (model->set)
        json_object_set_new(body, "gpu_model", json_string(model->text));
    if (term->set)
        json_object_set_new(body, "term", json_string(term->text));
    if (automatic->set)
        json_object_set_new(body, "automatic", json_true());
    if (reusable->set)
        json_object_set_new(body, "once_per_tenant", json_false());
    rc = cli_call(cli, "POST", "/v1/coupons", body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else if (cli->quiet) {
        printf("%s\n", cli_field(reply, "id", b) ? b : cli->args[0]);
    } else {
        printf("created %s %s", automatic->set ? "promotion" : "coupon", cli->args[0]);
        if (cli_field(reply, "id", b) != NULL)
            printf(" (%s)", b);
        if (pct->set)
            printf(": %g%% off", pct->number);
        else
            printf(": %s off", cli_money_text(amount->money, m));
        if (model->set)
            printf(" %s", model->text);
        if (term->set)
            printf(" %s", term->text);
        if (max->set)
            printf(", %llu redemptions", (unsigned long long)max->count);
        if (until->set)
            printf(", until %s", until->text);
        printf("\n");
    }
    json_decref(reply);
    return rc;
}

/* ---- the table ---------------------------------------------------------------------- */

static const struct cli_option tenants_create_options[] = {
    {"--credit-limit", OPT_MONEY, "AMOUNT", "how far below zero the balance may go (default 0)", 0,
     0},
    {0},
};

static const struct cli_option tenants_set_options[] = {
    {"--credit-limit", OPT_MONEY, "AMOUNT", "how far below zero the balance may go", 0, 0},
    {"--monthly-budget", OPT_MONEY, "AMOUNT", "cap a calendar month's spend at AMOUNT", 0, 0},
    {"--no-monthly-budget", OPT_FLAG, NULL, "remove the monthly budget (no cap)", 0, 0},
    {0},
};

static const struct cli_option hosts_cost_options[] = {
    {"--purchase-price", OPT_MONEY, "AMOUNT", "what the host cost to buy (required)", 0, 0},
    {"--purchased-at", OPT_TIME, "TIME", "when it was bought (required)", 0, 0},
    {"--years", OPT_COUNT, "YEARS", "depreciation years (required)", 1, 100},
    {"--salvage", OPT_NUMBER, "RATIO", "the resale value at the end, 0 to 1 (default 0)", 0, 1},
    {"--power-watts", OPT_COUNT, "WATTS", "the host's rated GPU power draw (required)", 0, 1000000},
    {"--pue", OPT_NUMBER, "RATIO", "the data centre's PUE, 1 to 5 (required)", 1, 5},
    {"--kwh-price", OPT_MONEY, "AMOUNT", "electricity per kWh (required)", 0, 0},
    {"--hosting-monthly", OPT_MONEY, "AMOUNT", "hosting cost of the host a month (required)", 0, 0},
    {0},
};

static const struct cli_option credits_options[] = {
    {"--reference", OPT_TEXT, "TEXT", "a note kept with the transfer (a payment reference)", 0, 0},
    {"--idempotency-key", OPT_TEXT, "KEY", "a retry with the same key credits only once", 0, 0},
    {0},
};

static const struct cli_option adjust_options[] = {
    {"--reason", OPT_TEXT, "TEXT", "why (required; shown on the tenant's statement)", 0, 0},
    {"--charge", OPT_FLAG, NULL, "charge AMOUNT to the tenant instead of crediting it", 0, 0},
    {"--rental", OPT_TEXT, "RENTAL_ID", "the tenant's rental it is about", 0, 0},
    {"--corrects", OPT_TEXT, "YYYY-MM", "the closed month it corrects", 0, 0},
    {"--idempotency-key", OPT_TEXT, "KEY", "a retry with the same key adjusts only once", 0, 0},
    {0},
};

static const struct cli_option prices_set_options[] = {
    {"--on-demand", OPT_MONEY, "AMOUNT", "the hourly price per GPU (required)", 0, 0},
    {"--spot-floor", OPT_MONEY, "AMOUNT", "the lowest spot bid per GPU-hour", 0, 0},
    {"--day", OPT_MONEY, "AMOUNT", "a day package, per GPU", 0, 0},
    {"--week", OPT_MONEY, "AMOUNT", "a week package, per GPU", 0, 0},
    {"--month", OPT_MONEY, "AMOUNT", "a month package, per GPU", 0, 0},
    {0},
};

static const struct cli_option coupons_options[] = {
    {"--percent-off", OPT_NUMBER, "PCT", "a percent discount (0.01 to 100)", 0.01, 100},
    {"--amount-off", OPT_MONEY, "AMOUNT", "an amount off a rental", 0, 0},
    {"--max-redemptions", OPT_COUNT, "N", "how many times it can be used", 1, 1e9},
    {"--valid-until", OPT_TIME, "TIME", "the last moment it can be used", 0, 0},
    {"--model", OPT_TEXT, "MODEL", "only for this GPU model", 0, 0},
    {"--term", OPT_TEXT, "TERM", "only for this term: on_demand, spot, day, week or month", 0, 0},
    {"--automatic", OPT_FLAG, NULL, "a promotion: applied to every matching rental, no code", 0, 0},
    {"--reusable", OPT_FLAG, NULL, "a tenant may redeem it more than once", 0, 0},
    {0},
};

const struct cli_command cli_tenants_commands[] = {
    {
        .noun = "tenants",
        .verb = "create",
        .fn = tenants_create,
        .summary = "create a tenant and its first API key",
        .details = "With -q it prints the tenant's id and its key: TENANT_ID API_KEY.\n",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .options = tenants_create_options,
    },
    {
        .noun = "tenants",
        .verb = "ls",
        .fn = tenants_ls,
        .summary = "list tenants with their balances",
    },
    {
        .noun = "tenants",
        .verb = "show",
        .fn = tenants_show,
        .summary = "one tenant",
        .args = "TENANT_ID",
        .min_args = 1,
        .max_args = 1,
    },
    {
        .noun = "tenants",
        .verb = "set",
        .fn = tenants_set,
        .summary = "change a tenant's credit limit and monthly budget",
        .args = "TENANT_ID",
        .min_args = 1,
        .max_args = 1,
        .options = tenants_set_options,
        .details =
            "A tenant's rentals end with end_reason budget when the month's spend reaches\n"
            "its monthly budget.\n"
            "example:\n"
            "  gpurent tenants set tnt_dn9kd5hyxyx1z --credit-limit 100 --monthly-budget 5000\n",
    },
    {0},
};

const struct cli_command cli_credits_commands[] = {
    {
        .noun = "credits",
        .verb = "add",
        .fn = credits_add,
        .summary = "top up a tenant's prepaid balance",
        .args = "TENANT_ID AMOUNT",
        .min_args = 2,
        .max_args = 2,
        .options = credits_options,
    },
    {
        .noun = "credits",
        .verb = "adjust",
        .fn = credits_adjust,
        .summary = "correct a tenant's charges: a credit, or with --charge a charge",
        .details = "Posted now: it is an adjustment line of the open month's invoice, noting the\n"
                   "month it corrects (--corrects); a closed month's invoice never changes.\n"
                   "example:\n"
                   "  gpurent credits adjust tnt_dn9kd5hyxyx1z 2.50 --corrects 2026-10 \\\n"
                   "      --reason 'outage on 31 Oct' --idempotency-key ticket-7\n",
        .args = "TENANT_ID AMOUNT",
        .min_args = 2,
        .max_args = 2,
        .options = adjust_options,
    },
    {0},
};

const struct cli_command cli_prices_commands[] = {
    {
        .noun = "prices",
        .verb = "set",
        .fn = prices_set,
        .summary = "set the prices of a GPU model",
        .args = "MODEL",
        .min_args = 1,
        .max_args = 1,
        .options = prices_set_options,
        .details =
            "example:\n"
            "  gpurent prices set A100-80G --on-demand 15.10 --spot-floor 6.00 --day 182.40 \\\n"
            "      --week 1209.60 --month 4968.00\n",
    },
    {
        .noun = "prices",
        .verb = "ls",
        .fn = prices_ls,
        .summary = "the price list",
    },
    {0},
};

const struct cli_command cli_hosts_commands[] = {
    {
        .noun = "hosts",
        .verb = "ls",
        .fn = hosts_ls,
        .summary = "list hosts: state, GPUs free and in use, last heartbeat",
    },
    {
        .noun = "hosts",
        .verb = "show",
        .fn = hosts_show,
        .summary = "one host and its GPUs with their telemetry",
        .args = "HOST_ID",
        .min_args = 1,
        .max_args = 1,
    },
    {
        .noun = "hosts",
        .verb = "drain",
        .fn = hosts_drain,
        .summary = "stop placing new rentals on a host",
        .args = "HOST_ID",
        .min_args = 1,
        .max_args = 1,
    },
    {
        .noun = "hosts",
        .verb = "undrain",
        .fn = hosts_undrain,
        .summary = "place new rentals on a host again",
        .args = "HOST_ID",
        .min_args = 1,
        .max_args = 1,
    },
    {
        .noun = "hosts",
        .verb = "cost",
        .fn = hosts_cost,
        .summary = "set a host's cost basis, which the economics use",
        .args = "HOST_ID",
        .min_args = 1,
        .max_args = 1,
        .options = hosts_cost_options,
        .details = "example (the demo's A100 host: 8 cards of 100000, 1.80 /GPU-h of opex):\n"
                   "  gpurent hosts cost hst_dn9kd5hyxyx1z --purchase-price 800000 \\\n"
                   "      --purchased-at 2026-01-01 --years 5 --power-watts 3200 --pue 1.3 \\\n"
                   "      --kwh-price 0.60 --hosting-monthly 8700\n",
    },
    {
        .noun = "hosts",
        .verb = "join-token",
        .fn = hosts_join_token,
        .summary = "make a one-use token for a new host's agent",
    },
    {0},
};

static int coupons_ls(struct cli *cli)
{
    static const char *const heads[] = {"ID",          "CODE",      "PERCENT OFF", ">AMOUNT OFF",
                                        "MODEL",       "TERM",      ">USED",       ">MAX",
                                        "VALID UNTIL", "AUTOMATIC", NULL};
    static const char *const fields[] = {
        "id",   "code",        "percent_off",     "amount_off",  "gpu_model",
        "term", "redemptions", "max_redemptions", "valid_until", "automatic"};

    return cli_list_table(cli, "/v1/coupons", heads, fields);
}

const struct cli_command cli_coupons_commands[] = {
    {
        .noun = "coupons",
        .verb = "create",
        .fn = coupons_create,
        .summary = "create a coupon (or, with --automatic, a promotion)",
        .details =
            "A coupon is redeemed by its code (--coupon CODE), once per tenant unless\n"
            "--reusable; a promotion (--automatic) applies to every rental it matches.\n"
            "example:\n"
            "  gpurent coupons create AUTUMN --automatic --percent-off 20 --model A100-80G\n",
        .args = "CODE",
        .min_args = 1,
        .max_args = 1,
        .options = coupons_options,
    },
    {
        .noun = "coupons",
        .verb = "ls",
        .fn = coupons_ls,
        .summary = "list coupons and promotions, with how often each was redeemed",
    },
    {0},
};
