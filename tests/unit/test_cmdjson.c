/*
 * test_cmdjson.c - the command log's JSON codec: every field of every command type survives
 * encode -> decode unchanged, the text has the documented shape, absent fields take the
 * engine's defaults, and malformed input is refused with an exact message naming the field.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/engine.h"
#include "engine/money.h"
#include "server/cmdjson.h"

#define ERR_CAP 256

/* ---- Commands with every field set to something other than its default ------------------ */

static struct gpu_spec gpus[3] = {
    {.index = 5, .uuid = "GPU-aaaa", .model = "H100-80G", .memory_mib = 81559, .nvlink_island = 2},
    {.index = 6, .uuid = "GPU-bbbb", .model = "H100-80G", .memory_mib = 81559, .nvlink_island = 2},
    {.index = 31,
     .uuid = "GPU-\xe7\xae\x97",
     .model = "H100-80G",
     .memory_mib = 1,
     .nvlink_island = 7},
};

static struct rental_report reports[4] = {
    {.rental = 9000000000ULL, .epoch = 3, .state = REPORT_STARTING, .exit_code = 1},
    {.rental = 2, .epoch = 4294967295u, .state = REPORT_RUNNING, .exit_code = -2147483647 - 1},
    {.rental = 3, .epoch = 1, .state = REPORT_EXITED, .exit_code = 137},
    {.rental = 4, .epoch = 2, .state = REPORT_FAILED, .exit_code = 2147483647},
};

static struct command all_commands[13];

static void build_commands(void)
{
    struct command *c = all_commands;

    c[0].type = CMD_TENANT_CREATE;
    c[0].u.tenant_create = (struct cmd_tenant_create){
        .name = "acme \"labs\"\n\xe7\xae\x97\xe5\x8a\x9b", .credit_limit = 123456789};
    c[1].type = CMD_TENANT_UPDATE;
    c[1].u.tenant_update = (struct cmd_tenant_update){.tenant = 4294967295u,
                                                      .set_credit_limit = true,
                                                      .credit_limit = 1,
                                                      .set_monthly_budget = true,
                                                      .monthly_budget = 500000000000};
    c[2].type = CMD_CREDIT;
    c[2].u.credit = (struct cmd_credit){
        .tenant = 7, .amount = 1000002, .reference = "wire #42", .transfer_id = "tx-1"};
    c[3].type = CMD_PRICE_SET;
    c[3].u.price_set = (struct cmd_price_set){.gpu_model = "A100-80G",
                                              .memory_mib = 81920,
                                              .on_demand_hourly = 15100000,
                                              .spot_floor_hourly = -1,
                                              .package = {300000000, 1900000000, 7000000001}};
    c[4].type = CMD_COUPON_CREATE;
    c[4].u.coupon_create = (struct cmd_coupon_create){.code = "WELCOME",
                                                      .percent_off_bp = 2500,
                                                      .amount_off = 7,
                                                      .max_redemptions = 10,
                                                      .valid_until = 1795132800000001,
                                                      .gpu_model = "A100-80G",
                                                      .term = TERM_WEEK,
                                                      .automatic = true,
                                                      .once_per_tenant = true};
    c[5].type = CMD_HOST_REGISTER;
    c[5].u.host_register =
        (struct cmd_host_register){.hostname = "gpu-01.dc1", .gpus = gpus, .gpu_count = 3};
    c[6].type = CMD_HOST_COST;
    c[6].u.host_cost = (struct cmd_host_cost){.host = 12,
                                              .cost = {.purchase_price = 800000000000,
                                                       .purchased_at = -86400000000,
                                                       .depreciation_years = 5,
                                                       .salvage_ppm = 100000,
                                                       .power_watts = 6500,
                                                       .pue_milli = 1300,
                                                       .electricity_kwh_price = 650000,
                                                       .hosting_monthly = 2000000000}};
    c[7].type = CMD_HOST_DRAIN;
    c[7].u.host.host = 13;
    c[8].type = CMD_HOST_UNDRAIN;
    c[8].u.host.host = 14;
    c[9].type = CMD_HOST_REPORT;
    c[9].u.host_report = (struct cmd_host_report){.host = 15, .reports = reports, .count = 4};
    c[10].type = CMD_RENTAL_CREATE;
    c[10].u.rental_create = (struct cmd_rental_create){.tenant = 3,
                                                       .gpu_model = "A100-80G",
                                                       .gpu_count = 2,
                                                       .term = TERM_SPOT,
                                                       .max_hourly = 4000000,
                                                       .coupon = "WELCOME",
                                                       .queue = true,
                                                       .auto_renew = true,
                                                       .max_cost = 99990000,
                                                       .max_duration = 7200000000,
                                                       .has_workload = true,
                                                       .restart = RESTART_ON_FAILURE,
                                                       .requeue = true};
    c[11].type = CMD_RENTAL_STOP;
    c[11].u.rental_stop = (struct cmd_rental_stop){.tenant = 3, .rental = 77, .admin = true};
    c[12].type = CMD_ADJUST;
    c[12].u.adjust = (struct cmd_adjust){.tenant = 3,
                                         .amount = -1250001,
                                         .rental = 9000000000,
                                         .corrects = 24322,
                                         .reason = "double charge, ticket #7"};
}

