/*
 * cmd_account.c - a tenant's view: `gpurent offers`, `gpurent balance`, `gpurent usage`,
 * `gpurent invoice`.
 */
#include "../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "table.h"

/* The list in a reply: its "data" (or "line_items"), or the reply itself when an array. */
static json_t *items_of(json_t *reply)
{
    json_t *a;

    if (json_is_array(reply))
        return reply;
    a = json_object_get(reply, "data");
    if (!json_is_array(a))
        a = json_object_get(reply, "line_items");
    return json_is_array(a) ? a : NULL;
}

static int offers(struct cli *cli)
{
    static const char *const heads[] = {"MODEL",      ">MEMORY",    ">AVAILABLE", ">MAX/HOST",
                                        ">ON-DEMAND", ">SPOT FROM", ">DAY",       ">WEEK",
                                        ">MONTH",     NULL};
    const struct cli_value *model = cli_opt(cli, "--model"), *count = cli_opt(cli, "--count");
    char path[CLI_PATH_MAX] = "/v1/offers";
    json_t *reply = NULL, *items, *o;
    struct table t;
    size_t i;
    int rc = 0;

    if (model->set)
        rc = cli_query_add(cli, path, "gpu_model", model->text);
    if (rc == 0 && count->set)
        rc = cli_query_add(cli, path, "gpu_count", count->text);
    if (rc == 0)
        rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    items = items_of(reply);
    if (items == NULL) {
        fprintf(stderr, "gpurent: GET %s: the reply has no \"data\" list\n", path);
        json_decref(reply);
        return CLI_EXIT_FAIL;
    }
    table_init(&t, heads);
    json_array_foreach(items, i, o)
    {
        const json_t *pk = json_object_get(o, "packages");
        json_t *mib = json_object_get(o, "memory_mib");
        char b[9][CLI_TEXT_MAX];
        const char *row[9];

        row[0] = cli_field(o, "gpu_model", b[0]);
        row[1] = NULL; /* 0: no GPU of the model has registered, its memory is unknown */
        if (json_is_integer(mib) && json_integer_value(mib) > 0) {
            snprintf(b[1], sizeof(b[1]), "%lld GiB", (long long)json_integer_value(mib) / 1024);
            row[1] = b[1];
        }
        row[2] = cli_field(o, "available_gpus", b[2]);
        row[3] = cli_field(o, "max_gpus_per_host", b[3]);
        row[4] = cli_field(o, "on_demand_hourly", b[4]);
        row[5] = cli_field(o, "spot_floor_hourly", b[5]);
        row[6] = cli_field(pk, "day", b[6]);
        row[7] = cli_field(pk, "week", b[7]);
        row[8] = cli_field(pk, "month", b[8]);
        if (cli->quiet)
            printf("%s\n", row[0] ? row[0] : "-");
        else
            table_add(&t, row);
    }
    if (!cli->quiet) {
        if (json_array_size(items) == 0)
            printf("no GPUs on offer%s\n(a GPU model is on offer once the operator prices it: "
                   "'gpurent prices set MODEL --on-demand AMOUNT')\n",
                   model->set || count->set ? " that match" : "");
        else if (table_print(&t, stdout) != 0)
            rc = CLI_EXIT_FAIL;
        else
            printf("\nprices per GPU: hourly (on-demand, spot floor); day, week and month "
                   "packages for the whole term\n");
    }
    table_release(&t);
    json_decref(reply);
    return rc;
}

