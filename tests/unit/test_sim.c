/*
 * test_sim.c - the simulator: scenario loading and its exact error messages, the demand
 * generator, and whole runs of the real engine on a virtual clock whose figures are worked
 * out by hand.
 *
 * Scenarios are written into a fresh temporary directory per test; every expected message
 * names that directory, the file, the line and the field or column.
 */
#include "common/compat.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/money.h"
#include "sim/demand.h"
#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/sim.h"

#define ERR_CAP 1024

static const char *const scenario_files[] = {"scenario.json", "fleet.json", "prices.json",
                                             "demand.csv", "demand.json"};

struct tdir {
    char path[64];
};

static void tdir_make(struct tdir *t)
{
    snprintf(t->path, sizeof(t->path), "/tmp/gpurent-test-sim-XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void tdir_write(const struct tdir *t, const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", t->path, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void tdir_unlink(const struct tdir *t, const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", t->path, name);
    unlink(path);
}

static void tdir_remove(struct tdir *t)
{
    for (size_t i = 0; i < ARRAY_SIZE(scenario_files); i++)
        tdir_unlink(t, scenario_files[i]);
    assert_int_equal(rmdir(t->path), 0);
}

/* ---- A tiny valid scenario: one host of 8 GPUs of model "T" at 7.60/h --------------- */

/* the line numbers below are the ones the error tests expect */
static const char *const fleet_json = "{\n"                                            /* 1 */
                                      "  \"host_groups\": [\n"                         /* 2 */
                                      "    {\n"                                        /* 3 */
                                      "      \"count\": 1,\n"                          /* 4 */
                                      "      \"hostname_prefix\": \"t\",\n"            /* 5 */
                                      "      \"gpu_model\": \"T\",\n"                  /* 6 */
                                      "      \"memory_mib\": 16384,\n"                 /* 7 */
                                      "      \"gpus_per_host\": 8,\n"                  /* 8 */
                                      "      \"cost\": {\n"                            /* 9 */
                                      "        \"purchase_price\": \"80000.00\",\n"    /* 10 */
                                      "        \"depreciation_years\": 5,\n"           /* 11 */
                                      "        \"power_watts\": 1000,\n"               /* 12 */
                                      "        \"pue\": 1.0,\n"                        /* 13 */
                                      "        \"electricity_kwh_price\": \"1.00\",\n" /* 14 */
                                      "        \"hosting_monthly\": \"730.00\"\n"      /* 15 */
                                      "      }\n"                                      /* 16 */
                                      "    }\n"                                        /* 17 */
                                      "  ]\n"                                          /* 18 */
                                      "}\n";                                           /* 19 */

static const char *const prices_json = "{\n"
                                       "  \"prices\": {\n"
                                       "    \"T\": { \"on_demand_hourly\": \"7.60\",\n"
                                       "             \"packages\": { \"day\": \"100.00\" } }\n"
                                       "  }\n"
                                       "}\n";

static const char *const settings_json = "{\n"
                                         "  \"start\": \"2026-01-01T00:00:00Z\",\n"
                                         "  \"days\": 1,\n"
                                         "  \"settle_interval_seconds\": 60,\n"
                                         "  \"agent_start_delay_seconds\": 10\n"
                                         "}\n";

/*
 * r1 0 s    1 GPU, 3600 s       placed at once, running at 10, exits at 3610
 * r2 60 s   8 GPUs, 1800 s      queued (7 free); placed at 3610 when r1 ends: waits 3550 s
 * r3 120 s  4 GPUs, 600 s       queue=false, fits: placed at once, running 130..730
 * r4 180 s  8 GPUs, queue=false no capacity: rejected
 * r5 200 s  8 GPUs, patience    queued behind r2; its tenant gives up at 1200 s
 */
static const char *const trace_csv = "# a hand-checked trace\n"
                                     "arrival,tenant,gpu_model,gpu_count,term,duration,queue,"
                                     "patience\n"
                                     "0,alice,T,1,on_demand,3600,true,\n"
                                     "60,bob,T,8,on_demand,1800,true,\n"
                                     "120,alice,T,4,on_demand,600,false,\n"
                                     "180,carol,T,8,on_demand,600,false,\n"
                                     "200,dave,T,8,on_demand,600,,1000\n";

static void write_base(const struct tdir *t)
{
    tdir_write(t, "scenario.json", settings_json);
    tdir_write(t, "fleet.json", fleet_json);
    tdir_write(t, "prices.json", prices_json);
    tdir_write(t, "demand.csv", trace_csv);
}

/* Load t's scenario expecting failure; the message must be exactly dir + "/" + suffix. */
static void expect_error(const struct tdir *t, const char *suffix)
{
    struct scenario sc;
    char err[ERR_CAP] = "";
    char want[ERR_CAP];

    snprintf(want, sizeof(want), "%s/%s", t->path, suffix);
    assert_int_not_equal(scenario_load(&sc, t->path, err, sizeof(err)), 0);
    assert_string_equal(err, want);
    scenario_release(&sc);
}

/* Replace the first occurrence of from in base by to. */
static char *edit(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);

    assert_non_null(at);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return out;
}

static void expect_edit_error(const struct tdir *t, const char *file, const char *base,
                              const char *from, const char *to, const char *suffix)
{
    char *text = edit(base, from, to);

    tdir_write(t, file, text);
    free(text);
    expect_error(t, suffix);
    write_base(t);
}

/* ---- Loading -------------------------------------------------------------------------- */

static void test_demo_loads(void **state)
{
    const char *root = getenv("GPURENT_SOURCE_DIR");
    char dir[1024], err[ERR_CAP] = "";
    struct scenario sc;

    (void)state;
    assert_non_null(root);
    snprintf(dir, sizeof(dir), "%s/examples/demo", root);
    assert_int_equal(scenario_load(&sc, dir, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(sc.days, 30);
    assert_int_equal(sc.model_count, 2);
    assert_string_equal(sc.models[0].name, "A100-80G");
    assert_string_equal(sc.models[1].name, "H100-80G");
    assert_int_equal(sc.models[0].price.on_demand_hourly, 15100000);
    assert_int_equal(sc.host_count, 20);
    assert_int_equal(sc.gpu_count, 160);
    assert_int_equal(sc.groups[0].cost.purchase_price, INT64_C(800000) * MONEY_UNIT);
    assert_int_equal(sc.groups[0].cost.pue_milli, 1250);
    assert_int_equal(sc.groups[0].cost.power_watts, 3200);
    assert_int_equal(sc.groups[0].cost.depreciation_years, 5);
    assert_int_equal(sc.demand, DEMAND_GENERATOR);
    assert_int_equal(sc.param_count, 2);
    assert_true(sc.coupon_count >= 2);
    assert_true(sc.coupons[0].automatic);
    scenario_release(&sc);
}

static void test_tiny_loads(void **state)
{
    struct tdir t;
    struct scenario sc;
    char err[ERR_CAP] = "";

    (void)state;
    tdir_make(&t);
    write_base(&t);
    assert_int_equal(scenario_load(&sc, t.path, err, sizeof(err)), 0);
    assert_int_equal(sc.demand, DEMAND_TRACE);
    assert_int_equal(sc.request_count, 5);
    assert_int_equal(sc.tenant_name_count, 4); /* alice, bob, carol, dave */
    assert_string_equal(sc.tenant_names[3], "dave");
    assert_int_equal(sc.requests[1].at - sc.start, 60 * USEC_PER_SEC);
    assert_int_equal(sc.requests[1].gpu_count, 8);
    assert_int_equal(sc.requests[1].duration, 1800 * USEC_PER_SEC);
    assert_true(sc.requests[1].queue);
    assert_false(sc.requests[2].queue);
    assert_int_equal(sc.requests[4].patience, 1000 * USEC_PER_SEC);
    assert_int_equal(sc.requests[4].line, 7);
    assert_int_equal(sc.settle_interval, 60 * USEC_PER_SEC);
    assert_int_equal(sc.start_delay, 10 * USEC_PER_SEC);
    assert_int_equal(sc.groups[0].cost.salvage_ppm, 0);
    assert_int_equal(sc.groups[0].cost.pue_milli, 1000);
    assert_int_equal(sc.groups[0].cost.purchased_at, sc.start);
    scenario_release(&sc);
    tdir_remove(&t);
}

static void test_errors_directory(void **state)
{
    struct tdir t;
    struct scenario sc;
    char err[ERR_CAP], want[ERR_CAP], missing[128];

    (void)state;
    tdir_make(&t);
    snprintf(missing, sizeof(missing), "%s/nope", t.path);
    assert_int_equal(scenario_load(&sc, missing, err, sizeof(err)), ERR_IO);
    snprintf(want, sizeof(want), "%s: cannot open scenario directory: No such file or directory",
             missing);
    assert_string_equal(err, want);

    expect_error(&t, "fleet.json: cannot read: No such file or directory");
    write_base(&t);
    tdir_unlink(&t, "demand.csv");
    snprintf(want, sizeof(want),
             "%s: no demand: add demand.csv (a trace) or demand.json (a generator)", t.path);
    assert_int_equal(scenario_load(&sc, t.path, err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, want);
    write_base(&t);
    tdir_write(&t, "demand.json", "{\"models\": []}\n");
    snprintf(want, sizeof(want), "%s: both demand.csv and demand.json are present; keep one",
             t.path);
    assert_int_equal(scenario_load(&sc, t.path, err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, want);
    tdir_remove(&t);
}

static void test_errors_fleet(void **state)
{
    struct tdir t;
    struct scenario sc;
    const char *f = "fleet.json";
    char err[ERR_CAP], want[ERR_CAP];
    char *text;

    (void)state;
    tdir_make(&t);
    write_base(&t);
    expect_edit_error(&t, f, fleet_json, "\"gpus_per_host\": 8", "\"gpus_per_host\": \"8\"",
                      "fleet.json:8: field \"gpus_per_host\": expected a positive integer");
    expect_edit_error(&t, f, fleet_json, "\"gpus_per_host\": 8", "\"gpus_per_host\": 0",
                      "fleet.json:8: field \"gpus_per_host\": expected a positive integer");
    expect_edit_error(&t, f, fleet_json, "\"gpus_per_host\": 8", "\"gpus_per_host\": 8.5",
                      "fleet.json:8: field \"gpus_per_host\": expected a positive integer");
    expect_edit_error(&t, f, fleet_json, "\"gpus_per_host\": 8", "\"gpus_per_host\": 33",
                      "fleet.json:8: field \"gpus_per_host\": must be at most 32");
    expect_edit_error(
        &t, f, fleet_json, "\"gpus_per_host\": 8", "\"gpus_per_hots\": 8",
        "fleet.json:8: unknown field \"gpus_per_hots\" (did you mean \"gpus_per_host\"?)");
    expect_edit_error(&t, f, fleet_json, "\"gpus_per_host\": 8,", "\"gpus_per_host\": 8, \"x\": 1,",
                      "fleet.json:8: unknown field \"x\"");
    expect_edit_error(&t, f, fleet_json, "      \"gpu_model\": \"T\",\n", "",
                      "fleet.json:3: missing field \"gpu_model\"");
    expect_edit_error(&t, f, fleet_json, "\"80000.00\"", "80000",
                      "fleet.json:10: field \"purchase_price\": expected a money string such as "
                      "\"15.10\", not a JSON number");
    expect_edit_error(&t, f, fleet_json, "\"80000.00\"", "\"80,000\"",
                      "fleet.json:10: field \"purchase_price\": invalid amount \"80,000\": "
                      "expected digits with up to 6 decimals");
    expect_edit_error(&t, f, fleet_json, "\"80000.00\"", "\"-1.00\"",
                      "fleet.json:10: field \"purchase_price\": must not be negative");
    expect_edit_error(&t, f, fleet_json, "\"pue\": 1.0", "\"pue\": 0.9",
                      "fleet.json:13: field \"pue\": expected a number from 1 to 10");
    expect_edit_error(&t, f, fleet_json, "\"pue\": 1.0", "\"pue\": 1.0, \"salvage_fraction\": 2",
                      "fleet.json:13: field \"salvage_fraction\": expected a number from 0 to 1");
    expect_edit_error(&t, f, fleet_json, "\"gpus_per_host\": 8,",
                      "\"gpus_per_host\": 8, \"nvlink_islands\": 3,",
                      "fleet.json:8: field \"nvlink_islands\": must divide gpus_per_host (8)");
    /* jansson words syntax errors itself: the file and line are ours to check */
    text = edit(fleet_json, "\"count\": 1,", "\"count\": 1, \"count\": 2,");
    tdir_write(&t, f, text);
    free(text);
    snprintf(want, sizeof(want), "%s/fleet.json:4: invalid JSON: duplicate object key", t.path);
    assert_int_not_equal(scenario_load(&sc, t.path, err, sizeof(err)), 0);
    assert_memory_equal(err, want, strlen(want));
    write_base(&t);
    text = edit(fleet_json, "\"host_groups\": [", "\"host_groups\": {");
    tdir_write(&t, f, text);
    free(text);
    snprintf(want, sizeof(want), "%s/fleet.json:3: invalid JSON: ", t.path);
    assert_int_not_equal(scenario_load(&sc, t.path, err, sizeof(err)), 0);
    assert_memory_equal(err, want, strlen(want));
    write_base(&t);
    expect_edit_error(&t, f, fleet_json, "\"host_groups\"", "\"hosts\"",
                      "fleet.json:2: unknown field \"hosts\"");
    tdir_write(&t, f, "[1, 2]\n");
    expect_error(&t, "fleet.json:1: expected a JSON object");
    tdir_remove(&t);
}

static void test_errors_prices(void **state)
{
    struct tdir t;
    const char *f = "prices.json";

    (void)state;
    tdir_make(&t);
    write_base(&t);
    expect_edit_error(&t, f, prices_json, "\"T\":", "\"T4\":",
                      "prices.json:3: field \"T4\": unknown GPU model (fleet.json has \"T\")");
    expect_edit_error(&t, f, prices_json, "\"7.60\"", "7.60",
                      "prices.json:3: field \"on_demand_hourly\": expected a money string such "
                      "as \"15.10\", not a JSON number");
    expect_edit_error(&t, f, prices_json, "\"7.60\"", "\"7.6000001\"",
                      "prices.json:3: field \"on_demand_hourly\": invalid amount \"7.6000001\": "
                      "expected digits with up to 6 decimals");
    expect_edit_error(&t, f, prices_json, "\"7.60\"", "\"0\"",
                      "prices.json:3: field \"on_demand_hourly\": must be greater than zero");
    expect_edit_error(&t, f, prices_json, "\"day\"", "\"days\"",
                      "prices.json:4: unknown field \"days\" (did you mean \"day\"?)");
    expect_edit_error(&t, f, prices_json, "\"T\": {", "\"U\": { \"x\": 1 }, \"T\": {",
                      "prices.json:3: field \"U\": unknown GPU model (fleet.json has \"T\")");
    expect_edit_error(
        &t, f, prices_json, "  }\n}", "  },\n  \"coupons\": [\n    { \"code\": \"A\" }\n  ]\n}",
        "prices.json:7: a coupon needs exactly one of \"percent_off\" and \"amount_off\"");
    expect_edit_error(&t, f, prices_json, "  }\n}",
                      "  },\n  \"coupons\": [\n    { \"code\": \"A\", \"percent_off\": 10,\n"
                      "      \"term\": \"hourly\" }\n  ]\n}",
                      "prices.json:8: field \"term\": expected one of on_demand, spot, day, week, "
                      "month");
    expect_edit_error(&t, f, prices_json, "  }\n}",
                      "  },\n  \"coupons\": [\n    { \"code\": \"A\", \"percent_off\": 10 },\n"
                      "    { \"code\": \"A\", \"amount_off\": \"1.00\" }\n  ]\n}",
                      "prices.json:8: field \"code\": coupon \"A\" is defined twice");
    tdir_write(&t, f, "{ \"prices\": {} }\n");
    expect_error(&t, "prices.json:1: field \"prices\": no price for GPU model \"T\" of fleet.json");
    tdir_remove(&t);
}

static void test_errors_settings(void **state)
{
    struct tdir t;
    const char *f = "scenario.json";

    (void)state;
    tdir_make(&t);
    write_base(&t);
    expect_edit_error(&t, f, settings_json, "\"days\": 1", "\"days\": 0",
                      "scenario.json:3: field \"days\": expected a positive integer");
    expect_edit_error(&t, f, settings_json, "\"days\": 1", "\"days\": 4000",
                      "scenario.json:3: field \"days\": must be at most 3660");
    expect_edit_error(&t, f, settings_json, "\"2026-01-01T00:00:00Z\"", "\"yesterday\"",
                      "scenario.json:2: field \"start\": expected an RFC 3339 time such as "
                      "\"2026-01-01T00:00:00Z\"");
    expect_edit_error(&t, f, settings_json, "\"days\": 1", "\"day\": 1",
                      "scenario.json:3: unknown field \"day\" (did you mean \"days\"?)");
    expect_edit_error(&t, f, settings_json, "\"days\": 1", "\"days\": 1, \"tenant_credit\": 5",
                      "scenario.json:3: field \"tenant_credit\": expected a money string such as "
                      "\"15.10\", not a JSON number");
    tdir_remove(&t);
}

static void test_errors_trace(void **state)
{
    struct tdir t;
    const char *f = "demand.csv";
    char long_line[SCENARIO_LINE_MAX + 64];
    char *text;

    (void)state;
    tdir_make(&t);
    write_base(&t);
    expect_edit_error(&t, f, trace_csv, "60,bob,T,8,", "60,bob,T,eight,",
                      "demand.csv:4: column \"gpu_count\": expected a GPU count from 1 to 32, "
                      "got \"eight\"");
    expect_edit_error(&t, f, trace_csv, "60,bob,T,8,", "60,bob,T,16,",
                      "demand.csv:4: column \"gpu_count\": 16 GPUs exceed the largest host of "
                      "\"T\" (8 GPUs)");
    expect_edit_error(&t, f, trace_csv, "60,bob,T,", "60,bob,V100,",
                      "demand.csv:4: column \"gpu_model\": unknown GPU model \"V100\" (not in "
                      "fleet.json)");
    expect_edit_error(&t, f, trace_csv, "60,bob,T,8,on_demand", "60,bob,T,8,hourly",
                      "demand.csv:4: column \"term\": expected one of on_demand, spot, day, "
                      "week, month, got \"hourly\"");
    expect_edit_error(&t, f, trace_csv, "60,bob,T,8,on_demand", "60,bob,T,8,spot",
                      "demand.csv:4: column \"term\": \"spot\" is not offered for \"T\" "
                      "(prices.json has no price)");
    expect_edit_error(&t, f, trace_csv, "on_demand,1800,", "on_demand,,",
                      "demand.csv:4: column \"duration\": required for on_demand requests");
    expect_edit_error(&t, f, trace_csv, "on_demand,1800,", "on_demand,-5,",
                      "demand.csv:4: column \"duration\": expected a positive number of "
                      "seconds, got \"-5\"");
    expect_edit_error(&t, f, trace_csv, "1800,true,", "1800,maybe,",
                      "demand.csv:4: column \"queue\": expected true or false, got \"maybe\"");
    expect_edit_error(&t, f, trace_csv, "60,bob,T,8,on_demand,1800,true,\n",
                      "60,bob,T,8,on_demand,1800,true\n",
                      "demand.csv:4: expected 8 fields as in the header, found 7");
    expect_edit_error(&t, f, trace_csv, "60,bob", "\"60\",bob",
                      "demand.csv:4: quoted fields are not supported");
    expect_edit_error(&t, f, trace_csv, "60,bob", "tomorrow,bob",
                      "demand.csv:4: column \"arrival\": expected seconds since the start or an "
                      "RFC 3339 time, got \"tomorrow\"");
    expect_edit_error(&t, f, trace_csv, "60,bob", "2025-12-31T23:00:00Z,bob",
                      "demand.csv:4: column \"arrival\": 2025-12-31T23:00:00Z is before the "
                      "scenario start");
    expect_edit_error(&t, f, trace_csv, ",queue,", ",queue,coupon,",
                      "demand.csv:3: expected 9 fields as in the header, found 8");
    expect_edit_error(&t, f, trace_csv, "gpu_count,", "gpus,",
                      "demand.csv:2: unknown column \"gpus\" in the header");
    expect_edit_error(&t, f, trace_csv, "gpu_count,", "",
                      "demand.csv:2: missing column \"gpu_count\" in the header");
    expect_edit_error(&t, f, trace_csv, "1800,true,", "1800,true,0",
                      "demand.csv:4: column \"patience\": expected a positive number of seconds, "
                      "got \"0\"");
    expect_edit_error(&t, f, trace_csv, "queue,patience", "queue,patience,bid",
                      "demand.csv:3: expected 9 fields as in the header, found 8");

    /* a bid only for spot, a coupon only if it exists */
    tdir_write(&t, f,
               "arrival,tenant,gpu_model,gpu_count,term,duration,queue,patience,bid,coupon\n"
               "0,alice,T,1,on_demand,3600,true,,1.00,\n");
    expect_error(&t, "demand.csv:2: column \"bid\": only spot requests take a bid");
    tdir_write(&t, f,
               "arrival,tenant,gpu_model,gpu_count,term,duration,queue,patience,bid,coupon\n"
               "0,alice,T,1,on_demand,3600,true,,,FREE\n");
    expect_error(&t, "demand.csv:2: column \"coupon\": unknown coupon \"FREE\" (not in "
                     "prices.json)");

    /* bounded lines */
    memset(long_line, 'x', sizeof(long_line) - 1);
    long_line[sizeof(long_line) - 1] = '\0';
    text = edit(trace_csv, "# a hand-checked trace", long_line);
    tdir_write(&t, f, text);
    free(text);
    expect_error(&t, "demand.csv:1: line longer than 4096 bytes");
    tdir_write(&t, f, "# nothing\n\n");
    expect_error(&t, "demand.csv:1: missing the header line (arrival,tenant,gpu_model,...)");
    tdir_remove(&t);
}

static const char *const generator_json = "{\n"
                                          "  \"models\": [\n"
                                          "    {\n"
                                          "      \"gpu_model\": \"T\",\n"
                                          "      \"arrivals_per_hour\": 60,\n"
                                          "      \"duration\": { \"distribution\": \"fixed\",\n"
                                          "                    \"mean_seconds\": 600 },\n"
                                          "      \"sizes\": { \"1\": 0.5, \"2\": 0.5 },\n"
                                          "      \"terms\": { \"on_demand\": 1 }\n"
                                          "    }\n"
                                          "  ]\n"
                                          "}\n";

static void test_errors_generator(void **state)
{
    struct tdir t;
    const char *f = "demand.json";

    (void)state;
    tdir_make(&t);
    write_base(&t);
    tdir_unlink(&t, "demand.csv");
    tdir_write(&t, f, generator_json);
    {
        struct scenario sc;
        char err[ERR_CAP] = "";

        assert_int_equal(scenario_load(&sc, t.path, err, sizeof(err)), 0);
        assert_int_equal(sc.demand, DEMAND_GENERATOR);
        scenario_release(&sc);
    }
#define GEN_CASE(from, to, msg)                                                                    \
    do {                                                                                           \
        char *text_ = edit(generator_json, from, to);                                              \
        tdir_write(&t, f, text_);                                                                  \
        free(text_);                                                                               \
        expect_error(&t, msg);                                                                     \
    } while (0)
    GEN_CASE("\"fixed\"", "\"normal\"",
             "demand.json:6: field \"distribution\": expected fixed, exponential or lognormal");
    GEN_CASE("\"1\": 0.5", "\"1x\": 0.5",
             "demand.json:8: field \"1x\": expected a GPU count from 1 to 32");
    GEN_CASE("\"1\": 0.5", "\"16\": 0.5",
             "demand.json:8: field \"16\": 16 GPUs exceed the largest host of \"T\" (8 GPUs)");
    GEN_CASE("\"1\": 0.5, \"2\": 0.5", "\"1\": 0",
             "demand.json:8: field \"sizes\": needs at least one weight above zero");
    GEN_CASE("\"on_demand\": 1", "\"spot\": 1",
             "demand.json:9: field \"spot\": \"spot\" is not offered for \"T\" (prices.json has "
             "no price)");
    GEN_CASE("\"arrivals_per_hour\": 60", "\"arrivals_per_hour\": -1",
             "demand.json:5: field \"arrivals_per_hour\": expected a number from 1e-06 to 1e+07");
    GEN_CASE("\"gpu_model\": \"T\"", "\"gpu_model\": \"A100\"",
             "demand.json:4: field \"gpu_model\": unknown GPU model \"A100\" (fleet.json has "
             "\"T\")");
    GEN_CASE("\"mean_seconds\": 600 }", "\"mean_seconds\": 600, \"sigma\": 1 }",
             "demand.json:7: field \"sigma\": only the lognormal distribution takes a sigma");
    GEN_CASE("\"terms\": { \"on_demand\": 1 }",
             "\"terms\": { \"on_demand\": 1 }, \"coupons\": { \"NOPE\": 0.5 }",
             "demand.json:9: field \"NOPE\": unknown coupon (not in prices.json)");
    GEN_CASE("\"terms\"", "\"term\"",
             "demand.json:9: unknown field \"term\" (did you mean "
             "\"terms\"?)");
#undef GEN_CASE
    tdir_remove(&t);
}

/* ---- Runs ----------------------------------------------------------------------------- */

static void run_scenario(const char *dir, const struct sim_options *opt, struct report *rep)
{
    struct scenario sc;
    char err[ERR_CAP] = "";

    assert_int_equal(scenario_load(&sc, dir, err, sizeof(err)), 0);
    if (sim_run(&sc, opt, rep, err, sizeof(err)) != 0)
        fail_msg("sim_run: %s", err);
    scenario_release(&sc);
}

static char *report_json(const struct report *rep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(report_write_json(f, rep), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static char *report_text(const struct report *rep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(report_write_text(f, rep), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

#define GPU_SECONDS(hours) llround((hours)*3600)

/*
 * The trace of write_base, worked out by hand (7.60 per GPU-hour, billing from `running`):
 *   r1  1 GPU  x 3600 s                    = 7.600000
 *   r3  4 GPUs x  600 s = 30.40/h x 600 s  = 5.066666 (floor of 5.0666...)
 *   r2  8 GPUs x 1800 s = 60.80/h x 1800 s = 30.400000
 * revenue 43.066666 over 20400 GPU-seconds; r2 waited 3610 - 60 = 3550 s; r4 was refused;
 * r5's tenant gave up after 1000 s. One day of the host: 8 x 24 = 192 GPU-hours,
 * depreciation 80000 x 24 / (5 x 8760) = 43.835616, power 1 kW x 24 h x 1.00 = 24.00,
 * hosting 730 x 24 / 730 = 24.00.
 */
static void test_trace_exact(void **state)
{
    struct tdir t;
    struct report rep;
    const struct report_line *l, *total;
    char *text;

    (void)state;
    tdir_make(&t);
    write_base(&t);
    run_scenario(t.path, NULL, &rep);
    assert_int_equal(rep.line_count, 2);
    l = &rep.lines[0];
    total = &rep.lines[1];
    assert_string_equal(l->gpu_model, "T");
    assert_true(total->is_total);
    assert_int_equal(l->econ.gpus, 8);
    assert_int_equal(GPU_SECONDS(l->econ.gpu_hours_available), 192 * 3600);
    assert_int_equal(GPU_SECONDS(l->econ.gpu_hours_rented), 20400);
    assert_int_equal(l->econ.revenue, 43066666);
    assert_int_equal(l->econ.list_revenue, 43066666);
    assert_int_equal(l->econ.discounts, 0);
    assert_int_equal(l->econ.realized_hourly, 7599999); /* floor(43066666 x 3600 / 20400) */
    assert_int_equal(l->list_hourly, 7599999);
    assert_int_equal(l->on_demand_hourly, 7600000);
    assert_int_equal(l->econ.depreciation, 43835616);
    assert_int_equal(l->econ.power_cost, 24000000);
    assert_int_equal(l->econ.hosting_cost, 24000000);
    assert_int_equal(l->opex_hourly, 250000); /* 48.00 / 192 GPU-hours */
    assert_int_equal(l->econ.purchase_price, INT64_C(80000000000));
    assert_true(l->econ.payback_years < 0); /* revenue below power + hosting: never */
    assert_int_equal(llround(l->econ.gross_margin * 1e6), -1132406);
    assert_int_equal(llround(l->payback_years_revenue * 1e4), 50893);

    assert_int_equal(l->req.submitted, 5);
    assert_int_equal(l->req.placed_at_once, 2);
    assert_int_equal(l->req.queued, 2);
    assert_int_equal(l->req.placed_from_queue, 1);
    assert_int_equal(l->req.gave_up, 1);
    assert_int_equal(l->req.pending_at_end, 0);
    assert_int_equal(l->req.rejected_capacity, 1);
    assert_int_equal(l->req.rejected_funds, 0);
    assert_int_equal(l->req.rejected_invalid, 0);
    assert_int_equal(l->req.waits, 1);
    assert_int_equal(l->req.wait_p50, 3550 * USEC_PER_SEC);
    assert_int_equal(l->req.wait_p90, 3550 * USEC_PER_SEC);
    assert_int_equal(l->req.wait_p99, 3550 * USEC_PER_SEC);
    assert_int_equal(l->req.ended[END_EXITED], 3);
    assert_int_equal(l->req.ended[END_STOPPED], 1);
    assert_int_equal(l->req.ended[END_EXPIRED], 0);
    assert_int_equal(rep.agent_reports, 6); /* running and exited for r1, r2, r3 */
    assert_int_equal(rep.agent_reports_rejected, 0);
    assert_string_equal(rep.first_problem, "");

    /* the total line repeats the only model */
    assert_int_equal(total->econ.revenue, 43066666);
    assert_int_equal(total->req.submitted, 5);
    assert_int_equal(total->req.wait_p50, 3550 * USEC_PER_SEC);

    /* the table prints money to the cent and waits in seconds */
    text = report_text(&rep);
    assert_non_null(strstr(text, "\nrevenue                              43.07       43.07\n"));
    assert_non_null(strstr(text, "\n    wait p50 (s)                      3550        3550\n"));
    assert_non_null(strstr(text, "\n  rejected: no capacity                  1           1\n"));
    assert_non_null(strstr(text, "(1 day), seed 1\n"));
    free(text);
    text = report_json(&rep);
    assert_non_null(strstr(text, "\"revenue\": \"43.066666\""));
    assert_non_null(strstr(text, "\"realized_hourly\": \"7.599999\""));
    assert_non_null(strstr(text, "\"p99\": 3550"));
    free(text);
    report_release(&rep);
    tdir_remove(&t);
}

/*
 * Packages, coupons and funds, over two days with 500.00 of credit per tenant:
 *   alice  a day package of 2 GPUs at 100.00 each, 25% off: pays 150.00, list 200.00;
 *          running at 10 s, expires at 86410 s
 *   bob    1 GPU on demand for 7200 s = 15.20
 *   dave   a day package of 8 GPUs = 800.00 > 500.00: refused for funds
 *   carol  8 GPUs at 3600 s, queued until the package ends (86410 s): waits 82810 s, then
 *          runs 60 s = 60.80/h x 60 s = 1.013333
 */
static void test_packages_and_funds(void **state)
{
    struct tdir t;
    struct report rep;
    const struct report_line *l;

    (void)state;
    tdir_make(&t);
    write_base(&t);
    tdir_write(&t, "scenario.json",
               "{ \"days\": 2, \"settle_interval_seconds\": 60, \"agent_start_delay_seconds\": 10,"
               " \"tenant_credit\": \"500.00\" }\n");
    tdir_write(&t, "prices.json",
               "{ \"prices\": { \"T\": { \"on_demand_hourly\": \"7.60\","
               " \"packages\": { \"day\": \"100.00\" } } },\n"
               "  \"coupons\": [ { \"code\": \"DAY25\", \"percent_off\": 25, \"term\": \"day\" } ]"
               " }\n");
    tdir_write(&t, "demand.csv",
               "arrival,tenant,gpu_model,gpu_count,term,duration,coupon\n"
               "0,alice,T,2,day,,DAY25\n"
               "0,bob,T,1,on_demand,7200,\n"
               "0,dave,T,8,day,,\n"
               "3600,carol,T,8,on_demand,60,\n");
    run_scenario(t.path, NULL, &rep);
    l = &rep.lines[0];
    assert_int_equal(l->econ.revenue, 166213333);
    assert_int_equal(l->econ.list_revenue, 216213333);
    assert_int_equal(l->econ.discounts, 50000000);
    assert_int_equal(GPU_SECONDS(l->econ.gpu_hours_rented), 2 * 86400 + 7200 + 8 * 60);
    assert_int_equal(GPU_SECONDS(l->econ.gpu_hours_available), 8 * 48 * 3600);
    assert_int_equal(l->req.submitted, 4);
    assert_int_equal(l->req.placed_at_once, 2);
    assert_int_equal(l->req.rejected_funds, 1);
    assert_int_equal(l->req.queued, 1);
    assert_int_equal(l->req.placed_from_queue, 1);
    assert_int_equal(l->req.wait_p50, 82810 * USEC_PER_SEC);
    assert_int_equal(l->req.ended[END_EXPIRED], 1);
    assert_int_equal(l->req.ended[END_EXITED], 2);
    assert_int_equal(rep.agent_reports_rejected, 0);
    report_release(&rep);
    tdir_remove(&t);
}

static void test_demo_deterministic(void **state)
{
    const char *root = getenv("GPURENT_SOURCE_DIR");
    struct sim_options opt = {.days = 3};
    struct report a, b, c;
    char dir[1024];
    char *ja, *jb, *jc;

    (void)state;
    assert_non_null(root);
    snprintf(dir, sizeof(dir), "%s/examples/demo", root);
    run_scenario(dir, &opt, &a);
    run_scenario(dir, &opt, &b);
    opt.has_seed = true;
    opt.seed = 2;
    run_scenario(dir, &opt, &c);
    ja = report_json(&a);
    jb = report_json(&b);
    jc = report_json(&c);
    assert_string_equal(ja, jb);
    assert_string_not_equal(ja, jc);
    /* not only the seed line: the demand itself differs */
    assert_int_not_equal(a.lines[a.line_count - 1].econ.revenue,
                         c.lines[c.line_count - 1].econ.revenue);
    assert_int_not_equal(a.lines[a.line_count - 1].req.submitted,
                         c.lines[c.line_count - 1].req.submitted);
    assert_int_equal(a.days, 3);
    assert_true(a.lines[a.line_count - 1].req.submitted > 100);
    assert_int_equal(a.agent_reports_rejected, 0);
    free(ja);
    free(jb);
    free(jc);
    report_release(&a);
    report_release(&b);
    report_release(&c);
}

/* ---- The generator -------------------------------------------------------------------- */

static void test_rng_reference(void **state)
{
    uint64_t st = 0;
    struct rng r = {{1, 2, 3, 4}};

    (void)state;
    /* splitmix64 from 0 and xoshiro256** from {1, 2, 3, 4}: the reference outputs */
    assert_true(rng_splitmix64(&st) == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(rng_splitmix64(&st) == UINT64_C(0x6e789e6aa1b965f4));
    assert_true(rng_splitmix64(&st) == UINT64_C(0x06c45d188009454f));
    assert_true(rng_next(&r) == UINT64_C(11520));
    assert_true(rng_next(&r) == UINT64_C(0));
    assert_true(rng_next(&r) == UINT64_C(1509978240));
    assert_true(rng_next(&r) == UINT64_C(1215971899390074240));
}

static void test_rng_ranges(void **state)
{
    struct rng r;
    uint64_t counts[5] = {0};
    double sum = 0;

    (void)state;
    rng_seed(&r, 42, 0);
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&r);
        uint64_t k = rng_below(&r, 5);

        assert_true(u >= 0 && u < 1);
        assert_true(k < 5);
        counts[k]++;
        sum += rng_exponential(&r);
    }
    for (int k = 0; k < 5; k++)
        assert_true(counts[k] > 19000 && counts[k] < 21000);
    assert_true(sum / 100000 > 0.98 && sum / 100000 < 1.02);
}

static void test_generator_stream(void **state)
{
    struct tdir t;
    struct scenario sc;
    struct demand d, d2;
    struct scenario_request rq, rq2;
    char err[ERR_CAP] = "";
    uint64_t n = 0, by_size[3] = {0};
    int64_t last = 0;

    (void)state;
    tdir_make(&t);
    write_base(&t);
    tdir_unlink(&t, "demand.csv");
    tdir_write(&t, "demand.json", generator_json);
    assert_int_equal(scenario_load(&sc, t.path, err, sizeof(err)), 0);
    /* ten days at 60 arrivals an hour: 14400 expected, sd 120 */
    assert_int_equal(demand_init(&d, &sc, sc.start + 10 * 86400 * USEC_PER_SEC, 7), 0);
    assert_int_equal(demand_init(&d2, &sc, sc.start + 10 * 86400 * USEC_PER_SEC, 7), 0);
    last = sc.start;
    while (demand_peek(&d) != INT64_MAX) {
        assert_true(demand_next(&d, &rq));
        assert_true(demand_next(&d2, &rq2));
        assert_memory_equal(&rq, &rq2, sizeof(rq)); /* same seed, same stream */
        assert_true(rq.at >= last);
        assert_true(rq.at < sc.start + 10 * 86400 * USEC_PER_SEC);
        assert_true(rq.gpu_count == 1 || rq.gpu_count == 2);
        assert_int_equal(rq.duration, 600 * USEC_PER_SEC);
        assert_int_equal(rq.term, TERM_ON_DEMAND);
        assert_true(rq.tenant < sc.tenants);
        assert_int_equal(rq.coupon, -1);
        last = rq.at;
        by_size[rq.gpu_count]++;
        n++;
    }
    assert_false(demand_next(&d, &rq));
    assert_true(n > 14400 - 600 && n < 14400 + 600);
    assert_true(by_size[1] > n * 45 / 100 && by_size[2] > n * 45 / 100);
    demand_release(&d);
    demand_release(&d2);
    scenario_release(&sc);
    tdir_remove(&t);
}

static void test_duration_draws(void **state)
{
    struct rng r;
    struct duration_dist d = {DURATION_LOGNORMAL, 3600, 1.0, 1, 0};
    double sum = 0;

    (void)state;
    rng_seed(&r, 1, 0);
    for (int i = 0; i < 200000; i++) {
        double x = duration_draw(&d, &r);

        assert_true(x >= 1 && x == floor(x));
        sum += x;
    }
    assert_true(sum / 200000 > 3600 * 0.97 && sum / 200000 < 3600 * 1.03);
    d = (struct duration_dist){DURATION_EXPONENTIAL, 100, 1.0, 50, 120};
    for (int i = 0; i < 1000; i++) {
        double x = duration_draw(&d, &r);
        assert_true(x >= 50 && x <= 120);
    }
    d = (struct duration_dist){DURATION_FIXED, 99.6, 1.0, 1, 0};
    assert_true(duration_draw(&d, &r) == 100);
}

static void test_percentile(void **state)
{
    const int64_t v[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const int64_t one[1] = {42};

    (void)state;
    assert_int_equal(report_percentile(v, 10, 50), 5);
    assert_int_equal(report_percentile(v, 10, 90), 9);
    assert_int_equal(report_percentile(v, 10, 99), 10);
    assert_int_equal(report_percentile(v, 10, 100), 10);
    assert_int_equal(report_percentile(v, 10, 1), 1);
    assert_int_equal(report_percentile(one, 1, 50), 42);
    assert_int_equal(report_percentile(v, 0, 50), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_loads),         cmocka_unit_test(test_tiny_loads),
        cmocka_unit_test(test_errors_directory),   cmocka_unit_test(test_errors_fleet),
        cmocka_unit_test(test_errors_prices),      cmocka_unit_test(test_errors_settings),
        cmocka_unit_test(test_errors_trace),       cmocka_unit_test(test_errors_generator),
        cmocka_unit_test(test_trace_exact),        cmocka_unit_test(test_packages_and_funds),
        cmocka_unit_test(test_demo_deterministic), cmocka_unit_test(test_rng_reference),
        cmocka_unit_test(test_rng_ranges),         cmocka_unit_test(test_generator_stream),
        cmocka_unit_test(test_duration_draws),     cmocka_unit_test(test_percentile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