/* ---- Field-by-field comparison ------------------------------------------------------------ */

static void assert_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_same(const struct command *a, const struct command *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case CMD_TENANT_CREATE:
        assert_str(a->u.tenant_create.name, b->u.tenant_create.name);
        assert_int_equal(a->u.tenant_create.credit_limit, b->u.tenant_create.credit_limit);
        break;
    case CMD_TENANT_UPDATE:
        assert_int_equal(a->u.tenant_update.tenant, b->u.tenant_update.tenant);
        assert_int_equal(a->u.tenant_update.set_credit_limit, b->u.tenant_update.set_credit_limit);
        assert_int_equal(a->u.tenant_update.credit_limit, b->u.tenant_update.credit_limit);
        assert_int_equal(a->u.tenant_update.set_monthly_budget,
                         b->u.tenant_update.set_monthly_budget);
        assert_int_equal(a->u.tenant_update.monthly_budget, b->u.tenant_update.monthly_budget);
        break;
    case CMD_CREDIT:
        assert_int_equal(a->u.credit.tenant, b->u.credit.tenant);
        assert_int_equal(a->u.credit.amount, b->u.credit.amount);
        assert_str(a->u.credit.reference, b->u.credit.reference);
        assert_str(a->u.credit.transfer_id, b->u.credit.transfer_id);
        break;
    case CMD_PRICE_SET:
        assert_str(a->u.price_set.gpu_model, b->u.price_set.gpu_model);
        assert_int_equal(a->u.price_set.memory_mib, b->u.price_set.memory_mib);
        assert_int_equal(a->u.price_set.on_demand_hourly, b->u.price_set.on_demand_hourly);
        assert_int_equal(a->u.price_set.spot_floor_hourly, b->u.price_set.spot_floor_hourly);
        for (int i = 0; i < PACKAGE_COUNT; i++)
            assert_int_equal(a->u.price_set.package[i], b->u.price_set.package[i]);
        break;
    case CMD_COUPON_CREATE:
        assert_str(a->u.coupon_create.code, b->u.coupon_create.code);
        assert_int_equal(a->u.coupon_create.percent_off_bp, b->u.coupon_create.percent_off_bp);
        assert_int_equal(a->u.coupon_create.amount_off, b->u.coupon_create.amount_off);
        assert_int_equal(a->u.coupon_create.max_redemptions, b->u.coupon_create.max_redemptions);
        assert_int_equal(a->u.coupon_create.valid_until, b->u.coupon_create.valid_until);
        assert_str(a->u.coupon_create.gpu_model, b->u.coupon_create.gpu_model);
        assert_int_equal(a->u.coupon_create.term, b->u.coupon_create.term);
        assert_int_equal(a->u.coupon_create.automatic, b->u.coupon_create.automatic);
        assert_int_equal(a->u.coupon_create.once_per_tenant, b->u.coupon_create.once_per_tenant);
        break;
    case CMD_HOST_REGISTER:
        assert_str(a->u.host_register.hostname, b->u.host_register.hostname);
        assert_int_equal(a->u.host_register.gpu_count, b->u.host_register.gpu_count);
        for (uint32_t i = 0; i < a->u.host_register.gpu_count; i++) {
            const struct gpu_spec *x = &a->u.host_register.gpus[i];
            const struct gpu_spec *y = &b->u.host_register.gpus[i];
            assert_int_equal(x->index, y->index);
            assert_str(x->uuid, y->uuid);
            assert_str(x->model, y->model);
            assert_int_equal(x->memory_mib, y->memory_mib);
            assert_int_equal(x->nvlink_island, y->nvlink_island);
        }
        break;
    case CMD_HOST_COST: {
        const struct cost_basis *x = &a->u.host_cost.cost, *y = &b->u.host_cost.cost;
        assert_int_equal(a->u.host_cost.host, b->u.host_cost.host);
        assert_int_equal(x->purchase_price, y->purchase_price);
        assert_int_equal(x->purchased_at, y->purchased_at);
        assert_int_equal(x->depreciation_years, y->depreciation_years);
        assert_int_equal(x->salvage_ppm, y->salvage_ppm);
        assert_int_equal(x->power_watts, y->power_watts);
        assert_int_equal(x->pue_milli, y->pue_milli);
        assert_int_equal(x->electricity_kwh_price, y->electricity_kwh_price);
        assert_int_equal(x->hosting_monthly, y->hosting_monthly);
        break;
    }
    case CMD_HOST_DRAIN:
    case CMD_HOST_UNDRAIN:
        assert_int_equal(a->u.host.host, b->u.host.host);
        break;
    case CMD_HOST_REPORT:
        assert_int_equal(a->u.host_report.host, b->u.host_report.host);
        assert_int_equal(a->u.host_report.count, b->u.host_report.count);
        for (uint32_t i = 0; i < a->u.host_report.count; i++) {
            const struct rental_report *x = &a->u.host_report.reports[i];
            const struct rental_report *y = &b->u.host_report.reports[i];
            assert_int_equal(x->rental, y->rental);
            assert_int_equal(x->epoch, y->epoch);
            assert_int_equal(x->state, y->state);
            assert_int_equal(x->exit_code, y->exit_code);
        }
        break;
    case CMD_RENTAL_CREATE: {
        const struct cmd_rental_create *x = &a->u.rental_create, *y = &b->u.rental_create;
        assert_int_equal(x->tenant, y->tenant);
        assert_str(x->gpu_model, y->gpu_model);
        assert_int_equal(x->gpu_count, y->gpu_count);
        assert_int_equal(x->term, y->term);
        assert_int_equal(x->max_hourly, y->max_hourly);
        assert_str(x->coupon, y->coupon);
        assert_int_equal(x->queue, y->queue);
        assert_int_equal(x->auto_renew, y->auto_renew);
        assert_int_equal(x->max_cost, y->max_cost);
        assert_int_equal(x->max_duration, y->max_duration);
        assert_int_equal(x->has_workload, y->has_workload);
        assert_int_equal(x->restart, y->restart);
        assert_int_equal(x->requeue, y->requeue);
        break;
    }
    case CMD_ADJUST:
        assert_int_equal(a->u.adjust.tenant, b->u.adjust.tenant);
        assert_int_equal(a->u.adjust.amount, b->u.adjust.amount);
        assert_int_equal(a->u.adjust.rental, b->u.adjust.rental);
        assert_int_equal(a->u.adjust.corrects, b->u.adjust.corrects);
        assert_str(a->u.adjust.reason, b->u.adjust.reason);
        break;
    case CMD_RENTAL_STOP:
        assert_int_equal(a->u.rental_stop.tenant, b->u.rental_stop.tenant);
        assert_int_equal(a->u.rental_stop.rental, b->u.rental_stop.rental);
        assert_int_equal(a->u.rental_stop.admin, b->u.rental_stop.admin);
        break;
    default:
        fail_msg("unknown command type %d", a->type);
    }
}