static int balance(struct cli *cli)
{
    char b[CLI_TEXT_MAX], burn[CLI_TEXT_MAX + 8];
    json_t *reply = NULL, *runway;
    const char *h;
    int rc;

    rc = cli_call(cli, "GET", "/v1/balance", NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    kv_print(stdout, 13, "balance:", cli_field(reply, "balance", b));
    kv_print(stdout, 13, "credit limit:", cli_field(reply, "credit_limit", b));
    h = cli_field(reply, "hourly_burn", b);
    if (h != NULL) {
        snprintf(burn, sizeof(burn), "%s /h", h);
        h = burn;
    }
    kv_print(stdout, 13, "burn rate:", h);
    runway = json_object_get(reply, "runway_seconds");
    kv_print(stdout, 13, "runway:",
             json_is_number(runway) ? cli_duration(runway, b) : "- (nothing is billing)");
    /* the calendar month's spend, and its cap when the operator set one */
    if (cli_field(reply, "month_spent", b) != NULL) {
        char month[CLI_TEXT_MAX * 2 + 32], cap[CLI_TEXT_MAX];

        if (cli_field(reply, "monthly_budget", cap) != NULL)
            snprintf(month, sizeof(month), "%s spent of a %s budget", b, cap);
        else
            snprintf(month, sizeof(month), "%s spent (no monthly budget)", b);
        kv_print(stdout, 13, "this month:", month);
    }
    json_decref(reply);
    return 0;
}

/* Print a usage reply's line items (under key) as a table, then its totals. */
static int print_lines(json_t *reply, const char *key, const char *path)
{
    static const char *const heads[] = {"RENTAL", "KIND",      ">SECONDS", "MODEL", ">GPUS", "TERM",
                                        ">LIST",  ">DISCOUNT", ">AMOUNT",  "NOTE",  NULL};
    json_t *items = json_object_get(reply, key), *it;
    char b[CLI_TEXT_MAX];
    struct table t;
    size_t i;
    int rc = 0;

    if (!json_is_array(items)) {
        fprintf(stderr, "gpurent: GET %s: the reply has no \"%s\" list\n", path, key);
        return CLI_EXIT_FAIL;
    }
    table_init(&t, heads);
    json_array_foreach(items, i, it)
    {
        char c[10][CLI_TEXT_MAX], why[CLI_TEXT_MAX], month[CLI_TEXT_MAX];
        const char *row[10], *reason = cli_field(it, "reason", why),
                             *corrects = cli_field(it, "corrects", month);

        row[0] = cli_field(it, "rental_id", c[0]);
        row[1] = cli_field(it, "kind", c[1]);
        row[2] = cli_field(it, "seconds", c[2]);
        row[3] = cli_field(it, "gpu_model", c[3]);
        row[4] = cli_field(it, "gpu_count", c[4]);
        row[5] = cli_field(it, "term", c[5]);
        row[6] = cli_field(it, "list_amount", c[6]);
        row[7] = cli_field(it, "discount", c[7]);
        row[8] = cli_field(it, "amount", c[8]);
        /* adjustments: the closed month they correct, and the operator's reason */
        if (corrects != NULL)
            snprintf(c[9], CLI_TEXT_MAX, "for %s%s%s", corrects, reason ? ": " : "",
                     reason ? reason : "");
        else
            snprintf(c[9], CLI_TEXT_MAX, "%s", reason ? reason : "");
        row[9] = c[9][0] ? c[9] : NULL;
        table_add(&t, row);
    }
    if (json_array_size(items) == 0)
        printf("no usage in this period\n");
    else if (table_print(&t, stdout) != 0)
        rc = CLI_EXIT_FAIL;
    table_release(&t);
    printf("\n");
    kv_print(stdout, 10, "list:", cli_field(reply, "list_amount", b));
    kv_print(stdout, 10, "discount:", cli_field(reply, "discount", b));
    kv_print(stdout, 10, "total:", cli_field(reply, "total", b));
    kv_print(stdout, 10, "credits:", cli_field(reply, "credits_total", b));
    printf("\ntotal: what the wallet paid for rentals and adjustments (money back negative);\n"
           "credits: top-ups. A closed month never changes: later corrections are adjustment\n"
           "lines of the open month, noting the month they are for.\n");
    return rc;
}

/* GET path as CSV (the server writes it) to stdout. */
static int print_csv(struct cli *cli, const char *path)
{
    struct client_opts opts = {.accept = "text/csv"};
    char *text = NULL;
    size_t len = 0;
    int status;

    if (client_request_text(cli->client, "GET", path, NULL, &opts, &status, &text, &len) != 0) {
        fprintf(stderr, "gpurent: %s\n", client_errmsg());
        free(text);
        return CLI_EXIT_FAIL;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    return 0;
}

/* After a failed usage or invoice request: the operator's key needs --tenant. */
static int tenant_hint(const struct cli *cli, int rc)
{
    if (rc != 0 && !cli_opt(cli, "--tenant")->set &&
        strstr(client_errmsg(), "tenant: required with an admin key") != NULL)
        fprintf(stderr, "gpurent: with the operator's key, say whose: --tenant TENANT_ID\n");
    return rc;
}

/* The query of usage and invoice: ?tenant= and ?format=csv from the options. */
static int add_common_query(struct cli *cli, char *path)
{
    const struct cli_value *tenant = cli_opt(cli, "--tenant"), *csv = cli_opt(cli, "--csv");
    int rc = 0;

    if (tenant->set)
        rc = cli_query_add(cli, path, "tenant", tenant->text);
    if (rc == 0 && csv->set)
        rc = cli_query_add(cli, path, "format", "csv");
    return rc;
}

static int usage(struct cli *cli)
{
    const struct cli_value *from = cli_opt(cli, "--from"), *to = cli_opt(cli, "--to");
    char path[CLI_PATH_MAX] = "/v1/usage", f[CLI_TEXT_MAX], t[CLI_TEXT_MAX];
    json_t *reply = NULL;
    int rc = 0;

    if (from->set)
        rc = cli_query_add(cli, path, "from", from->text);
    if (rc == 0 && to->set)
        rc = cli_query_add(cli, path, "to", to->text);
    if (rc == 0)
        rc = add_common_query(cli, path);
    if (rc != 0)
        return rc;
    if (cli_opt(cli, "--csv")->set)
        return tenant_hint(cli, print_csv(cli, path));
    rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return tenant_hint(cli, rc);
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    printf("usage from %s to %s\n\n", cli_field(reply, "from", f) ? f : "-",
           cli_field(reply, "to", t) ? t : "-");
    rc = print_lines(reply, "data", path);
    json_decref(reply);
    return rc;
}

static int invoice(struct cli *cli)
{
    char path[CLI_PATH_MAX], b[CLI_TEXT_MAX], st[CLI_TEXT_MAX], cur[CLI_TEXT_MAX];
    json_t *reply = NULL;
    int rc;

    rc = cli_path(cli, path, "/v1/invoices/", cli->args[0], "");
    if (rc == 0)
        rc = add_common_query(cli, path);
    if (rc != 0)
        return rc;
    if (cli_opt(cli, "--csv")->set)
        return tenant_hint(cli, print_csv(cli, path));
    rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return tenant_hint(cli, rc);
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    printf("invoice %s (%s), %s\n\n", cli_field(reply, "month", b) ? b : cli->args[0],
           cli_field(reply, "status", st) ? st : "-",
           cli_field(reply, "currency", cur) ? cur : "-");
    rc = print_lines(reply, "lines", path);
    json_decref(reply);
    return rc;
}

static const struct cli_option offers_options[] = {
    {"--model", OPT_TEXT, "MODEL", "only this GPU model", 0, 0},
    {"--count", OPT_COUNT, "N", "only offers that can place N GPUs now", 1, 1024},
    {0},
};

static const struct cli_option usage_options[] = {
    {"--from", OPT_TIME, "TIME", "from this date or time (default: this month's start)", 0, 0},
    {"--to", OPT_TIME, "TIME", "up to this date or time (default: now)", 0, 0},
    {"--tenant", OPT_TEXT, "TENANT_ID", "admin: whose usage", 0, 0},
    {"--csv", OPT_FLAG, NULL, "print CSV, as the server writes it", 0, 0},
    {0},
};

static const struct cli_option invoice_options[] = {
    {"--tenant", OPT_TEXT, "TENANT_ID", "admin: whose invoice", 0, 0},
    {"--csv", OPT_FLAG, NULL, "print the line items as CSV, as the server writes them", 0, 0},
    {0},
};

const struct cli_command cli_offers_commands[] = {
    {
        .noun = "offers",
        .fn = offers,
        .summary = "what can be rented now: GPU models, free GPUs and prices",
        .options = offers_options,
    },
    {0},
};

const struct cli_command cli_balance_commands[] = {
    {
        .noun = "balance",
        .fn = balance,
        .summary = "your balance, what you burn per hour and how long it lasts",
    },
    {0},
};

const struct cli_command cli_usage_commands[] = {
    {
        .noun = "usage",
        .fn = usage,
        .summary = "your line items for a period: rental, term, seconds, amounts",
        .options = usage_options,
        .details = "One line per rental and kind of charge: charge (on-demand and spot\n"
                   "settlements), package (bought or renewed), refund (a package's unused part\n"
                   "returned, negative), adjustment (an operator's credit or charge, or usage of\n"
                   "a closed month billed after it closed; NOTE names the month it corrects).\n"
                   "amount is what the wallet paid; list = amount + discount. Top-ups are\n"
                   "credits, not usage.\n",
    },
    {0},
};

const struct cli_command cli_invoice_commands[] = {
    {
        .noun = "invoice",
        .fn = invoice,
        .summary = "a calendar month's line items and total (UTC)",
        .args = "YYYY-MM",
        .min_args = 1,
        .max_args = 1,
        .options = invoice_options,
    },
    {0},
};