/* ---- Tests ------------------------------------------------------------------------------ */

static void test_round_trip_every_type(void **state)
{
    bool seen[CMD_ADJUST + 1] = {false};
    char err[ERR_CAP];
    (void)state;

    build_commands();
    for (size_t i = 0; i < ARRAY_SIZE(all_commands); i++) {
        struct cmdjson_decoded d;
        char *text = cmdjson_encode(&all_commands[i]);
        char *again;

        assert_non_null(text);
        err[0] = '\0';
        if (cmdjson_decode(&d, text, err, sizeof(err)) != 0)
            fail_msg("decode %s: %s", text, err);
        assert_same(&all_commands[i], &d.cmd);
        /* decoding then encoding gives the same text: the format is stable */
        again = cmdjson_encode(&d.cmd);
        assert_non_null(again);
        assert_string_equal(again, text);
        seen[all_commands[i].type] = true;
        free(again);
        cmdjson_release(&d);
        free(text);
    }
    for (int t = 0; t <= CMD_ADJUST; t++)
        assert_true(seen[t]);
}

static void test_exact_text(void **state)
{
    char *text;
    (void)state;

    build_commands();
    text = cmdjson_encode(&all_commands[10]);
    assert_string_equal(text, "{\"type\":\"rental_create\",\"tenant\":3,\"gpu_model\":\"A100-80G\","
                              "\"gpu_count\":2,\"term\":\"spot\",\"max_hourly\":\"4.00\","
                              "\"coupon\":\"WELCOME\",\"queue\":true,\"auto_renew\":true,"
                              "\"max_cost\":\"99.99\",\"max_duration\":7200000000,"
                              "\"has_workload\":true,\"restart\":\"on_failure\","
                              "\"requeue\":true}");
    free(text);
    text = cmdjson_encode(&all_commands[12]);
    assert_string_equal(text, "{\"type\":\"adjust\",\"tenant\":3,\"amount\":\"-1.250001\","
                              "\"rental\":9000000000,\"corrects\":24322,"
                              "\"reason\":\"double charge, ticket #7\"}");
    free(text);
    text = cmdjson_encode(&all_commands[3]);
    assert_string_equal(text, "{\"type\":\"price_set\",\"gpu_model\":\"A100-80G\","
                              "\"memory_mib\":81920,\"on_demand_hourly\":\"15.10\","
                              "\"spot_floor_hourly\":\"-0.000001\",\"package\":{\"day\":\"300.00\","
                              "\"week\":\"1900.00\",\"month\":\"7000.000001\"}}");
    free(text);
    text = cmdjson_encode(&all_commands[9]);
    assert_string_equal(text, "{\"type\":\"host_report\",\"host\":15,\"reports\":["
                              "{\"rental\":9000000000,\"epoch\":3,\"state\":\"starting\","
                              "\"exit_code\":1},"
                              "{\"rental\":2,\"epoch\":4294967295,\"state\":\"running\","
                              "\"exit_code\":-2147483648},"
                              "{\"rental\":3,\"epoch\":1,\"state\":\"exited\",\"exit_code\":137},"
                              "{\"rental\":4,\"epoch\":2,\"state\":\"failed\","
                              "\"exit_code\":2147483647}]}");
    free(text);
    /* NULL strings are left out; coupon term -1 is "any" */
    {
        struct command c = {.type = CMD_COUPON_CREATE};
        c.u.coupon_create.code = "X";
        c.u.coupon_create.term = -1;
        text = cmdjson_encode(&c);
        assert_string_equal(text, "{\"type\":\"coupon_create\",\"code\":\"X\",\"percent_off_bp\":0,"
                                  "\"amount_off\":\"0.00\",\"max_redemptions\":0,"
                                  "\"valid_until\":0,\"term\":\"any\",\"automatic\":false,"
                                  "\"once_per_tenant\":false}");
        free(text);
    }
}

static void test_defaults_when_absent(void **state)
{
    struct cmdjson_decoded d;
    char err[ERR_CAP] = "";
    (void)state;

    assert_int_equal(cmdjson_decode(&d, "{\"type\":\"rental_create\"}", err, sizeof(err)), 0);
    assert_int_equal(d.cmd.type, CMD_RENTAL_CREATE);
    assert_int_equal(d.cmd.u.rental_create.tenant, 0);
    assert_null(d.cmd.u.rental_create.gpu_model);
    assert_null(d.cmd.u.rental_create.coupon);
    assert_int_equal(d.cmd.u.rental_create.term, TERM_ON_DEMAND);
    assert_int_equal(d.cmd.u.rental_create.restart, RESTART_NEVER);
    assert_false(d.cmd.u.rental_create.queue);
    assert_int_equal(d.cmd.u.rental_create.max_duration, 0);
    cmdjson_release(&d);

    /* a coupon without a term applies to any term; null strings are NULL */
    assert_int_equal(cmdjson_decode(&d,
                                    "{\"type\":\"coupon_create\",\"code\":\"X\","
                                    "\"percent_off_bp\":100,\"gpu_model\":null}",
                                    err, sizeof(err)),
                     0);
    assert_int_equal(d.cmd.u.coupon_create.term, -1);
    assert_null(d.cmd.u.coupon_create.gpu_model);
    assert_string_equal(d.cmd.u.coupon_create.code, "X");
    assert_int_equal(d.cmd.u.coupon_create.percent_off_bp, 100);
    cmdjson_release(&d);

    /* a report without reports, a host without GPUs: count 0 and NULL */
    assert_int_equal(cmdjson_decode(&d, "{\"type\":\"host_report\",\"host\":2,\"reports\":[]}", err,
                                    sizeof(err)),
                     0);
    assert_int_equal(d.cmd.u.host_report.host, 2);
    assert_int_equal(d.cmd.u.host_report.count, 0);
    assert_null(d.cmd.u.host_report.reports);
    cmdjson_release(&d);

    /* price_set: packages not named are 0 (not offered) */
    assert_int_equal(cmdjson_decode(&d, "{\"type\":\"price_set\",\"package\":{\"week\":\"10.5\"}}",
                                    err, sizeof(err)),
                     0);
    assert_int_equal(d.cmd.u.price_set.package[0], 0);
    assert_int_equal(d.cmd.u.price_set.package[1], 10500000);
    assert_int_equal(d.cmd.u.price_set.package[2], 0);
    cmdjson_release(&d);
}

struct bad_case {
    const char *text;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"", "invalid JSON at line 1, column 0: '[' or '{' expected near end of file"},
    {"{\"type\":\"credit\",\n \"tenant\": 1,,}",
     "invalid JSON at line 2, column 14: string or '}' expected near ','"},
    {"{\"type\":\"credit\"} x", "invalid JSON at line 1, column 19: end of file expected near 'x'"},
    {"{\"type\":\"credit\",\"tenant\":1,\"tenant\":2}",
     "invalid JSON at line 1, column 36: duplicate object key near '\"tenant\"'"},
    {"[]", "command: expected a JSON object"},
    {"{}", "command: missing \"type\""},
    {"{\"type\":3}", "command.type: expected a string"},
    {"{\"type\":\"launch\"}", "command.type: unknown command type \"launch\""},
    {"{\"type\":\"credit\",\"tenant\":1,\"color\":\"red\"}", "credit: unknown field \"color\""},
    {"{\"type\":\"credit\",\"amount\":1.5}", "credit.amount: expected a money string"},
    {"{\"type\":\"credit\",\"amount\":\"1.1234567\"}",
     "credit.amount: invalid amount \"1.1234567\""},
    {"{\"type\":\"credit\",\"amount\":\"99999999999999999999\"}",
     "credit.amount: amount \"99999999999999999999\" is too large"},
    {"{\"type\":\"credit\",\"tenant\":-1}", "credit.tenant: -1 is out of range"},
    {"{\"type\":\"credit\",\"tenant\":4294967296}", "credit.tenant: 4294967296 is out of range"},
    {"{\"type\":\"credit\",\"tenant\":\"3\"}", "credit.tenant: expected an integer"},
    {"{\"type\":\"credit\",\"tenant\":3.0}", "credit.tenant: expected an integer"},
    {"{\"type\":\"credit\",\"reference\":5}", "credit.reference: expected a string"},
    {"{\"type\":\"rental_stop\",\"rental\":-5}", "rental_stop.rental: -5 is out of range"},
    {"{\"type\":\"rental_create\",\"term\":\"year\"}", "rental_create.term: unknown term \"year\""},
    {"{\"type\":\"rental_create\",\"term\":\"any\"}", "rental_create.term: unknown term \"any\""},
    {"{\"type\":\"rental_create\",\"restart\":\"sometimes\"}",
     "rental_create.restart: unknown restart policy \"sometimes\""},
    {"{\"type\":\"rental_create\",\"queue\":\"yes\"}",
     "rental_create.queue: expected true or false"},
    {"{\"type\":\"rental_create\",\"gpu_count\":true}",
     "rental_create.gpu_count: expected an integer"},
    {"{\"type\":\"coupon_create\",\"term\":\"forever\"}",
     "coupon_create.term: unknown term \"forever\""},
    {"{\"type\":\"host_report\",\"reports\":[{\"rental\":1,\"state\":\"running\"},"
     "{\"rental\":2,\"state\":\"dead\"}]}",
     "host_report.reports[1].state: unknown report state \"dead\""},
    {"{\"type\":\"host_report\",\"reports\":[{\"color\":1}]}",
     "host_report.reports[0]: unknown field \"color\""},
    {"{\"type\":\"host_report\",\"reports\":{}}", "host_report.reports: expected an array"},
    {"{\"type\":\"host_report\",\"reports\":[3]}", "host_report.reports[0]: expected an object"},
    {"{\"type\":\"host_report\",\"reports\":[{\"exit_code\":2147483648}]}",
     "host_report.reports[0].exit_code: 2147483648 is out of range"},
    {"{\"type\":\"host_register\",\"gpus\":[{\"uuid\":7}]}",
     "host_register.gpus[0].uuid: expected a string"},
    {"{\"type\":\"price_set\",\"package\":{\"year\":\"1.00\"}}",
     "price_set.package: unknown field \"year\""},
    {"{\"type\":\"price_set\",\"package\":{\"day\":1}}",
     "price_set.package.day: expected a money string"},
    {"{\"type\":\"price_set\",\"package\":[]}", "price_set.package: expected an object"},
    {"{\"type\":\"host_cost\",\"cost\":\"cheap\"}", "host_cost.cost: expected an object"},
    {"{\"type\":\"host_cost\",\"cost\":{\"pue\":1.3}}", "host_cost.cost: unknown field \"pue\""},
    {"{\"type\":\"host_cost\",\"cost\":{\"hosting_monthly\":\"1,00\"}}",
     "host_cost.cost.hosting_monthly: invalid amount \"1,00\""},
};

static void test_malformed_rejected(void **state)
{
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
        struct cmdjson_decoded d;
        char err[ERR_CAP] = "";
        int rc = cmdjson_decode(&d, bad_cases[i].text, err, sizeof(err));

        if (rc != ERR_INVALID || strcmp(err, bad_cases[i].message) != 0)
            fail_msg("case %zu: %s\n  got rc %d: %s\n  want: %s", i, bad_cases[i].text, rc, err,
                     bad_cases[i].message);
        /* nothing is left to release, and releasing is harmless */
        assert_null(d.root);
        assert_null(d.reports);
        cmdjson_release(&d);
    }
}

static void test_too_many_gpus(void **state)
{
    char text[4096];
    size_t len = 0;
    struct cmdjson_decoded d;
    char err[ERR_CAP] = "";
    (void)state;

    len +=
        (size_t)snprintf(text + len, sizeof(text) - len, "{\"type\":\"host_register\",\"gpus\":[");
    for (int i = 0; i <= MAX_GPUS_PER_HOST; i++)
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len, "%s{\"index\":%d}", i ? "," : "", i);
    snprintf(text + len, sizeof(text) - len, "]}");
    assert_int_equal(cmdjson_decode(&d, text, err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "host_register.gpus: at most 32 GPUs");
}

static void test_error_buffer_truncates(void **state)
{
    struct cmdjson_decoded d;
    char err[16];
    (void)state;

    memset(err, 'x', sizeof(err));
    assert_int_equal(cmdjson_decode(&d, "{\"type\":\"launch\"}", err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "command.type: u");
    /* no buffer at all is allowed */
    assert_int_equal(cmdjson_decode(&d, "{\"type\":\"launch\"}", NULL, 0), ERR_INVALID);
}

static void test_unencodable(void **state)
{
    struct command c;
    (void)state;

    memset(&c, 0, sizeof(c));
    c.type = (enum command_type)99;
    assert_null(cmdjson_encode(&c));

    memset(&c, 0, sizeof(c));
    c.type = CMD_RENTAL_CREATE;
    c.u.rental_create.term = TERM_COUNT;
    assert_null(cmdjson_encode(&c));
    c.u.rental_create.term = TERM_DAY;
    c.u.rental_create.restart = (enum restart_policy)3;
    assert_null(cmdjson_encode(&c));

    memset(&c, 0, sizeof(c));
    c.type = CMD_COUPON_CREATE;
    c.u.coupon_create.term = -2;
    assert_null(cmdjson_encode(&c));

    memset(&c, 0, sizeof(c));
    c.type = CMD_HOST_REPORT;
    c.u.host_report.count = 1; /* reports NULL */
    assert_null(cmdjson_encode(&c));

    memset(&c, 0, sizeof(c));
    c.type = CMD_RENTAL_STOP;
    c.u.rental_stop.rental = UINT64_MAX;
    assert_null(cmdjson_encode(&c));

    memset(&c, 0, sizeof(c));
    c.type = CMD_TENANT_CREATE;
    c.u.tenant_create.name = "bad \xff utf-8";
    assert_null(cmdjson_encode(&c));

    /* money that money_parse would refuse: the engine takes a very negative price as "not
     * offered", but such a command must not reach the log */
    memset(&c, 0, sizeof(c));
    c.type = CMD_PRICE_SET;
    c.u.price_set.gpu_model = "A100-80G";
    c.u.price_set.spot_floor_hourly = INT64_MIN;
    assert_null(cmdjson_encode(&c));
    c.u.price_set.spot_floor_hourly = -MONEY_MAX - 1;
    assert_null(cmdjson_encode(&c));
}

static void test_money_limits_round_trip(void **state)
{
    struct command c = {.type = CMD_PRICE_SET};
    struct cmdjson_decoded d;
    char err[ERR_CAP] = "";
    char *text;
    (void)state;

    c.u.price_set.gpu_model = "A100-80G";
    c.u.price_set.on_demand_hourly = MONEY_MAX;
    c.u.price_set.spot_floor_hourly = -MONEY_MAX;
    c.u.price_set.package[0] = 1;
    c.u.price_set.package[1] = -1;
    text = cmdjson_encode(&c);
    assert_non_null(text);
    assert_int_equal(cmdjson_decode(&d, text, err, sizeof(err)), 0);
    assert_same(&c, &d.cmd);
    cmdjson_release(&d);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_defaults_when_absent),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_too_many_gpus),
        cmocka_unit_test(test_error_buffer_truncates),
        cmocka_unit_test(test_unencodable),
        cmocka_unit_test(test_money_limits_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
